"""Looking a patient up at Meddbase before registering one (issue 12), over real sockets:
GetPatients by personal and work e-mail, then by a birth-date window, every page read, its
answers kept only where the patient matches exactly; several matches all returned (a person
chooses); FullSearchOrCreate registers one only after nobody matched."""

import datetime
import json

import pytest

from vendors.adapters import meddbase
from vendors.errors import NotSupported, UnexpectedResponse, VendorError, VendorValidationError
from vendors.types import PatientDetails, PatientMatch

VENDOR = "meddbase"
PATIENTS = "/patientportalapi/patients/patients"
CREATE = "/patientportalapi/patients/create-patient"
JOHN = {  # the simulator's pat1001, as our desk holds him
    "given_name": "John",
    "family_name": "Lemon",
    "birth_date": datetime.date(1958, 8, 2),
    "sex": "male",
    "phone": "+44 7700 900123",
    "email": "john.lemon@example.com",
}
NOBODY = {
    "given_name": "Siobhán",
    "family_name": "O'Neill",
    "birth_date": datetime.date(1979, 9, 3),
    "sex": "female",
    "phone": "+44 7700 900999",
    "email": "siobhan.oneill@example.com",
}


@pytest.fixture
def simulator(simulator):
    simulator.patient_count = 120
    return simulator


def patient(base: dict | None = None, **changes) -> PatientDetails:
    values = {"given_name": "", "family_name": "", **(base or {}), **changes}
    return PatientDetails(**values)


def searches(simulator) -> list[dict[str, str]]:
    wanted = ("personal-email", "work-email", "dob-from", "dob-to", "name", "surname", "text")
    return [{k: v for k, v in r.query.items() if k in wanted}
            for r in simulator.requests if r.path == PATIENTS]  # fmt: skip


def registrations(simulator) -> list[dict]:
    return [json.loads(r.body) for r in simulator.requests if r.path == CREATE]


# -- what Meddbase searches -----------------------------------------------------------------------


def test_it_searches_e_mail_and_name_with_birth_date_and_registers(adapter):
    assert adapter.patient_search == ("email", "name_birth_date")
    assert adapter.registers_patients


@pytest.mark.parametrize("criterion", ["national_id", "phone"])
def test_it_has_no_national_id_or_phone_to_search(adapter, simulator, criterion):
    with pytest.raises(NotSupported, match="Meddbase cannot search its patients by"):
        adapter.search_patients(criterion, patient(JOHN, national_id="AB123456C"))

    assert adapter.find_patient(patient(phone="+44 7700 900123")) == PatientMatch()
    assert searches(simulator) == []


@pytest.mark.parametrize(
    ("ours", "criterion", "found"),
    [
        ({"email": " JOHN.Lemon@example.com"}, "email", "pat1001"),
        ({"email": "harry.smith4@WORK.example.com"}, "email", "pat1004"),
        (
            {"given_name": "JOHN", "family_name": "lemon", "birth_date": datetime.date(1958, 8, 2)},
            "name_birth_date",
            "pat1001",
        ),
    ],
    ids=["personal e-mail without case", "work e-mail", "name without case"],
)
def test_one_sure_match_by_each_criterion(adapter, ours, criterion, found):
    assert adapter.find_patient(patient(**ours)) == PatientMatch(criterion, (found,))


def test_what_each_search_asks(adapter, simulator):
    adapter.find_patient(patient(NOBODY))

    assert searches(simulator) == [
        {"personal-email": "siobhan.oneill@example.com"},
        {"work-email": "siobhan.oneill@example.com"},
        {"dob-from": "1979-09-02", "dob-to": "1979-09-04"},  # a day either side, no name
    ]


# -- exactly, whatever Meddbase answers -----------------------------------------------------------


def test_only_the_same_names_born_that_day_are_kept(adapter, simulator):
    simulator.add_patient("John", "Lemon", DateOfBirth="1958-08-03T00:00:00")
    simulator.add_patient("John", "Lemon-Smith", DateOfBirth="1958-08-02T00:00:00")
    simulator.add_patient("Jon", "Lemon", DateOfBirth="1958-08-02T00:00:00")

    found = adapter.find_patient(patient(given_name="john", family_name="LEMON",
                                         birth_date=datetime.date(1958, 8, 2)))  # fmt: skip

    assert found == PatientMatch("name_birth_date", ("pat1001",))


def test_names_match_without_accents_and_a_birth_time_with_an_offset_is_a_london_date(
    adapter, simulator
):
    simulator.add_patient("Zoë", "Ó Súilleabháin", DateOfBirth="1990-06-30T23:30:00+00:00")

    found = adapter.find_patient(patient(given_name="Zoe", family_name="O Suilleabhain",
                                         birth_date=datetime.date(1990, 7, 1)))  # fmt: skip

    assert found.sure == "pat900001"


# -- several: a person chooses ------------------------------------------------------------------


def test_a_second_patient_with_the_name_and_birth_date_makes_it_ambiguous(adapter, simulator):
    simulator.add_patient("John", "Lemon", DateOfBirth="1958-08-02T00:00:00")

    found = adapter.find_patient(patient(given_name="John", family_name="Lemon",
                                         birth_date=datetime.date(1958, 8, 2)))  # fmt: skip

    assert found == PatientMatch("name_birth_date", ("pat1001", "pat900001"))


