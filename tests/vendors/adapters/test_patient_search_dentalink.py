"""Finding one of our patients at Dentalink over real sockets (issue 12): each criterion with
GET /pacientes's documented filters, only exact matches kept from a fuzzy answer, only enabled
patients, every page read, national ID before e-mail before phone before name and birth date,
and a search that fails changing nothing."""

import dataclasses
import datetime
import json
import logging

import pytest
import requests

from vendors.adapters import dentalink
from vendors.errors import OutcomeUnknown, VendorError, VendorUnavailable, VendorValidationError
from vendors.simulators.dentalink import TOKEN, patient
from vendors.types import PATIENT_CRITERIA, PatientDetails, PatientMatch

VENDOR = "dentalink"
HEADERS = {"Authorization": f"Token {TOKEN}"}
PATIENTS = "/api/v1/pacientes"
# A generated patient with a RUT, a mobile, an e-mail and a birth date (see `patient`).
SOMEONE = 17
NOBODY = PatientDetails(given_name="", family_name="")  # nothing known


@pytest.fixture
def simulator(simulator):
    simulator.patient_count = 300
    return simulator


def ours(n: int = SOMEONE, **changes) -> PatientDetails:
    """Generated patient `n` as our records hold them."""
    listed = patient(n)
    passport = listed["tipo_documento"] == 1
    details = PatientDetails(
        given_name=listed["nombre"],
        family_name=listed["apellidos"],
        birth_date=_date(listed["fecha_nacimiento"]),
        phone=listed["celular"] or listed["telefono"],
        email=listed["email"],
        national_id=listed["rut"],
        national_id_type="passport" if passport else "rut",
    )
    return dataclasses.replace(details, **changes)


def _date(text: str) -> datetime.date | None:
    return None if text == "0000-00-00" else datetime.date.fromisoformat(text)


def only(criterion: str, n: int = SOMEONE, **changes) -> PatientDetails:
    """Nothing of patient `n` but what one criterion searches by."""
    details = ours(n)
    kept = {
        "national_id": {"national_id": details.national_id,
                        "national_id_type": details.national_id_type},
        "email": {"email": details.email},
        "phone": {"phone": details.phone},
        "name_birth_date": {"given_name": details.given_name,
                            "family_name": details.family_name, "birth_date": details.birth_date},
    }[criterion]  # fmt: skip
    return dataclasses.replace(NOBODY, **(kept | changes))


def dotted(rut: str) -> str:
    body, check = rut.split("-")
    return f"{int(body):,}".replace(",", ".") + f"-{check}"


def searches(simulator) -> list[dict]:
    """The `q` of every patient search the simulator got, in order (one per page)."""
    return [json.loads(r.query["q"]) for r in simulator.requests
            if r.path.rstrip("/") == PATIENTS and r.method == "GET"]  # fmt: skip


def listed(simulator, criterion: str, details: PatientDetails) -> set[str]:
    """The ids Dentalink's simulator answers the criterion's filters with (first pages)."""
    found = set()
    for query in dentalink._patient_queries(criterion, details):
        answer = requests.get(f"{simulator.url}{PATIENTS}", params={"q": json.dumps(query)},
                              headers=HEADERS, timeout=5)  # fmt: skip
        found |= {str(item["id"]) for item in answer.json()["data"]}
    return found


# -- each criterion ----------------------------------------------------------------------------


def test_dentalink_searches_its_patients_by_every_criterion(adapter):
    assert adapter.patient_search == PATIENT_CRITERIA


@pytest.mark.parametrize(
    ("criterion", "changes"),
    [
        ("national_id", {}),
        ("national_id", {"national_id": dotted(patient(SOMEONE)["rut"])}),
        ("national_id", {"national_id": "0" + patient(SOMEONE)["rut"].replace("-", "")}),
        ("national_id", {"national_id": " " + dotted(patient(SOMEONE)["rut"]).lower() + " "}),
        ("email", {}),
        ("email", {"email": patient(SOMEONE)["email"].upper()}),
        ("phone", {}),
        ("phone", {"phone": "+56 9 5598 3436"}),
        ("phone", {"phone": "9 5598 3436"}),
        ("phone", {"phone": "0056955983436"}),
        ("name_birth_date", {}),
        ("name_birth_date", {"given_name": "BENJAMIN", "family_name": " contreras   SOTO"}),
    ],
)
def test_each_criterion_finds_the_patient_whichever_way_ours_is_written(
    adapter, simulator, criterion, changes
):
    assert patient(SOMEONE)["celular"] == "+56955983436"  # the phones above are its number
    details = only(criterion, **changes)

    assert adapter.search_patients(criterion, details) == [str(SOMEONE)]
    assert adapter.find_patient(details) == PatientMatch(criterion, (str(SOMEONE),))


