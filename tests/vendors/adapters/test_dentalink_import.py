"""Onboarding a clinic from Dentalink over real sockets: every list read to its end across
pages, the field mapping, malformed records reported while the rest continue, a 429 in the
middle waited out, a later page that fails, streaming, and the simulator's generated patients."""

import datetime
import itertools
import time

import pytest
import requests

from vendors.adapters.dentalink import KEEP_EXCHANGES
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
)
from vendors.simulators.dentalink import DROP, TOKEN, _rut, patient
from vendors.types import ImportedRecord

VENDOR = "dentalink"
HEADERS = {"Authorization": f"Token {TOKEN}"}
PATIENTS = "/api/v1/pacientes"


@pytest.fixture
def simulator(simulator):
    simulator.patient_count = 120
    return simulator


def sent(simulator, path: str) -> list[str | None]:
    """The `page` of every request the simulator got for `path`, in order."""
    return [r.query.get("page") for r in simulator.requests if r.path.rstrip("/") == path]


def enabled(count: int) -> list[str]:
    return [str(n) for n in range(1, count + 1) if patient(n)["habilitado"]]


# -- what Dentalink lists ---------------------------------------------------------------------


def test_the_adapter_says_what_it_imports_and_why_not_the_rest(adapter):
    assert adapter.imports == ("locations", "practitioners", "hours", "patients")
    assert set(adapter.import_gaps) == {"rooms", "types"}
    assert "no list of its chairs" in adapter.import_gaps["rooms"]
    assert "no clinic-wide appointment types" in adapter.import_gaps["types"]


@pytest.mark.parametrize("kind", ["rooms", "types"])
def test_a_kind_dentalink_cannot_list_is_not_supported_with_its_reason(adapter, kind):
    with pytest.raises(NotSupported) as refused:
        adapter.import_records(kind)

    assert refused.value.message == adapter.import_gaps[kind]


@pytest.mark.parametrize(
    ("kind", "page_size", "expected", "pages"),
    [
        ("locations", 1, ["1", "2"], {"/api/v1/sucursales": [None, "2"]}),
        ("practitioners", 2, ["1", "2", "3", "4", "5"],
         {"/api/v1/dentistas": [None, "2", "3"]}),
        ("patients", 25, enabled(120), {PATIENTS: [None, "2", "3", "4", "5"]}),
    ],
)  # fmt: skip
def test_every_list_is_read_to_its_end_across_pages(
    adapter, simulator, kind, page_size, expected, pages
):
    simulator.page_size = page_size

    records = list(adapter.import_records(kind))

    assert [record.external_id for record in records] == expected
    assert not [record for record in records if record.problem]
    assert {path: sent(simulator, path) for path in pages} == pages


def test_hours_are_every_block_of_every_dentist_across_pages(adapter, simulator):
    simulator.page_size = 4  # 5 dentists: 2 pages; 2 branches x 7 days = 14 blocks: 4 pages

    records = list(adapter.import_records("hours"))

    assert len(records) == len({record.external_id for record in records}) == 5 * 2 * 7
    assert not [record for record in records if record.problem]
    assert sent(simulator, "/api/v1/dentistas") == [None, "2"]
    for dentist in range(1, 6):
        assert sent(simulator, f"/api/v1/dentistas/{dentist}/horarios") == [None, "2", "3", "4"]


def test_patients_read_are_the_enabled_ones_in_id_order(adapter, simulator):
    list(adapter.import_records("patients"))

    first = simulator.requests[0]
    assert (first.path, first.query["q"], first.query["sort"]) == (
        PATIENTS,
        '{"habilitado":{"eq":1}}',
        "id:asc",
    )
    assert "97" not in {record.external_id for record in adapter.import_records("patients")}


# -- the mapping ---------------------------------------------------------------------------------


def test_branches_map_to_locations(adapter, simulator):
    simulator.corrupt("sucursales", 2, {"comuna": "Santiago", "habilitada": 0, "telefono": ""})

    records = list(adapter.import_records("locations"))

    assert records == [
        ImportedRecord("locations", "1", {
            "name": "Providencia", "address": "Av. Providencia 1208, Providencia, Santiago",
            "phone": "+56223456789", "active": True,
        }),
        ImportedRecord("locations", "2", {
            "name": "Las Condes", "address": "Av. Apoquindo 4501, Santiago", "active": False,
        }),
    ]  # fmt: skip
    assert all("time_zone" not in record.fields for record in records)


