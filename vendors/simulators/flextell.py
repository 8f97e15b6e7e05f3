"""Flextell simulator: the OAuth refresh-token exchange and the /api/v1 endpoints the adapter
calls, with the documented envelopes (``{"success", "data"}``; errors ``{"error", "message"}``).

Served under ``/api`` like ``https://dev.flextell.ai/api``; the token endpoint is
``/oauth/token`` on the same host. Refresh tokens rotate: each exchange revokes the one
used. Any token of the simulator's form that was not revoked is accepted, so the demo keeps
working when the simulator restarts while the app remembers a rotated token.

The calendar (research notes §2.4 "Availability"): ``GET /api/v1/appointments/calendar?from&to``
answers ``{from, to, timezone, items}``, not paginated and without the ``success``/``data``
envelope, as documented. Where the docs are silent:
- ``from`` and ``to`` are required dates (422 otherwise), both inclusive, read in the tenant's
  zone (the ``time_zone`` knob, also answered as ``timezone``);
- items are appointments (every status: ``meta.status`` says which) and blocks, by local start
  date, sorted by start; ``start_at``/``end_at`` are ISO 8601 with the tenant's offset;
  ``reason`` is the appointment's description (a block's reason), free text;
- a block (``kind: "block"``) holds its doctor (and room, if it names one): API bookings that
  overlap it are refused like an overlapping appointment. Blocks have no ``appointment_id``.

``direct`` (what staff do in Flextell itself, see simulators/base.py): ``book`` an appointment
(status ``approved`` unless ``status`` says otherwise; treatment 41 unless
``appointment_type``; refused 409 when it overlaps, as the API's create) or a block
(``kind: "block"``, allowed over anything); ``move`` (to ``start``, keeping its length unless
``minutes``; 409 on overlap); ``cancel`` (an appointment's status becomes ``cancelled``; a block
is removed); ``delete`` (gone: 404 from then on). Appointments and blocks share one ID sequence.

The reference lists an import reads (issue 12; research notes §2.4), each paged with ``page``
and ``per_page`` (1-100, Laravel's default 15): ``GET /api/v1/users`` answers a bare ``data``
list without ``links``/``meta``, as documented (filters ``role`` by role name, ``is_active``,
``search``); ``/rooms`` (``status``), ``/treatments`` and ``/customers`` (``search``,
``gender``) answer Laravel's ``data``/``links``/``meta``. Customers are made from their index
(``customer(n)``, so thousands cost no memory): the catalogue's two (31, 32), then generated
ones up to ``patient_count`` (DEFAULT_PATIENT_COUNT), with valid Chilean RUTs as
``identity_number``. Knobs for tests: ``patient_count``; ``malform(listing, id)`` serves that
record of ``users``, ``rooms``, ``treatments`` or ``customers`` broken; ``fail_request(path,
nth, fault)`` makes the nth request to a path from now answer 429, 500, 503 or garbage (a
fault on a later page); ``POST /__simulator/patients {"count": N}`` sets the count.

The customer search (issue 12): the docs do not say what ``search`` matches, so the simulator
matches any part of "first_name last_name email phone_number identity_number" without case
or accents (a Laravel ``LIKE`` over a case- and accent-insensitive MySQL column). Flextell
documents no way to create a customer, and the simulator has none; tests add customers as if
staff had registered them in Flextell (``add_customer``: ids from ADDED_CUSTOMER_ID, listed
after the generated ones, e.g. two sharing an e-mail).
"""

from __future__ import annotations

import datetime
import itertools
import re
import secrets
import time
import unicodedata
import zoneinfo
from collections.abc import Callable
from typing import Any

from stdnum.cl import rut

from vendors.simulators.base import Reply, Request, Simulator

TENANT = "7"
CLIENT_ID = "flextell-sim-client"
CLIENT_SECRET = "flextell-sim-secret"
REFRESH_PREFIX = "flextell-sim-rt-"
INITIAL_REFRESH_TOKEN = f"{REFRESH_PREFIX}initial"
TOKEN_LIFETIME = 3600
SLOT_MINUTES = 30  # the tenant's appointment slot_duration setting
STATUSES = ("pending", "approved", "cancelled", "rejected", "completed", "no_show")
STATUS_LABELS = {
    "pending": "Pending",
    "approved": "Approved",
    "cancelled": "Cancelled",
    "rejected": "Rejected",
    "completed": "Completed",
    "no_show": "No show",
}
INACTIVE = {"cancelled", "rejected"}
MAX_TEXT = 1000
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
STAMP = "2025-01-06T09:00:00Z"

