"""Dentalink: the exact request the adapter sends and what it reads back, over real sockets
against the simulator; the simulator refuses what Dentalink documents it refuses."""

import dataclasses
import datetime
import json
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.dentalink import TOKEN_VARIABLE, request, settings
from vendors.adapters.dentalink import DentalinkAdapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    SlotUnavailable,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.simulators.base import Reply
from vendors.simulators.dentalink import TOKEN, DentalinkSimulator

SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
NEXT_YEAR = datetime.date.today().year + 1
TAKEN = "El horario seleccionado no se encuentra disponible"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """A wall-clock time in Santiago next year, as the aware UTC instant a booking holds."""
    moment = datetime.datetime(NEXT_YEAR, month, day, hour, minute, tzinfo=SANTIAGO)
    return moment.astimezone(datetime.UTC)


def booking(start: datetime.datetime | None = None, minutes: int = 30, **changes):
    start = start or local(3, 2, 9)
    refs = {**request().refs, **changes.pop("refs", {})}
    end = start + datetime.timedelta(minutes=minutes)
    return request(start=start, end=end, refs=refs, **changes)


VENDOR = "dentalink"


@pytest.fixture
def simulator(simulator):
    simulator.page_size = DentalinkSimulator.page_size
    return simulator


@pytest.fixture
def connect(simulator):
    def connect(**options) -> DentalinkAdapter:
        return DentalinkAdapter(settings(simulator.url, **options))

    return connect


def last_sent(simulator):
    sent = simulator.requests[-1]
    return sent.method, sent.path, sent.json


# -- book ---------------------------------------------------------------------------------


def test_book_sends_the_documented_cita(adapter, simulator):
    adapter.book(booking(local(3, 2, 9)))

    sent = simulator.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/v1/citas/")
    assert sent.header("Authorization") == f"Token {TOKEN}"
    assert sent.json == {
        "id_dentista": 1,
        "id_sucursal": 1,
        "id_sillon": 1,
        "id_paciente": 2,
        "id_estado": 7,
        "fecha": f"{NEXT_YEAR}-03-02",
        "hora_inicio": "09:00",
        "duracion": 30,
        "comentario": "Control exodoncia",
        "videoconsulta": 0,
        "return_options": True,
    }
    # The document's Bool, as JSON says it (1 == True in Python: read the text itself).
    assert b'"return_options": true' in sent.body
    assert b'"videoconsulta": 0' in sent.body


def test_book_reads_the_cita_back(adapter):
    result = adapter.book(booking(local(3, 2, 9)))

    assert (result.external_id, result.vendor_status, result.status, result.settled) == (
        "754",
        "No confirmado",
        "unconfirmed",
        True,
    )
    assert result.details == {
        "id_estado": 7,
        "estado_cita": "No confirmado",
        "estado_anulacion": 0,
        "estado_confirmacion": 0,
        "id_dentista": 1,
        "id_sucursal": 1,
        "id_sillon": 1,
        "id_tratamiento": 100,  # the patient's plan Dentalink chose (“Diagnóstico”)
        "fecha": f"{NEXT_YEAR}-03-02",
        "hora_inicio": "09:00:00",
        "hora_fin": "09:30:00",
        "duracion": 30,
        "fecha_actualizacion": result.details["fecha_actualizacion"],
    }


@pytest.mark.parametrize(
    ("start", "fecha", "hora"),
    [
        # Summer in Chile: UTC-3.
        (datetime.datetime(NEXT_YEAR, 1, 15, 12, 0, tzinfo=datetime.UTC), "01-15", "09:00"),
        # Winter: UTC-4.
        (datetime.datetime(NEXT_YEAR, 7, 15, 13, 0, tzinfo=datetime.UTC), "07-15", "09:00"),
        # Late evening UTC is still the previous day in Santiago.
        (datetime.datetime(NEXT_YEAR, 7, 16, 1, 30, tzinfo=datetime.UTC), "07-15", "21:30"),
    ],
)
def test_date_and_time_are_clinic_local(adapter, simulator, start, fecha, hora):
    adapter.book(booking(start))

    _, _, body = last_sent(simulator)
    assert (body["fecha"], body["hora_inicio"]) == (f"{NEXT_YEAR}-{fecha}", hora)


@pytest.mark.parametrize(("modality", "sent"), [("in_person", 0), ("video", 1)])
def test_modality_is_always_stated(adapter, simulator, modality, sent):
    adapter.book(booking(modality=modality))

    assert last_sent(simulator)[2]["videoconsulta"] == sent


