"""Flextell's calendar read (DESIGN §8), over real sockets: what staff do in Flextell itself
(the simulator's direct endpoint) shows in `read_calendar` with its UTC times, doctor, room,
customer and status; failures mid-read raise instead of answering part of the calendar."""

import datetime
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.flextell import request
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    SlotUnavailable,
    UnexpectedResponse,
    VendorUnavailable,
)
from vendors.simulators.base import Reply
from vendors.types import APPOINTMENT, BLOCK, BusySpan, CalendarQuery

VENDOR = "flextell"
UTC = datetime.UTC
SANTIAGO = "America/Santiago"
NEXT_YEAR = datetime.date.today().year + 1
CALENDAR = "/api/v1/appointments/calendar"
LIST = "/api/v1/appointments"


def at(text: str) -> datetime.datetime:
    """An ISO time with its offset, as the aware UTC instant."""
    return datetime.datetime.fromisoformat(text).astimezone(UTC)


def query(day: str = f"{NEXT_YEAR}-01-05", days: int = 1, zone: str = SANTIAGO, **fields):
    """The local days from `day` in `zone`, doctors 11 and 12 and rooms 21 and 22 mapped."""
    midnight = datetime.datetime.combine(
        datetime.date.fromisoformat(day), datetime.time(0), zoneinfo.ZoneInfo(zone)
    ).astimezone(UTC)
    values = {"practitioners": ("11", "12"), "rooms": ("21", "22")} | fields
    return CalendarQuery(
        start=midnight, end=midnight + datetime.timedelta(days=days), time_zone=zone, **values
    )


def direct(simulator, action: str, **data) -> str:
    """A change made in Flextell itself (the simulator's control endpoint)."""
    answer = requests.post(
        f"{simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=5
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["id"]


def book(simulator, start: str, minutes: int = 30, practitioner: str = "11", **data) -> str:
    return direct(
        simulator, "book", practitioner=practitioner, start=start, minutes=minutes, **data
    )


def calendar_calls(simulator) -> list[tuple[str, str]]:
    return [(r.query["from"], r.query["to"]) for r in simulator.requests if r.path == CALENDAR]


def fault_after(simulator, monkeypatch, handler: str, fault: str, path: str, after: int = 1):
    """`fault` answers the request to `path` that follows the `after`-th answer of `handler`:
    the read is under way when it fails."""
    original, answered = getattr(simulator, handler), []

    def counting(sent):
        answered.append(sent)
        if len(answered) == after:
            simulator.inject(fault, path=path)
        return original(sent)

    monkeypatch.setattr(simulator, handler, counting)


# -- what a direct change looks like in the read ------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        (SANTIAGO, f"{NEXT_YEAR}-01-05T10:00:00-03:00"),  # Chilean summer time
        (SANTIAGO, f"{NEXT_YEAR}-07-06T10:00:00-04:00"),
        ("UTC", f"{NEXT_YEAR}-07-06T10:00:00+00:00"),
    ],
)
def test_a_direct_booking_shows_with_its_utc_times(adapter, simulator, zone, start):
    simulator.time_zone = zone
    number = book(simulator, start, minutes=45, room="21", patient="31")

    read = adapter.read_calendar(query(start[:10], zone=zone))

    assert read.spans == [
        BusySpan(
            at(start),
            at(start) + datetime.timedelta(minutes=45),
            kind=APPOINTMENT,
            external_id=number,
            practitioner="11",
            room="21",
            patient="31",
            vendor_status="approved",
            status="confirmed",
            active=True,
        )
    ]
    assert (read.complete, read.cursor, read.lists_appointments) == (True, "", True)


def test_a_block_is_busy_for_its_doctor(adapter, simulator):
    book(simulator, f"{NEXT_YEAR}-01-05T14:00:00-03:00", minutes=120, practitioner="12",
         kind="block")  # fmt: skip

    (span,) = adapter.read_calendar(query()).spans

    assert span == BusySpan(
        at(f"{NEXT_YEAR}-01-05T17:00:00+00:00"),
        at(f"{NEXT_YEAR}-01-05T19:00:00+00:00"),
        kind=BLOCK,
        practitioner="12",
        vendor_status="block",
    )


@pytest.mark.parametrize(
    ("word", "status", "active"),
    [
        ("pending", "unconfirmed", True),
        ("approved", "confirmed", True),
        ("completed", "completed", True),
        ("no_show", "no_show", True),
        ("cancelled", "cancelled", False),
        ("rejected", "cancelled", False),
    ],
)
def test_statuses_map_and_cancelled_ones_free_their_time(adapter, simulator, word, status, active):
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00", status=word)

    (span,) = adapter.read_calendar(query()).spans

    assert (span.vendor_status, span.status, span.active) == (word, status, active)


def ours(adapter, start: str):
    """One of our appointments, delivered through the API at `start` (30 minutes)."""
    begins = at(start)
    booked = adapter.book(request(start=begins, end=begins + datetime.timedelta(minutes=30)))
    return booked.external_id