def test_dentists_map_to_practitioners(adapter, simulator):
    simulator.corrupt("dentistas", 2, {"celular": "", "telefono": "2123456789", "email": "",
                                       "habilitado": 0})  # fmt: skip

    records = {record.external_id: record for record in adapter.import_records("practitioners")}

    assert records["1"] == ImportedRecord("practitioners", "1", {
        "given_name": "Camila", "family_name": "Rojas", "email": "camila.rojas@clinica.example",
        "phone": "+56980000001", "active": True,
    })  # fmt: skip
    assert records["2"].fields == {
        "given_name": "Matías", "family_name": "González", "phone": "2123456789",
        "active": False,
    }  # fmt: skip


def test_schedule_blocks_map_to_working_hours(adapter, simulator):
    simulator.days_off = {6}

    records = [r for r in adapter.import_records("hours") if r.refs["practitioner"] == "2"]

    assert len(records) == 2 * 6
    assert records[0] == ImportedRecord(
        "hours",
        "2:211",
        {
            "weekday": 0,
            "start_time": datetime.time(8),
            "end_time": datetime.time(21),
            "slot_interval_minutes": 10,
        },
        {"practitioner": "2", "location": "1"},
    )
    assert {(r.refs["location"], r.fields["weekday"]) for r in records} == {
        (branch, day) for branch in ("1", "2") for day in range(6)
    }


@pytest.mark.parametrize(
    ("changes", "key", "fields"),
    [
        ({"dia": "Miércoles"}, "1:111", {"weekday": 2}),
        ({"dia": 0}, "1:111", {"weekday": 6}),
        ({"dia": "7"}, "1:111", {"weekday": 6}),
        ({"dia": DROP, "dia_semana": 5}, "1:111", {"weekday": 4}),
        ({"intervalo": DROP}, "1:111", {"slot_interval_minutes": 15}),  # the dentist's
        ({"intervalo": 30, "hora_fin": "13:30"}, "1:111",
         {"slot_interval_minutes": 30, "end_time": datetime.time(13, 30)}),
        ({"id": DROP, "hora_inicio": "09:15:00"}, "1:1:0:09:15",
         {"start_time": datetime.time(9, 15)}),
    ],
)  # fmt: skip
def test_schedule_blocks_are_read_as_documented_around_them(adapter, simulator, changes, key,
                                                            fields):  # fmt: skip
    simulator.corrupt("horarios", 111, changes)

    first = next(adapter.import_records("hours"))

    assert (first.external_id, first.problem) == (key, "")
    assert first.fields | fields == first.fields


def test_a_dentist_without_a_schedule_anywhere_is_not_asked_for_one(adapter, simulator):
    simulator.corrupt("dentistas", 3, {"horarios_sucursal": []})

    records = list(adapter.import_records("hours"))

    assert "3" not in {record.refs["practitioner"] for record in records}
    assert sent(simulator, "/api/v1/dentistas/3/horarios") == []
    assert len(records) == 4 * 14


def test_a_schedule_read_dentalink_does_not_know_fails_the_hours_saying_so(adapter, simulator):
    simulator.corrupt("dentistas", 2, {"id": 77})

    with pytest.raises(UnexpectedResponse, match=r"404 to dentist 77's schedule .* set the "):
        list(adapter.import_records("hours"))


DOCUMENTED = {
    "id": 1, "rut": "12345678-5", "tipo_documento": 0, "nombre": "Guillermo",
    "nombre_social": "Memo", "apellidos": "Morales", "fecha_nacimiento": "1985-01-01",
    "telefono": "212345678", "celular": "12345678", "email": "guillermo@test.com", "sexo": "M",
    "id_genero": 1, "habilitado": 1,
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({}, {
            "given_name": "Guillermo", "family_name": "Morales",
            "birth_date": datetime.date(1985, 1, 1), "sex": "male", "phone": "12345678",
            "email": "guillermo@test.com", "national_id": "12345678-5",
            "national_id_type": "rut",
        }),
        ({"fecha_nacimiento": "0000-00-00", "celular": "", "email": "", "sexo": "F"}, {
            "given_name": "Guillermo", "family_name": "Morales", "sex": "female",
            "phone": "212345678", "national_id": "12345678-5", "national_id_type": "rut",
        }),
        ({"tipo_documento": 1, "rut": " AB123456 ", "fecha_nacimiento": "02/01/1985",
          "sexo": "", "celular": None, "telefono": None, "email": None}, {
            "given_name": "Guillermo", "family_name": "Morales",
            "birth_date": datetime.date(1985, 1, 2), "national_id": "AB123456",
            "national_id_type": "passport",
        }),
        ({"rut": "", "tipo_documento": 1, "sexo": "X", "fecha_nacimiento": None}, {
            "given_name": "Guillermo", "family_name": "Morales", "sex": "other",
            "phone": "12345678", "email": "guillermo@test.com",
        }),
    ],
)  # fmt: skip
def test_patients_map_to_ours(adapter, simulator, changes, fields):
    simulator.patient_count = 0
    simulator.pacientes[1] = DOCUMENTED | changes

    assert list(adapter.import_records("patients")) == [ImportedRecord("patients", "1", fields)]


