"""The PMS's own calendar in the desk (DESIGN §8): pull it, keep its busy time, bring our
delivered appointments in line with it, and say how fresh it is.

`pull(connection)` takes the connection's lease (so two processes never pull one connection
at once), builds the CalendarQuery from the connection's mappings, reads it through the
adapter and applies it in one transaction:

- time the PMS holds for mapped practitioners and rooms that is not one of ours becomes
  PmsBusy rows (a complete read replaces the window; an incremental read or a webhook patches
  by the vendor's ID), which the slot engine subtracts like local appointments;
- our delivered appointments (recognised by external ID, never counted twice) follow what
  was done to them in the PMS — cancelled, confirmed, arrived, no-show, completed, moved,
  deleted — through the booking service, recorded as made by the PMS and never sent back;
  a change the status table forbids, or a move onto taken time, is kept as a delivery that
  needs attention (operation "Change made in the PMS"), never applied silently.

A read that fails leaves the last good copy in place and records the error; `read_at` (the
start of the last successful read) is what the freshness warning is about.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import socket
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduling import booking, slot_cache
from scheduling.errors import BookingError
from scheduling.localtime import to_utc
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Location,
    Patient,
    Practitioner,
    Room,
    WorkingHours,
)
from scheduling.models.schedules import applies_on
from vendors.adapters import adapter_class
from vendors.base import STARTED_PACE_WAIT
from vendors.errors import (
    ConfigurationError,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    VendorError,
    VendorUnavailable,
)
from vendors.intervals import Interval, minus
from vendors.language import written_for
from vendors.models import (
    IN_FLIGHT_STATES,
    CalendarPull,
    Delivery,
    DeliveryState,
    ExternalId,
    Operation,
    PmsBusy,
    VendorConnection,
)
from vendors.types import BusySpan, CalendarQuery, CalendarRead

logger = logging.getLogger("vendors.calendar")

Status = AppointmentStatus
DAY = datetime.timedelta(days=1)
# A read is incremental while the last complete one still covers the rolling window to
# within this much; past it (about once a day) the whole window is read again.
WINDOW_SLACK = DAY
# How the canonical statuses follow one another: a PMS that is only behind us (we do not
# send confirmations or arrivals to it) is not a discrepancy.
PROGRESS = {Status.UNCONFIRMED: 0, Status.CONFIRMED: 1, Status.ARRIVED: 2, Status.COMPLETED: 3}
# Busy time a pre-flight check found (vendors.preflight) is kept this long by incremental
# reads, which cannot say it is gone; a complete read replaces it at once.
PROVISIONAL = datetime.timedelta(minutes=10)
# PmsBusy rows that ended this long ago are dropped.
KEEP_PAST = DAY


@dataclasses.dataclass(frozen=True)
class PullOutcome:
    """What one pull did, for the admin, the desk's refresh button and the sweeper's log."""

    pulled: bool
    message: str
    busy: int = 0
    changed: int = 0
    attention: int = 0


# -- which connection serves what ------------------------------------------------------------


def served_locations(connection: VendorConnection) -> list[Location]:
    """The locations whose bookings this connection delivers."""
    if connection.location_id:
        return [connection.location]
    return list(Location.objects.filter(clinic_id=connection.clinic_id).order_by("pk"))


def _content_types() -> dict[type, int]:
    types = ContentType.objects.get_for_models(
        Practitioner, Room, Location, AppointmentType, Patient, Appointment
    )
    return {model: content_type.pk for model, content_type in types.items()}


# -- the lease ---------------------------------------------------------------------------------


def _owner() -> str:
    return f"{socket.gethostname()}:{id(object())}"[:64]


def _claim(connection: VendorConnection, now: datetime.datetime) -> str | None:
    """Take the connection's pull lease, or None while another process holds it. One UPDATE
    whose condition the database re-checks under its row lock: only one claimer wins."""
    CalendarPull.objects.get_or_create(connection=connection)  # handles a concurrent create
    owner = _owner()
    lease = datetime.timedelta(seconds=settings.PMS_PULL_LEASE_SECONDS)
    claimed = (
        CalendarPull.objects.filter(pk=connection.pk)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=now + lease, lease_owner=owner)
    )
    return owner if claimed else None


# -- the query ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Mappings:
    """The vendor's IDs of the connection's records, both ways."""

    practitioners: dict[str, int]
    rooms: dict[str, int]
    locations: dict[str, int]
    types: dict[str, int]

    @classmethod
    def load(cls, connection: VendorConnection, locations: Iterable[Location]) -> Mappings:
        types = _content_types()
        location_ids = {location.pk for location in locations}
        found: dict[int, dict[str, int]] = {types[m]: {} for m in (Practitioner, Room, Location,
                                                                   AppointmentType)}  # fmt: skip
        rows = ExternalId.objects.filter(
            connection=connection, role="", content_type_id__in=list(found)
        ).values_list("content_type_id", "object_id", "external_id")
        for type_id, object_id, external_id in rows:
            found[type_id].setdefault(external_id, object_id)
        rooms = dict(
            Room.objects.filter(
                pk__in=list(found[types[Room]].values()), location_id__in=location_ids
            ).values_list("pk", "pk")
        )
        return cls(
            practitioners=found[types[Practitioner]],
            rooms={vid: pk for vid, pk in found[types[Room]].items() if pk in rooms},
            locations={vid: pk for vid, pk in found[types[Location]].items() if pk in location_ids},
            types=found[types[AppointmentType]],
        )


def build_query(
    connection: VendorConnection,
    adapter: Any,
    state: CalendarPull,
    now: datetime.datetime,
    *,
    full: bool = False,
) -> tuple[CalendarQuery, Mappings]:
    locations = served_locations(connection)
    zone_key = locations[0].time_zone if locations else "UTC"
    zone = locations[0].zone if locations else datetime.UTC
    today = now.astimezone(zone).date()
    days = max(1, min(adapter.calendar_days, settings.PMS_PULL_DAYS))
    start = to_utc(today, datetime.time(0), zone)
    end = to_utc(today + datetime.timedelta(days=days), datetime.time(0), zone)
    mappings = Mappings.load(connection, locations)
    incremental = (
        not full
        and state.cursor
        and state.window_end is not None
        and state.window_end >= end - WINDOW_SLACK
    )
    appointments = Appointment.objects.filter(
        location__in=[location.pk for location in locations],
        status__in=ACTIVE_STATUSES,
        start__lt=end,
        end__gt=start,
    )
    ours = ExternalId.objects.filter(
        connection=connection,
        role="",
        content_type_id=_content_types()[Appointment],
        object_id__in=appointments.values("pk"),
    ).values_list("external_id", flat=True)
    query = CalendarQuery(
        start=start,
        end=end,
        time_zone=zone_key,
        practitioners=tuple(sorted(mappings.practitioners)),
        rooms=tuple(sorted(mappings.rooms)),
        locations=tuple(sorted(mappings.locations)),
        appointment_types=tuple(sorted(mappings.types)),
        ours=tuple(sorted(ours)),
        since=state.cursor if incremental else "",
        working_hours=_working_hours(mappings, locations, start, end),
    )
    return query, mappings


def _working_hours(
    mappings: Mappings,
    locations: list[Location],
    start: datetime.datetime,
    end: datetime.datetime,
) -> dict[str, tuple[Interval, ...]]:
    """Each mapped practitioner's working intervals (UTC) at the served locations, each in its
    location's zone, for vendors that only say which times are free."""
    vendor_of = {pk: vid for vid, pk in mappings.practitioners.items()}
    zones = {location.pk: location.zone for location in locations}
    blocks = WorkingHours.objects.filter(
        practitioner_id__in=list(vendor_of), location_id__in=list(zones)
    ).values_list("practitioner_id", "location_id", *WorkingHours.BLOCK_FIELDS)
    intervals: dict[str, list[Interval]] = {}
    for pid, where, weekday, opens, closes, _step, _offer, valid_from, valid_until in blocks:
        zone = zones[where]
        day, last = start.astimezone(zone).date(), end.astimezone(zone).date()
        while day <= last:
            if applies_on(day, weekday=weekday, valid_from=valid_from, valid_until=valid_until):
                span = (to_utc(day, opens, zone), to_utc(day, closes, zone))
                if span[1] > start and span[0] < end:
                    intervals.setdefault(vendor_of[pid], []).append(span)
            day += DAY
    return {vid: tuple(sorted(spans)) for vid, spans in intervals.items()}