def test_a_rut_with_a_k_check_digit_is_found_in_either_case(adapter, simulator):
    n = next(n for n in range(1, 300) if patient(n)["rut"].endswith("K"))
    rut = patient(n)["rut"]
    chart = simulator.add_patient(rut=dotted(rut).lower())  # a second chart, written "-k"

    found = [str(n), str(chart)]
    assert adapter.search_patients("national_id", only("national_id", n, national_id=rut)) == found
    lower = only("national_id", n, national_id=rut.lower())
    assert adapter.search_patients("national_id", lower) == found


def test_a_landline_only_patient_is_found_by_telefono(adapter):
    n = 9  # every 9th generated patient has only a landline
    assert (patient(n)["celular"], bool(patient(n)["telefono"])) == ("", True)

    assert adapter.search_patients("phone", only("phone", n)) == [str(n)]


def test_a_passport_is_found_as_a_passport_and_never_as_a_rut(adapter, simulator):
    n = 50  # every 50th generated patient has a passport, X0000050
    passport = only("national_id", n, national_id="x-0000050")

    assert adapter.search_patients("national_id", passport) == [str(n)]
    as_rut = dataclasses.replace(passport, national_id_type="rut")
    assert adapter.search_patients("national_id", as_rut) == []


@pytest.mark.parametrize("kind", ["dni", "nir", "other"])
def test_a_document_dentalink_does_not_record_is_not_searched(adapter, simulator, kind):
    details = only("national_id", national_id_type=kind)

    assert adapter.search_patients("national_id", details) == []
    assert searches(simulator) == []


def test_each_search_asks_the_documented_filter_for_enabled_patients_in_id_order(
    adapter, simulator
):
    rut = patient(SOMEONE)["rut"]

    adapter.search_patients("national_id", ours(national_id=dotted(rut)))
    adapter.search_patients("phone", only("phone"))

    enabled = {"habilitado": {"eq": 1}}
    assert searches(simulator) == [
        {"rut": {"eq": rut}} | enabled,
        {"rut": {"eq": dotted(rut)}} | enabled,
        {"celular": {"lk": "%955983436%"}} | enabled,
        {"telefono": {"lk": "%955983436%"}} | enabled,
    ]
    assert {r.query["sort"] for r in simulator.requests} == {"id:asc"}


# -- exactness -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criterion", "decoy"),
    [
        ("national_id", {"rut": "1" + patient(SOMEONE)["rut"]}),
        ("national_id", {"rut": patient(SOMEONE)["rut"] + "0"}),
        ("email", {"email": "x" + patient(SOMEONE)["email"]}),
        ("email", {"email": patient(SOMEONE)["email"] + ".old"}),
        ("phone", {"celular": patient(SOMEONE)["celular"] + "1"}),
        ("phone", {"telefono": "2" + patient(SOMEONE)["celular"][3:]}),
        ("name_birth_date", {"nombre": patient(SOMEONE)["nombre"], "apellidos": "Contreras"}),
        ("name_birth_date", {"nombre": "Benjamín Andrés", "apellidos": "Contreras Soto"}),
    ],
)
def test_only_exact_matches_are_kept_from_a_fuzzy_answer(adapter, simulator, criterion, decoy):
    simulator.loose_search = True
    born = patient(SOMEONE)["fecha_nacimiento"]
    decoy_id = simulator.add_patient(**({"nombre": "Otro", "apellidos": "Paciente",
                                         "fecha_nacimiento": born} | decoy))  # fmt: skip

    assert str(decoy_id) in listed(simulator, criterion, only(criterion))  # answered, fuzzily
    assert adapter.search_patients(criterion, only(criterion)) == [str(SOMEONE)]


def test_a_name_and_birth_date_search_keeps_only_that_name_among_those_born_that_day(
    adapter, simulator
):
    born = patient(SOMEONE)["fecha_nacimiento"]
    for given in ("Benjamín", "Benjamina", "Ana"):
        simulator.add_patient(nombre=given, apellidos="Contreras", fecha_nacimiento=born)
    twin = simulator.add_patient(nombre="benjamin", apellidos="CONTRERAS SOTO",
                                 fecha_nacimiento=born)  # fmt: skip

    assert adapter.search_patients("name_birth_date", only("name_birth_date")) == [
        str(SOMEONE),
        str(twin),
    ]


