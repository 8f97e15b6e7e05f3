"""The delivery state machine: every appointment operation reaches the PMS exactly once.

queued ──claim──▶ sending ──ok──▶ synced
   ▲                 │  └──ok, not yet confirmed──▶ accepted ──webhook/poll──▶ synced
   └──transient──────┤                                   └──failed/expired──▶ needs_attention
                     └──permanent, or unknown outcome that cannot be checked──▶ needs_attention

The Delivery row is the truth. Tasks and the sweeper only call `deliver()`, which is safe to
run twice: a delivery is claimed under a lease (vendors/leases.py: one UPDATE of the row
picked FOR UPDATE SKIP LOCKED on PostgreSQL, one writing statement at a time on SQLite),
and an attempt whose outcome is unknown is looked up at the vendor before anything is sent
again.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import logging
import random
import socket
import time
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, router, transaction
from django.db import connection as db
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from scheduling import observability
from scheduling import schedule_reads as reads
from scheduling.models import Appointment, AppointmentType, Location, Patient, Practitioner, Room
from scheduling.prepared import Prepared
from vendors import leases
from vendors.errors import ConfigurationError, NotSupported, RateLimited, VendorError
from vendors.language import written_for
from vendors.models import (
    RETRYABLE_STATES,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    ExternalId,
    Operation,
    PmsBusy,
    VendorConnection,
)
from vendors.redaction import Scrubber
from vendors.types import CRITERION_WORDS, BookingRequest, PatientDetails, VendorAppointment

logger = logging.getLogger("vendors.delivery")

State = DeliveryState
MAX_ATTEMPTS = 8
MAX_AGE = datetime.timedelta(hours=24)
BACKOFF_BASE = datetime.timedelta(seconds=2)
BACKOFF_CAP = datetime.timedelta(minutes=10)
# A delivery the PMS asked to wait (429, or its documented pace) goes again after the wait it
# asked for plus a spread that grows with its waits up to this: those held back together do
# not all come back at one instant, and none waits long once the PMS has room again.
DEFERRAL_CAP = datetime.timedelta(seconds=30)
# After an unknown outcome the PMS may still be finishing the write we gave up waiting for:
# its look-up comes no sooner than this after the attempt ended, so it sees that write.
LOOKUP_DELAY = datetime.timedelta(seconds=30)
POLL_EVERY = datetime.timedelta(minutes=1)


class NeedsAttention(Exception):
    """Stop trying: a person must act (the message says what to do)."""


# -- recording -----------------------------------------------------------------------------


def connection_for(appointment: Appointment) -> VendorConnection | None:
    """The location's own active connection, else the clinic-wide one, else none (local)."""
    return connection_serving(appointment.location_id, appointment.clinic_id)


def _candidates(location_id: int, clinic_id: int) -> QuerySet[VendorConnection]:
    return VendorConnection.objects.filter(
        Q(location_id=location_id) | Q(location__isnull=True), clinic_id=clinic_id, active=True
    ).order_by("location_id")


# Every booking and move asks it: compiled once (scheduling.prepared); called with
# [location_id, clinic_id]. A booking reads it with its other reads (scheduling.booking).
SERVING = Prepared(_candidates)


def connection_serving(
    location_id: int, clinic_id: int, *, related: tuple[str, ...] = ()
) -> VendorConnection | None:
    """The active connection a location's bookings go to, in one query."""
    if related:
        candidates = list(_candidates(location_id, clinic_id).select_related(*related))
    else:
        candidates = SERVING([location_id, clinic_id])
    return serving_of(candidates, location_id)


def serving_of(candidates: Sequence[VendorConnection], location_id: int) -> VendorConnection | None:
    """Of a location's active connection and its clinic's (at most one each, by the
    constraints), the location's own."""
    found = [c for c in candidates if c.location_id == location_id]
    return found[0] if found else next(iter(candidates), None)


class LOOK_UP:
    """Passed for a connection not looked up yet."""


