"""NexHealth's calendar (DESIGN §8) against its simulator over real sockets: the cursor-paged,
rate-limited GET /appointments (complete and incremental), the appointment webhooks and the
available_slots pre-flight."""

import datetime
import json
import time
import zoneinfo

import pytest
import requests

from tests.vendors.adapters.test_nexhealth import SECRET, Receiver
from tests.vendors.scenarios.nexhealth import request as booking
from tests.vendors.scenarios.nexhealth import settings
from vendors import pacing
from vendors.adapters import nexhealth
from vendors.adapters.nexhealth import NexHealthAdapter, parse_webhook
from vendors.base import MAX_PACE_WAIT
from vendors.errors import (
    ConfigurationError,
    OutcomeUnknown,
    Paced,
    RateLimited,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
)
from vendors.types import BusySpan, CalendarQuery

VENDOR = "nexhealth"
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
DAY = (datetime.datetime.now(NEW_YORK) + datetime.timedelta(days=3)).date()


@pytest.fixture
def simulator(simulator):
    simulator.webhook_delay, simulator.webhook_url, simulator.webhook_secret = None, "", ""
    return simulator


@pytest.fixture
def receiver(simulator):
    receiver = Receiver()
    simulator.webhook_url, simulator.webhook_secret = receiver.url, SECRET
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def at(hour: int, minute: int = 0, *, day: datetime.date = DAY) -> datetime.datetime:
    """Wall-clock time at Downtown Dental (New York) on the test day, as an aware UTC instant."""
    return datetime.datetime.combine(day, datetime.time(hour, minute), NEW_YORK).astimezone(
        datetime.UTC
    )


def query(**changes) -> CalendarQuery:
    values = {
        "start": at(0),
        "end": at(0, day=DAY + datetime.timedelta(days=2)),
        "time_zone": "America/New_York",
        "practitioners": ("201", "202"),
        "rooms": ("301",),
        "locations": ("101",),
        **changes,
    }
    return CalendarQuery(**values)


def direct(simulator, action: str = "book", **data) -> str:
    """A change made in the practice's EHR, through the simulator's control endpoint."""
    if isinstance(data.get("start"), datetime.datetime):
        data["start"] = data["start"].astimezone(NEW_YORK).isoformat()
    answer = requests.post(
        f"{simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=2
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id"])


def book(simulator, start: datetime.datetime, **data) -> str:
    values = {"practitioner": "201", "room": "301", "patient": "502", "minutes": 45, **data}
    return direct(simulator, start=start, **values)


def listings(simulator) -> list:
    return [r for r in simulator.requests if r.method == "GET" and r.path == "/appointments"]


def backdate(simulator, hours: int = 1) -> None:
    """Every appointment was last changed `hours` ago (before the previous read)."""
    stamp = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=hours)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z"
    )
    with simulator.lock:
        for appt in simulator.appointments.values():
            appt["updated_at"] = stamp


def fail_after_first_page(monkeypatch, adapter, simulator, fault: str) -> None:
    """The fault answers the listing's second page (the first is read normally)."""
    original = adapter.read
    pages = []

    def read(path, **options):
        found = original(path, **options)
        if path == "appointments":
            pages.append(options)
            if len(pages) == 1:
                simulator.inject(fault, path="/appointments")
        return found

    monkeypatch.setattr(adapter, "read", read)


