"""`manage.py simulate_vendor <vendor> --book-direct …`: what a demo user runs to change a
running simulator's calendar as staff would in the PMS itself."""

import io

import pytest
from django.core.management import CommandError, call_command

from vendors.simulators.dentalink import DentalinkSimulator


@pytest.fixture
def running():
    simulator = DentalinkSimulator().start()
    yield simulator
    simulator.stop()


def run(simulator, **options) -> str:
    out = io.StringIO()
    port = simulator.server.server_address[1]
    call_command("simulate_vendor", "dentalink", port=port, stdout=out, **options)
    return out.getvalue()


def test_book_then_cancel_directly(running):
    said = run(running, book_direct=True, practitioner="1", location="1", room="1",
               start="2027-01-04T10:00", minutes=30)  # fmt: skip
    (cita,) = running.state()["citas"]
    assert (cita["fecha"], cita["hora_inicio"]) == ("2027-01-04", "10:00:00")
    assert "book done" in said

    run(running, cancel_direct=str(cita["id"]))
    assert running.state()["citas"][0]["id_estado"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"book_direct": True, "start": "2027-01-04T10:00"}, "needs --practitioner"),
        ({"book_direct": True, "practitioner": "1"}, "Give --start"),
        ({"book_direct": True, "practitioner": "1", "start": "tomorrow"}, "--start"),
    ],
)
def test_a_direct_change_says_what_is_missing(running, options, message):
    with pytest.raises(CommandError, match=message):
        run(running, **options)


def test_no_simulator_running_is_said_plainly():
    with pytest.raises(CommandError, match="No dentalink simulator answers"):
        call_command("simulate_vendor", "dentalink", port=9, cancel_direct="1")
