"""NexHealth Synchronizer API (v3.0.0): payloads, paths and status tables.

Writes are asynchronous: `POST /appointments` answers 201 once NexHealth has *accepted* the
appointment; it reaches the practice's EHR later and NexHealth then sends the webhook
`appointment_insertion.complete` (or `.failed` / `.timed_out`). `book` therefore returns
`settled=False`; the delivery settles on `parse_webhook` or on `lookup` (foreign_id set).

The practice's calendar (DESIGN §8) is read from `GET /appointments` per location, in cursor
pages (`per_page` 1000, the documented maximum; the next page is asked with the previous
page's `page_info.end_cursor`; `page_info` sits beside `data` in the envelope), at most ten
requests a second (the documented limit of that endpoint, RATE_LIMITS, kept by every process
together: vendors.pacing; a 429 is waited out by `read`). Without a cursor the
whole window is read (a complete read); with one, `updated_since=<cursor>` reads only what
changed (cancelled and deleted appointments come back as inactive spans). Appointment changes
are also pushed: the webhooks `appointment_created` / `appointment_updated` (resource_type
Appointment), verified like the insertion webhook, carry the appointment; `parse_webhook`
puts its span in `WebhookEvent.spans` (and `webhook_spans` reads a verified payload).
The free-slot check is `GET /available_slots` for the request's day.

Where the documents are silent we decided:
- `provider_ids[]` / `operatory_ids[]` are not sent when reading the calendar: one of our
  appointments moved in the EHR to an unmapped provider would vanish from a complete read and
  be taken for deleted. A complete read keeps the mapped providers' and operatories' spans
  (and ours) itself; an incremental read returns every change in the location.
- `GET /appointments` returns appointments *starting* in the window, so the read starts a day
  early (a block or appointment begun before the window still holds time in it).
- One of our appointments missing from a complete read (moved out of the window, or
  deleted) is looked up by ID (`GET /appointments/{id}`); only a 404 leaves it out.
- The cursor is the moment the read started (our clock) minus two minutes, so that a change
  committed while we read, or a clock up to two minutes ahead of NexHealth's, is read again
  rather than missed (re-reading a change is harmless). An unreadable cursor means a complete
  read.
- A block (`unavailable`) has no patient status: its span carries vendor_status
  "unavailable" (or "cancelled"/"deleted") and no canonical status.
- The free-slot check asks for slots of the request's length starting every 5 minutes (every
  minute if the start is off that grid), so that a free start between two default slot
  starts is still offered.

Onboarding a clinic (issue 12; research notes §3.4, and the v3.0.0 = v20240412 OpenAPI the
notes cite as NX-OAS). Every list is read for the connection's `location_id`, or else for each
of the institution's locations (a record listed at several is yielded once), page after page
as the import consumes it. `GET /providers`, `/operatories`, `/working_hours` and `/patients`
page by cursor in v3 (`per_page`, at most 1000, and `end_cursor`; `page_info` beside `data`);
an answer without `page_info` is read the older way the notes describe (`page` from 1 with
`per_page`, to a short page or `count`). Pages of IMPORT_PER_PAGE records, within the documented
limits (RATE_LIMITS: 1,000 requests a minute for patients, 2,000 for the other lists); a 429
is waited out (`read`). A page that cannot be read raises (the class
of error the call gave, saying which page of which list); a record that cannot be read is
yielded with its `problem` (never quoting its data):
- locations: `GET /locations?subdomain` answers the institution with its `locations` (a bare
  list of locations is read too); not paged. name, street_address(_2)/city/state/zip_code/
  country_code -> address, phone_number -> phone, tz -> time_zone (a zone we do not know is a
  problem: hours would be read in the wrong zone), inactive -> active. With the option
  `location_id`, only that location.
- practitioners: `GET /providers?location_id` (v3 lists active providers unless asked):
  first_name (+ middle_name) -> given_name, last_name -> family_name (else `name` split at
  its last space), email, bio.phone_number -> phone, inactive -> active. NexHealth has no
  title.
- rooms: `GET /operatories?location_id`: display_name (else name) -> name, active; refs
  location = its location_id.
- types: `GET /appointment_types?location_id` (not paged; per location, for the types
  belonging to a location as well as the institution's): name, minutes ->
  default_duration_minutes. NexHealth has no active flag for types.
- hours: `GET /working_hours?location_id&active=true&ignore_past_dates=true` (v3; v2's
  `/availabilities` is refused to new accounts). A working hour's `days` (weekday names)
  become one weekly block each, `<working hour id>:<weekday 0-6>`, begin_time/end_time
  ("HH:MM", the practice's local time as the v3 entity documents it) -> start_time/end_time;
  refs practitioner = provider_id, location = location_id. NexHealth has no slot length
  there (it is asked per slot search), so slot_interval_minutes is left out. Reported, not
  imported: a working hour for one date (`specific_date`) or a custom recurrence (not a weekly
  schedule), one with a `label` (hours for some appointment types only, on top of the base
  hours), one without a provider, times that do not read or end before they start.
- patients: `GET /patients?location_id&location_strict=true&inactive=false&non_patient=false`
  (each location's own active patients, no guarantors who are not patients): first_name (+
  middle_name), last_name, bio.date_of_birth -> birth_date, bio.gender -> sex (Female/Male,
  other values "other"), bio.phone_number (else cell, home, work) -> phone, email. NexHealth
  lists no national ID. Empty values are left out.

A patient not mapped yet is looked for before being registered (issue 12; notes §3.4: "always
search before create"). `GET /patients` is asked for one criterion at a time (the documented
`email` and `phone_number` filters are OR-ed), for the connection's `location_id` (else the
institution's first location: the parameter is required) without `location_strict`, so the
whole EHR is searched; inactive patients and non-patients (guarantors) are not filtered out, so
that a family's shared e-mail or phone makes a match ambiguous (a person chooses) rather than
wrongly sure. Every page is read (cursor pages of SEARCH_PER_PAGE, at most SEARCH_PAGES; more
candidates than that is an error asking to map the patient by hand). NexHealth's filters are
matched loosely (the name is fuzzy), so what is kept is decided here:
- e-mail: `email=<ours>`; kept: the same address, ignoring case.
- phone: `phone_number=<our digits>` (a North American number also with or without its
  leading 1); kept: a patient whose bio phone_number, cell, home or work number has the same
  digits, or where one ends with the other and the shorter has at least 8 digits (with or
  without the country code).
- name and birth date: `date_of_birth=<ours>` alone (a fuzzy name filter might miss a spelling
  with other accents, and a miss registers the patient twice); kept: first name (or first and
  middle name) and last name equal to ours ignoring case and accents, and that birth date.
NexHealth lists no national ID, so none is searched.
Registering (`POST /patients?subdomain&location_id`, the v3.0.0 OpenAPI's postPatients):
`{provider: {provider_id}, patient: {first_name, last_name, email, bio: {date_of_birth,
phone_number (digits), gender}}, return_existing_if_match: false}`. NexHealth requires the
e-mail, the birth date and the phone (a patient without them is not registered: a person adds
them or maps the patient), and a provider "with which to intake this new patient": the option
`intake_provider_id`; the patient is registered at the option `location_id` (else the
institution's only location). `return_existing_if_match` stays false: NexHealth's own matching
(name, birth date, phone) never picks a patient for us; its 400 "already exists" goes to a
person. The new ID is the answer's `data.user.id`.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import requests
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduling.localtime import utc_iso
from scheduling.validators import known_time_zones
from vendors import pacing
from vendors.base import NUMBER, SHAPE_ERRORS, Adapter
from vendors.errors import (
    ConfigurationError,
    NotFound,
    UnexpectedResponse,
    VendorError,
    VendorValidationError,
)
from vendors.types import (
    APPOINTMENT,
    BLOCK,
    CRITERION_WORDS,
    KIND_LABELS,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    ImportedRecord,
    PatientDetails,
    VendorAppointment,
)

API_VERSION = "v3.0.0"
# Tokens live one hour in production (24 h in the sandbox); renew a little before that.
TOKEN_LIFETIME = datetime.timedelta(hours=1)
TOKEN_MARGIN = datetime.timedelta(minutes=5)
NOTE_LIMIT = 128

# The appointment's booleans, most final first: the first one set names the status.
STATUS_FLAGS: tuple[tuple[str, str], ...] = (
    ("deleted", "cancelled"),
    ("cancelled", "cancelled"),
    ("patient_missed", "no_show"),
    ("checked_out", "completed"),
    ("checkin_at", "arrived"),
    ("confirmed", "confirmed"),
    ("patient_confirmed", "confirmed"),
)
UNCONFIRMED = "unconfirmed"

# appointment_insertion events -> the delivery's sync state.
INSERTION_EVENTS = {
    "appointment_insertion.complete": "synced",
    "appointment_insertion.failed": "needs_attention",
    "appointment_insertion.timed_out": "needs_attention",
    "appointment_insertion.incomplete": "needs_attention",
}

REFERENCE_PATHS = {
    "locations": "locations",
    "practitioners": "providers",
    "rooms": "operatories",
    "appointment_types": "appointment_types",
    "patients": "patients",
}

# The documented rate limits, per API key, kept by every process together (vendors.pacing):
# GET /appointments and GET /appointment_slots (here /available_slots) 10 a second; the
# patients and the appointments endpoints 1,000 a minute each, every other one 2,000.
RATE_LIMITS = (
    pacing.Limit("appointment-list", 10, 1.0, paths="appointments", methods=("GET",)),
    pacing.Limit("slots", 10, 1.0, paths="available_slots|appointment_slots", methods=("GET",)),
    pacing.Limit("patients", 1000, 60.0, paths="patients(/.*)?"),
    pacing.Limit("appointments", 1000, 60.0, paths="appointments(/.*)?"),
    pacing.Limit("others", 2000, 60.0, paths="(?!(patients|appointments)(/|$)).*"),
)
# Reading the calendar: pages of the documented maximum; how far before the window the read
# starts and how far back the cursor.
PER_PAGE = 1000
READ_BEFORE = datetime.timedelta(days=1)
CURSOR_OVERLAP = datetime.timedelta(minutes=2)
# Webhook events that carry an appointment changed in the EHR (DESIGN §8).
CALENDAR_EVENTS = ("appointment_created", "appointment_updated")

# Onboarding (see the module's docstring; its pace is RATE_LIMITS'): records per page (the
# documented maximum is 1000; 500 full patient records stay well below MAX_BODY_BYTES), the
# pages a list may have before it is taken for one that never ends, and the calls kept in
# `exchanges`.
IMPORT_PER_PAGE = 500
MAX_IMPORT_PAGES = 100_000
KEEP_EXCHANGES = 20
WEEKDAYS = {name: number for number, name in enumerate(
    ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))}  # fmt: skip
SEXES = {"female": "female", "f": "female", "male": "male", "m": "male"}
UNKNOWN_SEXES = {"", "unknown", "u", "not specified", "unspecified"}
CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
# The fixed filters of the patients and working hours lists (see the docstring).
PATIENT_FILTERS = {"location_strict": "true", "inactive": "false", "non_patient": "false"}
HOURS_FILTERS = {"active": "true", "ignore_past_dates": "true"}
# Looking a patient up (see the module's docstring): records per page, the most pages read,
# the fewest digits two phone numbers share at their end to be one number, and the bio's
# phone numbers compared. NexHealth's genders (it defaults to Female when none is sent).
SEARCH_PER_PAGE = 100
SEARCH_PAGES = 10
PHONE_DIGITS = 8
BIO_PHONES = ("phone_number", "cell_phone_number", "home_phone_number", "work_phone_number")
GENDERS = {"female": "Female", "male": "Male", "other": "Other"}

# Appointment fields kept in VendorAppointment.details: identifiers and times, no patient data.
DETAIL_FIELDS = (
    "foreign_id", "location_id", "provider_id", "operatory_id", "appointment_type_id",
    "start_time", "end_time", "timezone", "last_sync_time",
)  # fmt: skip


class InvalidWebhook(VendorError):
    """A webhook whose signature or timestamp does not check out: refuse it, act on nothing."""


class InsertionFailed(VendorError):
    """NexHealth accepted the appointment but never wrote it to the practice's EHR."""


