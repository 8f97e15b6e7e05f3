"""Treats.vet's calendar read (DESIGN §8), over real sockets: busy time is the vet's working
hours less the free slots Treats.vet offers, so what staff book, move or cancel in Treats.vet
itself (the simulator's direct endpoint) shows as busy time in UTC; our appointments' states
come back one by one; `is_free` asks the same slots before a booking."""

import datetime
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.treatsvet import ANIMAL, CONSULTATION, VET, request
from vendors.adapters import treatsvet as treatsvet_adapter
from vendors.errors import (
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    UnexpectedResponse,
    VendorUnavailable,
)
from vendors.simulators.base import Reply
from vendors.simulators.treatsvet import stable_id
from vendors.types import APPOINTMENT, BUSY, BusySpan, CalendarQuery

VENDOR = "treatsvet"
UTC = datetime.UTC
PARIS = zoneinfo.ZoneInfo("Europe/Paris")
NEXT_YEAR = datetime.date.today().year + 1
SLOTS = "/api/v1/appointments/available-slots"
VACCINATION = stable_id("type:Vaccination")  # 15 minutes
SURGERY = stable_id("type:Chirurgie programmée")  # 120 minutes
JULIEN = stable_id("vet:Julien Bernard")


def tuesday(month: int, weeks: int = 0) -> datetime.date:
    """The first Tuesday of `month` next year (Dr Martin works 09:00-12:30 and 14:00-19:00)."""
    first = datetime.date(NEXT_YEAR, month, 1)
    return first + datetime.timedelta(days=(1 - first.weekday()) % 7 + 7 * weeks)


def paris(day: datetime.date, clock: str) -> datetime.datetime:
    """A wall-clock time in Paris, as the aware UTC instant."""
    moment = datetime.datetime.combine(day, datetime.time.fromisoformat(clock), PARIS)
    return moment.astimezone(UTC)


def martin(*days: datetime.date) -> tuple[tuple[datetime.datetime, datetime.datetime], ...]:
    """Dr Martin's Tuesday hours on those days, as the desk gives them."""
    periods = (("09:00", "12:30"), ("14:00", "19:00"))
    return tuple((paris(d, a), paris(d, b)) for d in days for a, b in periods)


def query(day: datetime.date, days: int = 1, **fields) -> CalendarQuery:
    start = paris(day, "00:00")
    end = paris(day + datetime.timedelta(days=days), "00:00")
    values = {
        "practitioners": (VET,),
        "appointment_types": (CONSULTATION, VACCINATION, SURGERY),
        "working_hours": {VET: martin(day)},
    } | fields
    return CalendarQuery(start=start, end=end, time_zone="Europe/Paris", **values)


