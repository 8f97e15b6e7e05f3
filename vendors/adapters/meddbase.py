"""Meddbase Patient Portal API (meddbase.github.io/meddbase-apis): a client key on every
request and a service user's session.

Secrets (roles → environment variables named on the connection): ``client_key`` (sent as the
``client-key`` query parameter), ``username`` and ``password`` of a service user allowed to
book for the company's patients. Options: ``payer_type`` (default ``PA``), ``modules`` (module
keys booked with every appointment; default none), ``method`` (default 0 = random), ``price``
(omitted unless set), ``referral`` / ``recall`` (also taken from refs of those names).

The session (``SessionID`` + CSRF ``Token`` from ``auth/login``) is kept in the store and sent
as ``x-session-id`` / ``x-token``; it is renewed once when Meddbase says it is gone (HTTP 401,
EventCode 8 "not logged in" or 11 "invalid token"). Every answer is the envelope
``{status, result, error}``, and an error may come inside a 200 with ``status: "error"``.

Where the public docs are silent we decided ([INF] = our inference):
- ``Start`` is a DateTime, and a DateTime without an offset is London time (DESIGN §3,
  research notes §4.6), whatever the site's own zone. So the appointment's instant is sent as
  Europe/London wall-clock time, ``yyyy-MM-ddTHH:mm:ss`` as in the documented example: a
  Santiago or Paris site books the same instant as a London one. Only in London's repeated
  hour (the last Sunday of October, 01:00-01:59 twice) does the wall clock not say which
  instant it is; there the DateTime's optional offset is added (``+01:00`` or ``+00:00``).
- A slot taken meanwhile has no documented EventCode. An error from book-time-slot with
  EventCode 0 ("not specified") and HTTP 400, 409 or 424 is read as SlotUnavailable [INF].
- The practitioner must be mapped: booking "any clinician" (0) could place the appointment
  with someone else than the practitioner booked here. A manager may still map a
  practitioner to 0 on purpose.
- ``find`` reads ``GET appointment/appointments?patient&start-from&start-to`` over a window
  of a day either side and matches start (London wall-clock, as sent) and clinician itself,
  so how Meddbase reads the window's offsets does not matter.
- There is no "read one appointment" method, so ``lookup`` is not offered; cancellation
  takes no reason, so the reason stays in this system only.
- Sites and clinicians are listed per appointment type; the reference lists are the union
  over the bookable types.

The calendar (DESIGN §8). The portal lists a patient's appointments, not a site's, so the
busy time of a mapped clinician is derived from the free times Meddbase proposes: for each
appointment type mapped at the connection (else every bookable one) and each mapped site
(else any site, 0), ``GET appointment/proposed-time-slots?appointment-type&clinician&site
&from-date&to-date&payer-type`` a week at a time over the window (a day either side, so a
site in another zone than the desk's loses nothing at the edges); busy = the clinician's
working hours here (``query.working_hours``) minus the union of the proposed slots, as spans
of kind "busy" without an ID. ``from-date``/``to-date`` are LocalDateTimes: the site's
wall-clock time, written in the locations' zone; the slots' ``Start``/``Finish`` are DateTimes
(an offset-less one is London time). Our delivered appointments (``query.ours``) are read for
their state from ``GET appointment/appointments`` (no ``patient``: every patient the service
user may see; ``start-from``/``start-to`` over the window; pages of 50 read to the end) and
come back with their IDs, times and ``State``. The read is complete but does not list the
site's appointments (``lists_appointments`` False): one of ours it does not mention is not
taken for deleted. The free-slot check asks proposed-time-slots for the request's clinician,
site, room and type over its day (a day either side) and looks for a slot starting at the
request's instant.

Decided where the documents are silent:
- ``calendar_days`` is 28: every read is a free-slot search per clinician, type and site for
  each week, with no documented rate limit, on an API made for one patient's search; the
  desk's grids look at most a few weeks ahead, and beyond 28 days the pre-flight check at
  booking still asks Meddbase itself.
- Slots are of the type's length on Meddbase's own grid, so a gap too short for any mapped
  type reads as busy (conservative: it could not be booked here anyway).
- A practitioner mapped to clinician 0 ("any") has no time of its own: none is derived.
- ``modules`` (a POST body on a GET) are not sent with the searches.
- ``NotArrived`` stays "unconfirmed": it says the patient has not arrived, not that anyone
  confirmed; there is no confirmation state in the portal API.

Onboarding (issue 12, ``import_records``): what the portal lists, read as the service user
sees it, each kind a generator that yields as it reads.
- locations: the sites of every bookable appointment type (``POST appointment/sites?
  appointment-type&payer-type`` with ``{clinicians: [], modules: []}``, one call per type, a
  site yielded the first time it is seen): ``Key`` → the ID, ``Name`` → name, ``Address``
  (AddressData: Address1-3, City, County, PostCode, Country, the non-empty ones joined by ", ")
  → address. SiteData tells no phone and no time zone: set the zone of each imported site
  by hand (a DateTime without offset is London time, but the site may be elsewhere).
- rooms: the same answers' ``Locations[]`` (LocationData: rooms, floors or wings of a site),
  each room once: ``Key`` → the ID, ``Name`` → name, refs["location"] = its site's Key.
- practitioners: ``POST appointment/clinicians?appointment-type&payer-type`` with ``{sites:
  [], locations: [], modules: []}`` per bookable type, each clinician once: ``Key`` → the ID,
  ``FullName`` split (``split_name``) into title (leading Dr., Prof., Mr…), given and family
  name (the last word, with the particles before it: "de la Cruz", "van Dijk"; after a comma,
  post-nominals such as "FRCS" are dropped and "House, Gregory" reads family first).
  ``SexType`` is not kept: our practitioners have no sex.
- types: ``GET appointment/types?payer-type`` (not paged): ``Key`` → the ID, ``Name`` →
  name, ``CanBookAppointment`` → active. AppointmentTypeData has no length: the default
  duration is left as it is here (a proposed slot's length would tell it, at one slot search
  per type, which the import does not spend).
- patients: ``GET patients/patients?page-number&page-size=50`` (pages of the documented
  maximum, from 1, until ``TotalCount`` are read; a page whose ``CurrentPage`` is not the one
  asked, or an empty one before the count, stops the import with UnexpectedResponse), only the
  patients the service user may view. PersonDemographicData: ``Key`` → the ID; ``Name`` /
  ``Surname`` → given / family name; ``DateOfBirth`` (a DateTime; an offset is read as the
  London date) → birth date; ``SexType`` 1 male, 2 female, 0 ("any") unknown; ``Mobile``, else
  ``Telephone``, else ``WorkTelephone`` → phone; ``EmailAddress``, else ``WorkEmailAddress``
  → email. ``NextOfKin`` (Name Surname, Mobile, else WorkTelephone) → guardian name and phone
  only for a patient under 18 (a minor's guardian is needed here; an adult's next of kin is
  an emergency contact, not a guardian) [INF]. There is no national ID in the portal's data
  (``EmployeeNumber`` is the employer's number, not kept). A record of the wrong shape (a
  field of the wrong type, a date that is not one, no Key or no name) is yielded with its
  ``problem`` said in words, naming only its Key; the rest continue.
- hours: not offered (``import_gaps``): the portal proposes free slots, never the hours.
Sites and clinicians are only those of bookable types (``CanBookAppointment`` not false);
a 429 is waited out by ``read``; a page that cannot be read raises.

A patient not mapped yet is looked for before booking, and registered only where nobody
matches (issue 12; MB patients/*: the Patients section works for a service user with the
CanReferPatients right, the same one the import's GetPatients needs). GetPatients (``GET
patients/patients``, pages of 50 read to TotalCount, at most SEARCH_PAGES; more candidates
than that is an error asking to map the patient by hand) lists only the patients the service
user may view. Its filters' exact matching is not documented, so what is kept is decided here:
- e-mail: ``personal-email=<ours>`` and then ``work-email=<ours>``; kept: EmailAddress or
  WorkEmailAddress equal to ours, ignoring case.
- name and birth date: ``dob-from``/``dob-to`` a day either side of our birth date (whether
  they include their own day is not documented), without the name filters (their matching of
  case and accents is not documented either, and a miss would register the patient twice);
  kept: Name and Surname equal to ours ignoring case and accents, and DateOfBirth (read as
  ``birth_date`` reads it) our birth date.
The portal's data has no national ID (``EmployeeNumber`` is the employer's number) and no
phone filter (``text`` looks in names, e-mails and employee numbers only): neither is searched.
QuickSearch is not used: it errors on duplicates instead of listing them.
Registering: FullSearchOrCreate (``POST patients/create-patient`` with ``{"demog":
PersonDemographicData}``: Name, Surname, DateOfBirth as a London date, SexType 1 male / 2
female / 0, Mobile, EmailAddress, the empty ones left out). Meddbase returns the patient its
own full search finds (name, surname, e-mail, employee number, address and birth date: all of
them matching, after our own search found nobody by e-mail or by name and birth date),
creates one otherwise, and refuses when its search finds duplicates; its ``Key`` is the ID.
A refusal (for instance a service user without the right) goes to a person with Meddbase's
words. After an answer that never came, the next attempt searches first and finds the patient
if Meddbase made one.
"""