# -- pulling -----------------------------------------------------------------------------------


def pull(
    connection: VendorConnection, *, now: datetime.datetime | None = None, full: bool = False
) -> PullOutcome:
    """Read the connection's PMS calendar once and apply it (see the module docstring)."""
    now = now or timezone.now()
    owner = _claim(connection, now)
    label = connection.get_vendor_display()
    if owner is None:
        return PullOutcome(False, _("%(pms)s's calendar is being read right now.") % {"pms": label})
    interval = datetime.timedelta(seconds=settings.PMS_PULL_SECONDS)
    update: dict[str, Any] = {"attempted_at": now, "lease_until": None, "lease_owner": ""}
    outcome = PullOutcome(False, "")
    try:
        adapter = connection.adapter()
        adapter.pace_wait = STARTED_PACE_WAIT
        interval = max(interval, datetime.timedelta(seconds=adapter.min_pull_seconds))
        state = CalendarPull.objects.get(pk=connection.pk)
        query, mappings = build_query(connection, adapter, state, now, full=full)
        read = adapter.read_calendar(query)
        outcome = apply(connection, read, query=query, mappings=mappings, now=now)
    except NotSupported as error:
        update |= {"error": str(error), "next_pull_at": now + DAY}
        outcome = PullOutcome(False, str(error))
    except (VendorError, ConfigurationError) as error:
        wait = getattr(error, "retry_after", None) or 0
        update |= {
            "error": _("%(pms)s's calendar could not be read: %(why)s")
            % {"pms": label, "why": _why(error, label)},
            "next_pull_at": now + max(interval, datetime.timedelta(seconds=wait)),
        }
        outcome = PullOutcome(False, update["error"])
        logger.warning("calendar pull of connection %s failed: %s", connection.pk,
                       type(error).__name__)  # fmt: skip
    except Exception:
        update |= {"error": _("%(pms)s's calendar could not be read (internal error).")
                   % {"pms": label}, "next_pull_at": now + interval}  # fmt: skip
        raise
    else:
        update |= {"read_at": now, "error": "", "cursor": read.cursor[:200],
                   "next_pull_at": now + interval, "spans": outcome.busy}  # fmt: skip
        if read.complete:
            update["window_end"] = query.end
    finally:
        CalendarPull.objects.filter(pk=connection.pk, lease_owner=owner).update(**update)
        # When it was read, or why not: each availability answer's freshness headers say so.
        slot_cache.clinic_changed(connection.clinic_id)
    return outcome


