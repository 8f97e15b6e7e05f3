"""Booking services: book, reschedule, cancel and the other status changes.

Every rule of DESIGN §4 is checked here (pages, API, admin and commands call these
functions). Overlaps are checked inside the write transaction — IMMEDIATE on SQLite, so
bookings are serialised — and guarded again by the database (exclusion constraints on
PostgreSQL, triggers on SQLite); whichever catches a clash, the caller gets a
`SlotConflict` carrying the next free alternatives.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import dateformat, timezone
from django.utils.translation import gettext, ngettext

from scheduling import audit, availability, cancel_reasons, claims, schedule_reads
from scheduling.errors import RuleViolation, SlotConflict, TransitionNotAllowed
from scheduling.localtime import UTC, to_utc
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AppointmentType,
    CancelReason,
    Location,
    Modality,
    ModalityOffer,
    Patient,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from scheduling.models.appointments import outside_clinic
from scheduling.prepared import Prepared, rows_of_each
from vendors import delivery, preflight
from vendors.models import Operation, PmsBusy, VendorConnection

Status = AppointmentStatus
Action = AppointmentEvent.Action
MAX_COMMENT = 1000
ALTERNATIVES = 3
OVERLAP_GUARDS = {
    "appointment_no_practitioner_overlap": "practitioner",
    "appointment_no_room_overlap": "room",
    "appointment_no_patient_overlap": "patient",
}

# status -> {status it may become: the action that does it}
TRANSITIONS: dict[str, dict[str, str]] = {
    Status.UNCONFIRMED: {
        Status.CONFIRMED: Action.CONFIRMED,
        Status.ARRIVED: Action.ARRIVED,
        Status.CANCELLED: Action.CANCELLED,
        Status.NO_SHOW: Action.NO_SHOW,
    },
    Status.CONFIRMED: {
        Status.ARRIVED: Action.ARRIVED,
        Status.CANCELLED: Action.CANCELLED,
        Status.NO_SHOW: Action.NO_SHOW,
    },
    Status.ARRIVED: {Status.COMPLETED: Action.COMPLETED},
    Status.COMPLETED: {},
    Status.CANCELLED: {},
    Status.NO_SHOW: {},
}
RESCHEDULABLE = (Status.UNCONFIRMED, Status.CONFIRMED)


@dataclasses.dataclass
class Plan:
    """A booking that passed every rule that does not depend on other appointments."""

    location: Location
    practitioner: Practitioner
    patient: Patient
    appointment_type: AppointmentType | None
    start: datetime.datetime
    end: datetime.datetime
    busy_from: datetime.datetime
    busy_until: datetime.datetime
    modality: str
    room: Room | None
    demand: availability.Demand
    # The active connection the location books into (None: local), read with the rules.
    connection: VendorConnection | type[delivery.LOOK_UP] | None = delivery.LOOK_UP

    @property
    def overflow(self) -> bool:
        return self.room is not None and self.room.is_overflow


def _local(moment: datetime.datetime, location: Location) -> str:
    """ "Mon 04 Jan 2027 09:00" at the location, the day and month named in the active
    language."""
    return dateformat.format(moment.astimezone(location.zone), "D d M Y H:i")


def _hhmm(moment: datetime.datetime, location: Location) -> str:
    return f"{moment.astimezone(location.zone):%H:%M}"


def plan_booking(
    *,
    location: Location,
    practitioner: Practitioner,
    patient: Patient,
    start: datetime.datetime,
    appointment_type: AppointmentType | None = None,
    duration_minutes: int | None = None,
    room: Room | None = None,
    modality: str | None = None,
    comment: str = "",
    assistant: Practitioner | None = None,
    now: datetime.datetime | None = None,
) -> Plan:
    """Check rules 2–4 and 9 of DESIGN §4; one message per field that is wrong."""
    clinic_id = location.clinic_id
    errors = outside_clinic(
        clinic_id,
        practitioner=practitioner,
        patient=patient,
        appointment_type=appointment_type,
    )
    if not location.active:
        errors["location"] = gettext(
            "%(location)s is closed for bookings; choose another location."
        ) % {"location": location}
    if "practitioner" not in errors and not practitioner.active:
        errors["practitioner"] = gettext("%(practitioner)s no longer takes appointments.") % {
            "practitioner": practitioner
        }
    if "appointment_type" not in errors and appointment_type and not appointment_type.active:
        errors["appointment_type"] = gettext("“%(type)s” is no longer offered.") % {
            "type": appointment_type
        }
    if room is not None:
        if room.location_id != location.pk:
            errors["room"] = gettext("Choose a room at %(location)s.") % {"location": location}
        elif not room.active:
            errors["room"] = gettext("%(room)s is out of service; choose another room.") % {
                "room": room.name
            }
        elif room.is_overflow and not location.clinic.allows_overflow_booking:
            errors["room"] = gettext(
                "This clinic does not allow overflow booking; choose a regular room."
            )
    if assistant is not None and (
        assistant.clinic_id != clinic_id or assistant.pk == practitioner.pk
    ):
        errors["assistant"] = gettext(
            "Choose an assistant of this clinic other than the practitioner."
        )
    if len(comment) > MAX_COMMENT:
        errors["comment"] = ngettext(
            "Keep the comment to %(limit)d character (it has %(length)d).",
            "Keep the comment to %(limit)d characters (it has %(length)d).",
            MAX_COMMENT,
        ) % {"limit": MAX_COMMENT, "length": len(comment)}
    if start.tzinfo is None:
        errors["start"] = gettext(
            "Give the start with its UTC offset, e.g. 2026-11-23T09:00:00-03:00."
        )
    if errors:
        raise RuleViolation(errors)

    try:
        demand = availability.Demand.build(
            appointment_type=appointment_type, duration_minutes=duration_minutes
        )
    except RuleViolation as error:
        if "duration" in error.messages:
            error.messages["duration_minutes"] = error.messages.pop("duration")
        raise
    start = start.astimezone(UTC)
    end = start + demand.duration
    now = now or timezone.now()
    earliest = availability.earliest_start(now)
    if start < now:
        raise RuleViolation(
            {
                "start": gettext("%(start)s has passed; choose a later time.")
                % {"start": _local(start, location)}
            }
        )
    if start < earliest:
        notice = settings.BOOKING_MIN_NOTICE_MINUTES
        raise RuleViolation(
            {
                "start": ngettext(
                    "Bookings need %(minutes)d minute's notice; choose %(earliest)s or later.",
                    "Bookings need %(minutes)d minutes' notice; choose %(earliest)s or later.",
                    notice,
                )
                % {"minutes": notice, "earliest": _local(earliest, location)}
            }
        )

    reads = _reads(location, practitioner, start, end)
    block = _containing_block(location, practitioner, start, end, demand, reads.blocks)
    offered = ModalityOffer.allowed(block.modality) & demand.modalities
    if not offered:
        raise RuleViolation(
            {
                "modality": gettext(
                    "“%(type)s” cannot take place in %(practitioner)s's %(hours)s hours; "
                    "choose another time or type."
                )
                % {
                    "type": appointment_type,
                    "practitioner": practitioner,
                    "hours": block.get_modality_display().lower(),
                }
            }
        )
    if modality is None:
        if len(offered) > 1:
            raise RuleViolation(
                {"modality": gettext("This time can be in person or by video: choose one.")}
            )
        (modality,) = offered
    elif modality not in Modality.values:
        raise RuleViolation({"modality": gettext("Choose in person or video.")})
    elif modality not in offered:
        (only,) = offered
        raise RuleViolation(
            {
                "modality": gettext("Only %(modality)s appointments are possible at this time.")
                % {"modality": Modality(only).label.lower()}
            }
        )

    if reads.away:
        _refuse_time_off(location, practitioner, start, end)
    if modality == Modality.VIDEO and room is not None and room.is_overflow:
        room = None
    return Plan(
        location=location,
        practitioner=practitioner,
        patient=patient,
        appointment_type=appointment_type,
        start=start,
        end=end,
        busy_from=start - demand.buffer_before,
        busy_until=end + demand.buffer_after,
        modality=modality,
        room=room,
        demand=dataclasses.replace(
            demand,
            modalities=frozenset({modality}),
            include_overflow=bool(room and room.is_overflow),
        ),
        connection=reads.connection,
    )


@dataclasses.dataclass(frozen=True)
class _Reads:
    """What a booking's rules read, in one statement: the practitioner's working hours (at
    every location), whether time off or a closure meets the booking, and the connection."""

    blocks: list[WorkingHours]
    away: bool
    connection: VendorConnection | None


def _reads(
    location: Location, practitioner: Practitioner, start: datetime.datetime,
    end: datetime.datetime,
) -> _Reads:  # fmt: skip
    reads = [
        _blocks_of.read([practitioner.pk]),
        schedule_reads.time_off_read(location.pk, [practitioner.pk], start, end),
        delivery.SERVING.read([location.pk, location.clinic_id]),
    ]
    if None in reads:  # a look-up the ORM runs on its own
        return _Reads(
            blocks=_blocks_of([practitioner.pk]),
            away=bool(schedule_reads.time_off(location.pk, [practitioner.pk], start, end)),
            connection=delivery.connection_serving(location.pk, location.clinic_id),
        )
    blocks, away, candidates = rows_of_each(reads)
    return _Reads(
        blocks=blocks,
        away=bool(away),
        connection=delivery.serving_of(candidates, location.pk),
    )


def _containing_block(
    location: Location,
    practitioner: Practitioner,
    start: datetime.datetime,
    end: datetime.datetime,
    demand: availability.Demand,
    blocks: list[WorkingHours],
) -> WorkingHours:
    zone = location.zone
    day = start.astimezone(zone).date()
    weekday = day.weekday()
    # In WorkingHours' order (a read of `_reads` comes back in none).
    blocks = sorted(
        (block for block in blocks if block.weekday == weekday),
        key=lambda block: (block.start_time, block.pk),
    )
    misaligned: WorkingHours | None = None
    elsewhere: WorkingHours | None = None
    for block in blocks:
        valid = block.applies_on(day)
        block_start = to_utc(day, block.start_time, zone)
        block_end = to_utc(day, block.end_time, zone)
        if not valid or not (block_start <= start and end <= block_end):
            continue
        if block.location_id != location.pk:
            elsewhere = block
            continue
        interval = datetime.timedelta(minutes=block.slot_interval_minutes)
        if demand.duration % interval:
            raise RuleViolation(
                {
                    "duration_minutes": ngettext(
                        "At this time %(practitioner)s's appointments last a multiple of "
                        "%(interval)d minute; %(minutes)d is not.",
                        "At this time %(practitioner)s's appointments last a multiple of "
                        "%(interval)d minutes; %(minutes)d is not.",
                        block.slot_interval_minutes,
                    )
                    % {
                        "practitioner": practitioner,
                        "interval": block.slot_interval_minutes,
                        "minutes": demand.duration.seconds // 60,
                    }
                }
            )
        if (start - block_start) % interval:
            misaligned = block
            continue
        return block
    if misaligned is not None:
        raise RuleViolation(
            {
                "start": ngettext(
                    "%(practitioner)s's appointments start every %(interval)d minute from "
                    "%(from)s; choose one of those times.",
                    "%(practitioner)s's appointments start every %(interval)d minutes from "
                    "%(from)s; choose one of those times.",
                    misaligned.slot_interval_minutes,
                )
                % {
                    "practitioner": practitioner,
                    "interval": misaligned.slot_interval_minutes,
                    "from": f"{misaligned.start_time:%H:%M}",
                }
            }
        )
    if elsewhere is not None:
        raise RuleViolation(
            {
                "start": gettext("%(practitioner)s works at %(location)s at that time, not here.")
                % {"practitioner": practitioner, "location": elsewhere.location}
            }
        )
    raise RuleViolation(
        {
            "start": gettext(
                "%(practitioner)s does not work at %(location)s on %(start)s–%(end)s; choose a "
                "time within their working hours."
            )
            % {
                "practitioner": practitioner,
                "location": location,
                "start": _local(start, location),
                "end": _hhmm(end, location),
            }
        }
    )


# A practitioner's working hours, at every location: a few rows, compiled once (a weekday
# cannot be a stand-in: Django refuses a small whole number out of its range).
_blocks_of = Prepared(
    lambda practitioner_id: WorkingHours.objects.filter(practitioner_id=practitioner_id)
)


def _refuse_time_off(
    location: Location, practitioner: Practitioner, start: datetime.datetime, end: datetime.datetime
) -> None:
    """Time off or a closure meets the booking (`_reads`): the message needs the ORM."""
    absence = (
        TimeOff.objects.filter(Q(practitioner=practitioner) | Q(location=location))
        .filter(start__lt=end, end__gt=start)
        .order_by("start")
        .first()
    )
    if absence is None:
        return
    if absence.location_id:
        if absence.reason:
            message = gettext("%(location)s is closed until %(until)s (%(reason)s).")
        else:
            message = gettext("%(location)s is closed until %(until)s.")
    elif absence.reason:
        message = gettext("%(practitioner)s is away until %(until)s (%(reason)s).")
    else:
        message = gettext("%(practitioner)s is away until %(until)s.")
    values = {
        "location": location,
        "practitioner": practitioner,
        "until": _local(absence.end, location),
        "reason": absence.reason,
    }
    raise RuleViolation({"start": message % values})


def _guard_field(error: IntegrityError) -> str | None:
    text = str(error)
    return next((field for name, field in OVERLAP_GUARDS.items() if name in text), None)


def _busy_spans_overlapping(plan: Plan, queryset: QuerySet) -> QuerySet:
    """Active appointments whose busy span overlaps the plan's (overflow ones never count)."""
    return queryset.filter(
        status__in=ACTIVE_STATUSES,
        overflow=False,
        busy_until__gt=plan.busy_from,
        busy_from__lt=plan.busy_until,
    )


