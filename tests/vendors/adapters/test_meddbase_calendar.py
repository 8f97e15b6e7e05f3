"""Meddbase's calendar (DESIGN §8) against its simulator over real sockets: busy time derived
from proposed-time-slots at a site outside the UK, the state of our appointments from the
appointments list, and the proposed-slot pre-flight."""

import datetime
import time
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.meddbase import CONSULTATION
from tests.vendors.scenarios.meddbase import request as booking
from vendors.adapters import meddbase
from vendors.adapters.meddbase import STATES
from vendors.errors import OutcomeUnknown, RateLimited, UnexpectedResponse, VendorError
from vendors.simulators.meddbase import CLIENT_KEY
from vendors.types import BusySpan, CalendarQuery

VENDOR = "meddbase"
API = "/patientportalapi"
PROPOSED = f"{API}/appointment/proposed-time-slots"
APPOINTMENTS = f"{API}/appointment/appointments"
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
DAY = (datetime.datetime.now(SANTIAGO) + datetime.timedelta(days=3)).date()
# Santiago leaves summer time on 4 April 2027 (UTC-3 -> UTC-4) and returns on 5 September;
# London's clocks go back on 31 October 2027, 01:00-01:59 twice (Santiago's 30th, evening).
DST_DAYS = [datetime.date(2027, 4, 3), datetime.date(2027, 4, 5), datetime.date(2027, 9, 6)]


def at(hour: int, minute: int = 0, *, day: datetime.date = DAY) -> datetime.datetime:
    """Wall-clock time at the Providencia site (Santiago), as an aware UTC instant."""
    moment = datetime.datetime.combine(day, datetime.time(hour, minute), SANTIAGO)
    return moment.astimezone(datetime.UTC)


def query(day: datetime.date = DAY, hours=((9, 13), (14, 18)), **changes) -> CalendarQuery:
    """One day at Providencia; Dr Rojas (86) works `hours` there, as the desk knows them."""
    values = {
        "start": at(0, day=day),
        "end": at(0, day=day + datetime.timedelta(days=1)),
        "time_zone": "America/Santiago",
        "practitioners": ("86",),
        "locations": ("1125",),
        "rooms": ("400",),
        "appointment_types": (CONSULTATION,),
        "working_hours": {"86": tuple((at(a, day=day), at(b, day=day)) for a, b in hours)},
        **changes,
    }
    return CalendarQuery(**values)


def request_at(start: datetime.datetime, **changes):
    refs = {"patient": "pat1001", "practitioner": "86", "location": "1125", "room": "400",
            "appointment_type": CONSULTATION, **changes.pop("refs", {})}  # fmt: skip
    return booking(start=start, end=start + datetime.timedelta(minutes=30),
                   time_zone="America/Santiago", refs=refs, **changes)  # fmt: skip


