"""Onboarding a clinic from Flextell over real sockets: every list read to its end across
pages (Laravel's meta, and the users list without it), the field mapping, what Flextell cannot
list, malformed records reported while the rest continue, a 429 on a later page waited out,
a later page that fails, streaming, and the simulator's generated customers."""

import datetime
import itertools
import math

import pytest
import requests

from tests.vendors.scenarios.flextell import request as booking
from tests.vendors.scenarios.flextell import settings
from vendors.adapters import flextell
from vendors.adapters.flextell import KEEP_EXCHANGES, FlextellAdapter
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
)
from vendors.simulators import flextell as sim
from vendors.types import ImportedRecord

VENDOR = "flextell"
PATIENT_COUNT = 120
USERS = "/api/v1/users"
CUSTOMERS = "/api/v1/customers"


@pytest.fixture
def simulator(simulator):
    simulator.patient_count = PATIENT_COUNT
    return simulator


def paths(simulator, path: str) -> list[dict[str, str]]:
    """The query of every request the simulator got for `path`, in order."""
    return [r.query for r in simulator.requests if r.path == path]


def customer_ids(count: int = PATIENT_COUNT) -> list[str]:
    return [str(sim.customer(n)["id"]) for n in range(count)]


def by_id(records: list[ImportedRecord]) -> dict[str, ImportedRecord]:
    return {record.external_id: record for record in records}


# -- what Flextell lists --------------------------------------------------------------------------


def test_flextell_offers_doctors_rooms_treatments_and_customers(adapter):
    assert adapter.imports == ("practitioners", "rooms", "types", "patients")
    assert set(adapter.import_gaps) == {"locations", "hours"}
    assert "no locations or branches" in adapter.import_gaps["locations"]
    assert "no working hours" in adapter.import_gaps["hours"]


@pytest.mark.parametrize("kind", ["locations", "hours"])
def test_a_kind_flextell_cannot_list_is_not_supported_with_its_reason(adapter, simulator, kind):
    with pytest.raises(NotSupported) as refused:
        adapter.import_records(kind)

    assert refused.value.message == adapter.import_gaps[kind]
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("kind", "per_page", "expected", "path", "pages"),
    [
        ("practitioners", 1, ["11", "12", "14"], USERS, ["1", "2", "3", "4"]),
        ("practitioners", 2, ["11", "12", "14"], USERS, ["1", "2"]),
        ("rooms", 2, ["21", "22", "23"], "/api/v1/rooms", ["1", "2"]),
        ("types", 1, ["41", "42"], "/api/v1/treatments", ["1", "2"]),
        ("patients", 25, customer_ids(), CUSTOMERS, ["1", "2", "3", "4", "5"]),
        ("patients", 40, customer_ids(), CUSTOMERS, ["1", "2", "3"]),
    ],
)
def test_every_list_is_read_to_its_end_across_pages(
    adapter, simulator, kind, per_page, expected, path, pages
):
    adapter.import_per_page = per_page

    records = list(adapter.import_records(kind))

    assert [record.external_id for record in records] == expected
    assert not [record.problem for record in records if record.problem]
    asked = paths(simulator, path)
    assert [query["page"] for query in asked] == pages
    assert {query["per_page"] for query in asked} == {str(per_page)}


def test_doctors_are_asked_by_role_and_other_roles_left_out(adapter, simulator):
    found = [record.external_id for record in adapter.import_records("practitioners")]

    assert found == ["11", "12", "14"]  # 13 is an assistant
    assert paths(simulator, USERS)[0]["role"] == "doctor"
    assert "is_active" not in paths(simulator, USERS)[0]  # inactive doctors come too


def test_a_server_that_ignores_the_role_and_the_paging_still_gives_the_doctors_once(
    adapter, simulator
):
    simulator.honours_filters = False  # every user at once, whatever was asked
    adapter.import_per_page = 2

    found = [record.external_id for record in adapter.import_records("practitioners")]

    assert found == ["11", "12", "14"]
    assert [query["page"] for query in paths(simulator, USERS)] == ["1", "2"]


def test_the_doctor_role_can_be_named_on_the_connection(simulator):
    adapter = FlextellAdapter(settings(simulator.url, doctor_role="assistant"))

    found = [record.external_id for record in adapter.import_records("practitioners")]

    assert found == ["13"]
    assert paths(simulator, USERS)[0]["role"] == "assistant"


def test_thousands_of_customers_are_listed_page_by_page(adapter, simulator):
    simulator.patient_count = sim.DEFAULT_PATIENT_COUNT

    records = list(adapter.import_records("patients"))

    assert [r.external_id for r in records] == customer_ids(sim.DEFAULT_PATIENT_COUNT)
    pages = math.ceil(sim.DEFAULT_PATIENT_COUNT / flextell.PAGE_SIZE)
    assert [query["page"] for query in paths(simulator, CUSTOMERS)] == [
        str(page) for page in range(1, pages + 1)
    ]


