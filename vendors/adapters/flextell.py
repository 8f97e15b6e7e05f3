"""Flextell (docs.flextell.ai): OAuth 2.0 bearer tokens, a tenant header, JSON under /api/v1.

Secrets (roles → environment variables named on the connection): ``client_id``,
``client_secret`` and ``refresh_token`` (the one obtained at the clinic's one-time consent).
Options: ``tenant`` (required, sent as ``X-Tenant``) and ``token_url`` (default: the base
URL's scheme and host + ``/oauth/token``, as in the docs: ``https://dev.flextell.ai/api`` and
``https://dev.flextell.ai/oauth/token``).

Where the public docs are silent we decided (research notes §2; [INF] = our inference):
- Only the authorization-code flow is documented, so a server exchanges refresh tokens. They
  rotate: the newest one is kept in the store together with a fingerprint of the
  environment's token it descends from; when a manager puts a fresh token (new consent) in
  the environment, the fingerprint no longer matches and the environment's token wins.
- A taken slot is answered 409 with ``{"error": "slot_unavailable"}`` [INF]; any other 409
  is a state conflict the receptionist must resolve (not "choose another time").
- Cancel is ``PATCH /v1/appointments/{id}`` with ``status=cancelled`` and
  ``cancellation_reason`` [INF]: no update page is published.
- ``GET /v1/appointments`` is filtered with ``customer_id``, ``user_id``, ``from`` and ``to``
  [INF]; ``find`` matches customer, doctor and start locally as well, so a server ignoring
  those filters only costs pages. ``from``/``to`` are dates in an unstated zone: we send the
  appointment's local date (the location's zone), widened to its UTC date when that differs.
  ``find`` reads every page, up to LOOKUP_PAGES pages and LOOKUP_SECONDS; a look-up it
  cannot finish raises LookupIncomplete, never "not there", so nothing is sent twice.
- The seed revision requires ``status`` on create: unconfirmed → pending, confirmed →
  approved; Flextell has no "arrived", so arrived is sent as approved.
- ``description`` is cut to Flextell's 1000 characters rather than refusing the booking.

The clinic's calendar in Flextell (DESIGN §8; research notes §2.4 "Availability"):
- Flextell documents no free-slot endpoint, so ``is_free`` stays the base's NotSupported: no
  pre-flight before booking; a taken time is refused by the create call (409).
- ``read_calendar`` reads the window (no ``updated_since`` exists, so never incrementally) from
  three documented lists, every page of each:
  1. ``GET /v1/appointments/calendar?from&to``: what is busy, with ``start_at``/``end_at``
     (the appointments list has no end), ``kind``, ``appointment_id`` and ``meta.status``.
     Its items name the doctor only by ``doctor_name`` and carry no room or customer.
  2. ``GET /v1/appointments?from&to``: each appointment's doctor (``doctor.id``/``user_id``),
     ``room_id`` and ``customer_id``, by ``id``. We use this documented list rather than an
     ID field of our own making; the from/to filters are [INF] as in ``find``: a server that
     ignores them only costs pages (read to the end, at most CALENDAR_PAGES).
  3. ``GET /v1/users``: user ``name`` → ``id``, for blocks and absences (which name nothing
     else) and for an appointment missing from the list (it then has no room or patient).
     A name shared by several users: a block blocks each of them; an appointment without a
     list entry is left without a doctor.
- ``from``/``to`` are the tenant's local dates (the locations' zone, as in ``find``), widened
  by a day on each side: the docs say neither whether ``to`` is inclusive nor that the
  tenant's ``timezone`` is the locations' one. Items are kept where they overlap the window.
  The calendar is asked CALENDAR_CHUNK_DAYS at a time (60 days = 5 requests), consecutive
  ranges sharing their boundary day (duplicates dropped): no maximum range is documented and
  the endpoint serves a UI's week or month view, so we do not bet a 60-day answer on it. An
  answer whose own ``from``/``to`` does not cover what was asked raises (never a partial read
  taken as complete).
- ``start_at``/``end_at`` are ISO 8601; one without an offset is read in the answer's
  ``timezone``.
- Kinds: ``block`` and ``absence`` → block; ``appointment`` (or any other kind with an
  ``appointment_id``) → appointment; any other kind without one → block (busy time is never
  offered).
- Status: ``meta.status`` (else the list's ``status``) by the table below; cancelled and
  rejected are inactive. A reschedule proposal (``meta.proposed_scheduled_at``) moves nothing
  until Flextell applies it: ``start_at`` counts. ``reason``, ``treatment_name`` and names are
  free text about the patient: never copied.
- Spans returned: each of our appointments (``query.ours``) found, wherever it now is; the
  others of mapped doctors or rooms (all of them when neither is mapped).
- One of ours not in the calendar (moved beyond the window, or a calendar that leaves out
  cancelled appointments): ``GET /v1/appointments/{id}``; a 404 is an inactive span with
  vendor status "deleted" (times: the window's start), otherwise its status and
  ``scheduled_at``, the end from the calendar of that day (else DEFAULT_MINUTES, the
  simulator's slot_duration: the tenant's is not readable).
- Rate limits: Flextell publishes none (only X-RateLimit-* headers); every request waits out
  short 429s (``read``) and ``min_pull_seconds`` stays 0. A pull costs the users page(s), the
  list's pages (1 per 100 appointments) and ⌈days/14⌉ calendar requests.

Onboarding a clinic (issue 12; research notes §2.4 "Reference data"). Each list is read with
``page`` and ``per_page`` (100, the documented maximum), page after page as the import consumes
it, to ``meta.last_page``; the users list is documented without ``meta`` (bare ``data``), so it
ends at a page shorter than ``per_page`` (or one that repeats the first: a server that does
not page it). 429s are waited out (``read``; no limit is published, so no pacing). A page that
cannot be read raises (the class of error the call gave, saying which page of which list); a
record that cannot be read is yielded with its ``problem`` (never quoting its data):
- practitioners: ``GET /v1/users?role=doctor`` (the option ``doctor_role`` names another role
  name; users whose ``roles`` are listed without it are left out too, in case the filter is
  ignored). ``name`` is one string: its leading ``title`` (or Dr./Dra.) -> title, the last
  word -> family_name, the rest -> given_name (``first_name``/``last_name`` when a user has
  them); email, phone, is_active -> active (inactive doctors are imported inactive).
- rooms: ``GET /v1/rooms``: name, status -> active (only ``active``; ``inactive`` and
  ``maintenance`` are not bookable). Flextell rooms belong to no location: the import puts
  them in the connection's location.
- types: ``GET /v1/treatments``: name, is_active (true/false or 1/0, as text or not) ->
  active. Flextell documents no length for a treatment (``session`` counts sessions, and a
  session plan's gaps are days), so default_duration_minutes is left out.
- patients: ``GET /v1/customers``: first_name, last_name, phone_number -> phone, email,
  date_of_birth (a date, or a date-time whose date part is taken as written) -> birth_date,
  gender male/female/other -> sex, identity_number -> national_id. Flextell does not say which
  document it is: the option ``identity_type`` (e.g. "rut", "dni", "passport") says it for the
  tenant; without it a valid Chilean RUT (check digit) is "rut", anything else "other".
- locations and working hours are not imported (``import_gaps``): Flextell has no locations
  (a tenant is one clinic) and lists no working hours.

A patient not mapped yet is looked for before booking (issue 12). Flextell's one documented
search is ``GET /v1/customers?search=`` (research notes §2.4), free text whose fields and
matching the docs do not state [INF: the simulator matches any part of the first and last
name, e-mail, phone number and identity number, without case or accents, as a Laravel
``LIKE`` on a case- and accent-insensitive MySQL column would]. So every criterion is asked
through it and its answer kept only where the customer matches exactly; every page is read
(``per_page`` 100, at most SEARCH_PAGES; more candidates than that is an error asking to map
the patient by hand). The terms, and what is kept:
- national ID: our ID as written, and for a Chilean RUT also with and without its dots
  (``12.345.678-5``, ``12345678-5``), else without any separator; kept: ``identity_number``
  equal to ours ignoring dots, dashes, spaces and case.
- e-mail: ours; kept: ``email`` equal ignoring case.
- phone: ours as written, and its last four digits (a search by text cannot know how Flextell
  groups the digits); kept: ``phone_number`` with the same digits, or where one ends with the
  other and the shorter has at least 8 digits (with or without the country code).
- name and birth date: our family name (the docs document no date filter); kept:
  ``first_name`` and ``last_name`` equal to ours ignoring case and accents, and
  ``date_of_birth`` (its date part) equal to our birth date.
Flextell documents no way to create a customer (only ``GET /v1/customers``), so a patient it
does not have is never registered there: the delivery asks for the customer to be created in
Flextell and mapped in the admin (``register_patient`` stays the base's NotSupported).
"""