def _busy_clash(active: QuerySet, plan: Plan, **holder: object) -> Appointment | None:
    """The first appointment of this practitioner or room in the plan's busy span."""
    return _busy_spans_overlapping(plan, active.filter(**holder)).order_by("start").first()


def _clash_messages(
    plan: Plan, exclude_id: int | None, *, held_in_pms: bool = True
) -> dict[str, str]:
    """The one conflict that stops this booking (inside the transaction), or {}: the
    practitioner's, else the room's, else (with `held_in_pms`) time held in the PMS, else the
    patient's. Only the first is said: a room taken by the very appointment that holds the
    practitioner is not a second problem, and another time is the answer to all of them. An
    appointment of this same patient is named as theirs, whichever holder it clashes on."""
    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES)
    if exclude_id is not None:
        active = active.exclude(pk=exclude_id)
    location = plan.location
    own = None
    if not plan.overflow:
        clash = _busy_clash(active, plan, practitioner=plan.practitioner)
        if clash is None and plan.room is not None:
            clash = _busy_clash(active, plan, room=plan.room)
            if clash is not None and clash.patient_id != plan.patient.pk:
                return {
                    "room": gettext(
                        "%(room)s is taken from %(start)s to %(end)s; choose another room or time."
                    )
                    % {
                        "room": plan.room.name,
                        "start": _hhmm(clash.start, location),
                        "end": _hhmm(clash.end, location),
                    }
                }
        elif clash is not None and clash.patient_id != plan.patient.pk:
            return {
                "start": gettext(
                    "%(practitioner)s is already booked from %(start)s to %(end)s; "
                    "choose another time."
                )
                % {
                    "practitioner": plan.practitioner,
                    "start": _hhmm(clash.start, location),
                    "end": _hhmm(clash.end, location),
                }
            }
        own = clash  # None, or an appointment of this same patient
        if own is None and held_in_pms:
            held = _held_in_pms(plan)
            if held:
                return held
    clash = own or (
        active.filter(patient=plan.patient, end__gt=plan.start, start__lt=plan.end)
        .select_related("practitioner", "location")
        .order_by("start")
        .first()
    )
    if clash is None:
        return {}
    return {
        "patient": gettext(
            "This patient already has an appointment with %(practitioner)s from %(start)s "
            "to %(end)s."
        )
        % {
            "practitioner": clash.practitioner,
            "start": _hhmm(clash.start, clash.location),
            "end": _hhmm(clash.end, clash.location),
        }
    }