# -- in our words ---------------------------------------------------------------------------------


def test_doctors_map_to_practitioners(adapter):
    found = by_id(list(adapter.import_records("practitioners")))

    assert found["11"] == ImportedRecord(
        "practitioners",
        "11",
        {
            "title": "Dr.",
            "given_name": "Ana",
            "family_name": "Rojas",
            "email": "ana.rojas@clinic.example",
            "phone": "+56 2 2345 6711",
            "active": True,
        },
    )
    assert found["14"].fields == {
        "title": "Dra.",
        "given_name": "Elena",
        "family_name": "Vidal",
        "email": "elena.vidal@clinic.example",
        "active": False,
    }


@pytest.mark.parametrize(
    ("user", "fields"),
    [
        ({"name": "Dr. Juan Pablo Soto", "title": None}, ("Dr.", "Juan Pablo", "Soto")),
        ({"name": "Dra Inés Mora", "title": ""}, ("Dra", "Inés", "Mora")),
        ({"name": "Marta", "title": ""}, ("", "", "Marta")),
        ({"name": "X Y", "first_name": "Ana María", "last_name": "Lagos"},
         ("", "Ana María", "Lagos")),
    ],
)  # fmt: skip
def test_a_doctors_name_is_split_into_title_given_and_family_names(user, fields):
    found = flextell._doctor_fields({"id": 1, **user})

    assert tuple(found.get(key, "") for key in ("title", "given_name", "family_name")) == fields


def test_rooms_and_treatments_map_to_ours(adapter):
    rooms = by_id(list(adapter.import_records("rooms")))
    types = by_id(list(adapter.import_records("types")))

    assert [(rooms[key].fields, rooms[key].refs) for key in ("21", "23")] == [
        ({"name": "Room 1", "active": True}, {}),
        ({"name": "Laser room", "active": False}, {}),  # in maintenance
    ]
    assert types["41"].fields == {"name": "Consultation", "active": True}  # no length: none


@pytest.mark.parametrize(
    ("value", "active"),
    [(True, True), (False, False), (1, True), (0, False), ("1", True), ("0", False),
     ("true", True), ("False", False)],
)  # fmt: skip
def test_a_treatments_is_active_reads_as_flextell_writes_it(value, active):
    found = flextell._treatment_fields({"id": 41, "name": "Peel", "is_active": value})

    assert found["active"] is active


def test_customers_map_to_patients(adapter):
    found = by_id(list(adapter.import_records("patients")))

    assert found["31"] == ImportedRecord(
        "patients",
        "31",
        {
            "given_name": "Lucía",
            "family_name": "Pérez",
            "birth_date": datetime.date(1988, 4, 12),
            "sex": "female",
            "phone": "+56 9 8765 4301",
            "email": "lucia.perez@example.com",
            "national_id": "12.345.678-5",
            "national_id_type": "rut",
        },
    )
    # Its check digit is not a RUT's: an identity number of some other document.
    assert found["32"].fields["national_id_type"] == "other"
    generated = sim.customer(7)
    assert found[str(generated["id"])].fields["national_id"] == generated["identity_number"]
    assert found[str(generated["id"])].fields["national_id_type"] == "rut"
    assert "sex" not in found[str(sim.customer(5)["id"])].fields  # Flextell says nothing


def test_the_connection_can_say_which_document_identity_numbers_are(simulator):
    adapter = FlextellAdapter(settings(simulator.url, identity_type="dni"))

    found = by_id(list(adapter.import_records("patients")))

    assert {found[key].fields["national_id_type"] for key in ("31", "32")} == {"dni"}


# -- malformed records ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "listing", "record", "problem", "listed"),
    [
        ("practitioners", "users", 12, "it has no name", 3),
        ("rooms", "rooms", 22, "it has no name", 3),
        ("types", "treatments", 41, "is_active is not true or false", 2),
        ("patients", "customers", 77, "date of birth is not a date", PATIENT_COUNT),
    ],
)
def test_a_malformed_record_is_reported_and_the_rest_imported(
    adapter, simulator, kind, listing, record, problem, listed
):
    adapter.import_per_page = 10
    simulator.malform(listing, record)

    found = list(adapter.import_records(kind))

    assert [(r.external_id, r.fields) for r in found if r.problem] == [(str(record), {})]
    assert problem in next(r.problem for r in found if r.problem)
    assert len(found) == listed