from __future__ import annotations

import datetime
import hashlib
import re
import time
import unicodedata
import urllib.parse
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from scheduling.localtime import utc_iso
from vendors.base import NUMBER, SHAPE_ERRORS, Adapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    LookupIncomplete,
    NotFound,
    SlotUnavailable,
    UnexpectedResponse,
    VendorError,
    VendorValidationError,
)
from vendors.types import (
    APPOINTMENT,
    BLOCK,
    CRITERION_WORDS,
    KIND_LABELS,
    PATIENT_CRITERIA,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    ImportedRecord,
    PatientDetails,
    VendorAppointment,
)

# Flextell status → canonical status.
STATUSES = {
    "pending": "unconfirmed",
    "approved": "confirmed",
    "cancelled": "cancelled",
    "rejected": "cancelled",
    "completed": "completed",
    "no_show": "no_show",
}
# Canonical status → the status sent on create (required by the seed revision).
CREATE_STATUSES = {
    "unconfirmed": "pending",
    "confirmed": "approved",
    "arrived": "approved",
    "completed": "completed",
    "no_show": "no_show",
    "cancelled": "cancelled",
}
INACTIVE = {"cancelled", "rejected"}
# Optional references and the create field each fills.
OPTIONAL_FIELDS = {"room": "room_id", "assistant": "assistant_id",
                   "follow_up_of": "parent_appointment_id"}  # fmt: skip
MAX_TEXT = 1000
PAGE_SIZE = 100
MAX_PAGES = 10  # reference lists
LOOKUP_PAGES = 100  # find: 10,000 appointments
LOOKUP_SECONDS = 60.0
DEFAULT_TOKEN_LIFETIME = 3600
# The calendar: days per request, pages of a list at most, and kinds that are blocks.
CALENDAR_CHUNK_DAYS = 14
CALENDAR_PAGES = 100
BLOCK_KINDS = frozenset({"block", "absence"})
DEFAULT_MINUTES = 30
ONE_DAY = datetime.timedelta(days=1)