def test_a_cancellation_in_flextell_comes_back_inactive(adapter, simulator):
    number = ours(adapter, f"{NEXT_YEAR}-01-05T10:00:00-03:00")
    direct(simulator, "cancel", id=number)

    (span,) = adapter.read_calendar(query(ours=(number,))).spans

    assert (span.external_id, span.vendor_status, span.status, span.active) == (
        number,
        "cancelled",
        "cancelled",
        False,
    )


def test_a_deletion_in_flextell_comes_back_as_deleted(adapter, simulator):
    number = ours(adapter, f"{NEXT_YEAR}-01-05T10:00:00-03:00")
    direct(simulator, "delete", id=number)
    window = query(ours=(number,))

    read = adapter.read_calendar(window)

    assert read.spans == [
        BusySpan(window.start, window.start, kind=APPOINTMENT, external_id=number,
                 vendor_status="deleted", active=False)
    ]  # fmt: skip
    assert [r.path for r in simulator.requests][-1] == f"/api/v1/appointments/{number}"


@pytest.mark.parametrize(
    ("moved_to", "minutes"),
    [
        pytest.param(f"{NEXT_YEAR}-01-05T16:30:00-03:00", 30, id="same-day"),
        pytest.param(f"{NEXT_YEAR}-05-03T09:00:00-04:00", 50, id="beyond-the-window"),
    ],
)
def test_a_move_in_flextell_comes_back_with_the_new_times(adapter, simulator, moved_to, minutes):
    number = ours(adapter, f"{NEXT_YEAR}-01-05T10:00:00-03:00")
    direct(simulator, "move", id=number, start=moved_to, minutes=minutes)

    (span,) = adapter.read_calendar(query(ours=(number,))).spans

    assert (span.external_id, span.start, span.end, span.active) == (
        number,
        at(moved_to),
        at(moved_to) + datetime.timedelta(minutes=minutes),
        True,
    )
    assert (span.practitioner, span.room, span.patient) == ("11", "21", "31")


# -- what is asked, and what is kept --------------------------------------------------------


def test_the_documented_lists_are_read_and_the_window_by_two_weeks(adapter, simulator):
    adapter.read_calendar(query(days=60))

    sent = [r for r in simulator.requests if r.path != "/oauth/token"]
    assert all(r.header("X-Tenant") == "7" for r in sent)
    assert [(r.path, r.query.get("page")) for r in sent[:2]] == [
        ("/api/v1/users", "1"),
        (LIST, "1"),
    ]
    # Local dates 5 Jan - 5 Mar, widened by a day; ranges share their boundary day.
    y = NEXT_YEAR
    assert sent[1].query | {"page": "1"} == {"from": f"{y}-01-04", "to": f"{y}-03-06",
                                            "page": "1", "per_page": "100"}  # fmt: skip
    assert calendar_calls(simulator) == [
        (f"{y}-01-04", f"{y}-01-18"),
        (f"{y}-01-18", f"{y}-02-01"),
        (f"{y}-02-01", f"{y}-02-15"),
        (f"{y}-02-15", f"{y}-03-01"),
        (f"{y}-03-01", f"{y}-03-06"),
    ]


def test_every_page_of_the_appointments_list_is_read(adapter, simulator):
    start = at(f"{NEXT_YEAR}-01-05T08:00:00-03:00")
    simulator.prefill(250, start=start)  # 30 minutes each: into 10 January

    read = adapter.read_calendar(query(days=7))

    pages = [r.query["page"] for r in simulator.requests if r.path == LIST]
    assert pages == ["1", "2", "3"]
    assert len(read.spans) == 250
    assert {(s.practitioner, s.room, s.patient) for s in read.spans} == {("12", "", "32")}


def test_an_item_on_the_boundary_day_of_two_ranges_counts_once(adapter, simulator):
    # 18 January is the boundary day of the first two ranges of a long window.
    number = book(simulator, f"{NEXT_YEAR}-01-18T10:00:00-03:00")

    read = adapter.read_calendar(query(days=30))

    assert [s.external_id for s in read.spans] == [number]


@pytest.mark.parametrize(
    ("mapped", "doctors"),
    [
        pytest.param({"practitioners": ("11",), "rooms": ()}, {"11"}, id="doctor"),
        pytest.param({"practitioners": (), "rooms": ("22",)}, {"12"}, id="room"),
        pytest.param({"practitioners": (), "rooms": ()}, {"11", "12"}, id="nothing-mapped"),
    ],
)
def test_only_mapped_doctors_and_rooms_are_read(adapter, simulator, mapped, doctors):
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00", practitioner="11", room="21")
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00", practitioner="12", room="22")

    read = adapter.read_calendar(query(**mapped))

    assert {s.practitioner for s in read.spans} == doctors


def test_outside_the_window_nothing_is_kept_but_ours(adapter, simulator):
    book(simulator, f"{NEXT_YEAR}-01-04T10:00:00-03:00")  # the day before: read, not kept
    number = ours(adapter, f"{NEXT_YEAR}-01-06T10:00:00-03:00")  # the day after

    read = adapter.read_calendar(query(ours=(number,)))

    assert [s.external_id for s in read.spans] == [number]