def test_a_problem_never_quotes_the_patient(adapter, simulator):
    simulator.malform("customers", 77)
    customer = simulator.customer_with_id(77)

    problem = next(r.problem for r in adapter.import_records("patients") if r.problem)

    for key in ("first_name", "last_name", "email", "phone_number", "identity_number"):
        assert customer[key] not in problem
    assert "31-02-1990" not in problem


@pytest.mark.parametrize(
    ("item", "build", "problem"),
    [
        ("a string", flextell._treatment_fields, "not an object"),
        ({"id": "x1", "name": "A"}, flextell._treatment_fields, "no valid id"),
        ({"id": 3, "name": "A", "status": "flooded"}, flextell._room_fields, "status is not"),
        ({"id": 3, "first_name": "", "last_name": None}, flextell._named, "it has no name"),
        ({"id": 3, "name": {"first": "A"}}, flextell._doctor_fields, "name is not text"),
    ],
)
def test_records_that_cannot_be_read_are_problems(item, build, problem):
    found = flextell._imported("rooms", item, build)

    assert problem in found.problem and found.fields == {}


# -- paging faults --------------------------------------------------------------------------------


def test_a_429_on_a_later_page_is_waited_out(adapter, simulator):
    adapter.import_per_page = 25
    simulator.fail_request(CUSTOMERS, nth=3, fault="429")

    found = [record.external_id for record in adapter.import_records("patients")]

    assert found == customer_ids()
    assert [query["page"] for query in paths(simulator, CUSTOMERS)] == [
        "1", "2", "3", "3", "4", "5",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("503", VendorUnavailable), ("garbage", UnexpectedResponse)],
)
def test_a_later_page_that_cannot_be_read_raises_after_what_came_before(
    adapter, simulator, fault, error
):
    adapter.import_per_page = 25
    simulator.fail_request(CUSTOMERS, nth=2, fault=fault)
    read: list[str] = []

    with pytest.raises(VendorError) as raised:
        read.extend(record.external_id for record in adapter.import_records("patients"))

    assert isinstance(raised.value, error)
    assert read == customer_ids()[:25]
    assert "Page 2 of Flextell's patients" in raised.value.message
    assert "the import stopped there" in raised.value.message


def test_a_page_without_a_list_raises(adapter, simulator, monkeypatch):
    monkeypatch.setattr(simulator, "treatments", lambda request: sim.Reply(200, {"data": "x"}))

    with pytest.raises(UnexpectedResponse, match="Page 1 of Flextell's types"):
        list(adapter.import_records("types"))


# -- streaming and memory -------------------------------------------------------------------------


def test_the_first_page_is_yielded_before_the_next_is_asked(adapter, simulator):
    adapter.import_per_page = 10
    records = adapter.import_records("patients")

    first = list(itertools.islice(records, 10))
    asked_after_one_page = len(paths(simulator, CUSTOMERS))
    next(records)

    assert [r.external_id for r in first] == customer_ids()[:10]
    assert asked_after_one_page == 1
    assert len(paths(simulator, CUSTOMERS)) == 2


def test_a_long_import_keeps_only_the_latest_exchanges(adapter):
    adapter.import_per_page = 5

    assert len(list(adapter.import_records("patients"))) == PATIENT_COUNT
    assert len(adapter.exchanges) <= KEEP_EXCHANGES


# -- the simulator's customers --------------------------------------------------------------------


def test_generated_customers_are_the_same_every_time_with_valid_ruts():
    assert sim.customer(1234) == sim.customer(1234)
    assert [sim.customer(n)["id"] for n in range(4)] == [31, 32, 33, 34]
    assert all(flextell._is_rut(sim.customer(n)["identity_number"]) for n in range(2, 200))
    assert set(sim.customer(1234)) == set(sim.CUSTOMERS[0])


def test_the_customer_count_can_be_set_over_http(simulator):
    answer = requests.post(f"{simulator.url}/__simulator/patients", json={"count": 50}, timeout=2)

    assert answer.json() == {"patient_count": 50}
    assert simulator.patient_count == 50


def test_a_generated_customer_can_be_booked(adapter, simulator):
    refs = {**booking().refs, "patient": "140"}

    booked = adapter.book(booking(refs=refs))

    assert simulator.appointments[int(booked.external_id)]["customer_id"] == 140
    assert adapter.lookup(booked.external_id).external_id == booked.external_id


def test_the_simulator_searches_generated_customers_too(adapter, simulator):
    wanted = sim.customer(99)

    found = adapter.reference("patients", search=wanted["email"])

    assert found == [{"id": str(wanted["id"]), "name": f"{wanted['first_name']} "
                      f"{wanted['last_name']}"}]  # fmt: skip
