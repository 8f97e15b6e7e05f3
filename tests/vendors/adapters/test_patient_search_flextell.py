"""Looking a patient up at Flextell before booking (issue 12), over real sockets: every
criterion through the one documented search, GET /v1/customers?search=, every page read, its
free-text answers kept only where the customer matches exactly; several matches all returned
(a person chooses). Flextell documents no way to create a customer: none is ever made."""

import datetime

import pytest

from vendors.adapters import flextell
from vendors.errors import NotSupported, UnexpectedResponse, VendorError
from vendors.types import PATIENT_CRITERIA, PatientDetails, PatientMatch

VENDOR = "flextell"
CUSTOMERS = "/api/v1/customers"
LUCIA = {  # the simulator's customer 31, as our desk holds her
    "given_name": "Lucía",
    "family_name": "Pérez",
    "birth_date": datetime.date(1988, 4, 12),
    "phone": "+56 9 8765 4301",
    "email": "lucia.perez@example.com",
    "national_id": "12.345.678-5",
    "national_id_type": "rut",
}


@pytest.fixture
def simulator(simulator):
    simulator.patient_count = 200
    return simulator


def patient(base: dict | None = None, **changes) -> PatientDetails:
    values = {"given_name": "", "family_name": "", **(base or {}), **changes}
    return PatientDetails(**values)


def terms(simulator) -> list[str]:
    """What each customer search asked for."""
    return [r.query["search"] for r in simulator.requests if r.path == CUSTOMERS]


# -- what Flextell searches -----------------------------------------------------------------------


def test_every_criterion_is_searched_and_no_customer_is_ever_created(adapter):
    assert adapter.patient_search == PATIENT_CRITERIA
    assert not adapter.registers_patients
    with pytest.raises(NotSupported, match="register the patient in Flextell and map its ID"):
        adapter.register_patient(patient(LUCIA))


@pytest.mark.parametrize(
    ("ours", "criterion", "asked"),
    [
        ({"national_id": "12345678-5"}, "national_id", ["12345678-5", "12.345.678-5"]),
        ({"national_id": "12.345.678-5"}, "national_id", ["12.345.678-5", "12345678-5"]),
        (
            {"national_id": "123456785"},
            "national_id",
            ["123456785", "12.345.678-5", "12345678-5"],
        ),
        ({"email": "Lucia.Perez@EXAMPLE.com"}, "email", ["Lucia.Perez@EXAMPLE.com"]),
        ({"phone": "+56987654301"}, "phone", ["+56987654301", "4301"]),
        ({"phone": "9 8765 4301"}, "phone", ["9 8765 4301", "4301"]),
        (
            {
                "given_name": "LUCIA",
                "family_name": "perez",
                "birth_date": datetime.date(1988, 4, 12),
            },
            "name_birth_date",
            ["perez"],
        ),
    ],
    ids=[
        "rut without dots",
        "rut with dots",
        "rut without dash",
        "e-mail without case",
        "phone with country code",
        "phone without it",
        "name without case or accents",
    ],
)
def test_one_sure_match_by_each_criterion(adapter, simulator, ours, criterion, asked):
    assert adapter.find_patient(patient(**ours)) == PatientMatch(criterion, ("31",))
    assert terms(simulator) == asked


def test_a_national_id_that_is_no_rut_is_also_searched_without_separators(adapter, simulator):
    simulator.add_customer("Jean", "Dupont", identity_number="AB123456")

    found = adapter.find_patient(patient(national_id="ab-123 456", national_id_type="passport"))

    assert found == PatientMatch("national_id", ("900001",))
    assert terms(simulator) == ["ab-123 456", "ab123456"]


def test_the_national_id_decides_before_the_e_mail(adapter, simulator):
    simulator.add_customer("Lucía", "Pérez", email="lucia.perez@example.com")

    found = adapter.find_patient(patient(LUCIA))

    assert found == PatientMatch("national_id", ("31",))
    assert all("@" not in term for term in terms(simulator))


def test_without_anything_to_search_by_nothing_is_asked(adapter, simulator):
    assert adapter.find_patient(patient(given_name="Lucía", family_name="Pérez")) == PatientMatch()
    assert terms(simulator) == []


# -- exactly, whatever the free-text search answers ----------------------------------------------


def test_only_the_same_names_born_that_day_are_kept(adapter, simulator):
    born = "1988-04-12T00:00:00Z"
    simulator.add_customer("Lucía", "Pérez Soto", date_of_birth=born)
    simulator.add_customer("Luciana", "Pérez", date_of_birth=born)
    simulator.add_customer("Lucía", "Pérez", date_of_birth="1988-04-13T00:00:00Z")
    simulator.add_customer("Lucía", "Pérez", date_of_birth=None)

    found = adapter.find_patient(patient(given_name="lucía", family_name="PEREZ",
                                         birth_date=datetime.date(1988, 4, 12)))  # fmt: skip

    assert found == PatientMatch("name_birth_date", ("31",))


