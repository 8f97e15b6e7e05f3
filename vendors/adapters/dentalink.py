"""Dentalink (HealthAtom, Chile): payloads, paths and status tables.

Contract: ../shared/vendor-docs/dentalink-post-citas.txt and research-notes §1.

- Auth: `Authorization: Token <api_token>` (secret role "api_token"); the token is the clinic.
- Create: POST /citas/ with clinic-local `fecha` + `hora_inicio` and `duracion`; the answer is
  `{"data": {...cita..., "links": [...]}}`. Errors carry `{"error": {"message": "..."}}`.
- Options on the connection: `overflow_chair_id` (sobrecupo chair, default 7),
  `video_chair_id` (chair for a video visit booked without a room), `default_state_id`
  (`id_estado` sent on create, default 7 = No confirmado), `cancel_state_id` (a state whose
  `anulacion` is 1, e.g. 1 = Anulado; required to cancel) and `status_by_state_id` (extra
  state id -> canonical status pairs, e.g. {"2": "completed"}; state ids are per clinic).

Decisions where the documentation is silent:

- `videoconsulta` is always sent: 1 for video, 0 in person. The booking service has already
  settled the modality against the working-hours block (DESIGN §4.3), so stating it makes
  Dentalink check the same thing instead of guessing; a mismatch comes back as a refusal.
- A taken time is not documented. We read HTTP 409, or a 400/422 whose message says the time
  is not available (“no está disponible”, “ocupado”) or that carries options, as slot
  unavailable. We send `return_options: true` (the document's Bool, “en caso de fallar”: it
  only changes the answer when the time fails); the options are read from `opciones` (or
  `options`) at the top of the body or inside `error`/`data`, each `{"fecha": "YYYY-MM-DD",
  "hora_inicio": "HH:MM[:SS]"}` in clinic-local time, and returned as aware UTC alternatives.
- `id_tratamiento` is never sent. It names the *patient's* treatment plan, not a clinic-wide
  appointment type (DESIGN §3), and nothing here records that an appointment belongs to one
  patient's open plan (ExternalId has no such role). Omitted, Dentalink itself reuses the
  patient's active plan for that dentist and branch, or opens “Diagnóstico”. An appointment
  type's mapping is not read.
- Canonical status comes from the cita's flags first (`estado_anulacion` = 1 -> cancelled,
  `estado_confirmacion` = 1 -> confirmed), then from the small table of known state ids.
- Lists follow `links` with `rel: "next"` only while they stay on the connection's base URL,
  so the token is never sent to another host.
"""

from __future__ import annotations

import datetime
import json
import re
import zoneinfo
from collections.abc import Iterator, Mapping
from typing import Any

from vendors.base import POSITIVE_NUMBER, Adapter
from vendors.errors import ConfigurationError, SlotUnavailable, UnexpectedResponse, VendorError
from vendors.types import BookingRequest, PatientDetails, VendorAppointment

OVERFLOW_CHAIR_ID = 7  # “Los sobrecupos usan el sillón/recurso con ID 7”
UNCONFIRMED_STATE_ID = 7  # “la cita se crea con estado "No confirmado" (7)”
# State ids Dentalink documents; clinics add their own with the `status_by_state_id` option.
STATUS_BY_STATE_ID = {7: "unconfirmed"}
CANONICAL_STATUSES = {"unconfirmed", "confirmed", "arrived", "completed", "cancelled", "no_show"}
SLOT_TAKEN_WORDS = re.compile(r"no\s+(?:se\s+encuentra\s+|est[aá]\s+)?disponible|ocupad", re.I)
MAX_PAGES = 20
# Reference kinds -> paths.
REFERENCE_PATHS = {
    "locations": "sucursales",
    "practitioners": "dentistas",
    "specialties": "especialidades",
    "statuses": "citas/estados",
}
# What a cita's answer keeps in `details`: no patient names.
DETAIL_FIELDS = (
    "id_estado", "estado_cita", "estado_anulacion", "estado_confirmacion", "id_dentista",
    "id_sucursal", "id_sillon", "id_tratamiento", "fecha", "hora_inicio", "hora_fin", "duracion",
    "fecha_actualizacion",
)  # fmt: skip


class SlotTaken(SlotUnavailable):
    """A taken time whose options are still naive clinic-local datetimes (Dentalink's `fecha`
    + `hora_inicio`): `DentalinkAdapter.slot_taken` places them in the location's zone."""

    def __init__(self, message: str, *, options: list[datetime.datetime], **kwargs: Any):
        super().__init__(message, **kwargs)
        self.local_options = options


