"""Reads about deliveries for pages, the API and the admin: the one presenter of an
appointment's state at its PMS."""

from __future__ import annotations

import dataclasses
import datetime
import functools
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection as database
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling import schedule_reads as reads
from vendors.models import (
    IN_FLIGHT_STATES,
    CalendarPull,
    Delivery,
    DeliveryState,
    Vendor,
    VendorConnection,
)

NOT_REQUIRED = "not_required"
NOT_REQUIRED_LABEL = _("Not required (no PMS)")
STATE_CHOICES = [(NOT_REQUIRED, NOT_REQUIRED_LABEL), *DeliveryState.choices]
# Each state in one or two words, as a sentence reads it ("Dentalink: synced").
STATE_WORDS = {
    NOT_REQUIRED: pgettext_lazy("delivery state, in a sentence", "not required"),
    DeliveryState.QUEUED: pgettext_lazy("delivery state, in a sentence", "queued"),
    DeliveryState.SENDING: pgettext_lazy("delivery state, in a sentence", "sending"),
    DeliveryState.ACCEPTED: pgettext_lazy("delivery state, in a sentence", "accepted"),
    DeliveryState.SYNCED: pgettext_lazy("delivery state, in a sentence", "synced"),
    DeliveryState.NEEDS_ATTENTION: pgettext_lazy(
        "delivery state, in a sentence", "needs attention"
    ),
}
# The calendar's badge for each state; in-flight states show "PMS …".
MARKS = {
    DeliveryState.SYNCED: pgettext_lazy("calendar badge: delivered", "PMS ✓"),
    DeliveryState.NEEDS_ATTENTION: pgettext_lazy("calendar badge: needs attention", "PMS !"),
}
IN_FLIGHT_MARK = pgettext_lazy("calendar badge: on its way", "PMS …")


@dataclasses.dataclass(frozen=True, slots=True)
class Sync:
    """The `sync` block of DESIGN §6: an appointment's state at its PMS (its latest
    delivery), with the words pages show for it."""

    state: str
    vendor: str | None = None
    external_id: str | None = None
    vendor_status: str | None = None
    last_error: str | None = None
    attempts: int = 0

    @property
    def required(self) -> bool:
        return self.state != NOT_REQUIRED

    @property
    def in_flight(self) -> bool:
        """Still on its way (queued, sending, accepted): pages keep polling."""
        return self.state in IN_FLIGHT_STATES

    @property
    def vendor_label(self) -> str:
        """The PMS's own name, e.g. "Treats.vet"."""
        if self.vendor is None:
            return ""
        return Vendor(self.vendor).label if self.vendor in Vendor.values else self.vendor

    @property
    def state_label(self) -> str:
        """e.g. "Accepted (awaiting the PMS's confirmation)"."""
        return str(dict(STATE_CHOICES).get(self.state, self.state))

    @property
    def state_word(self) -> str:
        """The state in one or two words, e.g. "accepted"."""
        return str(STATE_WORDS.get(self.state, self.state))

    @property
    def label(self) -> str:
        """e.g. "Dentalink: synced"; empty for a clinic without a PMS."""
        if not self.required:
            return ""
        return gettext("%(pms)s: %(state)s") % {
            "pms": self.vendor_label or gettext("PMS"),
            "state": self.state_word,
        }

    @property
    def mark(self) -> str:
        return str(MARKS.get(self.state, IN_FLIGHT_MARK))

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "vendor": self.vendor,
            "external_id": self.external_id,
            "vendor_status": self.vendor_status,
            "last_error": self.last_error,
            "attempts": self.attempts,
        }


def sync_of(appointments: Iterable[Any]) -> dict[int, Sync]:
    """The `Sync` of each appointment, in one query: the state of its latest delivery, the
    vendor, the vendor's appointment ID, its status, the last error and the attempts so
    far. Local clinics read `not_required`. Every booking's answer reads it, and every
    calendar. On PostgreSQL the IDs are one array parameter; elsewhere the statement is
    written once per number of appointments (rounded up to a power of two)."""
    ids = [appointment.pk for appointment in appointments]
    latest: dict[int, tuple] = {}
    external: dict[int, str] = {}
    if ids:
        kind = reads.dialect()
        if kind.startswith("postgresql"):
            sql, params = _sync_sql(kind, 0), [ids]
        else:
            size = 1 << (len(ids) - 1).bit_length()
            sql = _sync_sql(kind, size)
            params = ids + [ids[-1]] * (size - len(ids))  # the same ID again changes nothing
        for row in reads.run(sql, params):
            latest[row[0]] = row
            if row[3]:
                external[row[0]] = row[3]
    result = {}
    for pk in ids:
        row = latest.get(pk)
        if row is None:
            result[pk] = Sync(state=NOT_REQUIRED)
            continue
        _, state, vendor, _, vendor_status, last_error, attempts = row
        result[pk] = Sync(
            state=state,
            vendor=vendor,
            external_id=external.get(pk) or None,
            vendor_status=vendor_status or None,
            last_error=last_error or None,
            attempts=attempts,
        )
    return result