def record(
    appointment: Appointment,
    operation: str,
    *,
    connection: VendorConnection | type[LOOK_UP] | None = LOOK_UP,
) -> Delivery | None:
    """Called inside the booking transaction: the delivery commits with the appointment, and
    keeps the request's ID for its attempts' log lines (a new one outside a request). The
    caller may pass the connection the appointment's location books into (None: local)."""
    if connection is LOOK_UP:
        connection = connection_for(appointment)
    if connection is None:
        return None
    delivery = Delivery.objects.create(
        appointment=appointment,
        connection=connection,
        operation=operation,
        next_attempt_at=timezone.now(),
        request_id=observability.current_request_id() or observability.new_request_id(),
    )
    hand_over(delivery.pk)
    return delivery


def hand_over(delivery_id: int) -> None:
    """Give the delivery to a worker once the caller's transaction commits. With the
    database's task queue the task's row is written in that transaction (an outbox): it
    commits with the delivery, in the same commit, or not at all; an error writing it fails
    the booking, which leaves nothing half-written. A queue elsewhere is told after the
    commit (`enqueue`), and the sweeper sends what a lost message leaves queued."""
    from vendors.tasks import send_delivery

    if _queue_in_this_database(send_delivery.get_backend()):
        send_delivery.enqueue(delivery_id)
    else:
        transaction.on_commit(lambda: enqueue(delivery_id))


def _queue_in_this_database(backend: object) -> bool:
    from django_tasks_db.backend import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    return isinstance(backend, DatabaseBackend) and router.db_for_write(DBTaskResult) == db.alias


def enqueue(delivery_id: int, *, at: datetime.datetime | None = None) -> None:
    """Hand the delivery to a worker, now or once it is due again (`at`); if that fails,
    the sweeper picks it up anyway."""
    from vendors.tasks import send_delivery

    try:
        (send_delivery.using(run_after=at) if at else send_delivery).enqueue(delivery_id)
    except Exception:  # the row stays queued: nothing is lost
        logger.exception("could not enqueue delivery %s; the sweeper will send it", delivery_id)


# -- claiming ------------------------------------------------------------------------------


def _owner() -> str:
    return f"{socket.gethostname()}:{id(object())}"[:64]


# A claimed delivery with what its attempt reads: the request, the patient's mapping and what
# to scrub. Compiled once (scheduling/prepared.py): compiling it cost 2.2 ms every attempt.
_claimed = Prepared(
    lambda delivery_id: Delivery.objects.select_related(
        "connection__clinic", "appointment__location", "appointment__room", "appointment__patient"
    ).filter(pk=delivery_id)
)


def claim(
    *, delivery_id: int | None = None, now: datetime.datetime | None = None
) -> Delivery | None:
    """Take one due delivery under a lease, or None. Never two workers on one delivery; one
    patient's deliveries to one PMS one at a time, since two at once would both look the
    patient up there, find nobody and register them twice (vendors/leases.py)."""
    now = now or timezone.now()
    lease = datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    owner = _owner()
    taken = leases.take(now=now, lease_until=now + lease, owner=owner, delivery_id=delivery_id)
    if taken is None:
        return None
    claimed = _claimed([taken])
    if not claimed:  # deleted with its appointment since: nothing is left to send
        return None
    delivery = claimed[0]
    if delivery.state not in (State.SENDING, State.ACCEPTED):
        # Settled since the claim (the vendor's webhook confirmed the write being polled):
        # nothing is left to send, and sending it would book it at the vendor again.
        Delivery.objects.filter(pk=taken, lease_owner=owner).update(
            lease_until=None, lease_owner=""
        )
        return None
    return delivery


# -- building the vendor request -------------------------------------------------------------


