"""Typed vendor errors, chosen by what the caller should do next (after stripe-python)."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence

from django.core.exceptions import ImproperlyConfigured


class VendorProblem(Exception):
    """What every error about a vendor carries, and how it reads: our message (safe to show
    and to log: no patient data), the vendor, the HTTP status and `vendor_message`, the
    vendor's own words. The one base of VendorError and ConfigurationError, which must stay
    apart: catch one of those, never this."""

    retryable = False
    # True when the vendor may have acted although we got no clear answer: before sending
    # again, look the appointment up (or ask a person).
    outcome_unknown = False

    def __init__(
        self, message: str, *, vendor: str = "", status: int | None = None, vendor_message: str = ""
    ) -> None:
        message = str(message)  # a lazy translation is put in words once, when raised
        super().__init__(message)
        self.message = message
        self.vendor = vendor
        self.status = status
        self.vendor_message = vendor_message

    def __str__(self) -> str:
        if self.vendor_message and self.vendor_message not in self.message:
            return f"{self.message} ({self.vendor}: {self.vendor_message})"
        return self.message


class VendorError(VendorProblem):
    """A PMS refused or failed a call."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str = "",
        status: int | None = None,
        vendor_message: str = "",
        fields: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        alternatives: Sequence[datetime.datetime] = (),
    ) -> None:
        super().__init__(message, vendor=vendor, status=status, vendor_message=vendor_message)
        self.fields = dict(fields or {})
        self.retry_after = retry_after
        self.alternatives = list(alternatives)


class VendorValidationError(VendorError):
    """The PMS refused the data (400/422): fix the named fields or the mappings."""


class SlotUnavailable(VendorError):
    """The PMS says the time is taken: choose another (alternatives when the PMS gives them)."""


class AuthenticationFailed(VendorError):
    """Credentials refused (401/403): a manager must fix the connection's secrets."""


class NotFound(VendorError):
    """The PMS does not know the record (404)."""


class NotSupported(VendorError):
    """The PMS offers no way to do this through its API: do it in the PMS itself."""


class RateLimited(VendorError):
    """Too many calls (429): wait `retry_after` seconds, then send again."""

    retryable = True


class Paced(RateLimited):
    """Not sent: the vendor's documented pace (vendors.pacing) would have this call wait
    longer than its caller may (`Adapter._pace`); it may go in `retry_after` seconds."""


class VendorUnavailable(VendorError):
    """The PMS is down or busy and did not act (connection refused, 408, 425, 503)."""

    retryable = True


class OutcomeUnknown(VendorError):
    """The request may have been acted on (timeout after sending, dropped connection,
    500/502/504, malformed answer): look it up before sending again."""

    retryable = True
    outcome_unknown = True


class UnexpectedResponse(OutcomeUnknown):
    """The PMS answered something we cannot read (an HTML page, an empty or huge body, wrong
    types): treated as an unknown outcome, so nothing is lost and nothing is sent twice."""


class ConfigurationError(VendorProblem, ImproperlyConfigured):
    """The connection is set up wrongly (a missing secret, option or ID mapping): a manager
    must fix it in the admin or the environment; never retried.

    Deliberately not a VendorError: the vendor said nothing, so `except VendorError` must
    never swallow it (as django-anymail's AnymailConfigurationError)."""


class LookupIncomplete(OutcomeUnknown):
    """An earlier attempt may have stored the booking, and the look-up that should tell
    could not be finished (too many records to read through): never send again, a person
    must check in the PMS. Not retried: the next look-up would stop at the same place."""

    retryable = False