def direct(simulator, action: str = "book", **data) -> str:
    if isinstance(data.get("start"), datetime.datetime):
        data["start"] = data["start"].astimezone(SANTIAGO).isoformat()
    answer = requests.post(
        f"{simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=2
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def book(simulator, start: datetime.datetime, **data) -> str:
    values = {"practitioner": "86", "location": "1125", "patient": "pat1002", **data}
    return direct(simulator, start=start, **values)


def busy(read) -> list[tuple[datetime.datetime, datetime.datetime]]:
    return [(span.start, span.end) for span in read.spans if span.kind == "busy"]


def asked(simulator, path: str = PROPOSED) -> list[dict[str, str]]:
    return [r.query for r in simulator.requests if r.path == path]


# -- busy time from the proposed slots -------------------------------------------------------


def test_free_working_hours_are_not_busy(simulator, adapter):
    read = adapter.read_calendar(query())

    assert read.spans == []
    assert (read.complete, read.lists_appointments, read.cursor) == (True, False, "")
    (search,) = asked(simulator)
    local = (DAY - datetime.timedelta(days=1), DAY + datetime.timedelta(days=2))
    assert search == {
        "client-key": CLIENT_KEY,
        "appointment-type": CONSULTATION,
        "clinician": "86",
        "site": "1125",
        "from-date": f"{local[0]}T00:00:00",
        "to-date": f"{local[1]}T00:00:00",
        "payer-type": "PA",
    }


@pytest.mark.parametrize("day", [DAY, *DST_DAYS], ids=str)
@pytest.mark.parametrize(
    ("kind", "data"),
    [("appointment", {}), ("block", {"patient": "", "room": ""})],
)
def test_a_direct_booking_is_busy_at_its_utc_times(simulator, adapter, day, kind, data):
    book(simulator, at(10, 15, day=day), minutes=30, kind=kind, **data)

    read = adapter.read_calendar(query(day))

    assert read.spans == [
        BusySpan(start=at(10, 15, day=day), end=at(10, 45, day=day), kind="busy",
                 practitioner="86"),
    ]  # fmt: skip


def test_busy_time_across_london_s_repeated_hour(simulator, adapter):
    day = datetime.date(2027, 10, 30)  # 21:00-23:00 Santiago = 01:00-02:00 (twice) in London
    book(simulator, at(21, 30, day=day), minutes=30)

    read = adapter.read_calendar(query(day, hours=((20, 23),)))

    assert busy(read) == [(at(21, 30, day=day), at(22, day=day))]


def test_busy_is_only_inside_the_working_hours_the_desk_knows(simulator, adapter):
    book(simulator, at(8), minutes=90)  # 08:00-09:30: half before the working day
    book(simulator, at(12, 45), minutes=30)  # across the lunch break
    book(simulator, at(16), minutes=30, practitioner="85", location="1124")  # someone else

    assert busy(adapter.read_calendar(query())) == [(at(9), at(9, 30)), (at(12, 45), at(13))]


def test_a_gap_shorter_than_the_type_reads_as_busy(simulator, adapter):
    book(simulator, at(10), minutes=30)
    book(simulator, at(10, 45), minutes=30)

    assert busy(adapter.read_calendar(query())) == [(at(10), at(11, 15))]


def test_the_clinician_s_own_hours_in_meddbase_limit_the_slots(simulator, adapter):
    simulator.set_hours(86, "10:00", "17:00")

    assert busy(adapter.read_calendar(query())) == [(at(9), at(10)), (at(17), at(18))]


@pytest.mark.parametrize(
    ("action", "data", "expected"),
    [
        ("move", {"start": (15, 0)}, [(15, 0), (15, 30)]),
        ("cancel", {}, []),
        ("delete", {}, []),
    ],
)
def test_a_direct_change_shows_in_the_next_read(simulator, adapter, action, data, expected):
    key = book(simulator, at(10), minutes=30)
    assert busy(adapter.read_calendar(query())) == [(at(10), at(10, 30))]
    if "start" in data:
        data = {"start": at(*data["start"])}

    direct(simulator, action, id=key, **data)

    assert busy(adapter.read_calendar(query())) == (
        [(at(*expected[0]), at(*expected[1]))] if expected else []
    )


def test_every_bookable_type_is_asked_when_none_is_mapped(simulator, adapter):
    adapter.read_calendar(query(appointment_types=()))

    assert [search["appointment-type"] for search in asked(simulator)] == [
        "00000000fc0af8e9", "00000000fc0af8ea", "00000000fc0af8eb",
    ]  # fmt: skip


def test_the_window_is_searched_a_week_at_a_time(simulator, adapter):
    end = at(0, day=DAY + datetime.timedelta(days=10))

    adapter.read_calendar(query(end=end))

    assert [(s["from-date"][:10], s["to-date"][:10]) for s in asked(simulator)] == [
        (str(DAY - datetime.timedelta(days=1)), str(DAY + datetime.timedelta(days=6))),
        (str(DAY + datetime.timedelta(days=6)), str(DAY + datetime.timedelta(days=11))),
    ]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"working_hours": {}}, id="no-working-hours"),
        pytest.param({"practitioners": ("0",), "working_hours": {"0": ((DAY, DAY),)}},
                     id="any-clinician"),
    ],
)  # fmt: skip
def test_nothing_is_derived_without_working_hours_or_for_any_clinician(simulator, adapter, changes):
    assert adapter.read_calendar(query(**changes)).spans == []
    assert asked(simulator) == []


# -- our appointments -------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "canonical"), sorted(STATES.items()))
def test_ours_come_back_with_their_state(simulator, adapter, state, canonical):
    ours = adapter.book(request_at(at(10))).external_id
    simulator.set_state(ours, state)

    read = adapter.read_calendar(query(ours=(ours,)))

    (span,) = [span for span in read.spans if span.external_id]
    assert span == BusySpan(
        start=at(10), end=at(10, 30), kind="appointment", external_id=ours, practitioner="86",
        room="400", location="1125", patient="pat1001", vendor_status=state, status=canonical,
        active=state != "Cancelled",
    )  # fmt: skip
    (listing,) = asked(simulator, APPOINTMENTS)
    assert listing["start-from"] == (query().start - datetime.timedelta(days=1)).isoformat()
    assert listing["start-to"] == query().end.isoformat()
    assert "patient" not in listing


@pytest.mark.parametrize(
    ("action", "data", "start", "active"),
    [("move", {"start": (16, 0)}, (16, 0), True), ("cancel", {}, (10, 0), False)],
)
def test_ours_changed_directly(simulator, adapter, action, data, start, active):
    ours = adapter.book(request_at(at(10))).external_id
    if "start" in data:
        data = {"start": at(*data["start"])}
    direct(simulator, action, id=ours, **data)

    (span,) = [s for s in adapter.read_calendar(query(ours=(ours,))).spans if s.external_id]

    assert (span.start, span.active) == (at(*start), active)


def test_ours_are_read_page_after_page(simulator, adapter, monkeypatch):
    monkeypatch.setattr(meddbase, "PAGE_SIZE", 5)
    others = [book(simulator, at(8) + datetime.timedelta(minutes=15 * n), minutes=15)
              for n in range(11)]  # fmt: skip
    ours = adapter.book(request_at(at(16))).external_id

    read = adapter.read_calendar(query(ours=(ours,)))

    assert [span.external_id for span in read.spans if span.external_id] == [ours]
    assert [q["page-number"] for q in asked(simulator, APPOINTMENTS)] == ["1", "2", "3"]
    assert others  # they are listed, but are not ours