def _refs(connection: VendorConnection, appointment: Appointment) -> dict[str, str]:
    """The vendor's IDs of everything the appointment involves, in one query."""
    return refs_of(
        connection,
        {
            "practitioner": (Practitioner, appointment.practitioner_id, ""),
            "patient": (Patient, appointment.patient_id, ""),
            "guardian": (Patient, appointment.patient_id, "guardian"),
            "room": (Room, appointment.room_id, ""),
            "location": (Location, appointment.location_id, ""),
            "appointment_type": (AppointmentType, appointment.appointment_type_id, ""),
            "assistant": (Practitioner, appointment.assistant_id, ""),
            "follow_up_of": (Appointment, appointment.follow_up_of_id, ""),
            "appointment": (Appointment, appointment.pk, ""),
        },
    )


def refs_of(
    connection: VendorConnection, wanted: dict[str, tuple[type, int | None, str]]
) -> dict[str, str]:
    """BookingRequest.refs: role -> the vendor's ID of (model, pk, mapping role), for those
    mapped at the connection; in one query."""
    types = ContentType.objects.get_for_models(*{model for model, _, _ in wanted.values()})
    entries = {
        name: (types[model].pk, object_id, role)
        for name, (model, object_id, role) in wanted.items()
        if object_id is not None
    }
    if not entries:
        return {}
    params = [connection.pk, *(value for key in entries.values() for value in key)]
    found = {
        (type_id, object_id, role): external
        for type_id, object_id, role, external in reads.run(_refs_sql(len(entries)), params)
    }
    return {name: found[key] for name, key in entries.items() if key in found}


@functools.cache
def _refs_sql(count: int) -> str:
    """`count` records' IDs at one connection (each a content type, an object ID and a
    role), written once per count: built through the ORM, the condition of nine records
    cost more to compile than the query costs to run."""
    quote = db.ops.quote_name

    def column(name: str) -> str:
        return quote(ExternalId._meta.get_field(name).column)

    keys = f"{column('content_type')}, {column('object_id')}, {column('role')}"
    wanted = ", ".join(["(%s, %s, %s)"] * count)
    return (
        f"SELECT {keys}, {column('external_id')} FROM {quote(ExternalId._meta.db_table)} "
        f"WHERE {column('connection')} = %s AND ({keys}) IN (VALUES {wanted})"
    )


def build_request(delivery: Delivery) -> BookingRequest:
    appointment = delivery.appointment  # as the claim read it, with its location and room
    refs = _refs(delivery.connection, appointment)
    return BookingRequest(
        key=str(delivery.idempotency_key),
        start=appointment.start,
        end=appointment.end,
        time_zone=appointment.location.time_zone,
        modality=appointment.modality,
        status=appointment.status,
        comment=appointment.comment,
        urgent=appointment.urgent,
        room_is_overflow=appointment.overflow,
        refs=refs,
    )


def _remember_external_id(delivery: Delivery, external_id: str) -> None:
    # A pull that saw it before we knew it was ours held it as the PMS's own busy time.
    with db.cursor() as cursor:
        cursor.execute(_forget_busy_sql(), [delivery.connection_id, external_id])
    # One statement (INSERT … ON CONFLICT DO UPDATE), not update_or_create's transaction of
    # a locking read and a write.
    ExternalId.objects.bulk_create(
        [
            ExternalId(
                connection=delivery.connection,
                content_type=ContentType.objects.get_for_model(Appointment),
                object_id=delivery.appointment_id,
                role="",
                external_id=external_id,
            )
        ],
        update_conflicts=True,
        unique_fields=["connection", "content_type", "object_id", "role"],
        update_fields=["external_id"],
    )


@functools.cache
def _forget_busy_sql() -> str:
    """Deletes the PMS's busy time held for one of its appointments, in a statement written
    once: the ORM's delete first looks for what would go with a busy span (nothing refers to
    one), on every delivery."""
    quote = db.ops.quote_name

    def column(name: str) -> str:
        return quote(PmsBusy._meta.get_field(name).column)

    return (
        f"DELETE FROM {quote(PmsBusy._meta.db_table)} "
        f"WHERE {column('connection')} = %s AND {column('external_id')} = %s"
    )


# -- one attempt -----------------------------------------------------------------------------