def test_video_with_a_dentist_who_works_in_person_only_is_refused(adapter):
    with pytest.raises(VendorValidationError) as refused:
        adapter.book(booking(modality="video", refs={"practitioner": "3"}))

    assert refused.value.status == 400
    assert refused.value.vendor_message == "La modalidad no coincide con el horario del profesional"


def test_video_without_a_room_uses_the_configured_chair(connect, simulator):
    adapter = connect(video_chair_id=3)
    refs = {key: value for key, value in request().refs.items() if key != "room"}

    adapter.book(dataclasses.replace(booking(modality="video"), refs=refs))

    assert last_sent(simulator)[2]["id_sillon"] == 3


def test_booking_by_specialty_lets_dentalink_choose_the_dentist(adapter, simulator):
    refs = {**request().refs, "specialty": "2"}
    del refs["practitioner"]

    result = adapter.book(dataclasses.replace(booking(), refs=refs))

    body = last_sent(simulator)[2]
    assert body["id_especialidad"] == 2
    assert "id_dentista" not in body
    assert result.details["id_dentista"] == 2


def test_the_comment_is_optional(adapter, simulator):
    adapter.book(booking(comment=""))

    assert "comentario" not in last_sent(simulator)[2]


def test_an_appointment_types_mapping_never_becomes_a_treatment_plan(adapter, simulator):
    """`id_tratamiento` is one patient's plan (DESIGN §3): a clinic-wide type mapped to
    Dentalink's id must not send that id for every patient of the type."""
    first = adapter.book(booking(local(3, 2, 9), refs={"patient": "2", "appointment_type": "2"}))
    first_body = last_sent(simulator)[2]
    second = adapter.book(booking(local(3, 2, 10), refs={"patient": "9", "appointment_type": "2"}))
    second_body = last_sent(simulator)[2]

    assert "id_tratamiento" not in first_body
    assert "id_tratamiento" not in second_body
    # Dentalink chose each patient's own plan: neither carries the other's.
    assert (first.details["id_tratamiento"], second.details["id_tratamiento"]) == (100, 101)


def test_without_a_type_mapping_the_body_is_the_same(adapter, simulator):
    refs = {key: value for key, value in request().refs.items() if key != "appointment_type"}
    adapter.book(booking(local(3, 2, 9)))
    mapped = last_sent(simulator)[2]

    adapter.book(dataclasses.replace(booking(local(3, 2, 10)), refs=refs))

    assert last_sent(simulator)[2] == mapped | {"hora_inicio": "10:00"}


def test_the_simulator_refuses_another_patients_plan(adapter, simulator):
    first = adapter.book(booking(local(3, 2, 9), refs={"patient": "2"}))
    body = {**last_sent(simulator)[2], "id_paciente": 9, "hora_inicio": "10:00"}

    answer = requests.post(
        f"{simulator.url}/api/v1/citas/",
        json=body | {"id_tratamiento": first.details["id_tratamiento"]},
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=2,
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "error": {"message": "El tratamiento indicado no pertenece al paciente"}
    }


@pytest.mark.parametrize("value", ["1", "si", 2])
def test_the_simulator_refuses_return_options_that_is_not_a_bool(simulator, adapter, value):
    adapter.book(booking(local(3, 2, 9)))
    body = {**last_sent(simulator)[2], "hora_inicio": "10:00", "return_options": value}

    answer = requests.post(
        f"{simulator.url}/api/v1/citas/",
        json=body,
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=2,
    )

    assert answer.status_code == 400
    assert answer.json() == {"error": {"message": "El campo return_options debe ser booleano"}}


def test_configured_state_is_sent(connect, simulator):
    connect(default_state_id=3).book(booking())

    assert last_sent(simulator)[2]["id_estado"] == 3


# -- taken times ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "refs",
    [
        pytest.param({"room": "2", "patient": "9"}, id="same dentist, other chair"),
        pytest.param({"practitioner": "5", "patient": "9"}, id="same chair, other dentist"),
    ],
)
def test_a_taken_time_is_slot_unavailable_with_dentalinks_options(adapter, refs):
    adapter.book(booking(local(3, 2, 9)))

    with pytest.raises(SlotUnavailable) as taken:
        adapter.book(booking(local(3, 2, 9, 15), refs=refs))

    assert taken.value.status == 400
    assert taken.value.vendor_message == TAKEN
    # The next free starts for that dentist and chair, in the clinic's zone, as UTC.
    assert taken.value.alternatives == [local(3, 2, 9, 30), local(3, 2, 9, 45), local(3, 2, 10)]
    assert str(taken.value) == (
        f"Dentalink says this time is no longer free; choose another time. (dentalink: {TAKEN})"
    )


