"""Meddbase Patient Portal API simulator: login, book-time-slot, cancel, the appointments list
and the reference lists the adapter reads, in the documented envelope
``{"status": "ok|error", "result": ..., "error": ServiceExceptionData}``.

Every request needs the client key (query ``client-key`` or cookie ``Client-key``); all but
the login need the session headers ``x-session-id`` and ``x-token``. Set ``http_errors`` to
False to answer errors inside an HTTP 200 envelope, as some Meddbase methods do.

A taken slot has no documented EventCode; the simulator answers HTTP 424 with EventCode 0
and the message the docs paraphrase ("no appropriate slot can be found").

The calendar (DESIGN §8): ``GET appointment/proposed-time-slots`` offers, per site (each in its
own zone: SITE_ZONES; ``from-date``/``to-date`` are LocalDateTimes at the site, to-date
exclusive on a slot's start), every start on a 15-minute grid where the appointment type fits
a clinician's working hours (all day unless ``set_hours`` narrows them) without touching
another active appointment or block of that clinician or room, nearest first; slots carry
DateTimes (London wall-clock; with London's offset in its repeated autumn hour) and no
clinician. ``GET appointment/appointments`` without ``patient`` lists every patient's
appointments (never blocks). ``POST /__simulator/direct`` books (``kind`` appointment or
block; ``appointment_type`` optional, default Consultation), moves, cancels (State
Cancelled) or deletes (gone) as staff would in Meddbase; API bookings then find that time taken.

Patients (onboarding, issue 12): ``GET patients/patients`` lists ``patient_count`` patients
(default PATIENT_COUNT; tests shrink it) as the documented PersonDemographicData, paged as
documented (``page-number`` from 1, ``page-size`` 5-50, default 10; answer ``{Items,
TotalCount, CurrentPage, PageSize, SortColumn, SortDescending}``). Patient n (from 1) has the
key ``pat{1000 + n}``: pat1001 and pat1002 are the catalogue's (PATIENTS), the others are made
on demand from n (``patient(n)``), never all held. The list is in key order whatever
``page-sort-column`` (0-3) says. Filters: ``text`` (part of the name, an e-mail or the
employee number), ``name``, ``surname``, ``personal-email``, ``work-email``,
``employee-number`` (whole value, without case), ``dob-from``/``dob-to`` (dates; patients
without one left out). Tests may break one patient (``malform(n, Name=7, drop=("Key",))``)
and fault a later request (``inject_on("429", path=..., nth=2)``: the second request to that
path from now, where ``inject`` faults the next one).

Registering a patient (issue 12): FullSearchOrCreate, ``POST patients/create-patient`` with
``{"demog": PersonDemographicData}``. Name and Surname are required (EventCode 1), a
DateOfBirth must read as a DateTime (EventCode 2). Its full search (the simulator's reading of
"name, surname, email address, employee number, home address and date of birth"): every
patient whose Name, Surname and date of birth equal the demog's (without case; both without
a birth date counts as equal) and whose e-mail does too when both have one. One found: that
patient is answered; several: EventCode 0, HTTP 400 (duplicates); none: a new patient (keys
from ``pat{ADDED_KEY + 1}``) is answered. Tests add patients directly with ``add_patient``
(e.g. two sharing an e-mail); added patients are listed after the numbered ones.
"""

from __future__ import annotations

import datetime
import http.cookies
import itertools
import re
import secrets
import unicodedata
import zoneinfo
from collections.abc import Sequence
from typing import Any

from vendors.simulators.base import Reply, Request, Simulator

CLIENT_KEY = "meddbase-sim-client-key"
USERNAME = "booking-desk@clinic.example"
PASSWORD = "meddbase-sim-password"
SITE_ZONE = zoneinfo.ZoneInfo("Europe/London")  # offset-less DateTime = London time
# LocalDateTime: a site's wall-clock time, no offset (proposed-time-slots' from/to dates).
LOCAL_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
SLOT_STEP = datetime.timedelta(minutes=15)
ALL_DAY = (datetime.time(0), datetime.time(0))
# A DateTime: ISO 8601, with an optional offset; without one it is London time.
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})?$")
PREFIX = "/patientportalapi"
ACTIVE = {"Booked", "NotArrived", "Arrived", "BeingSeen"}
STATE_NAMES = {"NotArrived": "Not arrived", "DNA": "Did not attend", "BeingSeen": "Being seen"}