def _why(error: VendorError | ConfigurationError, label: str) -> str:
    """Why a read failed, in words about reading (the adapters' messages speak of bookings)."""
    status = f" (HTTP {error.status})" if getattr(error, "status", None) else ""
    words = {"pms": label, "status": status}
    if isinstance(error, RateLimited):
        return _("%(pms)s asks us to slow down%(status)s; the last copy is kept.") % words
    if isinstance(error, VendorUnavailable):
        return (
            _("%(pms)s cannot be reached or is unavailable%(status)s; the last copy is kept.")
            % words
        )
    if isinstance(error, OutcomeUnknown):  # 5xx, timeouts after sending, unreadable answers
        return (
            _(
                "%(pms)s failed or answered something we cannot read%(status)s; the last copy "
                "is kept."
            )
            % words
        )
    return str(error)


def pull_due(*, now: datetime.datetime | None = None, limit: int = 20) -> int:
    """What the sweeper runs: every active connection whose next pull is due (and that no
    other process is pulling). Returns how many were read."""
    now = now or timezone.now()
    due = (
        VendorConnection.objects.filter(active=True)
        .filter(
            Q(calendar__isnull=True)
            | Q(calendar__next_pull_at__isnull=True)
            | Q(calendar__next_pull_at__lte=now)
        )
        .filter(
            Q(calendar__isnull=True)
            | Q(calendar__lease_until__isnull=True)
            | Q(calendar__lease_until__lt=now)
        )
        .select_related("location", "clinic")
        .order_by("pk")[:limit]
    )
    pulled = 0
    for connection in due:
        try:
            with written_for(connection.clinic):  # no user: its errors are read later
                pulled += pull(connection, now=now).pulled
        except Exception:  # recorded on the connection; the sweeper goes on with the others
            logger.exception("calendar pull of connection %s failed", connection.pk)
    return pulled


