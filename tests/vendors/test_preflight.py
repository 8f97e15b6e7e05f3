"""The pre-flight check before a booking is committed (vendors.preflight), against the
Dentalink simulator over a real socket: it refuses only a time the PMS says is taken, and a
slow or failing PMS never blocks the booking."""

import pytest
import requests

from scheduling.errors import SlotConflict
from scheduling.models import Appointment
from tests.vendors.allow import world_at_dentalink
from vendors.models import PmsBusy, VendorConnection

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_DEMO_DENTALINK_TOKEN", patients=True
    ) as simulator:
        VendorConnection.objects.update(preflight=True, preflight_timeout=0.3)
        yield simulator


def checks(simulator) -> int:
    return sum("horariosdisponibles" in r.path for r in simulator.requests)


def book_directly(simulator, iso_start: str) -> None:
    answer = requests.post(
        f"{simulator.url}/__simulator/direct",
        json={"action": "book", "practitioner": "1", "location": "1", "room": "3",
              "start": iso_start, "minutes": 30},
        timeout=2,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text


def test_a_time_taken_directly_in_the_pms_is_refused_before_it_is_booked(world, dentalink):
    book_directly(dentalink, "2027-01-04T10:00:00-03:00")

    with pytest.raises(SlotConflict) as refused:
        world.book("10:00")

    assert "Dentalink says this time is no longer free" in str(refused.value)
    assert not Appointment.objects.exists()
    # Not offered again (nor as an alternative) until a read shows what took it.
    assert PmsBusy.objects.filter(start=world.at("10:00")).exists()
    assert "10:00" not in world.local_starts(world.slots())
    assert world.at("10:00") not in [slot.start for slot in refused.value.alternatives]


def test_a_free_time_is_booked_after_the_check(world, dentalink):
    world.book("10:00")
    assert checks(dentalink) == 1 and Appointment.objects.count() == 1


@pytest.mark.parametrize("fault", ["timeout", "500", "drop", "garbage"])
def test_a_slow_or_failing_pms_never_blocks_the_booking(world, dentalink, fault):
    dentalink.inject(fault, path="/api/v1/horariosdisponibles")
    book_directly(dentalink, "2027-01-04T10:00:00-03:00")  # the check would have said no

    world.book("10:00")

    assert Appointment.objects.count() == 1  # delivered later; the vendor then says no


def test_without_the_option_nothing_is_asked(world, dentalink):
    VendorConnection.objects.update(preflight=False)
    world.book("10:00")
    assert checks(dentalink) == 0