def test_the_sobrecupo_chair_books_a_busy_dentist(adapter, simulator):
    adapter.book(booking(local(3, 2, 9)))

    result = adapter.book(booking(local(3, 2, 9), room_is_overflow=True, refs={"patient": "9"}))

    assert last_sent(simulator)[2]["id_sillon"] == 7
    assert result.details["id_sillon"] == 7


def test_the_sobrecupo_chair_is_configurable(connect):
    adapter, overflow = connect(overflow_chair_id=17), booking(room_is_overflow=True)

    payload = adapter.booking_payload(overflow, adapter.booking_ids(overflow))

    assert payload["id_sillon"] == 17


def test_a_cancelled_cita_frees_its_time(adapter):
    first = adapter.book(booking(local(3, 2, 9)))
    adapter.cancel(first.external_id, booking(), reason="Paciente avisa")

    second = adapter.book(booking(local(3, 2, 9), refs={"patient": "9"}))

    assert second.external_id == "755"


# -- refusals -------------------------------------------------------------------------------


def test_a_duration_off_the_dentists_interval_is_refused_with_dentalinks_words(adapter):
    with pytest.raises(VendorValidationError) as refused:
        adapter.book(booking(minutes=25))

    message = "La duración debe ser compatible con el intervalo de atención del profesional"
    assert refused.value.vendor_message == f"{message} (15 minutos)"
    assert str(refused.value) == f"Dentalink refused the booking: {message} (15 minutos)."


def test_a_wrong_token_is_an_authentication_failure(simulator, monkeypatch):
    monkeypatch.setenv(TOKEN_VARIABLE, "not-the-token")

    with pytest.raises(AuthenticationFailed) as refused:
        DentalinkAdapter(settings(simulator.url)).book(booking())

    assert refused.value.vendor_message == "Token inválido o ausente"
    assert simulator.citas == {}


def test_a_missing_token_is_a_configuration_error_and_nothing_is_sent(simulator, monkeypatch):
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)

    with pytest.raises(ConfigurationError) as missing:
        DentalinkAdapter(settings(simulator.url)).book(booking())

    assert str(missing.value) == (
        "The Dentalink connection has no api token: set the environment variable "
        f"{TOKEN_VARIABLE} and name it on the connection."
    )
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"refs": {"patient": ""}},
            "The patient of this appointment has no Dentalink ID: map it to its Dentalink "
            "patient in the admin (External IDs).",
        ),
        (
            {"refs": {"practitioner": ""}},
            "The practitioner of this appointment has no Dentalink ID: map it to its Dentalink "
            "dentist (or specialty) in the admin (External IDs).",
        ),
        (
            {"refs": {"location": "providencia"}},
            "Dentalink IDs of the location are whole numbers above 0; “providencia” is not "
            "one. Fix it in the admin (External IDs).",
        ),
        (
            {"refs": {"room": ""}},
            "Dentalink needs a chair (id_sillon) for every appointment: map the room to its "
            "Dentalink chair, or for video visits set the option “video_chair_id”.",
        ),
    ],
)
def test_missing_or_malformed_mappings_are_configuration_errors(
    adapter, simulator, changes, message
):
    with pytest.raises(ConfigurationError) as wrong:
        adapter.book(booking(**changes))

    assert str(wrong.value) == message
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("status", "body", "error", "alternatives"),
    [
        (400, {"error": {"message": "El horario no está disponible"}}, SlotUnavailable, []),
        (409, {"error": {"message": "Conflicto"}}, SlotUnavailable, []),
        (
            400,
            {
                "error": {"message": "No se pudo agendar"},
                "opciones": [{"fecha": f"{NEXT_YEAR}-03-02", "hora_inicio": "10:15"}],
            },
            SlotUnavailable,
            [local(3, 2, 10, 15)],
        ),
        (400, {"error": {"message": "El campo fecha es obligatorio"}}, VendorValidationError, []),
        (401, {"error": {"message": "Token inválido"}}, AuthenticationFailed, []),
        (404, {"error": {"message": "La cita no existe"}}, NotFound, []),
        (500, {"error": {"message": "Error interno"}}, OutcomeUnknown, []),
        (503, {"error": {"message": "Mantención"}}, VendorUnavailable, []),
    ],
)
def test_error_answers_map_to_what_to_do_next(
    adapter, simulator, monkeypatch, status, body, error, alternatives
):
    monkeypatch.setattr(simulator, "create_cita", lambda request: Reply(status, body))

    with pytest.raises(error) as raised:
        adapter.book(booking(local(3, 2, 9)))

    assert type(raised.value) is error
    assert raised.value.status == status
    assert raised.value.vendor_message == body["error"]["message"]
    assert raised.value.alternatives == alternatives


