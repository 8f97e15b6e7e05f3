"""What every adapter shares: transport, timeouts, auth hooks, redaction and error mapping.

A vendor module only maps payloads, paths and status tables (after django-anymail).
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import functools
import json
import logging
import os
import time
from collections.abc import Mapping
from typing import Any, Protocol

import requests

from vendors.errors import (
    AuthenticationFailed,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    UnexpectedResponse,
    VendorConfigurationError,
    VendorError,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.types import BookingRequest, Exchange, PatientDetails, VendorAppointment

logger = logging.getLogger("vendors")

MAX_CONNECT_TIMEOUT = 3.0
MAX_READ_TIMEOUT = 10.0
MAX_BODY_BYTES = 2 * 1024 * 1024
OPERATIONS = ("book", "cancel", "find", "lookup", "reference", "check", "register_patient")
# What reading a vendor's answer of the wrong shape raises (a missing key, a list for a dict).
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)
REDACTED = "***"
# Keys whose values never reach a log or the attempt log: secrets and patient data. Compared
# without case, "_" or "-", so that first_name, firstName and FIRST-NAME all match.
SENSITIVE_KEYS = {
    "authorization", "token", "accesstoken", "refreshtoken", "password", "secret",
    "clientsecret", "apikey", "xapikey", "sessionid", "username",
    "nombre", "apellidos", "nombresocial", "nombrepaciente", "nombresocialpaciente",
    "firstname", "lastname", "middlename", "name", "fullname", "email", "phone",
    "phonenumber", "celular", "telefono", "rut", "identitynumber", "dateofbirth",
    "fechanacimiento", "dob", "bio", "comentario", "comentarios", "description", "note",
    "reason", "cancellationreason", "address",
}  # fmt: skip


def _sensitive(key: object) -> bool:
    return str(key).lower().replace("_", "").replace("-", "") in SENSITIVE_KEYS


def redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if _sensitive(key) else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


class SecretStore(Protocol):
    """Where an adapter keeps what it must remember between calls and processes: access
    tokens until they expire, rotated refresh tokens. Backed by the database (encrypted)."""

    def get(self, name: str) -> tuple[str, datetime.datetime | None] | None: ...

    def put(self, name: str, value: str, expires_at: datetime.datetime | None = None) -> None: ...


class MemoryStore:
    """A SecretStore for tests and one-off calls."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[str, datetime.datetime | None]] = {}

    def get(self, name: str) -> tuple[str, datetime.datetime | None] | None:
        return self.values.get(name)

    def put(self, name: str, value: str, expires_at: datetime.datetime | None = None) -> None:
        self.values[name] = (value, expires_at)


@dataclasses.dataclass(frozen=True)
class ConnectionSettings:
    """How to reach one clinic's PMS. `secrets` maps a role (e.g. "api_key") to the NAME of
    the environment variable holding it; secrets themselves are never stored here."""

    vendor: str
    base_url: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    connect_timeout: float = MAX_CONNECT_TIMEOUT
    read_timeout: float = MAX_READ_TIMEOUT

    def option(self, name: str, default: Any = None, *, required: bool = False) -> Any:
        value = self.options.get(name, default)
        if required and value in (None, ""):
            raise VendorConfigurationError(
                f"The {self.vendor} connection needs the option “{name}”; set it in the admin.",
                vendor=self.vendor,
            )
        return value