# Onboarding (see the module's docstring): pages a list may have before it is taken for one
# that never ends, the calls kept in `exchanges`, and how records read.
MAX_IMPORT_PAGES = 100_000
KEEP_EXCHANGES = 20
DOCTOR_ROLE = "doctor"
ROOM_STATUSES = {"active": True, "inactive": False, "maintenance": False}
SEXES = {"female": "female", "male": "male", "other": "other"}
TITLES = ("dr.", "dra.", "dr", "dra")
# (True and False are 1 and 0 as keys, too.)
FLAGS = {True: True, False: False, "1": True, "0": False, "true": True, "false": False}
RUT = re.compile(r"^(\d{1,2}(?:\.?\d{3}){2})-?([\dkK])$")

# Looking a patient up (see the module's docstring): the most pages of one search read, and
# the fewest digits two phone numbers share at their end to be one number.
SEARCH_PAGES = 30
PHONE_DIGITS = 8

REFRESH_TOKEN = "refresh_token"
REFRESH_SEED = "refresh_token_seed"


class FlextellAdapter(Adapter):
    vendor = "flextell"
    label = "Flextell"

    required_secrets = ("client_id", "client_secret", "refresh_token")
    required_options = ("tenant",)
    # The only published host (https://dev.flextell.ai/api); no other production host is
    # documented: others go in VENDOR_ALLOWED_HOSTS.
    production_hosts = ("dev.flextell.ai",)
    url_options = ("token_url",)
    booking_path = "v1/appointments"
    booking_roles = {
        "patient": True,
        "practitioner": True,
        "appointment_type": True,
        "room": False,
        "assistant": False,
        "follow_up_of": False,
    }
    id_formats = {"": NUMBER}
    envelope_key = "data"
    vendor_terms = {
        "patient": gettext_lazy("customer"),
        "practitioner": gettext_lazy("user (doctor)"),
        "appointment_type": gettext_lazy("treatment"),
        "assistant": gettext_lazy("user"),
        "follow_up_of": gettext_lazy("appointment (deliver it first)"),
    }
    # Patient data in Flextell's answers and queries (a customer search is a name), and the
    # OAuth client id (not a secret, but one of the connection's credentials).
    sensitive_keys = frozenset(
        {"customer", "gender", "job", "country_name", "avatar_url", "tags", "client_id", "search"}
    )
    token_name = "access_token"
    token_margin = datetime.timedelta(seconds=60)
    imports = ("practitioners", "rooms", "types", "patients")
    import_gaps = {
        "locations": gettext_lazy(
            "Flextell has no locations or branches (a tenant is one clinic): create the "
            "clinic's location here and set it on the connection; rooms are imported into it."
        ),
        "hours": gettext_lazy(
            "Flextell lists no working hours (its calendar only shows booked and blocked "
            "time): set each doctor's working hours here."
        ),
    }
    import_per_page = PAGE_SIZE
    # Every criterion, through the one free-text search (see the module's docstring).
    patient_search = PATIENT_CRITERIA

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "customer_id": ids["patient"],
            "user_id": ids["practitioner"],
            "scheduled_at": utc_iso(request.start),
            "status": CREATE_STATUSES.get(request.status, "pending"),
            "treatments": [ids["appointment_type"]],
        }
        body |= {field: ids[role] for role, field in OPTIONAL_FIELDS.items() if role in ids}
        if request.comment:
            body["description"] = request.comment[:MAX_TEXT]
        return body

    def parse_booking(self, answer: Any) -> VendorAppointment:
        return self._appointment(self.record(answer), written=True)

    # -- other operations ----------------------------------------------------------------

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        body: dict[str, Any] = {"status": "cancelled"}
        if reason:
            body["cancellation_reason"] = reason[:MAX_TEXT]
        answer = self.call("PATCH", f"v1/appointments/{external_id}", json_body=body)
        return self._appointment(self.record(answer))

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        customer = self.external_id(request.refs, "patient")
        doctor = self.external_id(request.refs, "practitioner")
        days = sorted({request.local_start.date(), request.start.astimezone(datetime.UTC).date()})
        params = {
            "customer_id": customer,
            "user_id": doctor,
            "from": days[0].isoformat(),
            "to": (days[-1] + datetime.timedelta(days=1)).isoformat(),
        }
        pages = self._pages("v1/appointments", params, pages=LOOKUP_PAGES, whole=True)
        for item in pages:
            if (
                item.get("customer_id") == customer
                and _doctor_id(item) in (doctor, None)
                and item.get("status") not in INACTIVE
                and self._same_time(item.get("scheduled_at"), request.start)
            ):
                return self._appointment(item)
        return None

    def lookup(self, external_id: str) -> VendorAppointment:
        return self._appointment(self.record(self.call("GET", f"v1/appointments/{external_id}")))

    def reference(self, kind: str, *, search: str = "") -> list[dict[str, Any]]:
        if kind == "practitioners":
            return [
                {
                    "id": str(user["id"]),
                    "name": user.get("name", ""),
                    "roles": [role.get("name") for role in user.get("roles") or []],
                }
                for user in self._pages("v1/users", {"is_active": 1})
            ]
        if kind == "rooms":
            return [
                {"id": str(room["id"]), "name": room.get("name", ""), "status": room.get("status")}
                for room in self._pages("v1/rooms", {})
            ]
        if kind == "appointment_types":
            return [
                {
                    "id": str(treatment["id"]),
                    "name": treatment.get("name", ""),
                    "practitioners": [str(user["id"]) for user in treatment.get("users") or []],
                }
                for treatment in self._pages("v1/treatments", {})
            ]
        if kind == "patients":
            params = {"search": search} if search else {}
            return [
                {
                    "id": str(customer["id"]),
                    "name": " ".join(
                        filter(None, (customer.get("first_name"), customer.get("last_name")))
                    ),
                }
                for customer in self._pages("v1/customers", params)
            ]
        return super().reference(kind)

    def check(self) -> str:
        answer = self.call("GET", "v1/rooms", params={"per_page": 1})
        total = (answer.get("meta") or {}).get("total") if isinstance(answer, Mapping) else None
        tenant = self.settings.option("tenant", required=True)
        if total is None:
            return _("Flextell tenant %(tenant)s answered with its rooms.") % {"tenant": tenant}
        return ngettext(
            "Flextell tenant %(tenant)s answered with %(count)s rooms.",
            "Flextell tenant %(tenant)s answered with %(count)s rooms.",
            total if isinstance(total, int) else 0,
        ) % {"tenant": tenant, "count": total}

    # -- the clinic's calendar (DESIGN §8) ------------------------------------------------

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        first, last = query.local_days
        first, last = first - ONE_DAY, last + ONE_DAY
        doctors = self._doctors()
        window = {"from": first.isoformat(), "to": last.isoformat()}
        listed = {str(item["id"]): item for item in self._every_page("v1/appointments", window)}
        wanted = _Wanted(query)
        spans: dict[BusySpan, None] = {}
        for start, end in _ranges(first, last):
            items, zone = self._calendar(start, end, query.time_zone)
            for item in items:
                spans |= dict.fromkeys(
                    span for span in self._spans(item, zone, doctors, listed) if wanted(span)
                )
        found = {span.external_id for span in spans}
        for missing in dict.fromkeys(query.ours):
            if missing not in found:
                spans[self._elsewhere(missing, query)] = None
        return CalendarRead(list(spans), complete=True, lists_appointments=True)

    def _calendar(
        self, start: datetime.date, end: datetime.date, zone: str
    ) -> tuple[list[Mapping[str, Any]], str]:
        """One calendar answer's items, and the zone its times without offset are in."""
        asked = {"from": start.isoformat(), "to": end.isoformat()}
        answer = self.read("v1/appointments/calendar", params=asked)
        if isinstance(answer, Mapping) and "items" not in answer:
            answer = answer.get("data")  # the envelope of Flextell's other answers
        items = answer["items"]
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise TypeError("calendar items")
        said = [str(answer.get(key) or asked[key])[:10] for key in ("from", "to")]
        if said[0] > asked["from"] or said[1] < asked["to"]:
            raise UnexpectedResponse(
                _(
                    "Flextell answered its calendar from %(from)s to %(to)s, not from "
                    "%(asked_from)s to %(asked_to)s as asked; the read was not used."
                )
                % {
                    "from": said[0],
                    "to": said[1],
                    "asked_from": asked["from"],
                    "asked_to": asked["to"],
                },
                vendor=self.vendor,
            )
        return items, str(answer.get("timezone") or zone)

    def _spans(
        self,
        item: Mapping[str, Any],
        zone: str,
        doctors: Mapping[str, list[str]],
        listed: Mapping[str, Mapping[str, Any]],
    ) -> list[BusySpan]:
        start, end = _moment(item["start_at"], zone), _moment(item["end_at"], zone)
        if end <= start:
            raise ValueError("a calendar item ends before it starts")
        kind, number = str(item.get("kind") or ""), item.get("appointment_id")
        named = doctors.get(_name_key(item.get("doctor_name")), [])
        if kind in BLOCK_KINDS or number in (None, ""):
            return [
                BusySpan(start, end, kind=BLOCK, practitioner=doctor, vendor_status=kind)
                for doctor in named or [""]
            ]
        meta = item.get("meta") if isinstance(item.get("meta"), Mapping) else {}
        external_id = str(number)
        record = listed.get(external_id) or {}
        word = str(meta.get("status") or record.get("status") or "")
        return [_appointment_span(external_id, start, end, word, record, named)]

    def _elsewhere(self, external_id: str, query: CalendarQuery) -> BusySpan:
        """One of ours the calendar did not show: deleted, or where it now is."""
        try:
            answer = self.read(f"v1/appointments/{urllib.parse.quote(external_id, safe='')}")
        except NotFound:
            return BusySpan(
                query.start, query.start, kind=APPOINTMENT, external_id=external_id,
                vendor_status="deleted", active=False,
            )  # fmt: skip
        record = answer["data"]
        start = self.parse_time(record["scheduled_at"])
        day = start.astimezone(query.zone).date()
        items, zone = self._calendar(day - ONE_DAY, day + ONE_DAY, query.time_zone)
        ends = [_moment(i["end_at"], zone) for i in items
                if str(i.get("appointment_id")) == external_id]  # fmt: skip
        end = ends[0] if ends else start + datetime.timedelta(minutes=DEFAULT_MINUTES)
        word = str(record.get("status") or "")
        return _appointment_span(external_id, start, end, word, record, [])

    def _doctors(self) -> dict[str, list[str]]:
        """User IDs by name (the calendar names doctors only by name)."""
        doctors: dict[str, list[str]] = {}
        for user in self._every_page("v1/users", {}):
            doctors.setdefault(_name_key(user.get("name")), []).append(str(user["id"]))
        return doctors

    def _every_page(self, path: str, params: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        """Every item of a list, each page waiting out short 429s; a page that cannot be read,
        or a list longer than CALENDAR_PAGES pages, raises."""
        for page in range(1, CALENDAR_PAGES + 1):
            answer = self.read(path, params={**params, "page": page, "per_page": PAGE_SIZE})
            items = answer["data"] if isinstance(answer, Mapping) else answer
            if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
                raise TypeError(f"{path} items")
            yield from items
            meta = answer.get("meta") if isinstance(answer, Mapping) else None
            if not isinstance(meta, Mapping) or page >= int(meta.get("last_page") or 1):
                return
        raise VendorError(
            _("Flextell lists more than %(count)d records at /%(path)s; the calendar was not read.")
            % {"count": CALENDAR_PAGES * PAGE_SIZE, "path": path},
            vendor=self.vendor,
        )

    # -- onboarding (issue 12; see the module's docstring) ---------------------------------

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        readers: dict[str, Callable[[], Iterator[ImportedRecord]]] = {
            "practitioners": self._import_doctors,
            "rooms": lambda: self._import("rooms", "v1/rooms", _room_fields),
            "types": lambda: self._import("types", "v1/treatments", _treatment_fields),
            "patients": lambda: self._import("patients", "v1/customers", self._customer_fields),
        }
        if kind not in readers:
            return super().import_records(kind)
        return readers[kind]()

    def _import(
        self,
        kind: str,
        path: str,
        build: Callable[[Mapping[str, Any]], dict[str, Any]],
        params: Mapping[str, Any] | None = None,
    ) -> Iterator[ImportedRecord]:
        for item in self._import_pages(path, params or {}, kind):
            yield _imported(kind, item, build)

    def _import_doctors(self) -> Iterator[ImportedRecord]:
        role = str(self.settings.option("doctor_role") or DOCTOR_ROLE)
        for item in self._import_pages("v1/users", {"role": role}, "practitioners"):
            if _has_other_roles(item, role):
                continue  # not a doctor: the server did not filter by role
            yield _imported("practitioners", item, _doctor_fields)

    def _customer_fields(self, item: Mapping[str, Any]) -> dict[str, Any]:
        national_id = _field(item, "identity_number")
        kind = self.settings.option("identity_type") or ("rut" if _is_rut(national_id) else "other")
        return _filled({
            "given_name": _field(item, "first_name"),
            "family_name": _field(item, "last_name"),
            "birth_date": _birth_date(item.get("date_of_birth")),
            "sex": _choice(item, "gender", SEXES),
            "phone": _field(item, "phone_number"),
            "email": _field(item, "email"),
            "national_id": national_id,
            "national_id_type": str(kind) if national_id else "",
        }) | _named(item)  # fmt: skip

    def _import_pages(self, path: str, params: Mapping[str, Any], what: str) -> Iterator[Any]:
        """Every item of a list, each page read when the previous one is consumed."""
        per_page = self.import_per_page
        first: list[Any] = []
        for page in range(1, MAX_IMPORT_PAGES + 1):
            try:
                answer = self.read(path, params={**params, "page": page, "per_page": per_page})
            except VendorError as error:
                raise self._list_failed(error, what, page) from None
            if len(self.exchanges) > KEEP_EXCHANGES:
                del self.exchanges[:-KEEP_EXCHANGES]
            items, meta = self._page_of(answer, what, page)
            if page > 1 and meta is None and items and items[:1] == first:
                return  # the same page again: a server that answers the whole list at once
            first = items[:1] if page == 1 else first
            yield from items
            if meta is None:
                if len(items) < per_page:
                    return
                continue
            last = meta.get("last_page")
            if not isinstance(last, int) or isinstance(last, bool) or (page < last and not items):
                raise self._list_unreadable(what, page)
            if page >= last:
                return
        raise UnexpectedResponse(
            _(
                "Flextell's list of %(what)s did not end after %(pages)d pages; the import "
                "stopped there."
            )
            % {"what": KIND_LABELS.get(what, what), "pages": MAX_IMPORT_PAGES},
            vendor=self.vendor,
        )

    def _page_of(
        self, answer: Any, what: str, page: int
    ) -> tuple[list[Any], Mapping[str, Any] | None]:
        """A page's items and its `meta` (None when the list has none, as users)."""
        items = answer.get("data") if isinstance(answer, Mapping) else answer
        meta = answer.get("meta") if isinstance(answer, Mapping) else None
        if not isinstance(items, list) or (meta is not None and not isinstance(meta, Mapping)):
            raise self._list_unreadable(what, page)
        return items, meta

    # -- patients not mapped yet (issue 12; see the module's docstring) -------------------

    def search_patients(self, criterion: str, patient: PatientDetails) -> list[str]:
        found: dict[str, None] = {}
        for term in _search_terms(criterion, patient):
            for item in self._customers(term, criterion):
                key = _id_text(item.get("id")) if isinstance(item, Mapping) else ""
                if key and _same_customer(criterion, patient, item):
                    found.setdefault(key, None)
        return list(found)

    def _customers(self, term: str, criterion: str) -> Iterator[Any]:
        """Every customer `GET /v1/customers?search=` answers for one term, page after page."""
        for page in range(1, SEARCH_PAGES + 1):
            params = {"search": term, "page": page, "per_page": PAGE_SIZE}
            answer = self.read("v1/customers", params=params)
            items = answer.get("data") if isinstance(answer, Mapping) else None
            meta = answer.get("meta") if isinstance(answer, Mapping) else None
            last = meta.get("last_page") if isinstance(meta, Mapping) else None
            if not isinstance(items, list) or (meta is not None and not _whole(last)):
                raise UnexpectedResponse(
                    _("Flextell answered a customer search in a shape we cannot read."),
                    vendor=self.vendor,
                )
            yield from items
            if (meta is None and len(items) < PAGE_SIZE) or (meta is not None and page >= last):
                return
        raise VendorError(
            _(
                "Flextell has more than %(count)d customers answering a search by this "
                "patient's %(criterion)s, too many to tell them apart: map the patient to its "
                "Flextell customer in the admin (External IDs)."
            )
            % {"count": SEARCH_PAGES * PAGE_SIZE, "criterion": CRITERION_WORDS[criterion]},
            vendor=self.vendor,
        )

    # -- auth ---------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        tenant = str(self.settings.option("tenant", required=True))
        return {"Authorization": f"Bearer {self.token()}", "X-Tenant": tenant}

    def authenticate(self) -> tuple[str, datetime.timedelta]:
        """Trade the newest refresh token for an access token (and the next refresh token)."""
        initial = self.secret("refresh_token")
        seed = hashlib.sha256(initial.encode()).hexdigest()[:16]
        stored, origin = self.store.get(REFRESH_TOKEN), self.store.get(REFRESH_SEED)
        rotated = stored and stored[0] and origin and origin[0] == seed
        form = {
            "grant_type": "refresh_token",
            "refresh_token": stored[0] if rotated else initial,
            "client_id": self.secret("client_id"),
            "client_secret": self.secret("client_secret"),
        }
        try:
            answer = self.call("POST", self._token_url(), form=form, authenticate=False)
        except NotFound:
            raise ConfigurationError(
                _(
                    "Flextell has no token endpoint at %(url)s; fix the option “token_url” in "
                    "the admin."
                )
                % {"url": self._token_url()},
                vendor=self.vendor,
            ) from None
        except (AuthenticationFailed, VendorValidationError) as error:
            raise AuthenticationFailed(
                _(
                    "Flextell refused our refresh token or client credentials; a manager must "
                    "connect Flextell again (new consent) and set the new refresh token."
                ),
                vendor=self.vendor,
                status=error.status,
                vendor_message=error.vendor_message,
            ) from None
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token:
            raise VendorError(
                _("Flextell's token endpoint answered without an access token."),
                vendor=self.vendor,
            )
        if isinstance(answer.get("refresh_token"), str) and answer["refresh_token"]:
            self.store.put(REFRESH_TOKEN, answer["refresh_token"])
            self.store.put(REFRESH_SEED, seed)
        lifetime = answer.get("expires_in")
        seconds = lifetime if isinstance(lifetime, int | float) else DEFAULT_TOKEN_LIFETIME
        return token, datetime.timedelta(seconds=seconds)

    def _token_url(self) -> str:
        configured = self.settings.option("token_url")
        if configured:
            return configured
        parts = urllib.parse.urlsplit(self.settings.base_url)
        return f"{parts.scheme}://{parts.netloc}/oauth/token"

    def url(self, path: str) -> str:
        # The token endpoint lives beside the API, not under it.
        if path.startswith(("http://", "https://")):
            return path
        return super().url(path)

    # -- errors -------------------------------------------------------------------------

    def message_of(self, body: Any) -> str:
        if isinstance(body, Mapping) and isinstance(body.get("error_description"), str):
            return body["error_description"]
        return super().message_of(body)

    def error_for(self, status: int, body: Any, response: Any) -> VendorError:
        if status == 409:
            said = self.message_of(body)
            common = {"vendor": self.vendor, "status": status, "vendor_message": said}
            if isinstance(body, Mapping) and body.get("error") == "slot_unavailable":
                return SlotUnavailable(
                    _("Flextell says this time is already taken; choose another time."), **common
                )
            return VendorValidationError(
                _("Flextell refused the change: %(said)s.")
                % {"said": said or _("conflict with the current state")},
                **common,
            )
        return super().error_for(status, body, response)

    # -- mapping ------------------------------------------------------------------------

    def _appointment(self, data: Mapping[str, Any], *, written: bool = False) -> VendorAppointment:
        if data.get("id") in (None, ""):
            if written:
                raise self.answered_without(_("an appointment id"))
            raise VendorError(_("Flextell answered without an appointment id."), vendor=self.vendor)
        status = str(data.get("status") or "")
        return VendorAppointment(
            external_id=str(data["id"]),
            vendor_status=status,
            status=STATUSES.get(status),
            details={
                "code": data.get("code"),
                "scheduled_at": data.get("scheduled_at"),
                "doctor_id": _doctor_id(data),
                "room_id": data.get("room_id"),
            },
        )

    def _pages(
        self, path: str, params: Mapping[str, Any], *, pages: int = MAX_PAGES, whole: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Every item of a (Laravel-style) paginated list, up to `pages` pages. With `whole`,
        a list that does not end within `pages` pages and LOOKUP_SECONDS raises
        LookupIncomplete instead of ending early."""
        deadline = time.monotonic() + LOOKUP_SECONDS
        for page in range(1, pages + 1):
            answer = self.call("GET", path, params={**params, "page": page, "per_page": PAGE_SIZE})
            items = answer.get("data") if isinstance(answer, Mapping) else answer
            yield from (item for item in items or [] if isinstance(item, dict))
            meta = answer.get("meta") if isinstance(answer, Mapping) else None
            if not isinstance(meta, Mapping) or page >= int(meta.get("last_page") or 1):
                return
            if whole and time.monotonic() > deadline:
                raise self._incomplete(page)
        if whole:
            raise self._incomplete(pages)

    def _incomplete(self, pages: int) -> LookupIncomplete:
        return LookupIncomplete(
            _(
                "Flextell lists more appointments for that day than we could read (%(pages)d "
                "pages), so we cannot tell whether an earlier attempt booked this: check "
                "Flextell, then retry here only if it is not there."
            )
            % {"pages": pages},
            vendor=self.vendor,
        )

    def _same_time(self, value: Any, moment: datetime.datetime) -> bool:
        try:
            return isinstance(value, str) and self.parse_time(value) == moment
        except ValueError:
            return False


def _doctor_id(data: Mapping[str, Any]) -> int | None:
    doctor = data.get("doctor")
    if isinstance(doctor, Mapping) and isinstance(doctor.get("id"), int):
        return doctor["id"]
    return data.get("user_id") if isinstance(data.get("user_id"), int) else None


class _Wanted:
    """Which spans a read returns: ours wherever they are; others in the window, of mapped
    doctors or rooms (all when neither is mapped)."""

    def __init__(self, query: CalendarQuery) -> None:
        self.query = query
        self.ours = set(query.ours)
        self.doctors, self.rooms = set(query.practitioners), set(query.rooms)

    def __call__(self, span: BusySpan) -> bool:
        if span.external_id and span.external_id in self.ours:
            return True
        if not (span.start < self.query.end and self.query.start < span.end):
            return False
        if not self.doctors and not self.rooms:
            return True
        return span.practitioner in self.doctors or span.room in self.rooms


def _appointment_span(
    external_id: str,
    start: datetime.datetime,
    end: datetime.datetime,
    word: str,
    record: Mapping[str, Any],
    named: list[str],
) -> BusySpan:
    doctor = _doctor_id(record)
    lone = named[0] if len(named) == 1 else ""
    practitioner = str(doctor) if doctor is not None else lone
    return BusySpan(
        start,
        end,
        kind=APPOINTMENT,
        external_id=external_id,
        practitioner=practitioner,
        room=_text(record.get("room_id")),
        patient=_text(record.get("customer_id")),
        vendor_status=word,
        status=STATUSES.get(word),
        active=word not in INACTIVE,
    )


def _ranges(
    first: datetime.date, last: datetime.date
) -> Iterator[tuple[datetime.date, datetime.date]]:
    """[first, last] in ranges of CALENDAR_CHUNK_DAYS days, each sharing its last day with the
    next (whether Flextell's `to` is inclusive is not documented)."""
    start = first
    while True:
        end = min(start + datetime.timedelta(days=CALENDAR_CHUNK_DAYS), last)
        yield start, end
        if end >= last:
            return
        start = end


def _moment(value: Any, zone: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(zone))
    return moment.astimezone(datetime.UTC)


def _name_key(name: Any) -> str:
    return " ".join(str(name or "").split()).casefold()


def _text(value: Any) -> str:
    return "" if value in (None, "") else str(value)


# -- onboarding: one listed record in our model's words ------------------------------------------


class Malformed(ValueError):
    """What is wrong with a listed record, in words that quote none of its data."""


def _imported(
    kind: str, item: Any, build: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> ImportedRecord:
    if not isinstance(item, Mapping):
        return ImportedRecord(kind, "", problem=_("an item of the list is not an object"))
    key = _id_text(item.get("id"))
    if not key:
        return ImportedRecord(kind, "", problem=_("it has no valid id"))
    try:
        return ImportedRecord(kind, key, build(item))
    except Malformed as wrong:
        return ImportedRecord(kind, key, problem=str(wrong))
    except SHAPE_ERRORS as error:
        problem = _("it cannot be read (%(error)s)") % {"error": type(error).__name__}
        return ImportedRecord(kind, key, problem=problem)


def _has_other_roles(item: Any, role: str) -> bool:
    """Whether a listed user's roles are given and `role` is not among them."""
    roles = item.get("roles") if isinstance(item, Mapping) else None
    if not isinstance(roles, list):
        return False  # not said: the role filter is trusted
    names = {str(r.get("name", "")).casefold() for r in roles if isinstance(r, Mapping)}
    return role.casefold() not in names


def _doctor_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    title = _field(item, "title")
    given, family = _field(item, "first_name"), _field(item, "last_name")
    if not (given or family):
        words = _field(item, "name").split()
        if words and (words[0].casefold() == title.casefold() or words[0].casefold() in TITLES):
            title = title or words[0]
            words = words[1:]
        given, family = " ".join(words[:-1]), " ".join(words[-1:])
    if not (given or family):
        raise Malformed(_("it has no name"))
    fields = {"title": title, "given_name": given, "family_name": family,
              "email": _field(item, "email"), "phone": _field(item, "phone")}  # fmt: skip
    return _filled(fields) | _flag(item, "is_active")


def _room_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": _required_name(item)}
    status = item.get("status")
    if status is not None:
        if status not in ROOM_STATUSES:
            raise Malformed(
                _("its status is not one Flextell documents (active, inactive, maintenance)")
            )
        fields["active"] = ROOM_STATUSES[status]
    return fields


def _treatment_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"name": _required_name(item)} | _flag(item, "is_active")


def _named(item: Mapping[str, Any]) -> dict[str, Any]:
    """Nothing; raises when a customer has neither first nor last name."""
    if not (_field(item, "first_name") or _field(item, "last_name")):
        raise Malformed(_("it has no name"))
    return {}


def _required_name(item: Mapping[str, Any]) -> str:
    name = _field(item, "name")
    if not name:
        raise Malformed(_("it has no name"))
    return name


def _birth_date(value: Any) -> datetime.date | None:
    """A date (YYYY-MM-DD), or a date-time whose date is taken as written."""
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise Malformed(_("its date of birth is not a date (YYYY-MM-DD)")) from None


def _choice(item: Mapping[str, Any], key: str, choices: Mapping[str, str]) -> str:
    word = _field(item, key).casefold()
    if word and word not in choices:
        raise Malformed(_("its %(field)s is not one Flextell documents") % {"field": key})
    return choices.get(word, "")


def _flag(item: Mapping[str, Any], key: str) -> dict[str, bool]:
    """`active` from a flag Flextell writes as a boolean, 1/0 or their text."""
    value = item.get(key)
    if value is None:
        return {}
    found = FLAGS.get(value.strip().lower() if isinstance(value, str) else value)
    if found is None or isinstance(value, float):
        raise Malformed(_("its %(field)s is not true or false") % {"field": key})
    return {"active": found}


def _is_rut(value: str) -> bool:
    """Whether an identity number is a Chilean RUT with a valid check digit."""
    found = RUT.match(value.strip())
    if found is None:
        return False
    number = int(found.group(1).replace(".", ""))
    total = sum(int(digit) * (2 + n % 6) for n, digit in enumerate(reversed(str(number))))
    expected = {10: "K", 11: "0"}.get(11 - total % 11, str(11 - total % 11))
    return found.group(2).upper() == expected


def _field(item: Mapping[str, Any], key: str) -> str:
    value = item.get(key)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Malformed(_("its %(field)s is not text") % {"field": key.replace("_", " ")})
    return str(value).strip()


def _filled(fields: dict[str, Any]) -> dict[str, Any]:
    """Only what Flextell says something about: empty values are left out."""
    return {key: value for key, value in fields.items() if value not in (None, "")}


def _id_text(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int):
        return str(value) if value > 0 else ""
    return value.strip() if isinstance(value, str) and value.strip().isdigit() else ""


# -- patients not mapped yet (issue 12; see the module's docstring) ---------------------------


def _search_terms(criterion: str, patient: PatientDetails) -> list[str]:
    """What `search` is asked to look for `patient` by one criterion."""
    if criterion == "national_id":
        terms = [patient.national_id.strip(), *_id_forms(patient.national_id)]
    elif criterion == "email":
        terms = [patient.email.strip()]
    elif criterion == "phone":
        digits = _digits(patient.phone)
        terms = [patient.phone.strip(), digits[-4:] if len(digits) >= PHONE_DIGITS else ""]
    elif criterion == "name_birth_date" and patient.birth_date:
        terms = [patient.family_name.strip()]
    else:
        terms = []
    return [term for term in dict.fromkeys(terms) if term]


def _id_forms(national_id: str) -> list[str]:
    """A Chilean RUT with and without its dots; any other ID without its separators."""
    found = RUT.match(national_id.strip())
    if found is None:
        return [_compact(national_id)]
    number, check = int(found.group(1).replace(".", "")), found.group(2).upper()
    return [f"{number:,}".replace(",", ".") + f"-{check}", f"{number}-{check}"]


def _same_customer(criterion: str, patient: PatientDetails, item: Mapping[str, Any]) -> bool:
    """Whether a listed customer is ours by exactly this criterion (a record we cannot read
    is not)."""
    if criterion == "national_id":
        theirs = item.get("identity_number")
        ours = _compact(patient.national_id)
        return bool(ours) and isinstance(theirs, str) and _compact(theirs) == ours
    if criterion == "email":
        theirs = item.get("email")
        ours = patient.email.strip().casefold()
        return bool(ours) and isinstance(theirs, str) and theirs.strip().casefold() == ours
    if criterion == "phone":
        return _same_phone(patient.phone, item.get("phone_number"))
    if criterion != "name_birth_date" or patient.birth_date is None:
        return False
    return (
        str(item.get("date_of_birth") or "")[:10] == patient.birth_date.isoformat()
        and _folded(item.get("first_name")) == _folded(patient.given_name) != ""
        and _folded(item.get("last_name")) == _folded(patient.family_name) != ""
    )


def _same_phone(ours: str, theirs: Any) -> bool:
    """The same digits, or one number ending with the other (at least PHONE_DIGITS digits:
    with or without the country code)."""
    mine, other = _digits(ours), _digits(theirs) if isinstance(theirs, str) else ""
    if not mine or not other:
        return False
    shorter, longer = sorted((mine, other), key=len)
    return shorter == longer or (len(shorter) >= PHONE_DIGITS and longer.endswith(shorter))


def _digits(value: str) -> str:
    return "".join(character for character in value if character.isdigit())


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _compact(value: str) -> str:
    """An ID without dots, dashes, spaces or case."""
    return "".join(character for character in value if character.isalnum()).casefold()


def _folded(value: Any) -> str:
    """A name compared without case, accents or spacing ("" for anything but text)."""
    if not isinstance(value, str):
        return ""
    plain = unicodedata.normalize("NFKD", value)
    plain = "".join(character for character in plain if not unicodedata.combining(character))
    return " ".join(plain.casefold().split())