def _held_in_pms(plan: Plan) -> dict[str, str]:
    """The practitioner or room is busy in the PMS (booked or blocked there directly); the
    practitioner's hold is the one said when both are held."""
    from django.db.models import Case, Value, When

    holders = Q(practitioner=plan.practitioner)
    if plan.room is not None:
        holders |= Q(room=plan.room)
    held = (
        PmsBusy.objects.filter(holders, start__lt=plan.busy_until, end__gt=plan.busy_from)
        .select_related("connection")
        .order_by(
            Case(When(practitioner=plan.practitioner, then=Value(0)), default=Value(1)),
            "start",
        )
        .first()
    )
    if held is None:
        return {}
    field, who = ("start", str(plan.practitioner))
    if held.practitioner_id != plan.practitioner.pk:
        field, who = ("room", plan.room.name if plan.room else "")
    return {
        field: gettext(
            "%(holder)s is busy in %(pms)s from %(start)s to %(end)s (booked there directly); "
            "choose another time."
        )
        % {
            "holder": who,
            "pms": held.connection.get_vendor_display(),
            "start": _hhmm(held.start, plan.location),
            "end": _hhmm(held.end, plan.location),
        }
    }


def _pick_room(plan: Plan, exclude_id: int | None) -> Room | None:
    taken = _busy_spans_overlapping(plan, Appointment.objects.filter(room__isnull=False))
    if exclude_id is not None:
        taken = taken.exclude(pk=exclude_id)
    held = PmsBusy.objects.filter(
        room__isnull=False, start__lt=plan.busy_until, end__gt=plan.busy_from
    )
    return (
        Room.objects.filter(location=plan.location, active=True, is_overflow=False)
        .exclude(pk__in=taken.values("room_id"))
        .exclude(pk__in=held.values("room_id"))
        .order_by("name", "pk")
        .first()
    )