@pytest.mark.parametrize(
    ("criterion", "theirs"),
    [
        ("email", {"rut": "5.126.663-3"}),
        ("email", {"fecha_nacimiento": "2001-01-01"}),
        ("email", {"nombre": "Carolina"}),
        ("phone", {"rut": "5126663-3"}),
        ("phone", {"fecha_nacimiento": "2001-01-01"}),
        ("phone", {"nombre": "Carolina Andrea"}),
        ("name_birth_date", {"rut": "5126663-3"}),
    ],
)
def test_a_relative_sharing_the_email_or_phone_is_not_the_patient(
    adapter, simulator, criterion, theirs
):
    """Our patient, with a RUT, born …, named …, is not the listed one who has another."""
    mine = ours(national_id="15.000.017-8", email="familia@example.cl", phone="+56 9 1111 2222")
    shared = {"email": "familia@example.cl", "celular": "+56911112222",
              "nombre": mine.given_name, "apellidos": mine.family_name,
              "fecha_nacimiento": mine.birth_date.isoformat()}  # fmt: skip
    simulator.add_patient(**(shared | theirs))

    assert adapter.search_patients(criterion, mine) == []
    same = simulator.add_patient(**shared)  # nothing of theirs says otherwise: the patient
    assert adapter.search_patients(criterion, mine) == [str(same)]


def test_a_shared_given_name_word_and_unknown_birth_date_do_not_contradict(adapter, simulator):
    mine = only("email", email="MJose@Example.cl", given_name="María José",
                birth_date=datetime.date(1990, 1, 2))  # fmt: skip
    found = simulator.add_patient(email="mjose@example.cl", nombre="Maria",
                                  fecha_nacimiento="0000-00-00")  # fmt: skip

    assert adapter.search_patients("email", mine) == [str(found)]


def test_only_enabled_patients_match(adapter, simulator):
    disabled = 97  # every 97th generated patient is disabled
    assert patient(disabled)["habilitado"] == 0
    simulator.add_patient(email="doble@example.cl", habilitado=0)
    enabled = simulator.add_patient(email="doble@example.cl")

    assert adapter.search_patients("national_id", only("national_id", disabled)) == []
    assert adapter.search_patients("email", only("email", email="doble@example.cl")) == [
        str(enabled)
    ]


# -- the order, several, none ----------------------------------------------------------------


def test_the_national_id_wins_over_the_email(adapter, simulator):
    other = 23
    details = ours(SOMEONE, email=patient(other)["email"], given_name=patient(other)["nombre"])

    assert adapter.find_patient(details) == PatientMatch("national_id", (str(SOMEONE),))
    assert [next(iter(q)) for q in searches(simulator)] == ["rut", "rut"]  # 2 ways to write it


def test_a_national_id_dentalink_does_not_have_falls_through_to_the_email(adapter, simulator):
    chart = simulator.add_patient(email="sinrut@example.cl", nombre="Ana")  # a chart, no RUT
    details = ours(national_id="5.126.663-3", email="sinrut@example.cl", given_name="Ana")

    assert adapter.find_patient(details) == PatientMatch("email", (str(chart),))
    assert [next(iter(q)) for q in searches(simulator)] == ["rut", "rut", "email"]


def test_two_enabled_charts_with_one_rut_are_both_candidates(adapter, simulator):
    again = simulator.add_patient(rut=dotted(patient(SOMEONE)["rut"]), nombre="Benjamín")

    assert adapter.find_patient(ours()) == PatientMatch("national_id", (str(SOMEONE), str(again)))
    assert adapter.find_patient(ours()).sure is None


def test_nobody_matching_is_an_empty_match_after_asking_every_criterion(adapter, simulator):
    stranger = PatientDetails(given_name="Zoe", family_name="Nadie", national_id="5.126.663-3",
                              national_id_type="rut", email="zoe@nadie.example",
                              phone="+56 9 1357 2468",
                              birth_date=datetime.date(1931, 2, 3))  # fmt: skip

    assert adapter.find_patient(stranger) == PatientMatch()
    assert [next(iter(q)) for q in searches(simulator)] == [
        "rut", "rut", "email", "celular", "telefono", "fecha_nacimiento",
    ]  # fmt: skip


