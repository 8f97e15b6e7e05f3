"""NexHealth Synchronizer API v3.0.0, as much of it as the adapter calls.

Every reply uses NexHealth's envelope {code, description, data, error: [strings], count}.
Calls without `Nex-Api-Version` answer 404 (as NexHealth does); calls without a valid bearer
token answer 401; a subdomain or location the key cannot reach answers 403.

Writes are asynchronous, as at NexHealth: `POST /appointments` answers 201 with
`foreign_id: null`; `webhook_delay` seconds later the simulator "inserts" the appointment into
its pretend EHR (sets `foreign_id`) and, when a webhook target is set, POSTs the signed event
`appointment_insertion.complete`, `.failed` or `.timed_out`. NexHealth has no slot-taken
answer: like the EHR behind it, the simulator accepts an overlapping booking and fails its
insertion later. Extra control endpoint:
  POST /__simulator/webhook {"url": ..., "secret": ..., "delay": 1.0, "fail_insertions": 0,
                             "change_delay": 0.0}

The calendar (DESIGN §8): `GET /appointments` filters by location, start (appointments
*starting* in [start, end]), `cancelled`, `unavailable`, `updated_since` (each appointment
keeps its `updated_at`), `patient_ids[]`, `provider_ids[]`, `operatory_ids[]` (comma-separated,
as documented: explode false) and pages by cursor (`per_page` default 5, at most 1000;
`end_cursor` for the next page, `start_cursor` for the previous; `page_info` beside `data`).
Deleted appointments stay as tombstones (`deleted: true`) that only `updated_since` reads and
`GET /appointments/{id}` show. `GET /available_slots` offers every provider's working hours
(WORKING_HOURS, every day, the location's zone) minus active appointments and blocks.
Both allow 10 requests a second (the documented limit) and answer 429 past it.

`POST /__simulator/direct` (vendors/simulators/base.py) books, blocks (`unavailable`), moves,
cancels or deletes as the practice would in its EHR, and pushes the signed webhook
`appointment_created` or `appointment_updated` (resource_type Appointment), signed like the
insertion webhook, `change_delay` seconds later (default at once, from another thread).
NexHealth also sends those for writes made through its API once it reads them back (about ten
minutes later); the simulator does not.

The reference lists an import reads (issue 12), in the shapes of the v3.0.0 (v20240412)
OpenAPI: `GET /locations` answers the institution with its `locations` inside (not paged);
`GET /providers`, `/operatories`, `/working_hours` and `/patients` (each for one `location_id`)
page by cursor like `/appointments`, in id order (`per_page` default 5, at most 1000;
`end_cursor` asks for the page after it); `paging = "page"` serves the older page/per_page
style instead (`page` from 1, no `page_info`, `count` the total). `GET /appointment_types` is
not paged. Working hours (`self.working_hours`) are WORKING_HOURS every day for each provider
at each of its locations (`add_working_hour` adds others). Patients are made from their index
(`patient(n)`, so thousands cost no memory): the catalogue's three (501-503, at both
locations) and then generated ones up to `patient_count`, each at one location, every 97th
inactive; filters `location_strict`, `inactive`, `non_patient`, `name`, `email` or
`phone_number`, `date_of_birth`. `GET /patients` allows 1,000 requests a minute.
Knobs for tests: `patient_count`; `paging`; `malform(listing, id)` serves that record broken
(as real lists sometimes are); `fail_request(path, nth, fault)` makes the nth request to a
path from now answer 429, 500, 503 or garbage (a fault on a later page).

Registering a patient (issue 12): `POST /patients?subdomain&location_id` with the v3.0.0
OpenAPI's postPatients body `{provider: {provider_id}, patient: {first_name, last_name, email,
bio: {date_of_birth, phone_number, gender}}, return_existing_if_match}` answers 201 `{user}`
(the new patient, at that location). First name, last name, e-mail (the documented pattern),
birth date and phone are required, the provider must work at the location. A patient with the
same name, birth date and phone digits (NexHealth's documented matching) already there answers
400, or 200 with that patient when `return_existing_if_match` is true. Registered patients
(ids from ADDED_PATIENT_ID) are listed and filtered after the generated ones; tests add some
directly with `add_patient(...)` (e.g. two sharing an e-mail). The simulator's own choices
where NexHealth says nothing: `name` matches any part of "first last" without case;
`phone_number` the same digits; `email` the same address without case.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from vendors.simulators.base import Reply, Request, Simulator

API_KEY = "sim-nexhealth-api-key"
SUBDOMAIN = "sim-dental"
INSTITUTION_ID = 1
VERSIONS = ("v3.0.0", "v20240412")
TOKEN_SECONDS = 3600
NO_ACCESS = "You don't have access to perform this action."
FIRST_APPOINTMENT_ID = 1001
NOTE_LIMIT = 128
# Every provider works these local hours every day, at each of its locations.
WORKING_HOURS = (datetime.time(8), datetime.time(18))
# GET /appointments and GET /available_slots: 10 requests a second per key; GET /patients
# 1,000 a minute. Path -> (requests, seconds).
RATE_LIMITED = ("/appointments", "/available_slots")
RATE_LIMIT = 10
LIMITS = dict.fromkeys(RATE_LIMITED, (RATE_LIMIT, 1.0)) | {"/patients": (1000, 60.0)}
DEFAULT_PER_PAGE = 5
MAX_PER_PAGE = 1000
# The lists `malform` can break, and the faults `fail_request` can plan.
LISTINGS = ("locations", "providers", "operatories", "appointment_types", "working_hours",
            "patients")  # fmt: skip
PLANNED_FAULTS = ("429", "500", "503", "garbage")
PAGING = ("cursor", "page")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_WORKING_HOUR_ID = 601

LOCATIONS = [
    {"id": 101, "name": "Downtown Dental", "tz": "America/New_York", "map_by_operatory": True,
     "street_address": "12 Main St", "street_address_2": "Suite 4", "city": "New York",
     "state": "NY", "zip_code": "10001", "country_code": "US", "phone_number": "2125550100"},
    {"id": 102, "name": "Uptown Dental", "tz": "America/Chicago", "map_by_operatory": False,
     "street_address": "400 Lake Shore Dr", "street_address_2": "", "city": "Chicago",
     "state": "IL", "zip_code": "60611", "country_code": "US", "phone_number": ""},
]  # fmt: skip
PROVIDERS = [
    {"id": 201, "first_name": "Ana", "last_name": "Ruiz", "location_ids": [101, 102]},
    {"id": 202, "first_name": "Ben", "last_name": "Okafor", "location_ids": [101]},
    {"id": 203, "first_name": "Chen", "last_name": "Li", "location_ids": [102]},
]
OPERATORIES = [
    {"id": 301, "name": "OP1", "display_name": "Operatory 1", "location_id": 101},
    {"id": 302, "name": "OP2", "display_name": "Operatory 2", "location_id": 101},
    {"id": 303, "name": "OP1", "display_name": "Operatory 1", "location_id": 102},
]
APPOINTMENT_TYPES = [
    {"id": 401, "name": "Cleaning", "minutes": 60},
    {"id": 402, "name": "Exam", "minutes": 30},
    {"id": 403, "name": "Filling", "minutes": 45},
]
PATIENTS = [
    {"id": 501, "first_name": "María", "last_name": "González", "email": "maria@example.org",
     "date_of_birth": "1985-04-12", "phone_number": "5550100"},
    {"id": 502, "first_name": "John", "last_name": "Smith", "email": "john@example.org",
     "date_of_birth": "1990-11-30", "phone_number": "5550101"},
    {"id": 503, "first_name": "Aiko", "last_name": "Tanaka", "email": "aiko@example.org",
     "date_of_birth": "2012-01-05", "phone_number": "5550102"},
]  # fmt: skip
FIRST_PATIENT_ID = 501
# Patients the simulator holds unless told otherwise: the catalogue only, because the
# adapter's `reference("patients")` (one unpaged call per location) is tested to list exactly
# it. Tests and the demo set `patient_count` (thousands are generated, not stored).
DEFAULT_PATIENT_COUNT = len(PATIENTS)
INACTIVE_EVERY = 97
FIRST_NAMES = ("Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella",
               "Lucas", "Mia", "Mateo", "Amelia", "Ethan", "Harper", "Aiden", "Evelyn", "Leo",
               "Abigail", "Jack", "Emily", "Owen", "Ella", "Samuel", "Chloe", "Henry", "Grace",
               "Daniel", "Zoe", "Wyatt", "Nora")  # fmt: skip
LAST_NAMES = ("Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
              "Martinez", "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor",
              "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark",
              "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott",
              "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell",
              "Roberts")  # fmt: skip
GENDERS = ("Female", "Male", "Female", "Male", "Other", "")
BORN_FROM = datetime.date(1940, 1, 1)
# Patients registered through POST /patients (or `add_patient`) get ids from here on.
ADDED_PATIENT_ID = 900_001
EMAIL = re.compile(r"\A([^@\s]+)@((?:[-a-z0-9]+\.)+[a-z]{2,})\Z", re.IGNORECASE)
GENDER_WORDS = ("Male", "Female", "Other")


def envelope(data: Any = None, *, errors: list[str] | None = None, description: Any = None,
             count: int | None = None) -> dict[str, Any]:  # fmt: skip
    body: dict[str, Any] = {
        "code": not errors,
        "description": description,
        "error": list(errors or []),
        "data": data,
    }
    if count is not None:
        body["count"] = count
    return body


def refuse(status: int, *messages: str) -> Reply:
    return Reply(status, envelope(errors=list(messages)))


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class NexHealthSimulator(Simulator):
    vendor = "nexhealth"
    routes = [
        ("POST", r"/authenticates", "authenticate"),
        ("POST", r"/appointments", "create_appointment"),
        ("GET", r"/appointments", "list_appointments"),
        ("GET", r"/appointments/(?P<id>\d+)", "show_appointment"),
        ("PATCH", r"/appointments/(?P<id>\d+)", "update_appointment"),
        ("GET", r"/locations", "list_locations"),
        ("GET", r"/providers", "list_providers"),
        ("GET", r"/operatories", "list_operatories"),
        ("GET", r"/appointment_types", "list_appointment_types"),
        ("GET", r"/patients", "list_patients"),
        ("POST", r"/patients", "create_patient"),
        ("GET", r"/available_slots", "available_slots"),
        ("GET", r"/working_hours", "list_working_hours"),
    ]

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_delay: float | None = 1.0,
        webhook_url: str = "",
        webhook_secret: str = "",
        change_delay: float = 0.0,
    ) -> None:
        # Webhook target and delays are configuration: they survive reset().
        self.webhook_delay = webhook_delay  # None: insert only when run_insertions() is called
        self.webhook_url = webhook_url
        self.webhook_secret = webhook_secret
        self.change_delay = change_delay  # before a direct change's webhook is sent
        self.generation = 0
        self.timers: list[threading.Timer] = []
        super().__init__(host, port)
        self.delivered = threading.Condition(self.lock)

    # -- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.generation += 1  # timers of the previous generation do nothing
            for timer in self.timers:
                timer.cancel()
            self.timers = []
            self.tokens: dict[str, float] = {}
            self.appointments: dict[int, dict[str, Any]] = {}
            self.insertions: dict[int, str] = {}  # id -> pending | complete | failed | timed_out
            self.failing: set[int] = set()
            self.fail_insertions = 0
            self.soft_refusals: collections.deque[str] = collections.deque()
            self.webhooks: list[dict[str, Any]] = []
            self.next_id = FIRST_APPOINTMENT_ID
            # When each rate-limited GET arrived (monotonic), per path.
            self.arrivals: dict[str, list[float]] = {path: [] for path in LIMITS}
            # The reference lists (see the module's docstring).
            self.patient_count = DEFAULT_PATIENT_COUNT
            # Registered (or added) patients: id -> (as listed, the locations it belongs to).
            self.added: dict[int, tuple[dict[str, Any], tuple[int, ...]]] = {}
            self.paging = "cursor"
            self.malformed: set[tuple[str, int]] = set()
            self.planned: dict[tuple[str, int], str] = {}
            self.working_hours: list[dict[str, Any]] = [
                _working_hour(FIRST_WORKING_HOUR_ID + n, provider["id"], location)
                for n, (provider, location) in enumerate(
                    (provider, location)
                    for provider in PROVIDERS
                    for location in provider["location_ids"]
                )
            ]

    def state(self) -> dict[str, Any]:
        return {
            "appointments": list(self.appointments.values()),
            "insertions": {str(key): value for key, value in self.insertions.items()},
            "tokens": len(self.tokens),
            "webhooks": [dict(webhook) for webhook in self.webhooks],
            "webhook": {
                "url": self.webhook_url,
                "delay": self.webhook_delay,
                "change_delay": self.change_delay,
            },
        }

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """Appointments neither cancelled nor deleted (tombstones), blocks (`unavailable`)
        left out, by provider and start; whatever their insertion into the EHR became."""
        return [
            (str(a["provider_id"]), a["start_time"])
            for a in self.appointments.values()
            if not (a["cancelled"] or a["deleted"] or a["unavailable"])
        ]

    def stop(self) -> None:
        with self.lock:
            for timer in self.timers:
                timer.cancel()
        super().stop()

    # -- knobs for tests and the demo --------------------------------------------------------

    def expire_tokens(self) -> None:
        """Every issued bearer token stops working (as after an hour)."""
        with self.lock:
            self.tokens.clear()

    def refuse_next(self, message: str) -> None:
        """The next authenticated call answers 200 with `code: false` and this error."""
        with self.lock:
            self.soft_refusals.append(message)

    def set_flags(self, appointment_id: int | str, **flags: Any) -> None:
        """Change an appointment as the practice would in its EHR (confirmed, checkin_at...)."""
        with self.lock:
            appt = self.appointments[int(appointment_id)]
            appt.update(flags)
            appt["updated_at"] = iso(now())

    def run_insertions(self) -> list[str]:
        """Insert every pending appointment now, in booking order; the outcomes."""
        with self.lock:
            pending = [key for key, value in self.insertions.items() if value == "pending"]
            generation = self.generation
        return [self._insert(key, generation) or "" for key in pending]

    def wait_for_webhooks(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` webhook events are done (delivered or not); all of them."""
        deadline = time.monotonic() + timeout
        with self.delivered:
            while sum(1 for w in self.webhooks if w["done"]) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.webhooks)} webhook(s), expected {count}")
                self.delivered.wait(left)
            return [dict(webhook) for webhook in self.webhooks]

    def patient_with_id(self, patient_id: Any) -> dict[str, Any] | None:
        """The patient with this NexHealth id, if the simulator holds it (as listed)."""
        number = _int(patient_id)
        if number in self.added:
            return self.added[number][0]
        index = -1 if number is None else number - FIRST_PATIENT_ID
        return patient(index) if 0 <= index < self.patient_count else None

    def add_patient(
        self,
        first_name: str,
        last_name: str,
        *,
        email: str = "",
        phone_number: str = "",
        date_of_birth: str | None = None,
        gender: str = "",
        locations: tuple[int, ...] = (LOCATIONS[0]["id"],),
        inactive: bool = False,
    ) -> dict[str, Any]:
        """Another patient (as the practice's EHR holds one), with the next id; as listed."""
        with self.lock:
            number = max(self.added, default=ADDED_PATIENT_ID - 1) + 1
            record = _patient({
                "id": number, "first_name": first_name, "last_name": last_name,
                "email": email, "date_of_birth": date_of_birth,
                "phone_number": phone_number, "gender": gender, "inactive": inactive,
            })  # fmt: skip
            self.added[number] = (record, tuple(locations))
            return record

    def _everyone(self) -> Iterator[dict[str, Any]]:
        """Every patient the simulator holds, generated and added (for NexHealth's matching)."""
        yield from (patient(index) for index in range(self.patient_count))
        yield from (record for record, _ in self.added.values())

    def malform(self, listing: str, record_id: int) -> None:
        """From now on, the list `listing` (one of LISTINGS) serves this record broken."""
        if listing not in LISTINGS:
            raise ValueError(f"unknown listing {listing!r}; choose from {LISTINGS}")
        with self.lock:
            self.malformed.add((listing, int(record_id)))

    def fail_request(self, path: str, nth: int = 2, fault: str = "429") -> None:
        """The `nth` request to `path` from now on (1 = the next one) answers `fault`."""
        if fault not in PLANNED_FAULTS or nth < 1:
            raise ValueError(f"fault must be one of {PLANNED_FAULTS} and nth at least 1")
        with self.lock:
            done = sum(1 for request in self.requests if request.path == path)
            self.planned[(path, done + nth)] = fault

    def add_working_hour(self, **fields: Any) -> dict[str, Any]:
        """Another working hour (e.g. `specific_date=...` or other `days`), with a new id."""
        with self.lock:
            number = max((hour["id"] for hour in self.working_hours), default=600) + 1
            location = _known(LOCATIONS, fields.get("location_id", LOCATIONS[0]["id"]))
            hour = {**_working_hour(number, PROVIDERS[0]["id"], location or LOCATIONS[0]),
                    **fields}  # fmt: skip
            self.working_hours.append(hour)
            return hour

    def _control(self, request: Request) -> Reply:
        if request.path == "/__simulator/patients" and request.method == "POST":
            data = request.json if isinstance(request.json, dict) else {}
            count = data.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                return Reply(400, {"message": "count must be a whole number"})
            with self.lock:
                self.patient_count = count
            return Reply(200, {"patient_count": count})
        if request.path == "/__simulator/webhook" and request.method == "POST":
            data = request.json if isinstance(request.json, dict) else {}
            try:
                delay = data.get("delay", self.webhook_delay)
                delay = None if delay is None else float(delay)
                failing = int(data.get("fail_insertions", 0))
                change_delay = float(data.get("change_delay", self.change_delay))
            except (TypeError, ValueError):
                return Reply(400, {"message": "delay must be a number or null"})
            with self.lock:
                self.webhook_url = str(data.get("url", self.webhook_url))
                self.webhook_secret = str(data.get("secret", self.webhook_secret))
                self.webhook_delay = delay
                self.change_delay = change_delay
                self.fail_insertions += failing
                return Reply(200, self.state()["webhook"])
        return super()._control(request)

    # -- dispatch: version header, bearer token, soft refusals -------------------------------

    def dispatch(self, request: Request) -> Reply:
        planned = self._planned_fault(request)
        if planned is not None:
            return planned
        version = request.header("nex-api-version")
        if version.lower() in ("v2", "2"):
            return refuse(400, "API version 'v2' is below the minimum allowed.")
        if version not in VERSIONS:
            return refuse(404, "Not Found")
        with self.lock:
            if request.path != "/authenticates":
                scheme, _, token = request.header("authorization").partition(" ")
                if scheme != "Bearer" or self.tokens.get(token, 0) < time.time():
                    return refuse(401, "Invalid Credentials")
                if self.soft_refusals:
                    return Reply(200, envelope(errors=[self.soft_refusals.popleft()]))
                if request.method == "GET" and request.path in LIMITS:
                    limit, seconds = LIMITS[request.path]
                    arrived = time.monotonic()
                    recent = [t for t in self.arrivals[request.path] if arrived - t < seconds]
                    self.arrivals[request.path].append(arrived)
                    if len(recent) >= limit:
                        return self.fault_reply(429)
        return super().dispatch(request)

    def _planned_fault(self, request: Request) -> Reply | None:
        """The fault `fail_request` planned for this request, if any."""
        with self.lock:
            if not self.planned:
                return None
            number = sum(1 for earlier in self.requests if earlier.path == request.path)
            fault = self.planned.pop((request.path, number), None)
        if fault is None:
            return None
        if fault == "garbage":
            return Reply(200, "<html><body>502 Bad Gateway</body></html>")
        return self.fault_reply(int(fault))

    def not_found(self, request: Request) -> Reply:
        return refuse(404, "Not Found")

    def fault_reply(self, status: int) -> Reply:
        if status == 429:
            return Reply(429, envelope(errors=["Too many requests"]), {"Retry-After": "1"})
        return refuse(status, "Internal Server Error" if status == 500 else "Service Unavailable")

    # -- auth -------------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Reply:
        if request.header("authorization") != API_KEY:
            return refuse(401, "Invalid Credentials")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.time() + TOKEN_SECONDS
        return Reply(200, envelope({"token": token}, description="Authenticated"))

    def _scope(
        self, request: Request, *, location: bool
    ) -> tuple[dict[str, Any] | None, Reply | None]:
        """The location of a call (None when not asked for), or NexHealth's refusal."""
        if request.query.get("subdomain") != SUBDOMAIN:
            return None, refuse(403, NO_ACCESS)
        if not location:
            return None, None
        found = next(
            (loc for loc in LOCATIONS if str(loc["id"]) == request.query.get("location_id")),
            None,
        )
        if found is None:
            return None, refuse(403, NO_ACCESS)
        return found, None

    # -- appointments -----------------------------------------------------------------------

    def create_appointment(self, request: Request) -> Reply:
        location, refusal = self._scope(request, location=True)
        if refusal or location is None:
            return refusal or refuse(403, NO_ACCESS)
        if request.query.get("notify_patient", "false") not in ("true", "false"):
            return refuse(400, "notify_patient must be true or false")
        body = request.json
        appt = body.get("appt") if isinstance(body, dict) else None
        if not isinstance(appt, dict):
            return refuse(400, "appt is required")
        errors: list[str] = []
        patient_id = _integer(appt, "patient_id", errors)
        provider_id = _integer(appt, "provider_id", errors)
        type_id = _integer(appt, "appointment_type_id", errors, required=False)
        operatory_id = _integer(appt, "operatory_id", errors, required=False)
        start = _moment(appt, "start_time", errors)
        end = _moment(appt, "end_time", errors, required=False)
        note = appt.get("note")
        if patient_id is not None and not self.patient_with_id(patient_id):
            errors.append(f"Patient {patient_id} not found")
        if provider_id is not None and not any(
            p["id"] == provider_id and location["id"] in p["location_ids"] for p in PROVIDERS
        ):
            errors.append(f"Provider {provider_id} not found at this location")
        kind = _known(APPOINTMENT_TYPES, type_id) if type_id is not None else None
        if type_id is not None and kind is None:
            errors.append(f"Appointment type {type_id} not found")
        if appt.get("operatory_id") is None and location["map_by_operatory"]:
            errors.append("operatory_id is required for locations that map by operatory")
        if operatory_id is not None and not any(
            o["id"] == operatory_id and o["location_id"] == location["id"] for o in OPERATORIES
        ):
            errors.append(f"Operatory {operatory_id} not found at this location")
        if note is not None and not isinstance(note, str):
            errors.append("note must be a string")
        elif isinstance(note, str) and len(note) > NOTE_LIMIT:
            errors.append(f"note is too long (maximum is {NOTE_LIMIT} characters)")
        if start is not None and start <= now():
            errors.append("start_time must be in the future")
        if start is not None and end is None and "end_time" not in appt:
            if kind is None:
                errors.append("end_time or appointment_type_id is required")
            else:
                end = start + datetime.timedelta(minutes=kind["minutes"])
        if start is not None and end is not None and end <= start:
            errors.append("end_time must be after start_time")
        if errors or start is None or end is None:
            return refuse(400, *(errors or ["start_time is required"]))
        record = self._store(location, appt, start, end)
        return Reply(201, envelope({"appt": self._with_patient(record)}, count=1))

    def _store(
        self,
        location: dict[str, Any],
        appt: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> dict[str, Any]:
        record = self._record(location, appt, start, end)
        appointment_id = record["id"]
        self.insertions[appointment_id] = "pending"
        if self.fail_insertions:
            self.fail_insertions -= 1
            self.failing.add(appointment_id)
        if self.webhook_delay is not None:
            timer = threading.Timer(
                self.webhook_delay, self._insert, args=(appointment_id, self.generation)
            )
            timer.daemon = True
            self.timers.append(timer)
            timer.start()
        return record

    def _record(
        self,
        location: dict[str, Any],
        appt: dict[str, Any],
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> dict[str, Any]:
        """A new appointment (or block, `unavailable`) in the simulator's copy."""
        appointment_id = self.next_id
        self.next_id += 1
        provider = next(p for p in PROVIDERS if p["id"] == appt["provider_id"])
        stamp = iso(now())
        record = {
            "id": appointment_id,
            "patient_id": appt.get("patient_id"),
            "provider_id": appt["provider_id"],
            "provider_name": f"{provider['first_name']} {provider['last_name']}",
            "start_time": iso(start),
            "end_time": iso(end),
            "confirmed": False, "patient_confirmed": False, "patient_missed": False,
            "cancelled": False, "checkin_at": None, "checked_out": False, "deleted": False,
            "unavailable": bool(appt.get("unavailable")), "is_guardian": False,
            "created_at": stamp, "updated_at": stamp,
            "note": appt.get("note") or "",
            "timezone": location["tz"],
            "timezone_offset": _offset(start, location),
            "institution_id": INSTITUTION_ID,
            "location_id": location["id"],
            "appointment_type_id": appt.get("appointment_type_id"),
            "operatory_id": appt.get("operatory_id"),
            "foreign_id": appt.get("foreign_id"), "foreign_id_type": None,
            "last_sync_time": None,
        }  # fmt: skip
        self.appointments[appointment_id] = record
        return record

    def list_appointments(self, request: Request) -> Reply:
        location, refusal = self._scope(request, location=True)
        if refusal or location is None:
            return refusal or refuse(403, NO_ACCESS)
        query = request.query
        errors: list[str] = []
        start = _moment(query, "start", errors)
        end = _moment(query, "end", errors)
        since = _moment(query, "updated_since", errors, required=False)
        flags = {name: _flag(query, name, errors) for name in ("cancelled", "unavailable")}
        wanted = {name: _ids(query, f"{name}_ids[]", errors)
                  for name in ("patient", "provider", "operatory")}  # fmt: skip
        per_page = _per_page(query, errors)
        if errors or start is None or end is None:
            return refuse(400, *(errors or ["start and end are required"]))
        found = [
            appt
            for appt in self.appointments.values()
            if appt["location_id"] == location["id"]
            and start <= _parse(appt["start_time"]) <= end
            and (not appt["deleted"] or since is not None)
            and (since is None or _parse(appt["updated_at"]) >= since)
            and all(value is None or bool(appt[name]) == value for name, value in flags.items())
            and all(ids is None or appt[f"{name}_id"] in ids for name, ids in wanted.items())
        ]
        return self._page(sorted(found, key=_position), query, per_page)

    def _page(self, found: list[dict[str, Any]], query: dict[str, str], per_page: int) -> Reply:
        """One cursor page of a sorted listing, with its page_info beside `data`."""
        total = len(found)
        after, before = query.get("end_cursor"), query.get("start_cursor")
        try:
            if after:
                found = [appt for appt in found if _position(appt) > _decode(after)]
            elif before:
                found = [appt for appt in found if _position(appt) < _decode(before)]
        except ValueError:
            return refuse(400, "Invalid cursor")
        page = found[-per_page:] if before and not after else found[:per_page]
        body = envelope(page, count=total)
        body["page_info"] = {
            "has_previous_page": bool(after) or (bool(before) and len(found) > per_page),
            "has_next_page": bool(before) or len(found) > per_page,
            "start_cursor": _encode(page[0]) if page else None,
            "end_cursor": _encode(page[-1]) if page else None,
        }
        return Reply(200, body)

    def _named(self, request: Request) -> dict[str, Any] | Reply:
        """The appointment the path names, or the refusal (a bad subdomain, an unknown id)."""
        _, refusal = self._scope(request, location=False)
        if refusal:
            return refusal
        appt = self.appointments.get(int(request.match["id"]))
        if appt is None:
            return refuse(404, "Appointment not found")
        return appt

    def show_appointment(self, request: Request) -> Reply:
        appt = self._named(request)
        if isinstance(appt, Reply):
            return appt
        return Reply(200, envelope({"appt": self._with_patient(appt)}))

    def update_appointment(self, request: Request) -> Reply:
        appt = self._named(request)
        if isinstance(appt, Reply):
            return appt
        body = request.json
        changes = body.get("appt") if isinstance(body, dict) else None
        if not isinstance(changes, dict) or not changes:
            return refuse(400, "appt is required")
        unknown = sorted(set(changes) - {"cancelled"})
        if unknown:
            return refuse(400, f"The simulator does not update {', '.join(unknown)}")
        if not isinstance(changes["cancelled"], bool):
            return refuse(400, "cancelled must be a boolean")
        # Cancelling twice answers like the first time, so that a retried cancel is harmless.
        if changes["cancelled"] and not appt["cancelled"]:
            appt["cancelled"] = True
            appt["cancelled_at"] = appt["updated_at"] = iso(now())
        return Reply(200, envelope({"appt": self._with_patient(appt)}))

    def _with_patient(self, appt: dict[str, Any]) -> dict[str, Any]:
        return {**appt, "patient": self.patient_with_id(appt["patient_id"])}

    # -- free slots ----------------------------------------------------------------------------

    def available_slots(self, request: Request) -> Reply:
        _, refusal = self._scope(request, location=False)
        if refusal:
            return refusal
        query, errors = request.query, []
        location = _known(LOCATIONS, _number(query, "lids[]", errors))
        providers = _ids(query, "pids[]", errors)
        operatories = _ids(query, "operatory_ids[]", errors)
        kind = _known(APPOINTMENT_TYPES, _number(query, "appointment_type_id", errors, False))
        days = _number(query, "days", errors) or 0
        try:
            first = datetime.date.fromisoformat(query.get("start_date", ""))
        except ValueError:
            errors.append("start_date must be a date, YYYY-MM-DD")
        if location is None:
            errors.append("lids[] must name a location")
        if providers is None and kind is None:
            errors.append("At least one of pids or appointment_type_id must be provided")
        length = _number(query, "slot_length", errors, False) or (kind or {}).get("minutes", 15)
        step = _number(query, "slot_interval", errors, False) or length
        if errors or location is None or days < 1 or length < 1 or step < 1:
            return refuse(400, *(errors or ["days, slot_length and slot_interval must be > 0"]))
        found = []
        for provider in PROVIDERS:
            if location["id"] not in provider["location_ids"] or (
                providers is not None and provider["id"] not in providers
            ):
                continue
            for operatory in sorted(operatories) if operatories else [None]:
                slots = self._slots(location, provider["id"], operatory, first, days, length, step)
                group = {
                    "lid": location["id"],
                    "pid": provider["id"],
                    "slots": slots,
                    "next_available_date": slots[0]["time"][:10] if slots else None,
                }
                if operatory is not None:
                    group["operatory_id"] = operatory
                found.append(group)  # fmt: skip
        return Reply(200, envelope(found, count=len(found)))

    def _slots(
        self,
        location: dict[str, Any],
        provider: int,
        operatory: int | None,
        first: datetime.date,
        days: int,
        length: int,
        step: int,
    ) -> list[dict[str, Any]]:
        zone = zoneinfo.ZoneInfo(location["tz"])
        slots = []
        for day in (first + datetime.timedelta(days=n) for n in range(days)):
            opens, closes = (datetime.datetime.combine(day, hour, zone) for hour in WORKING_HOURS)
            start = opens
            while start + datetime.timedelta(minutes=length) <= closes:
                end = start + datetime.timedelta(minutes=length)
                if start > now() and self._free(location, provider, operatory, start, end):
                    slot = {
                        "time": _local(start, zone),
                        "end_time": _local(end, zone),
                        "provider_id": provider,
                        "working_hour_label_id": None,
                    }
                    if operatory is not None:
                        slot["operatory_id"] = operatory
                    slots.append(slot)  # fmt: skip
                start += datetime.timedelta(minutes=step)
        return slots

    def _free(
        self,
        location: dict[str, Any],
        provider: int,
        operatory: int | None,
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> bool:
        return not any(
            not appt["cancelled"]
            and not appt["deleted"]
            and appt["location_id"] == location["id"]
            and (
                appt["provider_id"] == provider
                or (operatory is not None and appt["operatory_id"] == operatory)
            )
            and _parse(appt["start_time"]) < end
            and start < _parse(appt["end_time"])
            for appt in self.appointments.values()
        )

    # -- what the practice does in its EHR (POST /__simulator/direct) ---------------------------

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        try:
            return self._direct(action, data)
        except (TypeError, ValueError):
            return Reply(400, {"message": "IDs and minutes must be numbers"})

    def _direct(self, action: str, data: dict[str, Any]) -> Reply:
        if action == "book":
            return self._direct_book(data)
        appt = self.appointments.get(_int(data.get("id")) or 0)
        if appt is None or appt["deleted"]:
            return Reply(404, {"message": f"No appointment {data.get('id')!r}"})
        if action == "move":
            moved = self._direct_times(data, appt)
            if isinstance(moved, Reply):
                return moved
            appt["start_time"], appt["end_time"] = iso(moved[0]), iso(moved[1])
            for key, field in (("practitioner", "provider_id"), ("room", "operatory_id")):
                if data.get(key):
                    appt[field] = _int(data[key])
        elif action == "cancel":
            appt["cancelled"], appt["cancelled_at"] = True, iso(now())
        else:  # delete: a tombstone that updated_since reads still report
            appt["deleted"] = True
        appt["updated_at"] = appt["last_sync_time"] = iso(now())
        self._announce(appt, "appointment_updated")
        return Reply(200, {"id": appt["id"]})

    def _direct_book(self, data: dict[str, Any]) -> Reply:
        provider = _known(PROVIDERS, _int(data.get("practitioner")))
        if provider is None:
            return Reply(400, {"message": "practitioner must be a provider's id"})
        location = _known(LOCATIONS, _int(data.get("location")) or provider["location_ids"][0])
        block = data.get("kind") == "block"
        patient = None if block else self.patient_with_id(data.get("patient"))
        if location is None or location["id"] not in provider["location_ids"]:
            return Reply(400, {"message": "location must be one of the provider's locations"})
        if patient is None and not block:
            return Reply(400, {"message": "patient must be a patient's id (or kind: block)"})
        times = self._direct_times(data, None)
        if isinstance(times, Reply):
            return times
        appt = {
            "provider_id": provider["id"],
            "patient_id": patient["id"] if patient else None,
            "operatory_id": _int(data.get("room")),
            "unavailable": block,
            "foreign_id": f"EHR-D{self.next_id}",
        }
        record = self._record(location, appt, *times)
        record["last_sync_time"] = record["updated_at"]
        self._announce(record, "appointment_created")
        return Reply(200, {"id": record["id"]})

    def _direct_times(
        self, data: dict[str, Any], appt: dict[str, Any] | None
    ) -> tuple[datetime.datetime, datetime.datetime] | Reply:
        errors: list[str] = []
        start = _moment(data, "start", errors)
        if start is None:
            return Reply(400, {"message": "; ".join(errors)})
        if data.get("minutes"):
            minutes = datetime.timedelta(minutes=int(data["minutes"]))
        elif appt is not None:
            minutes = _parse(appt["end_time"]) - _parse(appt["start_time"])
        else:
            minutes = datetime.timedelta(minutes=30)
        return start, start + minutes

    def _announce(self, appt: dict[str, Any], event_name: str) -> None:
        """Push appointment_created/_updated, signed like the insertion webhook, from another
        thread (so that a receiver calling back into the simulator never waits on its lock)."""
        payload = {
            "resource_type": "Appointment",
            "event_name": event_name,
            "event_time": iso(now()),
            "delivery_errors": [],
            "data": {"appointment": self._with_patient(appt)},
        }
        webhook = self._webhook(event_name, appt["id"])
        timer = threading.Timer(
            self.change_delay,
            self._send,
            args=(webhook, self.webhook_url, self.webhook_secret, json.dumps(payload).encode()),
        )
        timer.daemon = True
        self.timers.append(timer)
        timer.start()

    def _webhook(self, event_name: str, appointment_id: int) -> dict[str, Any]:
        webhook: dict[str, Any] = {
            "event_name": event_name,
            "appointment_id": appointment_id,
            "url": self.webhook_url,
            "status": None,
            "error": "",
            "done": False,
        }
        self.webhooks.append(webhook)
        return webhook

    def _send(self, webhook: dict[str, Any], url: str, secret: str, body: bytes) -> None:
        if url:
            self._deliver(webhook, url, secret, body)
        with self.delivered:
            webhook["done"] = True
            self.delivered.notify_all()

    # -- the pretend EHR and its webhooks ------------------------------------------------------

    def _insert(self, appointment_id: int, generation: int) -> str | None:
        with self.lock:
            if generation != self.generation or self.insertions.get(appointment_id) != "pending":
                return None
            appt = self.appointments[appointment_id]
            outcome = self._outcome(appt)
            self.insertions[appointment_id] = outcome
            if outcome == "complete":
                appt["foreign_id"] = f"EHR-{appointment_id}"
                appt["foreign_id_type"] = "msg-simulator"
                appt["last_sync_time"] = appt["updated_at"] = iso(now())
            payload = {
                "resource_type": "Appointment",
                "event_name": f"appointment_insertion.{outcome}",
                "event_time": iso(now()),
                "delivery_errors": [],
                "data": {"appointment": self._with_patient(appt)},
            }
            webhook = self._webhook(payload["event_name"], appointment_id)
            url, secret = self.webhook_url, self.webhook_secret
        self._send(webhook, url, secret, json.dumps(payload).encode())
        return outcome

    def _outcome(self, appt: dict[str, Any]) -> str:
        start, end = _parse(appt["start_time"]), _parse(appt["end_time"])
        if appt["id"] in self.failing:
            return "failed"
        if start <= now():
            return "timed_out"
        for other in self.appointments.values():
            if (
                other["id"] != appt["id"]
                and self.insertions.get(other["id"]) == "complete"
                and not other["cancelled"]
                and (
                    other["provider_id"] == appt["provider_id"]
                    or (appt["operatory_id"] and other["operatory_id"] == appt["operatory_id"])
                )
                and _parse(other["start_time"]) < end
                and start < _parse(other["end_time"])
            ):
                return "failed"  # the EHR refuses a double booking
        return "complete"

    def _deliver(self, webhook: dict[str, Any], url: str, secret: str, body: bytes) -> None:
        timestamp = iso(now())
        headers = {
            "Content-Type": "application/json",
            "timestamp": timestamp,
            "signature": sign(secret, timestamp, body),
        }
        outgoing = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(outgoing, timeout=5) as answer:
                status, error = answer.status, ""
        except urllib.error.HTTPError as refused:
            status, error = refused.code, ""
        except (urllib.error.URLError, OSError, ValueError) as failure:
            status, error = None, type(failure).__name__
        with self.lock:
            webhook["status"], webhook["error"] = status, error

    # -- reference lists ------------------------------------------------------------------------

    def list_locations(self, request: Request) -> Reply:
        """The institution with its locations inside (v3: not paged)."""
        _, refusal = self._scope(request, location=False)
        if refusal:
            return refusal
        errors: list[str] = []
        inactive = _flag(request.query, "inactive", errors)
        if errors:
            return refuse(400, *errors)
        locations = [
            self._served("locations", _location(location))
            for location in LOCATIONS
            if inactive is not True
        ]
        institution = {"id": INSTITUTION_ID, "name": "Sim Dental Group", "subdomain": SUBDOMAIN,
                       "locations": locations}  # fmt: skip
        return Reply(200, envelope([institution], count=1))

    def list_providers(self, request: Request) -> Reply:
        errors: list[str] = []
        inactive = _flag(request.query, "inactive", errors)
        found = [
            _provider(p)
            for p in PROVIDERS
            if str(request.query.get("location_id")) in map(str, p["location_ids"]) and not inactive
        ]
        return self._listing(request, "providers", found, errors)

    def list_operatories(self, request: Request) -> Reply:
        found = [
            {**o, "active": True, "bookable_online": True, "foreign_id": f"OP-{o['id']}"}
            for o in OPERATORIES
            if str(o["location_id"]) == request.query.get("location_id")
        ]
        return self._listing(request, "operatories", found, [])

    def list_working_hours(self, request: Request) -> Reply:
        query, errors = request.query, []
        provider = _number(query, "provider_id", errors, False)
        operatory = _number(query, "operatory_id", errors, False)
        active = _flag(query, "active", errors)
        past = _flag(query, "ignore_past_dates", errors)
        today = now().date().isoformat()
        found = [
            dict(hour)
            for hour in self.working_hours
            if str(hour["location_id"]) == query.get("location_id")
            and provider in (None, hour["provider_id"])
            and operatory in (None, hour["operatory_id"])
            and hour["active"] == (True if active is None else active)
            and not (past and (hour.get("specific_date") or today) < today)
        ]
        return self._listing(request, "working_hours", found, errors)

    def list_appointment_types(self, request: Request) -> Reply:
        """Not paged (v3 documents no paging for this list)."""
        _, refusal = self._scope(request, location=True)
        if refusal:
            return refusal
        found = [
            self._served("appointment_types", {**kind, "parent_type": "Institution",
                                               "parent_id": INSTITUTION_ID,
                                               "bookable_online": True})
            for kind in APPOINTMENT_TYPES
        ]  # fmt: skip
        return Reply(200, envelope(found, count=len(found)))

    def list_patients(self, request: Request) -> Reply:
        location, refusal = self._scope(request, location=True)
        if refusal or location is None:
            return refusal or refuse(403, NO_ACCESS)
        errors: list[str] = []
        wanted = _PatientFilter(request.query, location["id"], errors)
        if errors:
            return refuse(400, *errors)
        count = self.patient_count

        added = [(key, *self.added[key]) for key in sorted(self.added)]

        def rows(after: int) -> Iterator[dict[str, Any]]:
            first = max(0, after - FIRST_PATIENT_ID + 1)
            for index in range(first, count):
                if wanted.cheap(index) and wanted.listed(found := patient(index)):
                    yield self._served("patients", found)
            for key, record, locations in added:
                if key > after and wanted.kept(record, locations) and wanted.listed(record):
                    yield self._served("patients", record)

        def total() -> int:
            if wanted.searches:
                return sum(1 for _ in rows(0))
            generated = sum(1 for index in range(count) if wanted.cheap(index))
            return generated + sum(1 for _, record, where in added if wanted.kept(record, where))

        return self._page_of(request.query, rows, total)

    def create_patient(self, request: Request) -> Reply:
        """POST /patients (see the module's docstring)."""
        location, refusal = self._scope(request, location=True)
        if refusal or location is None:
            return refusal or refuse(403, NO_ACCESS)
        body = request.json if isinstance(request.json, dict) else {}
        errors: list[str] = []
        fields = _registration(body, location["id"], errors)
        existing = body.get("return_existing_if_match", False)
        if not isinstance(existing, bool):
            errors.append("return_existing_if_match must be a boolean")
        if errors or fields is None:
            return refuse(400, *(errors or ["patient is required"]))
        same = next((found for found in self._everyone() if _same_person(found, fields)), None)
        if same is not None:
            if existing:
                return Reply(200, envelope({"user": same}))
            return refuse(400, "A patient with matching information already exists")
        record = self.add_patient(**fields, locations=(location["id"],))
        return Reply(201, envelope({"user": record}, description="Patient created"))

    def _listing(
        self, request: Request, listing: str, found: list[dict[str, Any]], errors: list[str]
    ) -> Reply:
        """One page of a small list for one location (filtered already), in id order."""
        _, refusal = self._scope(request, location=True)
        if refusal:
            return refusal
        if errors:
            return refuse(400, *errors)
        found = sorted(found, key=lambda record: record["id"])

        def rows(after: int) -> Iterator[dict[str, Any]]:
            return (self._served(listing, item) for item in found if item["id"] > after)

        return self._page_of(request.query, rows, lambda: len(found))

    def _page_of(
        self,
        query: dict[str, str],
        rows: Callable[[int], Iterator[dict[str, Any]]],
        total: Callable[[], int],
    ) -> Reply:
        """One page: by cursor, v3's way (`end_cursor` = the last id of the previous page,
        `page_info` beside `data`), or by page number (`paging = "page"`)."""
        errors: list[str] = []
        per_page = _per_page(query, errors)
        page = _number(query, "page", errors, False) or 1
        if query.get("start_cursor"):
            errors.append("The simulator pages these lists forward only (end_cursor)")
        try:
            after = _decode_id(query["end_cursor"]) if query.get("end_cursor") else 0
        except ValueError:
            errors.append("Invalid cursor")
        if errors or page < 1:
            return refuse(400, *(errors or ["page must be 1 or more"]))
        if self.paging == "page":
            found = list(itertools.islice(rows(0), (page - 1) * per_page, page * per_page))
            return Reply(200, envelope(found, count=total()))
        found = list(itertools.islice(rows(after), per_page + 1))
        shown = found[:per_page]
        body = envelope(shown, count=total())
        body["page_info"] = {
            "has_previous_page": after > 0,
            "has_next_page": len(found) > per_page,
            "start_cursor": _encode_id(shown[0]) if shown else None,
            "end_cursor": _encode_id(shown[-1]) if shown else None,
        }
        return Reply(200, body)

    def _served(self, listing: str, record: dict[str, Any]) -> dict[str, Any]:
        """The record as the list serves it: broken if `malform` said so."""
        if (listing, _int(record.get("id"))) not in self.malformed:
            return record
        return BROKEN[listing](record)


class _PatientFilter:
    """What GET /patients keeps of the simulator's patients, from its query."""

    def __init__(self, query: dict[str, str], location: int, errors: list[str]) -> None:
        self.strict = _flag(query, "location_strict", errors)
        self.inactive = _flag(query, "inactive", errors)
        self.non_patient = _flag(query, "non_patient", errors)
        self.location = location
        self.name = query.get("name", "").casefold()
        self.email = query.get("email", "").casefold()
        self.phone = _digits(query.get("phone_number", ""))
        self.born = query.get("date_of_birth", "")[:10]
        # Filters that need the patient's data (the others read its index only).
        self.searches = any((self.name, self.email, self.phone, self.born))

    def cheap(self, index: int) -> bool:
        """What the index alone tells: the patient's location and whether it is inactive."""
        return self.kept({"inactive": _inactive(index)}, _patient_locations(index))

    def kept(self, record: dict[str, Any], locations: tuple[int, ...]) -> bool:
        """What location_strict, inactive and non_patient keep of a patient."""
        if self.non_patient:
            return False  # the simulator's people are all patients
        if self.strict and self.location not in locations:
            return False
        return self.inactive is None or bool(record["inactive"]) == self.inactive

    def listed(self, found: dict[str, Any]) -> bool:
        bio = found["bio"]
        if self.name and self.name not in found["name"].casefold():
            return False
        if self.born and bio.get("date_of_birth") != self.born:
            return False
        if not (self.email or self.phone):
            return True
        # Documented: the email and phone_number filters are OR-ed.
        by_email = bool(self.email) and (found["email"] or "").casefold() == self.email
        phone = _digits(bio.get("phone_number") or "")
        return by_email or (bool(self.phone) and phone == self.phone)


def _registration(body: dict[str, Any], location: int, errors: list[str]) -> dict[str, Any] | None:
    """The patient a POST /patients body registers (add_patient's arguments), or None with
    what is wrong in `errors`."""
    provider = body.get("provider")
    provider_id = _integer(provider, "provider_id", errors) if isinstance(provider, dict) else None
    if not isinstance(provider, dict):
        errors.append("provider is required")
    elif provider_id is not None and not any(
        p["id"] == provider_id and location in p["location_ids"] for p in PROVIDERS
    ):
        errors.append(f"Provider {provider_id} not found at this location")
    data = body.get("patient")
    if not isinstance(data, dict):
        errors.append("patient is required")
        return None
    bio = data.get("bio") if isinstance(data.get("bio"), dict) else {}
    if not isinstance(data.get("bio"), dict):
        errors.append("patient[bio] is required")
    texts = {
        "first_name": data.get("first_name"), "last_name": data.get("last_name"),
        "email": data.get("email"), "phone_number": bio.get("phone_number"),
        "date_of_birth": bio.get("date_of_birth"),
    }  # fmt: skip
    for name, value in texts.items():
        if not isinstance(value, str) or not value.strip():
            errors.append(f"{name} is required")
    if isinstance(texts["email"], str) and texts["email"] and not EMAIL.match(texts["email"]):
        errors.append("email is invalid")
    born = texts["date_of_birth"]
    try:
        if isinstance(born, str) and born:
            datetime.date.fromisoformat(born[:10])
    except ValueError:
        errors.append("date_of_birth must be a date (YYYY-MM-DD)")
    gender = bio.get("gender")
    if gender is not None and gender not in GENDER_WORDS:
        errors.append(f"gender must be one of {', '.join(GENDER_WORDS)}")
    if errors:
        return None
    fields = {name: str(value).strip() for name, value in texts.items()}
    return {**fields, "gender": gender or "Female"}  # Female: NexHealth's documented default


def _same_person(found: dict[str, Any], fields: dict[str, Any]) -> bool:
    """NexHealth's documented matching of a new patient: birth date, name and phone number."""
    bio = found["bio"]
    return (
        (bio.get("date_of_birth") or "")[:10] == fields["date_of_birth"][:10]
        and found["first_name"].casefold() == fields["first_name"].casefold()
        and found["last_name"].casefold() == fields["last_name"].casefold()
        and _digits(bio.get("phone_number") or "") == _digits(fields["phone_number"])
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over "{timestamp}.{base64(body)}" with the endpoint's secret key."""
    message = f"{timestamp}.{base64.b64encode(body).decode('ascii')}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _patient(patient: dict[str, Any]) -> dict[str, Any]:
    """A patient as NexHealth lists it (v3 PatientWithPrivacyAuthorization, in part)."""
    bio = {
        "date_of_birth": patient["date_of_birth"],
        "phone_number": patient["phone_number"],
        "new_patient": False,
        "non_patient": False,
    }
    if patient.get("gender"):
        bio["gender"] = patient["gender"]
    return {
        "id": patient["id"],
        "first_name": patient["first_name"],
        "last_name": patient["last_name"],
        "name": f"{patient['first_name']} {patient['last_name']}",
        "email": patient["email"],
        "bio": bio,
        "inactive": patient.get("inactive", False),
        "institution_id": INSTITUTION_ID,
    }


def patient(index: int) -> dict[str, Any]:
    """The simulator's patient number `index` (from 0) as listed: the catalogue's first,
    then generated ones, the same on every run."""
    if index < len(PATIENTS):
        return _patient(PATIENTS[index])
    first = FIRST_NAMES[index % len(FIRST_NAMES)]
    last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
    born = BORN_FROM + datetime.timedelta(days=index * 7919 % 25_000)
    return _patient({
        "id": FIRST_PATIENT_ID + index,
        "first_name": first,
        "last_name": last,
        "email": f"{first}.{last}.{index}@example.org".lower(),
        "date_of_birth": born.isoformat(),
        "phone_number": f"555{index:07d}",
        "gender": GENDERS[index % len(GENDERS)],
        "inactive": _inactive(index),
    })  # fmt: skip


def _inactive(index: int) -> bool:
    return index >= len(PATIENTS) and index % INACTIVE_EVERY == 0


def _patient_locations(index: int) -> tuple[int, ...]:
    """Where a patient belongs (`location_strict`): the catalogue's at every location."""
    if index < len(PATIENTS):
        return tuple(location["id"] for location in LOCATIONS)
    return (LOCATIONS[index % len(LOCATIONS)]["id"],)


def _location(location: dict[str, Any]) -> dict[str, Any]:
    return {**location, "institution_id": INSTITUTION_ID, "inactive": False,
            "email": None, "foreign_id": str(location["id"]), "specialty": None}  # fmt: skip


def _provider(provider: dict[str, Any]) -> dict[str, Any]:
    first, last = provider["first_name"], provider["last_name"]
    return {
        "id": provider["id"], "first_name": first, "middle_name": None, "last_name": last,
        "name": f"{first} {last}", "display_name": f"Dr. {first} {last}",
        "email": f"{first}.{last}@sim-dental.example".lower(), "inactive": False,
        "institution_id": INSTITUTION_ID, "foreign_id": f"PROV-{provider['id']}",
        "bio": {"phone_number": f"212555{provider['id']:04d}"},
    }  # fmt: skip


def _working_hour(number: int, provider: int, location: dict[str, Any] | int) -> dict[str, Any]:
    """A weekly working hour: WORKING_HOURS local time every day (v3 WorkingHour)."""
    found = location if isinstance(location, dict) else _known(LOCATIONS, location)
    found = found or LOCATIONS[0]
    opens, closes = WORKING_HOURS
    return {
        "id": number, "provider_id": provider, "location_id": found["id"],
        "operatory_id": None, "begin_time": opens.strftime("%H:%M"),
        "end_time": closes.strftime("%H:%M"), "days": list(DAY_NAMES), "specific_date": None,
        "custom_recurrence": None, "tz_offset": _offset(now(), found), "active": True,
        "source": "synced", "label": None,
    }  # fmt: skip


# How `malform` breaks one record of each list.
BROKEN: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "locations": lambda record: {**record, "tz": "Mars/Olympus_Mons"},
    "providers": lambda record: {**record, "first_name": None, "last_name": None,
                                 "name": None, "display_name": None},
    "operatories": lambda record: {**record, "name": None, "display_name": None},
    "appointment_types": lambda record: {**record, "minutes": "an hour"},
    "working_hours": lambda record: {**record, "begin_time": "25:70"},
    "patients": lambda record: {**record, "bio": {**record["bio"],
                                                  "date_of_birth": "1990-02-31"}},
}  # fmt: skip


def _digits(value: str) -> str:
    return "".join(character for character in value if character.isdigit())


def _encode_id(record: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"id|{record['id']}".encode()).decode()


def _decode_id(cursor: str) -> int:
    try:
        kind, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ValueError(cursor) from error
    if kind != "id":
        raise ValueError(cursor)
    return int(number)


def _known(records: list[dict[str, Any]], record_id: int | None) -> dict[str, Any] | None:
    return next((record for record in records if record["id"] == record_id), None)


def _integer(
    source: dict[str, Any], name: str, errors: list[str], *, required: bool = True
) -> int | None:
    value = source.get(name)
    if value is None:
        if required:
            errors.append(f"{name} is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{name} must be an integer")
        return None
    return value


def _moment(
    source: dict[str, Any], name: str, errors: list[str], *, required: bool = True
) -> datetime.datetime | None:
    value = source.get(name)
    if value is None:
        if required:
            errors.append(f"{name} is required")
        return None
    try:
        if not isinstance(value, str):
            raise TypeError(name)
        if len(value) == 10:  # a date (documented for updated_since): midnight UTC
            return datetime.datetime.fromisoformat(value).replace(tzinfo=datetime.UTC)
        return _parse(value)
    except (TypeError, ValueError):
        errors.append(f"{name} must be an ISO 8601 datetime with a UTC offset")
        return None


def _parse(value: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(datetime.UTC)


def _local(moment: datetime.datetime, zone: zoneinfo.ZoneInfo) -> str:
    """A slot time as NexHealth gives it: the practice's zone, with milliseconds."""
    return moment.astimezone(zone).isoformat(timespec="milliseconds")


def _offset(moment: datetime.datetime, location: dict[str, Any]) -> str:
    return moment.astimezone(zoneinfo.ZoneInfo(location["tz"])).strftime("%z")


def _int(value: Any) -> int | None:
    try:
        return int(str(value)) if value not in (None, "") else None
    except ValueError:
        return None


def _number(
    query: dict[str, str], name: str, errors: list[str], required: bool = True
) -> int | None:
    value = query.get(name)
    if value in (None, ""):
        if required:
            errors.append(f"{name} is required")
        return None
    number = _int(value)
    if number is None:
        errors.append(f"{name} must be an integer")
    return number


def _ids(query: dict[str, str], name: str, errors: list[str]) -> set[int] | None:
    """An ID filter (comma-separated: the documented explode=false), or None when absent."""
    value = query.get(name)
    if value is None:
        return None
    ids = {_int(part) for part in value.split(",")}
    if None in ids:
        errors.append(f"{name} must list integers")
    return {number for number in ids if number is not None}


def _flag(query: dict[str, str], name: str, errors: list[str]) -> bool | None:
    value = query.get(name)
    if value is None:
        return None
    if value not in ("true", "false"):
        errors.append(f"{name} must be true or false")
    return value == "true"


def _per_page(query: dict[str, str], errors: list[str]) -> int:
    number = _number(query, "per_page", errors, False) or DEFAULT_PER_PAGE
    if not 1 <= number <= MAX_PER_PAGE:
        errors.append(f"per_page must be between 1 and {MAX_PER_PAGE}")
    return number


def _position(appt: dict[str, Any]) -> tuple[datetime.datetime, int]:
    """Where an appointment sits in a listing: by start, then id."""
    return _parse(appt["start_time"]), appt["id"]


def _encode(appt: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(f"{appt['start_time']}|{appt['id']}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime.datetime, int]:
    try:
        start, _, number = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return _parse(start), int(number)
    except (binascii.Error, UnicodeDecodeError, TypeError) as error:
        raise ValueError(cursor) from error