USERS = [
    {"id": 11, "name": "Dr. Ana Rojas", "email": "ana.rojas@clinic.example", "title": "Dr.",
     "phone": "+56 2 2345 6711", "is_active": True, "roles": [{"id": 2, "name": "doctor"}]},
    {"id": 12, "name": "Dr. Bruno Ortiz", "email": "bruno.ortiz@clinic.example", "title": "Dr.",
     "phone": "+56 2 2345 6712", "is_active": True, "roles": [{"id": 2, "name": "doctor"}]},
    {"id": 13, "name": "Carla Díaz", "email": "carla.diaz@clinic.example", "title": "",
     "phone": "+56 2 2345 6713", "is_active": True, "roles": [{"id": 3, "name": "assistant"}]},
    {"id": 14, "name": "Dra. Elena Vidal", "email": "elena.vidal@clinic.example",
     "title": "Dra.", "phone": None, "is_active": False, "roles": [{"id": 2, "name": "doctor"}]},
]  # fmt: skip
ROOMS = [
    {"id": 21, "name": "Room 1", "status": "active"},
    {"id": 22, "name": "Room 2", "status": "active"},
    {"id": 23, "name": "Laser room", "status": "maintenance"},
]
CUSTOMERS = [
    {"id": 31, "first_name": "Lucía", "last_name": "Pérez", "phone_number": "+56 9 8765 4301",
     "email": "lucia.perez@example.com", "date_of_birth": "1988-04-12T00:00:00Z",
     "gender": "female", "identity_number": "12.345.678-5"},
    {"id": 32, "first_name": "Tomás", "last_name": "Muñoz", "phone_number": "+56 9 8765 4302",
     "email": "tomas.munoz@example.com", "date_of_birth": "1975-11-30T00:00:00Z",
     "gender": "male", "identity_number": "9.876.543-2"},
]  # fmt: skip
# Customers the simulator holds unless told otherwise (`patient_count`): the catalogue's, then
# generated ones.
DEFAULT_PATIENT_COUNT = 2000
FIRST_GENERATED_CUSTOMER = 33
ADDED_CUSTOMER_ID = 900_001
FIRST_NAMES = ("Sofía", "Mateo", "Valentina", "Benjamín", "Isidora", "Agustín", "Josefa",
               "Vicente", "Emilia", "Joaquín", "Florencia", "Maximiliano", "Antonella",
               "Martín", "Catalina", "Santiago", "Trinidad", "Gaspar", "Amanda", "Lucas",
               "Renata", "Cristóbal", "Javiera", "Ignacio", "Constanza", "Diego", "Fernanda",
               "Felipe", "Antonia")  # fmt: skip
LAST_NAMES = ("González", "Rodríguez", "Silva", "Contreras", "Sepúlveda", "Morales",
              "Fuentes", "Valenzuela", "Araya", "Espinoza", "Castillo", "Tapia", "Reyes",
              "Gutiérrez", "Castro", "Pizarro", "Álvarez", "Vásquez", "Sánchez", "Fernández",
              "Ramírez", "Carrasco", "Gómez", "Cortés", "Herrera", "Núñez", "Jara", "Vergara",
              "Rivera", "Figueroa", "Riquelme", "García", "Miranda", "Bravo", "Vera", "Molina",
              "Vega", "Campos", "Sandoval", "Orellana")  # fmt: skip
GENDERS = ("female", "male", "female", "male", "other", None)
BORN_FROM = datetime.date(1940, 1, 1)
# The lists `malform` can break, how it breaks one record of each, and the faults
# `fail_request` can plan.
BROKEN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "users": lambda record: {**record, "name": None},
    "rooms": lambda record: {**record, "name": None},
    "treatments": lambda record: {**record, "is_active": "perhaps"},
    "customers": lambda record: {**record, "date_of_birth": "31-02-1990"},
}
PLANNED_FAULTS = ("429", "500", "503", "garbage")
# What the customers list's `search` looks in (see the module's docstring).
SEARCHED = ("first_name", "last_name", "email", "phone_number", "identity_number")
TREATMENTS = [
    {"id": 41, "group_id": 1, "name": "Consultation", "price": "45000", "tax_rate": 19,
     "session": 1, "is_active": "1", "users": [{"id": 11, "name": "Dr. Ana Rojas"},
                                               {"id": 12, "name": "Dr. Bruno Ortiz"}]},
    {"id": 42, "group_id": 1, "name": "Facial cleaning", "price": "30000", "tax_rate": 19,
     "session": 3, "is_active": "1", "users": [{"id": 12, "name": "Dr. Bruno Ortiz"}]},
]  # fmt: skip


