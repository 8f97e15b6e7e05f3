"""Onboarding a practice from NexHealth over real sockets: every list read to its end across
pages (cursor pages, and the older page numbers), the field mapping, malformed records
reported while the rest continue, a 429 on a later page waited out, a later page that fails,
streaming, pacing, and the simulator's generated patients."""

import datetime
import itertools
import math

import pytest
import requests

from tests.vendors.scenarios.nexhealth import request as booking
from tests.vendors.scenarios.nexhealth import settings
from vendors import pacing
from vendors.adapters import nexhealth
from vendors.adapters.nexhealth import KEEP_EXCHANGES, NexHealthAdapter
from vendors.errors import (
    OutcomeUnknown,
    RateLimited,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
)
from vendors.simulators import nexhealth as sim
from vendors.types import IMPORT_KINDS, ImportedRecord

VENDOR = "nexhealth"
PATIENT_COUNT = 120
EVERY_DAY = list(range(7))


@pytest.fixture
def simulator(simulator):
    simulator.webhook_delay = None
    simulator.patient_count = PATIENT_COUNT
    return simulator


def paths(simulator, path: str) -> list[dict[str, str]]:
    """The query of every request the simulator got for `path`, in order."""
    return [r.query for r in simulator.requests if r.path == path]


def patients_at(location: int, count: int = PATIENT_COUNT) -> list[str]:
    """The active patients the simulator lists for one location (location_strict)."""
    return [
        str(sim.FIRST_PATIENT_ID + n)
        for n in range(count)
        if location in sim._patient_locations(n) and not sim._inactive(n)
    ]


def every_patient(count: int = PATIENT_COUNT) -> list[str]:
    """What an import of every location yields: each patient once, in reading order."""
    return list(dict.fromkeys(patients_at(101, count) + patients_at(102, count)))


def pages(records: int, per_page: int) -> int:
    return max(1, math.ceil(records / per_page))


def by_id(records: list[ImportedRecord]) -> dict[str, ImportedRecord]:
    return {record.external_id: record for record in records}


# -- what NexHealth lists -------------------------------------------------------------------------


def test_every_kind_is_offered(adapter):
    assert adapter.imports == IMPORT_KINDS
    assert not adapter.import_gaps


@pytest.mark.parametrize(
    ("kind", "per_page", "expected", "requests_per_path"),
    [
        ("locations", 1, ["101", "102"], {"/locations": 1}),
        ("practitioners", 1, ["201", "202", "203"], {"/providers": 4}),
        ("rooms", 1, ["301", "302", "303"], {"/operatories": 3}),
        ("types", 1, ["401", "402", "403"], {"/appointment_types": 2}),
        (
            "hours",
            1,
            [f"{hour}:{day}" for hour in (601, 603, 602, 604) for day in EVERY_DAY],
            {"/working_hours": 4},
        ),
        (
            "patients",
            25,
            every_patient(),
            {"/patients": pages(len(patients_at(101)), 25) + pages(len(patients_at(102)), 25)},
        ),
    ],
)
@pytest.mark.parametrize("paging", ["cursor", "page"])
def test_every_list_is_read_to_its_end_across_pages(
    adapter, simulator, kind, per_page, expected, requests_per_path, paging
):
    simulator.paging = paging
    adapter.import_per_page = per_page

    records = list(adapter.import_records(kind))

    assert [record.external_id for record in records] == expected
    assert not [record.problem for record in records if record.problem]
    assert {path: len(paths(simulator, path)) for path in requests_per_path} == requests_per_path


def test_cursor_pages_follow_the_end_cursor(adapter, simulator):
    adapter.import_per_page = 40

    list(adapter.import_records("patients"))

    cursors = [query.get("end_cursor") for query in paths(simulator, "/patients")]
    assert [cursor is None for cursor in cursors] == [True, False, True, False]
    assert all(query.get("page") is None for query in paths(simulator, "/patients"))


def test_page_numbers_count_up_when_answers_carry_no_page_info(adapter, simulator):
    simulator.paging = "page"
    adapter.import_per_page = 40

    list(adapter.import_records("patients"))

    asked = [(q.get("page"), q.get("end_cursor")) for q in paths(simulator, "/patients")]
    assert asked == [(None, None), ("2", None)] * 2  # two pages at each location


