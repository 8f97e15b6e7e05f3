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

Reading the calendar (DESIGN §8; research-notes §1.4 "Agenda grid", "Free slots", "Status
catalogue"). Dentalink has no change feed, so every pull reads the whole window:

- Busy time: the agenda of each mapped branch × mapped dentist,
  `GET sucursales/{id}/dentistas/{id}/agendas?q={"fecha_inicio":{"eq":…},"fecha_fin":{"eq":…},
  "mostrar_detalles":{"eq":"1"}}` (the document's example spelling; it also writes
  `mostar_detalles`). Every grid cell of a cita or Bloqueo repeats the whole item, so cells are
  merged into one span per cita (its `id_cita`) or block (`bloqueo:<dentist>:<date>:<HH:MM>`:
  blocks have no ID, and a block's dentist, day and start name it stably). `inicio`/`fin` are
  clinic-local wall-clock times, placed in the query's zone (a repeated hour means its first
  occurrence). A cita's room is its chair (none for the sobrecupo chair); a block holds the
  dentist's time, so it has no room. A cell of another `tipo` is a plain busy span
  (`ocupado:<dentist>:<date>:<HH:MM>`). An unavailable cell without details, or any shape but
  `true`/an object, is an unreadable answer. IDs that are not Dentalink IDs are skipped.
  Chairs are not read on their own (there is no agenda per chair): a chair is busy as far as
  the mapped dentists' agendas say.
- The window is read in chunks of 14 local days: the range limit HealthAtom documents for its
  other agenda read (`horariosdisponibles`, 2 weeks), and a 14-day detailed grid stays far under
  the transport's 2 MiB answer cap (about 0.5 MB for a fully booked 15-minute grid on 3 chairs)
  while 60 days cost 5 calls per dentist and branch.
- Statuses, only when some of our appointments fall in the window (`query.ours`): the state
  catalogue `GET citas/estados` (every page) and the citas list
  `GET citas?q={"fecha":{"gte":…,"lte":…}}`, every `rel: next` page (a next link off our base
  URL, or a list that does not end, fails the read instead of returning part of it). The list
  gives our citas' state, new date and time (a move), and our cancelled citas, which the agenda
  no longer shows; one of ours not in the list (moved out of the window, or deleted) is read
  with `GET citas/{id}`: 404 = deleted, left out of the complete read. The catalogue is read
  once per read: the list may carry only `id_estado` (Medilink's list has no flags).
- Canonical status of a cita: cancelled when `estado_anulacion` or its state's `anulacion` is 1
  (then `active` is False), confirmed when `estado_confirmacion` (or a `confirmacion` flag in
  the catalogue, if a clinic's has one) is 1, then the known/configured state table
  (`status_by_state_id`), then completed for a *reserved* state named “Atendido”: reserved
  states are the ones Dentalink ships, so that name is Dentalink's own word for a visit that
  took place, not a clinic's label. Any other state: no canonical status. `vendor_status` is
  the state's name (`estado_cita` or the catalogue's `nombre`), never the cita's comment.
- Rate limits are not documented: a 429 is waited out (Retry-After up to 5 s), nothing is paced.
- Pre-flight (`is_free`): `GET horariosdisponibles` with the JSON body `{"ids_dentista": [id],
  "id_sucursal", "fecha_inicio", "fecha_fin"}` for the local day; the free blocks that touch
  are joined, and the request is free when its local start and end fit inside one. A dentist
  or day absent from the answer (no schedule; PHP may send an empty map as `[]`) is not free.
  A booking by specialty (no dentist) cannot be checked: NotSupported. One call, no 429 wait:
  a pre-flight that cannot answer at once is skipped by the caller.
- What fails a read: any call that fails (an agenda answering 404 too: a dentist or branch
  mapping Dentalink does not know), a page of the wrong shape, a list that does not end. With
  no mapped branch or dentist no agenda is read. Agenda spans outside
  the query's UTC window (agenda days are local days) are left out; a cita of ours keeps its
  own time wherever it was moved.

Onboarding a clinic (issue 12; research-notes §1.4 "Reference data"). Every list is read page
by page as the import consumes it (`links` rel "next", 429s waited out), in `sort=id:asc`
(documented for these lists) so that page-number paging stays stable; a page that cannot be
read raises UnexpectedResponse, a record that cannot be read is yielded with its `problem`:

- locations: `GET /sucursales` [DOC-copy]: nombre -> name, direccion, comuna and ciudad
  (each once: a comuna is often its city's name too) -> address, telefono -> phone,
  habilitada -> active. Dentalink says nothing of a time zone, so none is set (the clinic's
  applies).
- practitioners: `GET /dentistas` [DOC-copy]: nombre -> given_name, apellidos ->
  family_name, email, celular (else telefono) -> phone, habilitado -> active. No title.
- hours: `GET /dentistas/{id}/horarios` for each dentist whose `horarios_sucursal` (the
  branches where they have a schedule) is not empty. `/dentistas` itself only lists those
  branch ids, not the schedule. The schedule read is named in a third-party endpoint table
  and reported working ("weekly schedule with interval"), but HealthAtom publishes no shape,
  so it is read as the other Dentalink lists are: `data` a list of blocks `{id?, id_sucursal,
  dia, hora_inicio, hora_fin, intervalo?}` (also `dia_semana`). `dia` is a number or a Spanish
  day name: 1-6 are Monday-Saturday in both of PHP's numberings, 0 and 7 are Sunday. Times are
  clinic-local wall clock (HH:MM[:SS]); the block's `intervalo`, else the dentist's, becomes
  slot_interval_minutes. A block is `<dentist>:<block id>`, or without an id
  `<dentist>:<branch>:<weekday>:<HH:MM>`; refs: practitioner and location. A 404 there is the
  endpoint missing for this clinic: the import of hours fails saying so.
- patients: `GET /pacientes?q={"habilitado":{"eq":1}}` [DOC-copy] (a disabled patient is left
  at Dentalink: Dentalink does not de-duplicate RUTs, and a disabled chart is often a retired
  duplicate that would clash with the live one here): nombre, apellidos, fecha_nacimiento
  (YYYY-MM-DD, or DD/MM/YYYY as some outputs are said to write it; "0000-00-00" or empty =
  unknown), celular (else telefono), email, rut -> national_id with type "rut"
  (`tipo_documento` 1 = passport: "passport"), sexo M/F -> male/female (any other value:
  other). Empty values are left out.
- rooms and appointment types are not imported (`import_gaps`): Dentalink documents no chair
  list (Medilink does; chair ids only appear on citas and in the agenda), and its only
  "treatment" is one patient's plan (`id_tratamiento`), never a clinic-wide type.

A patient not mapped yet is looked for before being registered (issue 12; research-notes §1.4
"Patients": POST /pacientes does not de-duplicate RUTs, "search first"). Each criterion is one
or a few `GET /pacientes?q={…,"habilitado":{"eq":1}}&sort=id:asc` (the documented filter
columns), every page read (next links split into path and query, so no patient value reaches a
log line; at most MAX_SEARCH_PAGES, more is an error asking to map the patient by hand). What
Dentalink answers is only a shortlist; what is kept is decided here, and only enabled patients
(`habilitado` 1; a disabled chart is often a retired duplicate) ever match:
- national ID: a RUT (our type "rut") is asked as `rut eq` in the documented form
  `12345678-9`, dotted `12.345.678-9` and as we wrote it (a K check digit also in lower case);
  kept: a listed RUT (`tipo_documento` 0, or none given) with the same RUT ignoring dots,
  dashes, spaces, case and leading zeros. A passport is asked as written and without
  separators; kept: a passport (`tipo_documento` 1) with the same letters and digits.
  Dentalink records no other document, so a DNI, NIR or "other" ID is not searched.
- e-mail: `email eq` as we wrote it (and in lower case); kept: the same address ignoring case.
- phone: `celular lk %<digits>%` and `telefono lk %<digits>%` (`lk` is reported, not
  documented), our digits without a +56/0056 country code; kept: a celular or telefono with the
  same digits, or where one ends with the other and the shorter has at least 8 digits (with or
  without +56). A number Dentalink holds with spaces or dashes inside is not found this way.
- name and birth date: `fecha_nacimiento eq YYYY-MM-DD` alone (a name filter would miss
  another spelling of the accents and register the patient twice); kept: nombre and apellidos
  equal to ours ignoring case, accents and spacing, with that birth date.
An e-mail, phone or name match is not sure when the listed patient contradicts ours: another
RUT (or passport), another birth date (e-mail and phone), or given names sharing no word
(e-mail and phone: a family's shared address or number is not the patient). Such a candidate
is left out, so the patient is registered rather than booked under a relative. A search that
fails (5xx, no answer, an unreadable page) raises VendorUnavailable: nothing was changed at
Dentalink, the delivery is tried again.
"""

from __future__ import annotations

import datetime
import json
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from vendors.base import POSITIVE_NUMBER, SHAPE_ERRORS, Adapter
from vendors.errors import (
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    SlotUnavailable,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
)
from vendors.types import (
    APPOINTMENT,
    BLOCK,
    BUSY,
    CRITERION_WORDS,
    PATIENT_CRITERIA,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    ImportedRecord,
    PatientDetails,
    VendorAppointment,
)

OVERFLOW_CHAIR_ID = 7  # “Los sobrecupos usan el sillón/recurso con ID 7”
UNCONFIRMED_STATE_ID = 7  # “la cita se crea con estado "No confirmado" (7)”
# State ids Dentalink documents; clinics add their own with the `status_by_state_id` option.
STATUS_BY_STATE_ID = {7: "unconfirmed"}
CANONICAL_STATUSES = {"unconfirmed", "confirmed", "arrived", "completed", "cancelled", "no_show"}
SLOT_TAKEN_WORDS = re.compile(r"no\s+(?:se\s+encuentra\s+|est[aá]\s+)?disponible|ocupad", re.I)
MAX_PAGES = 20
# A calendar read follows a list to its end; this only stops a list that never ends.
MAX_READ_PAGES = 1000
# Local days per agenda call (see the module's docstring).
AGENDA_CHUNK_DAYS = 14
# The reserved state whose name says the visit took place.
ATTENDED = "atendido"
# An import follows a list to its end (50,000 patients at 20 a page are 2,500 pages); this only
# stops a list that never ends.
MAX_IMPORT_PAGES = 100_000
# The calls an import keeps in `exchanges` (the latest): never every page of a long list.
KEEP_EXCHANGES = 20
# Documented ordering of the lists an import reads: page numbers then stay stable.
BY_ID = {"sort": "id:asc"}
# The patients an import reads (see the module's docstring).
ENABLED = json.dumps({"habilitado": {"eq": 1}}, separators=(",", ":"))
# Pages of one patient search read at most: more candidates cannot be told apart.
MAX_SEARCH_PAGES = 50
# Fewest digits a phone needs to be searched and matched by (research: "last 8+ digits").
MIN_PHONE_DIGITS = 8
# A schedule block's day: 1-6 = Monday-Saturday in both of PHP's numberings, 0 and 7 Sunday.
DAY_NAMES = {"lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5,
             "domingo": 6}  # fmt: skip
SEXES = {"m": "male", "masculino": "male", "f": "female", "femenino": "female"}
# `tipo_documento`: 0 = cédula/RUT, 1 = pasaporte.
DOCUMENT_TYPES = {0: "rut", 1: "passport"}
CLOCK = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")
NO_DATE = "0000-00-00"
ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
CHILEAN_DATE = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
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
    # The agenda's cells name the patient beside `id_paciente`; a patient list holds the
    # patient's address (street, comuna, city), chart number and notes: a patient search's
    # answer lists other patients too, whom no scrubbing of ours knows.
    sensitive_keys = frozenset({"apellidos_paciente", "direccion", "comuna", "ciudad",
                                "numero_ficha", "observaciones"})  # fmt: skip
    vendor_terms = {
        "practitioner": gettext_lazy("dentist (or specialty)"),
        "location": gettext_lazy("branch (sucursal)"),
        "room": gettext_lazy("chair (sillón)"),
    }
    imports = ("locations", "practitioners", "hours", "patients")
    import_gaps = {
        "rooms": gettext_lazy(
            "Dentalink documents no list of its chairs (sillones): map each room to its "
            "chair's ID (id_sillon, shown on the chair's citas) by hand in External IDs."
        ),
        "types": gettext_lazy(
            "Dentalink has no clinic-wide appointment types (a cita's id_tratamiento is one "
            "patient's treatment plan), so there are none to import or map."
        ),
    }
    # GET /pacientes filters by every criterion (see the module's docstring).
    patient_search = PATIENT_CRITERIA

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
        created = self.record(self.call("POST", "pacientes", json_body=body), what=_("the patient"))
        if created.get("id") in (None, ""):
            raise UnexpectedResponse(
                _("Dentalink answered without the patient's id."), vendor=self.vendor
            )
        return str(created["id"])

    def check(self) -> str:
        branches = self.record(self.call("GET", "sucursales"), many=True, what=_("its branches"))
        return ngettext(
            "Dentalink answered with %(count)d branch(es) (sucursales).",
            "Dentalink answered with %(count)d branch(es) (sucursales).",
            len(branches),
        ) % {"count": len(branches)}

    # -- the calendar (DESIGN §8) ---------------------------------------------------------

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        first, last = query.local_days
        spans: dict[str, BusySpan] = {}
        for branch in _ids(query.locations):
            for dentist in _ids(query.practitioners):
                for since, until in _chunks(first, last, AGENDA_CHUNK_DAYS):
                    for span in self._agenda(branch, dentist, since, until, query.zone):
                        spans.setdefault(span.external_id, span)
        spans = {key: span for key, span in spans.items()
                 if span.start < query.end and query.start < span.end}  # fmt: skip
        ours = {str(number) for number in _ids(query.ours)}
        if ours:
            spans |= self._states(spans, ours, first, last, query.zone)
        return CalendarRead(
            sorted(spans.values(), key=lambda span: (span.start, span.external_id)),
            complete=True,
            cursor="",
            lists_appointments=True,
        )

    def is_free(self, request: BookingRequest) -> bool:
        if not request.refs.get("practitioner"):
            raise NotSupported(
                _(
                    "Dentalink's free-time check needs the dentist; a booking by specialty is "
                    "not checked."
                ),
                vendor=self.vendor,
            )
        dentist = self.external_id(request.refs, "practitioner")
        branch = self.external_id(request.refs, "location")
        start = request.local_start.replace(tzinfo=None)
        end = start + datetime.timedelta(minutes=request.duration_minutes)
        day = start.date().isoformat()
        body = {"ids_dentista": [dentist], "id_sucursal": branch, "fecha_inicio": day,
                "fecha_fin": day}  # fmt: skip
        answer = self.call("GET", "horariosdisponibles", json_body=body)
        days = _mapping(_mapping(answer["data"]).get(str(dentist), {}))
        free = _joined(_free_range(start.date(), block) for block in _list(days.get(day, [])))
        return any(since <= start and end <= until for since, until in free)

    def calendar_status(
        self, cita: Mapping[str, Any], catalogue: Mapping[int, Mapping[str, Any]]
    ) -> str | None:
        """A listed cita's canonical status: its own flags, its state's catalogue flags, the
        state table, then Dentalink's reserved “Atendido” (see the module's docstring)."""
        state = catalogue.get(_int_or_none(cita.get("id_estado")), {})
        if _flag(cita.get("estado_anulacion")) or _flag(state.get("anulacion")):
            return "cancelled"
        if _flag(cita.get("estado_confirmacion")) or _flag(state.get("confirmacion")):
            return "confirmed"
        known = self.status_of(cita)
        if known is not None:
            return known
        named = str(state.get("nombre", "")).strip().lower()
        return "completed" if _flag(state.get("reservado")) and named == ATTENDED else None

    def _agenda(
        self,
        branch: int,
        dentist: int,
        since: datetime.date,
        until: datetime.date,
        zone: zoneinfo.ZoneInfo,
    ) -> Iterator[BusySpan]:
        """The citas and blocks in one dentist's agenda at one branch, one span per cell."""
        query = {
            "fecha_inicio": {"eq": since.isoformat()},
            "fecha_fin": {"eq": until.isoformat()},
            "mostrar_detalles": {"eq": "1"},
        }
        body = self.read(f"sucursales/{branch}/dentistas/{dentist}/agendas",
                         params={"q": _compact(query)})  # fmt: skip
        days = _mapping(_mapping(body["data"])["fechas"])
        for fecha, day in days.items():
            for hours in _mapping(_mapping(day).get("horas", {})).values():
                for chair, cell in _mapping(_mapping(hours)["sillones"]).items():
                    if cell is True:
                        continue
                    if not isinstance(cell, Mapping):
                        raise ValueError("an unavailable cell without details")
                    yield self._cell_span(cell, fecha, chair, branch, dentist, zone)

    def _cell_span(
        self,
        cell: Mapping[str, Any],
        fecha: str,
        chair: str,
        branch: int,
        dentist: int,
        zone: zoneinfo.ZoneInfo,
    ) -> BusySpan:
        day = datetime.date.fromisoformat(fecha)
        start, end = _local_span(day, cell["inicio"], cell.get("fin"), cell.get("duracion_total"))
        begins, ends = _utc(start, zone), _utc(end, zone)
        where = {"practitioner": str(dentist), "location": str(branch)}
        if cell.get("tipo") == "Cita":
            if cell.get("id_cita") in (None, ""):
                raise ValueError("a cita without its id")
            return BusySpan(begins, ends, APPOINTMENT, external_id=str(cell["id_cita"]),
                            room=self._room(chair), patient=_text(cell.get("id_paciente")),
                            **where)  # fmt: skip
        # A block holds the dentist's time, whichever chair's cell shows it: no room.
        kind = BLOCK if cell.get("tipo") == "Bloqueo" else BUSY
        name = f"{'bloqueo' if kind == BLOCK else 'ocupado'}:{dentist}:{fecha}:{start:%H:%M}"
        return BusySpan(begins, ends, kind, external_id=name, **where)

    def _states(
        self,
        spans: Mapping[str, BusySpan],
        ours: set[str],
        first: datetime.date,
        last: datetime.date,
        zone: zoneinfo.ZoneInfo,
    ) -> dict[str, BusySpan]:
        """Our citas (and the agenda's) with their state and current time, from the citas
        list; ours it does not hold are read one by one (404: deleted, left out)."""
        catalogue = {
            _int_or_none(state.get("id")): state for state in self._read_pages("citas/estados")
        }
        query = {"fecha": {"gte": first.isoformat(), "lte": last.isoformat()}}
        found: dict[str, BusySpan] = {}
        for cita in self._read_pages("citas", {"q": _compact(query)}):
            key = str(cita.get("id", ""))
            if key in ours or key in spans:
                found[key] = self._cita_span(cita, catalogue, zone)
        for key in sorted(ours - found.keys(), key=int):
            try:
                cita = _mapping(self.read(f"citas/{key}")["data"])
            except NotFound:
                continue
            found[key] = self._cita_span(cita, catalogue, zone)
        return found

    def _cita_span(
        self,
        cita: Mapping[str, Any],
        catalogue: Mapping[int, Mapping[str, Any]],
        zone: zoneinfo.ZoneInfo,
    ) -> BusySpan:
        if cita.get("id") in (None, ""):
            raise ValueError("a cita without its id")
        day = datetime.date.fromisoformat(str(cita["fecha"]))
        start, end = _local_span(day, cita["hora_inicio"], cita.get("hora_fin"),
                                 cita.get("duracion"))  # fmt: skip
        status = self.calendar_status(cita, catalogue)
        state = catalogue.get(_int_or_none(cita.get("id_estado")), {})
        return BusySpan(
            _utc(start, zone),
            _utc(end, zone),
            APPOINTMENT,
            external_id=str(cita["id"]),
            practitioner=_text(cita.get("id_dentista")),
            room=self._room(cita.get("id_sillon")),
            location=_text(cita.get("id_sucursal")),
            patient=_text(cita.get("id_paciente")),
            vendor_status=str(cita.get("estado_cita") or state.get("nombre") or ""),
            status=status,
            active=status != "cancelled",
        )

    def _room(self, chair: Any) -> str:
        """The chair as a room's vendor ID; the sobrecupo chair is no room."""
        number = _int_or_none(chair)
        overflow = self._option_id("overflow_chair_id", OVERFLOW_CHAIR_ID)
        return "" if number is None or number == overflow else str(number)

    def _read_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        pages: int = MAX_READ_PAGES,
    ) -> Iterator[dict]:
        """Every item of a list, to its end (429s waited out); a list that cannot be read to
        its end raises."""
        base = self.settings.base_url.rstrip("/") + "/"
        for _page in range(pages):
            body = self.read(path, params=params)
            yield from _list(body["data"])
            following = _next_link(body)
            if not following:
                return
            if not following.startswith(base):
                raise UnexpectedResponse(
                    _(
                        "Dentalink pointed the next page of a list away from the connection's "
                        "base URL; the list was not read to its end."
                    ),
                    vendor=self.vendor,
                )
            if params is None and following[len(base) :] == path:
                raise UnexpectedResponse(
                    _(
                        "Dentalink named a page of a list as its own next page; the list was "
                        "not read to its end."
                    ),
                    vendor=self.vendor,
                )
            path, params = following[len(base) :], None
        raise UnexpectedResponse(
            _("Dentalink's list did not end after %(pages)d pages.") % {"pages": pages},
            vendor=self.vendor,
        )

    # -- onboarding (issue 12; see the module's docstring) --------------------------------

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        readers: dict[str, Callable[[], Iterator[ImportedRecord]]] = {
            "locations": lambda: self._records("locations", "sucursales", _location_fields),
            "practitioners": lambda: self._records(
                "practitioners", "dentistas", _practitioner_fields
            ),
            "hours": self._import_hours,
            "patients": lambda: self._records(
                "patients", "pacientes", _patient_fields, {"q": ENABLED}
            ),
        }
        if kind not in readers:
            return super().import_records(kind)
        return readers[kind]()

    def _records(
        self,
        kind: str,
        path: str,
        fields: Callable[[Mapping[str, Any]], dict[str, Any]],
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[ImportedRecord]:
        for item in self._import_pages(path, params):
            yield _imported(kind, item, fields)

    def _import_hours(self) -> Iterator[ImportedRecord]:
        for dentist in self._import_pages("dentistas"):
            yield from self._dentist_hours(dentist)

    def _dentist_hours(self, dentist: Any) -> Iterator[ImportedRecord]:
        """The blocks of one dentist's weekly schedule (none where `horarios_sucursal` says
        the dentist has a schedule in no branch)."""
        key = _id_of(dentist)
        if not key:
            yield ImportedRecord(
                "hours", "", problem=_("a dentist without a valid id: their schedule was not read")
            )
            return
        if dentist.get("horarios_sucursal") == []:
            return
        try:
            for block in self._import_pages(f"dentistas/{key}/horarios"):
                yield _hours_record(key, block, dentist.get("intervalo"))
        except NotFound:
            raise UnexpectedResponse(
                _(
                    "Dentalink answered 404 to dentist %(key)s's schedule (GET dentistas/%(key)s/"
                    "horarios), a read HealthAtom does not document publicly; set the working "
                    "hours here instead."
                )
                % {"key": key},
                vendor=self.vendor,
                status=404,
            ) from None

    def _import_pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list for an import, read page by page as they are consumed; a
        page of the wrong shape raises UnexpectedResponse. Only the latest calls stay in
        `exchanges`, so a long list is never held through them."""
        pages = self._read_pages(path, {**(params or {}), **BY_ID}, pages=MAX_IMPORT_PAGES)
        while True:
            try:
                item = next(pages)
            except StopIteration:
                return
            except SHAPE_ERRORS:
                raise UnexpectedResponse(
                    _(
                        "Dentalink answered a page of its “%(path)s” list in a shape we cannot "
                        "read; the list was not read to its end."
                    )
                    % {"path": path},
                    vendor=self.vendor,
                ) from None
            if len(self.exchanges) > KEEP_EXCHANGES:
                del self.exchanges[:-KEEP_EXCHANGES]
            yield item

    # -- patients not mapped yet (issue 12; see the module's docstring) ------------------

    def search_patients(self, criterion: str, patient: PatientDetails) -> list[str]:
        self._searches_by(criterion)
        found: dict[str, None] = {}
        try:
            for query in _patient_queries(criterion, patient):
                for item in self._searched(query, criterion):
                    key = _id_of(item)
                    if key and _enabled(item) and _same_patient(criterion, patient, item):
                        found.setdefault(key, None)
        except UnexpectedResponse as failed:  # a read changed nothing at Dentalink
            raise self._search_failed(_("an answer we cannot read"), failed.status) from None
        except OutcomeUnknown as failed:
            said = f"HTTP {failed.status}" if failed.status else _("no answer in time")
            raise self._search_failed(said, failed.status) from None
        except SHAPE_ERRORS:
            raise self._search_failed(_("an answer we cannot read")) from None
        return list(found)

    def _searched(self, query: Mapping[str, Any], criterion: str) -> Iterator[Any]:
        """Every enabled patient GET /pacientes answers for one filter, page after page
        (429s waited out); a next link is split into path and query so that the patient's
        values stay out of the log lines (they are scrubbed from stored exchanges)."""
        base = self.settings.base_url.rstrip("/") + "/"
        path = "pacientes"
        params: dict[str, Any] = {"q": _compact({**query, "habilitado": {"eq": 1}}), **BY_ID}
        asked: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
        for _page in range(MAX_SEARCH_PAGES):
            asked.add((path, tuple(sorted(params.items()))))
            body = self.read(path, params=params)
            yield from _list(body["data"])
            following = _next_link(body)
            if not following:
                return
            if not following.startswith(base):
                raise UnexpectedResponse(
                    _(
                        "Dentalink pointed the next page of a patient search away from the "
                        "connection's base URL."
                    ),
                    vendor=self.vendor,
                )
            path, params = _split_link(following[len(base) :])
            if (path, tuple(sorted(params.items()))) in asked:
                raise UnexpectedResponse(
                    _("Dentalink named a page of a patient search as its own next page."),
                    vendor=self.vendor,
                )
        raise VendorError(
            _(
                "Dentalink answered a search by this patient's %(criterion)s with more than "
                "%(pages)d pages of patients, too many to tell apart: map the patient to its "
                "Dentalink ID in the admin (External IDs)."
            )
            % {"criterion": CRITERION_WORDS[criterion], "pages": MAX_SEARCH_PAGES},
            vendor=self.vendor,
        )

    def _search_failed(self, what: str, status: int | None = None) -> VendorUnavailable:
        """A patient search that could not be finished: retried, as nothing was sent yet."""
        return VendorUnavailable(
            _(
                "Dentalink could not finish a search for this patient (%(what)s); nothing was "
                "changed there, and it will be tried again."
            )
            % {"what": what},
            vendor=self.vendor,
            status=status,
        )

    # -- mapping ------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.secret('api_token')}"}

    def error_for(self, status: int, body: Any, response: Any) -> VendorError:
        options = _options(body)
        said = self.message_of(body)
        if status == 409 or (status in (400, 422) and (options or SLOT_TAKEN_WORDS.search(said))):
            return SlotTaken(
                _("Dentalink says this time is no longer free; choose another time."),
                options=options,
                vendor=self.vendor,
                status=status,
                vendor_message=said,
            )
        return super().error_for(status, body, response)

    def appointment(self, cita: Mapping[str, Any]) -> VendorAppointment:
        if cita.get("id") in (None, ""):
            raise self.answered_without(_("the appointment's id"))
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
                    _(
                        "The option “status_by_state_id” maps “%(state)s” to “%(status)s”: use "
                        "Dentalink state ids and one of %(statuses)s."
                    )
                    % {
                        "state": state,
                        "status": status,
                        "statuses": ", ".join(sorted(CANONICAL_STATUSES)),
                    },
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
            _(
                "Dentalink needs a chair (id_sillon) for every appointment: map the room to its "
                "Dentalink chair, or for video visits set the option “video_chair_id”."
            ),
            vendor=self.vendor,
        )

    def _option_id(self, name: str, default: int | None = None, *, required: bool = False) -> int:
        return self.settings.option(name, default, required=required, kind=POSITIVE_NUMBER)

    def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a list, following `rel: next` links on our own base URL."""
        base = self.settings.base_url.rstrip("/") + "/"
        for _page in range(MAX_PAGES):
            body = self.call("GET", path, params=params)
            yield from self.record(body, many=True, what=_("the expected list"))
            following = _next_link(body)
            if not following or not following.startswith(base):
                return
            path, params = following[len(base) :], None


# -- onboarding: one listed record in our model's words -----------------------------------------


class Malformed(ValueError):
    """What is wrong with a listed record, in words that quote none of its data."""


def _imported(
    kind: str, item: Any, fields: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> ImportedRecord:
    key = _id_of(item)
    if not isinstance(item, Mapping):
        return ImportedRecord(kind, "", problem=_("an item of the list is not an object"))
    if not key:
        return ImportedRecord(kind, "", problem=_("it has no valid id"))
    try:
        return ImportedRecord(kind, key, fields(item))
    except Malformed as wrong:
        return ImportedRecord(kind, key, problem=str(wrong))
    except SHAPE_ERRORS as error:
        return ImportedRecord(kind, key, problem=_unreadable(error))


def _unreadable(error: Exception) -> str:
    return _("it cannot be read (%(error)s)") % {"error": type(error).__name__}


def _location_fields(branch: Mapping[str, Any]) -> dict[str, Any]:
    fields = {"name": _required(branch, "nombre"), "address": _address(branch),
              "phone": _text_of(branch, "telefono")}  # fmt: skip
    if branch.get("habilitada") is not None:
        fields["active"] = _flag_of(branch, "habilitada")
    return _filled(fields)


def _practitioner_fields(dentist: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        "given_name": _required(dentist, "nombre"),
        "family_name": _required(dentist, "apellidos"),
        "email": _text_of(dentist, "email"),
        "phone": _text_of(dentist, "celular") or _text_of(dentist, "telefono"),
    }
    if dentist.get("habilitado") is not None:
        fields["active"] = _flag_of(dentist, "habilitado")
    return _filled(fields)


def _patient_fields(patient: Mapping[str, Any]) -> dict[str, Any]:
    national_id = _text_of(patient, "rut")
    return _filled({
        "given_name": _required(patient, "nombre"),
        "family_name": _required(patient, "apellidos"),
        "birth_date": _birth_date(patient.get("fecha_nacimiento")),
        "sex": _sex(_text_of(patient, "sexo")),
        "phone": _text_of(patient, "celular") or _text_of(patient, "telefono"),
        "email": _text_of(patient, "email"),
        "national_id": national_id,
        "national_id_type": _document_type(patient.get("tipo_documento")) if national_id else "",
    })  # fmt: skip


def _hours_record(dentist: str, block: Any, interval: Any) -> ImportedRecord:
    """One block of a dentist's weekly schedule (see the module's docstring)."""
    number = _id_of(block)
    key = f"{dentist}:{number}" if number else ""
    if not isinstance(block, Mapping):
        problem = _("dentist %(id)s's schedule holds a block that is not an object")
        return ImportedRecord("hours", "", problem=problem % {"id": dentist})
    schedule = _("dentist %(id)s's schedule: %(problem)s")
    try:
        fields, branch = _block_fields(block, interval)
    except Malformed as wrong:
        return ImportedRecord("hours", key, problem=schedule % {"id": dentist, "problem": wrong})
    except SHAPE_ERRORS as error:
        problem = _("a block cannot be read (%(error)s)") % {"error": type(error).__name__}
        return ImportedRecord("hours", key, problem=schedule % {"id": dentist, "problem": problem})
    key = key or f"{dentist}:{branch}:{fields['weekday']}:{fields['start_time']:%H:%M}"
    return ImportedRecord("hours", key, fields, {"practitioner": dentist, "location": branch})


def _block_fields(block: Mapping[str, Any], interval: Any) -> tuple[dict[str, Any], str]:
    branch = _id_of({"id": block.get("id_sucursal")})
    if not branch:
        raise Malformed(_("a block has no valid branch (id_sucursal)"))
    start, end = _clock(block, "hora_inicio"), _clock(block, "hora_fin")
    if end <= start:
        raise Malformed(_("a block ends before it starts"))
    own = block.get("intervalo")
    minutes = _int_or_none(interval if own in (None, "") else own)
    if minutes is None or minutes <= 0:
        raise Malformed(_("a block has no interval in minutes (intervalo)"))
    day = block.get("dia", block.get("dia_semana"))
    fields = {"weekday": _weekday(day), "start_time": start, "end_time": end,
              "slot_interval_minutes": minutes}  # fmt: skip
    return fields, branch


def _id_of(item: Any) -> str:
    """A listed record's Dentalink id as text; "" when it has none that is one."""
    if not isinstance(item, Mapping):
        return ""
    number = _int_or_none(item.get("id"))
    return str(number) if number is not None and number > 0 else ""


def _text_of(item: Mapping[str, Any], key: str) -> str:
    """A text field, trimmed ("" when absent or null); a number is read as its digits."""
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Malformed(_("%(field)s is not text") % {"field": key})
    return str(value).strip()


def _required(item: Mapping[str, Any], key: str) -> str:
    text = _text_of(item, key)
    if not text:
        raise Malformed(_("it has no %(field)s") % {"field": key})
    return text


def _flag_of(item: Mapping[str, Any], key: str) -> bool:
    value = item[key]
    if value in (1, True, "1"):
        return True
    if value in (0, False, "0"):
        return False
    raise Malformed(_("%(field)s is neither 1 nor 0") % {"field": key})


def _filled(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields the vendor says something about: empty text and unknown dates left out."""
    return {name: value for name, value in fields.items() if value not in ("", None)}


def _address(branch: Mapping[str, Any]) -> str:
    """direccion, comuna and ciudad, each once (a comuna is often its city's name too)."""
    parts: list[str] = []
    for key in ("direccion", "comuna", "ciudad"):
        part = _text_of(branch, key)
        if part and _folded(part) not in {_folded(known) for known in parts}:
            parts.append(part)
    return ", ".join(parts)


def _folded(text: str) -> str:
    """Text compared without case or accents."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _birth_date(value: Any) -> datetime.date | None:
    """YYYY-MM-DD (or DD/MM/YYYY); empty or Dentalink's 0000-00-00 is no date."""
    if value in (None, "", NO_DATE):
        return None
    text = str(value).strip()
    iso, chilean = ISO_DATE.fullmatch(text), CHILEAN_DATE.fullmatch(text)
    try:
        if iso:
            return datetime.date(*map(int, iso.groups()))
        if chilean:
            day, month, year = map(int, chilean.groups())
            return datetime.date(year, month, day)
    except ValueError:
        pass
    raise Malformed(_("its birth date (fecha_nacimiento) is not a date"))


def _sex(value: str) -> str:
    if not value:
        return ""
    return SEXES.get(value.casefold(), "other")


def _document_type(value: Any) -> str:
    """`tipo_documento` as our national ID type; absent means the RUT (the list's default)."""
    if value in (None, ""):
        return "rut"
    number = _int_or_none(value)
    return "other" if number is None else DOCUMENT_TYPES.get(number, "other")


# -- finding a patient: what to ask, what to keep (see the module's docstring) --------------


def _patient_queries(criterion: str, patient: PatientDetails) -> list[dict[str, Any]]:
    """The `q` filters (without `habilitado`) one criterion asks; none when ours lacks it."""
    if criterion == "national_id":
        column, forms = "rut", _document_forms(patient)
    elif criterion == "email":
        email = patient.email.strip()
        column, forms = "email", [email, email.lower()] if email else []
    elif criterion == "phone":
        digits = _searched_digits(patient.phone)
        return [{column: {"lk": f"%{digits}%"}} for column in ("celular", "telefono")
                if digits]  # fmt: skip
    elif criterion == "name_birth_date" and patient.birth_date:
        named = _name(patient.given_name) and _name(patient.family_name)
        column, forms = "fecha_nacimiento", [patient.birth_date.isoformat()] if named else []
    else:
        return []
    return [{column: {"eq": form}} for form in dict.fromkeys(forms)]


def _document_forms(patient: PatientDetails) -> list[str]:
    """How Dentalink may hold our RUT or passport (no other document is searched)."""
    written = patient.national_id.strip()
    if not written or patient.national_id_type not in ("rut", "passport"):
        return []
    key = _document_key(written)
    if patient.national_id_type == "passport":
        return [written, key]
    body, check = key[:-1], key[-1:]
    if not body.isdigit():
        return [written]
    dotted = f"{int(body):,}".replace(",", ".")
    forms = [f"{body}-{check}", f"{dotted}-{check}", written]
    return forms + [form.lower() for form in forms if check == "K"]


def _document_key(text: str) -> str:
    """A RUT or passport compared without separators, case or leading zeros."""
    return "".join(char for char in text.upper() if char.isalnum()).lstrip("0")


def _document_of(item: Mapping[str, Any]) -> tuple[str, str]:
    """A listed patient's document kind ("rut", "passport" or "other") and key."""
    kind = _document_type(item.get("tipo_documento"))
    return kind, _document_key(_loose_text(item.get("rut")))


def _searched_digits(phone: str) -> str:
    """Our phone's digits as searched: without a +56 / 0056 country code (the digits the
    scrubbing of stored exchanges knows); "" when too short to tell a patient by."""
    digits = "".join(char for char in phone if char.isdigit())
    if phone.lstrip().startswith(("+", "00")):
        digits = digits[2:] if phone.lstrip().startswith("00") else digits
        if digits.startswith("56") and len(digits) - 2 >= MIN_PHONE_DIGITS:
            digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def _same_phone(ours: str, theirs: str) -> bool:
    """The same digits, or one ending with the other, the shorter of at least 8 digits
    (a number with and without +56 or 0056)."""
    mine = "".join(char for char in ours if char.isdigit())
    other = "".join(char for char in theirs if char.isdigit())
    shorter, longer = sorted((mine, other), key=len)
    return len(shorter) >= MIN_PHONE_DIGITS and longer.endswith(shorter)


def _same_patient(criterion: str, patient: PatientDetails, item: Any) -> bool:
    """Whether a listed patient is ours by this criterion exactly, and (but for the national
    ID, which decides alone) nothing of theirs contradicts ours."""
    if not isinstance(item, Mapping):
        return False
    if criterion == "national_id":
        return _document_of(item) == (patient.national_id_type,
                                       _document_key(patient.national_id))  # fmt: skip
    if criterion == "email":
        same = _loose_text(item.get("email")).casefold() == patient.email.strip().casefold()
    elif criterion == "phone":
        same = any(_same_phone(patient.phone, _loose_text(item.get(column)))
                   for column in ("celular", "telefono"))  # fmt: skip
    else:
        same = (
            _listed_birth_date(item) == patient.birth_date
            and _name(_loose_text(item.get("nombre"))) == _name(patient.given_name)
            and _name(_loose_text(item.get("apellidos"))) == _name(patient.family_name)
        )
    return same and not _contradicts(criterion, patient, item)


def _contradicts(criterion: str, patient: PatientDetails, item: Mapping[str, Any]) -> bool:
    """Another document of the same kind; for a shared e-mail or phone, another birth date
    or given names sharing no word (a relative, not the patient)."""
    kind, key = _document_of(item)
    ours = _document_key(patient.national_id)
    if key and ours and kind == patient.national_id_type and key != ours:
        return True
    if criterion == "name_birth_date":
        return False
    born = _listed_birth_date(item)
    if born and patient.birth_date and born != patient.birth_date:
        return True
    theirs, mine = _name(_loose_text(item.get("nombre"))).split(), _name(patient.given_name).split()
    return bool(theirs and mine and not set(theirs) & set(mine))


def _enabled(item: Any) -> bool:
    """Whether a listed patient is enabled (asked with `habilitado` 1: none given is)."""
    value = item.get("habilitado") if isinstance(item, Mapping) else None
    return value is None or _flag(value)


def _listed_birth_date(item: Mapping[str, Any]) -> datetime.date | None:
    try:
        return _birth_date(item.get("fecha_nacimiento"))
    except Malformed:
        return None


def _name(text: str) -> str:
    """A name compared without case, accents or the exact spacing."""
    return " ".join(_folded(text).split())


def _loose_text(value: Any) -> str:
    """A listed value as text, trimmed; anything but text or a number is no value."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return ""
    return str(value).strip()


def _split_link(relative: str) -> tuple[str, dict[str, str]]:
    """A next link (relative to the base URL) as its path and its query's parameters."""
    parts = urllib.parse.urlsplit(relative)
    return parts.path, dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))


def _weekday(value: Any) -> int:
    """A schedule block's day as 0 = Monday (see DAY_NAMES)."""
    number = _int_or_none(value)
    if number is not None and 0 <= number <= 7:
        return (number - 1) % 7
    if isinstance(value, str) and _folded(value.strip()) in DAY_NAMES:
        return DAY_NAMES[_folded(value.strip())]
    raise Malformed(_("a block has no day of the week (dia)"))


def _clock(block: Mapping[str, Any], key: str) -> datetime.time:
    value = block.get(key)
    if not isinstance(value, str) or not CLOCK.match(value.strip()):
        raise Malformed(_("a block's %(field)s is not a time of day") % {"field": key})
    try:
        return datetime.time.fromisoformat(value.strip())
    except ValueError:
        raise Malformed(_("a block's %(field)s is not a time of day") % {"field": key}) from None


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


def _ids(values: Iterable[str]) -> list[int]:
    """The values that are Dentalink IDs, as numbers; anything else is not read."""
    numbers = []
    for value in values:
        try:
            numbers.append(POSITIVE_NUMBER.parse(value))
        except (TypeError, ValueError):
            continue
    return numbers


def _chunks(
    first: datetime.date, last: datetime.date, days: int
) -> Iterator[tuple[datetime.date, datetime.date]]:
    """[first, last] (inclusive local dates) in consecutive pieces of at most `days` days."""
    while first <= last:
        until = min(last, first + datetime.timedelta(days=days - 1))
        yield first, until
        first = until + datetime.timedelta(days=1)


def _compact(query: Mapping[str, Any]) -> str:
    return json.dumps(query, separators=(",", ":"))


def _mapping(value: Any) -> Mapping[str, Any]:
    """A JSON object; an empty list is PHP's empty object."""
    if value == []:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return value


def _local_span(
    day: datetime.date, begins: Any, ends: Any, minutes: Any
) -> tuple[datetime.datetime, datetime.datetime]:
    """Naive clinic-local start and end: `ends` (HH:MM[:SS]) when it is after the start, else
    the start plus `minutes`."""
    start = datetime.datetime.combine(day, datetime.time.fromisoformat(str(begins)))
    if ends not in (None, ""):
        end = datetime.datetime.combine(day, datetime.time.fromisoformat(str(ends)))
        if end > start:
            return start, end
    return start, start + datetime.timedelta(minutes=_number_of(minutes))


def _free_range(
    day: datetime.date, block: Mapping[str, Any]
) -> tuple[datetime.datetime, datetime.datetime]:
    return _local_span(day, block["hora_inicio"], block.get("hora_fin"), block.get("intervalo"))


def _joined(
    ranges: Iterable[tuple[datetime.datetime, datetime.datetime]],
) -> list[tuple[datetime.datetime, datetime.datetime]]:
    """Ranges that touch or overlap, joined."""
    joined: list[tuple[datetime.datetime, datetime.datetime]] = []
    for since, until in sorted(ranges):
        if joined and since <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], until))
        else:
            joined.append((since, until))
    return joined


def _utc(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """A clinic-local wall-clock time as aware UTC (a repeated hour: its first occurrence)."""
    return moment.replace(tzinfo=zone).astimezone(datetime.UTC)


def _number_of(value: Any) -> int:
    number = _int_or_none(value)
    if number is None or number <= 0:
        raise ValueError(f"{value!r} is not a duration in minutes")
    return number


def _text(value: Any) -> str:
    return "" if value in (None, "") else str(value)


def _flag(value: Any) -> bool:
    return value in (1, True, "1", "true")


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
