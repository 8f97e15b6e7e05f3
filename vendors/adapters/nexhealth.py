"""NexHealth Synchronizer API (v3.0.0): payloads, paths and status tables.

Writes are asynchronous: `POST /appointments` answers 201 once NexHealth has *accepted* the
appointment; it reaches the practice's EHR later and NexHealth then sends the webhook
`appointment_insertion.complete` (or `.failed` / `.timed_out`). `book` therefore returns
`settled=False`; the delivery settles on `parse_webhook` or on `lookup` (foreign_id set).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from scheduling.localtime import utc_iso
from vendors.base import NUMBER, Adapter
from vendors.errors import (
    ConfigurationError,
    UnexpectedResponse,
    VendorError,
    VendorValidationError,
)
from vendors.types import BookingRequest, VendorAppointment

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
        return body.get("data")

    def _appt(self, data: Any) -> Mapping[str, Any]:
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
    return WebhookEvent(event, appointment.external_id, sync, appointment, sent_at)


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