def _with_patient_at_vendor(
    delivery: Delivery, adapter: Any, request: BookingRequest
) -> BookingRequest:
    """A patient not mapped at the PMS yet is looked for there first (national ID, then
    e-mail, phone, name and birth date, as far as the vendor's search goes): one sure match is
    linked; several need a person to choose; none is registered there where the API allows.
    The ID found or made is kept at once, so that a retry never registers it twice."""
    if "patient" in request.refs:
        return request
    patient = delivery.appointment.patient
    details = PatientDetails(
        given_name=patient.given_name,
        family_name=patient.family_name,
        birth_date=patient.birth_date,
        sex=patient.sex,
        phone=patient.phone,
        email=patient.email,
        national_id=patient.national_id,
        national_id_type=patient.national_id_type,
    )
    external_id = None
    if adapter.patient_search:
        match = adapter.find_patient(details)
        if len(match.candidates) > 1:
            raise NeedsAttention(
                ngettext(
                    "%(pms)s has %(count)d patients with this patient's %(criterion)s (its IDs "
                    "%(ids)s): map the right one to this patient in the admin (External IDs), "
                    "then retry.",
                    "%(pms)s has %(count)d patients with this patient's %(criterion)s (its IDs "
                    "%(ids)s): map the right one to this patient in the admin (External IDs), "
                    "then retry.",
                    len(match.candidates),
                )
                % {
                    "pms": adapter.label,
                    "count": len(match.candidates),
                    "criterion": CRITERION_WORDS[match.criterion],
                    "ids": ", ".join(match.candidates),
                }
            )
        external_id = match.sure
    if external_id is None and adapter.registers_patients:
        if delivery.outcome_unknown and not adapter.can_look_for(details):
            # An earlier registration may have been stored without our hearing of it, and
            # nothing of this patient can be searched for: never register them twice.
            raise NeedsAttention(check_by_hand(adapter.label))
        external_id = adapter.register_patient(details)
    if external_id is None:
        return request  # booking_ids then says to map the patient by hand
    kept = _keep_patient_id(delivery.connection, patient, external_id, adapter.label)
    return dataclasses.replace(request, refs={**request.refs, "patient": kept})


def _keep_patient_id(
    connection: VendorConnection, patient: Patient, external_id: str, label: str
) -> str:
    """Map the patient to the PMS's ID found or made; if another delivery of theirs mapped
    them meanwhile (claims keep that rare: `claim`), theirs stands when it is the same
    patient there, and a person must merge the two when the PMS now holds two."""
    fields = {
        "connection": connection,
        "content_type": ContentType.objects.get_for_model(Patient),
        "object_id": patient.pk,
        "role": "",
    }
    try:
        with transaction.atomic():
            ExternalId.objects.create(**fields, external_id=external_id)
    except IntegrityError:
        existing = ExternalId.objects.get(**fields).external_id
        if existing != external_id:
            raise NeedsAttention(
                _(
                    "%(pms)s now holds this patient twice (its IDs %(kept)s and %(other)s): "
                    "merge them there; this patient stays mapped to %(kept)s."
                )
                % {"pms": label, "kept": existing, "other": external_id}
            ) from None
    return external_id


def _book(delivery: Delivery, adapter: Any, request: BookingRequest) -> VendorAppointment:
    request = _with_patient_at_vendor(delivery, adapter, request)
    if delivery.outcome_unknown:
        try:
            existing = adapter.find(request)
        except NotSupported:
            raise NeedsAttention(check_by_hand(adapter.label)) from None
        if existing is not None:
            return existing
    return adapter.book(request)


def _perform(delivery: Delivery, adapter: Any, request: BookingRequest) -> VendorAppointment:
    if delivery.operation == Operation.BOOK:
        return _book(delivery, adapter, request)
    current = request.refs.get("appointment")
    if delivery.operation == Operation.CANCEL:
        if current is None:
            return VendorAppointment(external_id="", vendor_status="never sent", status=None)
        return adapter.cancel(current, request, reason=delivery.appointment.cancellation_reason)
    # Reschedule: cancel the old one (once), then book the new time.
    if current is not None and not delivery.progress.get("old_cancelled"):
        adapter.cancel(current, request, reason="Rescheduled")
        delivery.progress["old_cancelled"] = True
        Delivery.objects.filter(pk=delivery.pk).update(progress=delivery.progress)
    return _book(delivery, adapter, request)