def test_a_personal_and_a_work_e_mail_alike_are_both_candidates(adapter, simulator):
    simulator.add_patient("Ana", "Lemon", WorkEmailAddress="John.Lemon@example.com")

    found = adapter.find_patient(patient(JOHN))

    assert found == PatientMatch("email", ("pat1001", "pat900001"))
    assert not any("dob-from" in query for query in searches(simulator))


# -- every page -----------------------------------------------------------------------------------


def test_every_page_of_a_search_is_read(adapter, simulator, monkeypatch):
    monkeypatch.setattr(meddbase, "PAGE_SIZE", 5)
    for _ in range(12):
        simulator.add_patient("Twin", "Evans", DateOfBirth="2001-05-05T00:00:00")

    found = adapter.find_patient(patient(given_name="Twin", family_name="Evans",
                                         birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert found.candidates == tuple(f"pat{900001 + n}" for n in range(12))
    pages = [r.query["page-number"] for r in simulator.requests if r.path == PATIENTS]
    assert pages[-3:] == ["1", "2", "3"]


def test_a_429_on_a_later_page_is_waited_out(adapter, simulator, monkeypatch):
    monkeypatch.setattr(meddbase, "PAGE_SIZE", 5)
    for _ in range(7):
        simulator.add_patient("Twin", "Evans", DateOfBirth="2001-05-05T00:00:00")
    simulator.inject_on("429", path=PATIENTS, nth=2)

    found = adapter.search_patients("name_birth_date", patient(
        given_name="Twin", family_name="Evans", birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert len(found) == 7


def test_more_candidates_than_it_reads_is_refused(adapter, simulator, monkeypatch):
    monkeypatch.setattr(meddbase, "PAGE_SIZE", 5)
    monkeypatch.setattr(meddbase, "SEARCH_PAGES", 2)
    for _ in range(12):
        simulator.add_patient("Twin", "Evans", DateOfBirth="2001-05-05T00:00:00")

    with pytest.raises(VendorError) as refused:
        adapter.find_patient(patient(given_name="Twin", family_name="Evans",
                                     birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert str(refused.value) == (
        "Meddbase has more than 10 patients answering a search by this patient's name and "
        "birth date, too many to tell them apart: map the patient to its Meddbase patient key "
        "in the admin (External IDs)."
    )
    assert not refused.value.retryable


def test_an_unreadable_answer_is_not_taken_for_nobody(adapter, simulator):
    simulator.inject("garbage", path=PATIENTS)

    with pytest.raises(UnexpectedResponse):
        adapter.find_patient(patient(email="john.lemon@example.com"))


def test_the_patient_s_data_stays_out_of_the_recorded_calls(adapter, simulator):
    adapter.find_patient(patient(NOBODY))
    adapter.register_patient(patient(NOBODY))

    recorded = " ".join(exchange.url for exchange in adapter.exchanges)
    assert "personal-email=***" in recorded and "dob-from=***" in recorded
    assert "siobhan" not in recorded and "1979" not in recorded
    stored = repr([(exchange.request, exchange.response) for exchange in adapter.exchanges])
    assert "Siobh" not in stored and "1979" not in stored and "900999" not in stored


# -- registering ----------------------------------------------------------------------------------


def test_a_patient_nobody_matches_is_registered_by_full_search_or_create(adapter, simulator):
    key = adapter.register_patient(patient(NOBODY))

    assert key == "pat900001"
    assert registrations(simulator) == [{"demog": {
        "Name": "Siobhán", "Surname": "O'Neill", "SexType": 2,
        "DateOfBirth": "1979-09-03T00:00:00", "Mobile": "+44 7700 900999",
        "EmailAddress": "siobhan.oneill@example.com",
    }}]  # fmt: skip
    assert adapter.find_patient(patient(NOBODY)) == PatientMatch("email", ("pat900001",))


def test_only_what_our_patient_has_is_sent(adapter, simulator):
    adapter.register_patient(patient(given_name="Ana", family_name="Lee"))

    assert registrations(simulator) == [{"demog": {"Name": "Ana", "Surname": "Lee",
                                                   "SexType": 0}}]  # fmt: skip


def test_the_patient_meddbase_s_full_search_finds_is_answered_not_a_new_one(adapter, simulator):
    assert adapter.register_patient(patient(JOHN)) == "pat1001"
    assert simulator.added == {}


def test_duplicates_at_meddbase_are_refused_for_a_person_to_sort_out(adapter, simulator):
    simulator.add_patient("John", "Lemon", DateOfBirth="1958-08-02T00:00:00")

    with pytest.raises(VendorValidationError) as refused:
        adapter.register_patient(patient(JOHN))

    assert str(refused.value) == (
        "Meddbase refused to register the patient: Duplicate patient records found; the patient "
        "cannot be identified. If Meddbase has this patient already, map its Meddbase patient "
        "key to them in the admin (External IDs)."
    )
    assert not refused.value.retryable


def test_a_refused_registration_says_meddbase_s_words(adapter, simulator):
    with pytest.raises(VendorValidationError) as refused:
        adapter.register_patient(patient(given_name="Ana", family_name=" "))

    assert str(refused.value).startswith(
        "Meddbase refused to register the patient: Parameter 'Surname' is missing."
    )
