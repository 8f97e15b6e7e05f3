"""What every adapter shares: the book flow, external-ID look-up, transport, timeouts,
token caching and re-authentication, envelope unwrapping, redaction and error mapping.

A vendor module only maps paths, payloads, status tables and errors, and supplies its auth
hook (after django-anymail's base backend).
"""

from __future__ import annotations

import dataclasses
import datetime
import email.utils
import functools
import hashlib
import http.cookiejar
import json
import logging
import os
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from vendors import allowed, pacing
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    Paced,
    RateLimited,
    SlotUnavailable,
    UnexpectedResponse,
    VendorError,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.redaction import REDACTED, SENSITIVE_KEYS, key_set, redact, redact_query
from vendors.types import (
    CRITERION_WORDS,
    KIND_LABELS,
    PATIENT_CRITERIA,
    BookingRequest,
    CalendarQuery,
    CalendarRead,
    Exchange,
    ImportedRecord,
    PatientDetails,
    PatientMatch,
    VendorAppointment,
)

__all__ = ["REDACTED", "Adapter", "ConnectionSettings", "IdFormat", "MemoryStore"]

logger = logging.getLogger("vendors")

MAX_CONNECT_TIMEOUT = 3.0
MAX_READ_TIMEOUT = 10.0
MAX_BODY_BYTES = 2 * 1024 * 1024
OPERATIONS = (
    "book", "cancel", "find", "lookup", "reference", "check", "register_patient",
    "read_calendar", "is_free", "search_patients",
)  # fmt: skip
# Operations that only read: an unreadable answer of theirs changes nothing at the vendor.
READ_OPERATIONS = ("read_calendar", "is_free", "reference", "check", "search_patients")
# The longest Retry-After a read waits for in place; a longer one ends the read.
MAX_RATE_WAIT = 5.0
# How long a call waits in place for its vendor's documented pace (vendors.pacing) before it
# ends as Paced, nothing sent. Before the adapter has sent anything, briefly (`pace_wait`): a
# delivery then waits its turn in the queue, its worker thread free for other PMSs, and a
# pre-flight does not hold the desk. Once it has sent a call, as long as the window of any
# documented limit lasts: a delivery half done goes on, where starting over later would spend
# again the allowance its first calls took (under a saturated limit, deliveries cut short
# in turn would take it all, and none would end). Pulls and imports always wait that long.
MAX_PACE_WAIT = 0.5
STARTED_PACE_WAIT = 10.0
# What reading a vendor's answer of the wrong shape raises (a missing key, a list for a dict).
SHAPE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError)


# -- external IDs ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class IdFormat:
    """How one vendor's IDs read: `parse` turns the stored text into what the API takes, or
    raises ValueError."""

    description: str  # plural: "whole numbers"
    parse: Callable[[str], Any]