def test_a_disabled_patient_is_left_at_dentalink(adapter, simulator):
    simulator.patient_count = 0
    simulator.pacientes[1] = DOCUMENTED
    simulator.pacientes[2] = DOCUMENTED | {"id": 2, "habilitado": 0}

    assert [record.external_id for record in adapter.import_records("patients")] == ["1"]


# -- malformed records ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "listed", "key", "changes", "external_id", "problem"),
    [
        ("locations", "sucursales", 1, {"nombre": ""}, "1", "it has no nombre"),
        ("locations", "sucursales", 1, "Providencia", "", "an item of the list is not an object"),
        ("practitioners", "dentistas", 3, {"apellidos": DROP}, "3", "it has no apellidos"),
        ("practitioners", "dentistas", 3, {"habilitado": "sí"}, "3",
         "habilitado is neither 1 nor 0"),
        ("practitioners", "dentistas", 3, {"id": "tres"}, "", "it has no valid id"),
        ("hours", "horarios", 113, {"hora_fin": "07:00:00"}, "1:113",
         "dentist 1's schedule: a block ends before it starts"),
        ("hours", "horarios", 113, {"hora_inicio": "8am"}, "1:113",
         "dentist 1's schedule: a block's hora_inicio is not a time of day"),
        ("hours", "horarios", 113, {"hora_fin": "24:00"}, "1:113",
         "dentist 1's schedule: a block's hora_fin is not a time of day"),
        ("hours", "horarios", 113, {"dia": 8}, "1:113",
         "dentist 1's schedule: a block has no day of the week (dia)"),
        ("hours", "horarios", 113, {"id_sucursal": DROP}, "1:113",
         "dentist 1's schedule: a block has no valid branch (id_sucursal)"),
        ("hours", "horarios", 113, {"intervalo": 0}, "1:113",
         "dentist 1's schedule: a block has no interval in minutes (intervalo)"),
        ("hours", "horarios", 113, [], "",
         "dentist 1's schedule holds a block that is not an object"),
        ("patients", "pacientes", 61, {"fecha_nacimiento": "1990-02-31"}, "61",
         "its birth date (fecha_nacimiento) is not a date"),
        ("patients", "pacientes", 61, {"nombre": {"primero": "Ana"}}, "61", "nombre is not text"),
        ("patients", "pacientes", 61, {"id": None}, "", "it has no valid id"),
        ("patients", "pacientes", 61, {"apellidos": "  "}, "61", "it has no apellidos"),
    ],
)  # fmt: skip
def test_a_malformed_record_is_reported_and_the_rest_imported(
    adapter, simulator, kind, listed, key, changes, external_id, problem
):
    simulator.page_size = 7
    clean = list(adapter.import_records(kind))
    simulator.corrupt(listed, key, changes)

    records = list(adapter.import_records(kind))

    wrong = [record for record in records if record.problem]
    assert wrong == [ImportedRecord(kind, external_id, problem=problem)]
    at = records.index(wrong[0])
    assert records[:at] + records[at + 1 :] == clean[:at] + clean[at + 1 :]


def test_a_problem_never_quotes_the_patient(adapter, simulator):
    raw = patient(61)
    simulator.corrupt("pacientes", 61, {"fecha_nacimiento": raw["rut"], "email": ["x"]})

    [wrong] = [record for record in adapter.import_records("patients") if record.problem]

    for value in (raw["rut"], raw["nombre"], raw["apellidos"], raw["celular"]):
        assert value not in wrong.problem
    assert wrong.fields == {}


