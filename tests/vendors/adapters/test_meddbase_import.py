"""Meddbase onboarding (issue 12): every list the patient-portal API offers, read page by page
over real sockets from the simulator, in our model's words; malformed records reported and
skipped, a 429 on a later page waited out, an unreadable later page raising."""

import datetime
import time

import pytest

from tests.vendors.scenarios.meddbase import CONSULTATION
from vendors.adapters.meddbase import _patient_fields, imported, split_name
from vendors.base import TEXT
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    UnexpectedResponse,
    VendorError,
    VendorValidationError,
)
from vendors.simulators import meddbase as meddbase_simulator
from vendors.types import IMPORT_KINDS

VENDOR = "meddbase"
API = "/patientportalapi"
PATIENTS_PATH = f"{API}/patients/patients"
HEALTH_SCREEN, VIDEO = "00000000fc0af8ea", "00000000fc0af8eb"
THIS_YEAR = datetime.date.today().year


@pytest.fixture
def simulator(simulator):
    """Three pages of patients (50, 50, 20)."""
    simulator.patient_count = 120
    return simulator


def pages_asked(simulator) -> list[int]:
    return [int(r.query["page-number"]) for r in simulator.requests if r.path == PATIENTS_PATH]


def patients(adapter) -> dict[str, object]:
    return {record.external_id: record for record in adapter.import_records("patients")}


# -- what Meddbase offers ---------------------------------------------------------------------


def test_offers_every_kind_but_working_hours(adapter):
    assert adapter.imports == ("locations", "practitioners", "rooms", "types", "patients")
    assert set(adapter.imports) | set(adapter.import_gaps) == set(IMPORT_KINDS)


def test_working_hours_cannot_be_imported_and_say_why(adapter, simulator):
    with pytest.raises(NotSupported) as refused:
        adapter.import_records("hours")

    assert str(refused.value) == (
        "Meddbase's patient-portal API lists no working hours (it only proposes free slots): "
        "enter each clinician's hours by hand."
    )
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "locations",
            [
                ("1123", {"name": "2CP (Eye Room)",
                          "address": "2 Clifton Park Ave, London, SW20 8BD, United Kingdom"}, {}),
                ("1124", {"name": "Harley Street",
                          "address": "10 Harley Street, London, W1G 9PF, United Kingdom"}, {}),
                ("1125", {"name": "Providencia",
                          "address": "Av. Providencia 1208, Santiago, 7500000, Chile"}, {}),
            ],
        ),
        (
            "rooms",
            [
                ("214", {"name": "Room 1"}, {"location": "1123"}),
                ("45", {"name": "Surgery"}, {"location": "1123"}),
                ("300", {"name": "Room A"}, {"location": "1124"}),
                ("400", {"name": "Box 1"}, {"location": "1125"}),
            ],
        ),
        (
            "practitioners",
            [
                ("84", {"title": "Dr.", "given_name": "Gregory", "family_name": "House"}, {}),
                ("85", {"title": "Dr.", "given_name": "Lisa", "family_name": "Cuddy"}, {}),
                ("86", {"title": "Dr.", "given_name": "Camila", "family_name": "Rojas"}, {}),
            ],
        ),
        (
            "types",
            [
                (CONSULTATION, {"name": "Consultation", "active": True}, {}),
                (HEALTH_SCREEN, {"name": "Health screen", "active": True}, {}),
                (VIDEO, {"name": "Video consultation", "active": True}, {}),
            ],
        ),
    ],
)  # fmt: skip
def test_reference_lists_in_our_words(adapter, kind, expected):
    records = list(adapter.import_records(kind))

    assert [(r.external_id, r.fields, r.refs) for r in records] == expected
    assert {(r.kind, r.problem) for r in records} == {(kind, "")}


@pytest.mark.parametrize(
    ("kind", "path", "body"),
    [
        ("locations", "sites", {"clinicians": [], "modules": []}),
        ("rooms", "sites", {"clinicians": [], "modules": []}),
        ("practitioners", "clinicians", {"sites": [], "locations": [], "modules": []}),
    ],
)
def test_sites_and_clinicians_are_asked_per_bookable_type(
    adapter, simulator, monkeypatch, kind, path, body
):
    monkeypatch.setitem(meddbase_simulator.TYPES[2], "CanBookAppointment", False)

    list(adapter.import_records(kind))

    asked = [r for r in simulator.requests if r.path == f"{API}/appointment/{path}"]
    assert [(r.method, r.query["appointment-type"], r.json) for r in asked] == [
        ("POST", CONSULTATION, body),
        ("POST", HEALTH_SCREEN, body),
    ]


