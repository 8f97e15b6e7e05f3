"""Treats.vet simulator: the documented endpoints under /api/v1, in memory.

What it checks, as ../shared/vendor-docs/treatsvet-post-appointments.txt and the vendor's
guides describe: `X-API-Key` (401 `Authentication required` / `Invalid or expired API key`);
POST /appointments with `clientId`, `patientId`, `vetId` (UUIDs), `scheduledAt` (ISO 8601
date-time with its offset, in the future), optional `appointmentTypeId` (UUID), `reason`
(string) and `isUrgent` (boolean); 409 when the vet already has an appointment overlapping
that time; errors as `{"message": "..."}`; 429 with `retryAfter` and `Retry-After`.

Where the documentation is silent:
- an appointment lasts its type's `durationMinutes`, or 30 minutes without a type;
- available slots are the vet's free starts within their working hours on the given date,
  read in the clinic's zone (Europe/Paris), stepping by the type's duration from the start of
  each working period (30 minutes without a type), later than now. Working hours (HOURS) are
  those of the demo's veterinary clinic (scheduling/demo.py, Lilas), both locations joined,
  so the desk's hours and the simulator's agree: a slot is free when no appointment that is
  not CANCELLED and no block of that vet overlaps it;
- bookings through the API are not held to working hours (only to overlaps: 409);
- owners and animals are not a closed list: any well-formed `clientId` / `patientId` is
  accepted (the clinic's real ones live in Treats.vet); but an animal the simulator knows must
  belong to the owner sent with it. Vets and appointment types must be known.

`direct` (what staff do in Treats.vet itself, see simulators/base.py): `book` an appointment
(`practitioner` = vetId, `patient` = the animal, `guardian` = the owner (the known animal's
owner by default), `appointment_type`, `minutes` (default the type's, else 30); status
SCHEDULED; 409 when it overlaps, as the API's create) or a block (`kind: "block"`: not an
appointment, no GET, allowed over anything); `move` (to `start`, keeping its length unless
`minutes`; 409 on overlap); `cancel` (status CANCELLED, its time free again; a block is
removed); `delete` (gone: GET answers 404).

Catalogue (names match the demo's veterinary clinic; ids are stable, see VETS and TYPES):
  vets Claire Martin, Julien Bernard, Sophie Lefèvre, Thomas Moreau; types Consultation 20,
  Vaccination 15, Chirurgie programmée 120, Consultation dermatologie 40, Téléconsultation 15,
  Consultation NAC 30 (minutes).

Owners and animals (onboarding, issue 12). Treats.vet documents neither the fields of a
client or an animal nor any paging, so the simulator answers what the adapter decided to
read (vendors/adapters/treatsvet.py): ``GET /clients`` and ``GET /patients`` take ``page``
(from 1, default 1) and ``limit`` (1-100, default 20) and answer a bare JSON list, as the
documented lists (types, slots) are; a page past the end is ``[]``. An owner is ``{id,
firstName, lastName, email, phone}``; an animal ``{id, name, species, breed, sex (MALE |
FEMALE), birthDate (YYYY-MM-DD or null), clientId}``. There are ``patient_count`` animals
(default PATIENT_COUNT; tests shrink it): animal n (from 1) is the catalogue's Rex, Minou,
Noisette, Zorro for n ≤ 4, then made on demand from n (``animal(n)``, never all held), with
``a0000000-0000-4000-8000-<n in hex>`` as id; their owners are the catalogue's three, then
owners m ≥ 4 (``c0000000-0000-4000-8000-<m in hex>``) of one or two animals each (two owners
for three animals: ``owner_of``). ``GET /clients/{id}`` and ``GET /patients/{id}`` answer
one. Tests may break a record (``malform(n, name=7, drop=("clientId",))``,
``malform_client(m, ...)``), make the lists ignore paging (``paging = "none"``: the whole
list every time, or ``"limit"``: ``limit`` honoured, ``page`` ignored) and fault a later
request (``inject_on("429", path="/api/v1/patients", nth=2)``: the second request to that
path from now, where ``inject`` faults the next one).
"""

from __future__ import annotations

import copy
import datetime
import re
import unicodedata
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any

from vendors.simulators.base import Reply, Request, Simulator