# -- the complete read ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        pytest.param(
            "appointment",
            {"patient": "502"},
            {"kind": "appointment", "patient": "502", "vendor_status": "unconfirmed",
             "status": "unconfirmed"},
            id="appointment",
        ),
        pytest.param(
            "block",
            {"patient": ""},
            {"kind": "block", "patient": "", "vendor_status": "unavailable", "status": None},
            id="block",
        ),
    ],
)  # fmt: skip
def test_a_direct_booking_is_read_at_its_utc_times(simulator, adapter, kind, data, expected):
    external_id = book(simulator, at(10, 15), kind=kind, **data)

    read = adapter.read_calendar(query())

    (span,) = read.spans
    assert span == BusySpan(
        start=at(10, 15),
        end=at(11),
        external_id=external_id,
        practitioner="201",
        room="301",
        location="101",
        active=True,
        **expected,
    )
    assert (read.complete, read.lists_appointments) == (True, True)
    (listing,) = listings(simulator)
    assert listing.query == {
        "subdomain": "sim-dental",
        "location_id": "101",
        "start": (query().start - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": query().end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "per_page": "1000",
    }


def test_the_read_keeps_the_mapped_providers_and_operatories_in_the_window(simulator, adapter):
    evening = DAY - datetime.timedelta(days=1)
    kept = {
        book(simulator, at(9)),  # mapped provider and operatory
        book(simulator, at(10), practitioner="202", room="301"),  # mapped operatory
        book(simulator, at(11), practitioner="201", room="302"),  # mapped provider
        book(simulator, at(23, day=evening), minutes=120),  # begun before, held in the window
    }
    book(simulator, at(12), practitioner="202", room="302")  # neither is mapped
    book(simulator, at(22, day=evening), minutes=60)  # ended as the window began
    book(simulator, at(9, day=DAY + datetime.timedelta(days=2)))  # after the window
    book(simulator, at(9), location="102", room="")  # another location

    spans = adapter.read_calendar(query(practitioners=("201",), rooms=("301",))).spans

    assert {span.external_id for span in spans} == kept


def test_a_read_without_a_mapped_location_uses_the_option_or_refuses(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, location_id="102"))
    book(simulator, at(9), location="102", room="")

    assert len(adapter.read_calendar(query(locations=())).spans) == 1
    assert listings(simulator)[-1].query["location_id"] == "102"
    with pytest.raises(ConfigurationError, match="location"):
        NexHealthAdapter(settings(simulator.url)).read_calendar(query(locations=()))


@pytest.mark.parametrize(
    ("action", "data", "start", "end", "active", "vendor_status"),
    [
        ("move", {"start": "13:30", "minutes": 30}, (13, 30), (14, 0), True, "unconfirmed"),
        ("cancel", {}, (10, 15), (11, 0), False, "cancelled"),
    ],
)
def test_a_direct_change_shows_in_the_next_complete_read(
    simulator, adapter, action, data, start, end, active, vendor_status
):
    external_id = book(simulator, at(10, 15))
    if "start" in data:
        data = {**data, "start": at(*map(int, data["start"].split(":")))}
    direct(simulator, action, id=external_id, **data)

    (span,) = adapter.read_calendar(query()).spans

    assert (span.external_id, span.start, span.end) == (external_id, at(*start), at(*end))
    assert (span.active, span.vendor_status) == (active, vendor_status)


def test_a_deleted_appointment_is_gone_from_the_complete_read(simulator, adapter):
    direct(simulator, "delete", id=book(simulator, at(10)))

    assert adapter.read_calendar(query()).spans == []


# -- our appointments -------------------------------------------------------------------------


def test_ours_moved_out_of_the_window_is_looked_up_not_taken_for_deleted(simulator, adapter):
    ours = adapter.book(booking(start=at(9), end=at(9, 30))).external_id
    later = at(9, day=DAY + datetime.timedelta(days=20))
    direct(simulator, "move", id=ours, start=later)

    read = adapter.read_calendar(query(ours=(ours, "999999")))

    (span,) = read.spans
    assert (span.external_id, span.start, span.active) == (ours, later, True)
    looked_up = [r.path for r in simulator.requests if r.path.startswith("/appointments/")]
    assert looked_up == [f"/appointments/{ours}", "/appointments/999999"]


def test_ours_deleted_in_the_ehr_comes_back_inactive(simulator, adapter):
    ours = adapter.book(booking(start=at(9), end=at(9, 30))).external_id
    direct(simulator, "delete", id=ours)

    (span,) = adapter.read_calendar(query(ours=(ours,))).spans

    assert (span.external_id, span.active, span.vendor_status, span.status) == (
        ours, False, "deleted", "cancelled",
    )  # fmt: skip


# -- paging and rate limits --------------------------------------------------------------------


def test_pages_are_read_to_the_end_at_most_ten_a_second(simulator, adapter, monkeypatch):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 4)
    booked = [book(simulator, at(8) + datetime.timedelta(minutes=50 * n)) for n in range(10)]

    spans = adapter.read_calendar(query()).spans

    assert [span.external_id for span in spans] == booked
    pages = listings(simulator)
    assert [page.query["per_page"] for page in pages] == ["4", "4", "4"]
    assert "end_cursor" not in pages[0].query
    assert pages[1].query["end_cursor"] and pages[2].query["end_cursor"]
    assert pages[1].query["end_cursor"] != pages[2].query["end_cursor"]