def test_a_type_that_cannot_be_booked_is_imported_inactive(adapter, monkeypatch):
    monkeypatch.setitem(meddbase_simulator.TYPES[2], "CanBookAppointment", False)

    found = {r.external_id: r.fields for r in adapter.import_records("types")}

    assert found[VIDEO] == {"name": "Video consultation", "active": False}


@pytest.mark.parametrize(
    ("kind", "record", "changes", "problem"),
    [
        ("locations", ("SITES", 1), {"Name": 7},
         "Meddbase site 1124 has a Name that is not text."),
        ("locations", ("SITES", 1), {"Address": "10 Harley Street"},
         "Meddbase site 1124 has an Address that is not an object."),
        ("rooms", ("SITES", 2), {"Locations": "Box 1"},
         "Meddbase site 1125 has Locations that are not a list."),
        ("practitioners", ("CLINICIANS", 0), {"FullName": None},
         "Meddbase clinician 84 has no full name."),
        ("types", ("TYPES", 1), {"CanBookAppointment": "yes"},
         "Meddbase appointment type 00000000fc0af8ea says CanBookAppointment neither true nor "
         "false."),
    ],
)  # fmt: skip
def test_a_malformed_reference_record_is_reported_and_the_rest_imported(
    adapter, monkeypatch, kind, record, changes, problem
):
    listed = getattr(meddbase_simulator, record[0])[record[1]]
    for name, value in changes.items():
        monkeypatch.setitem(listed, name, value)

    records = list(adapter.import_records(kind))

    assert [r.problem for r in records if r.problem] == [problem]
    assert len([r for r in records if not r.problem]) >= 2


# -- patients ---------------------------------------------------------------------------------


def test_patients_are_read_page_by_page_to_the_end(adapter, simulator):
    found = list(adapter.import_records("patients"))

    assert [r.external_id for r in found] == [f"pat{1000 + n}" for n in range(1, 121)]
    assert pages_asked(simulator) == [1, 2, 3]
    asked = [r.query for r in simulator.requests if r.path == PATIENTS_PATH]
    assert {(q["page-size"], q["client-key"]) for q in asked} == {
        ("50", meddbase_simulator.CLIENT_KEY)
    }


def test_the_first_page_is_yielded_before_the_next_is_asked(adapter, simulator):
    records = adapter.import_records("patients")
    assert simulator.requests == []  # a generator: nothing read before it is iterated

    first = next(records)

    assert first.external_id == "pat1001"
    assert pages_asked(simulator) == [1]
    for _ in range(49):
        next(records)
    assert pages_asked(simulator) == [1]
    next(records)
    assert pages_asked(simulator) == [1, 2]


def test_a_patient_in_our_words(adapter):
    assert patients(adapter)["pat1001"].fields == {
        "given_name": "John",
        "family_name": "Lemon",
        "birth_date": datetime.date(1958, 8, 2),
        "phone": "+44 7700 900123",
        "email": "john.lemon@example.com",
    }


KIN = {"Relationship": "Mother", "Name": "Mariel", "Surname": "Lemon",
       "Mobile": "+44 7700 900456", "WorkTelephone": "+44 20 7946 0000"}  # fmt: skip
