"""The load test's parts (scheduling/load): its HTTP client, its clients against a live
server, and the checks it makes afterwards. `make loadtest` itself is not part of the suite."""

import asyncio
import concurrent.futures
import os
import signal
import time

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from scheduling.api.authentication import issue_token
from scheduling.load import figures
from scheduling.load.clients import BOOK, SEARCH, Tally, drive
from scheduling.load.http import Connection
from scheduling.load.stack import running
from scheduling.load.world import Search, World
from scheduling.models import Appointment
from tests.factories import ClinicMembershipFactory, DeliveryFactory, UserFactory
from tests.worlds import MONDAY
from vendors.simulators.dentalink import DentalinkSimulator

GUARDS = figures.GUARDS


def run_async(coroutine):
    """asyncio.run in a thread of its own: this thread may already run an event loop (the
    browser tests' Playwright leaves one in each test process)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def drop_practitioner_guard() -> None:
    """Inside the test's transaction (rolled back after it): the database stops refusing
    overlaps of one practitioner, as if its guard had never been made."""
    name = GUARDS[0][0]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no foreign key check pending
            cursor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT {name}")
        else:
            for event in ("insert", "update"):
                cursor.execute(f"DROP TRIGGER {name}_{event}")


def test_web_cpu_is_given_per_answered_request_of_every_endpoint():
    tally = Tally()
    tally.note(SEARCH, "200", 0.1)
    tally.note(SEARCH, "200", 0.2)
    tally.note(BOOK, "409", 0.3)
    tally.note(BOOK, "timeout", 3.0)

    assert figures.web_cpu_ms_per_request(0.02, tally) == pytest.approx(5.0)
    assert figures.web_cpu_ms_per_request(0.02, Tally()) == 0.0  # nothing answered


def test_the_reference_work_takes_a_measurable_time():
    assert 1 < figures.reference_work_ms(rounds=1) < 10_000


@pytest.mark.django_db
def test_deferrals_add_up_every_deliverys_waits():
    assert figures.deferrals() == 0
    DeliveryFactory(deferrals=3)
    DeliveryFactory(deferrals=0)
    DeliveryFactory(deferrals=4)

    assert figures.deferrals() == 7


@pytest.mark.django_db
def test_double_bookings_are_found_by_sql(world):
    first = world.book("09:00")
    second = world.book("10:00", room=world.rooms[1], patient=world.patients[1])
    assert figures.double_bookings() == 0

    drop_practitioner_guard()
    Appointment.objects.filter(pk=second.pk).update(
        start=first.start, end=first.end, busy_from=first.busy_from, busy_until=first.busy_until
    )

    assert figures.double_bookings() == 1


@pytest.mark.django_db
def test_adjacent_and_overflow_appointments_are_no_double_booking(world):
    world.book("09:00")
    world.book("09:30", patient=world.patients[1])
    world.book("09:00", room=world.overflow_room, patient=world.patients[2])

    assert figures.double_bookings() == 0


def test_the_client_keeps_its_connection_and_reads_json():
    simulator = DentalinkSimulator().start()
    host, port = simulator.server.server_address[:2]

    async def talk():
        http = Connection(host, port, timeout=5)
        first = await http.request("POST", "/__simulator/faults", body={"latency_ms": 0})
        kept = http._writer
        second = await http.request("GET", "/__simulator/stats")
        same = http._writer is kept
        await http.close()
        return first, second, same

    try:
        first, second, same = run_async(talk())
    finally:
        simulator.stop()
    assert first.status == 200
    assert second.status == 200 and "requests" in second.json()
    assert same


@pytest.mark.parametrize(("share", "expected"), [(0.5, 50.5), (0.95, 95.05), (0.99, 99.01)])
def test_percentiles(share, expected):
    values = [float(n) for n in range(1, 101)]
    assert figures.percentile(values, share) == pytest.approx(expected)


@pytest.mark.django_db(transaction=True)
def test_the_clients_search_and_book_against_a_live_server(world, live_server):
    user = UserFactory()
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    tokens = [issue_token(user=user)[1] for _ in range(3)]
    search = Search(
        world.location.pk,
        world.practitioner.pk,
        world.appointment_type.pk,
        tuple(patient.pk for patient in world.patients),
    )
    plan = World(tokens=tokens, searches=[search], first_day=MONDAY, days=1)
    port = int(live_server.url.rsplit(":", 1)[1])

    tally = run_async(drive(plan, port=port, seconds=2))

    assert tally.answers[(SEARCH, "200")] > 3
    assert tally.created >= 1
    assert tally.created == Appointment.objects.filter(start__date=MONDAY).count()
    assert {kind for endpoint, kind in tally.answers if endpoint == BOOK} <= {"201", "409"}
    assert figures.double_bookings() == 0
    assert len(tally.latencies[SEARCH]) == sum(
        count for (endpoint, _), count in tally.answers.items() if endpoint == SEARCH
    )


@pytest.mark.parametrize("share", ["1.5", "-0.1", "often"])
def test_a_book_share_outside_0_to_1_is_refused_before_anything_starts(share):
    with pytest.raises(CommandError, match="a share is a number from 0 to 1"):
        call_command("loadtest", "--book-share", share)


class _Stopping:
    """A stack that records what a signal would do while it is started and stopped."""

    def __init__(self) -> None:
        self.during_stop: dict[int, object] = {}

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.during_stop = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}
        os.kill(os.getpid(), signal.SIGTERM)  # ignored: the stop goes on


def test_a_sigterm_stops_the_stack_as_ctrl_c_does_and_nothing_cuts_the_stop_short():
    stack = _Stopping()
    before = {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)}

    with pytest.raises(KeyboardInterrupt), running(stack):  # noqa: PT012
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the signal arrives before this ends

    assert stack.during_stop == {signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN}
    assert {n: signal.getsignal(n) for n in (signal.SIGINT, signal.SIGTERM)} == before


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's own statistics")
@pytest.mark.django_db(transaction=True)
def test_the_database_counts_what_another_connection_did_once_it_ends(world):
    before = figures.database_counters()
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None,
        port=settings["PORT"] or None, password=settings["PASSWORD"] or None, autocommit=True,
    )  # fmt: skip
    with other:
        for _ in range(3):
            other.execute(
                "UPDATE scheduling_clinic SET name = name WHERE id = %s", [world.clinic.pk]
            )

    after = figures.database_counters(wait_seconds=10)

    assert after["connections_opened"] >= before["connections_opened"] + 1
    assert after["transactions"] >= before["transactions"] + 3
    assert after["wal_syncs"] >= before["wal_syncs"] + 1  # each write commits to disk
    lines = dict(figures.per_booking(before, after, bookings=3))
    assert int(lines["pg_connections_opened"]) >= 1
    assert float(lines["pg_transactions_per_booking"]) >= 1.0


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the counts are PostgreSQL's")
def test_without_postgresql_there_are_no_counts_and_no_lines():
    assert figures.database_counters(wait_seconds=10) == {}
    assert figures.per_booking({}, {}, bookings=50) == []


def test_the_database_counts_are_given_per_booking():
    before = {"transactions": 100, "connections_opened": 7, "wal_syncs": 40}
    after = {"transactions": 400, "connections_opened": 9, "wal_syncs": 90}

    assert figures.per_booking(before, after, bookings=50) == [
        ("pg_connections_opened", "2"),
        ("pg_transactions_per_booking", "6.00"),
        ("pg_wal_syncs_per_booking", "1.00"),
    ]
    assert figures.per_booking(before, after, bookings=0)[1] == (
        "pg_transactions_per_booking",
        "300.00",
    )