def test_every_request_names_the_institution_the_location_and_the_documented_filters(
    adapter, simulator
):
    for kind in IMPORT_KINDS:
        list(adapter.import_records(kind))

    listed = [r for r in simulator.requests if r.path not in ("/authenticates", "/locations")]
    assert all(r.query["subdomain"] == sim.SUBDOMAIN for r in simulator.requests[1:])
    assert {r.query["location_id"] for r in listed} == {"101", "102"}
    assert all(r.query["per_page"] == "500" for r in listed if r.path != "/appointment_types")
    patients = paths(simulator, "/patients")[0]
    assert {key: patients[key] for key in ("location_strict", "inactive", "non_patient")} == {
        "location_strict": "true",
        "inactive": "false",
        "non_patient": "false",
    }
    hours = paths(simulator, "/working_hours")[0]
    assert (hours["active"], hours["ignore_past_dates"]) == ("true", "true")


def test_a_connection_for_one_location_imports_that_location_only(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, location_id="102"))

    found = {kind: list(adapter.import_records(kind)) for kind in IMPORT_KINDS}

    assert [record.external_id for record in found["locations"]] == ["102"]
    assert [record.external_id for record in found["rooms"]] == ["303"]
    assert [record.external_id for record in found["patients"]] == patients_at(102)
    listed = [r for r in simulator.requests if r.query.get("location_id")]
    assert {r.query["location_id"] for r in listed} == {"102"}


# -- in our words ---------------------------------------------------------------------------------


def test_locations_map_to_ours(adapter):
    found = by_id(list(adapter.import_records("locations")))

    assert found["101"] == ImportedRecord(
        "locations",
        "101",
        {
            "name": "Downtown Dental",
            "address": "12 Main St, Suite 4, New York, NY 10001, US",
            "phone": "2125550100",
            "time_zone": "America/New_York",
            "active": True,
        },
    )
    assert "phone" not in found["102"].fields  # empty at NexHealth: left out
    assert found["102"].fields["time_zone"] == "America/Chicago"


def test_providers_operatories_and_types_map_to_ours(adapter):
    doctors = by_id(list(adapter.import_records("practitioners")))
    rooms = by_id(list(adapter.import_records("rooms")))
    types = by_id(list(adapter.import_records("types")))

    assert doctors["201"].fields == {
        "given_name": "Ana",
        "family_name": "Ruiz",
        "email": "ana.ruiz@sim-dental.example",
        "phone": "2125550201",
        "active": True,
    }
    assert (rooms["301"].fields, rooms["301"].refs) == (
        {"name": "Operatory 1", "active": True},
        {"location": "101"},
    )
    assert rooms["303"].refs == {"location": "102"}
    assert types["402"].fields == {"name": "Exam", "default_duration_minutes": 30}


def test_working_hours_become_one_weekly_block_per_day(adapter, simulator):
    simulator.add_working_hour(
        provider_id=202, location_id=101, begin_time="09:30", end_time="13:00",
        days=["Monday", "thursday", "Monday"],
    )  # fmt: skip

    found = [r for r in adapter.import_records("hours") if r.external_id.startswith("605:")]

    assert found == [
        ImportedRecord(
            "hours",
            f"605:{day}",
            {"weekday": day, "start_time": datetime.time(9, 30), "end_time": datetime.time(13)},
            {"practitioner": "202", "location": "101"},
        )
        for day in (0, 3)
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"days": None, "specific_date": "2099-03-04"}, "for one date only"),
        (
            {"days": [], "custom_recurrence": {"num": 3, "unit": "day", "ref": "2099-01-01"}},
            "custom recurrence",
        ),
        ({"label": {"id": 9, "name": "New patients"}}, "labelled working hour"),
        ({"provider_id": None}, "names no provider"),
        ({"begin_time": "18:00", "end_time": "02:00"}, "ends before it starts"),
        ({"end_time": "5pm"}, "not a time of day"),
        ({"days": ["Mon"]}, "not weekday names"),
    ],
)
def test_working_hours_that_are_not_a_weekly_schedule_are_reported(
    adapter, simulator, changes, problem
):
    simulator.add_working_hour(location_id=101, **changes)

    found = list(adapter.import_records("hours"))

    reported = [record for record in found if record.problem]
    assert [(r.external_id, problem in r.problem) for r in reported] == [("605", True)]
    assert len(found) == 1 + 4 * 7  # the others all imported