def _alternatives(plan: Plan, *, now: datetime.datetime | None, exclude_id: int | None) -> list:
    return availability.next_available(
        location=plan.location,
        practitioner_ids=[plan.practitioner.pk],
        demand=plan.demand,
        date_from=plan.start.astimezone(plan.location.zone).date(),
        after=plan.start,
        count=ALTERNATIVES,
        now=now,
        exclude_appointment_id=exclude_id,
    )


class _Taken(Exception):
    def __init__(self, messages: dict[str, str]) -> None:
        self.messages = messages


def _claim(plan: Plan, exclude_id: int | None) -> Plan:
    """Inside the write transaction: make sure nothing overlaps; pick a room if none given.
    The common case, nothing in the way, is one statement (scheduling/claims.py); a clash, or
    an overflow room, goes through the ORM (`_claim_by_orm`), which says what is in the way."""
    if not plan.overflow:
        pick = plan.modality == Modality.IN_PERSON and plan.room is None
        claim = claims.check(
            location_id=plan.location.pk,
            practitioner_id=plan.practitioner.pk,
            patient_id=plan.patient.pk,
            room_id=plan.room.pk if plan.room is not None else None,
            pick_room=pick,
            start=plan.start,
            end=plan.end,
            busy_from=plan.busy_from,
            busy_until=plan.busy_until,
            exclude_id=exclude_id,
        )
        if not claim.clashes and not pick:
            return plan
        if not claim.clashes and claim.free_room_id is not None:
            return dataclasses.replace(plan, room=claim.free_room(plan.location))
    return _claim_by_orm(plan, exclude_id)