@dataclasses.dataclass(frozen=True)
class WebhookEvent:
    """One verified NexHealth webhook."""

    event: str  # e.g. "appointment_insertion.complete"
    external_id: str
    # "synced" or "needs_attention"; None for an event that settles nothing.
    sync: str | None
    appointment: VendorAppointment
    sent_at: datetime.datetime
    # appointment_created / appointment_updated: the appointment as busy time (DESIGN §8).
    spans: tuple[BusySpan, ...] = ()


class NexHealthAdapter(Adapter):
    vendor = "nexhealth"
    label = "NexHealth"

    required_secrets = ("api_key",)
    required_options = ("subdomain",)
    # Documented base URL (sandbox and production; the key decides): https://nexhealth.info
    production_hosts = ("nexhealth.info",)
    booking_path = "appointments"
    booking_roles = {
        "patient": True,
        "practitioner": True,
        "appointment_type": False,
        "room": False,
    }
    id_formats = {"": NUMBER}
    vendor_terms = {"practitioner": "provider", "room": "operatory"}
    token_name = "token"
    token_margin = TOKEN_MARGIN
    imports = ("locations", "practitioners", "rooms", "types", "hours", "patients")
    import_per_page = IMPORT_PER_PAGE
    rate_limits = RATE_LIMITS
    # The last page_info and count (the total a list answer says it has).
    _page_info: Any = None
    _count: Any = None
    # Finding patients (see the module's docstring); the institution's locations, once read.
    patient_search = ("email", "phone", "name_birth_date")
    _locations: list[str] | None = None

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        zone = request.local_start.tzinfo
        appt: dict[str, Any] = {
            "patient_id": ids["patient"],
            "provider_id": ids["practitioner"],
            "start_time": request.local_start.isoformat(),
            "end_time": request.end.astimezone(zone).isoformat(),
        }
        if "appointment_type" in ids:
            appt["appointment_type_id"] = ids["appointment_type"]
        if "room" in ids:
            appt["operatory_id"] = ids["room"]
        elif _flag(self.settings.option("map_by_operatory")):
            raise self.unmapped("room")  # this location books by operatory
        if request.comment:
            appt["note"] = request.comment[:NOTE_LIMIT]
        return {"appt": appt}

    def booking_params(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        notify = _flag(self.settings.option("notify_patient"))
        return {**self._scope(request), "notify_patient": "true" if notify else "false"}

    def parse_booking(self, answer: Any) -> VendorAppointment:
        return self._appointment(self._appt(answer))

    # -- other operations ----------------------------------------------------------------

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        # NexHealth has no cancellation reason; `note` would overwrite the booking's note.
        data = self.call(
            "PATCH",
            f"appointments/{external_id}",
            params={"subdomain": self._subdomain()},
            json_body={"appt": {"cancelled": True}},
        )
        return self._appointment(self._appt(data), settled=True)

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        patient = self.external_id(request.refs, "patient")
        provider = self.external_id(request.refs, "practitioner")
        params = {
            **self._scope(request),
            "start": utc_iso(request.start),
            "end": utc_iso(request.end),
            "patient_ids[]": [patient],
            "provider_ids[]": [provider],
        }
        for appt in self._list(self.call("GET", "appointments", params=params)):
            if (
                not appt.get("cancelled")
                and str(appt.get("patient_id")) == str(patient)
                and str(appt.get("provider_id")) == str(provider)
                and self._start_of(appt) == request.start
            ):
                return self._appointment(appt)
        return None

    def lookup(self, external_id: str) -> VendorAppointment:
        data = self.call(
            "GET", f"appointments/{external_id}", params={"subdomain": self._subdomain()}
        )
        appt = self._appt(data)
        found = self._appointment(appt)
        start = self._start_of(appt)
        if not found.settled and start and start <= datetime.datetime.now(datetime.UTC):
            # NexHealth's "timed_out": the start passed before the write reached the EHR.
            raise InsertionFailed(
                _(
                    "NexHealth never wrote this appointment to the practice's system and its "
                    "start time has passed; book it again in the practice's system."
                ),
                vendor=self.vendor,
            )
        return found

    def reference(self, kind: str) -> list[dict[str, Any]]:
        path = REFERENCE_PATHS.get(kind)
        if path is None:
            return super().reference(kind)
        subdomain = self._subdomain()
        if kind == "locations":
            answer = self.call("GET", path, params={"subdomain": subdomain})
            return [dict(item) for item in _locations_in(self._list(answer))]
        # Without a location option: the union over the institution's locations.
        location = self.settings.option("location_id")
        locations = [location] if location else [loc["id"] for loc in self.reference("locations")]
        found: dict[str, dict[str, Any]] = {}
        for each in locations:
            for item in self._records(path, {"subdomain": subdomain, "location_id": str(each)}):
                found.setdefault(str(item.get("id")), item)
        return list(found.values())

    def check(self) -> str:
        answer = self.call("GET", "locations", params={"subdomain": self._subdomain()})
        locations = list(_locations_in(self._list(answer)))
        return ngettext(
            "NexHealth answered for the institution “%(subdomain)s” with %(count)d location(s).",
            "NexHealth answered for the institution “%(subdomain)s” with %(count)d location(s).",
            len(locations),
        ) % {"subdomain": self._subdomain(), "count": len(locations)}

    # -- the practice's calendar (DESIGN §8) -----------------------------------------------

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        started = datetime.datetime.now(datetime.UTC)
        since = _since(query.since)
        params: dict[str, Any] = {
            "subdomain": self._subdomain(),
            "start": utc_iso(query.start - READ_BEFORE),
            "end": utc_iso(query.end),
        }
        if since is not None:
            params["updated_since"] = utc_iso(since)
        spans = [
            appointment_span(appt)
            for location in self._calendar_locations(query)
            for appt in self._appointment_pages({**params, "location_id": location})
        ]
        if since is None:
            spans = [span for span in spans if _wanted(span, query)]
            spans += self._missing_ours(query, {span.external_id for span in spans})
        cursor = utc_iso(started - CURSOR_OVERLAP)
        return CalendarRead(spans, complete=since is None, cursor=cursor)

    def is_free(self, request: BookingRequest) -> bool:
        provider = self.external_id(request.refs, "practitioner")
        scope = self._scope(request)
        params: dict[str, Any] = {
            "subdomain": scope["subdomain"],
            "start_date": request.local_start.date().isoformat(),
            "days": 1,
            "lids[]": scope["location_id"],
            "pids[]": provider,
            "slot_length": request.duration_minutes,
            "slot_interval": 5 if request.local_start.minute % 5 == 0 else 1,
        }
        if request.refs.get("room"):
            params["operatory_ids[]"] = self.external_id(request.refs, "room")
        if request.refs.get("appointment_type"):
            params["appointment_type_id"] = self.external_id(request.refs, "appointment_type")
        # One call, no waiting out a 429: a pre-flight that cannot answer at once is skipped.
        for group in self._rows(self.call("GET", "available_slots", params=params)):
            for slot in group["slots"]:
                who = slot.get("provider_id", group.get("pid"))
                if _instant(slot["time"]) == request.start and who in (None, provider):
                    return True
        return False

    def webhook_spans(self, payload: Mapping[str, Any]) -> list[BusySpan]:
        """The busy time a verified `appointment_created` / `appointment_updated` webhook
        carries (same mapping as the read); nothing for other events."""
        return list(calendar_spans(payload))

    def _calendar_locations(self, query: CalendarQuery) -> list[str]:
        locations = list(query.locations) or [self.settings.option("location_id")]
        if not all(locations):
            raise self.unmapped("location", option="location_id")
        return [str(self.parse_id(location, "location")) for location in locations]

    def _appointment_pages(self, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every appointment the listing answers, page after page to the last one."""
        cursors: set[str] = set()
        cursor = ""
        while True:
            page = {**params, "per_page": PER_PAGE}
            if cursor:
                page["end_cursor"] = cursor
            rows = self._rows(self.read("appointments", params=page))
            info = self._page_info
            yield from rows
            more = info.get("has_next_page") if isinstance(info, Mapping) else None
            if more is False:
                return
            cursor = info.get("end_cursor") if more is True and rows else None
            if not isinstance(cursor, str) or not cursor or cursor in cursors:
                raise self._unreadable(_("its appointment pages"))
            cursors.add(cursor)

    def _missing_ours(self, query: CalendarQuery, found: set[str]) -> list[BusySpan]:
        """Our appointments a complete read did not list, as NexHealth has them now."""
        spans = []
        for external_id in sorted(set(query.ours) - found):
            try:
                data = self.read(
                    f"appointments/{self.parse_id(external_id, 'appointment')}",
                    params={"subdomain": self._subdomain()},
                )
            except NotFound:
                continue  # gone from NexHealth: the complete read says it was deleted
            spans.append(appointment_span(self._appt(data)))
        return spans

    def _rows(self, data: Any) -> list[Mapping[str, Any]]:
        """A listing's records; anything else in it means the answer cannot be trusted."""
        if not isinstance(data, list) or not all(isinstance(item, Mapping) for item in data):
            raise self._unreadable(_("a list"))
        return data

    def _unreadable(self, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            _("NexHealth answered the calendar read without %(what)s; nothing was changed.")
            % {"what": what},
            vendor=self.vendor,
        )

    # -- onboarding (issue 12; see the module's docstring) ---------------------------------

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        readers: dict[str, Callable[[], Iterator[ImportedRecord]]] = {
            "locations": self._import_locations,
            "practitioners": lambda: _once(
                self._per_location("practitioners", "providers", _practitioner_fields)
            ),
            "rooms": lambda: _once(self._per_location("rooms", "operatories", _room_fields)),
            "types": lambda: _once(self._import_types()),
            "hours": self._import_hours,
            "patients": lambda: _once(
                self._per_location("patients", "patients", _patient_fields, PATIENT_FILTERS)
            ),
        }
        if kind not in readers:
            return super().import_records(kind)
        return readers[kind]()

    def _import_locations(self) -> Iterator[ImportedRecord]:
        only = self.settings.option("location_id")
        for item in self._listed_locations():
            record = _imported("locations", item, _location_fields, "")
            if not only or record.external_id == str(only):
                yield record

    def _per_location(
        self,
        kind: str,
        path: str,
        build: Builder,
        filters: Mapping[str, str] | None = None,
    ) -> Iterator[ImportedRecord]:
        """A paged list, read for each location."""
        for location in self._import_locations_ids():
            params = {"subdomain": self._subdomain(), "location_id": location, **(filters or {})}
            for item in self._import_pages(path, params, kind):
                yield _imported(kind, item, build, location)

    def _import_types(self) -> Iterator[ImportedRecord]:
        """Not paged: one answer per location (its types and the institution's)."""
        for location in self._import_locations_ids():
            params = {"subdomain": self._subdomain(), "location_id": location}
            for item in self._import_page("appointment_types", params, "types", 1)[0]:
                yield _imported("types", item, _type_fields, location)

    def _import_hours(self) -> Iterator[ImportedRecord]:
        for location in self._import_locations_ids():
            params = {"subdomain": self._subdomain(), "location_id": location, **HOURS_FILTERS}
            for item in self._import_pages("working_hours", params, "hours"):
                yield from _hours_records(item, location)

    def _listed_locations(self) -> Iterator[Any]:
        """The institution's locations (GET /locations is not paged)."""
        try:
            data = self.read("locations", params={"subdomain": self._subdomain()})
        except VendorError as error:
            raise self._list_failed(error, "locations", 1) from None
        if not isinstance(data, list):
            raise self._list_unreadable("locations", 1)
        yield from _locations_in(data)

    def _import_locations_ids(self) -> list[str]:
        """The locations whose lists an import reads: the connection's, else every one."""
        only = self.settings.option("location_id")
        if only:
            return [str(self.parse_id(only, "location"))]
        found = [_id_text(item.get("id")) for item in self._listed_locations()
                 if isinstance(item, Mapping)]  # fmt: skip
        return [location for location in found if location]

    def _import_pages(self, path: str, params: Mapping[str, Any], what: str) -> Iterator[Any]:
        """Every item of a paged list, each page read when the previous one is consumed: by
        cursor while the answers carry `page_info`, else by page number."""
        per_page = self.import_per_page
        cursors: set[str] = set()
        cursor, first = "", None
        for number in range(1, MAX_IMPORT_PAGES + 1):
            asked = {**params, "per_page": per_page}
            if cursor:
                asked["end_cursor"] = cursor
            elif number > 1:
                asked["page"] = number
            rows, info, count = self._import_page(path, asked, what, number)
            if number > 1 and not cursor and rows and rows[0] == first:
                raise self._list_unreadable(what, number)  # `page` ignored: page 1 again
            first = rows[0] if number == 1 and rows else first
            yield from rows
            if info is None and cursor:
                raise self._list_unreadable(what, number)
            if info is None:  # page numbers: a short page, or the total reached, ends it
                if len(rows) < per_page or (_whole(count) and number * per_page >= count):
                    return
                continue
            more = info.get("has_next_page") if isinstance(info, Mapping) else None
            if more is False:
                return
            cursor = info.get("end_cursor") if more is True and rows else None
            if not isinstance(cursor, str) or not cursor or cursor in cursors:
                raise self._list_unreadable(what, number)
            cursors.add(cursor)
        raise UnexpectedResponse(
            _(
                "NexHealth's list of %(what)s did not end after %(pages)d pages; the import "
                "stopped there."
            )
            % {"what": KIND_LABELS.get(what, what), "pages": MAX_IMPORT_PAGES},
            vendor=self.vendor,
        )

    def _import_page(
        self, path: str, params: Mapping[str, Any], what: str, number: int
    ) -> tuple[list[Any], Any, Any]:
        """One page: its items, its page_info and its count; raises if it cannot be read."""
        try:
            data = self.read(path, params=params)
        except VendorError as error:
            raise self._list_failed(error, what, number) from None
        info, count = self._page_info, self._count
        if len(self.exchanges) > KEEP_EXCHANGES:
            del self.exchanges[:-KEEP_EXCHANGES]
        if not isinstance(data, list) or (info is not None and not isinstance(info, Mapping)):
            raise self._list_unreadable(what, number)
        return data, info, count

    # -- patients not mapped yet (issue 12; see the module's docstring) ---------------------

    def search_patients(self, criterion: str, patient: PatientDetails) -> list[str]:
        self._searches_by(criterion)
        found: dict[str, None] = {}
        for query in _patient_queries(criterion, patient):
            for item in self._searched(query, criterion):
                key = _id_text(item.get("id")) if isinstance(item, Mapping) else ""
                if key and _same_patient(criterion, patient, item):
                    found.setdefault(key, None)
        return list(found)

    def register_patient(self, patient: PatientDetails) -> str:
        missing = [words for words, value in (
            (_("given name"), patient.given_name.strip()),
            (_("family name"), patient.family_name.strip()), (_("e-mail"), patient.email.strip()),
            (_("phone"), _digits(patient.phone)), (_("birth date"), patient.birth_date),
        ) if not value]  # fmt: skip
        if missing:
            lacking = missing[0]
            for other in missing[1:]:
                lacking = _("%(some)s or %(other)s") % {"some": lacking, "other": other}
            raise ConfigurationError(
                _(
                    "NexHealth has no patient matching this one and registers a patient only "
                    "with a given and family name, an e-mail, a phone and a birth date; this "
                    "patient has no %(missing)s: add it here, or register the patient in "
                    "NexHealth and map its NexHealth ID to them in the admin (External IDs)."
                )
                % {"missing": lacking},
                vendor=self.vendor,
            )
        location, provider = self._intake()
        try:
            data = self.call(
                "POST",
                "patients",
                params={"subdomain": self._subdomain(), "location_id": location},
                json_body=_registration(patient, provider),
            )
        except VendorValidationError as refused:
            said = (refused.vendor_message or _("no reason given")).rstrip(". ")
            raise VendorValidationError(
                _(
                    "NexHealth refused to register the patient: %(said)s. If NexHealth has this "
                    "patient already, map its NexHealth ID to them in the admin (External IDs)."
                )
                % {"said": said},
                vendor=self.vendor,
                status=refused.status,
                vendor_message=refused.vendor_message,
            ) from None
        user = data.get("user") if isinstance(data, Mapping) else None
        key = _id_text(user.get("id")) if isinstance(user, Mapping) else ""
        if not key:
            raise self.answered_without(_("the new patient's id"))
        return key

    def _searched(self, query: Mapping[str, str], criterion: str) -> Iterator[Any]:
        """Every patient GET /patients answers for one filter, page after page."""
        asked: dict[str, Any] = {"subdomain": self._subdomain(),
                                 "location_id": self._search_location(), **query,
                                 "per_page": SEARCH_PER_PAGE}  # fmt: skip
        cursors: set[str] = set()
        first = None
        for number in range(1, SEARCH_PAGES + 1):
            rows = self.read("patients", params=asked)
            info = self._page_info
            if not isinstance(rows, list) or (number > 1 and rows and rows[0] == first):
                raise self._search_unreadable()
            first = rows[0] if number == 1 and rows else first
            yield from rows
            if info is None:  # the older page numbers: a short page ends the list
                if len(rows) < SEARCH_PER_PAGE:
                    return
                asked = {**asked, "page": number + 1}
                continue
            more = info.get("has_next_page") if isinstance(info, Mapping) else None
            if more is False:
                return
            cursor = info.get("end_cursor") if more is True and rows else None
            if not isinstance(cursor, str) or not cursor or cursor in cursors:
                raise self._search_unreadable()
            cursors.add(cursor)
            asked = {**asked, "end_cursor": cursor}
        raise VendorError(
            _(
                "NexHealth has more than %(count)d patients answering a search by this "
                "patient's %(criterion)s, too many to tell them apart: map the patient to its "
                "NexHealth ID in the admin (External IDs)."
            )
            % {"count": SEARCH_PAGES * SEARCH_PER_PAGE, "criterion": CRITERION_WORDS[criterion]},
            vendor=self.vendor,
        )

    def _search_unreadable(self) -> UnexpectedResponse:
        return UnexpectedResponse(
            _(
                "NexHealth answered a patient search in a shape we cannot read (no list, or "
                "pages that do not follow on)."
            ),
            vendor=self.vendor,
        )

    def _search_location(self) -> str:
        """The location a patient search is asked for (it searches the whole EHR)."""
        only = self.settings.option("location_id")
        if only:
            return str(self.parse_id(only, "location"))
        found = self._institution_locations()
        if not found:
            raise UnexpectedResponse(
                _("NexHealth listed no location to search its patients from."),
                vendor=self.vendor,
            )
        return found[0]

    def _institution_locations(self) -> list[str]:
        if self._locations is None:
            data = self.read("locations", params={"subdomain": self._subdomain()})
            found = (_id_text(item.get("id")) for item in _locations_in(self._list(data)))
            self._locations = [location for location in found if location]
        return self._locations

    def _intake(self) -> tuple[str, int]:
        """Where and with which provider NexHealth registers a new patient."""
        provider = self.settings.option("intake_provider_id", kind=NUMBER)
        if provider in (None, ""):
            raise ConfigurationError(
                _(
                    "NexHealth has no patient matching this one, and registering one there "
                    "needs the provider who takes in new patients: set the connection's option "
                    "“intake_provider_id” (a NexHealth provider ID), or register the patient in "
                    "NexHealth and map its NexHealth ID to them in the admin (External IDs)."
                ),
                vendor=self.vendor,
            )
        location = self.settings.option("location_id")
        if location:
            return str(self.parse_id(location, "location")), provider
        found = self._institution_locations()
        if len(found) != 1:
            raise ConfigurationError(
                ngettext(
                    "NexHealth has no patient matching this one, and this institution has "
                    "%(count)d locations: set the connection's option “location_id” (where new "
                    "patients are registered), or register the patient in NexHealth and map its "
                    "NexHealth ID to them in the admin (External IDs).",
                    "NexHealth has no patient matching this one, and this institution has "
                    "%(count)d locations: set the connection's option “location_id” (where new "
                    "patients are registered), or register the patient in NexHealth and map its "
                    "NexHealth ID to them in the admin (External IDs).",
                    len(found),
                )
                % {"count": len(found)},
                vendor=self.vendor,
            )
        return found[0], provider

    # -- auth ----------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"Nex-Api-Version": API_VERSION, "Authorization": f"Bearer {self.token()}"}

    def authenticate(self) -> tuple[str, datetime.timedelta]:
        data = self.call(
            "POST",
            "authenticates",
            headers={"Nex-Api-Version": API_VERSION, "Authorization": self.secret("api_key")},
            authenticate=False,
        )
        token = data.get("token") if isinstance(data, Mapping) else None
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse(
                _("NexHealth answered the authentication without a token; it will be tried again."),
                vendor=self.vendor,
            )
        return token, TOKEN_LIFETIME

    # -- errors --------------------------------------------------------------------------

    def message_of(self, body: Any) -> str:
        if isinstance(body, Mapping):
            said = "; ".join(_strings(body.get("error")))
            return said or "; ".join(_strings(body.get("description")))
        return super().message_of(body)

    def error_for(
        self, status: int, body: Any, response: requests.Response
    ) -> VendorError | ConfigurationError:
        if status == 403:
            # The key is valid but cannot reach this subdomain or location: re-authenticating
            # cannot help, the connection's settings must change.
            said = self.message_of(body)
            return ConfigurationError(
                _(
                    "NexHealth refused access to this institution or location (HTTP 403): check "
                    "the connection's subdomain and location ID and that its API key belongs to "
                    "that institution."
                ),
                vendor=self.vendor,
                status=status,
                vendor_message=said,
            )
        return super().error_for(status, body, response)

    # -- mapping -------------------------------------------------------------------------

    def unwrap(self, body: Any, path: str) -> Any:
        """The `data` of NexHealth's envelope; `code: false` is a refusal even with a 2xx."""
        if not isinstance(body, Mapping) or "code" not in body:
            raise self.answered_without(_("its usual envelope"))
        if body["code"] is not True:
            said = self.message_of(body)
            raise VendorValidationError(
                _("NexHealth refused the request: %(said)s.")
                % {"said": said or _("no reason given")},
                vendor=self.vendor,
                vendor_message=said,
            )
        # Cursor-paged lists carry their page_info beside `data`; lists their total in `count`.
        self._page_info = body.get("page_info")
        self._count = body.get("count")
        return body.get("data")

    def _appt(self, data: Any) -> Mapping[str, Any]:
        # Writes answer {"appt": {...}}; the documented GET /appointments/{id} answers the
        # appointment itself.
        if isinstance(data, Mapping) and "appt" not in data and "start_time" in data:
            data = {"appt": data}
        record = data.get("appt") if isinstance(data, Mapping) else None
        if not isinstance(record, Mapping) or record.get("id") in (None, ""):
            raise self.answered_without(_("the appointment"))
        return record

    def _list(self, data: Any) -> list[Mapping[str, Any]]:
        if isinstance(data, Mapping):  # some lists come wrapped, e.g. {"appointments": [...]}
            data = next((value for value in data.values() if isinstance(value, list)), None)
        if not isinstance(data, list):
            raise UnexpectedResponse(
                _("NexHealth answered a list call without a list."), vendor=self.vendor
            )
        return [item for item in data if isinstance(item, Mapping)]

    def _records(self, path: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [dict(item) for item in self._list(self.call("GET", path, params=params))]

    def _appointment(
        self, appt: Mapping[str, Any], *, settled: bool | None = None
    ) -> VendorAppointment:
        vendor_status, status = status_of(appt)
        return VendorAppointment(
            external_id=str(appt["id"]),
            vendor_status=vendor_status,
            status=status,
            settled=bool(appt.get("foreign_id")) if settled is None else settled,
            details={name: appt.get(name) for name in DETAIL_FIELDS if name in appt},
        )

    def _start_of(self, appt: Mapping[str, Any]) -> datetime.datetime | None:
        try:
            return self.parse_time(str(appt.get("start_time")))
        except ValueError:
            return None

    def _scope(self, request: BookingRequest) -> dict[str, Any]:
        location = request.refs.get("location") or self.settings.option("location_id")
        if not location:
            raise self.unmapped("location", option="location_id")
        return {"subdomain": self._subdomain(), "location_id": str(location)}

    def _subdomain(self) -> str:
        return str(self.settings.option("subdomain", required=True))


def status_of(appt: Mapping[str, Any]) -> tuple[str, str]:
    """(vendor status, canonical status) from the appointment's booleans."""
    for flag, status in STATUS_FLAGS:
        if appt.get(flag):
            return flag, status
    return UNCONFIRMED, UNCONFIRMED


def appointment_span(appt: Mapping[str, Any]) -> BusySpan:
    """One NexHealth appointment (or block) as busy time; raises on unreadable times."""
    active = not (appt.get("cancelled") or appt.get("deleted"))
    vendor_status, status = status_of(appt)
    if appt.get("unavailable"):
        vendor_status = "unavailable" if active else vendor_status
    return BusySpan(
        start=_instant(appt["start_time"]),
        end=_instant(appt["end_time"]),
        kind=BLOCK if appt.get("unavailable") else APPOINTMENT,
        external_id=_vendor_id(appt["id"]),
        practitioner=_vendor_id(appt.get("provider_id")),
        room=_vendor_id(appt.get("operatory_id")),
        location=_vendor_id(appt.get("location_id")),
        patient=_vendor_id(appt.get("patient_id")),
        vendor_status=vendor_status,
        status=None if appt.get("unavailable") else status,
        active=active,
    )


def calendar_spans(payload: Any) -> tuple[BusySpan, ...]:
    """The span of the appointment an `appointment_created`/`_updated` webhook carries; none
    for other events, or when its appointment cannot be read (acknowledged all the same: the
    next pull reads it)."""
    if not isinstance(payload, Mapping) or payload.get("event_name") not in CALENDAR_EVENTS:
        return ()
    data = payload.get("data")
    appt = data.get("appointment", data.get("appt")) if isinstance(data, Mapping) else None
    try:
        return (appointment_span(appt),)  # type: ignore[arg-type]
    except SHAPE_ERRORS:
        return ()


def _instant(value: Any) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(datetime.UTC)


def _vendor_id(value: Any) -> str:
    """A NexHealth ID as text; "" for none (appointment_type_id is 0 when not set)."""
    return "" if value in (None, "", 0) or isinstance(value, bool) else str(value)


def _since(cursor: str) -> datetime.datetime | None:
    """The incremental read's `updated_since`, or None for a complete read."""
    try:
        return _instant(cursor) if cursor else None
    except ValueError:
        return None


def _wanted(span: BusySpan, query: CalendarQuery) -> bool:
    """What a complete read keeps: ours, and the mapped providers' and operatories' time in
    the window."""
    if span.external_id in query.ours:
        return True
    if span.end <= query.start or span.start >= query.end:
        return False
    if not query.practitioners and not query.rooms:
        return True
    return span.practitioner in query.practitioners or span.room in query.rooms


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """NexHealth's webhook signature: hex HMAC-SHA256 over "{timestamp}.{base64(body)}"."""
    message = f"{timestamp}.{base64.b64encode(body).decode('ascii')}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def parse_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: datetime.datetime | None = None,
    tolerance_seconds: int = 300,
) -> WebhookEvent:
    """Verify one NexHealth webhook (signature, then freshness) and read its appointment."""
    if not secret:
        raise ConfigurationError(
            _(
                "The NexHealth connection has no webhook secret: paste the endpoint's "
                "secret_key into the connection in the admin."
            ),
            vendor=NexHealthAdapter.vendor,
        )
    found = {name.lower(): value for name, value in headers.items()}
    timestamp, signature = found.get("timestamp", ""), found.get("signature", "")
    if not timestamp or not signature:
        raise _invalid("it has no timestamp or signature header")
    if not hmac.compare_digest(signature_of(secret, timestamp, body), signature.strip().lower()):
        raise _invalid("its signature does not match the connection's webhook secret")
    sent_at = _moment(timestamp)
    now = now or datetime.datetime.now(datetime.UTC)
    if sent_at is None or abs((now - sent_at).total_seconds()) > tolerance_seconds:
        raise _invalid("its timestamp is missing, malformed or too far from now")
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    data = payload.get("data") if isinstance(payload, Mapping) else None
    appt = data.get("appointment", data.get("appt", data)) if isinstance(data, Mapping) else None
    event = payload.get("event_name") if isinstance(payload, Mapping) else None
    if not isinstance(event, str) or not isinstance(appt, Mapping) or appt.get("id") is None:
        raise _invalid("it carries no event name or appointment")
    sync = INSERTION_EVENTS.get(event)
    vendor_status, status = status_of(appt)
    appointment = VendorAppointment(
        external_id=str(appt["id"]),
        vendor_status=vendor_status,
        status=status,
        settled=sync is not None or bool(appt.get("foreign_id")),
        details={name: appt.get(name) for name in DETAIL_FIELDS if name in appt},
    )
    return WebhookEvent(
        event, appointment.external_id, sync, appointment, sent_at, calendar_spans(payload)
    )


def _invalid(why: str) -> InvalidWebhook:
    return InvalidWebhook(f"Refused a NexHealth webhook: {why}.", vendor=NexHealthAdapter.vendor)


def _moment(value: str) -> datetime.datetime | None:
    """A webhook timestamp: ISO 8601 (what NexHealth documents) or Unix seconds."""
    try:
        if value.replace(".", "", 1).isdigit():
            return datetime.datetime.fromtimestamp(float(value), datetime.UTC)
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return moment.astimezone(datetime.UTC) if moment.tzinfo else None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _strings(value: Any) -> Iterable[str]:
    """NexHealth's `error`/`description`: a string, a list of strings, or lists of them."""
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# -- onboarding: one listed record in our model's words ------------------------------------------

# Maps one listed record (and the location it was listed for) to our fields and refs.
Builder = Callable[[Mapping[str, Any], str], tuple[dict[str, Any], dict[str, str]]]


class Malformed(ValueError):
    """What is wrong with a listed record, in words that quote none of its data."""


def _imported(kind: str, item: Any, build: Builder, location: str) -> ImportedRecord:
    if not isinstance(item, Mapping):
        return ImportedRecord(kind, "", problem=_("an item of the list is not an object"))
    key = _id_text(item.get("id"))
    if not key:
        return ImportedRecord(kind, "", problem=_("it has no valid id"))
    try:
        fields, refs = build(item, location)
    except Malformed as wrong:
        return ImportedRecord(kind, key, problem=str(wrong))
    except SHAPE_ERRORS as error:
        return ImportedRecord(kind, key, problem=_unreadable(error))
    return ImportedRecord(kind, key, fields, refs)


def _once(records: Iterator[ImportedRecord]) -> Iterator[ImportedRecord]:
    """Each record once, where several locations list it (IDs are the institution's)."""
    seen: set[str] = set()
    for record in records:
        if record.external_id in seen:
            continue
        if record.external_id:
            seen.add(record.external_id)
        yield record


def _locations_in(data: list[Any]) -> Iterator[Any]:
    """The locations of GET /locations: inside each institution (v3), or listed bare."""
    for item in data:
        inner = item.get("locations") if isinstance(item, Mapping) else None
        if isinstance(inner, list):
            yield from inner
        elif not (isinstance(item, Mapping) and "subdomain" in item):
            yield item  # a location (an institution without `locations` has none)


def _unreadable(error: Exception) -> str:
    return _("it cannot be read (%(error)s)") % {"error": type(error).__name__}


def _location_fields(
    item: Mapping[str, Any], _location: str
) -> tuple[dict[str, Any], dict[str, str]]:
    zone = _text(item, "tz")
    if zone and not _known_zone(zone):
        raise Malformed(_("its time zone is not one we know (IANA), so its hours cannot be read"))
    fields = {
        "name": _required(item, "name"),
        "address": ", ".join(
            part
            for part in (
                _text(item, "street_address"),
                _text(item, "street_address_2"),
                _text(item, "city"),
                " ".join(filter(None, (_text(item, "state"), _text(item, "zip_code")))),
                _text(item, "country_code"),
            )
            if part
        ),
        "phone": _text(item, "phone_number"),
        "time_zone": zone,
    }
    return _filled(fields) | _active(item, inverse="inactive"), {}


def _practitioner_fields(
    item: Mapping[str, Any], _location: str
) -> tuple[dict[str, Any], dict[str, str]]:
    given, family = _person_name(item)
    bio = _bio(item)
    phone = _text(bio, "phone_number") or _text(bio, "cell_phone_number")
    fields = {"given_name": given, "family_name": family, "email": _text(item, "email"),
              "phone": phone}  # fmt: skip
    return _filled(fields) | _active(item, inverse="inactive"), {}


def _room_fields(item: Mapping[str, Any], location: str) -> tuple[dict[str, Any], dict[str, str]]:
    name = _text(item, "display_name") or _required(item, "name")
    where = _id_text(item.get("location_id")) or location
    return {"name": name} | _active(item, direct="active"), {"location": where}


def _type_fields(item: Mapping[str, Any], _location: str) -> tuple[dict[str, Any], dict[str, str]]:
    fields: dict[str, Any] = {"name": _required(item, "name")}
    minutes = item.get("minutes")
    if minutes is not None:
        if not _whole(minutes) or minutes <= 0:
            raise Malformed(_("its length in minutes is not a whole number above 0"))
        fields["default_duration_minutes"] = minutes
    return fields, {}


def _patient_fields(
    item: Mapping[str, Any], _location: str
) -> tuple[dict[str, Any], dict[str, str]]:
    given, family = _person_name(item)
    bio = _bio(item)
    phones = ("phone_number", "cell_phone_number", "home_phone_number", "work_phone_number")
    fields = {
        "given_name": given,
        "family_name": family,
        "birth_date": _birth_date(bio.get("date_of_birth")),
        "sex": _sex(bio.get("gender")),
        "phone": next((phone for key in phones if (phone := _text(bio, key))), ""),
        "email": _text(item, "email"),
    }
    return _filled(fields), {}


def _hours_records(item: Any, location: str) -> Iterator[ImportedRecord]:
    """A working hour's weekly blocks, one per day it names (see the module's docstring)."""
    key = _id_text(item.get("id")) if isinstance(item, Mapping) else ""
    if not isinstance(item, Mapping) or not key:
        yield _imported("hours", item, lambda *_: ({}, {}), location)
        return
    try:
        days, start, end, refs = _working_hour(item, location)
    except Malformed as wrong:
        yield ImportedRecord("hours", key, problem=str(wrong))
        return
    except SHAPE_ERRORS as error:
        yield ImportedRecord("hours", key, problem=_unreadable(error))
        return
    for day in days:
        fields = {"weekday": day, "start_time": start, "end_time": end}
        yield ImportedRecord("hours", f"{key}:{day}", fields, refs)


def _working_hour(
    item: Mapping[str, Any], location: str
) -> tuple[list[int], datetime.time, datetime.time, dict[str, str]]:
    provider = _id_text(item.get("provider_id"))
    if not provider:
        raise Malformed(_("it names no provider"))
    label = item.get("label")
    if label:
        raise Malformed(
            _(
                "it is a labelled working hour (for some appointment types only, on top of the "
                "provider's base hours): set such hours by hand"
            )
        )
    start, end = _clock(item.get("begin_time")), _clock(item.get("end_time"))
    if end <= start:
        raise Malformed(_("it ends before it starts (or at midnight or later)"))
    days = item.get("days")
    if not days:
        raise Malformed(_not_weekly(item))
    if not isinstance(days, list) or not all(
        isinstance(day, str) and day.strip().lower() in WEEKDAYS for day in days
    ):
        raise Malformed(_("its days are not weekday names"))
    weekdays = sorted({WEEKDAYS[day.strip().lower()] for day in days})
    where = _id_text(item.get("location_id")) or location
    return weekdays, start, end, {"practitioner": provider, "location": where}


def _not_weekly(item: Mapping[str, Any]) -> str:
    if item.get("specific_date"):
        return _("it is for one date only, not a weekly schedule: add that day by hand if needed")
    if item.get("custom_recurrence"):
        return _("it repeats on a custom recurrence, not on weekdays: set these hours by hand")
    return _("it names no days")


def _person_name(item: Mapping[str, Any]) -> tuple[str, str]:
    """(given, family): first (+ middle) and last name, else the full name split at its last
    space; a record without any name is malformed."""
    given = " ".join(filter(None, (_text(item, "first_name"), _text(item, "middle_name"))))
    family = _text(item, "last_name")
    if not given and not family:
        name = _text(item, "name") or _text(item, "display_name")
        given, _space, family = name.rpartition(" ")
    if not given and not family:
        raise Malformed(_("it has no name"))
    return given, family


def _bio(item: Mapping[str, Any]) -> Mapping[str, Any]:
    bio = item.get("bio")
    if bio is None:
        return {}
    if not isinstance(bio, Mapping):
        raise Malformed(_("its bio is not an object"))
    return bio


def _birth_date(value: Any) -> datetime.date | None:
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise Malformed(_("its date of birth is not a date (YYYY-MM-DD)")) from None


def _sex(value: Any) -> str:
    word = str(value or "").strip().lower()
    if word in UNKNOWN_SEXES:
        return ""  # NexHealth says nothing: left out
    return SEXES.get(word, "other")


def _clock(value: Any) -> datetime.time:
    found = CLOCK.match(value) if isinstance(value, str) else None
    try:
        if found is None:
            raise ValueError(value)
        return datetime.time(*(int(part) for part in found.groups(default="0")))
    except ValueError:
        raise Malformed(_("its begin or end time is not a time of day (HH:MM)")) from None


def _active(item: Mapping[str, Any], *, inverse: str = "", direct: str = "") -> dict[str, bool]:
    """`active` from the record's flag (inverted for `inactive`), when it has one."""
    key = inverse or direct
    value = item.get(key)
    if value is None:
        return {}
    if not isinstance(value, bool):
        raise Malformed(_("its “%(field)s” is not true or false") % {"field": key})
    return {"active": not value if inverse else value}


def _required(item: Mapping[str, Any], key: str) -> str:
    value = _text(item, key)
    if not value:
        if key == "name":
            raise Malformed(_("it has no name"))
        raise Malformed(_("it has no %(field)s") % {"field": key})
    return value


def _text(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Malformed(_("its %(field)s is not text") % {"field": key.replace("_", " ")})
    return str(value).strip()


def _filled(fields: dict[str, Any]) -> dict[str, Any]:
    """Only what NexHealth says something about: empty values are left out."""
    return {key: value for key, value in fields.items() if value not in (None, "")}


def _id_text(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value) if value > 0 else ""
    return value.strip() if isinstance(value, str) and value.strip().isdigit() else ""


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _known_zone(name: str) -> bool:
    return name in known_time_zones()


# -- patients not mapped yet (issue 12; see the module's docstring) ---------------------------


def _patient_queries(criterion: str, patient: PatientDetails) -> list[dict[str, str]]:
    """The GET /patients filters that look for `patient` by one criterion."""
    if criterion == "email":
        return [{"email": patient.email.strip()}]
    if criterion == "phone":
        return [{"phone_number": digits} for digits in _phone_forms(patient.phone)]
    if criterion == "name_birth_date" and patient.birth_date:
        return [{"date_of_birth": patient.birth_date.isoformat()}]
    return []


def _phone_forms(phone: str) -> list[str]:
    """A phone's digits, and a North American number also with or without its leading 1."""
    digits = _digits(phone)
    if len(digits) == 10:
        return [digits, f"1{digits}"]
    if len(digits) == 11 and digits.startswith("1"):
        return [digits, digits[1:]]
    return [digits] if digits else []


def _same_patient(criterion: str, patient: PatientDetails, item: Mapping[str, Any]) -> bool:
    """Whether a listed patient is ours by exactly this criterion (a record we cannot read
    is not)."""
    bio = item.get("bio") if isinstance(item.get("bio"), Mapping) else {}
    if criterion == "email":
        return _same_email(patient.email, item.get("email"))
    if criterion == "phone":
        return any(_same_phone(patient.phone, bio.get(name)) for name in BIO_PHONES)
    if criterion != "name_birth_date" or patient.birth_date is None:
        return False
    first, middle = _folded(item.get("first_name")), _folded(item.get("middle_name"))
    given = _folded(patient.given_name)
    return (
        str(bio.get("date_of_birth") or "")[:10] == patient.birth_date.isoformat()
        and _folded(item.get("last_name")) == _folded(patient.family_name) != ""
        and given in {first, f"{first} {middle}".strip()} - {""}
    )


def _registration(patient: PatientDetails, provider: int) -> dict[str, Any]:
    """The body of POST /patients (see the module's docstring)."""
    birth_date = patient.birth_date.isoformat() if patient.birth_date else ""
    bio: dict[str, Any] = {"date_of_birth": birth_date, "phone_number": _digits(patient.phone)}
    if patient.sex in GENDERS:
        bio["gender"] = GENDERS[patient.sex]
    return {
        "provider": {"provider_id": provider},
        "patient": {
            "first_name": patient.given_name.strip(),
            "last_name": patient.family_name.strip(),
            "email": patient.email.strip(),
            "bio": bio,
        },
        "return_existing_if_match": False,
    }


def _same_email(ours: str, theirs: Any) -> bool:
    return (
        bool(ours.strip())
        and isinstance(theirs, str)
        and (theirs.strip().casefold() == ours.strip().casefold())
    )


def _same_phone(ours: str, theirs: Any) -> bool:
    """The same digits, or one number ending with the other (at least PHONE_DIGITS digits:
    with or without the country code)."""
    mine = _digits(ours)
    readable = isinstance(theirs, str | int) and not isinstance(theirs, bool)
    other = _digits(theirs) if readable else ""
    if not mine or not other:
        return False
    shorter, longer = sorted((mine, other), key=len)
    return shorter == longer or (len(shorter) >= PHONE_DIGITS and longer.endswith(shorter))


def _digits(value: Any) -> str:
    return "".join(character for character in str(value) if character.isdigit())


def _folded(value: Any) -> str:
    """A name compared without case, accents or spacing ("" for anything but text)."""
    if not isinstance(value, str):
        return ""
    plain = unicodedata.normalize("NFKD", value)
    plain = "".join(character for character in plain if not unicodedata.combining(character))
    return " ".join(plain.casefold().split())