def direct(simulator, action: str, **data) -> str:
    """A change made in Treats.vet itself (the simulator's control endpoint)."""
    answer = requests.post(
        f"{simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=5
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["id"]


def book(simulator, start: datetime.datetime, minutes: int, **data) -> str:
    return direct(
        simulator, "book", practitioner=VET, start=start.isoformat(), minutes=minutes, **data
    )


def busy(start: datetime.datetime, end: datetime.datetime, vet: str = VET) -> BusySpan:
    return BusySpan(start, end, kind=BUSY, practitioner=vet)


def slot_calls(simulator) -> list[dict[str, str]]:
    return [r.query for r in simulator.requests if r.path == SLOTS]


def ours(adapter, start: datetime.datetime) -> str:
    """One of our appointments, a 20-minute consultation delivered through the API."""
    end = start + datetime.timedelta(minutes=20)
    return adapter.book(request(start=start, end=end)).external_id


def fault_after(simulator, monkeypatch, handler: str, fault: str, path: str, after: int = 1):
    """`fault` answers the request to `path` that follows the `after`-th answer of `handler`."""
    original, answered = getattr(simulator, handler), []

    def counting(sent):
        answered.append(sent)
        if len(answered) == after:
            simulator.inject(fault, path=path)
        return original(sent)

    monkeypatch.setattr(simulator, handler, counting)


# -- busy time from free time ----------------------------------------------------------------


@pytest.mark.parametrize("month", [1, 7], ids=["winter", "summer"])
@pytest.mark.parametrize(
    ("types", "grid"),
    [
        pytest.param((CONSULTATION, VACCINATION, SURGERY), 15, id="shortest-type"),
        pytest.param((), 30, id="no-type"),
    ],
)
def test_a_direct_booking_is_busy_in_utc(adapter, simulator, month, types, grid):
    day = tuesday(month)
    book(simulator, paris(day, "10:30"), minutes=15)

    read = adapter.read_calendar(query(day, appointment_types=types))

    # The slots it overlaps are gone: 10:30 to the end of the slot grid's step.
    begins = paris(day, "10:30")
    assert read.spans == [busy(begins, begins + datetime.timedelta(minutes=grid))]
    assert (read.complete, read.cursor, read.lists_appointments) == (True, "", False)


def test_a_free_day_has_no_busy_time_and_costs_one_request_per_working_day(adapter, simulator):
    # Monday to Thursday; the desk gives hours on Tuesday and Thursday only.
    tuesday_, thursday = tuesday(3), tuesday(3) + datetime.timedelta(days=2)
    monday = tuesday_ - datetime.timedelta(days=1)
    window = query(monday, days=4, working_hours={VET: martin(tuesday_, thursday)})

    read = adapter.read_calendar(window)

    assert read.spans == []
    paths = [r.path for r in simulator.requests]
    assert paths == ["/api/v1/appointments/types", SLOTS, SLOTS]
    assert slot_calls(simulator) == [
        {"vetId": VET, "date": day.isoformat(), "appointmentTypeId": VACCINATION}
        for day in (tuesday_, thursday)
    ]


def test_hours_the_desk_has_and_treats_vet_does_not_are_busy(adapter, simulator):
    # The desk says Dr Martin works on Wednesday afternoon; Treats.vet offers nothing then.
    wednesday = tuesday(3) + datetime.timedelta(days=1)
    window = query(
        wednesday, working_hours={VET: ((paris(wednesday, "12:00"), paris(wednesday, "15:00")),)}
    )

    read = adapter.read_calendar(window)

    assert read.spans == [busy(paris(wednesday, "12:30"), paris(wednesday, "15:00"))]


def test_a_block_made_in_treats_vet_is_busy(adapter, simulator):
    day = tuesday(3)
    book(simulator, paris(day, "14:00"), minutes=90, kind="block")

    read = adapter.read_calendar(query(day))

    assert read.spans == [busy(paris(day, "14:00"), paris(day, "15:30"))]


def test_busy_time_of_several_vets_and_days(adapter, simulator):
    day, later = tuesday(3), tuesday(3, weeks=1)
    book(simulator, paris(later, "09:00"), minutes=30)
    direct(
        simulator, "book", practitioner=JULIEN, start=paris(day, "08:00").isoformat(), minutes=60
    )
    julien = ((paris(day, "08:00"), paris(day, "13:00")),)

    read = adapter.read_calendar(
        query(day, days=8, practitioners=(VET, JULIEN),
              working_hours={VET: martin(day, later), JULIEN: julien})
    )  # fmt: skip

    assert read.spans == [
        busy(paris(later, "09:00"), paris(later, "09:30")),
        busy(paris(day, "08:00"), paris(day, "09:00"), vet=JULIEN),
    ]


def test_past_hours_and_unusable_vets_cost_nothing(adapter, simulator):
    now = datetime.datetime.now(UTC)
    today = now.astimezone(PARIS).date()
    past = ((now - datetime.timedelta(hours=3), now - datetime.timedelta(minutes=1)),)
    window = query(today, practitioners=(VET, "42", JULIEN),
                   working_hours={VET: past, "42": martin(tuesday(3))})  # fmt: skip

    assert adapter.read_calendar(window).spans == []
    assert simulator.requests == []


# -- our appointments, one by one ---------------------------------------------------------------


def test_one_of_ours_comes_back_with_its_state(adapter, simulator):
    day = tuesday(3)
    number = ours(adapter, paris(day, "10:00"))

    read = adapter.read_calendar(query(day, ours=(number,)))

    assert read.spans == [
        busy(paris(day, "10:00"), paris(day, "10:30")),  # Treats.vet cannot say it is ours
        BusySpan(
            paris(day, "10:00"),
            paris(day, "10:20"),
            kind=APPOINTMENT,
            external_id=number,
            practitioner=VET,
            patient=ANIMAL,
            vendor_status="SCHEDULED",
            status=None,  # no news: every appointment is SCHEDULED until cancelled
            active=True,
        ),
    ]
    assert simulator.requests[-1].path == f"/api/v1/appointments/{number}"


@pytest.mark.parametrize(
    ("action", "vendor_status", "status"),
    [("cancel", "CANCELLED", "cancelled"), ("delete", "deleted", None)],
)
def test_a_cancellation_or_deletion_in_treats_vet_frees_the_time(
    adapter, simulator, action, vendor_status, status
):
    day = tuesday(3)
    number = ours(adapter, paris(day, "10:00"))
    direct(simulator, action, id=number)

    (span,) = adapter.read_calendar(query(day, ours=(number,))).spans

    assert (span.external_id, span.vendor_status, span.status, span.active) == (
        number,
        vendor_status,
        status,
        False,
    )


def test_a_move_in_treats_vet_moves_the_busy_time_and_ours(adapter, simulator):
    day = tuesday(3)
    number = ours(adapter, paris(day, "10:00"))
    direct(simulator, "move", id=number, start=paris(day, "15:00").isoformat())

    busy_span, our_span = adapter.read_calendar(query(day, ours=(number,))).spans

    assert busy_span == busy(paris(day, "15:00"), paris(day, "15:30"))
    assert (our_span.start, our_span.end) == (paris(day, "15:00"), paris(day, "15:20"))


def test_at_most_fifteen_of_ours_are_looked_up_per_pull(adapter, simulator):
    day = tuesday(3)
    numbers = tuple(
        book(simulator, paris(day, "09:00") + datetime.timedelta(minutes=15 * n), minutes=15)
        for n in range(20)
    )

    read = adapter.read_calendar(query(day, ours=numbers, working_hours={}))

    looked_up = {r.path.rsplit("/", 1)[1] for r in simulator.requests}
    assert len(read.spans) == len(looked_up) == treatsvet_adapter.OURS_PER_PULL == 15
    assert looked_up <= set(numbers)


# -- failures -----------------------------------------------------------------------------------


def test_a_429_mid_read_is_waited_out_and_the_read_finishes(adapter, simulator, monkeypatch):
    day, later = tuesday(3), tuesday(3, weeks=1)
    book(simulator, paris(later, "09:00"), minutes=30)
    fault_after(simulator, monkeypatch, "available_slots", "429", SLOTS)

    read = adapter.read_calendar(query(day, days=8, working_hours={VET: martin(day, later)}))

    assert read.spans == [busy(paris(later, "09:00"), paris(later, "09:30"))]
    assert [call["date"] for call in slot_calls(simulator)] == [
        day.isoformat(),
        later.isoformat(),
        later.isoformat(),
    ]


@pytest.mark.parametrize(
    ("handler", "path", "fault", "error"),
    [
        ("available_slots", SLOTS, "500", OutcomeUnknown),
        ("available_slots", SLOTS, "garbage", UnexpectedResponse),
        ("available_slots", SLOTS, "wrong_types", UnexpectedResponse),
        ("available_slots", SLOTS, "empty", UnexpectedResponse),
        ("available_slots", SLOTS, "drop", VendorUnavailable),
        ("get_appointment", "/api/v1/appointments/", "500", OutcomeUnknown),
        ("get_appointment", "/api/v1/appointments/", "garbage", UnexpectedResponse),
    ],
)
def test_a_failure_mid_read_raises(adapter, simulator, monkeypatch, handler, path, fault, error):
    day, later = tuesday(3), tuesday(3, weeks=1)
    numbers = (ours(adapter, paris(day, "10:00")), ours(adapter, paris(day, "11:00")))
    fault_after(simulator, monkeypatch, handler, fault, path)

    with pytest.raises(error):
        adapter.read_calendar(
            query(day, days=8, ours=numbers, working_hours={VET: martin(day, later)})
        )


def test_a_slot_without_its_times_raises(adapter, simulator, monkeypatch):
    monkeypatch.setattr(
        simulator, "available_slots", lambda sent: Reply(200, [{"startTime": "10:00"}])
    )

    with pytest.raises(UnexpectedResponse):
        adapter.read_calendar(query(tuesday(3)))


def test_a_spent_hourly_budget_fails_the_read(adapter, simulator, monkeypatch):
    body = {"message": "Rate limit exceeded. Please try again later.", "retryAfter": 1800}
    monkeypatch.setattr(
        simulator, "available_slots", lambda sent: Reply(429, body, {"Retry-After": "1800"})
    )

    with pytest.raises(RateLimited) as limited:
        adapter.read_calendar(query(tuesday(3)))

    assert limited.value.retry_after == 1800.0
    assert len(slot_calls(simulator)) == 1


# -- the pre-flight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "free"),
    [
        pytest.param("10:40", True, id="a-free-start"),
        pytest.param("10:00", False, id="taken-in-treats-vet"),
        pytest.param("13:00", False, id="lunch"),
        pytest.param("10:50", False, id="off-the-grid"),
    ],
)
def test_is_free_asks_for_the_slots_of_that_vet_day_and_type(adapter, simulator, clock, free):
    day = tuesday(3)
    book(simulator, paris(day, "10:00"), minutes=20)
    start = paris(day, clock)

    answer = adapter.is_free(request(start=start, end=start + datetime.timedelta(minutes=20)))

    assert answer is free
    assert adapter.checks_free is True
    assert slot_calls(simulator) == [
        {"vetId": VET, "date": day.isoformat(), "appointmentTypeId": CONSULTATION}
    ]