def _claim_by_orm(plan: Plan, exclude_id: int | None) -> Plan:
    """`_claim` through the ORM, statement by statement, raising `_Taken` with the message of
    what is in the way."""
    if plan.modality == Modality.IN_PERSON and plan.room is None:
        room = _pick_room(plan, exclude_id)
        if room is None:
            messages = _clash_messages(plan, exclude_id) or {
                "room": gettext(
                    "No room is free at %(location)s at that time; choose another time."
                )
                % {"location": plan.location}
            }
            raise _Taken(messages)
        plan = dataclasses.replace(plan, room=room)
    messages = _clash_messages(plan, exclude_id)
    if messages:
        raise _Taken(messages)
    return plan


def _save_guarded(write: Callable[[], None]) -> None:
    """Run `write` in a transaction (a savepoint inside one), turning the database's overlap
    guards into `_Taken`. `write` raises `_Taken` before it writes anything, so that block
    ends without a rollback: a ROLLBACK, even to a savepoint, makes psycopg forget every
    statement it prepared on the connection, and the next requests would plan them again."""
    taken: _Taken | None = None
    try:
        with transaction.atomic():
            try:
                write()
            except _Taken as refused:
                taken = refused
            else:
                audit.write_with_transaction()
    except IntegrityError as error:
        field = _guard_field(error)
        if field is None:
            raise
        raise _Taken(
            {field: gettext("Someone else booked this time a moment ago; choose another time.")}
        ) from None
    if taken is not None:
        raise taken