class FlextellSimulator(Simulator):
    vendor = "flextell"
    routes = [
        ("POST", r"/oauth/token", "token"),
        ("POST", r"/api/v1/appointments", "create"),
        ("GET", r"/api/v1/appointments", "list_appointments"),
        ("GET", r"/api/v1/appointments/calendar", "calendar"),
        ("GET", r"/api/v1/appointments/(?P<id>\d+)", "read"),
        ("PATCH", r"/api/v1/appointments/(?P<id>\d+)", "update"),
        ("GET", r"/api/v1/users", "users"),
        ("GET", r"/api/v1/rooms", "rooms"),
        ("GET", r"/api/v1/customers", "customers"),
        ("GET", r"/api/v1/treatments", "treatments"),
    ]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.access_tokens: dict[str, float] = {}  # token -> expiry (time.time())
            self.revoked: set[str] = set()
            self.exchanges = 0
            self.appointments: dict[int, dict[str, Any]] = {}
            self.blocks: dict[int, dict[str, Any]] = {}
            self.ids = itertools.count(101)
            # Knobs: the tenant's zone, in which the list's `from`/`to` dates are read; and
            # whether the list honours its filters (the docs do not say so: notes §2; the
            # users list then answers every user at once, unfiltered and unpaged).
            self.time_zone = "UTC"
            self.honours_filters = True
            # The reference lists (see the module's docstring).
            self.patient_count = DEFAULT_PATIENT_COUNT
            self.added: dict[int, dict[str, Any]] = {}  # add_customer
            self.malformed: set[tuple[str, int]] = set()
            self.planned: dict[tuple[str, int], str] = {}

    def customer_with_id(self, customer_id: Any) -> dict[str, Any] | None:
        """The customer with this id, if the simulator holds it (as listed)."""
        if not _integer(customer_id):
            return None
        found = _by_id(CUSTOMERS, customer_id) or self.added.get(customer_id)
        index = customer_id - FIRST_GENERATED_CUSTOMER + len(CUSTOMERS)
        if found is None and len(CUSTOMERS) <= index < self.patient_count:
            found = customer(index)
        return found

    def add_customer(self, first_name: str, last_name: str, **fields: Any) -> dict[str, Any]:
        """Another customer, as staff register one in Flextell itself, with the next id;
        `fields`: phone_number, email, date_of_birth, gender, identity_number."""
        with self.lock:
            number = max(self.added, default=ADDED_CUSTOMER_ID - 1) + 1
            record = {"id": number, "first_name": first_name, "last_name": last_name,
                      "phone_number": None, "email": None, "date_of_birth": None,
                      "gender": None, "identity_number": None, **fields}  # fmt: skip
            self.added[number] = record
            return record

    def malform(self, listing: str, record_id: int) -> None:
        """From now on, the list `listing` (a key of BROKEN) serves this record broken."""
        if listing not in BROKEN:
            raise ValueError(f"unknown listing {listing!r}; choose from {sorted(BROKEN)}")
        with self.lock:
            self.malformed.add((listing, int(record_id)))

    def fail_request(self, path: str, nth: int = 2, fault: str = "429") -> None:
        """The `nth` request to `path` from now on (1 = the next one) answers `fault`."""
        if fault not in PLANNED_FAULTS or nth < 1:
            raise ValueError(f"fault must be one of {PLANNED_FAULTS} and nth at least 1")
        with self.lock:
            done = sum(1 for request in self.requests if request.path == path)
            self.planned[(path, done + nth)] = fault

    def dispatch(self, request: Request) -> Reply:
        fault = None
        with self.lock:
            if self.planned:
                number = sum(1 for earlier in self.requests if earlier.path == request.path)
                fault = self.planned.pop((request.path, number), None)
        if fault == "garbage":
            return Reply(200, "<html><body>502 Bad Gateway</body></html>")
        if fault is not None:
            return self.fault_reply(int(fault))
        return super().dispatch(request)

    def _control(self, request: Request) -> Reply:
        if request.path == "/__simulator/patients" and request.method == "POST":
            data = request.json if isinstance(request.json, dict) else {}
            count = data.get("count")
            if not _integer(count) or count < 0:
                return _error(400, "bad_request", "count must be a whole number")
            with self.lock:
                self.patient_count = count
            return Reply(200, {"patient_count": count})
        return super()._control(request)

    def prefill(
        self, count: int, *, start: datetime.datetime, customer_id: int = 32, user_id: int = 12
    ) -> None:
        """`count` approved appointments, one every SLOT_MINUTES from `start` (a tenant with
        a long history), stored as created."""
        with self.lock:
            for index in range(count):
                begins = start + datetime.timedelta(minutes=SLOT_MINUTES * index)
                number = next(self.ids)
                self.appointments[number] = {
                    "id": number, "customer_id": customer_id, "user_id": user_id,
                    "room_id": None, "assistant_id": None, "parent_appointment_id": None,
                    "treatments": [41], "description": None, "cancellation_reason": None,
                    "status": "approved", "start": begins,
                    "end": begins + datetime.timedelta(minutes=SLOT_MINUTES),
                }  # fmt: skip

    def state(self) -> dict[str, Any]:
        return {
            "tenant": TENANT,
            "token_exchanges": self.exchanges,
            "appointments": [self._resource(a) for a in self.appointments.values()],
            "blocks": [self._item(block, "block") for block in self.blocks.values()],
        }

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """Appointments neither cancelled nor rejected, by doctor and UTC start."""
        return [
            (str(a["user_id"]), a["start"].astimezone(datetime.UTC).isoformat())
            for a in self.appointments.values()
            if a["status"] not in INACTIVE
        ]

    def revoke_access_tokens(self) -> None:
        """Forget every issued access token (as if they all expired)."""
        with self.lock:
            self.access_tokens.clear()

    # -- OAuth ----------------------------------------------------------------------------

    def token(self, request: Request) -> Reply:
        form = request.form
        if form.get("grant_type") != "refresh_token":
            return _error(
                400, "unsupported_grant_type", "Only grant_type=refresh_token is accepted here."
            )
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _error(401, "invalid_client", "Client authentication failed.")
        refresh = form.get("refresh_token", "")
        if not refresh.startswith(REFRESH_PREFIX) or refresh in self.revoked:
            return _error(400, "invalid_grant", "The refresh token is invalid or was revoked.")
        self.revoked.add(refresh)
        self.exchanges += 1
        access = f"flextell-sim-at-{secrets.token_hex(12)}"
        self.access_tokens[access] = time.time() + TOKEN_LIFETIME
        return Reply(
            200,
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "refresh_token": f"{REFRESH_PREFIX}{secrets.token_hex(12)}",
            },
        )

    def _refused(self, request: Request) -> Reply | None:
        """The documented 401 for a bad token; the tenant header is required (newer revision)."""
        found = re.fullmatch(r"Bearer (\S+)", request.header("Authorization"))
        if not found or self.access_tokens.get(found.group(1), 0) < time.time():
            return _error(401, "invalid_token", "The access token is invalid or has expired.")
        tenant = request.header("X-Tenant")
        if not tenant:
            return _error(400, "tenant_required", "The X-Tenant header is required.")
        if tenant != TENANT:
            return _error(403, "forbidden", "You do not have access to this tenant.")
        return None

    # -- appointments ---------------------------------------------------------------------

    def create(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        data = request.json
        if not isinstance(data, dict):
            return _error(400, "bad_request", "The request body must be a JSON object.")
        problem = _validate(data, self.customer_with_id)
        if problem:
            return _error(422, "validation_error", problem)
        parent = data.get("parent_appointment_id")
        if parent is not None and parent not in self.appointments:
            return _error(422, "validation_error", "The selected parent appointment id is invalid.")
        start = _parse(data["scheduled_at"])
        end = start + datetime.timedelta(minutes=SLOT_MINUTES)
        if self._overlaps(data["user_id"], data.get("room_id"), start, end):
            return _taken()
        number = next(self.ids)
        self.appointments[number] = {
            "id": number,
            "customer_id": data["customer_id"],
            "user_id": data["user_id"],
            "room_id": data.get("room_id"),
            "assistant_id": data.get("assistant_id"),
            "parent_appointment_id": data.get("parent_appointment_id"),
            "treatments": list(data["treatments"]),
            "description": data.get("description"),
            "cancellation_reason": data.get("cancellation_reason"),
            "status": data["status"],
            "start": start,
            "end": end,
        }
        return Reply(
            201,
            {
                "success": "Appointment created successfully.",
                "data": self._resource(self.appointments[number]),
            },
        )

    def list_appointments(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        query = request.query
        items = list(self.appointments.values())
        if not self.honours_filters:
            return self._page(request, [self._resource(a) for a in items])
        zone = zoneinfo.ZoneInfo(self.time_zone)
        for field in ("customer_id", "user_id"):
            if query.get(field):
                if not query[field].isdigit():
                    return _error(422, "validation_error", f"The {field} must be an integer.")
                items = [a for a in items if a[field] == int(query[field])]
        for field, keep in (
            ("from", lambda a, d: a["start"].astimezone(zone).date() >= d),
            ("to", lambda a, d: a["start"].astimezone(zone).date() <= d),
        ):
            if query.get(field):
                try:
                    day = datetime.date.fromisoformat(query[field][:10])
                except ValueError:
                    return _error(422, "validation_error", f"The {field} must be a date.")
                items = [a for a in items if keep(a, day)]
        return self._page(request, [self._resource(a) for a in items])

    def calendar(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        days = []
        for field in ("from", "to"):
            try:
                days.append(datetime.date.fromisoformat(request.query.get(field, "")[:10]))
            except ValueError:
                return _error(422, "validation_error", f"The {field} must be a date.")
        if days[1] < days[0]:
            return _error(422, "validation_error", "The to must be a date after or equal to from.")
        zone = zoneinfo.ZoneInfo(self.time_zone)
        records = [(a, "appointment") for a in self.appointments.values()]
        records += [(b, "block") for b in self.blocks.values()]
        items = [
            self._item(record, kind)
            for record, kind in sorted(records, key=lambda pair: pair[0]["start"])
            if days[0] <= record["start"].astimezone(zone).date() <= days[1]
        ]
        return Reply(
            200,
            {
                "from": days[0].isoformat(),
                "to": days[1].isoformat(),
                "timezone": self.time_zone,
                "items": items,
            },
        )

    def _item(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        """One calendar item (the documented fields)."""
        zone = zoneinfo.ZoneInfo(self.time_zone)
        user = _by_id(USERS, record["user_id"]) or {}
        is_block = kind == "block"
        treatment = None if is_block else _by_id(TREATMENTS, record["treatments"][0])
        status = None if is_block else record["status"]
        return {
            "kind": kind,
            "reason": record["reason"] if is_block else record["description"],
            "start_at": record["start"].astimezone(zone).isoformat(),
            "end_at": record["end"].astimezone(zone).isoformat(),
            "doctor_name": user.get("name"),
            "treatment_name": treatment["name"] if treatment else None,
            "appointment_id": None if is_block else record["id"],
            "meta": {
                "status": status,
                "status_label": STATUS_LABELS.get(status or "", "Blocked"),
                "is_hard_reserved": is_block,
                "reschedule_confirmation_pending": False,
                "original_scheduled_at": None,
                "proposed_scheduled_at": None,
                "pending_expires_at": None,
            },
        }

    def _overlaps(
        self,
        user_id: Any,
        room_id: Any,
        start: datetime.datetime,
        end: datetime.datetime,
        *,
        besides: int | None = None,
    ) -> bool:
        """Whether an active appointment or a block holds that doctor or room then."""
        active = [a for a in self.appointments.values() if a["status"] not in INACTIVE]
        for other in [*active, *self.blocks.values()]:
            if other["id"] == besides or not (other["start"] < end and start < other["end"]):
                continue
            if other["user_id"] == user_id or (room_id is not None and other["room_id"] == room_id):
                return True
        return False

    # -- changes made in Flextell itself -------------------------------------------------

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        try:
            return getattr(self, f"_direct_{action}")(data)
        except (KeyError, TypeError, ValueError) as problem:
            return _error(400, "bad_request", f"Cannot {action} that: {problem!r}.")

    def _direct_book(self, data: dict[str, Any]) -> Reply:
        user_id, room_id = int(data["practitioner"]), _number_or_none(data.get("room"))
        if not _by_id(USERS, user_id) or (room_id is not None and not _by_id(ROOMS, room_id)):
            return _error(422, "validation_error", "Unknown doctor or room.")
        start = _aware(data["start"])
        end = start + datetime.timedelta(minutes=int(data.get("minutes") or SLOT_MINUTES))
        number = next(self.ids)
        record = {"id": number, "user_id": user_id, "room_id": room_id, "start": start, "end": end}
        if data.get("kind", "appointment") == "block":
            self.blocks[number] = record | {"reason": data.get("reason") or "Blocked"}
            return Reply(201, {"id": str(number)})
        if self._overlaps(user_id, room_id, start, end):
            return _taken()
        status = data.get("status") or "approved"
        if status not in STATUSES:
            return _error(422, "validation_error", "The selected status is invalid.")
        self.appointments[number] = record | {
            "customer_id": _number_or_none(data.get("patient")),
            "assistant_id": None,
            "parent_appointment_id": None,
            "treatments": [int(data.get("appointment_type") or 41)],
            "description": data.get("description"),
            "cancellation_reason": None,
            "status": status,
        }
        return Reply(201, {"id": str(number)})

    def _direct_move(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return _error(404, "not_found", "Appointment not found.")
        start = _aware(data["start"])
        minutes = data.get("minutes")
        length = (
            datetime.timedelta(minutes=int(minutes)) if minutes else record["end"] - record["start"]
        )
        is_block = record["id"] in self.blocks
        if not is_block and self._overlaps(
            record["user_id"], record["room_id"], start, start + length, besides=record["id"]
        ):
            return _taken()
        record["start"], record["end"] = start, start + length
        return Reply(200, {"id": str(record["id"])})

    def _direct_cancel(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return _error(404, "not_found", "Appointment not found.")
        if record["id"] in self.blocks:
            del self.blocks[record["id"]]
        else:
            record["status"] = "cancelled"
        return Reply(200, {"id": str(record["id"])})

    def _direct_delete(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return _error(404, "not_found", "Appointment not found.")
        self.appointments.pop(record["id"], None)
        self.blocks.pop(record["id"], None)
        return Reply(200, {"id": str(record["id"])})

    def _record(self, data: dict[str, Any]) -> dict[str, Any] | None:
        number = int(data["id"])
        return self.appointments.get(number) or self.blocks.get(number)

    def _named(self, request: Request) -> dict[str, Any] | Reply:
        """The appointment the path names, or the refusal (a bad token, an unknown id)."""
        if refused := self._refused(request):
            return refused
        appointment = self.appointments.get(int(request.match["id"]))
        if appointment is None:
            return _error(404, "not_found", "Appointment not found.")
        return appointment

    def read(self, request: Request) -> Reply:
        appointment = self._named(request)
        if isinstance(appointment, Reply):
            return appointment
        return Reply(
            200,
            {"success": "Appointment retrieved successfully.", "data": self._resource(appointment)},
        )

    def update(self, request: Request) -> Reply:
        appointment = self._named(request)
        if isinstance(appointment, Reply):
            return appointment
        data = request.json
        if not isinstance(data, dict):
            return _error(400, "bad_request", "The request body must be a JSON object.")
        status = data.get("status", appointment["status"])
        if status not in STATUSES:
            return _error(422, "validation_error", "The selected status is invalid.")
        reason = data.get("cancellation_reason")
        if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_TEXT):
            return _error(
                422,
                "validation_error",
                "The cancellation reason may not be greater than 1000 characters.",
            )
        if status == "cancelled" and appointment["status"] in ("completed", "no_show"):
            return _error(
                409, "invalid_state", f"A {appointment['status']} appointment cannot be cancelled."
            )
        appointment["status"] = status
        if reason is not None:
            appointment["cancellation_reason"] = reason
        return Reply(
            200,
            {"success": "Appointment updated successfully.", "data": self._resource(appointment)},
        )

    # -- reference lists ------------------------------------------------------------------

    def users(self, request: Request) -> Reply:
        """Documented to answer a bare `data` list (no links or meta); paged all the same."""
        if refused := self._refused(request):
            return refused
        query = request.query
        role = query.get("role", "").casefold()
        active = query.get("is_active")
        search = query.get("search", "").casefold()
        found = [
            user
            for user in USERS
            if (not role or role in (r["name"].casefold() for r in user["roles"]))
            and (active in (None, "") or user["is_active"] == (active in ("1", "true")))
            and (not search or search in f"{user['name']} {user['email']}".casefold())
        ]
        if not self.honours_filters:  # the whole list at once, whatever was asked
            return Reply(200, {"data": [self._served("users", user) for user in USERS]})
        page = self._page(request, [self._served("users", user) for user in found])
        if page.status == 200:
            page.body = {"data": page.body["data"]}
        return page

    def rooms(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        status = request.query.get("status")
        found = [self._served("rooms", r) for r in ROOMS if not status or r["status"] == status]
        return self._page(request, found)

    def customers(self, request: Request) -> Reply:
        if refused := self._refused(request):
            return refused
        search = _folded(request.query.get("search", ""))
        gender = request.query.get("gender")

        def keep(found: dict[str, Any]) -> bool:
            text = " ".join(str(found.get(field) or "") for field in SEARCHED)
            return (not search or search in _folded(text)) and (
                not gender or found["gender"] == gender
            )

        return self._page(request, _Customers(self, keep, narrowed=bool(search or gender)))

    def treatments(self, request: Request) -> Reply:
        return self._refused(request) or self._page(
            request, [self._served("treatments", t) for t in TREATMENTS]
        )

    def _served(self, listing: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as its list serves it: broken if `malform` said so."""
        if (listing, record["id"]) not in self.malformed:
            return record
        return BROKEN[listing](record)

    # -- shapes ---------------------------------------------------------------------------

    def _page(self, request: Request, items: list[dict[str, Any]] | _Customers) -> Reply:
        """Laravel's paginated shape: data, links, meta."""
        try:
            page = int(request.query.get("page", "1"))
            size = int(request.query.get("per_page", "15"))
        except ValueError:
            return _error(422, "validation_error", "The page and per_page must be integers.")
        if page < 1 or not 1 <= size <= 100:
            return _error(422, "validation_error", "The per_page must be between 1 and 100.")
        last = max(1, -(-len(items) // size))
        chunk = items[(page - 1) * size : page * size]
        first = (page - 1) * size + 1 if chunk else None
        return Reply(
            200,
            {
                "data": chunk,
                "links": {"first": None, "last": None, "prev": None, "next": None},
                "meta": {
                    "current_page": page,
                    "from": first,
                    "last_page": last,
                    "per_page": size,
                    "to": first + len(chunk) - 1 if chunk else None,
                    "total": len(items),
                },
            },
        )

    def _resource(self, appointment: dict[str, Any]) -> dict[str, Any]:
        """The documented AppointmentResource."""
        user = _by_id(USERS, appointment["user_id"]) or {}
        room = _by_id(ROOMS, appointment["room_id"])
        assistant = _by_id(USERS, appointment["assistant_id"])
        return {
            "id": appointment["id"],
            "customer_id": appointment["customer_id"],
            "room_id": appointment["room_id"],
            "parent_appointment_id": appointment["parent_appointment_id"],
            "code": f"APT-{appointment['id']:06d}",
            "relation_type": "follow_up" if appointment["parent_appointment_id"] else "single",
            "description": appointment["description"],
            "scheduled_at": appointment["start"].strftime("%Y-%m-%dT%H:%M:%SZ"),
            "status": appointment["status"],
            "cancellation_reason": appointment["cancellation_reason"],
            "creation_type": "api",
            "assistants": [{"id": assistant["id"], "name": assistant["name"]}] if assistant else [],
            "created_at": STAMP,
            "updated_at": STAMP,
            "deleted_at": None,
            "customer": self.customer_with_id(appointment["customer_id"]),
            "doctor": {"id": user.get("id"), "name": user.get("name")},
            "room": {**room, "created_at": STAMP, "updated_at": STAMP, "deleted_at": None}
            if room
            else None,
            "parent_appointment": None,
            "child_appointments": [],
            "treatments": [_by_id(TREATMENTS, t) for t in appointment["treatments"]],
        }

    def not_found(self, request: Request) -> Reply:
        return _error(404, "not_found", f"No route for {request.method} {request.path}.")

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(
                429,
                {"error": "rate_limit_exceeded", "message": "Too many requests."},
                {"Retry-After": "1"},
            )
        if status == 503:
            return _error(503, "service_unavailable", "The service is temporarily unavailable.")
        return _error(status, "server_error", "An unexpected error occurred.")


class _Customers:
    """The customers a list shows, as a sequence made on demand (len and slices), so that a
    page of thousands of customers generates only that page."""

    def __init__(
        self,
        simulator: FlextellSimulator,
        keep: Callable[[dict[str, Any]], bool],
        *,
        narrowed: bool,
    ) -> None:
        self.simulator, self.keep = simulator, keep
        self.count = simulator.patient_count
        # Customers added by tests, listed after the generated ones.
        self.added = [simulator._served("customers", c) for _, c in sorted(simulator.added.items())]
        # A search reads them all once; the whole list is only counted.
        self.found: list[dict[str, Any]] | None = None
        if narrowed:
            self.found = [c for n in range(self.count) if keep(c := self._served(n))]
            self.found += [c for c in self.added if keep(c)]

    def _served(self, index: int) -> dict[str, Any]:
        return self.simulator._served("customers", customer(index))

    def __len__(self) -> int:
        return self.count + len(self.added) if self.found is None else len(self.found)

    def __getitem__(self, span: slice) -> list[dict[str, Any]]:
        if self.found is not None:
            return self.found[span]
        start, stop, _ = span.indices(len(self))
        generated = [self._served(n) for n in range(start, min(stop, self.count))]
        return generated + self.added[max(0, start - self.count) : max(0, stop - self.count)]


def customer(index: int) -> dict[str, Any]:
    """The simulator's customer number `index` (from 0) as listed: the catalogue's first,
    then generated ones, the same on every run."""
    if index < len(CUSTOMERS):
        return CUSTOMERS[index]
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    born = BORN_FROM + datetime.timedelta(days=index * 7919 % 25_000)
    number = 5_000_000 + index * 7_777
    return {
        "id": FIRST_GENERATED_CUSTOMER + index - len(CUSTOMERS),
        "first_name": first,
        "last_name": last,
        "phone_number": f"+56 9 {index // 10_000 % 10_000:04d} {index % 10_000:04d}",
        "email": f"{_ascii(first)}.{_ascii(last)}.{index}@example.com",
        "date_of_birth": f"{born.isoformat()}T00:00:00Z",
        "gender": GENDERS[index % len(GENDERS)],
        "identity_number": rut.format(f"{number}{rut.calc_check_digit(str(number))}"),
    }


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain.lower()


def _folded(text: str) -> str:
    """Text as a case- and accent-insensitive column compares it."""
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if not unicodedata.combining(c)).casefold()


def _validate(data: dict[str, Any], known_customer: Callable[[Any], Any]) -> str:
    """The first problem with a create body, in Laravel's wording, or ""."""
    known_user: Callable[[Any], Any] = lambda key: _by_id(USERS, key)  # noqa: E731
    for field, known in (("customer_id", known_customer), ("user_id", known_user)):
        if data.get(field) is None:
            return f"The {field.replace('_', ' ')} field is required."
        if not _integer(data[field]):
            return f"The {field.replace('_', ' ')} must be an integer."
        if not known(data[field]):
            return f"The selected {field.replace('_', ' ')} is invalid."
    scheduled = data.get("scheduled_at")
    if not scheduled:
        return "The scheduled at field is required."
    if not isinstance(scheduled, str) or not ISO_DATETIME.match(scheduled):
        return "The scheduled at must be a valid date-time (ISO 8601 with a UTC offset)."
    if data.get("status") is None:
        return "The status field is required."
    if data["status"] not in STATUSES:
        return "The selected status is invalid."
    treatments = data.get("treatments")
    if not isinstance(treatments, list) or not treatments:
        return "The treatments field is required and must have at least 1 item."
    for item in treatments:
        if not _integer(item) or not _by_id(TREATMENTS, item):
            return "The selected treatments is invalid."
    for field, records in (
        ("room_id", ROOMS),
        ("assistant_id", USERS),
        ("parent_appointment_id", None),
    ):
        value = data.get(field)
        if value is None:
            continue
        if not _integer(value):
            return f"The {field.replace('_', ' ')} must be an integer."
        if records and not _by_id(records, value):
            return f"The selected {field.replace('_', ' ')} is invalid."
    for field in ("description", "cancellation_reason"):
        value = data.get(field)
        if value is not None and (not isinstance(value, str) or len(value) > MAX_TEXT):
            return f"The {field.replace('_', ' ')} may not be greater than {MAX_TEXT} characters."
    return ""


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _by_id(records: list[dict[str, Any]], key: Any) -> dict[str, Any] | None:
    return next((record for record in records if record["id"] == key), None)


def _parse(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(datetime.UTC)


def _aware(value: Any) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(datetime.UTC)


def _number_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _taken() -> Reply:
    return _error(
        409, "slot_unavailable", "The selected time is no longer available for this doctor or room."
    )


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": code, "message": message})