CHILD = f"{THIS_YEAR - 10}-05-01T00:00:00"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"SexType": 1}, {"sex": "male"}),
        ({"SexType": 2}, {"sex": "female"}),
        ({"SexType": 0}, {"sex": "unknown"}),
        ({"SexType": "2"}, {"sex": "female"}),
        ({"Mobile": "", "Telephone": "+44 20 7946 0111"}, {"phone": "+44 20 7946 0111"}),
        ({"Mobile": None, "Telephone": None, "WorkTelephone": "+44 20 7946 0222"},
         {"phone": "+44 20 7946 0222"}),
        ({"EmailAddress": "", "WorkEmailAddress": "i.smith@work.example"},
         {"email": "i.smith@work.example"}),
        ({"EmailAddress": None, "WorkEmailAddress": None}, {"email": ""}),
        ({"DateOfBirth": None}, {"birth_date": None}),
        ({"DateOfBirth": "1990-06-30T23:00:00Z"}, {"birth_date": datetime.date(1990, 7, 1)}),
        ({"DateOfBirth": "1990-01-31"}, {"birth_date": datetime.date(1990, 1, 31)}),
        ({"Name": "  Isla ", "Surname": None}, {"given_name": "Isla", "family_name": ""}),
        ({"DateOfBirth": CHILD, "NextOfKin": KIN},
         {"guardian_name": "Mariel Lemon", "guardian_phone": "+44 7700 900456"}),
        ({"DateOfBirth": CHILD, "NextOfKin": {**KIN, "Mobile": ""}},
         {"guardian_phone": "+44 20 7946 0000"}),
        ({"DateOfBirth": "1980-05-01T00:00:00", "NextOfKin": KIN}, {"guardian_name": None}),
    ],
)  # fmt: skip
def test_patient_fields_as_documented(adapter, simulator, changes, expected):
    simulator.malform(3, **changes)

    fields = patients(adapter)["pat1003"].fields

    assert {name: fields.get(name) for name in expected} == expected


def test_the_employee_number_and_title_are_not_taken_for_ours(adapter):
    fields = patients(adapter)["pat1004"].fields  # an employee number E000004

    assert set(fields) == {"given_name", "family_name", "birth_date", "sex", "phone", "email"}


@pytest.mark.parametrize(
    ("changes", "drop", "external_id", "problem"),
    [
        ({"DateOfBirth": "31/02/1980"}, (), "pat1005",
         "Meddbase patient pat1005 has a DateOfBirth that is not a date."),
        ({"SexType": 5}, (), "pat1005", "Meddbase patient pat1005 has a SexType that is not 0, "
         "1 or 2."),
        ({"Name": ["Ava"]}, (), "pat1005", "Meddbase patient pat1005 has a Name that is not text."),
        ({"EmailAddress": 12}, (), "pat1005",
         "Meddbase patient pat1005 has an EmailAddress that is not text."),
        ({"Name": "", "Surname": None}, (), "pat1005", "Meddbase patient pat1005 has no name."),
        ({"DateOfBirth": CHILD, "NextOfKin": "Mariel Lemon"}, (), "pat1005",
         "Meddbase patient pat1005 has a NextOfKin that is not an object."),
        ({}, ("Key",), "", "A Meddbase patient has no Key."),
        ({"Key": {"id": 5}}, (), "", "A Meddbase patient has a Key that is neither text nor a "
         "number."),
    ],
)  # fmt: skip
def test_a_malformed_patient_is_reported_and_the_rest_imported(
    adapter, simulator, changes, drop, external_id, problem
):
    simulator.malform(5, drop=drop, **changes)
    original = meddbase_simulator.patient(5)

    records = list(adapter.import_records("patients"))

    assert len(records) == 120
    (broken,) = [r for r in records if r.problem]
    assert (broken.kind, broken.external_id, broken.fields, broken.problem) == (
        "patients", external_id, {}, problem,
    )  # fmt: skip
    for value in (original["Name"], original["Surname"], original["Mobile"]):
        assert value not in broken.problem
    assert [r.external_id for r in records[4:6]] == [external_id, "pat1006"]


def test_a_record_that_is_not_an_object_is_a_problem_too():
    record = imported("patients", ["pat1001", "John"], TEXT, _patient_fields)

    assert (record.external_id, record.problem) == ("", "A Meddbase patient is not an object.")


# -- paging, rate limits and failures ---------------------------------------------------------


def test_a_429_on_a_later_page_is_waited_out(adapter, simulator):
    simulator.inject_on("429", path=PATIENTS_PATH, nth=2)
    started = time.monotonic()

    found = list(adapter.import_records("patients"))

    assert len(found) == 120
    assert pages_asked(simulator) == [1, 2, 2, 3]
    assert [e.status for e in adapter.exchanges if "patients" in e.url] == [200, 429, 200, 200]
    assert time.monotonic() - started >= 0.9  # the simulator's Retry-After: 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("garbage", UnexpectedResponse), ("wrong_types", UnexpectedResponse)],
)
def test_a_later_page_that_cannot_be_read_raises_after_the_first_was_yielded(
    adapter, simulator, fault, error
):
    simulator.inject_on(fault, path=PATIENTS_PATH, nth=2)
    yielded = []

    with pytest.raises(error) as failed:
        yielded.extend(record.external_id for record in adapter.import_records("patients"))

    assert isinstance(failed.value, VendorError)
    assert yielded == [f"pat{1000 + n}" for n in range(1, 51)]
    assert pages_asked(simulator) == [1, 2]


