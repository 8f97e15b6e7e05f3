"""Looking a patient up at NexHealth before registering one (issue 12), over real sockets:
GET /patients one filter at a time (e-mail, phone, then birth date), every page read, its
loose answers kept only where the patient matches exactly; several matches are all returned
(a person chooses); POST /patients registers one only with what NexHealth requires."""

import datetime
import json

import pytest

from tests.vendors.scenarios.nexhealth import settings
from vendors.adapters import nexhealth
from vendors.adapters.nexhealth import NexHealthAdapter
from vendors.errors import ConfigurationError, NotSupported, VendorError, VendorValidationError
from vendors.types import PatientDetails, PatientMatch

VENDOR = "nexhealth"
MARIA = {  # the simulator's patient 501, as our desk holds her
    "given_name": "María",
    "family_name": "González",
    "birth_date": datetime.date(1985, 4, 12),
    "phone": "555-0100",
    "email": "maria@example.org",
}
NOBODY = {
    "given_name": "Inés",
    "family_name": "Fuentes",
    "birth_date": datetime.date(1979, 9, 3),
    "sex": "female",
    "phone": "+1 (212) 555-0199",
    "email": "ines.fuentes@example.org",
}


@pytest.fixture
def simulator(simulator):
    simulator.webhook_delay = None
    return simulator


def patient(base: dict | None = None, **changes) -> PatientDetails:
    values = {"given_name": "", "family_name": "", **(base or {}), **changes}
    return PatientDetails(**values)


def registering(simulator, **options) -> NexHealthAdapter:
    """An adapter whose connection may register patients (intake provider and location)."""
    options = {"intake_provider_id": 201, "location_id": 101, **options}
    return NexHealthAdapter(settings(simulator.url, **options))


def searches(simulator) -> list[dict[str, str]]:
    return [r.query for r in simulator.requests if r.path == "/patients" and r.method == "GET"]


def registrations(simulator) -> list[dict]:
    return [json.loads(r.body) for r in simulator.requests
            if r.path == "/patients" and r.method == "POST"]  # fmt: skip


# -- what NexHealth searches --------------------------------------------------------------------


def test_it_searches_e_mail_phone_and_name_with_birth_date_and_registers(adapter):
    assert adapter.patient_search == ("email", "phone", "name_birth_date")
    assert adapter.registers_patients


def test_it_has_no_national_id_to_search(adapter, simulator):
    with pytest.raises(NotSupported, match="cannot search its patients by national ID"):
        adapter.search_patients("national_id", patient(MARIA, national_id="12.345.678-5"))

    assert adapter.find_patient(patient(national_id="12.345.678-5")) == PatientMatch()
    assert searches(simulator) == []


@pytest.mark.parametrize(
    ("ours", "criterion"),
    [
        ({"email": "  MARIA@Example.ORG "}, "email"),
        ({"phone": "(555) 01-00"}, "phone"),
        (
            {
                "given_name": "MARIA",
                "family_name": "gonzalez",
                "birth_date": datetime.date(1985, 4, 12),
            },
            "name_birth_date",
        ),
    ],
    ids=["e-mail without case", "phone digits", "name without case or accents"],
)
def test_one_sure_match_by_each_criterion(adapter, ours, criterion):
    assert adapter.find_patient(patient(**ours)) == PatientMatch(criterion, ("501",))


def test_a_phone_with_its_country_code_finds_one_written_without(adapter, simulator):
    simulator.add_patient("Ann", "Lee", phone_number="2125550199", date_of_birth="1970-01-01")

    found = adapter.find_patient(patient(phone="+1 (212) 555-0199"))

    assert found == PatientMatch("phone", ("900001",))
    assert [query["phone_number"] for query in searches(simulator)] == [
        "12125550199",
        "2125550199",
    ]


def test_each_filter_is_asked_alone_across_the_whole_ehr(adapter, simulator):
    adapter.find_patient(patient(NOBODY))

    asked = searches(simulator)
    filters = [{k: v for k, v in q.items() if k not in ("subdomain", "location_id", "per_page")}
               for q in asked]  # fmt: skip
    assert filters == [
        {"email": "ines.fuentes@example.org"},
        {"phone_number": "12125550199"},
        {"phone_number": "2125550199"},
        {"date_of_birth": "1979-09-03"},
    ]
    # The connection has no location: the institution's first; never location_strict, and
    # inactive patients and non-patients are not filtered out.
    assert {q["location_id"] for q in asked} == {"101"}
    assert not {"location_strict", "inactive", "non_patient", "name"} & set().union(*asked)