def test_many_pages_keep_to_ten_a_second_and_never_meet_a_429(simulator, adapter, monkeypatch):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 1)
    booked = [book(simulator, at(8) + datetime.timedelta(minutes=30 * n)) for n in range(15)]

    spans = adapter.read_calendar(query()).spans

    assert [span.external_id for span in spans] == booked
    arrived = simulator.arrivals["/appointments"]
    assert len(arrived) == 15  # each page asked once: the simulator never answered 429
    assert max(sum(1 for t in arrived if a <= t < a + 1.0) for a in arrived) <= 10


def listing_params(adapter) -> dict:
    return {"subdomain": adapter._subdomain(), "location_id": 101,
            "start": at(0).isoformat(), "end": at(12).isoformat()}  # fmt: skip


def early_in_a_window(seconds: float, *, at_least: float = 1.0) -> None:
    """Now, or after the next window of `seconds` began if less than `at_least` is left."""
    left = seconds - time.time() % seconds
    if left < at_least:
        time.sleep(left + 0.01)


def test_a_first_call_that_would_wait_for_its_pace_is_not_sent(simulator, adapter):
    # One call a 4 s window, taken by another process's adapter (the same API key): the next
    # would wait more than MAX_PACE_WAIT and less than STARTED_PACE_WAIT.
    slow = (pacing.Limit("list", 2, 4.0, paths="appointments", methods=("GET",)),)
    other = NexHealthAdapter(adapter.settings, store=adapter.store)
    other.rate_limits = adapter.rate_limits = slow
    early_in_a_window(4.0)
    other.call("GET", "appointments", params=listing_params(other))

    with pytest.raises(Paced) as refused:
        adapter.read("appointments", params=listing_params(adapter))  # no 429 waited out

    assert len(simulator.arrivals["/appointments"]) == 1
    assert MAX_PACE_WAIT < refused.value.retry_after <= 4.0
    assert adapter.exchanges[-1].error == "Paced"
    assert adapter.exchanges[-1].status is None


def test_an_adapter_that_has_sent_a_call_waits_in_place_for_the_next(simulator, adapter):
    # One call a 1.5 s window: the second waits for the next, longer than MAX_PACE_WAIT.
    adapter.rate_limits = (pacing.Limit("list", 2, 1.5, paths="appointments", methods=("GET",)),)
    early_in_a_window(1.5)
    for _ in range(3):
        adapter.call("GET", "appointments", params=listing_params(adapter))

    arrived = simulator.arrivals["/appointments"]
    assert len(arrived) == 3
    assert arrived[2] - arrived[0] >= 1.5  # three windows met
    assert max(sum(1 for t in arrived if a <= t < a + 1.5) for a in arrived) <= 2


def test_the_documented_limit_answers_429_and_the_read_waits_it_out(
    simulator, adapter, monkeypatch
):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 1)
    monkeypatch.setattr(adapter, "rate_limits", ())  # as if it did not pace itself
    booked = [book(simulator, at(8) + datetime.timedelta(minutes=30 * n)) for n in range(12)]
    began = time.monotonic()

    spans = adapter.read_calendar(query()).spans

    assert [span.external_id for span in spans] == booked
    assert len(simulator.arrivals["/appointments"]) == 13  # one page asked twice
    assert time.monotonic() - began >= 1.0  # its Retry-After


def test_a_429_mid_read_is_waited_out(simulator, adapter, monkeypatch):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 2)
    booked = [book(simulator, at(9 + n)) for n in range(4)]
    fail_after_first_page(monkeypatch, adapter, simulator, "429")

    spans = adapter.read_calendar(query()).spans

    assert [span.external_id for span in spans] == booked
    assert len(listings(simulator)) == 3


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("500", OutcomeUnknown),
        ("503", VendorUnavailable),
        ("garbage", OutcomeUnknown),
        ("empty", UnexpectedResponse),
        ("wrong_types", UnexpectedResponse),
        ("drop", VendorUnavailable),
    ],
)
def test_a_failed_page_mid_read_raises(simulator, adapter, monkeypatch, fault, error):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 2)
    for n in range(4):
        book(simulator, at(9 + n))
    fail_after_first_page(monkeypatch, adapter, simulator, fault)

    with pytest.raises(VendorError) as raised:
        adapter.read_calendar(query())

    assert isinstance(raised.value, error)