# -- applying ----------------------------------------------------------------------------------


def apply(
    connection: VendorConnection,
    read: CalendarRead,
    *,
    query: CalendarQuery | None = None,
    mappings: Mappings | None = None,
    now: datetime.datetime | None = None,
) -> PullOutcome:
    """Store what a read found and bring our appointments in line. A complete read needs the
    query it answered; an incremental one (or a webhook's spans) does not."""
    now = now or timezone.now()
    if read.complete and query is None:
        raise ValueError("a complete read is applied with the query it answered")
    if mappings is None:
        mappings = Mappings.load(connection, served_locations(connection))
    spans = read.spans
    mentioned = {span.external_id for span in spans if span.external_id}
    ours = _mapped(connection, Appointment, mentioned | set(query.ours if query else ()))
    foreign = [span for span in spans if span.external_id not in ours or not span.external_id]
    rows = _busy_rows(connection, foreign, mappings, now)
    with transaction.atomic():
        existing = PmsBusy.objects.filter(connection=connection)
        if read.complete:
            existing.filter(end__gt=query.start, start__lt=query.end).delete()
        else:
            existing.filter(external_id__in=mentioned - {""}).delete()
            # What a pre-flight found taken, until a read shows what took it.
            existing.filter(external_id="", kind="busy", last_seen__lt=now - PROVISIONAL).delete()
        existing.filter(Q(external_id__in=list(ours)) | Q(end__lt=now - KEEP_PAST)).delete()
        PmsBusy.objects.bulk_create(rows, batch_size=500)
        slot_cache.clinic_changed(connection.clinic_id)  # written in bulk, past any receiver
    seen = {span.external_id: span for span in spans if span.external_id in ours}
    if read.complete and read.lists_appointments and query is not None:
        for external_id in set(query.ours) - set(seen):
            if external_id in ours:
                seen[external_id] = BusySpan(
                    start=now, end=now, external_id=external_id, vendor_status="deleted",
                    active=False,
                )  # fmt: skip
    changed, attention = _follow(connection, seen, ours, mappings, now)
    return PullOutcome(True, _summary(connection, len(rows), changed, attention),
                       busy=len(rows), changed=changed, attention=attention)  # fmt: skip


def _summary(connection: VendorConnection, busy: int, changed: int, attention: int) -> str:
    words = {
        "pms": connection.get_vendor_display(),
        "busy": ngettext(
            "%(count)d busy time(s) held there", "%(count)d busy time(s) held there", busy
        )
        % {"count": busy},
        "changed": ngettext(
            "%(count)d of our appointment(s) updated from it",
            "%(count)d of our appointment(s) updated from it",
            changed,
        )
        % {"count": changed},
    }
    if not attention:
        return _("%(pms)s calendar read: %(busy)s, %(changed)s.") % words
    words["attention"] = ngettext(
        "%(count)d change(s) that need attention",
        "%(count)d change(s) that need attention",
        attention,
    ) % {"count": attention}
    return _("%(pms)s calendar read: %(busy)s, %(changed)s, %(attention)s.") % words


def _mapped(connection: VendorConnection, model: type, external_ids: set[str]) -> dict[str, int]:
    """The vendor's ID -> our record's pk, for those of `model` mapped at the connection."""
    if not external_ids:
        return {}
    return dict(
        ExternalId.objects.filter(
            connection=connection,
            role="",
            content_type_id=_content_types()[model],
            external_id__in=list(external_ids),
        ).values_list("external_id", "object_id")
    )


