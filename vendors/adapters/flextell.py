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
"""

from __future__ import annotations

import datetime
import hashlib
import time
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

from scheduling.localtime import utc_iso
from vendors.base import NUMBER, Adapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    LookupIncomplete,
    NotFound,
    SlotUnavailable,
    VendorError,
    VendorValidationError,
)
from vendors.types import BookingRequest, VendorAppointment

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
        "patient": "customer",
        "practitioner": "user (doctor)",
        "appointment_type": "treatment",
        "assistant": "user",
        "follow_up_of": "appointment (deliver it first)",
    }
    # Patient data in Flextell's answers and queries (a customer search is a name), and the
    # OAuth client id (not a secret, but one of the connection's credentials).
    sensitive_keys = frozenset(
        {"customer", "gender", "job", "country_name", "avatar_url", "tags", "client_id", "search"}
    )
    token_name = "access_token"
    token_margin = datetime.timedelta(seconds=60)

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
        rooms = f"{total} rooms" if total is not None else "its rooms"
        return f"Flextell tenant {tenant} answered with {rooms}."

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
                f"Flextell has no token endpoint at {self._token_url()}; fix the option "
                "“token_url” in the admin.",
                vendor=self.vendor,
            ) from None
        except (AuthenticationFailed, VendorValidationError) as error:
            raise AuthenticationFailed(
                "Flextell refused our refresh token or client credentials; a manager must "
                "connect Flextell again (new consent) and set the new refresh token.",
                vendor=self.vendor,
                status=error.status,
                vendor_message=error.vendor_message,
            ) from None
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token:
            raise VendorError(
                "Flextell's token endpoint answered without an access token.", vendor=self.vendor
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
                    "Flextell says this time is already taken; choose another time.", **common
                )
            return VendorValidationError(
                f"Flextell refused the change: {said or 'conflict with the current state'}.",
                **common,
            )
        return super().error_for(status, body, response)

    # -- mapping ------------------------------------------------------------------------

    def _appointment(self, data: Mapping[str, Any], *, written: bool = False) -> VendorAppointment:
        if data.get("id") in (None, ""):
            if written:
                raise self.answered_without("an appointment id")
            raise VendorError("Flextell answered without an appointment id.", vendor=self.vendor)
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
            f"Flextell lists more appointments for that day than we could read "
            f"({pages} pages), so we cannot tell whether an earlier attempt booked this: "
            "check Flextell, then retry here only if it is not there.",
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