def test_no_list_is_read_without_ours(simulator, adapter):
    adapter.read_calendar(query())

    assert asked(simulator, APPOINTMENTS) == []


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [PROPOSED, APPOINTMENTS])
def test_a_429_is_waited_out(simulator, adapter, path):
    ours = adapter.book(request_at(at(10))).external_id
    simulator.inject("429", path=path)

    read = adapter.read_calendar(query(ours=(ours,)))

    assert [(span.kind, span.external_id) for span in read.spans] == [
        ("busy", ""),  # our appointment's time, as the proposed slots show it
        ("appointment", ours),
    ]


@pytest.mark.parametrize("path", [PROPOSED, APPOINTMENTS])
@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("garbage", OutcomeUnknown), ("wrong_types", UnexpectedResponse)],
)
def test_a_failed_answer_raises(simulator, adapter, path, fault, error):
    ours = adapter.book(request_at(at(10))).external_id
    simulator.inject(fault, path=path)

    with pytest.raises(VendorError) as raised:
        adapter.read_calendar(query(ours=(ours,)))

    assert isinstance(raised.value, error)


@pytest.mark.parametrize(
    ("result", "changes"),
    [
        pytest.param({"TimeSlots": "none"}, {}, id="slots-not-a-list"),
        pytest.param({"TimeSlots": [{"Start": "2027-01-01T10:00:00"}]}, {}, id="no-finish"),
        pytest.param({"TimeSlots": [{"Start": "soon", "Finish": "later"}]}, {}, id="not-times"),
        pytest.param(
            {"TimeSlots": [{"Start": "2027-01-01T10:00:00", "Finish": "2027-01-01T09:00:00"}]},
            {},
            id="ends-before-it-starts",
        ),
        pytest.param({"Items": [], "TotalCount": 3}, {"ours": ("apt1",), "working_hours": {}},
                     id="list-that-ends-early"),
        pytest.param({"Items": [{"Key": "apt1"}]}, {"ours": ("apt1",), "working_hours": {}},
                     id="list-without-count"),
    ],
)  # fmt: skip
def test_an_unreadable_result_raises(simulator, adapter, monkeypatch, result, changes):
    original = adapter.unwrap

    def unwrap(body, path):
        found = original(body, path)
        return result if path.endswith(("proposed-time-slots", "/appointments")) else found

    monkeypatch.setattr(adapter, "unwrap", unwrap)

    with pytest.raises(UnexpectedResponse):
        adapter.read_calendar(query(**changes))


# -- the pre-flight -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "free"),
    [
        pytest.param((9, 0), True, id="free"),
        pytest.param((9, 30), True, id="ends-as-the-taken-time-begins"),
        pytest.param((10, 0), False, id="taken"),
        pytest.param((10, 15), False, id="overlaps"),
        pytest.param((10, 30), True, id="right-after"),
        pytest.param((7, 0), False, id="before-the-clinician-s-hours"),
        pytest.param((9, 5), False, id="not-a-proposed-start"),
    ],
)
def test_is_free_looks_for_a_proposed_slot_at_that_instant(simulator, adapter, start, free):
    simulator.set_hours(86, "08:00", "18:00")
    book(simulator, at(10), minutes=30)

    assert adapter.is_free(request_at(at(*start))) is free

    (search,) = asked(simulator)
    assert search == {
        "client-key": CLIENT_KEY,
        "appointment-type": CONSULTATION,
        "clinician": "86",
        "site": "1125",
        "location": "400",
        "patient": "pat1001",
        "from-date": f"{DAY - datetime.timedelta(days=1)}T00:00:00",
        "to-date": f"{DAY + datetime.timedelta(days=2)}T00:00:00",
        "payer-type": "PA",
    }


def test_is_free_is_about_the_instant_not_the_wall_clock(simulator, adapter):
    """10:00 in London is 06:00 or 07:00 in Santiago: free there, though 10:00 is taken."""
    book(simulator, at(10), minutes=30)
    london = datetime.datetime.combine(
        DAY, datetime.time(10), zoneinfo.ZoneInfo("Europe/London")
    ).astimezone(datetime.UTC)

    assert adapter.is_free(request_at(london)) is True
    assert adapter.is_free(request_at(at(10))) is False


@pytest.mark.parametrize(("fault", "error"), [("429", RateLimited), ("garbage", OutcomeUnknown)])
def test_is_free_fails_at_once_rather_than_wait(simulator, adapter, fault, error):
    adapter.check()  # logged in: the fault hits the search
    simulator.inject(fault, path=PROPOSED)
    began = time.monotonic()

    with pytest.raises(error):
        adapter.is_free(request_at(at(10)))

    assert time.monotonic() - began < 0.9  # the Retry-After (1 s) is not waited out
