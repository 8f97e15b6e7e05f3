"""NexHealth Synchronizer API (v3.0.0): payloads, paths and status tables.

Writes are asynchronous: `POST /appointments` answers 201 once NexHealth has *accepted* the
appointment; it reaches the practice's EHR later and NexHealth then sends the webhook
`appointment_insertion.complete` (or `.failed` / `.timed_out`). `book` therefore returns
`settled=False`; the delivery settles on `parse_webhook` or on `lookup` (foreign_id set).

The practice's calendar (DESIGN §8) is read from `GET /appointments` per location, in cursor
pages (`per_page` 1000, the documented maximum; the next page is asked with the previous
page's `page_info.end_cursor`; `page_info` sits beside `data` in the envelope), at most ten
requests a second (the documented limit of that endpoint: consecutive pages start at least
0.1 s after the previous one ended; a 429 is waited out by `read`). Without a cursor the
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
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import requests

from scheduling.localtime import utc_iso
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
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
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

# Reading the calendar: GET /appointments allows 10 requests a second per key; pages of the
# documented maximum; how far before the window the read starts and how far back the cursor.
APPOINTMENTS_PACE = 0.1
PER_PAGE = 1000
READ_BEFORE = datetime.timedelta(days=1)
CURSOR_OVERLAP = datetime.timedelta(minutes=2)
# Webhook events that carry an appointment changed in the EHR (DESIGN §8).
CALENDAR_EVENTS = ("appointment_created", "appointment_updated")

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
    # When the next GET /appointments may start (monotonic clock), and the last page_info.
    _appointments_ready = 0.0
    _page_info: Any = None

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
                "NexHealth never wrote this appointment to the practice's system and its start "
                "time has passed; book it again in the practice's system.",
                vendor=self.vendor,
            )
        return found

    def reference(self, kind: str) -> list[dict[str, Any]]:
        path = REFERENCE_PATHS.get(kind)
        if path is None:
            return super().reference(kind)
        subdomain = self._subdomain()
        if kind == "locations":
            return self._records(path, {"subdomain": subdomain})
        # Without a location option: the union over the institution's locations.
        location = self.settings.option("location_id")
        locations = [location] if location else [loc["id"] for loc in self.reference("locations")]
        found: dict[str, dict[str, Any]] = {}
        for each in locations:
            for item in self._records(path, {"subdomain": subdomain, "location_id": str(each)}):
                found.setdefault(str(item.get("id")), item)
        return list(found.values())

    def check(self) -> str:
        locations = self._list(
            self.call("GET", "locations", params={"subdomain": self._subdomain()})
        )
        return (
            f"NexHealth answered for the institution “{self._subdomain()}” with "
            f"{len(locations)} location(s)."
        )

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
            rows = self._rows(self._paced("appointments", page))
            info = self._page_info
            yield from rows
            more = info.get("has_next_page") if isinstance(info, Mapping) else None
            if more is False:
                return
            cursor = info.get("end_cursor") if more is True and rows else None
            if not isinstance(cursor, str) or not cursor or cursor in cursors:
                raise self._unreadable("its appointment pages")
            cursors.add(cursor)

    def _paced(self, path: str, params: Mapping[str, Any]) -> Any:
        """A GET /appointments no sooner than 0.1 s after the previous one ended."""
        wait = self._appointments_ready - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        try:
            return self.read(path, params=params)
        finally:
            self._appointments_ready = time.monotonic() + APPOINTMENTS_PACE

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
            raise self._unreadable("a list")
        return data

    def _unreadable(self, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            f"NexHealth answered the calendar read without {what}; nothing was changed.",
            vendor=self.vendor,
        )

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
                "NexHealth answered the authentication without a token; it will be tried again.",
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
                "NexHealth refused access to this institution or location (HTTP 403): check "
                "the connection's subdomain and location ID and that its API key belongs to "
                "that institution.",
                vendor=self.vendor,
                status=status,
                vendor_message=said,
            )
        return super().error_for(status, body, response)

    # -- mapping -------------------------------------------------------------------------

    def unwrap(self, body: Any, path: str) -> Any:
        """The `data` of NexHealth's envelope; `code: false` is a refusal even with a 2xx."""
        if not isinstance(body, Mapping) or "code" not in body:
            raise self.answered_without("its usual envelope")
        if body["code"] is not True:
            said = self.message_of(body)
            raise VendorValidationError(
                f"NexHealth refused the request: {said or 'no reason given'}.",
                vendor=self.vendor,
                vendor_message=said,
            )
        # Cursor-paged lists carry their page_info beside `data`.
        self._page_info = body.get("page_info")
        return body.get("data")

    def _appt(self, data: Any) -> Mapping[str, Any]:
        # Writes answer {"appt": {...}}; the documented GET /appointments/{id} answers the
        # appointment itself.
        if isinstance(data, Mapping) and "appt" not in data and "start_time" in data:
            data = {"appt": data}
        record = data.get("appt") if isinstance(data, Mapping) else None
        if not isinstance(record, Mapping) or record.get("id") in (None, ""):
            raise self.answered_without("the appointment")
        return record

    def _list(self, data: Any) -> list[Mapping[str, Any]]:
        if isinstance(data, Mapping):  # some lists come wrapped, e.g. {"appointments": [...]}
            data = next((value for value in data.values() if isinstance(value, list)), None)
        if not isinstance(data, list):
            raise UnexpectedResponse(
                "NexHealth answered a list call without a list.", vendor=self.vendor
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
            "The NexHealth connection has no webhook secret: paste the endpoint's secret_key "
            "into the connection in the admin.",
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