def _busy_rows(
    connection: VendorConnection,
    spans: list[BusySpan],
    mappings: Mappings,
    now: datetime.datetime,
) -> list[PmsBusy]:
    patients = _mapped(connection, Patient, {span.patient for span in spans if span.patient})
    derived = [span for span in spans if span.kind == "busy"]
    local = _local_busy(mappings, derived) if derived else {}
    rows = []
    for span in spans:
        if not span.active or span.end <= span.start:
            continue
        practitioner = mappings.practitioners.get(span.practitioner)
        room = mappings.rooms.get(span.room)
        if practitioner is None and room is None:
            continue  # nobody we book for
        pieces = [(span.start, span.end)]
        if span.kind == "busy" and practitioner is not None:
            # Time derived from the vendor's free slots includes our own appointments.
            pieces = minus(pieces, local.get(practitioner, []))
        for start, end in pieces:
            for piece_start, piece_end in _by_day(start, end):
                rows.append(
                    PmsBusy(
                        connection=connection,
                        practitioner_id=practitioner,
                        room_id=room,
                        patient_id=patients.get(span.patient),
                        start=piece_start,
                        end=piece_end,
                        kind=span.kind,
                        external_id=span.external_id[:100],
                        vendor_status=span.vendor_status[:100],
                        last_seen=now,
                    )
                )
    return rows


def _local_busy(
    mappings: Mappings, spans: list[BusySpan]
) -> dict[int, list[tuple[datetime.datetime, datetime.datetime]]]:
    start = min(span.start for span in spans)
    end = max(span.end for span in spans)
    found: dict[int, list[tuple[datetime.datetime, datetime.datetime]]] = {}
    for pid, busy_from, busy_until in Appointment.objects.filter(
        practitioner_id__in=list(mappings.practitioners.values()),
        status__in=ACTIVE_STATUSES,
        start__lt=end,
        end__gt=start,
    ).values_list("practitioner_id", "start", "end"):
        found.setdefault(pid, []).append((busy_from, busy_until))
    return found


def _by_day(
    start: datetime.datetime, end: datetime.datetime
) -> Iterable[tuple[datetime.datetime, datetime.datetime]]:
    """A span in pieces of at most a day (the slot engine reads bounded ranges)."""
    while end - start > DAY:
        yield start, start + DAY
        start += DAY
    yield start, end


# -- our appointments, as the PMS now has them --------------------------------------------------


def _follow(
    connection: VendorConnection,
    seen: Mapping[str, BusySpan],
    ours: Mapping[str, int],
    mappings: Mappings,
    now: datetime.datetime,
) -> tuple[int, int]:
    """Apply what the PMS did to our appointments; returns (changed, needing attention)."""
    if not seen:
        return 0, 0
    by_pk = {ours[external_id]: span for external_id, span in seen.items()}
    in_flight = Delivery.objects.filter(appointment=OuterRef("pk"), state__in=IN_FLIGHT_STATES)
    attention = Delivery.objects.filter(
        appointment=OuterRef("pk"), state=DeliveryState.NEEDS_ATTENTION
    )
    appointments = (
        Appointment.objects.filter(pk__in=list(by_pk))
        .annotate(in_flight=Exists(in_flight), attention=Exists(attention))
        .select_related("location", "appointment_type", "practitioner", "room")
    )
    label = connection.get_vendor_display()
    stores_duration = adapter_class(connection.vendor).stores_duration
    changed = flagged = 0
    settled: list[int] = []
    for appointment in appointments:
        if appointment.in_flight:
            continue  # our own write is on its way: the PMS's copy is older than ours
        span = by_pk[appointment.pk]
        try:
            did = _follow_one(appointment, span, mappings, label, stores_duration=stores_duration)
        except _Discrepancy as problem:
            if not appointment.attention:
                _needs_attention(connection, appointment, span, str(problem), now)
                flagged += 1
            continue
        changed += did
        settled.append(appointment.pk)
    if settled:
        # Consistent again: what was flagged about these is no longer true.
        Delivery.objects.filter(
            appointment_id__in=settled,
            operation=Operation.PMS_CHANGE,
            state=DeliveryState.NEEDS_ATTENTION,
        ).update(state=DeliveryState.SYNCED, last_error="", settled_at=now)
    return changed, flagged


class _Discrepancy(Exception):
    """The PMS did something to our appointment that cannot be applied here."""