def test_a_phone_too_short_to_tell_anyone_by_is_not_searched(adapter, simulator):
    assert adapter.search_patients("phone", only("phone", phone="+56 2 123")) == []
    assert searches(simulator) == []


# -- pages and failures ---------------------------------------------------------------------------


def test_every_page_of_an_answer_is_read_and_a_429_waited_out(adapter, simulator):
    simulator.page_size = 2
    added = [simulator.add_patient(email="mismo@example.cl") for _ in range(5)]
    simulator.fault_page(PATIENTS, 2, "429")

    found = adapter.search_patients("email", only("email", email="mismo@example.cl"))

    assert found == [str(n) for n in added]
    pages = [r.query.get("page") for r in simulator.requests if r.path.rstrip("/") == PATIENTS]
    assert pages == [None, "2", "2", "3"]


def test_the_pages_keep_the_patients_values_out_of_our_log(adapter, simulator, caplog):
    caplog.set_level(logging.DEBUG, logger="vendors")
    simulator.page_size = 1
    for _ in range(3):
        simulator.add_patient(email="pagina@example.cl")

    assert len(adapter.search_patients("email", only("email", email="pagina@example.cl"))) == 3
    lines = [record.getMessage() for record in caplog.records if record.name == "vendors"]
    assert [message.split(" in ")[0] for message in lines] == ["dentalink GET pacientes -> 200"] * 3


def test_more_pages_than_can_be_told_apart_asks_for_a_person(adapter, simulator, monkeypatch):
    monkeypatch.setattr(dentalink, "MAX_SEARCH_PAGES", 2)
    simulator.page_size = 1
    for _ in range(3):
        simulator.add_patient(email="muchos@example.cl")

    with pytest.raises(VendorError) as refused:
        adapter.search_patients("email", only("email", email="muchos@example.cl"))

    assert not refused.value.retryable
    assert refused.value.message == (
        "Dentalink answered a search by this patient's e-mail with more than 2 pages of "
        "patients, too many to tell apart: map the patient to its Dentalink ID in the admin "
        "(External IDs)."
    )


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("500", "Dentalink could not finish a search for this patient (HTTP 500); nothing was "
                "changed there, and it will be tried again."),
        ("garbage", "Dentalink could not finish a search for this patient (an answer we cannot "
                    "read); nothing was changed there, and it will be tried again."),
        ("wrong_shape", "Dentalink could not finish a search for this patient (an answer we "
                        "cannot read); nothing was changed there, and it will be tried again."),
        ("503", "Dentalink is unavailable (HTTP 503); it will be tried again."),
    ],
)  # fmt: skip
def test_a_search_that_fails_changed_nothing_and_is_tried_again(adapter, simulator, fault, said):
    simulator.page_size = 1
    for _ in range(2):
        simulator.add_patient(email="fallo@example.cl")
    simulator.fault_page(PATIENTS, 2, fault)  # a later page

    with pytest.raises(VendorUnavailable) as failed:
        adapter.search_patients("email", only("email", email="fallo@example.cl"))

    assert failed.value.retryable and not failed.value.outcome_unknown
    assert failed.value.message == said


# -- registering (the simulator knows its generated patients' RUTs) ----------------------------


@pytest.mark.parametrize("n", [SOMEONE, 97])  # enabled, disabled
def test_registering_a_rut_a_generated_patient_has_is_refused(adapter, n):
    taken = PatientDetails(
        given_name="Otra",
        family_name="Persona",
        national_id=dotted(patient(n)["rut"]),
        national_id_type="rut",
    )

    with pytest.raises(VendorValidationError) as refused:
        adapter.register_patient(taken)

    assert "Ya existe un paciente con el RUT" in refused.value.vendor_message


@pytest.mark.parametrize(("fault", "stored"), [("500", 0), ("500_echo", 0), ("500_after", 1)])
def test_a_registration_can_be_made_to_fail_before_or_after_it_is_stored(
    adapter, simulator, fault, stored
):
    simulator.fault_patient_creation(fault)

    with pytest.raises(OutcomeUnknown):
        adapter.register_patient(PatientDetails(given_name="Otra", family_name="Persona"))

    assert len(simulator.pacientes) == stored
    assert adapter.register_patient(PatientDetails(given_name="Otra", family_name="Persona"))