@pytest.mark.parametrize(
    ("appointments", "page_info"),
    [
        pytest.param(1, None, id="missing"),
        pytest.param(1, {"has_next_page": True, "end_cursor": None}, id="next-without-cursor"),
        pytest.param(1, {"has_next_page": "maybe"}, id="not-a-boolean"),
        pytest.param(2, "first cursor again", id="cursor-repeated"),
        pytest.param(0, {"has_next_page": True, "end_cursor": "more"}, id="empty-page-with-more"),
    ],
)
def test_a_page_without_usable_page_info_raises(
    simulator, adapter, monkeypatch, appointments, page_info
):
    monkeypatch.setattr(nexhealth, "PER_PAGE", 1)
    for _ in range(appointments):
        book(simulator, at(9))
    original = adapter.unwrap
    first: list[str] = []

    def unwrap(body, path):
        found = original(body, path)
        if path != "appointments":
            return found
        if page_info == "first cursor again":  # a server that keeps answering the same page
            first.append(first[0] if first else body["page_info"]["end_cursor"])
            adapter._page_info = {"has_next_page": True, "end_cursor": first[0]}
        else:
            adapter._page_info = page_info
        return found

    monkeypatch.setattr(adapter, "unwrap", unwrap)

    with pytest.raises(UnexpectedResponse, match="appointment pages"):
        adapter.read_calendar(query())


# -- incremental reads ----------------------------------------------------------------------------


def test_an_incremental_read_returns_only_what_changed(simulator, adapter):
    unchanged = book(simulator, at(9))
    cancelled = book(simulator, at(10))
    moved = book(simulator, at(11))
    deleted = book(simulator, at(12))
    first = adapter.read_calendar(query())
    backdate(simulator)
    direct(simulator, "cancel", id=cancelled)
    direct(simulator, "move", id=moved, start=at(15))
    direct(simulator, "delete", id=deleted)
    created = book(simulator, at(16), practitioner="203", location="102", room="")
    created_here = book(simulator, at(17), practitioner="202", room="302")

    read = adapter.read_calendar(query(since=first.cursor))

    assert read.complete is False
    found = {span.external_id: (span.start, span.active, span.vendor_status) for span in read.spans}
    assert unchanged not in found and created not in found  # created at another location
    assert found == {
        cancelled: (at(10), False, "cancelled"),
        moved: (at(15), True, "unconfirmed"),
        deleted: (at(12), False, "deleted"),
        created_here: (at(17), True, "unconfirmed"),
    }
    assert listings(simulator)[-1].query["updated_since"] == first.cursor


def test_the_cursor_is_the_read_start_less_an_overlap(simulator, adapter):
    book(simulator, at(9))
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    cursor = datetime.datetime.fromisoformat(adapter.read_calendar(query()).cursor)

    overlap = nexhealth.CURSOR_OVERLAP
    assert before - overlap <= cursor <= datetime.datetime.now(datetime.UTC) - overlap
    again = adapter.read_calendar(query(since=cursor.isoformat()))
    assert datetime.datetime.fromisoformat(again.cursor) >= cursor


def test_an_unreadable_cursor_reads_the_whole_window(simulator, adapter):
    book(simulator, at(9))

    read = adapter.read_calendar(query(since="not-a-time"))

    assert read.complete is True
    assert "updated_since" not in listings(simulator)[-1].query
    assert len(read.spans) == 1


# -- webhooks -----------------------------------------------------------------------------------