def test_is_free_does_not_wait_out_a_429(adapter, simulator):
    simulator.inject("429", path=SLOTS)
    start = paris(tuesday(3), "10:40")

    with pytest.raises(RateLimited):
        adapter.is_free(request(start=start, end=start + datetime.timedelta(minutes=20)))


# -- the simulator -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vet", "weekday", "first", "last", "count"),
    [
        pytest.param(VET, 1, "09:00", "18:30", 17, id="martin-tuesday"),
        pytest.param(VET, 2, "09:00", "12:00", 7, id="martin-wednesday"),
        pytest.param(JULIEN, 1, "08:00", "12:30", 10, id="bernard-tuesday"),
        pytest.param(VET, 5, None, None, 0, id="saturday"),
    ],
)
def test_the_simulator_offers_the_demo_clinics_hours(adapter, vet, weekday, first, last, count):
    day = tuesday(3) + datetime.timedelta(days=weekday - 1)

    slots = adapter.reference("available_slots", vetId=vet, date=day.isoformat())

    starts = [slot["startTime"] for slot in slots]
    assert len(starts) == count
    if count:
        z = "%Y-%m-%dT%H:%M:%SZ"
        assert (starts[0], starts[-1]) == (
            paris(day, first).strftime(z),
            paris(day, last).strftime(z),
        )


def test_the_api_cannot_book_over_a_block_made_in_treats_vet(adapter, simulator):
    day = tuesday(3)
    book(simulator, paris(day, "09:00"), minutes=180, kind="block")

    with pytest.raises(SlotUnavailable):
        ours(adapter, paris(day, "10:00"))