def test_a_success_without_an_id_is_an_unknown_outcome(adapter, simulator, monkeypatch):
    monkeypatch.setattr(simulator, "create_cita", lambda request: Reply(201, {"data": {}}))

    with pytest.raises(OutcomeUnknown):
        adapter.book(booking())


# -- find, lookup, cancel -------------------------------------------------------------------


def test_find_looks_up_an_attempt_whose_answer_was_lost(adapter, simulator):
    simulator.inject("drop_after", path="/api/v1/citas")
    with pytest.raises(OutcomeUnknown):
        adapter.book(booking(local(3, 2, 9)))

    found = adapter.find(booking(local(3, 2, 9)))

    sent = simulator.requests[-1]
    assert (sent.method, sent.path) == ("GET", "/api/v1/citas")
    assert json.loads(sent.query["q"]) == {
        "id_paciente": {"eq": 2},
        "fecha": {"eq": f"{NEXT_YEAR}-03-02"},
    }
    assert (found.external_id, found.status) == ("754", "unconfirmed")
    assert len(simulator.citas) == 1


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"start": local(3, 2, 9, 30)}, id="another time"),
        pytest.param({"refs": {"practitioner": "5", "room": "2"}}, id="another dentist"),
        pytest.param({"refs": {"location": "2", "room": "4"}}, id="another branch"),
    ],
)
def test_find_matches_time_dentist_and_branch(adapter, other):
    adapter.book(booking(local(3, 2, 9)))

    assert adapter.find(booking(**other)) is None


def test_find_skips_cancelled_citas(adapter):
    first = adapter.book(booking(local(3, 2, 9)))
    adapter.cancel(first.external_id, booking(), reason="")

    assert adapter.find(booking(local(3, 2, 9))) is None


def test_lookup_reads_one_cita(adapter, simulator):
    adapter.book(booking())

    result = adapter.lookup("754")

    assert last_sent(simulator)[:2] == ("GET", "/api/v1/citas/754")
    assert (result.external_id, result.vendor_status, result.status) == (
        "754",
        "No confirmado",
        "unconfirmed",
    )


def test_lookup_of_an_unknown_cita_is_not_found(adapter):
    with pytest.raises(NotFound) as missing:
        adapter.lookup("999")

    assert missing.value.vendor_message == "La cita no existe"


def test_cancel_puts_the_configured_cancellation_state(adapter, simulator):
    adapter.book(booking())

    result = adapter.cancel("754", booking(), reason="Paciente avisa")

    assert last_sent(simulator) == (
        "PUT",
        "/api/v1/citas/754",
        {"id_estado": 1, "comentarios": "Paciente avisa"},
    )
    assert (result.external_id, result.vendor_status, result.status) == (
        "754",
        "Anulado",
        "cancelled",
    )


def test_cancel_needs_the_cancellation_state_option(simulator):
    adapter = DentalinkAdapter(dataclasses.replace(settings(simulator.url), options={}))

    with pytest.raises(ConfigurationError) as missing:
        adapter.cancel("754", booking())

    assert str(missing.value) == (
        "The dentalink connection needs the option “cancel_state_id”; set it in the admin."
    )
    assert simulator.requests == []


# -- statuses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cita", "status"),
    [
        ({"id_estado": 7, "estado_anulacion": 0, "estado_confirmacion": 0}, "unconfirmed"),
        ({"id_estado": 1, "estado_anulacion": 1, "estado_confirmacion": 0}, "cancelled"),
        ({"id_estado": 3, "estado_anulacion": 0, "estado_confirmacion": 1}, "confirmed"),
        ({"id_estado": 20, "estado_anulacion": "0", "estado_confirmacion": "1"}, "confirmed"),
        ({"id_estado": 2, "estado_anulacion": 0, "estado_confirmacion": 0}, None),
    ],
)
def test_canonical_status_comes_from_the_flags_then_known_states(adapter, cita, status):
    assert adapter.status_of(cita) == status


def test_clinics_name_their_own_states(connect):
    adapter = connect(status_by_state_id={"2": "completed", "8": "no_show"})

    assert adapter.status_of({"id_estado": 2, "estado_anulacion": 0}) == "completed"
    assert adapter.status_of({"id_estado": 8, "estado_anulacion": 0}) == "no_show"


def test_a_wrong_state_table_is_a_configuration_error(connect):
    adapter = connect(status_by_state_id={"2": "done"})

    with pytest.raises(ConfigurationError, match="maps “2” to “done”"):
        adapter.status_of({"id_estado": 2})