from __future__ import annotations

import datetime
import json
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from vendors.base import NUMBER, SHAPE_ERRORS, TEXT, Adapter, IdFormat
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    SlotUnavailable,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.intervals import Interval, merged, minus
from vendors.types import (
    APPOINTMENT,
    BUSY,
    CRITERION_WORDS,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    ImportedRecord,
    PatientDetails,
    VendorAppointment,
)

API = "patientportalapi"
LOGIN = f"{API}/auth/login"
BOOK = f"{API}/appointment/book-time-slot"
PROPOSED = f"{API}/appointment/proposed-time-slots"
APPOINTMENTS = f"{API}/appointment/appointments"

# AppointmentData.State → canonical status.
STATES = {
    "Booked": "unconfirmed",
    "NotArrived": "unconfirmed",
    "Arrived": "arrived",
    "BeingSeen": "arrived",
    "Discharged": "completed",
    "DNA": "no_show",
    "Cancelled": "cancelled",
}
# ServiceExceptionData.EventCode groups.
INVALID_INPUT = {1, 2, 7, 12}  # missing / ill-formatted parameter, bad POST data, HTML
SESSION_GONE = {8, 11}  # not logged in, invalid token: log in again
STARTING = 10  # the application is starting: try later
CREDENTIAL_MESSAGES = {
    3: gettext_lazy(
        "Meddbase received no client key; a manager must set the connection's client key."
    ),
    4: gettext_lazy(
        "Meddbase refused the client key; a manager must check the connection's client key."
    ),
    13: gettext_lazy(
        "Meddbase refused this server's IP address; ask Meddbase to allow it for the client key."
    ),
    14: gettext_lazy(
        "Meddbase blocked the service user after too many failed logins; a manager must "
        "unblock it in Meddbase."
    ),
}
SLOT_TAKEN_STATUSES = {400, 409, 424}
LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"
LONDON = zoneinfo.ZoneInfo("Europe/London")  # what a DateTime without offset means
PAGE_SIZE = 50
MAX_PAGES = 10
# Reading the calendar: searches of a week, a day beyond the window on either side, and
# at most this many pages of our appointments (10,000) before the read gives up.
SEARCH_DAYS = datetime.timedelta(days=7)
MARGIN = datetime.timedelta(days=1)
MAX_CALENDAR_PAGES = 200
# Onboarding: the lists it reads, and the most pages of patients it reads (a million
# patients) before it stops, in case the answers never add up to their TotalCount.
TYPES = f"{API}/appointment/types"
SITES = f"{API}/appointment/sites"
CLINICIANS = f"{API}/appointment/clinicians"
PATIENTS = f"{API}/patients/patients"
MAX_IMPORT_PAGES = 20_000
ADULT_AGE = 18
# What each imported kind is called in a problem's sentence.
IMPORT_NOUNS = {
    "locations": pgettext_lazy("Meddbase record", "site"),
    "rooms": pgettext_lazy("Meddbase record", "location (room)"),
    "practitioners": pgettext_lazy("Meddbase record", "clinician"),
    "types": pgettext_lazy("Meddbase record", "appointment type"),
    "patients": pgettext_lazy("Meddbase record", "patient"),
}
SEX_TYPES = {0: "unknown", 1: "male", 2: "female"}
# Looking a patient up and registering one (see the module's docstring): the most pages of
# one search read, and the e-mail filters asked.
CREATE_PATIENT = f"{API}/patients/create-patient"
SEARCH_PAGES = 20
EMAIL_FILTERS = (("personal-email", "EmailAddress"), ("work-email", "WorkEmailAddress"))
SEX_NUMBERS = {"male": 1, "female": 2}