@pytest.mark.parametrize(
    ("index", "fields"),
    [
        (
            0,
            {"given_name": "María", "family_name": "González",
             "birth_date": datetime.date(1985, 4, 12), "phone": "5550100",
             "email": "maria@example.org"},
        ),
        (
            4,
            {"given_name": "Ava", "family_name": "Johnson",
             "birth_date": datetime.date(1940, 1, 1) + datetime.timedelta(days=4 * 7919 % 25_000),
             "sex": "other", "phone": "5550000004", "email": "ava.johnson.4@example.org"},
        ),
        (7, {"sex": "male"}),
        (8, {"sex": "female"}),
    ],
)  # fmt: skip
def test_patients_map_to_ours(adapter, index, fields):
    found = by_id(list(adapter.import_records("patients")))[str(sim.FIRST_PATIENT_ID + index)]

    assert {key: found.fields.get(key) for key in fields} == fields
    assert found.refs == {} and not found.problem


def test_a_patient_whose_sex_nexhealth_does_not_say_has_none(adapter):
    found = by_id(list(adapter.import_records("patients")))

    assert sim.patient(5)["bio"].get("gender") is None
    assert "sex" not in found[str(sim.FIRST_PATIENT_ID + 5)].fields


# -- malformed records ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "listing", "record", "problem", "listed"),
    [
        ("locations", "locations", 102, "time zone is not one we know", 2),
        ("practitioners", "providers", 202, "it has no name", 3),
        ("rooms", "operatories", 302, "it has no name", 3),
        ("types", "appointment_types", 403, "length in minutes", 3),
        ("hours", "working_hours", 603, "not a time of day", 3 * 7 + 1),
        ("patients", "patients", 540, "date of birth is not a date", len(every_patient())),
    ],
)
def test_a_malformed_record_is_reported_and_the_rest_imported(
    adapter, simulator, kind, listing, record, problem, listed
):
    adapter.import_per_page = 10
    simulator.malform(listing, record)

    found = list(adapter.import_records(kind))

    reported = [(r.external_id, r.fields) for r in found if r.problem]
    assert reported == [(str(record), {})]
    assert problem in next(r.problem for r in found if r.problem)
    assert len(found) == listed


def test_a_problem_never_quotes_the_patient(adapter, simulator):
    simulator.malform("patients", 540)
    patient = sim.patient(540 - sim.FIRST_PATIENT_ID)

    problem = next(r.problem for r in adapter.import_records("patients") if r.problem)

    for value in (patient["first_name"], patient["last_name"], patient["email"], "1990-02-31"):
        assert value not in problem


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("a string", "not an object"),
        ({"id": None, "first_name": "A"}, "no valid id"),
        ({"id": 7, "first_name": "A", "bio": "x"}, "bio is not an object"),
        ({"id": 7, "first_name": ["A"]}, "first name is not text"),
    ],
)
def test_records_that_cannot_be_read_are_problems(item, problem):
    found = nexhealth._imported("patients", item, nexhealth._patient_fields, "101")

    assert problem in found.problem and found.fields == {}


# -- paging faults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "per_page"), [("patients", "/patients", 20), ("hours", "/working_hours", 1)]
)
def test_a_429_on_a_later_page_is_waited_out(adapter, simulator, kind, path, per_page):
    adapter.import_per_page = per_page
    expected = [record.external_id for record in adapter.import_records(kind)]
    asked = len(paths(simulator, path))
    simulator.fail_request(path, nth=2, fault="429")

    found = [record.external_id for record in adapter.import_records(kind)]

    assert found == expected
    assert len(paths(simulator, path)) == 2 * asked + 1  # the second page asked twice


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("503", VendorUnavailable), ("garbage", UnexpectedResponse)],
)
def test_a_later_page_that_cannot_be_read_raises_after_what_came_before(
    adapter, simulator, fault, error
):
    adapter.import_per_page = 20
    simulator.fail_request("/patients", nth=3, fault=fault)
    read: list[str] = []

    with pytest.raises(VendorError) as raised:
        read.extend(record.external_id for record in adapter.import_records("patients"))

    assert isinstance(raised.value, error)
    assert read == patients_at(101)[:40]
    assert "Page 3 of NexHealth's patients" in raised.value.message
    assert "the import stopped there" in raised.value.message


def test_pages_that_do_not_follow_on_raise(adapter, simulator, monkeypatch):
    adapter.import_per_page = 10
    original = adapter.unwrap
    first: list[str] = []

    def unwrap(body, path):  # a server that answers every page as if it were the first
        found = original(body, path)
        if path == "patients":
            first.append(first[0] if first else adapter._page_info["end_cursor"])
            adapter._page_info = {**adapter._page_info, "end_cursor": first[0]}
        return found

    monkeypatch.setattr(adapter, "unwrap", unwrap)

    with pytest.raises(UnexpectedResponse, match="Page 2 of NexHealth's patients"):
        list(adapter.import_records("patients"))