class Adapter:
    """One PMS. Subclasses set `vendor`/`label` and implement the operations they offer."""

    vendor = ""
    label = ""
    # Whether `find` can look up an appointment an earlier, unanswered attempt may have made.
    supports_lookup = True
    supports_cancel = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every operation turns an answer of the wrong shape into UnexpectedResponse."""
        super().__init_subclass__(**kwargs)
        for name in OPERATIONS:
            if name in cls.__dict__:
                setattr(cls, name, _typed_answers(cls.__dict__[name]))

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        store: SecretStore | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or MemoryStore()
        self.session = session or requests.Session()
        self.exchanges: list[Exchange] = []

    # -- operations ---------------------------------------------------------------------

    def book(self, request: BookingRequest) -> VendorAppointment:
        raise NotImplementedError

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        raise NotSupported(
            f"{self.label} offers no cancellation through its API: cancel the appointment in "
            f"{self.label} too.",
            vendor=self.vendor,
        )

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        """The appointment an earlier attempt of this request created, if any."""
        raise NotSupported(
            f"{self.label} offers no way to look up an appointment.", vendor=self.vendor
        )

    def register_patient(self, patient: PatientDetails) -> str:
        """Create the patient at the PMS; returns the PMS's ID for them."""
        raise NotSupported(
            f"{self.label} patients cannot be created through its API: register the patient "
            f"in {self.label} and map its ID in the admin (External IDs).",
            vendor=self.vendor,
        )

    @property
    def registers_patients(self) -> bool:
        return type(self).register_patient is not Adapter.register_patient

    def lookup(self, external_id: str) -> VendorAppointment:
        """The current state of a known appointment (used to settle accepted writes)."""
        raise NotSupported(
            f"{self.label} offers no way to read an appointment.", vendor=self.vendor
        )

    def reference(self, kind: str) -> list[dict[str, Any]]:
        """Reference data the PMS offers (practitioners, rooms, types...), as plain dicts."""
        raise NotSupported(f"{self.label} offers no “{kind}” list.", vendor=self.vendor)

    def check(self) -> str:
        """One cheap authenticated call; returns a line saying what answered."""
        raise NotImplementedError

    # -- hooks for subclasses ------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {}

    def reauthenticate(self) -> bool:
        """Drop cached credentials after a 401; True if a retry may now succeed."""
        return False

    def message_of(self, body: Any) -> str:
        """The vendor's own error text in an error body."""
        if isinstance(body, Mapping):
            for key in ("message", "error", "description"):
                value = body.get(key)
                if isinstance(value, str) and value:
                    return value
                if isinstance(value, Mapping) and isinstance(value.get("message"), str):
                    return value["message"]
        return ""

    def error_for(self, status: int, body: Any, response: requests.Response) -> VendorError:
        """Map an HTTP error answer to the error class that says what to do next."""
        said = self.message_of(body)
        common = {"vendor": self.vendor, "status": status, "vendor_message": said}
        if status == 429:
            return RateLimited(
                f"{self.label} asks us to slow down; the booking will be sent again shortly.",
                retry_after=retry_after(response, body),
                **common,
            )
        if status in (408, 425, 503):
            return VendorUnavailable(
                f"{self.label} is unavailable (HTTP {status}); it will be tried again.", **common
            )
        if status in (500, 502, 504):
            return OutcomeUnknown(
                f"{self.label} failed (HTTP {status}) and may or may not have stored the "
                "booking; it will be checked before sending again.",
                **common,
            )
        if status in (401, 403):
            return AuthenticationFailed(
                f"{self.label} refused our credentials (HTTP {status}); a manager must check "
                "the connection's API key or token.",
                **common,
            )
        if status == 404:
            return NotFound(f"{self.label} does not know this record (HTTP 404).", **common)
        if status == 409:
            return SlotUnavailable(
                f"{self.label} says this time is already taken; choose another time.", **common
            )
        if status in (400, 422):
            return VendorValidationError(
                f"{self.label} refused the booking: {said or 'invalid data'}.", **common
            )
        return VendorError(f"{self.label} answered HTTP {status}.", **common)

    # -- transport -----------------------------------------------------------------------

    def secret(self, role: str) -> str:
        variable = self.settings.secrets.get(role)
        value = os.environ.get(variable or "")
        if not variable or not value:
            raise VendorConfigurationError(
                f"The {self.label} connection has no {role.replace('_', ' ')}: set the "
                f"environment variable {variable or '(none named)'} and name it on the "
                "connection.",
                vendor=self.vendor,
            )
        return value

    def url(self, path: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{path.lstrip('/')}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        expect_json: bool = True,
    ) -> Any:
        """One HTTP call with the connection's timeouts; errors come back typed."""
        try:
            return self._call(method, path, params, json_body, form, headers, authenticate,
                              expect_json)  # fmt: skip
        except AuthenticationFailed:
            if authenticate and self.reauthenticate():
                return self._call(method, path, params, json_body, form, headers, True,
                                  expect_json)  # fmt: skip
            raise

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        json_body: Any,
        form: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        authenticate: bool,
        expect_json: bool,
    ) -> Any:
        writes = method.upper() not in ("GET", "HEAD")
        all_headers = {"Accept": "application/json", **(headers or {})}
        if authenticate:
            all_headers.update(self.auth_headers())
        url = self.url(path)
        exchange = Exchange(method.upper(), url, None, 0, redact(json_body or form), None)
        self.exchanges.append(exchange)
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=form,
                headers=all_headers,
                timeout=(
                    min(self.settings.connect_timeout, MAX_CONNECT_TIMEOUT),
                    min(self.settings.read_timeout, MAX_READ_TIMEOUT),
                ),
            )
        except requests.ConnectTimeout as error:
            raise self._transport_error(exchange, started, error, sent=False) from None
        except requests.ReadTimeout as error:
            raise self._transport_error(exchange, started, error, sent=writes) from None
        except requests.ConnectionError as error:
            sent = writes and not _refused(error)
            raise self._transport_error(exchange, started, error, sent=sent) from None
        except requests.RequestException as error:
            raise self._transport_error(exchange, started, error, sent=writes) from None
        exchange.latency_ms = int((time.monotonic() - started) * 1000)
        exchange.status = response.status_code
        if len(response.content) > MAX_BODY_BYTES:
            exchange.error = "oversized answer"
            raise UnexpectedResponse(
                f"{self.label} answered {len(response.content) // 1024} KB, far more than a "
                "booking answer; it will be checked before sending again.",
                vendor=self.vendor,
                status=response.status_code,
            )
        body = _json_or_text(response)
        exchange.response = redact(body)
        logger.info(
            "%s %s %s -> %s in %sms",
            self.vendor, method.upper(), path, response.status_code, exchange.latency_ms,
        )  # fmt: skip
        if response.status_code >= 400:
            error = self.error_for(response.status_code, body, response)
            exchange.error = type(error).__name__
            raise error
        if expect_json and not isinstance(body, dict | list):
            exchange.error = "malformed answer"
            raise UnexpectedResponse(
                f"{self.label} answered something that is not JSON; the booking will be "
                "checked before sending again.",
                vendor=self.vendor,
                status=response.status_code,
            )
        return body

    def _transport_error(
        self, exchange: Exchange, started: float, error: Exception, *, sent: bool
    ) -> VendorError:
        exchange.latency_ms = int((time.monotonic() - started) * 1000)
        exchange.error = type(error).__name__
        logger.warning("%s %s %s failed: %s", self.vendor, exchange.method, exchange.url,
                       type(error).__name__)  # fmt: skip
        if sent:
            return OutcomeUnknown(
                f"{self.label} did not answer in time after receiving the request; the "
                "booking will be checked before sending again.",
                vendor=self.vendor,
            )
        return VendorUnavailable(
            f"{self.label} cannot be reached; it will be tried again.", vendor=self.vendor
        )

    def parse_time(self, value: str) -> datetime.datetime:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} has no UTC offset")
        return moment.astimezone(datetime.UTC)


def _typed_answers(operation: Any) -> Any:
    @functools.wraps(operation)
    def wrapper(self: Adapter, *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(self, *args, **kwargs)
        except VendorError:
            raise
        except SHAPE_ERRORS as error:
            logger.warning("%s %s: unreadable answer (%s)", self.vendor, operation.__name__,
                           type(error).__name__)  # fmt: skip
            raise UnexpectedResponse(
                f"{self.label} answered in a shape we cannot read; it will be checked before "
                "sending again.",
                vendor=self.vendor,
            ) from None

    return wrapper


def _refused(error: requests.ConnectionError) -> bool:
    """Connection refused or name unknown: nothing reached the vendor."""
    text = repr(error)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "NameResolutionError")
    )


def _json_or_text(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:2000]


def retry_after(response: requests.Response, body: Any = None) -> float | None:
    """Seconds to wait, from a Retry-After header (seconds or HTTP date) or the body."""
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            when = email.utils.parsedate_to_datetime(header)
            if when is not None:
                return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())
    if isinstance(body, Mapping):
        for key in ("retryAfter", "retry_after"):
            if isinstance(body.get(key), int | float):
                return float(body[key])
    return None