PREFIX = "/api/v1"
API_KEY = "vk_c2ltdWxhdG9yLWtleQ"
CLINIC_ZONE = zoneinfo.ZoneInfo("Europe/Paris")
NAMESPACE = uuid.UUID("6f1d2a0e-4b8c-4d7e-9a31-2f5c8e7b9d10")
DEFAULT_MINUTES = 30
SLOT_TAKEN = "This time slot is no longer available"
MON, TUE, WED, THU, FRI = range(5)
WEEKDAYS = (MON, TUE, WED, THU, FRI)


def stable_id(name: str) -> str:
    """The simulator's id of a named record (the same in every run)."""
    return str(uuid.uuid5(NAMESPACE, name))


VETS = {
    stable_id(f"vet:{name}"): {"id": stable_id(f"vet:{name}"), "name": name}
    for name in ("Claire Martin", "Julien Bernard", "Sophie Lefèvre", "Thomas Moreau")
}
TYPES = {
    stable_id(f"type:{name}"): {
        "id": stable_id(f"type:{name}"),
        "name": name,
        "durationMinutes": minutes,
        "color": color,
    }
    for name, minutes, color in (
        ("Consultation", 20, "#4f9dde"),
        ("Vaccination", 15, "#5cb85c"),
        ("Chirurgie programmée", 120, "#d9534f"),
        ("Consultation dermatologie", 40, "#f0ad4e"),
        ("Téléconsultation", 15, "#9b59b6"),
        ("Consultation NAC", 30, "#1abc9c"),
    )
}


def _weekly(
    *periods: tuple[tuple[int, ...], str, str],
) -> dict[int, list[tuple[datetime.time, ...]]]:
    """Weekday -> its (start, end) working periods, in order."""
    week: dict[int, list[tuple[datetime.time, ...]]] = {}
    for days, start, end in periods:
        for day in days:
            week.setdefault(day, []).append(
                (datetime.time.fromisoformat(start), datetime.time.fromisoformat(end))
            )
    return {day: sorted(times) for day, times in week.items()}


# Each vet's working hours: the demo clinic's (scheduling/demo.py), both locations joined.
HOURS = {
    stable_id(f"vet:{name}"): _weekly(*periods)
    for name, periods in (
        ("Claire Martin", ((WEEKDAYS, "09:00", "12:30"), ((MON, TUE, THU), "14:00", "19:00"))),
        ("Julien Bernard", (((TUE, THU), "08:00", "13:00"), ((MON, WED, FRI), "09:00", "13:00"))),
        ("Sophie Lefèvre", (((MON, TUE, WED, THU), "14:00", "18:00"), ((FRI,), "14:00", "17:00"))),
        (
            "Thomas Moreau",
            (((TUE, THU), "09:00", "12:00"), ((WED, FRI), "14:00", "19:00"),
             ((MON,), "18:00", "20:00")),
        ),
    )
}  # fmt: skip
CLIENTS = {
    stable_id(f"client:{given} {family}"): {
        "id": stable_id(f"client:{given} {family}"),
        "firstName": given,
        "lastName": family,
        "email": email,
        "phone": phone,
    }
    for given, family, email, phone in (
        ("Camille", "Dubois", "camille.dubois@example.fr", "+33 6 12 34 56 78"),
        ("Hugo", "Petit", "", "+33 6 98 76 54 32"),
        ("Léa", "Durand", "lea.durand@example.fr", ""),
    )
}
PATIENTS = {
    stable_id(f"patient:{name}"): {
        "id": stable_id(f"patient:{name}"),
        "name": name,
        "species": species,
        "breed": breed,
        "sex": sex,
        "birthDate": born,
        "clientId": stable_id(f"client:{owner}"),
    }
    for name, species, breed, sex, born, owner in (
        ("Rex", "dog", "Berger allemand", "MALE", "2019-04-12", "Camille Dubois"),
        ("Minou", "cat", "Européen", "FEMALE", "2021-06-01", "Camille Dubois"),
        ("Noisette", "rabbit", "Bélier nain", "FEMALE", None, "Hugo Petit"),
        ("Zorro", "ferret", "", "MALE", "2022-09-30", "Léa Durand"),
    )
}
# Onboarding: how many animals GET /patients lists unless a test says otherwise, and the
# records made from a number (see the module's docstring).
PATIENT_COUNT = 3000
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
CATALOGUE_ANIMALS, CATALOGUE_OWNERS = list(PATIENTS), list(CLIENTS)
ANIMAL_ID = "a0000000-0000-4000-8000-{:012x}"
OWNER_ID = "c0000000-0000-4000-8000-{:012x}"
NUMBERED = re.compile(r"^[ac]0000000-0000-4000-8000-([0-9a-f]{12})$")
PET_NAMES = (
    "Filou", "Caramel", "Oscar", "Nala", "Simba", "Pepsi", "Moka", "Tigrou", "Luna", "Vanille",
    "Gribouille", "Pompon", "Réglisse", "Chipie", "Ulysse",
)  # fmt: skip
BREEDS = (
    ("dog", "Labrador"), ("cat", "Européen"), ("dog", "Golden retriever"), ("cat", "Maine coon"),
    ("rabbit", "Bélier nain"), ("dog", "Border collie"), ("cat", "Siamois"), ("ferret", ""),
    ("bird", "Perruche ondulée"), ("dog", ""),
)  # fmt: skip
OWNER_NAMES = (
    ("Alice", "Martin"), ("Louis", "Bernard"), ("Emma", "Thomas"), ("Gabriel", "Robert"),
    ("Jade", "Richard"), ("Raphaël", "Petit"), ("Louise", "Durand"), ("Arthur", "Leroy"),
    ("Chloé", "Moreau"), ("Jules", "Simon"), ("Inès", "Laurent"), ("Adam", "Lefebvre"),
    ("Manon", "Michel"), ("Hugo", "Garcia"), ("Zoé", "N'Diaye"),
)  # fmt: skip