# -- streaming, pacing, memory --------------------------------------------------------------------


def test_the_first_page_is_yielded_before_the_next_is_asked(adapter, simulator):
    adapter.import_per_page = 10
    records = adapter.import_records("patients")

    first = list(itertools.islice(records, 10))
    asked_after_one_page = len(paths(simulator, "/patients"))
    next(records)

    assert [r.external_id for r in first] == patients_at(101)[:10]
    assert asked_after_one_page == 1
    assert len(paths(simulator, "/patients")) == 2


def test_patient_pages_keep_to_the_documented_rate(adapter, simulator, monkeypatch):
    # The documented 1,000 a minute, scaled down so that a short import meets it.
    monkeypatch.setattr(adapter, "rate_limits", (pacing.Limit("patients", 4, 0.5, "patients"),))
    adapter.import_per_page = 20

    list(adapter.import_records("patients"))

    arrived = simulator.arrivals["/patients"]
    assert len(arrived) >= 6
    assert max(sum(1 for t in arrived if a <= t < a + 0.5) for a in arrived) <= 4


def test_the_documented_limits_are_the_patients_list_s(adapter):
    assert [limit.name for limit in adapter.rate_limits if limit.covers("GET", "patients")] == [
        "patients"
    ]


def test_a_long_import_keeps_only_the_latest_exchanges(adapter, monkeypatch):
    monkeypatch.setattr(adapter, "rate_limits", ())
    adapter.import_per_page = 5

    assert len(list(adapter.import_records("patients"))) == len(every_patient())
    assert len(adapter.exchanges) <= KEEP_EXCHANGES


# -- the simulator's patients ---------------------------------------------------------------------


def test_generated_patients_are_the_same_every_time_and_documented_in_shape():
    assert sim.patient(1234) == sim.patient(1234)
    assert sim.patient(0)["id"] == 501
    assert set(sim.patient(1234)) >= {"id", "first_name", "last_name", "email", "bio"}
    assert set(sim.patient(1234)["bio"]) >= {"date_of_birth", "phone_number"}


def test_thousands_of_patients_are_listed_page_by_page(adapter, simulator):
    simulator.patient_count = 3000

    records = list(adapter.import_records("patients"))

    assert [r.external_id for r in records] == every_patient(3000)
    at_each = [pages(len(patients_at(location, 3000)), 500) for location in (101, 102)]
    assert len(paths(simulator, "/patients")) == sum(at_each) == 6  # 500 a page


def test_the_patient_count_can_be_set_over_http(simulator):
    answer = requests.post(f"{simulator.url}/__simulator/patients", json={"count": 50}, timeout=2)

    assert answer.json() == {"patient_count": 50}
    assert simulator.patient_count == 50


def test_a_generated_patient_can_be_booked(simulator):
    simulator.patient_count = 1000
    adapter = NexHealthAdapter(settings(simulator.url))
    refs = {**booking().refs, "patient": "1400"}

    booked = adapter.book(booking(refs=refs))

    assert simulator.appointments[int(booked.external_id)]["patient_id"] == 1400


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"email": "ava.johnson.4@example.org"}, [505]),
        ({"email": "nobody@example.org", "phone_number": "555-000-0004"}, [505]),  # OR-ed
        ({"name": "ava johnson"}, [505]),
        ({"date_of_birth": "1985-04-12"}, [501, 803]),
        ({"non_patient": "true"}, []),
    ],
)
def test_the_simulator_finds_patients_by_the_documented_filters(adapter, simulator, query,
                                                                 expected):  # fmt: skip
    simulator.patient_count = 1000
    params = {"subdomain": sim.SUBDOMAIN, "location_id": "101", "per_page": 1000, **query}

    found = adapter.call("GET", "patients", params=params)

    assert [patient["id"] for patient in found] == expected
    assert adapter._count == len(expected)


def test_the_simulator_answers_429_past_the_documented_patients_rate(
    adapter, simulator, monkeypatch
):
    monkeypatch.setitem(sim.LIMITS, "/patients", (2, 60.0))
    params = {"subdomain": sim.SUBDOMAIN, "location_id": "101"}
    for _ in range(2):
        adapter.call("GET", "patients", params=params)

    with pytest.raises(RateLimited):
        adapter.call("GET", "patients", params=params)
