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
- POST /pacientes with a `rut` some patient already has is HTTP 400 naming that patient.

Catalogue (ids match the demo's dental clinic):
  sucursales 1 Providencia (chairs 1-3), 2 Las Condes (chairs 4-5); chair 7 = sobrecupo;
  dentistas 1 Camila Rojas (15 min, both modalities), 2 Matías González (10 min, both),
  3 Valentina Muñoz (30 min), 4 Benjamín Soto (15 min), 5 Antonia Pérez (15 min);
  especialidades 1 Odontología general, 2 Ortodoncia, 3 Endodoncia, 4 Periodoncia;
  estados 1 Anulado, 2 Atendido, 3 Confirmado por teléfono, 7 No confirmado.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from vendors.simulators.base import Reply, Request, Simulator

PREFIX = "/api/v1"
TOKEN = "dentalink-simulator-token"
OVERFLOW_CHAIR = 7
DEFAULT_STATE = 7
SLOT_TAKEN = "El horario seleccionado no se encuentra disponible"
DAY_OPENS, DAY_CLOSES = datetime.time(8), datetime.time(21)


@dataclasses.dataclass(frozen=True)
class Dentist:
    id: int
    nombre: str
    apellidos: str
    id_especialidad: int
    intervalo: int
    video: bool = False  # also works by video: `videoconsulta` becomes required


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
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}$")


class DentalinkSimulator(Simulator):
    vendor = "dentalink"
    token = TOKEN
    page_size = 50
    routes = [
        ("POST", rf"{PREFIX}/citas/?", "create_cita"),
        ("GET", rf"{PREFIX}/citas/?", "list_citas"),
        ("GET", rf"{PREFIX}/citas/estados/?", "list_estados"),
        ("GET", rf"{PREFIX}/citas/(?P<id>\d+)/?", "get_cita"),
        ("PUT", rf"{PREFIX}/citas/(?P<id>\d+)/?", "update_cita"),
        ("GET", rf"{PREFIX}/sucursales/?", "list_sucursales"),
        ("GET", rf"{PREFIX}/dentistas/?", "list_dentistas"),
        ("GET", rf"{PREFIX}/especialidades/?", "list_especialidades"),
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

    def state(self) -> dict[str, Any]:
        return {"citas": list(self.citas.values())}

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
        return super().dispatch(request)

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
        return self.listing(request, list(SUCURSALES.values()))

    def list_especialidades(self, request: Request) -> Reply:
        items = [
            {"id": key, "nombre": name, "habilitado": 1} for key, name in ESPECIALIDADES.items()
        ]
        return self.listing(request, items)

    def list_dentistas(self, request: Request) -> Reply:
        items = [
            {
                "id": dentist.id,
                "nombre": dentist.nombre,
                "apellidos": dentist.apellidos,
                "id_especialidad": dentist.id_especialidad,
                "especialidad": ESPECIALIDADES[dentist.id_especialidad],
                "intervalo": dentist.intervalo,
                "agenda_online": 1,
                "habilitado": 1,
            }
            for dentist in DENTISTAS.values()
        ]
        return self.listing(request, items)

    def list_estados(self, request: Request) -> Reply:
        items = [
            {"id": key, "nombre": name, "color": "#999999", "reservado": int(key == DEFAULT_STATE),
             "anulacion": anulacion, "uso_interno": 0, "habilitado": 1}
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
        rut = body.get("rut")
        same = [p for p in self.pacientes.values() if rut and p.get("rut") == rut]
        if same:  # the RUT is the patient's key: Dentalink names who already has it
            return self.error(400, f"Ya existe un paciente con el RUT {rut}: "
                                   f"{same[0]['nombre']} {same[0]['apellidos']}")  # fmt: skip
        self.next_patient += 1
        patient = {"id": self.next_patient, "habilitado": 1, **body}
        self.pacientes[patient["id"]] = patient
        return Reply(201, {"data": patient, "links": []})

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
        cita["id"] = self.next_id
        self.next_id += 1
        self.citas[cita["id"]] = cita
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

    def _taken(
        self, cita: dict[str, Any], start: datetime.datetime, end: datetime.datetime
    ) -> bool:
        for other in self.citas.values():
            if other["estado_anulacion"] or other["id_sillon"] == OVERFLOW_CHAIR:
                continue
            same = (other["id_dentista"] == cita["id_dentista"]
                    or other["id_sillon"] == cita["id_sillon"])  # fmt: skip
            other_start, other_end = _span(other)
            if same and other_start < end and start < other_end:
                return True
        return False

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


def _matches(cita: dict[str, Any], query: dict[str, Any]) -> bool:
    """Dentalink's `q` filter: {"column": {"operator": value}}, all of them must hold."""
    operators = {
        "eq": lambda a, b: a == b, "neq": lambda a, b: a != b,
        "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
        "lk": lambda a, b: str(b).strip("%").lower() in str(a).lower(),
        "in": lambda a, b: a in b,
    }  # fmt: skip
    for column, condition in query.items():
        if column not in cita or not isinstance(condition, dict):
            raise ValueError(column)
        for operator, wanted in condition.items():
            value = cita[column]
            if isinstance(value, int) and isinstance(wanted, str) and wanted.isdigit():
                wanted = int(wanted)
            if not operators[operator](value, wanted):
                return False
    return True


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