def _poll(delivery: Delivery, adapter: Any) -> VendorAppointment:
    return adapter.lookup(delivery.external_id)


def check_by_hand(label: str) -> str:
    """What a person must do when a PMS without a look-up may have stored the booking."""
    return _(
        "%(pms)s gave no clear answer, so it may have stored this booking, and %(pms)s "
        "cannot be asked whether the appointment exists: a person must check in %(pms)s "
        "before retrying here, and retry only if it is not there."
    ) % {"pms": label}


def backoff(
    attempts: int,
    retry_after: float | None = None,
    *,
    at_least: datetime.timedelta = datetime.timedelta(0),
    cap: datetime.timedelta = BACKOFF_CAP,
) -> datetime.timedelta:
    """Full-jitter exponential backoff, capped (at ten minutes unless said); never sooner than
    asked (the vendor's Retry-After) nor than `at_least`. Counted from the end of the attempt."""
    ceiling = min(cap, BACKOFF_BASE * 2 ** min(max(0, attempts - 1), 20))
    delay = datetime.timedelta(seconds=random.uniform(0, ceiling.total_seconds()))
    if retry_after is not None:
        delay = max(delay, datetime.timedelta(seconds=retry_after))
    return max(delay, at_least)


def run(delivery: Delivery, *, now: datetime.datetime | None = None) -> Delivery:
    """Send (or poll) a claimed delivery once and record what happened, in the clinic's
    language: no user waits for it, and its error is read later (vendors.language)."""
    with (
        observability.request_context(delivery.request_id),
        written_for(delivery.connection.clinic),
    ):
        return _run(delivery, now=now)


def _run(delivery: Delivery, *, now: datetime.datetime | None) -> Delivery:
    now = now or timezone.now()
    clock = time.monotonic()
    polling = delivery.state == State.ACCEPTED
    adapter = None
    update: dict[str, Any] = {"lease_until": None, "lease_owner": ""}
    error_text = ""
    booked: str | None = None  # the PMS's ID of the appointment this attempt booked there
    try:
        adapter = delivery.connection.adapter()
        if polling:
            result = _poll(delivery, adapter)
        else:
            result = _perform(delivery, adapter, build_request(delivery))
    except NeedsAttention as stop:
        update |= {"state": State.NEEDS_ATTENTION, "last_error": str(stop), "settled_at": now}
        error_text = str(stop)
    except ConfigurationError as error:
        # The connection is set up wrongly (a secret, an option, a mapping): no retry can
        # help until a manager fixes it, so it is never retried.
        error_text = _("%(error)s Once that is fixed, retry this delivery from the admin.") % {
            "error": error
        }
        update |= {"state": State.NEEDS_ATTENTION, "last_error": error_text, "settled_at": now}
    except VendorError as error:
        error_text = str(error)
        update |= _after_error(delivery, error, adapter, _ended(now, clock), polling=polling)
    else:
        update |= _after_result(delivery, result, _ended(now, clock), polling=polling)
        if not polling and delivery.operation != Operation.CANCEL:
            booked = result.external_id
    scrub = scrubber_for(delivery.appointment)
    for field in ("last_error", "vendor_status"):
        if field in update:
            update[field] = scrub.text(update[field])
    for field, value in update.items():
        setattr(delivery, field, value)
    # The PMS's ID, the outcome and its attempt's log commit together: never one without the
    # others, and one commit (a wait for the disk) where there were three.
    with transaction.atomic():
        if booked is not None:
            _remember_external_id(delivery, booked)
        # Only what the attempt changed: a manager's retry or a webhook may have written the
        # rest.
        delivery.save(update_fields=[*update, "updated_at"])
        _log_attempt(delivery, adapter, now, scrub.text(error_text), scrub, polling=polling)
    if delivery.state in (State.QUEUED, State.ACCEPTED) and delivery.next_attempt_at:
        # The next attempt (or poll) is a worker's task when it falls due; the sweeper only
        # catches what a lost task or a dead worker left behind.
        enqueue(delivery.pk, at=delivery.next_attempt_at)
    return delivery


