"""Dentalink simulator: the documented endpoints under /api/v1, in memory.

What it checks, as ../shared/vendor-docs/dentalink-post-citas.txt describes:
`Authorization: Token <token>`; POST /citas/ with `id_dentista` or `id_especialidad`,
`id_sucursal`, `id_sillon`, `id_paciente`, `fecha` (YYYY-MM-DD), `hora_inicio` (HH:MM),
`duracion` (a positive multiple of the dentist's `intervalo`), optional `id_estado` (default 7),
`id_tratamiento` (the patient's treatment plan: one the simulator opened for another patient
is refused; default: a “Diagnóstico” plan for that patient, dentist and branch),
`comentario`, `videoconsulta` (required when the dentist works in both modalities, and must
match otherwise) and `return_options` (a Bool: true/false or 1/0).

What it decides where the documentation is silent (the adapter reads the same shapes):
- errors are `{"error": {"message": "..."}}` with 400 (bad data), 401, 404 and 429;
- a taken time (same dentist or same chair overlapping an active cita; the sobrecupo chair 7
  never conflicts) is HTTP 400 with the message “El horario seleccionado no se encuentra
  disponible”, and with `return_options` an `opciones` list inside `error`:
  `[{"fecha", "hora_inicio", "hora_fin", "id_dentista", "id_sillon"}]`, up to three;
- lists page by `?page=N` (`page_size` items) with a `links` entry `rel: "next"`;
- patients are not a closed list: any positive `id_paciente` is accepted (the clinic's real
  patients live in Dentalink, not here); dentists, branches, chairs and states are;
- POST /pacientes with a `rut` some patient already has (a generated one too, enabled or not;
  compared without dots, dashes, spaces, case or leading zeros) is HTTP 400 naming that
  patient;
- every dentist works every day 08:00–21:00 at every branch, in slots of their `intervalo`,
  in the branch's chairs and the sobrecupo chair (tests may set `days_off`, weekdays with no
  schedule); the clinic's wall clock is `time_zone` (America/Santiago).

Calendar reads (research-notes §1.4):
- GET /sucursales/{id}/dentistas/{id}/agendas?q={"fecha_inicio":{"eq":…},"fecha_fin":{"eq":…},
  "mostrar_detalles":{"eq":"1"}} (also spelt `mostar_detalles`): `data.fechas[date].horas
  ["HH:MM"].sillones[id] = true` (free) or, with details, the cita or Bloqueo in that slot
  `{tipo, id_cita, id_paciente, nombre_paciente, apellidos_paciente, comentario, bloque: "k/n",
  duracion_total, inicio, fin}`; without details an unavailable chair is left out. A day off is
  `[]`. Only this dentist's citas and blocks show; a chair another dentist holds in a slot is
  not this dentist's then and is left out of that slot. Cancelled citas free their slots.
- GET /horariosdisponibles with a JSON body `{ids_dentista: [...] (1-100), id_sucursal,
  fecha_inicio, fecha_fin}` (at most 2 weeks apart): `data[id][date] = [{hora_inicio, hora_fin,
  intervalo}]`, each free slot of the dentist (no active cita or block of theirs, any chair);
  unknown dentists are absent; an answer with no dentist at all is `"data": []` (PHP's empty
  object).
- GET /citas/?q={"fecha":{"gte":…,"lte":…}} filters and pages like every list; GET
  /citas/estados is the state catalogue (reserved = the states Dentalink ships: 1, 2 and 7).

Direct changes (`POST /__simulator/direct`, what staff do in Dentalink itself):
- book: a cita (`practitioner`, `start`, `minutes` (default 30), `room` = chair (default: the
  branch's first chair free then), `location` (default: the chair's branch, else 1), `patient`
  (default 1)) checked exactly as POST /citas/ checks it, so it is refused where the time is
  taken; or with `kind: "block"` a Bloqueo of the dentist (optional `location`: shown only in
  that branch's agenda; `room`: only in that chair) that later bookings of the dentist conflict
  with. Answers `{"id": "754"}` (a cita's id) or `{"id": "B1"}` (blocks have no API id).
- move: `id`, `start`, optional `minutes` (default: keep the duration), `practitioner`, `room`;
  refused where the new time is taken (by anything but itself).
- cancel: a cita takes the first state whose `anulacion` is 1; a block is removed.
- delete: the cita or block is gone from every list.

Onboarding reads (issue 12; every list pages like the others and accepts `sort`, served in
id order):
- GET /dentistas carries the documented `rut`, `celular`, `telefono`, `email`,
  `contratos_sucursal` and `horarios_sucursal` (branch ids; [] when every day is off).
- GET /dentistas/{id}/horarios (shape undocumented; the adapter's docstring says how it reads
  it): one block per branch and worked weekday, `{id, id_dentista, id_sucursal, dia (1 =
  lunes … 7 = domingo), hora_inicio "08:00:00", hora_fin "21:00:00", intervalo}`.
- GET /pacientes?q=… (the documented filter columns) lists `patient_count` generated patients
  (ids 1…patient_count, `patient(n)`: made on demand from their id, never all held) and then
  those created with POST /pacientes, in the documented shape.
- GET /pacientes's `q` compares exactly (`eq` is `==`, `lk` a case-insensitive substring);
  `loose_search = True` makes it a fuzzy vendor's search instead: `eq` on text becomes a
  substring match ignoring case and accents, so a client must filter what it is answered.
- Test knobs for patient matching: `add_patient(**fields)` stores a patient as if staff had
  registered it (no checks; returns its id), `fault_patient_creation(*faults)` answers the
  next POST /pacientes with "500" (nothing stored), "500_echo" (nothing stored, the base's
  error page quoting the request) or "500_after" (stored, then HTTP 500), one request each (the
  base's faults match by path only, and a patient search reads the same path).
- Test knobs: `corrupt(kind, id, changes)` makes one listed record malformed (kind
  "sucursales", "dentistas", "horarios" or "pacientes"; `changes` a dict of fields to set,
  DROP to remove one, or anything else to replace the whole item); `fault_page(path, page,
  *faults)` answers the next requests for page N of a list with "429", "500", "503",
  "garbage" (not JSON) or "wrong_shape" (`data` not a list), one request each.

Catalogue (ids match the demo's dental clinic):
  sucursales 1 Providencia (chairs 1-3), 2 Las Condes (chairs 4-5); chair 7 = sobrecupo;
  dentistas 1 Camila Rojas (15 min, both modalities), 2 Matías González (10 min, both),
  3 Valentina Muñoz (30 min), 4 Benjamín Soto (15 min), 5 Antonia Pérez (15 min);
  especialidades 1 Odontología general, 2 Ortodoncia, 3 Endodoncia, 4 Periodoncia;
  estados 1 Anulado, 2 Atendido, 3 Confirmado por teléfono, 7 No confirmado.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import functools
import json
import operator as op
import re
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, overload

from stdnum.cl import rut as chilean_rut

from vendors.simulators.base import Reply, Request, Simulator

PREFIX = "/api/v1"
TOKEN = "dentalink-simulator-token"
OVERFLOW_CHAIR = 7
DEFAULT_STATE = 7
SLOT_TAKEN = "El horario seleccionado no se encuentra disponible"
DAY_OPENS, DAY_CLOSES = datetime.time(8), datetime.time(21)
MAX_FREE_DAYS = 14  # horariosdisponibles: “el plazo máx … es de 2 semanas”
MAX_FREE_DENTISTS = 100
DIRECT_MINUTES = 30
PATIENT_COUNT = 3000  # generated patients (tests shrink it, the bench grows it)
MATCHES_KEPT = 32  # patient filters whose matches are remembered
DROP = object()  # `corrupt`: remove this field
PAGE_FAULTS = {"429", "500", "503", "garbage", "wrong_shape"}
CREATION_FAULTS = {"500", "500_after", "500_echo"}
CORRUPTIBLE = ("sucursales", "dentistas", "horarios", "pacientes")
# The columns GET /pacientes filters by (get-pacientes.txt).
PATIENT_FILTERS = {
    "rut", "email", "nombre", "apellidos", "numero_ficha", "fecha_nacimiento",
    "fecha_afiliacion", "sexo", "habilitado", "celular", "telefono",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Dentist:
    id: int
    nombre: str
    apellidos: str
    id_especialidad: int
    intervalo: int
    video: bool = False  # also works by video: `videoconsulta` becomes required


@dataclasses.dataclass(frozen=True)
class Held:
    """A cita or block in a dentist's agenda: its span, its chair (None: every regular chair)
    and the cell the agenda shows for it."""

    start: datetime.datetime
    end: datetime.datetime
    chair: int | None
    cell: dict[str, Any]


SUCURSALES = {
    1: {"id": 1, "nombre": "Providencia", "ciudad": "Santiago", "comuna": "Providencia",
        "direccion": "Av. Providencia 1208", "telefono": "+56223456789", "habilitada": 1},
    2: {"id": 2, "nombre": "Las Condes", "ciudad": "Santiago", "comuna": "Las Condes",
        "direccion": "Av. Apoquindo 4501", "telefono": "+56229876543", "habilitada": 1},
}  # fmt: skip
# id -> (nombre, id_sucursal); the sobrecupo chair serves every branch.
SILLONES = {
    1: ("Sillón 1", 1), 2: ("Sillón 2", 1), 3: ("Sillón 3", 1),
    4: ("Sillón 1", 2), 5: ("Sillón 2", 2), OVERFLOW_CHAIR: ("Sobrecupo", None),
}  # fmt: skip
ESPECIALIDADES = {1: "Odontología general", 2: "Ortodoncia", 3: "Endodoncia", 4: "Periodoncia"}
DENTISTAS = {
    dentist.id: dentist
    for dentist in (
        Dentist(1, "Camila", "Rojas", 1, 15, video=True),
        Dentist(2, "Matías", "González", 2, 10, video=True),
        Dentist(3, "Valentina", "Muñoz", 3, 30),
        Dentist(4, "Benjamín", "Soto", 4, 15),
        Dentist(5, "Antonia", "Pérez", 1, 15),
    )
}
# id -> (nombre, anulacion, confirmacion)
ESTADOS = {1: ("Anulado", 1, 0), 2: ("Atendido", 0, 0), 3: ("Confirmado por teléfono", 0, 1),
           DEFAULT_STATE: ("No confirmado", 0, 0)}  # fmt: skip
# The states Dentalink ships (`reservado`); the others are this clinic's own.
RESERVED_STATES = {1, 2, DEFAULT_STATE}
CANCEL_STATE = min(key for key, (_, anulacion, _) in ESTADOS.items() if anulacion)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}$")


class DentalinkSimulator(Simulator):
    vendor = "dentalink"
    token = TOKEN
    page_size = 50
    time_zone = "America/Santiago"
    routes = [
        (
            "GET",
            rf"{PREFIX}/sucursales/(?P<branch>\d+)/dentistas/(?P<dentist>\d+)/agendas/?",
            "agenda",
        ),
        ("GET", rf"{PREFIX}/horariosdisponibles/?", "free_times"),
        ("POST", rf"{PREFIX}/citas/?", "create_cita"),
        ("GET", rf"{PREFIX}/citas/?", "list_citas"),
        ("GET", rf"{PREFIX}/citas/estados/?", "list_estados"),
        ("GET", rf"{PREFIX}/citas/(?P<id>\d+)/?", "get_cita"),
        ("PUT", rf"{PREFIX}/citas/(?P<id>\d+)/?", "update_cita"),
        ("GET", rf"{PREFIX}/sucursales/?", "list_sucursales"),
        ("GET", rf"{PREFIX}/dentistas/?", "list_dentistas"),
        ("GET", rf"{PREFIX}/dentistas/(?P<dentist>\d+)/horarios/?", "list_horarios"),
        ("GET", rf"{PREFIX}/especialidades/?", "list_especialidades"),
        ("GET", rf"{PREFIX}/pacientes/?", "list_pacientes"),
        ("POST", rf"{PREFIX}/pacientes/?", "create_paciente"),
    ]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.citas: dict[int, dict[str, Any]] = {}
            self.plans: dict[tuple[int, int, int], int] = {}  # patient, dentist, branch -> id
            self.next_id = 754
            self.next_plan = 100
            self.pacientes: dict[int, dict[str, Any]] = {}
            self.next_patient = 90_000
            self.bloqueos: dict[str, dict[str, Any]] = {}
            self.next_block = 1
            self.days_off: set[int] = set()  # weekdays (0 = Monday) without a schedule
            self.page_size = type(self).page_size
            self.patient_count = PATIENT_COUNT
            self.corrupted: dict[tuple[str, int], Any] = {}
            self.page_faults: dict[tuple[str, int], collections.deque[str]] = {}
            self.creation_faults: collections.deque[str] = collections.deque()
            self.loose_search = False
            # The ids a patient filter matched, for its next pages: (q, count, created) -> ids.
            self._matched: dict[tuple[Any, ...], list[int]] = {}

    # -- test knobs -------------------------------------------------------------------------

    def corrupt(self, kind: str, key: int, changes: Any) -> None:
        """Make one listed record malformed (see the module's docstring)."""
        if kind not in CORRUPTIBLE:
            raise ValueError(f"unknown list {kind!r}; choose from {CORRUPTIBLE}")
        with self.lock:
            self.corrupted[(kind, key)] = changes

    def fault_page(self, path: str, page: int, *faults: str) -> None:
        """Answer the next requests for page `page` of the list at `path` (e.g.
        "/api/v1/pacientes") with these faults, one request each."""
        for fault in faults:
            if fault not in PAGE_FAULTS:
                raise ValueError(f"unknown page fault {fault!r}; choose from {PAGE_FAULTS}")
        with self.lock:
            self.page_faults.setdefault((path.rstrip("/"), page), collections.deque()).extend(
                faults
            )

    def add_patient(self, **fields: Any) -> int:
        """Store a patient as staff register one in Dentalink (no checks); its id."""
        with self.lock:
            self.next_patient += 1
            self.pacientes[self.next_patient] = {"id": self.next_patient, "habilitado": 1,
                                                 **fields}  # fmt: skip
            return self.next_patient

    def fault_patient_creation(self, *faults: str) -> None:
        """Answer the next POST /pacientes with these faults, one request each."""
        for fault in faults:
            if fault not in CREATION_FAULTS:
                raise ValueError(f"unknown fault {fault!r}; choose from {CREATION_FAULTS}")
        with self.lock:
            self.creation_faults.extend(faults)

    def _page_fault(self, request: Request) -> Reply | None:
        try:
            page = int(request.query.get("page", "1"))
        except ValueError:
            return None
        with self.lock:
            queued = self.page_faults.get((request.path.rstrip("/"), page))
            fault = queued.popleft() if queued else None
        if fault == "garbage":
            return Reply(200, "<html>Bad gateway</html>")
        if fault == "wrong_shape":
            return Reply(200, {"data": "sin datos", "links": []})
        return self.fault_reply(int(fault)) if fault else None

    def _shown(self, kind: str, item: dict[str, Any]) -> Any:
        """The item as listed: with its corruption, if a test asked for one."""
        changes = self.corrupted.get((kind, item["id"]))
        if changes is None:
            return item
        if not isinstance(changes, dict):
            return changes
        shown = {**item, **changes}
        return {key: value for key, value in shown.items() if value is not DROP}

    def state(self) -> dict[str, Any]:
        return {"citas": list(self.citas.values()), "bloqueos": list(self.bloqueos.values())}

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """Citas not annulled (estado_anulacion), by dentist and local start."""
        return [(str(c["id_dentista"]), f"{c['fecha']}T{c['hora_inicio']}") for c in self._active()]

    # -- answers in Dentalink's shape ----------------------------------------------------------

    def error(self, status: int, message: str, **extra: Any) -> Reply:
        return Reply(status, {"error": {"message": message, **extra}})

    def not_found(self, request: Request) -> Reply:
        return self.error(404, f"Recurso no encontrado: {request.method} {request.path}")

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(
                429, {"error": {"message": "Demasiadas solicitudes"}}, {"Retry-After": "1"}
            )
        return self.error(status, "Error interno del servidor")

    def dispatch(self, request: Request) -> Reply:
        if request.header("Authorization") != f"Token {self.token}":
            return self.error(401, "Token inválido o ausente")
        return self._page_fault(request) or super().dispatch(request)

    def public(self, cita: dict[str, Any]) -> dict[str, Any]:
        """A cita as the API shows it, with its HATEOAS links."""
        base = f"{self.url}{PREFIX}"
        links = [
            ("self", f"citas/{cita['id']}"),
            ("pacientes", f"pacientes/{cita['id_paciente']}"),
            ("tratamientos", f"tratamientos/{cita['id_tratamiento']}"),
            ("dentistas", f"dentistas/{cita['id_dentista']}"),
        ]
        return {
            **copy.deepcopy(cita),
            "links": [
                {"rel": rel, "href": f"{base}/{path}", "method": "GET"} for rel, path in links
            ],
        }

    def listing(self, request: Request, items: list[dict[str, Any]]) -> Reply:
        try:
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            return self.error(400, "El parámetro page debe ser un número")
        start = (page - 1) * self.page_size
        body: dict[str, Any] = {"data": items[start : start + self.page_size], "links": []}
        if start + self.page_size < len(items):
            query = urllib.parse.urlencode({**request.query, "page": page + 1})
            body["links"].append(
                {"rel": "next", "href": f"{self.url}{request.path}?{query}", "method": "GET"}
            )
        return Reply(200, body)

    # -- reference data ----------------------------------------------------------------------

    def list_sucursales(self, request: Request) -> Reply:
        return self.listing(request, [self._shown("sucursales", b) for b in SUCURSALES.values()])

    def list_especialidades(self, request: Request) -> Reply:
        items = [
            {"id": key, "nombre": name, "habilitado": 1} for key, name in ESPECIALIDADES.items()
        ]
        return self.listing(request, items)

    def list_dentistas(self, request: Request) -> Reply:
        scheduled = sorted(SUCURSALES) if len(self.days_off) < 7 else []
        items = [
            self._shown("dentistas", {
                "id": dentist.id,
                "rut": _rut(15_000_000 + dentist.id),
                "nombre": dentist.nombre,
                "apellidos": dentist.apellidos,
                "celular": f"+5698{dentist.id:07d}",
                "telefono": "",
                "ciudad": "Santiago",
                "comuna": "Providencia",
                "direccion": "",
                "email": _mailbox(f"{dentist.nombre}.{dentist.apellidos}", "clinica.example"),
                "id_especialidad": dentist.id_especialidad,
                "especialidad": ESPECIALIDADES[dentist.id_especialidad],
                "agenda_online": 1,
                "intervalo": dentist.intervalo,
                "habilitado": 1,
                "contratos_sucursal": sorted(SUCURSALES),
                "horarios_sucursal": scheduled,
            })
            for dentist in DENTISTAS.values()
        ]  # fmt: skip
        return self.listing(request, items)

    def list_horarios(self, request: Request) -> Reply:
        dentist = DENTISTAS.get(int(request.match["dentist"]))
        if dentist is None:
            return self.error(404, "El dentista indicado no existe")
        blocks = [
            self._shown("horarios", {
                "id": dentist.id * 100 + branch * 10 + weekday + 1,
                "id_dentista": dentist.id, "id_sucursal": branch, "dia": weekday + 1,
                "hora_inicio": DAY_OPENS.strftime("%H:%M:%S"),
                "hora_fin": DAY_CLOSES.strftime("%H:%M:%S"), "intervalo": dentist.intervalo,
            })
            for branch in sorted(SUCURSALES)
            for weekday in range(7)
            if weekday not in self.days_off
        ]  # fmt: skip
        return self.listing(request, blocks)

    def list_pacientes(self, request: Request) -> Reply:
        try:
            ids = self._patient_ids(request.query.get("q") or "")
        except (ValueError, TypeError, KeyError, AttributeError):
            return self.error(400, "El parámetro q no es un filtro válido")
        return self.listing(request, _Lazy(ids, self._listed_patient))

    def _patient_ids(self, q: str) -> Sequence[int]:
        """The ids of the patients the filter `q` matches, in id order (a filter is applied
        once, then its pages are served from the ids it matched)."""
        created = sorted(self.pacientes)
        if not q:
            return _Joined(range(1, self.patient_count + 1), created)
        query = json.loads(q)
        if not isinstance(query, dict) or not set(query) <= PATIENT_FILTERS:
            raise ValueError(q)
        key = (q, self.patient_count, tuple(created), self.loose_search)
        matched = self._matched.get(key)
        if matched is None:
            if self.loose_search:
                every = _Joined(range(1, self.patient_count + 1), created)
                matched = [n for n in every if _loosely_matches(self._stored_patient(n), query)]
            else:
                matched = self._exactly_matched(query, created)
            # Deliveries interleave their look-ups: the last few filters are remembered, not
            # only the last one (each new one reads every patient).
            if len(self._matched) >= MATCHES_KEPT:
                del self._matched[next(iter(self._matched))]
            self._matched[key] = matched
        return matched

    def _exactly_matched(self, query: dict[str, Any], created: list[int]) -> list[int]:
        """`_matches` over the generated patients and then the created ones, in that order;
        the generated ones column by column (`_generated_matching`), since every delivery of
        a new patient looks them up by several identifiers."""
        count = self.patient_count
        generated = [n for n in _generated_matching(query, count) if n not in self.pacientes]
        matched = [n for n in created if _matches(self._stored_patient(n), query)]
        # A generated patient changed since (stored again) is matched as it is now.
        return sorted(generated + [n for n in matched if n <= count]) + matched

    def _patient(self, key: int) -> dict[str, Any]:
        """A patient as stored: generated, or created with POST /pacientes."""
        return dict(self._stored_patient(key))

    def _stored_patient(self, key: int) -> Mapping[str, Any]:
        """`_patient`, read only: a generated patient is made once, not on every filter."""
        if key in self.pacientes:
            return _blank_patient(key) | self.pacientes[key]
        return _generated_patient(key)

    def _listed_patient(self, key: int) -> Any:
        item = self._patient(key)
        item["links"] = [{"rel": "self", "href": f"{self.url}{PREFIX}/pacientes/{key}",
                          "method": "GET"}]  # fmt: skip
        return self._shown("pacientes", item)

    def list_estados(self, request: Request) -> Reply:
        items = [
            {"id": key, "nombre": name, "color": "#999999",
             "reservado": int(key in RESERVED_STATES), "anulacion": anulacion, "uso_interno": 0,
             "habilitado": 1}
            for key, (name, anulacion, _) in ESTADOS.items()
        ]  # fmt: skip
        return self.listing(request, items)

    # -- citas ----------------------------------------------------------------------------

    def get_cita(self, request: Request) -> Reply:
        cita = self.citas.get(int(request.match["id"]))
        if cita is None:
            return self.error(404, "La cita no existe")
        return Reply(200, {"data": self.public(cita)})

    def list_citas(self, request: Request) -> Reply:
        try:
            query = json.loads(request.query.get("q") or "{}")
            if not isinstance(query, dict):
                raise ValueError
            items = [cita for cita in self.citas.values() if _matches(cita, query)]
        except (ValueError, TypeError, KeyError, AttributeError):
            return self.error(400, "El parámetro q no es un filtro válido")
        return self.listing(request, [self.public(cita) for cita in items])

    def create_paciente(self, request: Request) -> Reply:
        body = request.json
        if not isinstance(body, dict) or not body.get("nombre") or not body.get("apellidos"):
            return self.error(400, "nombre y apellidos son obligatorios")
        if body.get("fecha_nacimiento") and not DATE.match(str(body["fecha_nacimiento"])):
            return self.error(400, "fecha_nacimiento debe tener el formato AAAA-MM-DD")
        fault = self.creation_faults.popleft() if self.creation_faults else None
        if fault in ("500", "500_echo"):
            return self.fault_reply(500) if fault == "500" else self.echo_reply(request)
        rut = body.get("rut")
        holder = self._rut_holder(str(rut)) if rut else None
        if holder is not None:  # the RUT is the patient's key: Dentalink names who has it
            same = self._patient(holder)
            return self.error(400, f"Ya existe un paciente con el RUT {rut}: "
                                   f"{same['nombre']} {same['apellidos']}")  # fmt: skip
        self.next_patient += 1
        patient = {"id": self.next_patient, "habilitado": 1, **body}
        self.pacientes[patient["id"]] = patient
        if fault == "500_after":
            return self.fault_reply(500)
        return Reply(201, {"data": patient, "links": []})

    def _rut_holder(self, rut: str) -> int | None:
        """The patient (created or generated, enabled or not) whose document is `rut`."""
        key = _document_key(rut)
        for number, stored in self.pacientes.items():
            if key and _document_key(str(stored.get("rut") or "")) == key:
                return number
        return _generated_holder(key, self.patient_count)

    def create_cita(self, request: Request) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            return self.error(400, "El cuerpo de la solicitud debe ser un objeto JSON")
        problem, cita = self._new_cita(body)
        if problem is not None:
            return problem
        start, end = _span(cita)
        if cita["id_sillon"] != OVERFLOW_CHAIR and self._taken(cita, start, end):
            if _truthy(body.get("return_options")):
                return self.error(400, SLOT_TAKEN, opciones=self._options(cita, start, end))
            return self.error(400, SLOT_TAKEN)
        self._add(cita)
        return Reply(201, {"data": self.public(cita)})

    def update_cita(self, request: Request) -> Reply:
        cita = self.citas.get(int(request.match["id"]))
        if cita is None:
            return self.error(404, "La cita no existe")
        body = request.json
        if not isinstance(body, dict):
            return self.error(400, "El cuerpo de la solicitud debe ser un objeto JSON")
        if "id_estado" in body and body["id_estado"] not in ESTADOS:
            return self.error(400, "El estado indicado no existe")
        dentist = DENTISTAS[cita["id_dentista"]]
        if "duracion" in body and not _multiple(body["duracion"], dentist.intervalo):
            return self.error(400, _duration_message(dentist))
        if "id_estado" in body:
            cita.update(_estado(body["id_estado"]))
        if "duracion" in body:
            cita["duracion"] = body["duracion"]
            cita["hora_fin"] = _span(cita)[1].strftime("%H:%M:%S")
        if "comentarios" in body:
            cita["comentarios"] = str(body["comentarios"])
        cita["fecha_actualizacion"] = _now()
        return Reply(200, {"data": self.public(cita)})

    # -- calendar reads -----------------------------------------------------------------------

    def agenda(self, request: Request) -> Reply:
        branch = int(request.match["branch"])
        dentist = DENTISTAS.get(int(request.match["dentist"]))
        if branch not in SUCURSALES:
            return self.error(404, "La sucursal indicada no existe")
        if dentist is None:
            return self.error(404, "El dentista indicado no existe")
        try:
            query = json.loads(request.query.get("q") or "{}")
            first = _date(query["fecha_inicio"]["eq"])
            last = _date(query["fecha_fin"]["eq"])
            shown = query.get("mostrar_detalles", query.get("mostar_detalles", {"eq": "0"}))
            details = _truthy(shown["eq"])
        except (ValueError, TypeError, KeyError, AttributeError):
            return self.error(
                400, "fecha_inicio y fecha_fin son obligatorios, con el formato AAAA-MM-DD"
            )
        if last < first:
            return self.error(400, "fecha_fin no puede ser anterior a fecha_inicio")
        fechas = {
            day.isoformat(): self._agenda_day(dentist, branch, day, details)
            for day in _days(first, last)
        }
        return Reply(200, {"data": {"fechas": fechas}})

    def free_times(self, request: Request) -> Reply:
        body = request.json
        try:
            ids, branch = body["ids_dentista"], body["id_sucursal"]
            first, last = _date(body["fecha_inicio"]), _date(body["fecha_fin"])
            if not isinstance(ids, list) or not ids or not all(map(_positive, ids)):
                raise ValueError("ids_dentista")
        except (ValueError, TypeError, KeyError):
            return self.error(
                400, "Debe indicar ids_dentista, id_sucursal, fecha_inicio y fecha_fin"
            )
        if len(ids) > MAX_FREE_DENTISTS:
            return self.error(400, f"El máximo de ids_dentista es {MAX_FREE_DENTISTS}")
        if branch not in SUCURSALES:
            return self.error(400, "La sucursal indicada no existe")
        if last < first or (last - first).days > MAX_FREE_DAYS:
            return self.error(400, "El plazo máximo entre fecha_inicio y fecha_fin es de 2 semanas")
        data = {
            str(dentist.id): {day.isoformat(): self._free_day(dentist, day)
                              for day in _days(first, last)}
            for dentist in (DENTISTAS[key] for key in ids if key in DENTISTAS)
        }  # fmt: skip
        return Reply(200, {"data": data or []})

    def _agenda_day(
        self, dentist: Dentist, branch: int, day: datetime.date, details: bool
    ) -> dict[str, Any] | list[Any]:
        if day.weekday() in self.days_off:
            return []
        chairs = [chair for chair, (_, where) in SILLONES.items() if where in (branch, None)]
        citas = self._citas_on(day)
        held = list(self._held(dentist.id, branch, day, citas))
        # Chairs another dentist's citas hold that day: not this dentist's chairs then.
        others = [
            (_span(cita), cita["id_sillon"])
            for cita in citas
            if cita["id_dentista"] != dentist.id and cita["id_sillon"] != OVERFLOW_CHAIR
        ]
        step = datetime.timedelta(minutes=dentist.intervalo)
        horas = {}
        for moment in _slots(day, step):
            sillones: dict[str, Any] = {}
            for chair in chairs:
                cell = _cell(held, chair, moment, step)
                if cell is not None:
                    if details:
                        sillones[str(chair)] = cell
                elif not any(
                    where == chair and _overlaps(span, moment, moment + step)
                    for span, where in others
                ):
                    sillones[str(chair)] = True
            horas[moment.strftime("%H:%M")] = {"sillones": sillones}
        return {"horas": horas}

    def _citas_on(self, day: datetime.date) -> list[dict[str, Any]]:
        return [cita for cita in self._active() if cita["fecha"] == day.isoformat()]

    def _held(
        self, dentist: int, branch: int, day: datetime.date, citas: list[dict[str, Any]]
    ) -> Iterator[Held]:
        """This dentist's active citas at the branch (of `citas`, the day's) and the blocks
        shown there, that day."""
        for cita in citas:
            if (cita["id_dentista"], cita["id_sucursal"]) == (dentist, branch):
                yield Held(*_span(cita), cita["id_sillon"], {
                    "tipo": "Cita", "id_cita": cita["id"], "id_paciente": cita["id_paciente"],
                    "nombre_paciente": cita["nombre_paciente"], "apellidos_paciente": "",
                    "comentario": cita["comentarios"],
                })  # fmt: skip
        for block in self.bloqueos.values():
            if (
                block["id_dentista"] == dentist
                and block["id_sucursal"] in (None, branch)
                and block["fecha"] == day.isoformat()
            ):
                yield Held(*_span(block), block["id_sillon"],
                           {"tipo": "Bloqueo", "comentario": block["comentario"]})  # fmt: skip

    def _free_day(self, dentist: Dentist, day: datetime.date) -> list[dict[str, Any]]:
        if day.weekday() in self.days_off:
            return []
        busy = [
            _span(cita)
            for cita in self._citas_on(day)
            if cita["id_dentista"] == dentist.id and cita["id_sillon"] != OVERFLOW_CHAIR
        ]
        busy += [
            _span(block)
            for block in self.bloqueos.values()
            if block["id_dentista"] == dentist.id and block["fecha"] == day.isoformat()
        ]
        step = datetime.timedelta(minutes=dentist.intervalo)
        return [
            {"hora_inicio": moment.strftime("%H:%M:%S"),
             "hora_fin": (moment + step).strftime("%H:%M:%S"), "intervalo": dentist.intervalo}
            for moment in _slots(day, step)
            if not any(_overlaps(span, moment, moment + step) for span in busy)
        ]  # fmt: skip

    # -- direct changes (staff in Dentalink itself) -------------------------------------------

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        handlers: dict[str, Callable[[dict[str, Any]], Reply]] = {
            "book": self._direct_book,
            "move": self._direct_move,
            "cancel": self._direct_cancel,
            "delete": self._direct_delete,
        }
        try:
            return handlers[action](data)
        except (KeyError, ValueError, TypeError) as error:
            return self.error(400, f"Cambio directo inválido ({type(error).__name__}: {error})")

    def _direct_book(self, data: dict[str, Any]) -> Reply:
        dentist = DENTISTAS.get(int(data["practitioner"]))
        if dentist is None:
            return self.error(400, "El dentista indicado no existe")
        start = self._local(data["start"])
        minutes = int(data.get("minutes") or DIRECT_MINUTES)
        kind = data.get("kind") or "appointment"
        if kind == "block":
            return self._direct_block(dentist, start, minutes, data)
        if kind != "appointment":
            return self.error(400, "kind debe ser appointment o block")
        chair = int(data["room"]) if data.get("room") else None
        if data.get("location"):
            branch = int(data["location"])
        else:
            branch = (SILLONES.get(chair or 0, ("", None))[1]) or 1
        if chair is None:
            chair = self._free_chair(branch, start, minutes)
        body = {
            "id_dentista": dentist.id, "id_sucursal": branch, "id_sillon": chair,
            "id_paciente": int(data.get("patient") or 1), "fecha": start.date().isoformat(),
            "hora_inicio": start.strftime("%H:%M"), "duracion": minutes, "videoconsulta": 0,
        }  # fmt: skip
        problem, cita = self._new_cita(body)
        if problem is not None:
            return problem
        if cita["id_sillon"] != OVERFLOW_CHAIR and self._taken(cita, *_span(cita)):
            return self.error(400, SLOT_TAKEN)
        self._add(cita)
        return Reply(201, {"id": str(cita["id"])})

    def _direct_block(
        self, dentist: Dentist, start: datetime.datetime, minutes: int, data: dict[str, Any]
    ) -> Reply:
        branch = int(data["location"]) if data.get("location") else None
        chair = int(data["room"]) if data.get("room") else None
        if branch is not None and branch not in SUCURSALES:
            return self.error(400, "La sucursal indicada no existe")
        if chair is not None and chair not in SILLONES:
            return self.error(400, "El sillón indicado no existe")
        if minutes <= 0:
            return self.error(400, "La duración del bloqueo debe ser positiva")
        key = f"B{self.next_block}"
        self.next_block += 1
        block = {"id": key, "id_dentista": dentist.id, "id_sucursal": branch, "id_sillon": chair,
                 "comentario": str(data.get("comment") or "Bloqueo")}  # fmt: skip
        self.bloqueos[key] = _timed(block, start, minutes)
        return Reply(201, {"id": key})

    def _direct_move(self, data: dict[str, Any]) -> Reply:
        key, start = str(data["id"]), self._local(data["start"])
        if key in self.bloqueos:
            block = self.bloqueos[key]
            _timed(block, start, int(data.get("minutes") or block["duracion"]))
            return Reply(200, {"id": key})
        cita = self.citas.get(int(key)) if key.isdigit() else None
        if cita is None:
            return self.error(404, "La cita no existe")
        trial = _timed(dict(cita), start, int(data.get("minutes") or cita["duracion"]))
        if data.get("practitioner"):
            dentist = DENTISTAS.get(int(data["practitioner"]))
            if dentist is None:
                return self.error(400, "El dentista indicado no existe")
            trial |= {"id_dentista": dentist.id,
                      "nombre_dentista": f"{dentist.nombre} {dentist.apellidos}"}  # fmt: skip
        if data.get("room"):
            chair = int(data["room"])
            if chair not in SILLONES or SILLONES[chair][1] not in (None, trial["id_sucursal"]):
                return self.error(400, "El sillón indicado no existe en la sucursal")
            trial |= {"id_sillon": chair, "nombre_sillon": SILLONES[chair][0]}
        if trial["id_sillon"] != OVERFLOW_CHAIR and self._taken(
            trial, *_span(trial), ignore=cita["id"]
        ):
            return self.error(400, SLOT_TAKEN)
        cita.update(trial, fecha_actualizacion=_now())
        return Reply(200, {"id": key})

    def _direct_cancel(self, data: dict[str, Any]) -> Reply:
        key = str(data["id"])
        if key in self.bloqueos:  # a block has no state: cancelling it removes it
            return self._direct_delete(data)
        cita = self.citas.get(int(key)) if key.isdigit() else None
        if cita is None:
            return self.error(404, "La cita no existe")
        cita.update(_estado(CANCEL_STATE), fecha_actualizacion=_now())
        return Reply(200, {"id": key})

    def _direct_delete(self, data: dict[str, Any]) -> Reply:
        key = str(data["id"])
        if self.bloqueos.pop(key, None) is not None:
            return Reply(200, {"id": key})
        if not key.isdigit() or self.citas.pop(int(key), None) is None:
            return self.error(404, "La cita no existe")
        return Reply(200, {"id": key})

    def _local(self, value: Any) -> datetime.datetime:
        """An ISO time as the clinic's naive wall-clock time (one without offset already is)."""
        moment = datetime.datetime.fromisoformat(str(value))
        if moment.tzinfo is not None:
            moment = moment.astimezone(zoneinfo.ZoneInfo(self.time_zone)).replace(tzinfo=None)
        return moment

    def _free_chair(self, branch: int, start: datetime.datetime, minutes: int) -> int:
        """The branch's first chair no active cita holds then (else its first chair)."""
        chairs = [chair for chair, (_, where) in SILLONES.items() if where == branch]
        end = start + datetime.timedelta(minutes=minutes)
        for chair in chairs:
            if not any(
                cita["id_sillon"] == chair and _overlaps(_span(cita), start, end)
                for cita in self._active()
            ):
                return chair
        return chairs[0] if chairs else 1

    # -- rules ------------------------------------------------------------------------------

    def _new_cita(self, body: dict[str, Any]) -> tuple[Reply | None, dict[str, Any]]:
        def refuse(message: str) -> tuple[Reply, dict[str, Any]]:
            return self.error(400, message), {}

        for name in ("id_sucursal", "id_sillon", "id_paciente", "fecha", "hora_inicio", "duracion"):
            if body.get(name) in (None, ""):
                return refuse(f"El campo {name} es obligatorio")
        for name in ("id_dentista", "id_especialidad", "id_sucursal", "id_sillon", "id_paciente",
                     "id_estado", "id_tratamiento", "duracion"):  # fmt: skip
            if name in body and not _positive(body[name]):
                return refuse(f"El campo {name} debe ser un número entero positivo")
        if not _well_formed(body["fecha"], DATE, datetime.date.fromisoformat):
            return refuse("El campo fecha debe tener el formato AAAA-MM-DD")
        if not _well_formed(body["hora_inicio"], TIME, datetime.time.fromisoformat):
            return refuse("El campo hora_inicio debe tener el formato HH:MM")
        branch, chair = body["id_sucursal"], body["id_sillon"]
        if branch not in SUCURSALES:
            return refuse("La sucursal indicada no existe")
        if chair not in SILLONES or SILLONES[chair][1] not in (None, branch):
            return refuse("El sillón indicado no existe en la sucursal")
        state = body.get("id_estado", DEFAULT_STATE)
        if state not in ESTADOS:
            return refuse("El estado indicado no existe")
        if "id_dentista" in body:
            dentist = DENTISTAS.get(body["id_dentista"])
            if dentist is None:
                return refuse("El dentista indicado no existe")
        elif "id_especialidad" in body:
            if body["id_especialidad"] not in ESPECIALIDADES:
                return refuse("La especialidad indicada no existe")
            dentist = self._dentist_for(body)
            if dentist is None:
                return self.error(400, SLOT_TAKEN), {}
        else:
            return refuse("Debe indicar id_dentista o id_especialidad")
        if not _multiple(body["duracion"], dentist.intervalo):
            return refuse(_duration_message(dentist))
        video = body.get("videoconsulta")
        if video is None and dentist.video:
            return refuse(
                "El horario admite ambas modalidades: el campo videoconsulta es obligatorio"
            )
        if video not in (None, 0, 1, True, False):
            return refuse("El campo videoconsulta debe ser 1 (videoconsulta) o 0 (presencial)")
        if video is not None and bool(video) and not dentist.video:
            return refuse("La modalidad no coincide con el horario del profesional")
        if body.get("return_options") not in (None, 0, 1, True, False):
            return refuse("El campo return_options debe ser booleano")
        plan = body.get("id_tratamiento")
        if plan is not None and any(
            found == plan and owner != body["id_paciente"]
            for (owner, _, _), found in self.plans.items()
        ):
            return refuse("El tratamiento indicado no pertenece al paciente")
        plan = plan or self._plan(body["id_paciente"], dentist.id, branch)
        cita = {
            "id": None,
            "id_paciente": body["id_paciente"],
            "nombre_paciente": f"Paciente {body['id_paciente']}",
            "nombre_social_paciente": "",
            **_estado(state),
            "id_tratamiento": plan,
            "nombre_tratamiento": "Diagnóstico" if "id_tratamiento" not in body else "Tratamiento",
            "tratamiento_sin_asignar": 0,
            "id_dentista": dentist.id,
            "nombre_dentista": f"{dentist.nombre} {dentist.apellidos}",
            "id_sucursal": branch,
            "nombre_sucursal": SUCURSALES[branch]["nombre"],
            "id_sillon": chair,
            "nombre_sillon": SILLONES[chair][0],
            "fecha": body["fecha"],
            "hora_inicio": f"{body['hora_inicio']}:00",
            "hora_fin": "",
            "duracion": body["duracion"],
            "comentarios": str(body.get("comentario") or ""),
            "fecha_actualizacion": _now(),
        }
        cita["hora_fin"] = _span(cita)[1].strftime("%H:%M:%S")
        return None, cita

    def _dentist_for(self, body: dict[str, Any]) -> Dentist | None:
        """Booking by specialty: the first dentist of it who is free then."""
        for dentist in DENTISTAS.values():
            if dentist.id_especialidad != body["id_especialidad"]:
                continue
            trial = {**body, "id_dentista": dentist.id, "hora_inicio": f"{body['hora_inicio']}:00"}
            if _multiple(body["duracion"], dentist.intervalo) and not self._taken(
                trial, *_span(trial)
            ):
                return dentist
        return None

    def _plan(self, patient: int, dentist: int, branch: int) -> int:
        key = (patient, dentist, branch)
        if key not in self.plans:
            self.plans[key] = self.next_plan
            self.next_plan += 1
        return self.plans[key]

    def _add(self, cita: dict[str, Any]) -> None:
        cita["id"] = self.next_id
        self.next_id += 1
        self.citas[cita["id"]] = cita

    def _taken(
        self,
        cita: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
        *,
        ignore: int | None = None,
    ) -> bool:
        """Whether the same dentist or chair holds an active cita then (the sobrecupo chair
        holds nothing), or the dentist has a block then; `ignore` = the cita being moved."""
        for other in self._active():
            if other["id"] == ignore or other["id_sillon"] == OVERFLOW_CHAIR:
                continue
            same = (other["id_dentista"] == cita["id_dentista"]
                    or other["id_sillon"] == cita["id_sillon"])  # fmt: skip
            if same and _overlaps(_span(other), start, end):
                return True
        return self._blocked(cita["id_dentista"], start, end)

    def _blocked(self, dentist: int, start: datetime.datetime, end: datetime.datetime) -> bool:
        return any(
            block["id_dentista"] == dentist and _overlaps(_span(block), start, end)
            for block in self.bloqueos.values()
        )

    def _active(self) -> Iterator[dict[str, Any]]:
        return (cita for cita in self.citas.values() if not cita["estado_anulacion"])

    def _options(
        self, cita: dict[str, Any], start: datetime.datetime, end: datetime.datetime
    ) -> list[dict[str, Any]]:
        """Up to three free starts for the same dentist and chair, from the asked time on."""
        step = datetime.timedelta(minutes=DENTISTAS[cita["id_dentista"]].intervalo)
        length, moment, options = end - start, start + step, []
        while len(options) < 3 and moment < start + datetime.timedelta(days=7):
            closes = datetime.datetime.combine(moment.date(), DAY_CLOSES)
            if moment + length > closes or moment.time() < DAY_OPENS:
                moment = datetime.datetime.combine(moment.date() + datetime.timedelta(days=1),
                                                   DAY_OPENS)  # fmt: skip
                continue
            if not self._taken(cita, moment, moment + length):
                options.append({
                    "fecha": moment.date().isoformat(),
                    "hora_inicio": moment.strftime("%H:%M:%S"),
                    "hora_fin": (moment + length).strftime("%H:%M:%S"),
                    "id_dentista": cita["id_dentista"],
                    "id_sillon": cita["id_sillon"],
                })  # fmt: skip
            moment += step
        return options


# -- generated patients ---------------------------------------------------------------------------

GIVEN_FEMALE = ("Sofía", "Isidora", "Florencia", "Agustina", "Josefa", "Emilia", "Martina",
                "Catalina", "Trinidad", "Antonella", "Fernanda", "Constanza", "Javiera",
                "Francisca", "Amanda", "Ignacia")  # fmt: skip
GIVEN_MALE = ("Benjamín", "Vicente", "Martín", "Joaquín", "Agustín", "Maximiliano", "Cristóbal",
              "Tomás", "Sebastián", "Diego", "Felipe", "Nicolás", "Lucas", "Gaspar", "Ignacio",
              "Alonso")  # fmt: skip
FAMILY_NAMES = ("González", "Muñoz", "Rojas", "Díaz", "Pérez", "Soto", "Contreras", "Silva",
                "Martínez", "Sepúlveda", "Morales", "Rodríguez", "López", "Fuentes", "Hernández",
                "Torres", "Araya", "Flores", "Espinoza", "Valenzuela", "Castillo", "Tapia",
                "Reyes", "Gutiérrez", "Castro", "Pizarro", "Álvarez", "Vásquez", "Sánchez",
                "Fernández", "Ramírez", "Carrasco")  # fmt: skip
COMUNAS = ("Providencia", "Las Condes", "Ñuñoa", "Vitacura", "La Reina", "Santiago", "Macul",
           "Peñalolén")  # fmt: skip
BIRTHS_FROM = datetime.date(1940, 1, 1)
NO_BIRTH_DATE = "0000-00-00"  # how Dentalink lists an unknown birth date


def patient(n: int) -> dict[str, Any]:
    """Generated patient `n` (1, 2, …) in GET /pacientes's documented shape, the same every
    time. Every 50th has a passport instead of a RUT, every 30th no known birth date
    ("0000-00-00"), every 11th no e-mail, every 9th only a landline, every 97th is disabled."""
    return dict(_generated_patient(n))


@functools.lru_cache(maxsize=16_384)
def _generated_patient(n: int) -> dict[str, Any]:
    """`patient(n)`, made once: callers copy it before they change it."""
    mixed = (n * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash: varied, repeatable
    female = mixed % 2 == 0
    given = (GIVEN_FEMALE if female else GIVEN_MALE)[(mixed >> 1) % 16]
    family = f"{FAMILY_NAMES[(mixed >> 5) % 32]} {FAMILY_NAMES[(mixed >> 10) % 32]}"
    born = BIRTHS_FROM + datetime.timedelta(days=(mixed >> 3) % 29_000)
    mobile = f"+569{10_000_000 + (mixed >> 4) % 90_000_000}"
    disabled = n % 97 == 0
    return {
        "id": n,
        "rut": f"X{n:07d}" if n % 50 == 0 else _rut(10_000_000 + n),
        "tipo_documento": 1 if n % 50 == 0 else 0,
        "nombre": given,
        "nombre_social": "",
        "apellidos": family,
        "fecha_nacimiento": NO_BIRTH_DATE if n % 30 == 0 else born.isoformat(),
        "fecha_afiliacion": (
            datetime.date(2018, 1, 1) + datetime.timedelta(days=n % 2000)
        ).isoformat(),
        "telefono": f"22{2_000_000 + (mixed >> 7) % 7_000_000}" if n % 9 == 0 else "",
        "celular": "" if n % 9 == 0 else mobile,
        "ciudad": "Santiago",
        "comuna": COMUNAS[(mixed >> 9) % len(COMUNAS)],
        "direccion": f"Pasaje {FAMILY_NAMES[(mixed >> 13) % 32]} {(mixed >> 17) % 3000 + 1}",
        "email": "" if n % 11 == 0 else _mailbox(f"{given}.{family.split()[0]}.{n}", "example.cl"),
        "sexo": "F" if female else "M",
        "id_genero": 2 if female else 1,
        "numero_ficha": str(n),
        "observaciones": "",
        "tiene_cargas": 0,
        "es_carga": 0,
        "fecha_deshabilitacion": "2024-01-02" if disabled else "",
        "id_usuario_deshabilitacion": 1 if disabled else "",
        "habilitado": 0 if disabled else 1,
    }


def _document_key(text: str) -> str:
    """A RUT or passport compared without separators, case or leading zeros."""
    return "".join(char for char in text.upper() if char.isalnum()).lstrip("0")


def _generated_holder(key: str, count: int) -> int | None:
    """The generated patient (1…count) whose document has this key: RUT 10000000+n with its
    check digit, or passport X{n:07d} (see `patient`)."""
    guesses = [int(key[1:])] if key[:1] == "X" and key[1:].isdigit() else []
    guesses += [int(key[:-1]) - 10_000_000] if key[:-1].isdigit() else []
    for n in guesses:
        if 1 <= n <= count and _document_key(patient(n)["rut"]) == key:
            return n
    return None


def _blank_patient(n: int) -> dict[str, Any]:
    """The fields of a listed patient that one created with only some of them lacks."""
    return {
        "id": n, "rut": "", "tipo_documento": 0, "nombre": "", "nombre_social": "",
        "apellidos": "", "fecha_nacimiento": "", "fecha_afiliacion": "", "telefono": "",
        "celular": "", "ciudad": "", "comuna": "", "direccion": "", "email": "", "sexo": "",
        "id_genero": 5, "numero_ficha": "", "observaciones": "", "tiene_cargas": 0,
        "es_carga": 0, "fecha_deshabilitacion": "", "id_usuario_deshabilitacion": "",
        "habilitado": 1,
    }  # fmt: skip


def _rut(number: int) -> str:
    """A RUT with its check digit, as Dentalink lists them: 12345678-5."""
    return f"{number}-{chilean_rut.calc_check_digit(str(number))}"


def _mailbox(local: str, domain: str) -> str:
    """local@domain, the local part in plain lower-case ASCII without spaces."""
    plain = unicodedata.normalize("NFKD", local).encode("ascii", "ignore").decode().lower()
    return f"{plain.replace(' ', '')}@{domain}"


class _Lazy(Sequence[Any]):
    """A list whose items are made from their keys only when a page asks for them."""

    def __init__(self, keys: Sequence[int], make: Callable[[int], Any]) -> None:
        self.keys, self.make = keys, make

    def __len__(self) -> int:
        return len(self.keys)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self.make(key) for key in self.keys[index]]
        return self.make(self.keys[index])


class _Joined(Sequence[int]):
    """Two sequences of ids one after the other, neither copied."""

    def __init__(self, first: Sequence[int], second: Sequence[int]) -> None:
        self.first, self.second = first, second

    def __len__(self) -> int:
        return len(self.first) + len(self.second)

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> list[int]: ...
    def __getitem__(self, index: int | slice) -> int | list[int]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        size = len(self.first)
        return self.first[index] if index < size else self.second[index - size]


def _estado(state: int) -> dict[str, Any]:
    name, anulacion, confirmacion = ESTADOS[state]
    return {"id_estado": state, "estado_cita": name, "estado_anulacion": anulacion,
            "estado_confirmacion": confirmacion}  # fmt: skip


def _span(cita: dict[str, Any]) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(
        datetime.date.fromisoformat(cita["fecha"]),
        datetime.time.fromisoformat(cita["hora_inicio"]),
    )
    return start, start + datetime.timedelta(minutes=cita["duracion"])


def _overlaps(
    span: tuple[datetime.datetime, datetime.datetime],
    start: datetime.datetime,
    end: datetime.datetime,
) -> bool:
    return span[0] < end and start < span[1]


def _timed(item: dict[str, Any], start: datetime.datetime, minutes: int) -> dict[str, Any]:
    """`item` (a cita or block) placed at `start` for `minutes`, in place."""
    item |= {"fecha": start.date().isoformat(), "hora_inicio": start.strftime("%H:%M:%S"),
             "duracion": minutes}  # fmt: skip
    item["hora_fin"] = _span(item)[1].strftime("%H:%M:%S")
    return item


def _cell(
    held: list[Held], chair: int, moment: datetime.datetime, step: datetime.timedelta
) -> dict[str, Any] | None:
    """What the agenda shows in one chair and slot: the cita or block there, with its `bloque`
    ("2/4": the slot's place among the slots it covers), or None when nothing is."""
    for item in held:
        here = item.chair == chair or (item.chair is None and chair != OVERFLOW_CHAIR)
        if here and _overlaps((item.start, item.end), moment, moment + step):
            minutes = int((item.end - item.start).total_seconds() // 60)
            count = -(-(item.end - item.start) // step)
            place = max(1, (moment - item.start) // step + 1)
            return item.cell | {
                "bloque": f"{place}/{count}", "duracion_total": minutes,
                "inicio": item.start.strftime("%H:%M:%S"), "fin": item.end.strftime("%H:%M:%S"),
            }  # fmt: skip
    return None


def _slots(day: datetime.date, step: datetime.timedelta) -> Iterator[datetime.datetime]:
    """The working day's slots of one dentist, 08:00 to 21:00."""
    moment = datetime.datetime.combine(day, DAY_OPENS)
    closes = datetime.datetime.combine(day, DAY_CLOSES)
    while moment + step <= closes:
        yield moment
        moment += step


def _days(first: datetime.date, last: datetime.date) -> Iterator[datetime.date]:
    while first <= last:
        yield first
        first += datetime.timedelta(days=1)


def _date(value: Any) -> datetime.date:
    if not DATE.match(str(value)):
        raise ValueError(value)
    return datetime.date.fromisoformat(str(value))


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": op.eq, "neq": op.ne, "gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le,
    "lk": lambda a, b: str(b).strip("%").lower() in str(a).lower(),
    "in": lambda a, b: a in b,
}  # fmt: skip


def _matches(cita: Mapping[str, Any], query: dict[str, Any]) -> bool:
    """Dentalink's `q` filter: {"column": {"operator": value}}, all of them must hold."""
    operators = _OPERATORS
    for column, condition in query.items():
        if column not in cita or not isinstance(condition, dict):
            raise ValueError(column)
        for operator, wanted in condition.items():
            value = cita[column]
            if not operators[operator](value, _as_compared(value, wanted)):
                return False
    return True


@functools.lru_cache(maxsize=64)
def _generated_column(column: str, count: int) -> tuple[Any, ...]:
    """A column of the generated patients 1…count, in id order."""
    if column not in _generated_patient(1):
        raise ValueError(column)
    return tuple(_generated_patient(n)[column] for n in range(1, count + 1))


@functools.lru_cache(maxsize=64)
def _generated_index(column: str, count: int) -> dict[Any, list[int]]:
    """The generated patients' ids by their value of a column."""
    index: dict[Any, list[int]] = {}
    for n, value in enumerate(_generated_column(column, count), start=1):
        index.setdefault(value, []).append(n)
    return index


def _generated_matching(query: dict[str, Any], count: int) -> list[int]:
    """The ids of the generated patients 1…count that `_matches` the query, in id order."""
    kept: list[int] | None = None  # None: every id
    for column, condition in query.items():
        if not isinstance(condition, dict):
            raise ValueError(column)
        values = _generated_column(column, count)
        for operator, wanted in condition.items():
            test = _OPERATORS[operator]
            equal = _generated_equal(column, count, wanted) if operator == "eq" else None
            if equal is not None:
                kept = sorted(equal) if kept is None else [n for n in kept if n in equal]
                continue
            ids = range(1, count + 1) if kept is None else kept
            kept = [n for n in ids if test(values[n - 1], _as_compared(values[n - 1], wanted))]
    return list(range(1, count + 1)) if kept is None else kept


def _generated_equal(column: str, count: int, wanted: Any) -> set[int] | None:
    """The ids whose value equals `wanted` (its digits also as a number), from the column's
    index; None when `wanted` cannot be looked up there (a list, say)."""
    index = _generated_index(column, count)
    try:
        found = set(index.get(wanted, ()))
        if isinstance(wanted, str) and wanted.isdigit():
            found |= set(index.get(int(wanted), ()))
    except TypeError:
        return None
    return found


def _as_compared(value: Any, wanted: Any) -> Any:
    """A filter's digits compare with a number as that number (as `_matches` has it)."""
    if isinstance(value, int) and isinstance(wanted, str) and wanted.isdigit():
        return int(wanted)
    return wanted


def _loosely_matches(item: Mapping[str, Any], query: dict[str, Any]) -> bool:
    """A fuzzy vendor's `q`: `eq` on text is a substring match without case or accents;
    every other condition as `_matches` has it."""
    for column, condition in query.items():
        if column not in item or not isinstance(condition, dict):
            raise ValueError(column)
        for operator, wanted in condition.items():
            value = item[column]
            if operator == "eq" and isinstance(value, str) and isinstance(wanted, str):
                if _plain(wanted) not in _plain(value):
                    return False
            elif not _matches(item, {column: {operator: wanted}}):
                return False
    return True


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _multiple(duration: Any, interval: int) -> bool:
    return _positive(duration) and duration % interval == 0


def _duration_message(dentist: Dentist) -> str:
    return (
        f"La duración debe ser compatible con el intervalo de atención del profesional "
        f"({dentist.intervalo} minutos)"
    )


def _well_formed(value: Any, form: re.Pattern[str], parse: Callable[[str], object]) -> bool:
    """Whether the value has the documented form (AAAA-MM-DD, HH:MM) and names a real date or
    time (`parse`: date.fromisoformat, time.fromisoformat)."""
    if not form.match(str(value)):
        return False
    try:
        parse(str(value))
    except ValueError:
        return False
    return True


def _truthy(value: Any) -> bool:
    return value in (1, True, "1", "true")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