def owner_of(number: int) -> int:
    """The number of animal `number`'s owner: the catalogue's, then two owners for three."""
    if number <= len(CATALOGUE_ANIMALS):
        client_id = PATIENTS[CATALOGUE_ANIMALS[number - 1]]["clientId"]
        return CATALOGUE_OWNERS.index(client_id) + 1
    return len(CATALOGUE_OWNERS) + 1 + (number - len(CATALOGUE_ANIMALS) - 1) * 2 // 3


def animal(number: int) -> dict[str, Any]:
    """Animal `number` (from 1), the same in every run."""
    if number <= len(CATALOGUE_ANIMALS):
        return dict(PATIENTS[CATALOGUE_ANIMALS[number - 1]])
    species, breed = BREEDS[number % len(BREEDS)]
    born = None
    if number % 9:
        born = datetime.date(2008 + number % 17, 1 + number % 12, 1 + number % 28).isoformat()
    return {
        "id": ANIMAL_ID.format(number),
        "name": PET_NAMES[number % len(PET_NAMES)],
        "species": species,
        "breed": breed,
        "sex": ("MALE", "FEMALE")[number % 2],
        "birthDate": born,
        "clientId": owner(owner_of(number))["id"],
    }


def owner(number: int) -> dict[str, Any]:
    """Owner `number` (from 1), the same in every run."""
    if number <= len(CATALOGUE_OWNERS):
        return dict(CLIENTS[CATALOGUE_OWNERS[number - 1]])
    given, family = OWNER_NAMES[number % len(OWNER_NAMES)]
    plain = unicodedata.normalize("NFKD", f"{given}.{family}".lower())
    handle = re.sub(r"[^a-z.]", "", plain)
    digits = f"{number:06d}"[-6:]
    return {
        "id": OWNER_ID.format(number),
        "firstName": given,
        "lastName": family,
        "email": "" if number % 10 == 0 else f"{handle}{number}@example.fr",
        "phone": "" if number % 7 == 0 else f"+33 6 {digits[:2]} {digits[2:4]} {digits[4:]} 00",
    }