def _ended(started: datetime.datetime, clock: float) -> datetime.datetime:
    """When the attempt that began at `started` (monotonic `clock`) ended: after the vendor
    answered or timed out. Waits are counted from here, never from the start."""
    return started + datetime.timedelta(seconds=time.monotonic() - clock)


def _after_result(
    delivery: Delivery, result: VendorAppointment, now: datetime.datetime, *, polling: bool
) -> dict[str, Any]:
    update: dict[str, Any] = {
        "vendor_status": result.vendor_status[:100],
        "outcome_unknown": False,
        "last_error": "",
    }
    if result.external_id:
        update["external_id"] = result.external_id
    if result.settled:
        return update | {"state": State.SYNCED, "settled_at": now, "next_attempt_at": None}
    if now - delivery.created_at > MAX_AGE:
        return update | {
            "state": State.NEEDS_ATTENTION,
            "settled_at": now,
            "last_error": _("The PMS accepted the booking but never confirmed it; check it there."),
        }
    return update | {"state": State.ACCEPTED, "next_attempt_at": now + POLL_EVERY}


def _after_error(
    delivery: Delivery,
    error: VendorError,
    adapter: Any,
    now: datetime.datetime,
    *,
    polling: bool,
) -> dict[str, Any]:
    unknown = delivery.outcome_unknown or error.outcome_unknown
    if polling:
        if error.retryable and now - delivery.created_at < MAX_AGE:
            return {"state": State.ACCEPTED, "next_attempt_at": now + POLL_EVERY,
                    "last_error": str(error)}  # fmt: skip
        return {"state": State.NEEDS_ATTENTION, "last_error": str(error), "settled_at": now}
    blind_resend = (
        unknown
        and delivery.operation != Operation.CANCEL
        and adapter is not None
        and not adapter.supports_lookup
    )
    if blind_resend:
        return {
            "state": State.NEEDS_ATTENTION,
            "outcome_unknown": True,
            "settled_at": now,
            "last_error": check_by_hand(adapter.label),
        }
    if isinstance(error, RateLimited) and now - delivery.created_at < MAX_AGE:
        # Not a failure: the PMS asks us to wait our turn, and nothing was acted on.
        return {
            "state": State.QUEUED,
            "outcome_unknown": unknown,
            "deferrals": delivery.deferrals + 1,
            "next_attempt_at": now
            + backoff(
                delivery.deferrals + 1,
                error.retry_after,
                at_least=LOOKUP_DELAY if unknown else datetime.timedelta(0),
                cap=DEFERRAL_CAP,
            ),
            "last_error": str(error),
        }
    failed = delivery.attempts - delivery.deferrals
    within_budget = failed < MAX_ATTEMPTS and now - delivery.created_at < MAX_AGE
    if error.retryable and within_budget:
        return {
            "state": State.QUEUED,
            "outcome_unknown": unknown,
            "next_attempt_at": now
            + backoff(
                delivery.attempts,
                error.retry_after,
                at_least=LOOKUP_DELAY if unknown else datetime.timedelta(0),
            ),
            "last_error": str(error),
        }
    message = str(error)
    if error.retryable:
        message = ngettext(
            "Gave up after %(count)d attempt: %(error)s",
            "Gave up after %(count)d attempts: %(error)s",
            failed,
        ) % {"count": failed, "error": error}
    return {
        "state": State.NEEDS_ATTENTION,
        "outcome_unknown": unknown,
        "settled_at": now,
        "last_error": message,
    }