def test_only_the_same_national_id_is_kept(adapter, simulator):
    simulator.add_customer("Ana", "Rojas", identity_number="2.345.678-5")  # contains ours
    simulator.add_customer("Ana", "Rojas", identity_number="12.345.678-4")

    found = adapter.find_patient(patient(national_id="12.345.678-5"))

    assert found == PatientMatch("national_id", ("31",))


def test_only_the_same_e_mail_is_kept(adapter, simulator):
    simulator.add_customer("Ana", "Rojas", email="x.lucia.perez@example.com")

    assert adapter.find_patient(patient(email="lucia.perez@example.com")).sure == "31"


def test_only_the_same_phone_is_kept_of_those_sharing_its_last_digits(adapter, simulator):
    simulator.add_customer("Ana", "Rojas", phone_number="+56 9 1111 4301")
    simulator.add_customer("Eva", "Rojas", phone_number="4301")

    found = adapter.find_patient(patient(phone="987654301"))

    assert found == PatientMatch("phone", ("31",))


@pytest.mark.parametrize(
    ("ours", "theirs", "same"),
    [
        ("+56 9 8765 4301", "987654301", True),
        ("987654301", "+56 9 8765 4301", True),
        ("+56 9 8765 4301", "+54 9 8765 4301", False),
        ("8765 4301", "98765 4301", True),
        ("765 4301", "9 8765 4301", False),
        ("765 4301", "7654301", True),
        ("", "", False),
        ("987654301", None, False),
    ],
)
def test_phones_are_the_same_digits_with_or_without_the_country_code(ours, theirs, same):
    assert flextell._same_phone(ours, theirs) is same


# -- several: a person chooses ------------------------------------------------------------------


def test_several_customers_with_the_e_mail_are_all_candidates(adapter, simulator):
    simulator.add_customer("Pedro", "Soto", email="familia.soto@example.com")
    simulator.add_customer("Ana", "Soto", email="Familia.Soto@example.com")

    found = adapter.find_patient(patient(email="familia.soto@example.com", phone="+56 2 1234 5678"))

    assert found == PatientMatch("email", ("900001", "900002"))
    assert "5678" not in terms(simulator)  # the e-mail decided: the phone was not asked


# -- every page -----------------------------------------------------------------------------------


def test_every_page_of_a_search_is_read(adapter, simulator, monkeypatch):
    monkeypatch.setattr(flextell, "PAGE_SIZE", 5)
    for _ in range(12):
        simulator.add_customer("Twin", "Zúñiga", date_of_birth="2001-05-05")

    found = adapter.find_patient(patient(given_name="Twin", family_name="Zuniga",
                                         birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert found.candidates == tuple(str(900001 + n) for n in range(12))
    assert [r.query["page"] for r in simulator.requests if r.path == CUSTOMERS] == ["1", "2", "3"]


def test_a_429_on_a_later_page_is_waited_out(adapter, simulator, monkeypatch):
    monkeypatch.setattr(flextell, "PAGE_SIZE", 5)
    for _ in range(7):
        simulator.add_customer("Twin", "Zúñiga", date_of_birth="2001-05-05")
    simulator.fail_request(CUSTOMERS, nth=2, fault="429")

    found = adapter.search_patients("name_birth_date", patient(
        given_name="Twin", family_name="Zúñiga", birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert len(found) == 7


def test_more_candidates_than_it_reads_is_refused(adapter, simulator, monkeypatch):
    monkeypatch.setattr(flextell, "PAGE_SIZE", 5)
    monkeypatch.setattr(flextell, "SEARCH_PAGES", 2)
    for _ in range(12):
        simulator.add_customer("Twin", "Zúñiga", date_of_birth="2001-05-05")

    with pytest.raises(VendorError) as refused:
        adapter.find_patient(patient(given_name="Twin", family_name="Zúñiga",
                                     birth_date=datetime.date(2001, 5, 5)))  # fmt: skip

    assert str(refused.value) == (
        "Flextell has more than 10 customers answering a search by this patient's name and "
        "birth date, too many to tell them apart: map the patient to its Flextell customer in "
        "the admin (External IDs)."
    )
    assert not refused.value.retryable


def test_an_unreadable_answer_is_not_taken_for_nobody(adapter, simulator):
    simulator.fail_request(CUSTOMERS, nth=1, fault="garbage")

    with pytest.raises(UnexpectedResponse):
        adapter.find_patient(patient(email="lucia.perez@example.com"))


def test_the_patient_s_data_stays_out_of_the_recorded_calls(adapter, simulator):
    adapter.find_patient(patient(LUCIA))

    recorded = " ".join(exchange.url for exchange in adapter.exchanges)
    assert "search=***" in recorded
    assert "678" not in recorded and "lucia" not in recorded.lower()
    assert all(exchange.response == "***" or "Pérez" not in repr(exchange.response)
               for exchange in adapter.exchanges)  # fmt: skip