# -- reference data and check ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "first"),
    [
        ("locations", "/api/v1/sucursales", {"id": 1, "nombre": "Providencia"}),
        ("practitioners", "/api/v1/dentistas", {"id": 1, "nombre": "Camila", "intervalo": 15}),
        ("specialties", "/api/v1/especialidades", {"id": 1, "nombre": "Odontología general"}),
        ("statuses", "/api/v1/citas/estados", {"id": 1, "nombre": "Anulado", "anulacion": 1}),
    ],
)
def test_reference_lists(adapter, simulator, kind, path, first):
    items = adapter.reference(kind)

    assert last_sent(simulator)[:2] == ("GET", path)
    assert items[0] | first == items[0]


def test_reference_lists_follow_next_links(adapter, simulator):
    simulator.page_size = 2

    dentists = adapter.reference("practitioners")

    assert [dentist["id"] for dentist in dentists] == [1, 2, 3, 4, 5]
    assert [sent.query.get("page") for sent in simulator.requests] == [None, "2", "3"]


def test_an_unknown_reference_kind_is_not_supported(adapter):
    with pytest.raises(NotSupported, match=r"Dentalink offers no “rooms” list\."):
        adapter.reference("rooms")


def test_check_reads_the_branches(adapter, simulator):
    assert adapter.check() == "Dentalink answered with 2 branch(es) (sucursales)."
    assert last_sent(simulator)[:2] == ("GET", "/api/v1/sucursales")


# -- the simulator refuses what Dentalink documents -------------------------------------------

VALID = {
    "id_dentista": 1,
    "id_sucursal": 1,
    "id_sillon": 1,
    "id_paciente": 2,
    "fecha": f"{NEXT_YEAR}-03-02",
    "hora_inicio": "09:00",
    "duracion": 30,
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"fecha": f"02/03/{NEXT_YEAR}"}, "El campo fecha debe tener el formato AAAA-MM-DD"),
        ({"fecha": f"{NEXT_YEAR}-02-30"}, "El campo fecha debe tener el formato AAAA-MM-DD"),
        ({"hora_inicio": "9:00"}, "El campo hora_inicio debe tener el formato HH:MM"),
        ({"hora_inicio": "09:00:00"}, "El campo hora_inicio debe tener el formato HH:MM"),
        ({"duracion": 0}, "El campo duracion debe ser un número entero positivo"),
        (
            {"duracion": 20},
            "La duración debe ser compatible con el intervalo de atención del "
            "profesional (15 minutos)",
        ),
        ({"id_paciente": "2"}, "El campo id_paciente debe ser un número entero positivo"),
        ({"id_sucursal": None}, "El campo id_sucursal es obligatorio"),
        ({"id_sillon": 4}, "El sillón indicado no existe en la sucursal"),
        ({"id_dentista": 99}, "El dentista indicado no existe"),
        ({"id_estado": 5}, "El estado indicado no existe"),
        (
            {"videoconsulta": 2},
            "El campo videoconsulta debe ser 1 (videoconsulta) o 0 (presencial)",
        ),
    ],
)
def test_simulator_validates_the_documented_formats(simulator, changes, message):
    answer = requests.post(
        f"{simulator.url}/api/v1/citas/",
        json=VALID | changes,
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=5,
    )

    assert (answer.status_code, answer.json()) == (400, {"error": {"message": message}})


def test_simulator_requires_videoconsulta_when_the_dentist_works_both_ways(simulator):
    answer = requests.post(
        f"{simulator.url}/api/v1/citas/",
        json=VALID,
        headers={"Authorization": f"Token {TOKEN}"},
        timeout=5,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "El horario admite ambas modalidades: el campo videoconsulta es obligatorio"
    )


def test_simulator_answers_a_taken_time_without_options_unless_asked(simulator):
    headers = {"Authorization": f"Token {TOKEN}"}
    body = VALID | {"videoconsulta": 0}
    requests.post(f"{simulator.url}/api/v1/citas/", json=body, headers=headers, timeout=5)

    again = requests.post(
        f"{simulator.url}/api/v1/citas/", json=body | {"id_paciente": 9}, headers=headers, timeout=5
    )

    assert (again.status_code, again.json()) == (400, {"error": {"message": TAKEN}})


def test_simulator_wants_the_token_scheme(simulator):
    answer = requests.get(
        f"{simulator.url}/api/v1/sucursales",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert (answer.status_code, answer.json()) == (
        401,
        {"error": {"message": "Token inválido o ausente"}},
    )