def scrubber_for(appointment: Appointment) -> Scrubber:
    """What of this appointment must never be stored with its attempts: its patient's (and
    guardian's) names, phones, e-mails, national ID and birth date, its comment and its
    cancellation reason, wherever the vendor echoes them (vendors.redaction)."""
    patient = appointment.patient
    given = (patient.given_name, patient.preferred_name)
    return Scrubber.of(
        names=(
            *given,
            patient.family_name,
            patient.guardian_name,
            *(f"{name} {patient.family_name}" for name in given if name),
        ),
        numbers=(patient.phone, patient.national_id, patient.guardian_phone),
        texts=(
            patient.email,
            patient.guardian_email,
            patient.birth_date.isoformat() if patient.birth_date else "",
            appointment.comment,
            appointment.cancellation_reason,
        ),
    )


def _log_attempt(
    delivery: Delivery,
    adapter: Any,
    now: datetime.datetime,
    error: str,
    scrub: Scrubber,
    *,
    polling: bool,
) -> None:
    """One DeliveryAttempt: every exchange already redacted by key (vendors.base) and now
    scrubbed of the appointment's own values, whatever the content type."""
    exchanges = list(getattr(adapter, "exchanges", []))
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        started_at=now,
        latency_ms=sum(e.latency_ms for e in exchanges),
        http_status=exchanges[-1].status if exchanges else None,
        outcome=("poll: " if polling else "") + delivery.state,
        error=error,
        exchanges=scrub([exchange.as_dict() for exchange in exchanges]),
    )


# -- entry points ----------------------------------------------------------------------------


def deliver(delivery_id: int) -> Delivery | None:
    """What the task runs: claim this delivery if it is due and free, then send it."""
    delivery = claim(delivery_id=delivery_id)
    return run(delivery) if delivery is not None else None


def deliver_due(*, limit: int = 50, now: datetime.datetime | None = None) -> int:
    """What the sweeper runs: every due delivery, expired leases included."""
    done = 0
    while done < limit:
        delivery = claim(now=now)
        if delivery is None:
            break
        run(delivery, now=now)
        done += 1
    return done


def retry_now(delivery: Delivery) -> Delivery:
    """A manager's "retry now": one more attempt, immediately."""
    if delivery.state not in RETRYABLE_STATES or delivery.operation == Operation.PMS_CHANGE:
        return delivery  # a change made in the PMS is not sent anywhere
    changes: dict[str, Any] = {}
    if delivery.outcome_unknown and not delivery.connection.adapter().finds:
        # The vendor cannot be asked, so the message asked a person to check by hand and to
        # retry only if the appointment is not there: their retry is that answer.
        changes["outcome_unknown"] = False
    Delivery.objects.filter(pk=delivery.pk).update(
        state=State.QUEUED if delivery.state != State.ACCEPTED else State.ACCEPTED,
        next_attempt_at=timezone.now(),
        attempts=min(delivery.attempts, MAX_ATTEMPTS - 1 + delivery.deferrals),
        settled_at=None,
        **changes,
    )
    delivery.refresh_from_db()
    hand_over(delivery.pk)
    return delivery


def settle(
    connection: VendorConnection, external_id: str, *, ok: bool, vendor_status: str = ""
) -> bool:
    """The vendor confirmed (or refused) an accepted write, e.g. by webhook. Duplicates and
    late events change nothing and answer False."""
    with transaction.atomic():
        candidates = Delivery.objects.filter(
            connection=connection, external_id=external_id, state=State.ACCEPTED
        )
        if db.vendor == "postgresql":
            candidates = candidates.select_for_update()
        delivery = candidates.first()
        if delivery is None:
            return False
        delivery.state = State.SYNCED if ok else State.NEEDS_ATTENTION
        delivery.vendor_status = vendor_status[:100]
        delivery.settled_at = timezone.now()
        delivery.next_attempt_at = None
        if not ok:
            delivery.last_error = _(
                "%(pms)s could not write the appointment into the practice system; book it "
                "there by hand or pick another time."
            ) % {"pms": connection.get_vendor_display()}
        delivery.save()
    return True