def book_appointment(
    *,
    location: Location,
    practitioner: Practitioner,
    patient: Patient,
    start: datetime.datetime,
    appointment_type: AppointmentType | None = None,
    duration_minutes: int | None = None,
    room: Room | None = None,
    modality: str | None = None,
    comment: str = "",
    urgent: bool = False,
    assistant: Practitioner | None = None,
    follow_up_of: Appointment | None = None,
    by: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Check every rule, then store the appointment; a clash raises SlotConflict."""
    if follow_up_of is not None and follow_up_of.patient_id != patient.pk:
        raise RuleViolation({"follow_up_of": gettext("A follow-up must be of the same patient.")})
    plan = plan_booking(
        location=location,
        practitioner=practitioner,
        patient=patient,
        start=start,
        appointment_type=appointment_type,
        duration_minutes=duration_minutes,
        room=room,
        modality=modality,
        comment=comment,
        assistant=assistant,
        now=now,
    )
    # Where this booking goes (read with the rules; for the pre-flight and the delivery).
    connection = plan.connection
    refusal = preflight.taken_in_pms(
        connection=connection,
        location=location,
        practitioner=practitioner,
        patient=patient,
        room=plan.room,
        appointment_type=appointment_type,
        start=plan.start,
        end=plan.end,
        modality=plan.modality,
    )
    if refusal:
        raise SlotConflict(
            {"start": refusal}, alternatives=_alternatives(plan, now=now, exclude_id=None)
        )
    created: list[Appointment] = []

    def write() -> None:
        claimed = _claim(plan, None)
        appointment = Appointment.objects.create(
            clinic_id=location.clinic_id,
            location=location,
            practitioner=practitioner,
            room=claimed.room,
            patient=patient,
            appointment_type=appointment_type,
            start=claimed.start,
            end=claimed.end,
            busy_from=claimed.busy_from,
            busy_until=claimed.busy_until,
            overflow=claimed.overflow,
            modality=claimed.modality,
            comment=comment,
            urgent=urgent,
            assistant=assistant,
            follow_up_of=follow_up_of,
            created_by=by,
        )
        delivery.record(appointment, Operation.BOOK, connection=connection)
        AppointmentEvent.objects.create(
            appointment=appointment,
            action=Action.BOOKED,
            to_status=appointment.status,
            by=by,
            details={"start": claimed.start.isoformat(), "end": claimed.end.isoformat()},
        )
        created.append(appointment)

    try:
        _save_guarded(write)
    except _Taken as taken:
        raise SlotConflict(
            taken.messages, alternatives=_alternatives(plan, now=now, exclude_id=None)
        ) from None
    return created[0]


def reschedule_appointment(
    appointment: Appointment,
    *,
    start: datetime.datetime,
    practitioner: Practitioner | None = None,
    room: Room | None = None,
    modality: str | None = None,
    duration_minutes: int | None = None,
    by: AbstractBaseUser | None = None,
    now: datetime.datetime | None = None,
) -> Appointment:
    """Move an unconfirmed or confirmed appointment; it becomes unconfirmed again."""
    check_reschedulable(appointment, now)
    request = {
        "location": appointment.location,
        "practitioner": practitioner or appointment.practitioner,
        "patient": appointment.patient,
        "start": start,
        "appointment_type": appointment.appointment_type,
        "duration_minutes": duration_minutes or appointment.duration_minutes,
        "room": room,
        "comment": appointment.comment,
        "assistant": appointment.assistant,
        "now": now,
    }
    try:
        plan = plan_booking(**request, modality=modality or appointment.modality)
    except RuleViolation as error:
        # Keep the modality where the new time offers it; otherwise the new hours decide.
        if modality is not None or set(error.messages) != {"modality"}:
            raise
        plan = plan_booking(**request, modality=None)

    def write() -> None:
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        check_reschedulable(current, now)
        keep_room = room is None and plan.modality == Modality.IN_PERSON and current.room
        claimed = plan
        if keep_room and not _clash_messages(
            dataclasses.replace(plan, room=current.room), current.pk
        ):
            claimed = dataclasses.replace(plan, room=current.room)
        claimed = _claim(claimed, current.pk)
        before = {"start": current.start.isoformat(), "end": current.end.isoformat()}
        for field, value in {
            "practitioner": claimed.practitioner,
            "room": claimed.room,
            "start": claimed.start,
            "end": claimed.end,
            "busy_from": claimed.busy_from,
            "busy_until": claimed.busy_until,
            "overflow": claimed.overflow,
            "modality": claimed.modality,
            "status": Status.UNCONFIRMED,
        }.items():
            setattr(appointment, field, value)
        appointment.save()
        delivery.record(appointment, Operation.RESCHEDULE, connection=plan.connection)
        AppointmentEvent.objects.create(
            appointment=appointment,
            action=Action.RESCHEDULED,
            from_status=current.status,
            to_status=appointment.status,
            by=by,
            details={
                "from": before,
                "to": {"start": claimed.start.isoformat(), "end": claimed.end.isoformat()},
            },
        )

    try:
        _save_guarded(write)
    except _Taken as taken:
        appointment.refresh_from_db()
        raise SlotConflict(
            taken.messages, alternatives=_alternatives(plan, now=now, exclude_id=appointment.pk)
        ) from None
    return appointment


def check_reschedulable(appointment: Appointment, now: datetime.datetime | None = None) -> None:
    """Refuse (TransitionNotAllowed) to move an appointment that its status or start forbid."""
    if appointment.status not in RESCHEDULABLE:
        raise TransitionNotAllowed(
            gettext("A %(status)s appointment cannot be rescheduled.")
            % {"status": appointment.get_status_display().lower()}
        )
    if appointment.start <= (now or timezone.now()):
        raise TransitionNotAllowed(
            gettext("This appointment has already started; it can no longer be moved.")
        )


def change_status(
    appointment: Appointment,
    to_status: str,
    *,
    by: AbstractBaseUser | None = None,
    reason: str = "",
    now: datetime.datetime | None = None,
    pms: str = "",
) -> Appointment:
    """Move along the status table, recording who and when. With `pms` (the PMS's name) the
    change was made in the PMS: it is recorded as made there and not sent back to it."""
    now = now or timezone.now()
    if to_status == Status.CANCELLED:
        reason = reason.strip()
        if not reason:
            raise RuleViolation({"reason": gettext("Give a reason for the cancellation.")})
        if len(reason) > MAX_COMMENT:
            raise RuleViolation(
                {
                    "reason": ngettext(
                        "Keep the reason to %(limit)d character.",
                        "Keep the reason to %(limit)d characters.",
                        MAX_COMMENT,
                    )
                    % {"limit": MAX_COMMENT}
                }
            )
    with transaction.atomic():
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        action = TRANSITIONS[current.status].get(to_status)
        if action is None:
            raise TransitionNotAllowed(
                {
                    "status": gettext("A %(status)s appointment cannot become %(new)s.")
                    % {
                        "status": current.get_status_display().lower(),
                        "new": Status(to_status).label.lower(),
                    }
                }
            )
        if to_status in (Status.NO_SHOW, Status.COMPLETED) and now < current.start:
            raise TransitionNotAllowed(
                {
                    "status": gettext(
                        "The appointment has not started yet; it can be marked %(new)s from "
                        "%(start)s."
                    )
                    % {
                        "new": Status(to_status).label.lower(),
                        "start": _local(current.start, current.location),
                    }
                }
            )
        if (
            to_status == Status.ARRIVED
            and now.astimezone(current.location.zone).date()
            != current.start.astimezone(current.location.zone).date()
        ):
            raise TransitionNotAllowed(
                {
                    "status": gettext(
                        "A patient can be marked arrived only on the day of the appointment."
                    )
                }
            )
        appointment.status = to_status
        fields = ["status", "updated_at"]
        if to_status == Status.CANCELLED:
            appointment.cancellation_reason = reason
            fields.append("cancellation_reason")
        appointment.save(update_fields=fields)
        if to_status == Status.CANCELLED and not pms:
            delivery.record(appointment, Operation.CANCEL)
        details: dict[str, str] = {"reason": reason} if reason else {}
        if pms:
            details["by_pms"] = pms
        AppointmentEvent.objects.create(
            appointment=appointment,
            action=action,
            from_status=current.status,
            to_status=to_status,
            by=by,
            details=details,
        )
    return appointment


def move_from_pms(
    appointment: Appointment,
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    practitioner: Practitioner | None = None,
    room: Room | None = None,
    pms: str,
) -> Appointment:
    """The PMS moved one of our appointments (to another time, practitioner or room): the PMS
    decided, so its hours are not checked here, but nothing may overlap what is booked here
    (SlotConflict) and only an appointment that could be rescheduled moves
    (TransitionNotAllowed). Recorded as made in the PMS; nothing is sent back."""
    buffers = appointment.appointment_type
    before = datetime.timedelta(minutes=buffers.buffer_before_minutes if buffers else 0)
    after = datetime.timedelta(minutes=buffers.buffer_after_minutes if buffers else 0)

    def write() -> None:
        current = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if current.status not in RESCHEDULABLE:
            raise TransitionNotAllowed(
                gettext("A %(status)s appointment cannot be moved.")
                % {"status": current.get_status_display().lower()}
            )
        changes = {
            "practitioner": practitioner or current.practitioner,
            "room": room or current.room,
            "start": start,
            "end": end,
            "busy_from": start - before,
            "busy_until": end + after,
        }
        plan = Plan(
            location=current.location,
            practitioner=changes["practitioner"],
            patient=current.patient,
            appointment_type=current.appointment_type,
            start=start,
            end=end,
            busy_from=changes["busy_from"],
            busy_until=changes["busy_until"],
            modality=current.modality,
            room=changes["room"] if current.modality == Modality.IN_PERSON else None,
            demand=None,  # type: ignore[arg-type]  # not searched: no alternatives here
        )
        # The PMS itself put it there: its own busy time is not held against it.
        messages = _clash_messages(plan, current.pk, held_in_pms=False)
        if messages:
            raise _Taken(messages)
        was = {"start": current.start.isoformat(), "end": current.end.isoformat()}
        for field, value in changes.items():
            setattr(appointment, field, value)
        appointment.save()
        AppointmentEvent.objects.create(
            appointment=appointment,
            action=Action.RESCHEDULED,
            from_status=current.status,
            to_status=current.status,
            details={
                "from": was,
                "to": {"start": start.isoformat(), "end": end.isoformat()},
                "by_pms": pms,
            },
        )

    try:
        _save_guarded(write)
    except _Taken as taken:
        appointment.refresh_from_db()
        raise SlotConflict(taken.messages, alternatives=[]) from None
    return appointment


def cancel_appointment(
    appointment: Appointment,
    *,
    reason: str = "",
    preset: CancelReason | None = None,
    by: AbstractBaseUser | None = None,
) -> Appointment:
    """Cancel with a reason: one of the clinic's reasons (`preset`), the receptionist's own
    words (`reason`), or both; the appointment records the words
    (scheduling.cancel_reasons.reason_text)."""
    text = cancel_reasons.reason_text(appointment, preset=preset, details=reason)
    return change_status(appointment, Status.CANCELLED, reason=text, by=by)