PAYER_TYPES = [{"Key": "PA", "Name": "Patient"}, {"Key": "IN", "Name": "Insurer"}]
SHORT_CONSULT = {
    "Key": 10382,
    "Name": "Short Consult",
    "Notes": "",
    "CurrencyCode": "GBP",
    "CurrencySymbol": "£",
    "NetPrice": 50,
    "Tax": 10,
    "GrossPrice": 60,
}
TYPES = [
    {"Key": "00000000fc0af8e9", "Name": "Consultation", "Notes": "",
     "CancellationPolicy": "50% of the price is charged within 24 hours of the appointment.",
     "Modules": [SHORT_CONSULT], "CanBookAppointment": True, "CanReferPatient": False,
     "TelemedicineOption": False, "CanAddServices": False},
    {"Key": "00000000fc0af8ea", "Name": "Health screen", "Notes": "", "CancellationPolicy": "",
     "Modules": [], "CanBookAppointment": True, "CanReferPatient": False,
     "TelemedicineOption": False, "CanAddServices": False},
    {"Key": "00000000fc0af8eb", "Name": "Video consultation", "Notes": "",
     "CancellationPolicy": "", "Modules": [], "CanBookAppointment": True,
     "CanReferPatient": False, "TelemedicineOption": True, "CanAddServices": False},
]  # fmt: skip
# What the API does not show: length, price and who offers a type where.
TYPE_RULES = {
    "00000000fc0af8e9": {"minutes": 30, "price": 100, "clinicians": {84, 85, 86},
                         "sites": {1123, 1124, 1125}},
    "00000000fc0af8ea": {"minutes": 60, "price": 240, "clinicians": {85}, "sites": {1124}},
    "00000000fc0af8eb": {"minutes": 20, "price": 80, "clinicians": {84}, "sites": {1123}},
}  # fmt: skip
SITES = [
    {"Key": 1123, "Name": "2CP (Eye Room)",
     "Address": {"Address1": "2 Clifton Park Ave", "City": "London", "PostCode": "SW20 8BD",
                 "Country": "United Kingdom"},
     "Locations": [{"Key": 214, "Name": "Room 1"}, {"Key": 45, "Name": "Surgery"}]},
    {"Key": 1124, "Name": "Harley Street",
     "Address": {"Address1": "10 Harley Street", "City": "London", "PostCode": "W1G 9PF",
                 "Country": "United Kingdom"},
     "Locations": [{"Key": 300, "Name": "Room A"}]},
    {"Key": 1125, "Name": "Providencia",
     "Address": {"Address1": "Av. Providencia 1208", "City": "Santiago", "PostCode": "7500000",
                 "Country": "Chile"},
     "Locations": [{"Key": 400, "Name": "Box 1"}]},
]  # fmt: skip
# What SiteData does not show: each site's own zone.
SITE_ZONES = {
    1123: zoneinfo.ZoneInfo("Europe/London"),
    1124: zoneinfo.ZoneInfo("Europe/London"),
    1125: zoneinfo.ZoneInfo("America/Santiago"),
}
CLINICIANS = [
    {"Key": 84, "FullName": "Dr. Gregory House", "SexType": 1},
    {"Key": 85, "FullName": "Dr. Lisa Cuddy", "SexType": 2},
    {"Key": 86, "FullName": "Dr. Camila Rojas", "SexType": 2},
]
CLINICIAN_SITES = {84: {1123}, 85: {1123, 1124}, 86: {1125}}
PATIENTS = {
    "pat1001": {"Key": "pat1001", "Title": "Mr", "Name": "John", "Surname": "Lemon",
                "DateOfBirth": "1958-08-02T00:00:00", "Mobile": "+44 7700 900123",
                "EmailAddress": "john.lemon@example.com"},
    "pat1002": {"Key": "pat1002", "Title": "Ms", "Name": "Mariel", "Surname": "Lemon",
                "DateOfBirth": "1961-03-14T00:00:00", "Mobile": "+44 7700 900456",
                "EmailAddress": "mariel.lemon@example.com"},
}  # fmt: skip
# How many patients GET patients/patients lists unless a test says otherwise.
PATIENT_COUNT = 3000
FIRST_KEY = 1000  # patient n has the key pat{FIRST_KEY + n}
PATIENT_KEY = re.compile(r"^pat(\d+)$")
ADDED_KEY = 900_000  # registered (or added) patients: pat900001, pat900002...
GIVEN_NAMES = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo",
    "Freya", "Arthur", "Lily", "Muhammad", "Sophia", "Thomas", "Zoë", "Oscar", "Chloé",
)  # fmt: skip
FAMILY_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "O'Brien", "Nowak", "Khan", "MacDonald", "Ó Súilleabháin",
)  # fmt: skip
TOWNS = (("London", "SW1A 1AA"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 4AP"),
         ("Bristol", "BS1 4DJ"), ("Glasgow", "G1 1XQ"))  # fmt: skip


class MeddbaseSimulator(Simulator):
    vendor = "meddbase"
    routes = [
        ("POST", rf"{PREFIX}/auth/login", "login"),
        ("GET", rf"{PREFIX}/appointment/payer-types", "payer_types"),
        ("GET", rf"{PREFIX}/appointment/types", "types"),
        ("POST", rf"{PREFIX}/appointment/sites", "sites"),
        ("POST", rf"{PREFIX}/appointment/clinicians", "clinicians"),
        ("POST", rf"{PREFIX}/appointment/book-time-slot", "book"),
        ("GET", rf"{PREFIX}/appointment/cancel", "cancel"),
        ("GET", rf"{PREFIX}/appointment/appointments", "appointments"),
        ("GET", rf"{PREFIX}/appointment/proposed-time-slots", "proposed_time_slots"),
        ("GET", rf"{PREFIX}/patients/patients", "patients"),
        ("POST", rf"{PREFIX}/patients/create-patient", "create_patient"),
    ]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.http_errors = True
            self.sessions: dict[str, str] = {}  # SessionID -> CSRF token
            self.logins = 0
            self.booked: dict[str, dict[str, Any]] = {}
            self.numbers = itertools.count(58462)
            # Clinician -> local (opens, closes) at each of its sites; absent = all day.
            self.hours: dict[int, tuple[datetime.time, datetime.time]] = {}
            self.patient_count = PATIENT_COUNT
            self.added: dict[str, dict[str, Any]] = {}  # registered or added: key -> record
            # Patient n -> (fields replaced, fields dropped): what `malform` broke.
            self.malformed: dict[int, tuple[dict[str, Any], tuple[str, ...]]] = {}

    def state(self) -> dict[str, Any]:
        return {
            "logins": self.logins,
            "appointments": [
                self._appointment(a) for a in self.booked.values() if a["Kind"] == "appointment"
            ],
            "blocks": [
                {"Key": a["Key"], "Start": _london(a["Start"]), "Finish": _london(a["Finish"]),
                 "Clinician": a["Clinician"], "Location": a["Location"]}
                for a in self.booked.values()
                if a["Kind"] == "block"
            ],
        }  # fmt: skip

    def live_appointment_keys(self) -> list[tuple[str, str]]:
        """Appointments (not blocks) in any State but Cancelled, by clinician and UTC start."""
        return [
            (str(a["Clinician"]), a["Start"].astimezone(datetime.UTC).isoformat())
            for a in self.booked.values()
            if a["Kind"] == "appointment" and a["State"] != "Cancelled"
        ]

    def set_hours(self, clinician: int, opens: str, closes: str) -> None:
        """The clinician works these local hours every day at its sites ("00:00" = midnight)."""
        with self.lock:
            self.hours[clinician] = (
                datetime.time.fromisoformat(opens),
                datetime.time.fromisoformat(closes),
            )

    def expire_sessions(self) -> None:
        """End every session, as Meddbase does after its session timeout."""
        with self.lock:
            self.sessions.clear()

    def set_state(self, key: str, state: str) -> None:
        with self.lock:
            self.booked[key]["State"] = state

    def malform(self, number: int, *, drop: Sequence[str] = (), **changes: Any) -> None:
        """Patient `number` (from 1) comes with these fields replaced and `drop` left out."""
        with self.lock:
            self.malformed[number] = (changes, tuple(drop))

    def add_patient(self, name: str, surname: str, **fields: Any) -> dict[str, Any]:
        """Another patient (as registered in Meddbase itself), with the next key; `fields`
        are other PersonDemographicData (DateOfBirth, EmailAddress, Mobile...)."""
        with self.lock:
            key = f"pat{ADDED_KEY + len(self.added) + 1}"
            record = {"Key": key, "Title": "", "Name": name, "Surname": surname, "SexType": 0,
                      "DateOfBirth": None, "Mobile": "", "EmailAddress": None,
                      "WorkEmailAddress": None, **fields}  # fmt: skip
            self.added[key] = record
            return record

    def _anyone(self, key: str) -> dict[str, Any] | None:
        """Any patient by key (for appointments already booked), added ones included."""
        return self.added.get(key) or patient_by_key(key)

    def _patient(self, key: str) -> dict[str, Any] | None:
        """The patient with this key as the API shows it (broken if `malform` says so)."""
        if key in self.added:
            return self.added[key]
        found = PATIENT_KEY.match(key)
        number = int(found.group(1)) - FIRST_KEY if found else 0
        return self._numbered(number) if 1 <= number <= self.patient_count else None

    def _numbered(self, number: int) -> dict[str, Any]:
        record = patient(number)
        changes, drop = self.malformed.get(number, ({}, ()))
        return {name: value for name, value in (record | changes).items() if name not in drop}

    # -- auth -----------------------------------------------------------------------------

    def login(self, request: Request) -> Reply:
        if refused := self._client(request):
            return refused
        data = request.json
        if not isinstance(data, dict) or not {"username", "password"} <= data.keys():
            return self._error(400, 7, "Invalid or missing POST data: username and password.")
        if data["username"] != USERNAME or data["password"] != PASSWORD:
            return self._error(401, 0, "Invalid username or password.")
        session, token = secrets.token_hex(12), secrets.token_hex(16)
        self.sessions[session] = token
        self.logins += 1
        return _ok({"SessionID": session, "Token": token, "Require2FA": False})

    def _client(self, request: Request) -> Reply | None:
        key = request.query.get("client-key")
        if key is None:
            cookie = http.cookies.SimpleCookie(request.header("Cookie"))
            key = cookie["Client-key"].value if "Client-key" in cookie else None
        if not key:
            return self._error(401, 3, "Client authentication key is missing.")
        if key != CLIENT_KEY:
            return self._error(401, 4, "Client authentication key not valid.")
        return None

    def _guard(self, request: Request) -> Reply | None:
        if refused := self._client(request):
            return refused
        session = request.header("x-session-id")
        if session not in self.sessions:
            return self._error(401, 8, "User is not logged in.")
        if request.header("x-token") != self.sessions[session]:
            return self._error(401, 11, "Invalid token.")
        return None

    # -- booking --------------------------------------------------------------------------

    def book(self, request: Request) -> Reply:
        if refused := self._guard(request):
            return refused
        patient = request.query.get("patient")
        if not patient:
            return self._error(
                400, 1, "Parameter 'patient' is missing: the logged-in user is not a patient."
            )
        if self._patient(patient) is None:
            return self._error(404, 0, "Patient not found.")
        data = request.json
        slot = data.get("proposedTimeSlot") if isinstance(data, dict) else None
        if not isinstance(slot, dict):
            return self._error(400, 7, "Invalid or missing POST data: proposedTimeSlot.")
        problem = _slot_problem(slot, data)
        if problem:
            return self._error(400, *problem)
        kind = slot["Type"]["Key"]
        if kind not in TYPE_RULES:
            return self._error(404, 0, "Appointment type not found.")
        site = _by_key(SITES, slot["Site"]["Key"])
        if site is None:
            return self._error(404, 0, "Site not found.")
        rooms = [room["Key"] for room in site["Locations"]]
        if "Location" in slot and slot["Location"]["Key"] not in rooms:
            return self._error(404, 0, "Location not found at this site.")
        rules = TYPE_RULES[kind]
        offered = {module["Key"] for module in _by_key(TYPES, kind)["Modules"]}
        modules = slot.get("Modules", [])
        if any(module["Key"] not in offered for module in modules):
            return self._error(400, 2, "Module is not available for this appointment type.")
        clinician = data.get("clinician", 0)
        if clinician and _by_key(CLINICIANS, clinician) is None:
            return self._error(404, 0, "Clinician not found.")
        # As Meddbase reads it: the offset if it has one, else London time (never the site's).
        start = _datetime(slot["Start"])
        end = start + datetime.timedelta(minutes=rules["minutes"])
        chosen = self._free(kind, site["Key"], clinician, slot.get("Location"), start, end)
        total = rules["price"] + SHORT_CONSULT["GrossPrice"] * len(modules)
        if (
            chosen is None
            or start <= datetime.datetime.now(datetime.UTC)
            or (data.get("price") not in (None, total))
        ):
            return self._error(
                424, 0, "No appropriate time slot can be found for the proposed time slot."
            )
        key = f"apt{next(self.numbers)}"
        self.booked[key] = {
            "Key": key,
            "Type": kind,
            "Start": start,
            "Finish": end,
            "Site": site["Key"],
            "Location": chosen[1],
            "Clinician": chosen[0],
            "Patient": patient,
            "Modules": modules,
            "PayerType": slot["PayerType"],
            "State": "Booked",
            "Price": total,
            "Kind": "appointment",
        }
        return _ok(self._appointment(self.booked[key]))

    def _free(
        self,
        kind: str,
        site: int,
        clinician: int,
        location: dict[str, int] | None,
        start: datetime.datetime,
        end: datetime.datetime,
    ) -> tuple[int, int] | None:
        """The first clinician and room free for the slot (method 0 picks any)."""
        rules = TYPE_RULES[kind]
        doctors = [clinician] if clinician else sorted(rules["clinicians"])
        rooms = (
            [location["Key"]] if location else [r["Key"] for r in _by_key(SITES, site)["Locations"]]
        )
        busy = [
            a
            for a in self.booked.values()
            if a["State"] in ACTIVE and a["Start"] < end and start < a["Finish"]
        ]
        for doctor in doctors:
            if site not in rules["sites"] or doctor not in rules["clinicians"]:
                continue
            if site not in CLINICIAN_SITES.get(doctor, set()):
                continue
            if not self._works(doctor, site, start, end):
                continue
            if any(a["Clinician"] == doctor for a in busy):
                continue
            for room in rooms:
                if not any(a["Location"] == room for a in busy):
                    return doctor, room
        return None

    def _works(
        self, doctor: int, site: int, start: datetime.datetime, end: datetime.datetime
    ) -> bool:
        """Whether [start, end) lies in one of the clinician's working days at the site."""
        opens, closes = self.hours.get(doctor, ALL_DAY)
        if (opens, closes) == ALL_DAY:
            return True
        zone = SITE_ZONES[site]
        day = start.astimezone(zone).date()
        begins = datetime.datetime.combine(day, opens, zone)
        ends = datetime.datetime.combine(
            day + datetime.timedelta(days=1) if closes == datetime.time(0) else day, closes, zone
        )
        return begins <= start and end <= ends

    # -- free time ------------------------------------------------------------------------

    def proposed_time_slots(self, request: Request) -> Reply:
        if refused := self._guard(request):
            return refused
        query = request.query
        kind = query.get("appointment-type")
        if not kind:
            return self._error(400, 1, "Parameter 'appointment-type' is missing.")
        if kind not in TYPE_RULES:
            return self._error(404, 0, "Appointment type not found.")
        if query.get("payer-type") and query["payer-type"] not in {p["Key"] for p in PAYER_TYPES}:
            return self._error(400, 2, "Unknown payer type.")
        try:
            clinician, site, room = (
                int(query.get(name) or 0) for name in ("clinician", "site", "location")
            )
            dates = [query.get(name) for name in ("from-date", "to-date")]
            if not dates[1] or not all(LOCAL_DATETIME.match(d) for d in dates if d):
                raise ValueError(dates)
        except ValueError:
            return self._error(400, 2, "Parameter has incorrect format.")
        rules = TYPE_RULES[kind]
        found: list[tuple[datetime.datetime, dict[str, Any]]] = []
        for key in sorted(rules["sites"]):
            if site in (0, key):
                found += self._slots(kind, key, clinician, room, *dates)
        found.sort(key=lambda pair: (pair[0], pair[1]["SiteKey"]))
        return _ok(_time_slots(kind, [slot for _, slot in found]))

    def _slots(
        self, kind: str, site: int, clinician: int, room: int, begin: str | None, end: str
    ) -> list[tuple[datetime.datetime, dict[str, Any]]]:
        """Free starts at one site between two of its wall-clock times (end exclusive)."""
        zone = SITE_ZONES[site]
        now = datetime.datetime.now(datetime.UTC)
        low = datetime.datetime.fromisoformat(begin).replace(tzinfo=zone) if begin else now
        high = datetime.datetime.fromisoformat(end).replace(tzinfo=zone)
        length = datetime.timedelta(minutes=TYPE_RULES[kind]["minutes"])
        location = {"Key": room} if room else None
        day = datetime.datetime.combine(low.astimezone(zone).date(), datetime.time(0), zone)
        start = day.astimezone(datetime.UTC)
        found = []
        while start < high:
            if start >= max(low, now):
                chosen = self._free(kind, site, clinician, location, start, start + length)
                if chosen is not None:
                    found.append((start, _slot(kind, site, chosen[1], start, start + length)))
            start += SLOT_STEP
        return found

    # -- what staff do in Meddbase itself (POST /__simulator/direct) ------------------------

    def direct(self, action: str, data: dict[str, Any]) -> Reply:
        try:
            return self._direct(action, data)
        except (TypeError, ValueError):
            return Reply(400, {"message": "IDs and minutes must be numbers"})

    def _direct(self, action: str, data: dict[str, Any]) -> Reply:
        if action == "book":
            return self._direct_book(data)
        booked = self.booked.get(str(data.get("id")))
        if booked is None:
            return Reply(404, {"message": f"No appointment {data.get('id')!r}"})
        if action == "move":
            times = _direct_times(data, booked["Finish"] - booked["Start"])
            if isinstance(times, Reply):
                return times
            booked["Start"], booked["Finish"] = times
            for name, field in (("practitioner", "Clinician"), ("room", "Location")):
                if data.get(name):
                    booked[field] = int(data[name])
        elif action == "cancel":
            booked["State"] = "Cancelled"
        else:
            del self.booked[booked["Key"]]
        return Reply(200, {"id": booked["Key"]})

    def _direct_book(self, data: dict[str, Any]) -> Reply:
        try:
            clinician = int(data.get("practitioner") or 0)
            sites = sorted(CLINICIAN_SITES.get(clinician, ()))
            site = _by_key(SITES, int(data.get("location") or (sites[0] if sites else 0)))
        except ValueError:
            return Reply(400, {"message": "practitioner and location must be numbers"})
        block = data.get("kind") == "block"
        kind = str(data.get("appointment_type") or "00000000fc0af8e9")
        patient = None if block else str(data.get("patient") or "")
        if _by_key(CLINICIANS, clinician) is None or site is None or kind not in TYPE_RULES:
            return Reply(400, {"message": "Unknown clinician, site or appointment type"})
        if not block and self._patient(patient or "") is None:
            return Reply(400, {"message": "patient must be a patient key (or kind: block)"})
        rooms = [room["Key"] for room in site["Locations"]]
        room = int(data["room"]) if data.get("room") else (None if block else rooms[0])
        if room is not None and room not in rooms:
            return Reply(400, {"message": "room must be a location of the site"})
        times = _direct_times(data, datetime.timedelta(minutes=TYPE_RULES[kind]["minutes"]))
        if isinstance(times, Reply):
            return times
        key = f"apt{next(self.numbers)}"
        self.booked[key] = {
            "Key": key, "Type": kind, "Start": times[0], "Finish": times[1],
            "Site": site["Key"], "Location": room, "Clinician": clinician, "Patient": patient,
            "Modules": [], "PayerType": "PA", "State": "Booked",
            "Price": TYPE_RULES[kind]["price"], "Kind": "block" if block else "appointment",
        }  # fmt: skip
        return Reply(200, {"id": key})

    def cancel(self, request: Request) -> Reply:
        if refused := self._guard(request):
            return refused
        key = request.query.get("appointment")
        if not key:
            return self._error(400, 1, "Parameter 'appointment' is missing.")
        appointment = self.booked.get(key)
        if appointment is None or appointment["Kind"] != "appointment":
            return self._error(404, 0, "Appointment not found.")
        if appointment["State"] == "Cancelled":
            return _ok(None)
        if appointment["State"] not in ("Booked", "NotArrived"):
            return self._error(400, 0, "The appointment can no longer be cancelled.")
        appointment["State"] = "Cancelled"
        if appointment["Start"] - datetime.datetime.now(datetime.UTC) < datetime.timedelta(days=1):
            debtor = self._anyone(appointment["Patient"])
            return _ok(_invoice(appointment, appointment["Price"] / 2, debtor))
        return _ok(None)

    def appointments(self, request: Request) -> Reply:
        if refused := self._guard(request):
            return refused
        query = request.query
        patient = query.get("patient")
        if patient and self._patient(patient) is None:
            return self._error(404, 0, "Patient not found.")
        try:
            low, high = (_datetime(query.get(name)) for name in ("start-from", "start-to"))
            number = int(query.get("page-number", "1"))
            size = int(query.get("page-size", "10"))
        except ValueError:
            return self._error(400, 2, "Parameter has incorrect format.")
        if number < 1 or not 5 <= size <= 50:
            return self._error(400, 2, "The page-size must be between 5 and 50.")
        found = sorted(
            (
                a
                for a in self.booked.values()
                if a["Kind"] == "appointment"
                and (not patient or a["Patient"] == patient)
                and (low is None or a["Start"] >= low)
                and (high is None or a["Start"] <= high)
            ),
            key=lambda a: a["Start"],
        )
        return _ok(
            {
                "Items": [self._appointment(a) for a in found[(number - 1) * size : number * size]],
                "TotalCount": len(found),
                "CurrentPage": number,
                "PageSize": size,
                "SortColumn": 0,
                "SortDescending": False,
            }
        )

    # -- patients -------------------------------------------------------------------------

    def patients(self, request: Request) -> Reply:
        """GetPatients: PersonDemographicData paged, in key order, filtered as documented."""
        if refused := self._guard(request):
            return refused
        query = request.query
        try:
            number = int(query.get("page-number", "1"))
            size = int(query.get("page-size", "10"))
            column = int(query.get("page-sort-column", "0"))
            filters = _patient_filters(query)
        except ValueError:
            return self._error(400, 2, "Parameter has incorrect format.")
        if number < 1 or not 5 <= size <= 50:
            return self._error(400, 2, "The page-size must be between 5 and 50.")
        if column not in (0, 1, 2, 3):
            return self._error(400, 2, "The page-sort-column must be 0, 1, 2 or 3.")
        first = (number - 1) * size
        added = [record for record in self.added.values() if _matches(record, filters)]
        if filters:
            everyone = range(1, self.patient_count + 1)
            found = [n for n in everyone if _matches(self._numbered(n), filters)]
            total, numbers = len(found) + len(added), found[first : first + size]
        else:
            total = self.patient_count + len(added)
            numbers = list(range(first + 1, min(first + size, self.patient_count) + 1))
        numbered = total - len(added)  # added patients come after the numbered ones
        items = [self._numbered(n) for n in numbers]
        items += added[max(0, first - numbered) : max(0, first + size - numbered)]
        return _ok(
            {
                "Items": items,
                "TotalCount": total,
                "CurrentPage": number,
                "PageSize": size,
                "SortColumn": column,
                "SortDescending": False,
            }
        )

    def create_patient(self, request: Request) -> Reply:
        """FullSearchOrCreate (see the module's docstring)."""
        if refused := self._guard(request):
            return refused
        data = request.json
        demog = data.get("demog") if isinstance(data, dict) else None
        if not isinstance(demog, dict):
            return self._error(400, 7, "Invalid or missing POST data: demog.")
        for name in ("Name", "Surname"):
            if not isinstance(demog.get(name), str) or not demog[name].strip():
                return self._error(400, 1, f"Parameter '{name}' is missing.")
        try:
            born = _born(demog.get("DateOfBirth"))
        except ValueError:
            return self._error(400, 2, "DateOfBirth has an incorrect format.")
        everyone = [self._numbered(n) for n in range(1, self.patient_count + 1)]
        found = [
            record
            for record in [*everyone, *self.added.values()]
            if _same_person(record, demog, born)
        ]
        if len(found) > 1:
            return self._error(
                400, 0, "Duplicate patient records found; the patient cannot be identified."
            )
        if found:
            return _ok(found[0])
        fields = {name: demog[name] for name in DEMOG_FIELDS if demog.get(name) not in (None, "")}
        return _ok(self.add_patient(fields.pop("Name"), fields.pop("Surname"), **fields))

    # -- reference lists ------------------------------------------------------------------

    def payer_types(self, request: Request) -> Reply:
        return self._guard(request) or _ok(PAYER_TYPES)

    def types(self, request: Request) -> Reply:
        if refused := self._guard(request):
            return refused
        payer = request.query.get("payer-type")
        if payer and payer not in {p["Key"] for p in PAYER_TYPES}:
            return self._error(400, 2, "Unknown payer type.")
        return _ok(TYPES)

    def sites(self, request: Request) -> Reply:
        if refused := self._guard(request) or self._type_and_payer(request):
            return refused
        rules = TYPE_RULES[request.query["appointment-type"]]
        wanted = set((request.json or {}).get("clinicians") or rules["clinicians"])
        keys = {
            site for doctor in wanted & rules["clinicians"] for site in CLINICIAN_SITES[doctor]
        } & rules["sites"]
        return _ok([site for site in SITES if site["Key"] in keys])

    def clinicians(self, request: Request) -> Reply:
        if refused := self._guard(request) or self._type_and_payer(request):
            return refused
        rules = TYPE_RULES[request.query["appointment-type"]]
        wanted = set((request.json or {}).get("sites") or rules["sites"])
        return _ok(
            [
                c
                for c in CLINICIANS
                if c["Key"] in rules["clinicians"] and CLINICIAN_SITES[c["Key"]] & wanted
            ]
        )

    def _type_and_payer(self, request: Request) -> Reply | None:
        for name in ("appointment-type", "payer-type"):
            if not request.query.get(name):
                return self._error(400, 1, f"Parameter '{name}' is missing.")
        if request.query["appointment-type"] not in TYPE_RULES:
            return self._error(404, 0, "Appointment type not found.")
        if request.json is not None and not isinstance(request.json, dict):
            return self._error(400, 7, "Invalid or missing POST data.")
        return None

    # -- shapes ---------------------------------------------------------------------------

    def _appointment(self, booked: dict[str, Any]) -> dict[str, Any]:
        """The documented AppointmentData (times are London wall-clock, as Meddbase reads them)."""
        kind = _by_key(TYPES, booked["Type"])
        site = _by_key(SITES, booked["Site"])
        room = _by_key(site["Locations"], booked["Location"])
        clinician = _by_key(CLINICIANS, booked["Clinician"])
        state = booked["State"]
        return {
            "Key": booked["Key"],
            "Type": {"Key": kind["Key"], "Name": kind["Name"]},
            "Start": _london(booked["Start"]),
            "Finish": _london(booked["Finish"]),
            "Telemedicine": kind["TelemedicineOption"],
            "TelemedicineConnection": "",
            "AuthorisationCode": None,
            "Site": {"Key": site["Key"], "Name": site["Name"], "Address": site["Address"]},
            "Location": {"Key": room["Key"], "Name": room["Name"]},
            "Patient": self._anyone(booked["Patient"]),
            "Clinician": {"Key": clinician["Key"], "FullName": clinician["FullName"]},
            "State": state,
            "StateDisplayName": STATE_NAMES.get(state, state),
            "StateColor": "red" if state in ("Cancelled", "DNA") else "green",
            "Modules": booked["Modules"],
            "Services": [],
            "Invoice": _invoice(booked, booked["Price"], self._anyone(booked["Patient"])),
        }

    def _error(self, status: int, code: int, message: str) -> Reply:
        return Reply(
            status if self.http_errors else 200,
            {
                "status": "error",
                "result": None,
                "error": {
                    "Message": message,
                    "EventType": 2,
                    "EventCode": code,
                    "HttpStatusCode": status,
                    "Description": None,
                    "ReferenceNumber": secrets.token_hex(4).upper(),
                },
            },
        )

    def not_found(self, request: Request) -> Reply:
        return self._error(404, 6, f"Unknown API method {request.path}.")

    def fault_reply(self, status: int) -> Reply:
        if status == 503:
            return self._error(
                503, 10, "Application is starting. Please wait and send the request later."
            )
        reply = self._error(
            status, 0, "Internal server error." if status == 500 else "Too many requests."
        )
        if status == 429:
            reply.headers["Retry-After"] = "1"
        return reply


def _slot_problem(slot: dict[str, Any], data: dict[str, Any]) -> tuple[int, str] | None:
    """(EventCode, message) for a proposedTimeSlot that is missing or ill-typed data."""
    for name, kind in (("Type", str), ("Site", int)):
        if not isinstance(slot.get(name), dict) or "Key" not in slot[name]:
            return 7, f"Invalid or missing POST data: proposedTimeSlot.{name}.Key."
        if not _typed(slot[name]["Key"], kind):
            return 2, f"proposedTimeSlot.{name}.Key has incorrect format."
    if "Location" in slot and (
        not isinstance(slot["Location"], dict) or not _typed(slot["Location"].get("Key"), int)
    ):
        return 2, "proposedTimeSlot.Location.Key has incorrect format."
    if not isinstance(slot.get("Start"), str) or not DATETIME.match(slot["Start"]):
        return 2, "proposedTimeSlot.Start must be a DateTime (yyyy-MM-ddTHH:mm:ss[+hh:mm])."
    modules = slot.get("Modules", [])
    if not isinstance(modules, list) or not all(
        isinstance(m, dict) and _typed(m.get("Key"), int) for m in modules
    ):
        return 2, "proposedTimeSlot.Modules must be a list of {Key: int}."
    if not isinstance(slot.get("Services", []), list):
        return 2, "proposedTimeSlot.Services must be a list."
    if slot.get("PayerType") not in {p["Key"] for p in PAYER_TYPES}:
        return 2, "proposedTimeSlot.PayerType is not a known payer type."
    for name in ("clinician", "clinicianSex", "method"):
        if name in data and not _typed(data[name], int):
            return 2, f"Parameter '{name}' has incorrect format."
    if data.get("clinicianSex", 0) not in (0, 1, 2):
        return 2, "Parameter 'clinicianSex' must be 0, 1 or 2."
    if "price" in data and not _typed(data["price"], int | float):
        return 2, "Parameter 'price' has incorrect format."
    return None


def patient(number: int) -> dict[str, Any]:
    """Patient `number` (from 1): the catalogue's first two, then made from the number alone
    (the same in every run), as the documented PersonDemographicData."""
    key = f"pat{FIRST_KEY + number}"
    if key in PATIENTS:
        return dict(PATIENTS[key])
    given = GIVEN_NAMES[number % len(GIVEN_NAMES)]
    family = FAMILY_NAMES[(number // len(GIVEN_NAMES)) % len(FAMILY_NAMES)]
    sex = 0 if number % 7 == 0 else 1 + number % 2  # GIVEN_NAMES alternate male, female
    town, postcode = TOWNS[number % len(TOWNS)]
    handle = f"{_ascii(given)}.{_ascii(family)}{number}"
    born = None
    if number % 17:
        born = datetime.date(1940 + number % 85, 1 + number % 12, 1 + number % 28)
    kin = None
    if born and born.year >= 2000:  # a parent as next of kin (the guardian of a minor)
        kin = {"Relationship": "Mother", "Name": GIVEN_NAMES[(number + 1) % 20],
               "Surname": family, "Mobile": f"+44 7700 9{number:05d}", "WorkTelephone": "",
               "Address": None}  # fmt: skip
    return {
        "Key": key,
        "Title": {1: "Mr", 2: "Ms"}.get(sex, "Mx"),
        "Name": given,
        "Surname": family,
        "SexType": sex,
        "Initials": f"{given[0]}{family[0]}",
        "DateOfBirth": f"{born.isoformat()}T00:00:00" if born else None,
        "Mobile": "" if number % 11 == 0 else f"+44 7700 {number:06d}",
        "Telephone": f"+44 20 7946 {number % 10000:04d}" if number % 3 == 0 else "",
        "EmailAddress": None if number % 13 == 0 else f"{handle}@example.com",
        "WorkEmailAddress": f"{handle}@work.example.com" if number % 2 == 0 else None,
        "Address": {"Address1": f"{number} High Street", "Address2": "", "Address3": "",
                    "City": town, "County": "", "PostCode": postcode,
                    "Country": "United Kingdom"},
        "EmployeeNumber": f"E{number:06d}" if number % 4 == 0 else None,
        "NextOfKin": kin,
    }  # fmt: skip


def patient_by_key(key: str) -> dict[str, Any] | None:
    """Any patient by key, whatever the simulator's count (for appointments already booked)."""
    found = PATIENT_KEY.match(key or "")
    number = int(found.group(1)) - FIRST_KEY if found else 0
    return patient(number) if number >= 1 else None


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", plain.lower())


PATIENT_FILTERS = {
    "name": ("Name",),
    "surname": ("Surname",),
    "personal-email": ("EmailAddress",),
    "work-email": ("WorkEmailAddress",),
    "employee-number": ("EmployeeNumber",),
}


def _patient_filters(query: dict[str, str]) -> dict[str, Any]:
    """The filters a GetPatients query sets (dates parsed; ValueError when one is not)."""
    filters: dict[str, Any] = {
        name: query[name].strip().lower()
        for name in (*PATIENT_FILTERS, "text")
        if query.get(name, "").strip()
    }
    for name in ("dob-from", "dob-to"):
        if query.get(name):
            filters[name] = datetime.date.fromisoformat(query[name][:10])
    return filters


def _matches(record: dict[str, Any], filters: dict[str, Any]) -> bool:
    def text(field: str) -> str:
        return str(record.get(field) or "").lower()

    for name, wanted in filters.items():
        if name in PATIENT_FILTERS and text(PATIENT_FILTERS[name][0]) != wanted:
            return False
        if name == "text" and not any(
            wanted in text(field)
            for field in ("Name", "Surname", "EmailAddress", "WorkEmailAddress", "EmployeeNumber")
        ):
            return False
    if "dob-from" in filters or "dob-to" in filters:
        try:
            born = datetime.date.fromisoformat(str(record.get("DateOfBirth"))[:10])
        except ValueError:
            return False
        return filters.get("dob-from", born) <= born <= filters.get("dob-to", born)
    return True


# What FullSearchOrCreate keeps of a demog (the simulator's patients' fields).
DEMOG_FIELDS = ("Title", "Name", "Surname", "SexType", "DateOfBirth", "Mobile", "Telephone",
                "EmailAddress", "WorkEmailAddress", "Address", "EmployeeNumber")  # fmt: skip


def _born(value: Any) -> datetime.date | None:
    """A DateOfBirth's date (ValueError when it is not a DateTime)."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not DATETIME.match(value):
        raise ValueError(value)
    return datetime.datetime.fromisoformat(value).date()


def _same_person(record: dict[str, Any], demog: dict[str, Any], born: datetime.date | None) -> bool:
    """FullSearchOrCreate's full search (see the module's docstring)."""

    def same(field: str) -> bool:
        return (
            str(record.get(field) or "").strip().lower()
            == str(demog.get(field) or "").strip().lower()
        )

    try:
        theirs = _born(record.get("DateOfBirth"))
    except ValueError:
        return False
    email, other = demog.get("EmailAddress"), record.get("EmailAddress")
    return (
        same("Name")
        and same("Surname")
        and theirs == born
        and (not email or not other or same("EmailAddress"))
    )


def _typed(value: Any, kind: Any) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _by_key(records: list[dict[str, Any]], key: Any) -> dict[str, Any] | None:
    return next((record for record in records if record["Key"] == key), None)


def _datetime(value: str | None) -> datetime.datetime | None:
    """A DateTime: ISO 8601, London time when it carries no offset; as a UTC instant."""
    if not value:
        return None
    moment = datetime.datetime.fromisoformat(value)
    moment = moment if moment.tzinfo else moment.replace(tzinfo=SITE_ZONE)
    return moment.astimezone(datetime.UTC)  # instants in UTC: London's fold never compares


def _london(instant: datetime.datetime) -> str:
    return instant.astimezone(SITE_ZONE).strftime("%Y-%m-%dT%H:%M:%S")


def _invoice(
    booked: dict[str, Any], gross: float, patient: dict[str, Any] | None
) -> dict[str, Any]:
    patient = patient or {}
    return {
        "Key": f"inv{booked['Key'][3:]}",
        "Date": datetime.datetime.now(datetime.UTC).date().isoformat(),
        "Number": int(booked["Key"][3:]),
        "CurrencyCode": "GBP",
        "CurrencySymbol": "£",
        "TotalNet": round(gross / 1.2, 2),
        "Tax": round(gross - gross / 1.2, 2),
        "TotalGross": gross,
        "Paid": 0,
        "Debtor": {
            "Name": f"{patient.get('Title')}. {patient.get('Name')} {patient.get('Surname')}",
            "IsCompany": False,
            "Account": patient,
        },
        "PayableOnline": True,
    }


def _ok(result: Any) -> Reply:
    return Reply(200, {"status": "ok", "result": result, "error": None})


def _direct_times(
    data: dict[str, Any], length: datetime.timedelta
) -> tuple[datetime.datetime, datetime.datetime] | Reply:
    try:
        start = datetime.datetime.fromisoformat(str(data.get("start")))
        minutes = int(data["minutes"]) if data.get("minutes") else None
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        return Reply(400, {"message": "start must be an ISO 8601 time with its offset"})
    start = start.astimezone(datetime.UTC)
    return start, start + (datetime.timedelta(minutes=minutes) if minutes else length)


def _datetime_text(instant: datetime.datetime) -> str:
    """A DateTime as Meddbase writes it: London wall-clock time, with London's offset only
    in the repeated autumn hour (where the wall clock alone is ambiguous)."""
    london = instant.astimezone(SITE_ZONE)
    text = london.strftime("%Y-%m-%dT%H:%M:%S")
    if london.replace(fold=1 - london.fold).utcoffset() != london.utcoffset():
        text += london.isoformat()[19:]
    return text


def _slot(
    kind: str, site: int, room: int, start: datetime.datetime, end: datetime.datetime
) -> dict[str, Any]:
    gross = TYPE_RULES[kind]["price"]
    return {
        "Start": _datetime_text(start),
        "Finish": _datetime_text(end),
        "SiteKey": site,
        "LocationKey": room,
        "GrossPrice": gross,
        "NetPrice": round(gross / 1.2, 2),
    }


def _time_slots(kind: str, slots: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented TimeSlotsData: the slots, their sites (with only the slots' rooms)."""
    rooms: dict[int, set[int]] = {}
    for slot in slots:
        rooms.setdefault(slot["SiteKey"], set()).add(slot["LocationKey"])
    sites = [
        {**site, "Locations": [r for r in site["Locations"] if r["Key"] in rooms[site["Key"]]]}
        for site in SITES
        if site["Key"] in rooms
    ]
    type_data = _by_key(TYPES, kind) or {}
    return {
        "TimeSlots": slots,
        "Type": {"Key": kind, "Name": type_data.get("Name", "")},
        "Sites": sites,
        "Services": [],
        "Modules": type_data.get("Modules", []),
        "Currency": {"Code": "GBP", "Symbol": "£"},
    }