def test_a_doctor_is_found_by_name_when_the_list_lacks_the_appointment(
    adapter, simulator, monkeypatch
):
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00", practitioner="12", room="22",
         patient="31")  # fmt: skip
    empty = {"data": [], "meta": {"current_page": 1, "last_page": 1, "total": 0}}
    monkeypatch.setattr(simulator, "list_appointments", lambda sent: Reply(200, empty))

    (span,) = adapter.read_calendar(query()).spans

    assert (span.practitioner, span.room, span.patient) == ("12", "", "")


def test_free_text_never_leaves_flextell(adapter, simulator):
    note = "Lucía Pérez: alérgica a la penicilina"
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00", description=note, patient="31")
    book(simulator, f"{NEXT_YEAR}-01-05T12:00:00-03:00", kind="block", reason=note)

    read = adapter.read_calendar(query())

    assert len(read.spans) == 2
    for text in (note, "Lucía", "Dr. Ana Rojas", "Consultation"):
        assert text not in repr(read)


# -- failures ---------------------------------------------------------------------------------


def test_a_429_mid_read_is_waited_out_and_the_read_finishes(adapter, simulator, monkeypatch):
    number = book(simulator, f"{NEXT_YEAR}-01-20T10:00:00-03:00")
    fault_after(simulator, monkeypatch, "calendar", "429", CALENDAR)

    read = adapter.read_calendar(query(days=30))

    assert [s.external_id for s in read.spans] == [number]
    calls = calendar_calls(simulator)
    assert len(calls) == 4  # three ranges, the second asked twice
    assert calls[1] == calls[2]


@pytest.mark.parametrize(
    ("handler", "path", "fault", "error"),
    [
        ("calendar", CALENDAR, "500", OutcomeUnknown),
        ("calendar", CALENDAR, "garbage", UnexpectedResponse),
        ("calendar", CALENDAR, "wrong_types", UnexpectedResponse),
        ("calendar", CALENDAR, "empty", UnexpectedResponse),
        ("calendar", CALENDAR, "drop", VendorUnavailable),
        ("list_appointments", LIST, "500", OutcomeUnknown),
        ("list_appointments", LIST, "garbage", UnexpectedResponse),
    ],
)
def test_a_failure_mid_read_raises(adapter, simulator, monkeypatch, handler, path, fault, error):
    simulator.prefill(150, start=at(f"{NEXT_YEAR}-01-05T08:00:00-03:00"))  # two list pages
    fault_after(simulator, monkeypatch, handler, fault, path)

    with pytest.raises(error):
        adapter.read_calendar(query(days=30))


def test_an_answer_for_a_shorter_range_raises(adapter, simulator, monkeypatch):
    original = simulator.calendar

    def shortened(sent):
        reply = original(sent)
        return Reply(200, reply.body | {"to": reply.body["from"]})

    monkeypatch.setattr(simulator, "calendar", shortened)

    with pytest.raises(UnexpectedResponse) as short:
        adapter.read_calendar(query())

    y = NEXT_YEAR
    assert short.value.message == (
        f"Flextell answered its calendar from {y}-01-04 to {y}-01-04, not from {y}-01-04 to "
        f"{y}-01-06 as asked; the read was not used."
    )


def test_there_is_no_free_slot_check(adapter, simulator):
    assert adapter.checks_free is False
    with pytest.raises(NotSupported):
        adapter.is_free(request())
    assert simulator.requests == []


# -- the simulator -------------------------------------------------------------------------


def test_the_api_cannot_book_over_a_block_made_in_flextell(adapter, simulator):
    book(simulator, f"{NEXT_YEAR}-01-05T09:00:00-03:00", minutes=180, kind="block")
    begins = at(f"{NEXT_YEAR}-01-05T10:00:00-03:00")

    with pytest.raises(SlotUnavailable):
        adapter.book(request(start=begins, end=begins + datetime.timedelta(minutes=30)))


def test_a_direct_booking_over_a_taken_time_is_refused(simulator):
    book(simulator, f"{NEXT_YEAR}-01-05T10:00:00-03:00")

    answer = requests.post(
        f"{simulator.url}/__simulator/direct",
        json={"action": "book", "practitioner": "11", "start": f"{NEXT_YEAR}-01-05T10:15:00-03:00"},
        timeout=5,
    )

    assert (answer.status_code, answer.json()["error"]) == (409, "slot_unavailable")


@pytest.mark.parametrize("params", [{}, {"from": "2027-01-05"}, {"from": "x", "to": "y"}])
def test_the_calendar_wants_both_dates(adapter, simulator, params):
    adapter.check()  # a token
    (token,) = simulator.access_tokens

    answer = requests.get(
        f"{simulator.url}{CALENDAR}",
        params=params,
        headers={"Authorization": f"Bearer {token}", "X-Tenant": "7"},
        timeout=5,
    )

    assert (answer.status_code, answer.json()["error"]) == (422, "validation_error")