# -- faults in the middle ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "page_size"),
    [("patients", PATIENTS, 20), ("hours", "/api/v1/dentistas/2/horarios", 4)],
)
def test_a_429_on_page_3_is_waited_out(adapter, simulator, kind, path, page_size):
    simulator.page_size = page_size
    expected = [record.external_id for record in adapter.import_records(kind)]
    simulator.requests.clear()
    simulator.fault_page(path, 3, "429")  # Retry-After: 1

    started = time.monotonic()
    records = list(adapter.import_records(kind))

    assert time.monotonic() - started >= 0.9
    assert [record.external_id for record in records] == expected
    assert sent(simulator, path)[:5] == [None, "2", "3", "3", "4"]


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [
        ("500", OutcomeUnknown, r"Dentalink failed \(HTTP 500\)"),
        ("503", VendorUnavailable, r"Dentalink is unavailable \(HTTP 503\)"),
        ("garbage", UnexpectedResponse, "Dentalink answered something that is not JSON"),
        ("wrong_shape", UnexpectedResponse,
         "Dentalink answered a page of its “pacientes” list in a shape we cannot read"),
    ],
)  # fmt: skip
def test_a_later_page_that_cannot_be_read_raises_after_what_came_before(
    adapter, simulator, fault, error, message
):
    simulator.page_size = 20
    simulator.fault_page(PATIENTS, 3, fault)
    records = adapter.import_records("patients")

    read = list(itertools.islice(records, 40))
    with pytest.raises(error, match=message):
        next(records)

    assert [record.external_id for record in read] == enabled(40)
    assert sent(simulator, PATIENTS) == [None, "2", "3"]


def test_too_many_429s_on_one_page_end_the_import(adapter, simulator, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    simulator.page_size = 50
    simulator.fault_page(PATIENTS, 2, "429", "429", "429", "429")

    with pytest.raises(VendorError, match="asks us to slow down"):
        list(adapter.import_records("patients"))


# -- streaming -----------------------------------------------------------------------------------


def test_records_are_yielded_as_each_page_arrives(adapter, simulator):
    simulator.page_size = 20
    records = adapter.import_records("patients")
    assert sent(simulator, PATIENTS) == []  # nothing is asked before the first record is

    first = next(records)
    assert (first.external_id, sent(simulator, PATIENTS)) == ("1", [None])

    rest_of_page = list(itertools.islice(records, 19))
    assert rest_of_page[-1].external_id == "20"
    assert sent(simulator, PATIENTS) == [None]

    assert next(records).external_id == "21"
    assert sent(simulator, PATIENTS) == [None, "2"]


def test_a_long_import_keeps_only_the_latest_exchanges(adapter, simulator):
    simulator.page_size = 3

    assert len(list(adapter.import_records("patients"))) == len(enabled(120))
    assert len(adapter.exchanges) <= KEEP_EXCHANGES + 1
    assert adapter.exchanges[-1].url.endswith("page=40")


# -- the simulator's patients --------------------------------------------------------------------


def test_generated_patients_are_the_same_every_time_and_documented_in_shape():
    assert patient(7) == patient(7)
    assert patient(7) != patient(8)
    assert {"id", "rut", "tipo_documento", "nombre", "apellidos", "fecha_nacimiento", "celular",
            "email", "sexo", "habilitado"} <= set(patient(7))  # fmt: skip
    assert _rut(12_345_678) == "12345678-5"
    assert (patient(50)["tipo_documento"], patient(30)["fecha_nacimiento"]) == (1, "0000-00-00")


def test_the_simulator_serves_thousands_of_patients_without_making_them_all(simulator):
    simulator.patient_count = 50_000
    simulator.page_size = 50

    started = time.monotonic()
    answer = requests.get(f"{simulator.url}{PATIENTS}?page=1000", headers=HEADERS, timeout=5)

    assert time.monotonic() - started < 1
    body = answer.json()
    assert [item["id"] for item in body["data"]] == list(range(49_951, 50_001))
    assert body["links"] == []


def test_the_simulator_filters_patients_by_a_documented_column(simulator):
    wanted = patient(42)["rut"]

    answer = requests.get(
        f"{simulator.url}{PATIENTS}",
        params={"q": f'{{"rut":{{"eq":"{wanted}"}}}}'},
        headers=HEADERS,
        timeout=5,
    )

    assert [item["id"] for item in answer.json()["data"]] == [42]


def test_a_page_fault_of_the_simulator_is_for_that_page_only(simulator):
    simulator.fault_page(PATIENTS, 2, "503")

    statuses = [
        requests.get(f"{simulator.url}{PATIENTS}", params={"page": page}, headers=HEADERS,
                     timeout=5).status_code
        for page in (1, 2, 2)
    ]  # fmt: skip

    assert statuses == [200, 503, 200]