def test_a_list_that_does_not_add_up_to_its_count_raises(adapter, simulator, monkeypatch):
    """An empty page before TotalCount is reached: the rest cannot be read."""
    shown = simulator.patients

    def shrinking(request):
        reply = shown(request)
        reply.body["result"]["TotalCount"] = 500
        return reply

    monkeypatch.setattr(simulator, "patients", shrinking)

    with pytest.raises(UnexpectedResponse, match=r"the rest of its list of patients"):
        list(adapter.import_records("patients"))
    assert pages_asked(simulator) == [1, 2, 3, 4]


def test_a_page_other_than_the_one_asked_raises(adapter, simulator, monkeypatch):
    """A server that ignores page-number would repeat page 1 forever."""
    shown = simulator.patients

    def first_page_only(request):
        request.query["page-number"] = "1"
        return shown(request)

    monkeypatch.setattr(simulator, "patients", first_page_only)

    with pytest.raises(UnexpectedResponse, match=r"page 2 of its list of patients"):
        list(adapter.import_records("patients"))


@pytest.mark.parametrize(
    ("params", "keys"),
    [
        ({"surname": "LEMON"}, ["pat1001", "pat1002"]),
        ({"name": "mariel", "surname": "lemon"}, ["pat1002"]),
        ({"personal-email": "John.Lemon@example.com"}, ["pat1001"]),
        ({"text": "lemon@"}, ["pat1001", "pat1002"]),
        ({"surname": "lemon", "dob-from": "1960-01-01", "dob-to": "1970-12-31"}, ["pat1002"]),
        ({"employee-number": "e000008"}, ["pat1008"]),
        ({"surname": "Nobody"}, []),
    ],
)
def test_the_simulator_filters_patients_as_documented(adapter, params, keys):
    found = adapter.call("GET", PATIENTS_PATH, params={**params, "page-size": 50})

    assert [item["Key"] for item in found["Items"]] == keys
    assert found["TotalCount"] == len(keys)


@pytest.mark.parametrize(
    "params", [{"page-size": 4}, {"page-size": 51}, {"page-number": 0}, {"dob-from": "soon"}]
)
def test_the_simulator_refuses_paging_outside_the_documented_bounds(adapter, params):
    with pytest.raises(VendorValidationError):
        adapter.call("GET", PATIENTS_PATH, params=params)


def test_patients_the_simulator_lists_can_be_booked(adapter, simulator):
    """Generated patients are patients of the simulator, not only rows of its list."""
    from tests.vendors.scenarios.meddbase import request

    booked = adapter.book(request(refs={**request().refs, "patient": "pat1099"}))

    assert booked.external_id.startswith("apt")


def test_exchanges_keep_the_patients_data_out(adapter, simulator):
    list(adapter.import_records("patients"))

    logged = repr(adapter.exchanges)
    for number in (1, 3, 69):  # 69: a minor with a next of kin
        patient = meddbase_simulator.patient(number)
        kin = patient.get("NextOfKin") or {}
        values = [patient[name] for name in ("Name", "Surname", "Mobile", "EmailAddress")]
        for value in (*values, patient["DateOfBirth"][:10], kin.get("Mobile")):
            assert not value or value not in logged


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Dr. Gregory House", ("Dr.", "Gregory", "House")),
        ("Dr. House", ("Dr.", "", "House")),
        ("Prof. Dr. Ana María de la Cruz", ("Prof. Dr.", "Ana María", "de la Cruz")),
        ("Ludwig van Beethoven", ("", "Ludwig", "van Beethoven")),
        ("Mr John Smith Jr.", ("Mr", "John", "Smith Jr.")),
        ("John Smith, FRCS MRCP", ("", "John", "Smith")),
        ("Jane Doe, PhD", ("", "Jane", "Doe")),
        ("House, Gregory", ("", "Gregory", "House")),
        ("  Lisa   Cuddy ", ("", "Lisa", "Cuddy")),
        ("Madonna", ("", "", "Madonna")),
        ("Dr", ("", "", "Dr")),
    ],
)
def test_a_clinicians_full_name_is_split(full, expected):
    assert split_name(full) == expected