class DentalinkAdapter(Adapter):
    vendor = "dentalink"
    label = "Dentalink"

    required_secrets = ("api_token",)
    # Documented base URL: https://api.dentalink.healthatom.com/api/v1/
    production_hosts = ("api.dentalink.healthatom.com",)
    booking_path = "citas/"
    booking_roles = {
        "practitioner": False,
        "specialty": False,
        "location": True,
        "patient": True,
        "room": False,
    }
    id_formats = {"": POSITIVE_NUMBER}
    envelope_key = "data"
    vendor_terms = {
        "practitioner": "dentist (or specialty)",
        "location": "branch (sucursal)",
        "room": "chair (sillón)",
    }

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        local = request.local_start
        payload: dict[str, Any] = {}
        if "practitioner" in ids:
            payload["id_dentista"] = ids["practitioner"]
        elif "specialty" in ids:
            payload["id_especialidad"] = ids["specialty"]
        else:
            raise self.unmapped("practitioner")
        payload |= {
            "id_sucursal": ids["location"],
            "id_sillon": self._chair(request, ids),
            "id_paciente": ids["patient"],
            "id_estado": self._option_id("default_state_id", UNCONFIRMED_STATE_ID),
            "fecha": local.date().isoformat(),
            "hora_inicio": local.strftime("%H:%M"),
            "duracion": request.duration_minutes,
            "videoconsulta": 1 if request.modality == "video" else 0,
            "return_options": True,
        }
        if request.comment:
            payload["comentario"] = request.comment
        return payload

    def parse_booking(self, answer: Any) -> VendorAppointment:
        return self.appointment(self.record(answer))

    def slot_taken(
        self, taken: SlotUnavailable, request: BookingRequest, ids: Mapping[str, Any]
    ) -> SlotUnavailable:
        if not isinstance(taken, SlotTaken):
            return taken
        return SlotUnavailable(
            taken.message,
            vendor=self.vendor,
            status=taken.status,
            vendor_message=taken.vendor_message,
            alternatives=_in_zone(taken.local_options, request.time_zone),
        )

    # -- other operations ----------------------------------------------------------------

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        body: dict[str, Any] = {"id_estado": self._option_id("cancel_state_id", required=True)}
        if reason:
            body["comentarios"] = reason  # PUT says `comentarios`, create says `comentario`
        answer = self.call("PUT", f"citas/{self.parse_id(external_id, 'appointment')}",
                           json_body=body)  # fmt: skip
        return self.appointment(self.record(answer))

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        """The active cita for this patient, date, start time, branch and dentist, if any."""
        local = request.local_start
        query = {
            "id_paciente": {"eq": self.external_id(request.refs, "patient")},
            "fecha": {"eq": local.date().isoformat()},
        }
        dentist = (
            self.external_id(request.refs, "practitioner")
            if request.refs.get("practitioner")
            else None
        )
        branch = self.external_id(request.refs, "location")
        for cita in self._pages("citas", {"q": json.dumps(query, separators=(",", ":"))}):
            if (
                str(cita.get("hora_inicio", ""))[:5] == local.strftime("%H:%M")
                and _int_or_none(cita.get("id_sucursal")) == branch
                and (dentist is None or _int_or_none(cita.get("id_dentista")) == dentist)
                and not _flag(cita.get("estado_anulacion"))
            ):
                return self.appointment(cita)
        return None

    def lookup(self, external_id: str) -> VendorAppointment:
        body = self.call("GET", f"citas/{self.parse_id(external_id, 'appointment')}")
        return self.appointment(self.record(body))

    def reference(self, kind: str) -> list[dict[str, Any]]:
        path = REFERENCE_PATHS.get(kind)
        if path is None:
            return super().reference(kind)
        return list(self._pages(path))

    def register_patient(self, patient: PatientDetails) -> str:
        """POST /pacientes (nombre + apellidos at least); the RUT goes in `rut` when known."""
        body: dict[str, Any] = {"nombre": patient.given_name, "apellidos": patient.family_name}
        if patient.national_id and patient.national_id_type == "rut":
            body["rut"] = patient.national_id
        if patient.birth_date:
            body["fecha_nacimiento"] = patient.birth_date.isoformat()
        if patient.phone:
            body["celular"] = patient.phone
        if patient.email:
            body["email"] = patient.email
        created = self.record(self.call("POST", "pacientes", json_body=body), what="the patient")
        if created.get("id") in (None, ""):
            raise UnexpectedResponse(
                "Dentalink answered without the patient's id.", vendor=self.vendor
            )
        return str(created["id"])

    def check(self) -> str:
        branches = self.record(self.call("GET", "sucursales"), many=True, what="its branches")
        return f"Dentalink answered with {len(branches)} branch(es) (sucursales)."

    # -- mapping ------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.secret('api_token')}"}

    def error_for(self, status: int, body: Any, response: Any) -> VendorError:
        options = _options(body)
        said = self.message_of(body)
        if status == 409 or (status in (400, 422) and (options or SLOT_TAKEN_WORDS.search(said))):
            return SlotTaken(
                "Dentalink says this time is no longer free; choose another time.",
                options=options,
                vendor=self.vendor,
                status=status,
                vendor_message=said,
            )
        return super().error_for(status, body, response)

    def appointment(self, cita: Mapping[str, Any]) -> VendorAppointment:
        if cita.get("id") in (None, ""):
            raise self.answered_without("the appointment's id")
        return VendorAppointment(
            external_id=str(cita["id"]),
            vendor_status=str(cita.get("estado_cita") or cita.get("id_estado") or ""),
            status=self.status_of(cita),
            details={name: cita[name] for name in DETAIL_FIELDS if name in cita},
        )

    def status_of(self, cita: Mapping[str, Any]) -> str | None:
        if _flag(cita.get("estado_anulacion")):
            return "cancelled"
        if _flag(cita.get("estado_confirmacion")):
            return "confirmed"
        table = dict(STATUS_BY_STATE_ID)
        for state, status in (self.settings.option("status_by_state_id") or {}).items():
            if status not in CANONICAL_STATUSES or _int_or_none(state) is None:
                raise ConfigurationError(
                    f"The option “status_by_state_id” maps “{state}” to “{status}”: use "
                    f"Dentalink state ids and one of {', '.join(sorted(CANONICAL_STATUSES))}.",
                    vendor=self.vendor,
                )
            table[int(state)] = status
        return table.get(_int_or_none(cita.get("id_estado")))

    # -- helpers ------------------------------------------------------------------------

    def _chair(self, request: BookingRequest, ids: Mapping[str, Any]) -> int:
        if request.room_is_overflow:
            return self._option_id("overflow_chair_id", OVERFLOW_CHAIR_ID)
        if "room" in ids:
            return ids["room"]
        if request.modality == "video" and self.settings.option("video_chair_id"):
            return self._option_id("video_chair_id")
        raise ConfigurationError(
            "Dentalink needs a chair (id_sillon) for every appointment: map the room to its "
            "Dentalink chair, or for video visits set the option “video_chair_id”.",
            vendor=self.vendor,
        )

    def _option_id(self, name: str, default: int | None = None, *, required: bool = False) -> int:
        return self.settings.option(name, default, required=required, kind=POSITIVE_NUMBER)

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a list, following `rel: next` links on our own base URL."""
        base = self.settings.base_url.rstrip("/") + "/"
        for _ in range(MAX_PAGES):
            body = self.call("GET", path, params=params)
            yield from self.record(body, many=True, what="the expected list")
            following = _next_link(body)
            if not following or not following.startswith(base):
                return
            path, params = following[len(base) :], None


def _next_link(body: Any) -> str | None:
    links = body.get("links") if isinstance(body, Mapping) else None
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("rel") == "next" and link.get("href"):
            return str(link["href"])
    return None


def _options(body: Any) -> list[datetime.datetime]:
    """Alternative times in a refusal, as naive clinic-local datetimes."""
    if not isinstance(body, Mapping):
        return []
    places = [body, body.get("error"), body.get("data")]
    for place in places:
        if not isinstance(place, Mapping):
            continue
        found = place.get("opciones", place.get("options"))
        if isinstance(found, list):
            return [moment for item in found if (moment := _local_moment(item)) is not None]
    return []


def _local_moment(item: Any) -> datetime.datetime | None:
    if not isinstance(item, Mapping):
        return None
    try:
        day = datetime.date.fromisoformat(str(item.get("fecha")))
        time = datetime.time.fromisoformat(str(item.get("hora_inicio")))
    except ValueError:
        return None
    return datetime.datetime.combine(day, time)


def _in_zone(moments: list[datetime.datetime], time_zone: str) -> list[datetime.datetime]:
    """Clinic-local wall times -> aware UTC; times skipped by DST are dropped, and a repeated
    time means its first occurrence (Dentalink's wall clock cannot say which)."""
    zone = zoneinfo.ZoneInfo(time_zone)
    aware = []
    for moment in moments:
        instant = moment.replace(tzinfo=zone).astimezone(datetime.UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == moment:
            aware.append(instant)
    return aware


def _flag(value: Any) -> bool:
    return value in (1, True, "1", "true")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