def _number(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    return int(str(value).strip())


def _positive_number(value: Any) -> int:
    number = _number(value)
    if number <= 0:
        raise ValueError(value)
    return number


TEXT = IdFormat(gettext_lazy("text"), str)
NUMBER = IdFormat(gettext_lazy("whole numbers"), _number)
POSITIVE_NUMBER = IdFormat(gettext_lazy("whole numbers above 0"), _positive_number)
UUID = IdFormat(gettext_lazy("UUIDs"), lambda value: str(uuid.UUID(str(value))))

# What the desk calls the record behind each role of BookingRequest.refs.
ROLE_WORDS = {
    "appointment": pgettext_lazy("record of a booking", "appointment"),
    "appointment_type": pgettext_lazy("record of a booking", "appointment type"),
    "assistant": pgettext_lazy("record of a booking", "assistant"),
    "follow_up_of": pgettext_lazy("record of a booking", "earlier appointment"),
    "guardian": pgettext_lazy("record of a booking", "owner (guardian)"),
    "location": pgettext_lazy("record of a booking", "location"),
    "patient": pgettext_lazy("record of a booking", "patient"),
    "practitioner": pgettext_lazy("record of a booking", "practitioner"),
    "room": pgettext_lazy("record of a booking", "room"),
    "specialty": pgettext_lazy("record of a booking", "specialty"),
}


def role_words(role: str) -> str:
    return str(ROLE_WORDS.get(role, role.replace("_", " ")))


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

    def option(
        self,
        name: str,
        default: Any = None,
        *,
        required: bool = False,
        kind: IdFormat | None = None,
    ) -> Any:
        value = self.options.get(name, default)
        if required and value in (None, ""):
            raise ConfigurationError(
                _("The %(vendor)s connection needs the option “%(option)s”; set it in the admin.")
                % {"vendor": self.vendor, "option": name},
                vendor=self.vendor,
            )
        if kind is None or value in (None, ""):
            return value
        try:
            return kind.parse(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                _(
                    "The %(vendor)s connection's option “%(option)s” takes %(kind)s, not "
                    "“%(value)s”; fix it in the admin."
                )
                % {"vendor": self.vendor, "option": name, "kind": kind.description, "value": value},
                vendor=self.vendor,
            ) from None


def _typed_answers(operation: Any) -> Any:
    """An operation that turns an answer of the wrong shape into UnexpectedResponse."""

    @functools.wraps(operation)
    def wrapper(self: Adapter, *args: Any, **kwargs: Any) -> Any:
        try:
            return operation(self, *args, **kwargs)
        except (VendorError, ConfigurationError):
            raise
        except SHAPE_ERRORS as error:
            logger.warning("%s %s: unreadable answer (%s)", self.vendor, operation.__name__,
                           type(error).__name__)  # fmt: skip
            if operation.__name__ in READ_OPERATIONS:
                message = _("%(pms)s answered in a shape we cannot read.")
            else:
                message = _(
                    "%(pms)s answered in a shape we cannot read; it will be checked before "
                    "sending again."
                )
            raise UnexpectedResponse(message % {"pms": self.label}, vendor=self.vendor) from None

    wrapper.typed_answers = True  # type: ignore[attr-defined]
    return wrapper


# -- transport shared by every adapter of a thread ------------------------------------------

_this_thread = threading.local()


def thread_session() -> requests.Session:
    """This thread's HTTP session, kept from one vendor call (and delivery) to the next so
    that its connections to a PMS are reused instead of opened for every delivery. It keeps
    no cookie: a PMS's cookie must never reach another connection's calls. And it does not
    read the environment on every call (`_environment` does, once per host); a ~/.netrc is
    never read, so a connection's own credentials are the only ones sent."""
    session = getattr(_this_thread, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False
        session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        _this_thread.session = session
    return session


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@functools.lru_cache(maxsize=256)
def _environment(origin: str) -> tuple[dict[str, str], str | bool]:
    """The proxies (HTTPS_PROXY and the like, NO_PROXY heeded) and the CA bundle
    (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE) that requests would read from the environment on
    every call to this origin; the environment does not change while the process runs."""
    proxies = requests.utils.get_environ_proxies(origin)
    return proxies, os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True


class Adapter:
    """One PMS. Subclasses set `vendor`/`label`, map payloads, statuses and errors through the
    hooks below, and implement the other operations they offer."""

    vendor = ""
    label = ""
    # Whether `find` can look up an appointment an earlier, unanswered attempt may have made.
    supports_lookup = True
    supports_cancel = True

    # -- what a vendor module declares ---------------------------------------------------

    # Secret roles and options a connection must name (checked at start-up: vendors.checks).
    required_secrets: tuple[str, ...] = ()
    required_options: tuple[str, ...] = ()
    # The vendor's documented production hosts: the only ones a connection may reach (https,
    # public addresses) unless the operator lists others in VENDOR_ALLOWED_HOSTS.
    production_hosts: tuple[str, ...] = ()
    # Options holding a URL the adapter calls: held to the same hosts as the base URL.
    url_options: tuple[str, ...] = ()

    # Where `book` sends its payload (POST, relative to the base URL).
    booking_path = ""
    # The vendor IDs a booking names, by role of BookingRequest.refs: True = required,
    # False = sent when mapped. Resolved in this order by `booking_ids`.
    booking_roles: Mapping[str, bool] = {}
    # How the vendor's IDs read, by role; "" = every other role.
    id_formats: Mapping[str, IdFormat] = {"": TEXT}
    # The vendor's own word for the record of a role ("provider", "chair"), for messages.
    vendor_terms: Mapping[str, str] = {}
    # Keys of this vendor's answers that hold patient data or credentials, beyond the shared
    # set (compared without case, "_" or "-").
    sensitive_keys: frozenset[str] = frozenset()
    # Where `token()` keeps the access token (or session) in the SecretStore, and how long
    # before its end it is renewed.
    token_name = "token"
    token_margin = datetime.timedelta(seconds=60)
    # The key a vendor wraps each answer's record in (`{"data": {...}}`), read by `record`.
    envelope_key = ""
    # The vendor's documented rate limits, kept by every process together (vendors.pacing),
    # and how long one call may wait in place for them.
    rate_limits: tuple[pacing.Limit, ...] = ()
    pace_wait = MAX_PACE_WAIT
    _started = False  # whether this adapter has sent a call since it was made

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every operation turns an answer of the wrong shape into UnexpectedResponse."""
        super().__init_subclass__(**kwargs)
        for name in OPERATIONS:
            operation = cls.__dict__.get(name)
            if operation is not None and not getattr(operation, "typed_answers", False):
                setattr(cls, name, _typed_answers(operation))
        cls.redacted_keys = SENSITIVE_KEYS | key_set(cls.sensitive_keys)

    redacted_keys: frozenset[str] = SENSITIVE_KEYS

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        store: SecretStore | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.store = store or MemoryStore()
        self.session = session or thread_session()
        self.exchanges: list[Exchange] = []

    # -- operations ---------------------------------------------------------------------

    @_typed_answers
    def book(self, request: BookingRequest) -> VendorAppointment:
        """Resolve the vendor's IDs, build the payload, send it, read the answer."""
        ids = self.booking_ids(request)
        payload = self.booking_payload(request, ids)
        try:
            answer = self.call(
                "POST",
                self.booking_path,
                params=self.booking_params(request, ids) or None,
                json_body=payload,
            )
        except SlotUnavailable as taken:
            raise self.slot_taken(taken, request, ids) from None
        return self.parse_booking(answer)

    def cancel(
        self, external_id: str, request: BookingRequest, *, reason: str = ""
    ) -> VendorAppointment:
        raise NotSupported(
            _(
                "%(pms)s offers no cancellation through its API: cancel the appointment in "
                "%(pms)s too."
            )
            % {"pms": self.label},
            vendor=self.vendor,
        )

    def find(self, request: BookingRequest) -> VendorAppointment | None:
        """The appointment an earlier attempt of this request created, if any."""
        raise NotSupported(
            _("%(pms)s offers no way to look up an appointment.") % {"pms": self.label},
            vendor=self.vendor,
        )

    def register_patient(self, patient: PatientDetails) -> str:
        """Create the patient at the PMS; returns the PMS's ID for them."""
        raise NotSupported(
            _(
                "%(pms)s patients cannot be created through its API: register the patient in "
                "%(pms)s and map its ID in the admin (External IDs)."
            )
            % {"pms": self.label},
            vendor=self.vendor,
        )

    @property
    def registers_patients(self) -> bool:
        return type(self).register_patient is not Adapter.register_patient

    # Which of PATIENT_CRITERIA the vendor's documented patient search answers.
    patient_search: tuple[str, ...] = ()

    def search_patients(self, criterion: str, patient: PatientDetails) -> list[str]:
        """The PMS's IDs of its patients matching `patient` by one criterion (exactly: the
        same national ID, e-mail, phone digits, or name and birth date)."""
        raise NotSupported(
            _("%(pms)s offers no patient search.") % {"pms": self.label}, vendor=self.vendor
        )

    def _searches_by(self, criterion: str) -> None:
        """Refuse a criterion the vendor's documented search does not answer."""
        if criterion not in self.patient_search:
            raise NotSupported(
                _("%(pms)s cannot search its patients by %(criterion)s.")
                % {"pms": self.label, "criterion": CRITERION_WORDS[criterion]},
                vendor=self.vendor,
            )

    def can_look_for(self, patient: PatientDetails) -> bool:
        """Whether the vendor's search can be asked about this patient at all."""
        return any(
            criterion in self.patient_search and _can_search(patient, criterion)
            for criterion in PATIENT_CRITERIA
        )

    def find_patient(self, patient: PatientDetails) -> PatientMatch:
        """Our patient at the PMS: each criterion the vendor answers, in PATIENT_CRITERIA's
        order, until one finds anyone."""
        for criterion in PATIENT_CRITERIA:
            if criterion in self.patient_search and _can_search(patient, criterion):
                found = tuple(dict.fromkeys(self.search_patients(criterion, patient)))
                if found:
                    return PatientMatch(criterion, found)
        return PatientMatch()

    @property
    def finds(self) -> bool:
        """Whether an earlier attempt's appointment can be looked up at the vendor."""
        return type(self).find is not Adapter.find

    def lookup(self, external_id: str) -> VendorAppointment:
        """The current state of a known appointment (used to settle accepted writes)."""
        raise NotSupported(
            _("%(pms)s offers no way to read an appointment.") % {"pms": self.label},
            vendor=self.vendor,
        )

    def _list_failed(self, error: VendorError, what: str, page: int) -> VendorError:
        """The error a page of an import list gave, saying which page of which list (same
        class, so that the caller's handling does not change)."""
        if isinstance(error, AuthenticationFailed):
            return error
        if isinstance(error, RateLimited):
            reason = _("%(pms)s kept answering 429 (too many requests)") % {"pms": self.label}
        elif isinstance(error, UnexpectedResponse):
            reason = _("its answer had a shape we cannot read")
        elif error.status is not None:
            reason = _("%(pms)s answered HTTP %(status)s") % {
                "pms": self.label,
                "status": error.status,
            }
        else:
            reason = _("%(pms)s did not answer (timeout or connection)") % {"pms": self.label}
        return type(error)(
            _(
                "Page %(page)d of %(pms)s's %(what)s could not be read: %(reason)s; the import "
                "stopped there."
            )
            % {
                "page": page,
                "pms": self.label,
                "what": KIND_LABELS.get(what, what),
                "reason": reason,
            },
            vendor=self.vendor,
            status=error.status,
            vendor_message=error.vendor_message,
            retry_after=error.retry_after,
        )

    def _list_unreadable(self, what: str, page: int) -> UnexpectedResponse:
        return UnexpectedResponse(
            _(
                "Page %(page)d of %(pms)s's %(what)s could not be read: its answer had a shape "
                "we cannot read (no list, or pages that do not follow on); the import stopped "
                "there."
            )
            % {"page": page, "pms": self.label, "what": KIND_LABELS.get(what, what)},
            vendor=self.vendor,
        )

    def reference(self, kind: str) -> list[dict[str, Any]]:
        """Reference data the PMS offers (practitioners, rooms, types...), as plain dicts."""
        raise NotSupported(
            _("%(pms)s offers no “%(kind)s” list.") % {"pms": self.label, "kind": kind},
            vendor=self.vendor,
        )

    def check(self) -> str:
        """One cheap authenticated call; returns a line saying what answered."""
        raise NotImplementedError

    # -- the PMS's calendar (DESIGN §8) -------------------------------------------------

    # How far ahead a pull reads, at most (a vendor whose reads are costly reads less).
    calendar_days = 60
    # The shortest time between two pulls of one connection this vendor's limits allow.
    min_pull_seconds = 0.0
    # Whether the vendor keeps an appointment's length as booked. False: its end follows the
    # vendor's appointment type, so an end read back says nothing about a change made there.
    stores_duration = True

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        """The PMS's busy time in the query's window (or what changed since `query.since`),
        from its documented read endpoints, every page read; a read that cannot finish
        raises, so the last good copy stays."""
        raise NotSupported(
            _("%(pms)s offers no way to read its calendar.") % {"pms": self.label},
            vendor=self.vendor,
        )

    @property
    def reads_calendar(self) -> bool:
        return type(self).read_calendar is not Adapter.read_calendar

    # -- onboarding from the PMS (issue 12) ----------------------------------------------

    # Which of IMPORT_KINDS this vendor's API lists, and why not the others (for the report).
    imports: tuple[str, ...] = ()
    import_gaps: Mapping[str, str] = {}

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        """The PMS's records of one kind, page after page as they are read (bounded memory:
        never the whole list at once); every page read to the end, 429s waited out
        (`self.read`), a malformed record yielded with `problem` set. A page that cannot be
        read raises (what was yielded before it stays imported)."""
        raise NotSupported(
            str(
                self.import_gaps.get(kind)
                or _("%(pms)s offers no “%(kind)s” list.") % {"pms": self.label, "kind": kind}
            ),
            vendor=self.vendor,
        )

    def is_free(self, request: BookingRequest) -> bool:
        """The vendor's own free-slot check of the request's time (a pre-flight before
        booking): True when it offers that start for that practitioner."""
        raise NotSupported(
            _("%(pms)s offers no free-slot check.") % {"pms": self.label}, vendor=self.vendor
        )

    @property
    def checks_free(self) -> bool:
        return type(self).is_free is not Adapter.is_free

    def read(self, path: str, *, params: Mapping[str, Any] | None = None,
             json_body: Any = None, method: str = "GET") -> Any:  # fmt: skip
        """A read that waits out the vendor's short 429s (Retry-After up to MAX_RATE_WAIT
        seconds, three times) instead of failing the whole pull."""
        for _attempt in range(3):
            try:
                return self.call(method, path, params=params, json_body=json_body)
            except Paced:
                raise  # it waited for the pace as long as its caller allows
            except RateLimited as limited:
                wait = limited.retry_after if limited.retry_after is not None else 1.0
                if wait > MAX_RATE_WAIT:
                    raise
                time.sleep(wait)
        return self.call(method, path, params=params, json_body=json_body)

    # -- booking hooks -------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> Any:
        """The body of the create call, from the request and its resolved vendor IDs."""
        raise NotImplementedError

    def booking_params(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        """Query parameters of the create call."""
        return {}

    def parse_booking(self, answer: Any) -> VendorAppointment:
        """The appointment the create call answered (unwrapped)."""
        raise NotImplementedError

    def slot_taken(
        self, taken: SlotUnavailable, request: BookingRequest, ids: Mapping[str, Any]
    ) -> SlotUnavailable:
        """The refusal to raise when the time is taken, with the other free starts the vendor
        offers (aware, UTC) in `alternatives`."""
        return taken

    # -- external IDs ----------------------------------------------------------------------

    def booking_ids(self, request: BookingRequest) -> dict[str, Any]:
        """The vendor's ID of every record the booking names, parsed; a missing required one
        is a ConfigurationError telling the manager what to map."""
        return {
            role: self.external_id(request.refs, role)
            for role, required in self.booking_roles.items()
            if required or request.refs.get(role)
        }

    def external_id(self, refs: Mapping[str, str], role: str) -> Any:
        """The vendor's ID of the record with this role, as the vendor's API takes it."""
        value = refs.get(role)
        if not value:
            raise self.unmapped(role)
        return self.parse_id(value, role)

    def parse_id(self, value: Any, role: str) -> Any:
        kind = self.id_formats.get(role) or self.id_formats.get("") or TEXT
        try:
            return kind.parse(value)
        except (TypeError, ValueError):
            raise ConfigurationError(
                _(
                    "%(pms)s IDs of the %(record)s are %(kind)s; “%(value)s” is not one. Fix it "
                    "in the admin (External IDs)."
                )
                % {
                    "pms": self.label,
                    "record": role_words(role),
                    "kind": kind.description,
                    "value": value,
                },
                vendor=self.vendor,
            ) from None

    def unmapped(self, role: str, *, option: str = "") -> ConfigurationError:
        """The one "map it in the admin" message."""
        words = {
            "record": role_words(role),
            "pms": self.label,
            "term": self.vendor_terms.get(role, role_words(role)),
            "option": option,
        }
        if option:
            message = _(
                "The %(record)s of this appointment has no %(pms)s ID: map it to its %(pms)s "
                "%(term)s in the admin (External IDs), or set the connection's option "
                "“%(option)s”."
            )
        else:
            message = _(
                "The %(record)s of this appointment has no %(pms)s ID: map it to its %(pms)s "
                "%(term)s in the admin (External IDs)."
            )
        return ConfigurationError(message % words, vendor=self.vendor)

    # -- authentication hooks ------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        """Headers of every authenticated call (e.g. from `self.secret` or `self.token()`)."""
        return {}

    def auth_params(self) -> dict[str, str]:
        """Query parameters of every call, authenticated or not (e.g. a client key)."""
        return {}

    def authenticate(self) -> tuple[str, datetime.timedelta | None]:
        """Obtain a new access token (or session): the token and its lifetime (None = until
        the vendor refuses it). Only vendors whose `auth_headers` use `token()` implement it."""
        raise NotImplementedError

    def token_expired(self, error: AuthenticationFailed) -> bool:
        """Whether this refusal means the cached token is gone (so one new one may help)."""
        return True

    # -- token cache -------------------------------------------------------------------------

    def token(self) -> str:
        """The cached access token while it lives, else a new one from `authenticate`."""
        now = datetime.datetime.now(datetime.UTC)
        cached = self.store.get(self.token_name)
        if cached and cached[0] and (cached[1] is None or cached[1] > now):
            return cached[0]
        token, lifetime = self.authenticate()
        expires_at = None if lifetime is None else now + lifetime - self.token_margin
        self.store.put(self.token_name, token, expires_at)
        return token

    def forget_token(self) -> bool:
        """Drop the cached token; True if there was one (a retry may then succeed)."""
        cached = self.store.get(self.token_name)
        if not cached or not cached[0]:
            return False  # nothing to drop: the credentials themselves were refused
        self.store.put(self.token_name, "", None)
        return True

    # -- answers ---------------------------------------------------------------------------

    def unwrap(self, body: Any, path: str) -> Any:
        """The vendor's envelope opened: what the operations read. Raise here the error a
        2xx answer may carry inside its envelope."""
        return body

    def record(self, found: Any, *, many: bool = False, what: str = "") -> Any:
        """The record (a list when `many`) in an answer, inside `envelope_key` when the vendor
        wraps its answers; else UnexpectedResponse saying it came without `what` (the
        appointment, unless told)."""
        if self.envelope_key:
            found = found.get(self.envelope_key) if isinstance(found, Mapping) else None
        if isinstance(found, list if many else Mapping):
            return found
        raise self.answered_without(what or _("the appointment"))

    def answered_without(self, what: str) -> UnexpectedResponse:
        """The one "answered without the appointment's id" refusal of an answer that lacks
        what we must read: an unknown outcome, checked before anything is sent again."""
        return UnexpectedResponse(
            _("%(pms)s answered without %(what)s; it will be checked before sending again.")
            % {"pms": self.label, "what": what},
            vendor=self.vendor,
        )

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

    def error_for(
        self, status: int, body: Any, response: requests.Response
    ) -> VendorError | ConfigurationError:
        """Map an HTTP error answer to the error class that says what to do next."""
        said = self.message_of(body)
        common = {"vendor": self.vendor, "status": status, "vendor_message": said}
        words = {"pms": self.label, "status": status}
        if status == 429:
            return RateLimited(
                _("%(pms)s asks us to slow down; the booking will be sent again shortly.") % words,
                retry_after=retry_after(response, body),
                **common,
            )
        if status in (408, 425, 503):
            return VendorUnavailable(
                _("%(pms)s is unavailable (HTTP %(status)s); it will be tried again.") % words,
                **common,
            )
        if status in (500, 502, 504):
            return OutcomeUnknown(
                _(
                    "%(pms)s failed (HTTP %(status)s) and may or may not have stored the "
                    "booking; it will be checked before sending again."
                )
                % words,
                **common,
            )
        if status in (401, 403):
            return AuthenticationFailed(
                _(
                    "%(pms)s refused our credentials (HTTP %(status)s); a manager must check "
                    "the connection's API key or token."
                )
                % words,
                **common,
            )
        if status == 404:
            return NotFound(_("%(pms)s does not know this record (HTTP 404).") % words, **common)
        if status == 409:
            return SlotUnavailable(
                _("%(pms)s says this time is already taken; choose another time.") % words,
                **common,
            )
        if status in (400, 422):
            return VendorValidationError(
                _("%(pms)s refused the booking: %(said)s.")
                % {**words, "said": said or _("invalid data")},
                **common,
            )
        return VendorError(_("%(pms)s answered HTTP %(status)s.") % words, **common)

    # -- transport -----------------------------------------------------------------------

    def secret(self, role: str) -> str:
        variable = self.settings.secrets.get(role)
        refusal = allowed.secret_refusal(variable) if variable else None
        if refusal:  # never read: a connection may not name this variable
            raise ConfigurationError(
                _(
                    "The %(pms)s connection's %(secret)s cannot be read: %(refusal)s Fix the "
                    "connection's secrets in the admin."
                )
                % {"pms": self.label, "secret": role.replace("_", " "), "refusal": refusal},
                vendor=self.vendor,
            )
        value = allowed.secret_value(variable) if variable else ""
        if not variable or not value:
            raise ConfigurationError(
                _(
                    "The %(pms)s connection has no %(secret)s: set the environment variable "
                    "%(variable)s and name it on the connection."
                )
                % {
                    "pms": self.label,
                    "secret": role.replace("_", " "),
                    "variable": variable or _("(none named)"),
                },
                vendor=self.vendor,
            )
        return value

    def url(self, path: str) -> str:
        return f"{self.settings.base_url.rstrip('/')}/{path.lstrip('/')}"

    @classmethod
    def url_refusal(cls, url: str) -> str | None:
        """Why a connection of this vendor may not use this URL (no look-up); None if it may."""
        return allowed.url_refusal(url, label=cls.label, production_hosts=cls.production_hosts)

    def check_destination(self, url: str) -> None:
        """At send time, before anything leaves: the URL's host must be allowed and, unless the
        operator listed it, resolve only to public addresses."""
        try:
            refusal = allowed.address_refusal(
                url, label=self.label, production_hosts=self.production_hosts
            )
        except (socket.gaierror, UnicodeError):
            raise VendorUnavailable(
                _(
                    "%(pms)s cannot be reached (its host name does not resolve); it will be "
                    "tried again."
                )
                % {"pms": self.label},
                vendor=self.vendor,
            ) from None
        if refusal:
            raise ConfigurationError(
                _(
                    "Nothing was sent to %(pms)s: %(refusal)s Fix the connection's base URL in "
                    "the admin."
                )
                % {"pms": self.label, "refusal": refusal},
                vendor=self.vendor,
            )

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
        """One HTTP call with the connection's timeouts; errors come back typed, the
        envelope opened, a cached token renewed once if the vendor says it is gone."""
        try:
            return self._call(method, path, params, json_body, form, headers, authenticate,
                              expect_json)  # fmt: skip
        except AuthenticationFailed as error:
            # Once only: a token refused right after being renewed is the credentials' fault.
            if authenticate and self.token_expired(error) and self.forget_token():
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
        auth = self.auth_params()
        params = {**auth, **(params or {})} or None
        url = self.url(path)
        # The query is kept (a location or patient ID matters when debugging), its secrets
        # redacted by key; patient values are scrubbed by value where exchanges are stored.
        recorded = redact_query(url, params, self.redacted_keys | key_set(auth))
        exchange = Exchange(
            method.upper(), recorded, None, 0, redact(json_body or form, self.redacted_keys), None
        )
        self.exchanges.append(exchange)
        try:
            self.check_destination(url)
            self._pace(method, path)
        except (ConfigurationError, VendorError) as error:
            exchange.error = type(error).__name__
            raise
        proxies, verify = _environment(_origin(url))
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=form,
                headers=all_headers,
                proxies=proxies,
                verify=verify,
                timeout=(
                    min(self.settings.connect_timeout, MAX_CONNECT_TIMEOUT),
                    min(self.settings.read_timeout, MAX_READ_TIMEOUT),
                ),
                # A redirect could lead our credentials anywhere: never followed (below).
                allow_redirects=False,
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
                _(
                    "%(pms)s answered %(size)s KB, far more than a booking answer; it will be "
                    "checked before sending again."
                )
                % {"pms": self.label, "size": len(response.content) // 1024},
                vendor=self.vendor,
                status=response.status_code,
            )
        body = _json_or_text(response)
        exchange.response = redact(body, self.redacted_keys)
        logger.info(
            "%s %s %s -> %s in %sms",
            self.vendor, method.upper(), path, response.status_code, exchange.latency_ms,
        )  # fmt: skip
        if 300 <= response.status_code < 400:
            exchange.error = "redirect"
            raise self.redirected(response, url)
        if response.status_code >= 400:
            error = self.error_for(response.status_code, body, response)
            exchange.error = type(error).__name__
            raise error
        if expect_json and not isinstance(body, dict | list):
            exchange.error = "malformed answer"
            raise UnexpectedResponse(
                _(
                    "%(pms)s answered something that is not JSON; the booking will be checked "
                    "before sending again."
                )
                % {"pms": self.label},
                vendor=self.vendor,
                status=response.status_code,
            )
        try:
            return self.unwrap(body, path)
        except (VendorError, ConfigurationError) as error:
            unreadable = isinstance(error, UnexpectedResponse)
            exchange.error = "malformed answer" if unreadable else type(error).__name__
            raise

    @functools.cached_property
    def pace_scope(self) -> str:
        """Whose allowance the documented limits count: this vendor at this base URL with these
        credentials (the names of the variables holding them; never their values)."""
        secrets = ",".join(f"{role}={name}" for role, name in sorted(self.settings.secrets.items()))
        text = f"{self.vendor}|{self.settings.base_url}|{secrets}"
        return hashlib.sha256(text.encode()).hexdigest()[:24]

    def _pace(self, method: str, path: str) -> None:
        """Hold the call until the vendor's documented limits allow it, in place up to
        `pace_wait` (STARTED_PACE_WAIT once a call was sent); past that it is not sent and ends
        as Paced, saying when it may go."""
        if not self.rate_limits:
            return
        patience = max(self.pace_wait, STARTED_PACE_WAIT) if self._started else self.pace_wait
        waited = 0.0
        while wait := pacing.wait(self.pace_scope, self.rate_limits, method, path):
            if waited + wait > patience:
                raise Paced(
                    _("%(pms)s limits how many calls it takes; this one waits its turn.")
                    % {"pms": self.label},
                    vendor=self.vendor,
                    retry_after=wait,
                )
            time.sleep(wait)
            waited += wait
        self._started = True

    def redirected(self, response: requests.Response, url: str) -> ConfigurationError:
        """A 3xx answer: never followed. It names where it pointed (without its query) so a
        manager can judge whether the base URL must change."""
        where = _without_query(urllib.parse.urljoin(url, response.headers.get("Location", "")))
        return ConfigurationError(
            _(
                "%(pms)s answered with a redirect (HTTP %(status)s) to %(where)s; redirects are "
                "never followed. Check the connection's base URL in the admin."
            )
            % {"pms": self.label, "status": response.status_code, "where": where},
            vendor=self.vendor,
            status=response.status_code,
        )

    def _transport_error(
        self, exchange: Exchange, started: float, error: Exception, *, sent: bool
    ) -> VendorError:
        exchange.latency_ms = int((time.monotonic() - started) * 1000)
        exchange.error = type(error).__name__
        logger.warning("%s %s %s failed: %s", self.vendor, exchange.method,
                       _without_query(exchange.url), type(error).__name__)  # fmt: skip
        if sent:
            return OutcomeUnknown(
                _(
                    "%(pms)s did not answer in time after receiving the request; the booking "
                    "will be checked before sending again."
                )
                % {"pms": self.label},
                vendor=self.vendor,
            )
        return VendorUnavailable(
            _("%(pms)s cannot be reached; it will be tried again.") % {"pms": self.label},
            vendor=self.vendor,
        )

    def parse_time(self, value: str) -> datetime.datetime:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            raise ValueError(f"{value!r} has no UTC offset")
        return moment.astimezone(datetime.UTC)


def _can_search(patient: PatientDetails, criterion: str) -> bool:
    if criterion == "name_birth_date":
        return bool(patient.given_name and patient.family_name and patient.birth_date)
    return bool(getattr(patient, criterion))


def _refused(error: requests.ConnectionError) -> bool:
    """Connection refused or name unknown: nothing reached the vendor."""
    text = repr(error)
    return any(
        marker in text
        for marker in ("NewConnectionError", "Connection refused", "NameResolutionError")
    )


def _without_query(url: str) -> str:
    """Scheme, host, port and path of a URL: no credentials, query or fragment."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urllib.parse.urlunsplit((parts.scheme, host + port, parts.path, "", "")) or "nowhere"


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