def test_the_connection_s_location_is_searched_from(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, location_id=102))

    assert adapter.find_patient(patient(email="maria@example.org")).sure == "501"
    assert {q["location_id"] for q in searches(simulator)} == {"102"}
    assert not [r for r in simulator.requests if r.path == "/locations"]


# -- exactly, whatever NexHealth answers ----------------------------------------------------------


def test_only_the_same_names_born_that_day_are_kept(adapter, simulator):
    born = "1985-04-12"
    simulator.add_patient("María", "González-Pérez", date_of_birth=born)
    simulator.add_patient("Mariana", "González", date_of_birth=born)
    simulator.add_patient("María", "González", date_of_birth="1985-04-13")

    found = adapter.find_patient(patient(given_name="Maria", family_name="GONZÁLEZ",
                                         birth_date=datetime.date(1985, 4, 12)))  # fmt: skip

    assert found == PatientMatch("name_birth_date", ("501",))


def test_a_first_and_middle_name_match_our_given_name(adapter, simulator):
    record = simulator.add_patient("Ana", "Soto", date_of_birth="1990-02-01")
    record["middle_name"] = "Lucía"

    found = adapter.find_patient(patient(given_name="ana lucia", family_name="Soto",
                                         birth_date=datetime.date(1990, 2, 1)))  # fmt: skip

    assert found.sure == "900001"


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("+56 9 8765 4301", "987654301", True),
        ("+1 516 304 2196", "5163042196", True),
        ("87654301", "+56 9 8765 4301", True),
        ("5163042196", "4163042196", False),
        ("555-0100", "5550100", True),
        ("5550100", "15550100", False),
        ("", "5550100", False),
        ("5550100", None, False),
    ],
)
def test_phones_are_the_same_digits_with_or_without_the_country_code(ours, theirs, same):
    assert nexhealth._same_phone(ours, theirs) is same


def test_a_matching_number_in_another_bio_field_counts(adapter, simulator):
    record = simulator.add_patient("Ann", "Lee", phone_number="", date_of_birth="1970-01-01")
    record["bio"]["cell_phone_number"] = "212-555-0199"

    assert nexhealth._same_patient("phone", patient(phone="2125550199"), record)
    assert not nexhealth._same_patient("phone", patient(phone="2125550198"), record)


# -- several: a person chooses ------------------------------------------------------------------


def test_several_patients_with_the_e_mail_are_all_candidates(adapter, simulator):
    simulator.add_patient("Pedro", "Soto", email="family@example.org")
    simulator.add_patient("Ana", "Soto", email="Family@Example.org", inactive=True)

    found = adapter.find_patient(patient(email="family@example.org", phone="2125550100"))

    assert found == PatientMatch("email", ("900001", "900002"))
    assert found.sure is None
    assert not any("phone_number" in query for query in searches(simulator))


def test_the_first_criterion_that_finds_anyone_decides(adapter, simulator):
    simulator.add_patient("Ana", "Soto", phone_number="2125550100")

    found = adapter.find_patient(patient(MARIA, phone="2125550100"))

    assert found == PatientMatch("email", ("501",))


# -- every page -----------------------------------------------------------------------------------