def test_direct_changes_push_signed_webhooks_that_read_as_spans(simulator, adapter, receiver):
    # Each change's webhook is sent from a thread of its own: one at a time, so that they
    # arrive in the order of the changes.
    external_id = book(simulator, at(10))
    simulator.wait_for_webhooks(1)
    direct(simulator, "move", id=external_id, start=at(14))
    simulator.wait_for_webhooks(2)
    direct(simulator, "cancel", id=external_id)
    simulator.wait_for_webhooks(3)

    events = [parse_webhook(headers, body, SECRET) for headers, body in receiver.received]
    payloads = [json.loads(body) for _, body in receiver.received]

    assert [(e.event, e.external_id, e.sync) for e in events] == [
        ("appointment_created", external_id, None),
        ("appointment_updated", external_id, None),
        ("appointment_updated", external_id, None),
    ]
    assert [payload["resource_type"] for payload in payloads] == ["Appointment"] * 3
    assert [(s.start, s.end, s.active) for e in events for s in e.spans] == [
        (at(10), at(10, 45), True),
        (at(14), at(14, 45), True),
        (at(14), at(14, 45), False),
    ]
    assert [adapter.webhook_spans(payload) for payload in payloads] == [
        list(event.spans) for event in events
    ]
    # The same mapping as the read.
    assert adapter.read_calendar(query()).spans == list(events[-1].spans)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({"event_name": "appointment_insertion.complete",
                      "data": {"appointment": {"id": 1}}}, id="insertion-event"),
        pytest.param({"event_name": "patient_updated", "data": {"appointment": {"id": 1}}},
                     id="other-event"),
        pytest.param({"event_name": "appointment_updated",
                      "data": {"appointment": {"id": 1, "start_time": "soon"}}},
                     id="unreadable-times"),
        pytest.param([], id="not-an-object"),
    ],
)  # fmt: skip
def test_webhook_spans_are_empty_for_anything_else(adapter, payload):
    assert adapter.webhook_spans(payload) == []


def test_a_webhook_for_a_deleted_block(simulator, adapter, receiver):
    block = book(simulator, at(12), kind="block", patient="")
    simulator.wait_for_webhooks(1)  # each from a thread of its own: one at a time, in order
    direct(simulator, "delete", id=block)
    simulator.wait_for_webhooks(2)

    spans = [adapter.webhook_spans(json.loads(body)) for _, body in receiver.received]

    assert [(s.kind, s.active, s.vendor_status, s.status) for (s,) in spans] == [
        ("block", True, "unavailable", None),
        ("block", False, "deleted", None),
    ]


# -- the pre-flight -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "free"),
    [
        pytest.param((9, 0), 30, True, id="free"),
        pytest.param((9, 45), 30, True, id="ends-as-the-taken-time-begins"),
        pytest.param((10, 0), 30, False, id="overlaps-the-start"),
        pytest.param((10, 15), 30, False, id="taken"),
        pytest.param((10, 40), 30, False, id="overlaps-the-end"),
        pytest.param((10, 45), 30, True, id="right-after"),
        pytest.param((13, 0), 30, False, id="operatory-taken-by-another-provider"),
        pytest.param((15, 0), 30, True, id="another-provider-in-another-operatory"),
        pytest.param((7, 30), 30, False, id="before-working-hours"),
        pytest.param((17, 45), 30, False, id="past-working-hours"),
        pytest.param((12, 7), 30, True, id="off-the-five-minute-grid"),
    ],
)
def test_is_free_asks_for_the_slots_of_that_day(simulator, adapter, start, minutes, free):
    book(simulator, at(10, 15), minutes=30)
    book(simulator, at(13), practitioner="202", room="301", minutes=30)
    book(simulator, at(15), practitioner="202", room="302", minutes=30)
    request = booking(start=at(*start), end=at(*start) + datetime.timedelta(minutes=minutes))

    assert adapter.is_free(request) is free

    (asked,) = [r for r in simulator.requests if r.path == "/available_slots"]
    assert asked.query == {
        "subdomain": "sim-dental",
        "start_date": DAY.isoformat(),
        "days": "1",
        "lids[]": "101",
        "pids[]": "201",
        "operatory_ids[]": "301",
        "appointment_type_id": "402",
        "slot_length": str(minutes),
        "slot_interval": "1" if start[1] % 5 else "5",
    }


def test_is_free_of_a_cancelled_time(simulator, adapter):
    direct(simulator, "cancel", id=book(simulator, at(10)))

    assert adapter.is_free(booking(start=at(10), end=at(10, 30))) is True


@pytest.mark.parametrize(("fault", "error"), [("429", RateLimited), ("garbage", OutcomeUnknown)])
def test_is_free_fails_at_once_rather_than_wait(simulator, adapter, fault, error):
    simulator.inject(fault, path="/available_slots")
    began = time.monotonic()

    with pytest.raises(error):
        adapter.is_free(booking(start=at(9), end=at(9, 30)))

    assert time.monotonic() - began < 0.9  # the Retry-After (1 s) is not waited out