class SessionGone(AuthenticationFailed):
    """Meddbase ended our session (HTTP 401, EventCode 8 or 11): one new login may help."""


class MeddbaseAdapter(Adapter):
    vendor = "meddbase"
    label = "Meddbase"

    required_secrets = ("client_key", "username", "password")
    # Documented base URL: https://api.meddbase.com/patientportalapi/
    production_hosts = ("api.meddbase.com",)
    booking_path = BOOK
    booking_roles = {
        "appointment_type": True,
        "location": True,
        "room": False,
        "practitioner": True,
        "patient": True,
    }
    id_formats = {"": NUMBER, "appointment_type": TEXT, "patient": TEXT}
    vendor_terms = {
        "patient": gettext_lazy("patient key"),
        "practitioner": gettext_lazy("clinician (0 = any clinician)"),
        "location": pgettext_lazy("Meddbase record", "site"),
        "room": gettext_lazy("location within the site"),
    }
    # PascalCase patient data in Meddbase answers (PersonDemographicData, invoice parties)
    # that the shared redaction set does not cover.
    # A patient search's filters and a registration's body hold patient data too.
    sensitive_keys = frozenset({
        "patient", "debtor", "surname", "initials", "dateofbirth", "mobile", "telephone",
        "emailaddress", "worktelephone", "workemailaddress", "nextofkin", "employeenumber",
        "personal-email", "work-email", "dob-from", "dob-to", "demog",
    })  # fmt: skip
    token_name = "session"
    calendar_days = 28  # why: the module's docstring
    imports = ("locations", "practitioners", "rooms", "types", "patients")
    import_gaps = {
        "hours": gettext_lazy(
            "Meddbase's patient-portal API lists no working hours (it only proposes free "
            "slots): enter each clinician's hours by hand."
        ),
    }
    # GetPatients filters by e-mail and birth date; no national ID or phone (module docstring).
    patient_search = ("email", "name_birth_date")

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        slot: dict[str, Any] = {
            "Type": {"Key": ids["appointment_type"]},
            "Start": london_time(request.start),
            "Site": {"Key": ids["location"]},
        }
        if "room" in ids:
            slot["Location"] = {"Key": ids["room"]}
        slot["Modules"] = [{"Key": key} for key in self._modules()]
        slot["Services"] = []
        slot["PayerType"] = self._payer_type()
        body: dict[str, Any] = {
            "proposedTimeSlot": slot,
            "clinician": ids["practitioner"],
            "method": self.settings.option("method", 0, kind=NUMBER),
        }
        price = self.settings.option("price")
        if price not in (None, ""):
            body["price"] = price
        return body

    def booking_params(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        params = {"patient": ids["patient"]}
        for name in ("referral", "recall"):
            value = request.refs.get(name) or self.settings.option(name)
            if value:
                params[name] = str(value)
        return params

    def parse_booking(self, answer: Any) -> VendorAppointment:
        if not isinstance(answer, Mapping) or not answer.get("Key"):
            raise self.answered_without(_("the appointment's key"))
        return _appointment(answer)

    # -- other operations ----------------------------------------------------------------

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        invoice = self.call("GET", f"{API}/appointment/cancel", params={"appointment": external_id})
        details = {"cancellation_invoice": _invoice(invoice)} if invoice else {}
        return VendorAppointment(
            external_id=external_id, vendor_status="Cancelled", status="cancelled", details=details
        )

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        clinician = self.external_id(request.refs, "practitioner")
        start = request.start.astimezone(LONDON).strftime(LOCAL_FORMAT)
        day = request.local_start.replace(hour=0, minute=0, second=0, microsecond=0)
        params = {
            "patient": self.external_id(request.refs, "patient"),
            "start-from": (day - datetime.timedelta(days=1)).isoformat(),
            "start-to": (day + datetime.timedelta(days=2)).isoformat(),
        }
        for item in self._pages(f"{API}/appointment/appointments", params):
            found = item.get("Clinician")
            key = found.get("Key") if isinstance(found, Mapping) else None
            if (
                str(item.get("Start", ""))[:19] == start
                and (clinician == 0 or key == clinician)
                and item.get("State") != "Cancelled"
            ):
                return _appointment(item)
        return None

    def reference(self, kind: str) -> list[dict[str, Any]]:
        if kind == "payer_types":
            return [
                {"id": str(payer.get("Key")), "name": payer.get("Name", "")}
                for payer in self.call("GET", f"{API}/appointment/payer-types") or []
            ]
        if kind == "appointment_types":
            return [
                {
                    "id": str(item.get("Key")),
                    "name": item.get("Name", ""),
                    "telemedicine": bool(item.get("TelemedicineOption")),
                    "modules": [
                        {"id": str(m.get("Key")), "name": m.get("Name", "")}
                        for m in item.get("Modules") or []
                    ],
                }
                for item in self._types()
            ]
        if kind in ("locations", "rooms"):
            sites = self._union("sites", {"clinicians": [], "modules": []})
            if kind == "locations":
                return [
                    {"id": str(site.get("Key")), "name": site.get("Name", "")} for site in sites
                ]
            return [
                {
                    "id": str(room.get("Key")),
                    "name": room.get("Name", ""),
                    "location": str(site.get("Key")),
                }
                for site in sites
                for room in site.get("Locations") or []
            ]
        if kind == "practitioners":
            return [
                {
                    "id": str(person.get("Key")),
                    "name": person.get("FullName") or person.get("Name", ""),
                }
                for person in self._union(
                    "clinicians", {"sites": [], "locations": [], "modules": []}
                )
            ]
        return super().reference(kind)

    def check(self) -> str:
        self.forget_token()  # prove that the service user can log in now
        payers = self.call("GET", f"{API}/appointment/payer-types") or []
        names = ", ".join(str(payer.get("Key")) for payer in payers if isinstance(payer, Mapping))
        return _("Meddbase accepted the client key and service user; payer types: %(names)s.") % {
            "names": names or "-"
        }

    # -- the calendar (DESIGN §8) ------------------------------------------------------

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        types = list(query.appointment_types) or [
            str(kind.get("Key"))
            for kind in self._types()
            if kind.get("CanBookAppointment") is not False
        ]
        spans = []
        for clinician in query.practitioners:
            hours = query.working_hours.get(clinician)
            if not hours or self.parse_id(clinician, "practitioner") == 0:
                continue
            free = self._free_times(query, clinician, types)
            for start, end in minus(merged(hours, query.start, query.end), free):
                spans.append(BusySpan(start=start, end=end, kind=BUSY, practitioner=clinician))
        spans += self._ours(query)
        return CalendarRead(spans, complete=True, lists_appointments=False)

    def is_free(self, request: BookingRequest) -> bool:
        ids = {role: self.external_id(request.refs, role)
               for role in ("appointment_type", "practitioner", "location")}  # fmt: skip
        day = request.local_start.replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
        params: dict[str, Any] = {
            "appointment-type": ids["appointment_type"],
            "clinician": ids["practitioner"],
            "site": ids["location"],
            "from-date": (day - MARGIN).strftime(LOCAL_FORMAT),
            "to-date": (day + MARGIN * 2).strftime(LOCAL_FORMAT),
            "payer-type": self._payer_type(),
        }
        if request.refs.get("room"):
            params["location"] = self.external_id(request.refs, "room")
        if request.refs.get("patient"):
            params["patient"] = self.external_id(request.refs, "patient")
        # One call, no waiting out a 429: a pre-flight that cannot answer at once is skipped.
        slots = self._slot_times(self.call("GET", PROPOSED, params=params))
        return any(start == request.start for start, _ in slots)

    def _free_times(self, query: CalendarQuery, clinician: str, types: list[str]) -> list[Interval]:
        """The union of the slots Meddbase proposes for the clinician over the window."""
        first = (query.start - MARGIN).astimezone(query.zone).replace(tzinfo=None)
        last = (query.end + MARGIN).astimezone(query.zone).replace(tzinfo=None)
        sites = [self.parse_id(site, "location") for site in query.locations] or [0]
        free: list[Interval] = []
        for kind in types:
            for site in sites:
                begin = first
                while begin < last:
                    end = min(begin + SEARCH_DAYS, last)
                    params = {
                        "appointment-type": kind,
                        "clinician": self.parse_id(clinician, "practitioner"),
                        "site": site,
                        "from-date": begin.strftime(LOCAL_FORMAT),
                        "to-date": end.strftime(LOCAL_FORMAT),
                        "payer-type": self._payer_type(),
                    }
                    free += self._slot_times(self.read(PROPOSED, params=params))
                    begin = end
        return free

    def _slot_times(self, result: Any) -> list[Interval]:
        """The (start, finish) instants of a TimeSlotsData's slots."""
        slots = result.get("TimeSlots") if isinstance(result, Mapping) else None
        if not isinstance(slots, list) or not all(isinstance(s, Mapping) for s in slots):
            raise self._unreadable(_("its proposed time slots"))
        times = [(meddbase_time(slot["Start"]), meddbase_time(slot["Finish"])) for slot in slots]
        if any(end <= start for start, end in times):
            raise self._unreadable(_("slots that end after they start"))
        return times

    def _ours(self, query: CalendarQuery) -> list[BusySpan]:
        """Our delivered appointments in the window, as Meddbase has them now."""
        if not query.ours:
            return []
        params = {
            "start-from": (query.start - MARGIN).isoformat(),
            "start-to": query.end.isoformat(),
        }
        ours = set(query.ours)
        return [
            appointment_span(item)
            for item in self._listing(APPOINTMENTS, params)
            if str(item.get("Key")) in ours
        ]

    def _listing(self, path: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every item of a paged listing, to its last page; an answer that does not add up
        raises (the calendar keeps its last good copy)."""
        read = 0
        for page in range(1, MAX_CALENDAR_PAGES + 1):
            result = self.read(path, params={**params, "page-number": page, "page-size": PAGE_SIZE})
            items = result.get("Items") if isinstance(result, Mapping) else None
            total = result.get("TotalCount") if isinstance(result, Mapping) else None
            if (
                not isinstance(items, list)
                or not isinstance(total, int)
                or not all(isinstance(item, Mapping) for item in items)
            ):
                raise self._unreadable(_("its list of appointments"))
            yield from items
            read += len(items)
            if read >= total:
                return
            if not items:
                raise self._unreadable(_("the rest of its list of appointments"))
        raise self._unreadable(
            _("its list of appointments within %(pages)d pages") % {"pages": MAX_CALENDAR_PAGES}
        )

    def _unreadable(self, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            _("Meddbase answered the calendar read without %(what)s; nothing was changed.")
            % {"what": what},
            vendor=self.vendor,
        )

    # -- onboarding (issue 12) -----------------------------------------------------------

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        readers: dict[str, Callable[[], Iterator[ImportedRecord]]] = {
            "locations": self._import_sites,
            "rooms": self._import_rooms,
            "practitioners": self._import_clinicians,
            "types": self._import_types,
            "patients": self._import_patients,
        }
        if kind not in readers:
            return super().import_records(kind)
        return readers[kind]()

    def _import_types(self) -> Iterator[ImportedRecord]:
        for item in self._type_list():
            yield imported("types", item, TEXT, _type_fields)

    def _import_sites(self) -> Iterator[ImportedRecord]:
        seen: set[str] = set()
        for site in self._sites():
            if _first_time(site, seen):
                yield imported("locations", site, NUMBER, _site_fields)

    def _import_rooms(self) -> Iterator[ImportedRecord]:
        seen: set[str] = set()
        for site in self._sites():
            try:
                location = str(NUMBER.parse(site["Key"]))
                rooms = site.get("Locations") or []
            except SHAPE_ERRORS:
                continue  # the site itself is reported by the import of locations
            if not isinstance(rooms, list):
                if _first_time({"Key": f"site {location}"}, seen):
                    problem = _("Meddbase site %(site)s has Locations that are not a list.") % {
                        "site": location
                    }
                    yield ImportedRecord("rooms", "", problem=problem)
                continue
            for room in rooms:
                if _first_time(room, seen):
                    yield imported("rooms", room, NUMBER, _room_fields(location))

    def _import_clinicians(self) -> Iterator[ImportedRecord]:
        seen: set[str] = set()
        body = {"sites": [], "locations": [], "modules": []}
        for kind in self._bookable_types():
            for clinician in self._listed(CLINICIANS, kind, body, _("clinicians")):
                if _first_time(clinician, seen):
                    yield imported("practitioners", clinician, NUMBER, _clinician_fields)

    def _import_patients(self) -> Iterator[ImportedRecord]:
        for page in self._import_pages(PATIENTS, _("its list of patients")):
            for item in page:
                yield imported("patients", item, TEXT, _patient_fields)

    def _type_list(self) -> list[Any]:
        found = self.read(TYPES, params={"payer-type": self._payer_type()})
        if not isinstance(found, list):
            raise self._unreadable_import(_("its appointment types"))
        return found

    def _bookable_types(self) -> list[str]:
        """The keys of the types the service user may book (the rest list no sites)."""
        return [
            str(item["Key"])
            for item in self._type_list()
            if isinstance(item, Mapping)
            and item.get("Key") not in (None, "")
            and item.get("CanBookAppointment") is not False
        ]

    def _sites(self) -> Iterator[Any]:
        """Every site every bookable type lists, as listed (repeats included)."""
        body = {"clinicians": [], "modules": []}
        for kind in self._bookable_types():
            yield from self._listed(SITES, kind, body, _("sites"))

    def _listed(self, path: str, kind: str, body: dict[str, Any], what: str) -> list[Any]:
        params = {"appointment-type": kind, "payer-type": self._payer_type()}
        found = self.read(path, params=params, json_body=body, method="POST")
        if not isinstance(found, list):
            raise self._unreadable_import(
                _("the %(what)s of appointment type %(type)s") % {"what": what, "type": kind}
            )
        return found

    def _import_pages(self, path: str, what: str) -> Iterator[list[Any]]:
        """Each page of a paged list (``page-number`` from 1, ``page-size`` 50) as it is
        read, until TotalCount items came; one that does not add up raises."""
        read = 0
        for number in range(1, MAX_IMPORT_PAGES + 1):
            result = self.read(path, params={"page-number": number, "page-size": PAGE_SIZE})
            items = result.get("Items") if isinstance(result, Mapping) else None
            total = result.get("TotalCount") if isinstance(result, Mapping) else None
            current = result.get("CurrentPage", number) if isinstance(result, Mapping) else None
            if not isinstance(items, list) or not _whole(total) or current != number:
                raise self._unreadable_import(
                    _("page %(page)d of %(what)s") % {"page": number, "what": what}
                )
            if not items and read < total:
                raise self._unreadable_import(
                    _("the rest of %(what)s (it counts %(total)s)") % {"what": what, "total": total}
                )
            yield items
            read += len(items)
            if read >= total:
                return
        raise self._unreadable_import(
            _("%(what)s within %(pages)d pages") % {"what": what, "pages": MAX_IMPORT_PAGES}
        )

    def _unreadable_import(self, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            _("Meddbase answered %(what)s in a shape we cannot read; the import stopped there.")
            % {"what": what},
            vendor=self.vendor,
        )

    # -- patients not mapped yet (issue 12; see the module's docstring) -------------------

    def search_patients(self, criterion: str, patient: PatientDetails) -> list[str]:
        self._searches_by(criterion)
        found: dict[str, None] = {}
        for query in _patient_queries(criterion, patient):
            for item in self._found_patients(query, criterion):
                key = _key(item) if isinstance(item, Mapping) else ""
                if key and _same_patient(criterion, patient, item):
                    found.setdefault(key, None)
        return list(found)

    def register_patient(self, patient: PatientDetails) -> str:
        try:
            result = self.call("POST", CREATE_PATIENT, json_body={"demog": _demographics(patient)})
        except VendorValidationError as refused:
            said = (refused.vendor_message or _("no reason given")).rstrip(". ")
            raise VendorValidationError(
                _(
                    "Meddbase refused to register the patient: %(said)s. If Meddbase has this "
                    "patient already, map its Meddbase patient key to them in the admin "
                    "(External IDs)."
                )
                % {"said": said},
                vendor=self.vendor,
                status=refused.status,
                vendor_message=refused.vendor_message,
            ) from None
        key = _key(result) if isinstance(result, Mapping) else ""
        if not key:
            raise self.answered_without(_("the patient's key"))
        return key

    def _found_patients(self, query: Mapping[str, str], criterion: str) -> Iterator[Any]:
        """Every patient GetPatients answers for one query, page after page to TotalCount."""
        read = 0
        for number in range(1, SEARCH_PAGES + 1):
            params = {**query, "page-number": number, "page-size": PAGE_SIZE}
            result = self.read(PATIENTS, params=params)
            items = result.get("Items") if isinstance(result, Mapping) else None
            total = result.get("TotalCount") if isinstance(result, Mapping) else None
            if not isinstance(items, list) or not _whole(total) or (not items and read < total):
                raise UnexpectedResponse(
                    _("Meddbase answered a patient search in a shape we cannot read."),
                    vendor=self.vendor,
                )
            yield from items
            read += len(items)
            if read >= total:
                return
        raise VendorError(
            _(
                "Meddbase has more than %(count)d patients answering a search by this "
                "patient's %(criterion)s, too many to tell them apart: map the patient to its "
                "Meddbase patient key in the admin (External IDs)."
            )
            % {"count": SEARCH_PAGES * PAGE_SIZE, "criterion": CRITERION_WORDS[criterion]},
            vendor=self.vendor,
        )

    # -- session ------------------------------------------------------------------------

    def auth_params(self) -> dict[str, str]:
        return {"client-key": self.secret("client_key")}

    def auth_headers(self) -> dict[str, str]:
        session = json.loads(self.token())
        headers = {"x-session-id": session["SessionID"]}
        if session.get("Token"):
            headers["x-token"] = session["Token"]
        return headers

    def authenticate(self) -> tuple[str, None]:
        """A service user's session (SessionID + CSRF Token); it lives until Meddbase ends it."""
        result = self.call(
            "POST",
            LOGIN,
            json_body={"username": self.secret("username"), "password": self.secret("password")},
            authenticate=False,
        )
        if not isinstance(result, Mapping) or not result.get("SessionID"):
            raise AuthenticationFailed(
                _(
                    "Meddbase's login answered without a session; check the service user in "
                    "Meddbase."
                ),
                vendor=self.vendor,
            )
        if str(result.get("Require2FA")).lower() == "true":
            raise AuthenticationFailed(
                _(
                    "Meddbase asks the service user for two-factor authentication; use a "
                    "service user without 2FA for the connection."
                ),
                vendor=self.vendor,
            )
        session = {"SessionID": str(result["SessionID"]), "Token": str(result.get("Token") or "")}
        return json.dumps(session), None

    def token_expired(self, error: AuthenticationFailed) -> bool:
        return isinstance(error, SessionGone)

    def unwrap(self, body: Any, path: str) -> Any:
        """The envelope's result, or its error raised: an error may come inside a 200."""
        if not isinstance(body, Mapping) or body.get("status") not in ("ok", "error"):
            raise self.answered_without(_("its status envelope"))
        if body["status"] == "ok":
            return body.get("result")
        # An error inside a 200: map it as if it had come with its HttpStatusCode.
        event = body.get("error") if isinstance(body.get("error"), Mapping) else {}
        status = event.get("HttpStatusCode")
        raise self._error(status if isinstance(status, int) else 400, body, path)

    def _pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            result = self.call(
                "GET", path, params={**params, "page-number": page, "page-size": PAGE_SIZE}
            )
            if not isinstance(result, Mapping):
                return
            yield from (item for item in result.get("Items") or [] if isinstance(item, dict))
            if page * PAGE_SIZE >= int(result.get("TotalCount") or 0):
                return

    def _types(self) -> list[dict[str, Any]]:
        found = self.call(
            "GET", f"{API}/appointment/types", params={"payer-type": self._payer_type()}
        )
        return [kind for kind in found or [] if isinstance(kind, dict)]

    def _union(self, method: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """Sites or clinicians of every bookable appointment type, each once."""
        seen: dict[Any, dict[str, Any]] = {}
        for item in self._types():
            if item.get("CanBookAppointment") is False:
                continue
            params = {"appointment-type": item.get("Key"), "payer-type": self._payer_type()}
            for found in (
                self.call("POST", f"{API}/appointment/{method}", params=params, json_body=body)
                or []
            ):
                if isinstance(found, dict):
                    seen.setdefault(found.get("Key"), found)
        return list(seen.values())

    # -- options ------------------------------------------------------------------------

    def _payer_type(self) -> str:
        return str(self.settings.option("payer_type") or "PA")

    def _modules(self) -> list[int]:
        value = self.settings.option("modules") or []
        if isinstance(value, str):
            value = [part for part in value.replace(",", " ").split() if part]
        try:
            return [int(key) for key in value]
        except (TypeError, ValueError):
            raise ConfigurationError(
                _(
                    "The Meddbase option “modules” must list module keys (numbers); fix it in "
                    "the admin."
                ),
                vendor=self.vendor,
            ) from None

    # -- errors -------------------------------------------------------------------------

    def message_of(self, body: Any) -> str:
        event = body.get("error") if isinstance(body, Mapping) else None
        if isinstance(event, Mapping) and isinstance(event.get("Message"), str):
            return event["Message"]
        return super().message_of(body)

    def error_for(self, status: int, body: Any, response: requests.Response) -> VendorError:
        path = urllib.parse.urlsplit(response.url or "").path
        return self._error(status, body, path, response)

    def _error(
        self,
        status: int,
        body: Any,
        path: str,
        response: requests.Response | None = None,
    ) -> VendorError:
        event = body.get("error") if isinstance(body, Mapping) else None
        code = event.get("EventCode") if isinstance(event, Mapping) else None
        said = self.message_of(body)
        common = {"vendor": self.vendor, "status": status, "vendor_message": said}
        if code == STARTING:
            return VendorUnavailable(
                _("Meddbase is starting up; the booking will be sent again shortly."), **common
            )
        if code in CREDENTIAL_MESSAGES:
            return AuthenticationFailed(str(CREDENTIAL_MESSAGES[code]), **common)
        if code in SESSION_GONE or (status == 401 and code in (None, 0)):
            if path.endswith(LOGIN):
                return AuthenticationFailed(
                    _(
                        "Meddbase refused the service user's username or password; a manager "
                        "must check the connection's credentials."
                    ),
                    **common,
                )
            return SessionGone(
                _(
                    "Meddbase ended our session and did not accept a new login; a manager must "
                    "check the connection's service user."
                ),
                **common,
            )
        if code in INVALID_INPUT:
            return VendorValidationError(
                _("Meddbase refused the request: %(said)s.") % {"said": said or _("invalid data")},
                **common,
            )
        if path.endswith(BOOK) and code in (0, None) and status in SLOT_TAKEN_STATUSES:
            return SlotUnavailable(
                _("Meddbase has no bookable slot at this time any more; choose another time."),
                **common,
            )
        # A Response is falsy when its status is an error: test for None, not truth.
        return super().error_for(
            status, body, response if response is not None else requests.Response()
        )


def london_time(instant: datetime.datetime) -> str:
    """An aware instant as the DateTime Meddbase reads back as that instant: London
    wall-clock time without an offset, or with London's offset in its repeated hour."""
    london = instant.astimezone(LONDON)
    text = london.strftime(LOCAL_FORMAT)
    if london.replace(fold=1 - london.fold).utcoffset() != london.utcoffset():
        text += london.isoformat()[19:]  # "+01:00" or "+00:00"
    return text


def meddbase_time(value: Any) -> datetime.datetime:
    """A DateTime as the instant it is: its offset, or London's when it has none."""
    moment = datetime.datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(datetime.UTC)


def appointment_span(item: Mapping[str, Any]) -> BusySpan:
    """One AppointmentData as busy time, with its state (and no patient data but the key)."""
    state = str(item.get("State") or "")
    return BusySpan(
        start=meddbase_time(item["Start"]),
        end=meddbase_time(item["Finish"]),
        kind=APPOINTMENT,
        external_id=str(item["Key"]),
        practitioner=_key(item.get("Clinician")),
        room=_key(item.get("Location")),
        location=_key(item.get("Site")),
        patient=_key(item.get("Patient")),
        vendor_status=state,
        status=STATES.get(state),
        active=state != "Cancelled",
    )


# -- onboarding: one record of each kind in our words --------------------------------------


class Malformed(ValueError):
    """What is wrong with one record, in words that hold none of its data."""


Fields = tuple[dict[str, Any], dict[str, str]]


def imported(
    kind: str, item: Any, key_format: IdFormat, read: Callable[[Mapping[str, Any]], Fields]
) -> ImportedRecord:
    """One listed record in our model's words, or with its problem (naming only its Key)."""
    key = item.get("Key") if isinstance(item, Mapping) else None
    external_id = str(key) if isinstance(key, str | int) and not isinstance(key, bool) else ""
    noun = str(IMPORT_NOUNS[kind])
    try:
        if not isinstance(item, Mapping):
            raise Malformed(_("is not an object"))
        if key in (None, ""):
            raise Malformed(_("has no Key"))
        if not external_id:
            raise Malformed(_("has a Key that is neither text nor a number"))
        try:
            external_id = str(key_format.parse(key))
        except (TypeError, ValueError):
            raise Malformed(_("has a Key that is not a whole number")) from None
        fields, refs = read(item)
    except Malformed as problem:
        return ImportedRecord(kind, external_id, problem=_problem(noun, external_id, problem))
    except SHAPE_ERRORS as error:
        shape = Malformed(
            _("is not in the shape Meddbase documents (%(error)s)")
            % {"error": type(error).__name__}
        )
        return ImportedRecord(kind, external_id, problem=_problem(noun, external_id, shape))
    return ImportedRecord(kind, external_id, fields, refs)


def _problem(noun: str, external_id: str, problem: Exception) -> str:
    """e.g. "Meddbase clinician 12 has no full name." (the problem's words follow the
    record's)."""
    if external_id:
        return _("Meddbase %(record)s %(id)s %(problem)s.") % {
            "record": noun,
            "id": external_id,
            "problem": problem,
        }
    return _("A Meddbase %(record)s %(problem)s.") % {"record": noun, "problem": problem}


def _first_time(item: Any, seen: set[str]) -> bool:
    """Whether a listed record's Key is new (a record without one always is: it is reported)."""
    key = item.get("Key") if isinstance(item, Mapping) else None
    if key is None:
        return True
    if repr(key) in seen:
        return False
    seen.add(repr(key))
    return True


def _type_fields(item: Mapping[str, Any]) -> Fields:
    fields: dict[str, Any] = {"name": _required(item, "Name", _("name"))}
    bookable = item.get("CanBookAppointment")
    if bookable is not None:
        if not isinstance(bookable, bool):
            raise Malformed(_("says CanBookAppointment neither true nor false"))
        fields["active"] = bookable
    return fields, {}


def _site_fields(item: Mapping[str, Any]) -> Fields:
    return {
        "name": _required(item, "Name", _("name")),
        "address": _address(item.get("Address")),
    }, {}


def _room_fields(location: str) -> Callable[[Mapping[str, Any]], Fields]:
    def read(item: Mapping[str, Any]) -> Fields:
        return {"name": _required(item, "Name", _("name"))}, {"location": location}

    return read


def _clinician_fields(item: Mapping[str, Any]) -> Fields:
    title, given, family = split_name(_required(item, "FullName", _("full name")))
    return {"title": title, "given_name": given, "family_name": family}, {}


def _patient_fields(item: Mapping[str, Any]) -> Fields:
    fields: dict[str, Any] = {
        "given_name": _text(item, "Name"),
        "family_name": _text(item, "Surname"),
    }
    if not (fields["given_name"] or fields["family_name"]):
        raise Malformed(_("has no name"))
    if "DateOfBirth" in item:
        fields["birth_date"] = birth_date(item["DateOfBirth"])
    if "SexType" in item:
        fields["sex"] = _sex(item["SexType"])
    if {"Mobile", "Telephone", "WorkTelephone"} & item.keys():
        fields["phone"] = _first(item, "Mobile", "Telephone", "WorkTelephone")
    if {"EmailAddress", "WorkEmailAddress"} & item.keys():
        fields["email"] = _first(item, "EmailAddress", "WorkEmailAddress")
    if _minor(fields.get("birth_date")) and item.get("NextOfKin") is not None:
        fields.update(_next_of_kin(item["NextOfKin"]))
    return fields, {}


def _next_of_kin(kin: Any) -> dict[str, str]:
    if not isinstance(kin, Mapping):
        raise Malformed(_("has a NextOfKin that is not an object"))
    name = " ".join(part for part in (_text(kin, "Name"), _text(kin, "Surname")) if part)
    return {"guardian_name": name, "guardian_phone": _first(kin, "Mobile", "WorkTelephone")}


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        # English says "an" before a vowel: one sentence each, for translators.
        if name[:1].lower() in "aeiou":
            raise Malformed(_("has an %(field)s that is not text") % {"field": name})
        raise Malformed(_("has a %(field)s that is not text") % {"field": name})
    return value.strip()


def _required(item: Mapping[str, Any], name: str, words: str) -> str:
    value = _text(item, name)
    if not value:
        raise Malformed(_("has no %(what)s") % {"what": words})
    return value


def _first(item: Mapping[str, Any], *names: str) -> str:
    return next((value for value in (_text(item, name) for name in names) if value), "")


def _address(address: Any) -> str:
    """An AddressData on one line: its non-empty parts, joined by commas."""
    if address is None:
        return ""
    if not isinstance(address, Mapping):
        raise Malformed(_("has an Address that is not an object"))
    parts = ("Address1", "Address2", "Address3", "City", "County", "PostCode", "Country")
    return ", ".join(value for value in (_text(address, part) for part in parts) if value)


def birth_date(value: Any) -> datetime.date | None:
    """A DateOfBirth (a DateTime): its date as written, or in London when it has an offset."""
    if value in (None, ""):
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        raise Malformed(_("has a DateOfBirth that is not a date")) from None
    return (moment.astimezone(LONDON) if moment.tzinfo else moment).date()


def _sex(value: Any) -> str:
    try:
        return SEX_TYPES[NUMBER.parse(value)]
    except (KeyError, TypeError, ValueError):
        raise Malformed(_("has a SexType that is not 0, 1 or 2")) from None


def _minor(born: datetime.date | None) -> bool:
    if born is None:
        return False
    today = datetime.datetime.now(LONDON).date()
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return age < ADULT_AGE


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# Words before a name that are a title, and lower-case words that begin a family name.
TITLES = frozenset({
    "dr", "dr.", "dra", "dra.", "doctor", "prof", "prof.", "professor", "mr", "mr.", "mrs",
    "mrs.", "ms", "ms.", "miss", "mx", "mx.", "sir", "dame", "nurse",
})  # fmt: skip
PARTICLES = frozenset({
    "de", "del", "della", "di", "da", "das", "do", "dos", "du", "la", "le", "van", "von",
    "der", "den", "ter", "ten", "bin", "ibn", "al", "el", "y",
})  # fmt: skip
SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})
# Letters after a name that are not in capitals.
POST_NOMINALS = frozenset({"phd", "dphil", "msc", "bsc", "mbbs", "mbchb", "jr", "sr"})


def _post_nominal(word: str) -> bool:
    return word == word.upper() or word.lower().replace(".", "") in POST_NOMINALS


def split_name(full: str) -> tuple[str, str, str]:
    """A clinician's FullName as (title, given name, family name): leading titles; the last
    word with the particles before it as the family name ("Ana de la Cruz" → "de la Cruz");
    after a comma, post-nominals (all capitals: "FRCS") are dropped, and anything else means
    the family name came first ("House, Gregory")."""
    head, _comma, tail = full.partition(",")
    words, after = head.split(), tail.split()
    if after and not all(_post_nominal(word) for word in after):
        words = after + words  # "House, Gregory" → "Gregory House"
    titles = []
    while len(words) > 1 and words[0].lower() in TITLES:
        titles.append(words.pop(0))
    suffixes: list[str] = []
    while len(words) > 2 and words[-1].lower() in SUFFIXES:
        suffixes.insert(0, words.pop())
    if not words:
        return " ".join(titles), "", ""
    family = [words.pop()]
    while len(words) > 1 and words[-1].lower() in PARTICLES:
        family.insert(0, words.pop())
    return " ".join(titles), " ".join(words), " ".join(family + suffixes)


def _key(record: Any) -> str:
    key = record.get("Key") if isinstance(record, Mapping) else None
    return "" if key in (None, "") else str(key)


def _appointment(data: Mapping[str, Any]) -> VendorAppointment:
    state = str(data.get("State") or "")
    clinician = data.get("Clinician")
    return VendorAppointment(
        external_id=str(data["Key"]),
        vendor_status=state,
        status=STATES.get(state),
        details={
            "start": data.get("Start"),
            "finish": data.get("Finish"),
            "state": data.get("StateDisplayName") or state,
            "clinician": clinician.get("Key") if isinstance(clinician, Mapping) else None,
            "telemedicine": data.get("Telemedicine"),
            "invoice": _invoice(data.get("Invoice")),
        },
    )


def _invoice(invoice: Any) -> dict[str, Any] | None:
    """The amounts of an InvoiceData, without its parties (patient data)."""
    if not isinstance(invoice, Mapping):
        return None
    return {
        "key": invoice.get("Key"),
        "number": invoice.get("Number"),
        "currency": invoice.get("CurrencyCode"),
        "total_gross": invoice.get("TotalGross"),
        "paid": invoice.get("Paid"),
    }


# -- patients not mapped yet (issue 12; see the module's docstring) ---------------------------


def _patient_queries(criterion: str, patient: PatientDetails) -> list[dict[str, str]]:
    """The GetPatients filters that look for `patient` by one criterion."""
    if criterion == "email":
        return [{name: patient.email.strip()} for name, _ in EMAIL_FILTERS]
    if criterion == "name_birth_date" and patient.birth_date:
        day = datetime.timedelta(days=1)
        return [{"dob-from": (patient.birth_date - day).isoformat(),
                 "dob-to": (patient.birth_date + day).isoformat()}]  # fmt: skip
    return []


def _same_patient(criterion: str, patient: PatientDetails, item: Mapping[str, Any]) -> bool:
    """Whether a listed patient is ours by exactly this criterion (a record we cannot read
    is not)."""
    if criterion == "email":
        ours = patient.email.strip().casefold()
        theirs = (item.get(field) for _, field in EMAIL_FILTERS)
        return bool(ours) and any(
            isinstance(value, str) and value.strip().casefold() == ours for value in theirs
        )
    if criterion != "name_birth_date" or patient.birth_date is None:
        return False
    try:
        born = birth_date(item.get("DateOfBirth"))
    except Malformed:
        return False
    return (
        born == patient.birth_date
        and _folded(item.get("Name")) == _folded(patient.given_name) != ""
        and _folded(item.get("Surname")) == _folded(patient.family_name) != ""
    )


def _demographics(patient: PatientDetails) -> dict[str, Any]:
    """A PersonDemographicData for FullSearchOrCreate (see the module's docstring)."""
    demog: dict[str, Any] = {
        "Name": patient.given_name.strip(),
        "Surname": patient.family_name.strip(),
        "SexType": SEX_NUMBERS.get(patient.sex, 0),
    }
    if patient.birth_date:
        demog["DateOfBirth"] = f"{patient.birth_date.isoformat()}T00:00:00"
    if patient.phone.strip():
        demog["Mobile"] = patient.phone.strip()
    if patient.email.strip():
        demog["EmailAddress"] = patient.email.strip()
    return demog


def _folded(value: Any) -> str:
    """A name compared without case, accents or spacing ("" for anything but text)."""
    if not isinstance(value, str):
        return ""
    plain = unicodedata.normalize("NFKD", value)
    plain = "".join(character for character in plain if not unicodedata.combining(character))
    return " ".join(plain.casefold().split())