@pytest.mark.parametrize("paging", ["cursor", "page"])
def test_every_page_of_a_search_is_read(adapter, simulator, monkeypatch, paging):
    monkeypatch.setattr(nexhealth, "SEARCH_PER_PAGE", 5)
    simulator.paging = paging
    for _ in range(12):
        simulator.add_patient("Twin", "Ruiz", date_of_birth="2001-05-05")

    found = adapter.find_patient(patient(given_name="Twin", family_name="Ruiz",
                                         birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert found.candidates == tuple(str(900001 + n) for n in range(12))
    assert len(searches(simulator)) == 3


def test_a_429_on_a_later_page_is_waited_out(adapter, simulator, monkeypatch):
    monkeypatch.setattr(nexhealth, "SEARCH_PER_PAGE", 5)
    for _ in range(7):
        simulator.add_patient("Twin", "Ruiz", date_of_birth="2001-05-05")
    simulator.fail_request("/patients", nth=2, fault="429")  # the second page

    found = adapter.search_patients("name_birth_date", patient(
        given_name="Twin", family_name="Ruiz", birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert len(found) == 7


def test_more_candidates_than_it_reads_is_refused(adapter, simulator, monkeypatch):
    monkeypatch.setattr(nexhealth, "SEARCH_PER_PAGE", 5)
    monkeypatch.setattr(nexhealth, "SEARCH_PAGES", 2)
    for _ in range(12):
        simulator.add_patient("Twin", "Ruiz", date_of_birth="2001-05-05")

    with pytest.raises(VendorError) as refused:
        adapter.find_patient(patient(given_name="Twin", family_name="Ruiz",
                                     birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert str(refused.value) == (
        "NexHealth has more than 10 patients answering a search by this patient's name and "
        "birth date, too many to tell them apart: map the patient to its NexHealth ID in the "
        "admin (External IDs)."
    )
    assert not refused.value.retryable


def test_the_patient_s_data_stays_out_of_the_recorded_calls(adapter, simulator):
    adapter.find_patient(patient(NOBODY))

    recorded = " ".join(exchange.url for exchange in adapter.exchanges)
    assert "email=***" in recorded and "date_of_birth=***" in recorded
    assert "ines" not in recorded.lower() and "1979" not in recorded and "0199" not in recorded


# -- registering ----------------------------------------------------------------------------------


def test_a_patient_is_registered_with_what_nexhealth_requires(simulator):
    adapter = registering(simulator)

    new_id = adapter.register_patient(patient(NOBODY))

    assert new_id == "900001"
    assert registrations(simulator) == [{
        "provider": {"provider_id": 201},
        "patient": {
            "first_name": "Inés", "last_name": "Fuentes", "email": "ines.fuentes@example.org",
            "bio": {"date_of_birth": "1979-09-03", "phone_number": "12125550199",
                    "gender": "Female"},
        },
        "return_existing_if_match": False,
    }]  # fmt: skip
    post = next(r for r in simulator.requests if r.method == "POST" and r.path == "/patients")
    assert (post.query["location_id"], post.query["subdomain"]) == ("101", "sim-dental")
    # Found from then on, by each criterion.
    assert registering(simulator).find_patient(patient(NOBODY)).sure == "900001"


@pytest.mark.parametrize(
    ("missing", "words"),
    [
        ({"email": ""}, "no e-mail"),
        ({"phone": "", "birth_date": None}, "no phone or birth date"),
        ({"family_name": " "}, "no family name"),
    ],
)
def test_a_patient_without_what_nexhealth_requires_is_not_registered(simulator, missing, words):
    with pytest.raises(ConfigurationError) as refused:
        registering(simulator).register_patient(patient(NOBODY, **missing))

    assert f"this patient has {words}: add it here" in str(refused.value)
    assert "map its NexHealth ID to them in the admin (External IDs)" in str(refused.value)
    assert registrations(simulator) == []


def test_registering_needs_the_intake_provider(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, location_id=101))

    with pytest.raises(ConfigurationError) as refused:
        adapter.register_patient(patient(NOBODY))

    assert "set the connection's option “intake_provider_id”" in str(refused.value)
    assert registrations(simulator) == []


def test_without_a_location_it_registers_only_at_the_institution_s_only_one(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, intake_provider_id=201))

    with pytest.raises(ConfigurationError) as refused:
        adapter.register_patient(patient(NOBODY))

    assert "this institution has 2 locations: set the connection's option “location_id”" in (
        str(refused.value)
    )


def test_nexhealth_s_own_duplicate_is_never_taken_for_ours(simulator):
    """NexHealth matches a new patient by name, birth date and phone: with
    return_existing_if_match false it refuses, and a person maps the one it has."""
    twin = patient(MARIA, email="other@example.org", phone="5550100")

    with pytest.raises(VendorValidationError) as refused:
        registering(simulator).register_patient(twin)

    assert str(refused.value) == (
        "NexHealth refused to register the patient: A patient with matching information "
        "already exists. If NexHealth has this patient already, map its NexHealth ID to them in "
        "the admin (External IDs)."
    )
    assert simulator.added == {}