class TreatsVetSimulator(Simulator):
    vendor = "treatsvet"
    api_key = API_KEY
    routes = [
        ("POST", rf"{PREFIX}/appointments", "create_appointment"),
        ("GET", rf"{PREFIX}/appointments/types", "list_types"),
        ("GET", rf"{PREFIX}/appointments/available-slots", "available_slots"),
        ("GET", rf"{PREFIX}/appointments/(?P<id>[^/]+)", "get_appointment"),
        ("GET", rf"{PREFIX}/clients", "list_clients"),
        ("GET", rf"{PREFIX}/clients/(?P<id>[^/]+)", "get_client"),
        ("GET", rf"{PREFIX}/patients", "list_patients"),
        ("GET", rf"{PREFIX}/patients/(?P<id>[^/]+)", "get_patient"),
    ]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.appointments: dict[str, dict[str, Any]] = {}
            self.blocks: dict[str, dict[str, Any]] = {}
            self.patient_count = PATIENT_COUNT
            # (kind, number) -> (fields replaced, fields dropped): what `malform` broke.
            self.malformed: dict[tuple[str, int], tuple[dict[str, Any], tuple[str, ...]]] = {}
            # How the lists page: "page" (page and limit), "none" (every answer is the whole
            # list) or "limit" (limit honoured, page ignored): for servers we cannot see.
            self.paging = "page"

    @property
    def client_count(self) -> int:
        return max(len(CATALOGUE_OWNERS), owner_of(self.patient_count))

    def malform(self, number: int, *, drop: Sequence[str] = (), **changes: Any) -> None:
        """Animal `number` (from 1) comes with these fields replaced and `drop` left out."""
        with self.lock:
            self.malformed["animal", number] = (changes, tuple(drop))

    def malform_client(self, number: int, *, drop: Sequence[str] = (), **changes: Any) -> None:
        """Owner `number` (from 1) comes with these fields replaced and `drop` left out."""
        with self.lock:
            self.malformed["owner", number] = (changes, tuple(drop))

    def _numbered(self, kind: str, number: int) -> dict[str, Any]:
        record = animal(number) if kind == "animal" else owner(number)
        changes, drop = self.malformed.get((kind, number), ({}, ()))
        return {name: value for name, value in (record | changes).items() if name not in drop}

    def _number_of(self, kind: str, record_id: str) -> int | None:
        """The number of the animal or owner with this id, if the simulator holds it."""
        catalogue = CATALOGUE_ANIMALS if kind == "animal" else CATALOGUE_OWNERS
        count = self.patient_count if kind == "animal" else self.client_count
        if record_id in catalogue:
            number = catalogue.index(record_id) + 1
        else:
            found = NUMBERED.match(record_id)
            prefix = "a" if kind == "animal" else "c"
            if not found or record_id[0] != prefix:
                return None
            number = int(found.group(1), 16)
            if number <= len(catalogue):
                return None
        return number if 1 <= number <= count else None

    def _find(self, kind: str, record_id: str) -> dict[str, Any] | None:
        number = self._number_of(kind, record_id)
        return None if number is None else self._numbered(kind, number)

    def state(self) -> dict[str, Any]:
        return {
            "appointments": list(self.appointments.values()),
            "blocks": list(self.blocks.values()),
        }

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """Appointments not CANCELLED, by vet and UTC start (`scheduledAt`)."""
        return [
            (a["vetId"], a["scheduledAt"])
            for a in self.appointments.values()
            if a["status"] != "CANCELLED"
        ]

    # -- answers in Treats.vet's shape ------------------------------------------------------

    def error(self, status: int, message: str) -> Reply:
        return Reply(status, {"message": message})

    def not_found(self, request: Request) -> Reply:
        return self.error(404, "Resource not found")

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(
                429,
                {"message": "Rate limit exceeded. Please try again later.", "retryAfter": 1},
                {"Retry-After": "1", "X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "0"},
            )
        return self.error(status, "Internal server error")

    def dispatch(self, request: Request) -> Reply:
        key = request.header("X-API-Key")
        if not key:
            return self.error(401, "Authentication required")
        if key != self.api_key:
            return self.error(401, "Invalid or expired API key")
        return super().dispatch(request)

    # -- reference data ----------------------------------------------------------------------

    def list_types(self, request: Request) -> Reply:
        return Reply(200, list(TYPES.values()))

    def list_clients(self, request: Request) -> Reply:
        return self._page(request, "owner", self.client_count)

    def list_patients(self, request: Request) -> Reply:
        return self._page(request, "animal", self.patient_count)

    def _page(self, request: Request, kind: str, count: int) -> Reply:
        """One page (`page` from 1, `limit` up to MAX_LIMIT) of owners or animals."""
        try:
            page = int(request.query.get("page", "1"))
            limit = int(request.query.get("limit", str(DEFAULT_LIMIT)))
        except ValueError:
            return self.error(400, "page and limit must be whole numbers")
        if page < 1 or not 1 <= limit <= MAX_LIMIT:
            return self.error(400, f"page starts at 1; limit is between 1 and {MAX_LIMIT}")
        if self.paging == "none":
            page, limit = 1, count
        elif self.paging == "limit":
            page = 1
        first = (page - 1) * limit + 1
        numbers = range(first, min(first + limit - 1, count) + 1)
        return Reply(200, [self._numbered(kind, number) for number in numbers])

    def get_client(self, request: Request) -> Reply:
        found = self._find("owner", request.match["id"])
        return Reply(200, found) if found else self.not_found(request)

    def get_patient(self, request: Request) -> Reply:
        found = self._find("animal", request.match["id"])
        return Reply(200, found) if found else self.not_found(request)

    def available_slots(self, request: Request) -> Reply:
        vet, day, kind = (
            request.query.get(name, "") for name in ("vetId", "date", "appointmentTypeId")
        )
        if vet not in VETS:
            return self.error(400, "vetId must be the id of a vet of the clinic")
        if kind and kind not in TYPES:
            return self.error(400, "appointmentTypeId must be the id of an appointment type")
        try:
            date = datetime.date.fromisoformat(day)
        except ValueError:
            return self.error(400, "date must be a date (YYYY-MM-DD)")
        length = datetime.timedelta(minutes=_minutes(kind))
        now, slots = datetime.datetime.now(datetime.UTC), []
        for opens, closes in HOURS[vet].get(date.weekday(), []):
            moment = _instant_on(date, opens)
            while moment + length <= _instant_on(date, closes):
                if moment > now and not self._taken(vet, moment, moment + length):
                    slots.append({"startTime": _z(moment), "endTime": _z(moment + length)})
                moment += length
        return Reply(200, slots)

    # -- appointments ----------------------------------------------------------------------

    def get_appointment(self, request: Request) -> Reply:
        found = self.appointments.get(request.match["id"])
        return Reply(200, copy.deepcopy(found)) if found else self.not_found(request)

    def create_appointment(self, request: Request) -> Reply:
        body = request.json
        if not isinstance(body, dict):
            return self.error(400, "The request body must be a JSON object")
        problem = _problem(body)
        known = None if problem else self._find("animal", body["patientId"])
        if known and known.get("clientId") != body["clientId"]:
            problem = "The patient does not belong to this client"
        if problem:
            return self.error(400, problem)
        start = _instant(body["scheduledAt"])
        end = start + datetime.timedelta(minutes=_minutes(body.get("appointmentTypeId")))
        if self._taken(body["vetId"], start, end):
            return self.error(409, SLOT_TAKEN)
        now = datetime.datetime.now(datetime.UTC)
        appointment = {
            "id": str(uuid.uuid4()),
            "clientId": body["clientId"],
            "patientId": body["patientId"],
            "appointmentTypeId": body.get("appointmentTypeId"),
            "vetId": body["vetId"],
            "scheduledAt": _z(start),
            "endTime": _z(end),
            "reason": body.get("reason") or "",
            "isUrgent": body.get("isUrgent", False),
            "status": "SCHEDULED",
            "displayStatus": "Planifié",
            "createdAt": _z(now),
        }
        self.appointments[appointment["id"]] = appointment
        return Reply(201, copy.deepcopy(appointment))

    def _taken(
        self,
        vet: str,
        start: datetime.datetime,
        end: datetime.datetime,
        *,
        besides: str | None = None,
    ) -> bool:
        """Whether an appointment that is not cancelled, or a block, holds the vet then."""
        for other in [*self.appointments.values(), *self.blocks.values()]:
            if other["vetId"] != vet or other["status"] == "CANCELLED" or other["id"] == besides:
                continue
            if _instant(other["scheduledAt"]) < end and start < _instant(other["endTime"]):
                return True
        return False

    # -- changes made in Treats.vet itself ---------------------------------------------------

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        try:
            return getattr(self, f"_direct_{action}")(data)
        except (KeyError, TypeError, ValueError) as problem:
            return self.error(400, f"Cannot {action} that: {problem!r}")

    def _direct_book(self, data: dict[str, Any]) -> Reply:
        vet, kind = str(data["practitioner"]), data.get("appointment_type") or None
        if vet not in VETS or (kind is not None and kind not in TYPES):
            return self.error(400, "Unknown vet or appointment type")
        start = _aware(data["start"])
        end = start + datetime.timedelta(minutes=int(data.get("minutes") or _minutes(kind)))
        record = {"id": str(uuid.uuid4()), "vetId": vet, "scheduledAt": _z(start),
                  "endTime": _z(end), "status": "SCHEDULED"}  # fmt: skip
        if data.get("kind", "appointment") == "block":
            self.blocks[record["id"]] = record
            return Reply(201, {"id": record["id"]})
        if self._taken(vet, start, end):
            return self.error(409, SLOT_TAKEN)
        animal = str(data.get("patient") or uuid.uuid4())
        guardian = data.get("guardian") or (self._find("animal", animal) or {}).get("clientId")
        self.appointments[record["id"]] = record | {
            "clientId": guardian,
            "patientId": animal,
            "appointmentTypeId": kind,
            "reason": "",
            "isUrgent": False,
            "displayStatus": "Planifié",
            "createdAt": _z(datetime.datetime.now(datetime.UTC)),
        }
        return Reply(201, {"id": record["id"]})

    def _direct_move(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return self._missing()
        start = _aware(data["start"])
        length = (
            datetime.timedelta(minutes=int(data["minutes"]))
            if data.get("minutes")
            else _instant(record["endTime"]) - _instant(record["scheduledAt"])
        )
        if record["id"] in self.appointments and self._taken(
            record["vetId"], start, start + length, besides=record["id"]
        ):
            return self.error(409, SLOT_TAKEN)
        record["scheduledAt"], record["endTime"] = _z(start), _z(start + length)
        return Reply(200, {"id": record["id"]})

    def _direct_cancel(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return self._missing()
        if self.blocks.pop(record["id"], None) is None:
            record["status"], record["displayStatus"] = "CANCELLED", "Annulé"
        return Reply(200, {"id": record["id"]})

    def _direct_delete(self, data: dict[str, Any]) -> Reply:
        record = self._record(data)
        if record is None:
            return self._missing()
        self.appointments.pop(record["id"], None)
        self.blocks.pop(record["id"], None)
        return Reply(200, {"id": record["id"]})

    def _record(self, data: dict[str, Any]) -> dict[str, Any] | None:
        key = str(data["id"])
        return self.appointments.get(key) or self.blocks.get(key)

    def _missing(self) -> Reply:
        return self.error(404, "Resource not found")


def _problem(body: dict[str, Any]) -> str:
    """What is wrong with a create body, in the vendor's words; empty when nothing is."""
    for name in ("clientId", "patientId", "vetId", "scheduledAt"):
        if body.get(name) in (None, ""):
            return f"{name} is required"
    for name in ("clientId", "patientId", "vetId", "appointmentTypeId"):
        if body.get(name) is not None and not _is_uuid(body[name]):
            return f"{name} must be a UUID"
    if body["vetId"] not in VETS:
        return "vetId must be the id of a vet of the clinic"
    if body.get("appointmentTypeId") is not None and body["appointmentTypeId"] not in TYPES:
        return "appointmentTypeId must be the id of an appointment type"
    if not isinstance(body["scheduledAt"], str):
        return "scheduledAt must be an ISO 8601 date-time"
    try:
        start = datetime.datetime.fromisoformat(body["scheduledAt"].replace("Z", "+00:00"))
    except ValueError:
        return "scheduledAt must be an ISO 8601 date-time"
    if start.tzinfo is None:
        return "scheduledAt must include a time zone (e.g. 2026-02-15T10:00:00Z)"
    if start <= datetime.datetime.now(datetime.UTC):
        return "scheduledAt must be in the future"
    if "reason" in body and not isinstance(body["reason"], str):
        return "reason must be a string"
    if "isUrgent" in body and not isinstance(body["isUrgent"], bool):
        return "isUrgent must be a boolean"
    return ""


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _minutes(kind: str | None) -> int:
    return TYPES[kind]["durationMinutes"] if kind in TYPES else DEFAULT_MINUTES


def _instant_on(date: datetime.date, time: datetime.time) -> datetime.datetime:
    """That wall-clock time at the clinic, as a UTC instant."""
    return datetime.datetime.combine(date, time, CLINIC_ZONE).astimezone(datetime.UTC)


def _aware(value: Any) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(datetime.UTC)


def _instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(datetime.UTC)


def _z(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