@functools.cache
def _sync_sql(kind: str, size: int) -> str:
    """Every delivery of `size` appointments with its connection's vendor, oldest first; on
    PostgreSQL of the appointments in one array parameter. (Under the generic plan PostgreSQL
    keeps for a prepared statement, `IN ($1, ..., $256)` built that array again for every
    row it filtered: a 150-appointment day calendar's read took 9 ms, 3 ms with the array.)"""
    quote = database.ops.quote_name
    deliveries, connections = (quote(m._meta.db_table) for m in (Delivery, VendorConnection))
    columns = (
        "d.appointment_id, d.state, c.vendor, d.external_id, d.vendor_status, d.last_error, "
        "d.attempts"
    )
    joined = f"INNER JOIN {connections} c ON c.id = d.connection_id"
    if kind.startswith("postgresql"):
        wanted = "d.appointment_id = ANY(CAST(%s AS bigint[]))"
    else:
        wanted = f"d.appointment_id IN ({', '.join(['%s'] * size)})"
    return (
        f"SELECT {columns} FROM {deliveries} d {joined} "
        f"WHERE {wanted} ORDER BY d.appointment_id, d.id"
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh the desk's copy of a PMS's calendar is (DESIGN §8): when it was last read
    successfully, the last error, and the plain warning pages show once it is stale."""

    vendor: str
    read_at: datetime.datetime | None
    error: str
    now: datetime.datetime

    @property
    def vendor_label(self) -> str:
        return Vendor(self.vendor).label if self.vendor in Vendor.values else self.vendor

    @property
    def age(self) -> datetime.timedelta | None:
        return None if self.read_at is None else max(self.now - self.read_at, ZERO)

    # A vendor read less often than PMS_STALE_SECONDS allows (its rate limits) is stale only
    # once it is late for its own next read.
    min_pull_seconds: float = 0.0

    @property
    def stale(self) -> bool:
        age = self.age
        limit = max(
            settings.PMS_STALE_SECONDS, self.min_pull_seconds + 2 * settings.PMS_PULL_SECONDS
        )
        return age is None or age.total_seconds() > limit

    @property
    def ago(self) -> str:
        """e.g. "12 min ago"; "never" before the first successful read."""
        age = self.age
        if age is None:
            return gettext("never")
        minutes = int(age.total_seconds() // 60)
        if minutes < 1:
            return gettext("just now")
        if minutes < 120:
            return ngettext("%(count)d min ago", "%(count)d min ago", minutes) % {"count": minutes}
        if minutes < 48 * 60:
            hours = minutes // 60
            return ngettext("%(count)d h ago", "%(count)d h ago", hours) % {"count": hours}
        days = minutes // (24 * 60)
        return ngettext("%(count)d day ago", "%(count)d days ago", days) % {"count": days}

    @property
    def warning(self) -> str:
        """The desk's warning, empty while fresh."""
        if not self.stale:
            return ""
        if self.read_at is None:
            return gettext("%(pms)s calendar not read yet — times may be taken there.") % {
                "pms": self.vendor_label
            }
        return gettext("%(pms)s calendar last read %(ago)s — times may be taken there.") % {
            "pms": self.vendor_label,
            "ago": self.ago,
        }

    @property
    def summary(self) -> str:
        """For the admin: when it was read and the last error."""
        if self.read_at:
            text = gettext("read %(ago)s") % {"ago": self.ago}
        else:
            text = gettext("never read")
        if not self.error:
            return text
        return gettext("%(read)s; last error: %(error)s") % {"read": text, "error": self.error}

    def as_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "read_at": self.read_at,
            "stale": self.stale,
            "warning": self.warning or None,
        }


ZERO = datetime.timedelta(0)


def freshness_of(
    connection: VendorConnection, *, now: datetime.datetime | None = None
) -> Freshness:
    """The connection's calendar freshness (select_related("calendar") saves a query)."""
    try:
        state = connection.calendar
    except CalendarPull.DoesNotExist:
        state = None
    from vendors.adapters import adapter_class

    return Freshness(
        vendor=connection.vendor,
        read_at=state.read_at if state else None,
        error=state.error if state else "",
        now=now or timezone.now(),
        min_pull_seconds=adapter_class(connection.vendor).min_pull_seconds,
    )


def freshness_at(location: Any, *, now: datetime.datetime | None = None) -> Freshness | None:
    """The freshness of the calendar of the PMS a location books into (the connection
    `delivery.connection_serving` picks); None without one. One statement, written once (a
    slot search reads it with its schedule: `freshness_from`)."""
    return freshness_from(reads.pms_calendar(location.clinic_id, location.pk), now=now)


def freshness_from(
    calendar: reads.PmsCalendar | None, *, now: datetime.datetime | None = None
) -> Freshness | None:
    """The Freshness of a row of `schedule_reads.pms_calendar_parts`; None without a PMS."""
    if calendar is None:
        return None
    from vendors.adapters import adapter_class

    vendor, read_at, error = calendar
    return Freshness(
        vendor=vendor,
        read_at=read_at,
        error=error,
        now=now or timezone.now(),
        min_pull_seconds=adapter_class(vendor).min_pull_seconds,
    )