def _follow_one(
    appointment: Appointment,
    span: BusySpan,
    mappings: Mappings,
    label: str,
    *,
    stores_duration: bool = True,
) -> int:
    """Bring one of our appointments in line with the PMS; returns 1 if it changed. Where the
    vendor does not keep the length we booked, ours is kept and only a new start moves it."""
    ours = appointment.status
    if not span.active:
        if ours == Status.CANCELLED:
            return 0
        deleted = span.vendor_status == "deleted"
        if Status.CANCELLED not in booking.TRANSITIONS[ours]:
            message = (
                _(
                    "Deleted in %(pms)s, but here it is %(status)s: check which is right, in "
                    "%(pms)s and here."
                )
                if deleted
                else _(
                    "Cancelled in %(pms)s, but here it is %(status)s: check which is right, in "
                    "%(pms)s and here."
                )
            )
            raise _Discrepancy(
                message % {"pms": label, "status": appointment.get_status_display().lower()}
            )
        reason = _("Deleted in %(pms)s.") if deleted else _("Cancelled in %(pms)s.")
        _change(appointment, Status.CANCELLED, label, reason=reason % {"pms": label})
        return 1
    did = 0
    practitioner = mappings.practitioners.get(span.practitioner)
    room = mappings.rooms.get(span.room)
    end = span.end if stores_duration else span.start + (appointment.end - appointment.start)
    moved = (span.start, end) != (appointment.start, appointment.end) or (
        practitioner not in (None, appointment.practitioner_id)
        or room not in (None, appointment.room_id)
    )
    if moved and end > span.start:
        try:
            booking.move_from_pms(
                appointment,
                start=span.start,
                end=end,
                practitioner=Practitioner.objects.get(pk=practitioner) if practitioner else None,
                room=Room.objects.get(pk=room) if room else None,
                pms=label,
            )
        except BookingError as refused:
            raise _Discrepancy(
                _(
                    "Moved in %(pms)s to %(when)s, which cannot be applied here: %(why)s Move it "
                    "here or in %(pms)s by hand."
                )
                % {"pms": label, "when": _local(span.start, appointment), "why": _text(refused)}
            ) from None
        did = 1
    wanted = span.status
    if wanted and wanted != appointment.status:
        if wanted in booking.TRANSITIONS[appointment.status]:
            _change(appointment, wanted, label)
            did = 1
        elif not _behind(wanted, appointment.status):
            raise _Discrepancy(
                _("%(pms)s has it as %(theirs)s, but here it is %(ours)s: check which is right.")
                % {
                    "pms": label,
                    "theirs": Status(wanted).label.lower(),
                    "ours": appointment.get_status_display().lower(),
                }
            )
    return did


def _change(appointment: Appointment, status: str, label: str, *, reason: str = "") -> None:
    if status == Status.CANCELLED:
        reason = reason or _("Cancelled in %(pms)s.") % {"pms": label}
    try:
        booking.change_status(appointment, status, pms=label, reason=reason)
    except BookingError as refused:
        raise _Discrepancy(
            _("%(pms)s has it as %(theirs)s, which cannot be applied here: %(why)s")
            % {"pms": label, "theirs": Status(status).label.lower(), "why": _text(refused)}
        ) from None


def _behind(theirs: str, ours: str) -> bool:
    return theirs in PROGRESS and ours in PROGRESS and PROGRESS[theirs] < PROGRESS[ours]


def _text(error: BookingError) -> str:
    return " ".join(text for texts in error.messages.values() for text in texts)


def _local(moment: datetime.datetime, appointment: Appointment) -> str:
    """The appointment's local weekday, date and time, e.g. "Mon 04 Jan 11:00" (in the
    active language's words)."""
    return formats.date_format(moment.astimezone(appointment.location.zone), "D d M H:i")


def _needs_attention(
    connection: VendorConnection,
    appointment: Appointment,
    span: BusySpan,
    message: str,
    now: datetime.datetime,
) -> None:
    Delivery.objects.create(
        appointment=appointment,
        connection=connection,
        operation=Operation.PMS_CHANGE,
        state=DeliveryState.NEEDS_ATTENTION,
        external_id=span.external_id[:100],
        vendor_status=span.vendor_status[:100],
        last_error=message,
        settled_at=now,
    )
