"""The audit trail (DESIGN §9): who viewed, created, changed, cancelled, registered or deleted
patients and appointments, when and from which address, with what changed; and sign-ins,
failures, lock-outs, API tokens issued and revoked, PMS connections changed.

Recording
- Services, views and the admin call `record(...)` (or `record_list_viewed(...)` for a page
  of records); receivers below record what other modules already announce: the booking
  service's AppointmentEvent rows, API tokens, sign-ins, lock-outs, PMS connections.
- In a request, `AuditMiddleware` holds a buffer (a context variable) and writes it with ONE
  bulk insert when the response is ready: one insert per request at most, none when
  nothing was recorded. A service that writes in a transaction of its own (a booking) may
  write the rows recorded in it just before it commits (`write_with_transaction`): they then
  share its commit. Outside a request (a worker, a management command) `record` inserts
  at once, inside the caller's transaction if there is one.
- The rule for what a request keeps: a row recorded inside a transaction is kept only if
  that transaction committed (or is still open when the buffer is written, and so is
  written inside it); a row recorded outside any transaction (a page or an endpoint that
  read records) is kept even if the request fails afterwards. A rolled-back booking leaves
  no row; a committed booking whose response then fails keeps its row.

Rows never hold a secret: passwords, token keys and PMS secrets never; a PMS connection's
secrets only by the NAMES of their environment variables. Patient data may be in a row: the
audit stays in the database and never goes to the logs.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import re
from collections.abc import Callable, Sequence
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, QuerySet
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from scheduling.clients import client_address
from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    AuditAction,
    AuditEvent,
    Clinic,
    Patient,
)

Action = AuditAction
# Stored in place of a secret's value, in the language of whoever made the change.
HIDDEN = _("(hidden)")
# Fields whose values never go into a row, whatever model they belong to.
SECRET_FIELD = re.compile(r"password|secret|token|digest|(^|_)key$", re.IGNORECASE)
# Rows shown on the appointment page.
PAGE_ROWS = 20
EventAction = AppointmentEvent.Action
APPOINTMENT_EVENT_ACTIONS = {
    EventAction.BOOKED: Action.CREATED,
    EventAction.CANCELLED: Action.CANCELLED,
}
# Models whose saves and deletes are recorded by their own receivers (below), with their
# before/after: the admin's generic recording leaves them alone.
SELF_AUDITED = {"vendors.vendorconnection"}
CONNECTION_FIELDS = (
    "vendor",
    "base_url",
    "location_id",
    "active",
    "secrets",  # role -> NAME of an environment variable; never the secret itself
    "options",  # recorded by its keys only
    "connect_timeout",
    "read_timeout",
)


# -- the request's buffer ----------------------------------------------------------------------


class _Commit:
    """Registered with on_commit for a row recorded inside a transaction: called when the
    transaction commits; dropped by Django if it rolls back."""

    done = False

    def __call__(self) -> None:
        self.done = True


@dataclasses.dataclass
class _Entry:
    event: AuditEvent
    commit: _Commit | None  # None: recorded outside any transaction

    def kept(self, pending: set[Callable[[], None]]) -> bool:
        return self.commit is None or self.commit.done or self.commit in pending


class _Buffer:
    def __init__(self, request: HttpRequest) -> None:
        self.request = request
        self.entries: list[_Entry] = []
        # (action, object type, object ID) of the rows written with their transaction.
        self.written: set[tuple[str, str, str]] = set()
        self._address: str | None = None

    @property
    def address(self) -> str:
        if self._address is None:
            self._address = client_address(self.request)
        return self._address

    @property
    def user(self) -> AbstractBaseUser | None:
        return getattr(self.request, "user", None)

    def add(self, event: AuditEvent) -> None:
        commit = None
        if transaction.get_connection().in_atomic_block:
            commit = _Commit()
            transaction.on_commit(commit)
        self.entries.append(_Entry(event, commit))

    def flush(self) -> None:
        """Write what is kept (see the module's rule) with one bulk insert."""
        entries, self.entries = self.entries, []
        if entries:
            pending = _pending()
            _insert([entry.event for entry in entries if entry.kept(pending)])

    def write_open_transaction(self) -> None:
        """Write now, inside the open transaction, the rows recorded in it."""
        pending = _pending()
        if not pending:
            return
        inside = [entry for entry in self.entries if entry.commit in pending]
        if inside:
            self.entries = [entry for entry in self.entries if entry.commit not in pending]
            _insert([entry.event for entry in inside])
            self.written.update(_key(entry.event) for entry in inside)


def _pending() -> set[Callable[[], None]]:
    """The on_commit callbacks waiting for the open transaction (a test's, say, when the
    response's rows are written) to commit: their rows join it."""
    return {call for _ids, call, _robust in transaction.get_connection().run_on_commit}


def _insert(events: list[AuditEvent]) -> None:
    if len(events) == 1:
        events[0].save(force_insert=True)  # one INSERT, without bulk_create's transaction
    elif events:
        AuditEvent.objects.bulk_create(events)


def write_with_transaction() -> None:
    """Called at the end of a transaction's work, before it commits: the request's rows
    recorded in it are written inside it, and so commit in its commit, or roll back with it.
    Written with the response instead, they would cost a commit of their own (a booking's
    third)."""
    buffer = _buffer.get()
    if buffer is not None and transaction.get_connection().in_atomic_block:
        buffer.write_open_transaction()


_buffer: contextvars.ContextVar[_Buffer | None] = contextvars.ContextVar(
    "audit_buffer", default=None
)


class AuditMiddleware:
    """Holds the request's audit rows and writes them once the response is ready."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        buffer = _Buffer(request)
        token = _buffer.set(buffer)
        try:
            return self.get_response(request)
        finally:
            _buffer.reset(token)
            buffer.flush()


# -- recording (services) ------------------------------------------------------------------------

_REQUEST_USER: Any = object()  # "whoever the request is signed in as"


def _signed_in(user: Any) -> AbstractBaseUser | None:
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated:
        return None
    return user


def record(
    action: str,
    target: Model | None = None,
    *,
    changes: dict[str, Any] | None = None,
    user: AbstractBaseUser | None = _REQUEST_USER,
    username: str = "",
    request: HttpRequest | None = None,
    clinic_id: int | None = None,
    patient_id: int | None = None,
    appointment_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
) -> None:
    """Record one audit row. `target` fills in the object, its clinic, patient and
    appointment (the keywords override them); `user` defaults to the request's.

    In a request the row waits for the end of the request (one insert per request);
    outside one it is inserted now."""
    buffer = _buffer.get()
    if user is _REQUEST_USER:
        user = buffer.user if buffer is not None else None
    user = _signed_in(user)
    if buffer is not None:
        address = buffer.address
    else:
        address = client_address(request) if request is not None else ""
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or target.pk
        clinic_id = clinic_id or _clinic_id(target)
        patient_id = patient_id or _patient_id(target)
        appointment_id = appointment_id or _appointment_id(target)
    event = AuditEvent(
        action=action,
        user_id=user.pk if user is not None else None,
        username=(user.get_username() if user is not None else username)[:150],
        clinic_id=clinic_id,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id)[:64],
        object_repr=object_repr[:200],
        patient_id=patient_id,
        appointment_id=appointment_id,
        address=address,
        changes=changes or {},
    )
    if buffer is not None:
        buffer.add(event)
    else:
        event.save()


def record_list_viewed(records: Sequence[Model]) -> None:
    """One row for a page of records that was shown (an empty page records nothing): their
    count and IDs, and the clinic and the patient when they are the same for all."""
    if not records:
        return
    first = records[0]
    clinics = {_clinic_id(item) for item in records}
    patients = {_patient_id(item) for item in records}
    record(
        Action.VIEWED,
        object_type=first._meta.label_lower,
        changes={"count": len(records), "ids": [item.pk for item in records]},
        clinic_id=clinics.pop() if len(clinics) == 1 else None,
        patient_id=patients.pop() if len(patients) == 1 else None,
    )


def recorded(action: str, target: Model) -> bool:
    """Whether this request already recorded `action` on `target` (e.g. the booking
    service's row for an appointment the admin then logs as added)."""
    buffer = _buffer.get()
    if buffer is None:
        return False
    key = (action, target._meta.label_lower, str(target.pk))
    return key in buffer.written or any(_key(entry.event) == key for entry in buffer.entries)


def _key(event: AuditEvent) -> tuple[str, str, str]:
    return (event.action, event.object_type, event.object_id)


def record_tokens_revoked(tokens: QuerySet[ApiToken], *, at: datetime.datetime) -> None:
    """One row per token of `tokens` revoked at `at` (call it right after the update that
    revoked them): the token's prefix and owner; the user is whoever revoked them."""
    revoked = tokens.filter(revoked_at=at).values_list("pk", "prefix", "user__username")
    for pk, prefix, owner in revoked:
        record(
            Action.TOKEN_REVOKED,
            object_type=ApiToken._meta.label_lower,
            object_id=pk,
            object_repr=f"{prefix}…",
            changes={"after": {"token": f"{prefix}…", "owner": owner, "revoked_at": at}},
        )


def _clinic_id(target: Model) -> int | None:
    if isinstance(target, Clinic):
        return target.pk
    return getattr(target, "clinic_id", None)


def _patient_id(target: Model) -> int | None:
    if isinstance(target, Patient):
        return target.pk
    return getattr(target, "patient_id", None)


def _appointment_id(target: Model) -> int | None:
    if isinstance(target, Appointment):
        return target.pk
    return getattr(target, "appointment_id", None)


# -- before / after ----------------------------------------------------------------------------

_encoder = DjangoJSONEncoder()


def plain(value: Any) -> Any:
    """A value as stored JSON shows it: records by ID, dates in ISO 8601."""
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, QuerySet | list | tuple | set | frozenset):
        items = [plain(item) for item in value]
        return sorted(items) if all(isinstance(item, int) for item in items) else items
    if value is None or isinstance(value, str | int | float | bool):
        return value
    try:
        return _encoder.default(value)
    except TypeError:
        return str(value)


def _shown(name: str, value: Any) -> Any:
    return str(HIDDEN) if SECRET_FIELD.search(name) else plain(value)


def form_changes(form: Any, *, add: bool = False) -> dict[str, Any]:
    """Before and after of the fields a (model) form changed; only after for an addition."""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name in form.changed_data:
        if not add:
            before[name] = _shown(name, form.initial.get(name))
        after[name] = _shown(name, form.cleaned_data.get(name))
    return {"before": before, "after": after}


def snapshot(obj: Model) -> dict[str, Any]:
    """Every stored field of a record (secrets hidden): the before of a deletion."""
    return {
        field.attname: _shown(field.name, getattr(obj, field.attname))
        for field in obj._meta.concrete_fields
    }


def describe(event: AuditEvent) -> list[str]:
    """A row's changes in a few lines: "field: before → after", or a list's count."""
    changes = event.changes if isinstance(event.changes, dict) else {}
    if "count" in changes:
        count = changes["count"]
        number = count if isinstance(count, int) else 0
        return [ngettext("%(count)s shown", "%(count)s shown", number) % {"count": count}]
    before = changes.get("before") or {}
    after = changes.get("after") or {}
    lines = []
    for name in dict.fromkeys([*before, *after]):
        if name in before and name in after:
            lines.append(f"{name}: {before[name]} → {after[name]}")
        elif name in after:
            lines.append(f"{name}: {after[name]}")
        else:
            lines.append(
                gettext("%(field)s was %(value)s") % {"field": name, "value": before[name]}
            )
    return lines


# -- reading (selectors) ------------------------------------------------------------------------


def appointment_audit(appointment: Appointment, *, limit: int = PAGE_ROWS) -> list[AuditEvent]:
    """The latest rows about an appointment, newest first (one query)."""
    rows = AuditEvent.objects.filter(appointment_id=appointment.pk).order_by("-at", "-pk")
    return list(rows[:limit])


# -- what other modules announce (receivers) ---------------------------------------------------


@receiver(post_save, sender=AppointmentEvent, dispatch_uid="audit_appointment_event")
def _appointment_event(sender: Any, instance: AppointmentEvent, created: bool, **kwargs: Any):
    """The booking service's history rows (booked, rescheduled, status changes, cancelled)."""
    if not created or kwargs.get("raw"):
        return
    details = instance.details if isinstance(instance.details, dict) else {}
    before = {"status": instance.from_status} if instance.from_status else {}
    after = {"status": instance.to_status}
    for key, value in details.items():
        if key in ("from", "to") and isinstance(value, dict):
            (before if key == "from" else after).update(value)
        else:
            after[key] = value
    appointment = instance.appointment
    record(
        APPOINTMENT_EVENT_ACTIONS.get(instance.action, Action.CHANGED),
        appointment,
        user=instance.by if instance.by_id else _REQUEST_USER,
        object_repr=str(instance.get_action_display()),
        changes={"before": before, "after": after},
    )


@receiver(post_save, sender=ApiToken, dispatch_uid="audit_api_token")
def _api_token(sender: Any, instance: ApiToken, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    shown = f"{instance.prefix}…"
    if created:
        record(
            Action.TOKEN_ISSUED,
            instance,
            user=instance.user,
            object_repr=shown,
            changes={"after": {"token": shown, "expires_at": instance.expires_at}},
        )
    elif instance.revoked_at and "revoked_at" in (kwargs.get("update_fields") or ()):
        record(
            Action.TOKEN_REVOKED,
            instance,
            object_repr=shown,
            changes={"after": {"token": shown, "revoked_at": instance.revoked_at}},
        )


@receiver(user_logged_in, dispatch_uid="audit_signed_in")
def _signed_in_receiver(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record(Action.SIGNED_IN, user=user, request=request)


@receiver(user_logged_out, dispatch_uid="audit_signed_out")
def _signed_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record(Action.SIGNED_OUT, user=user, request=request)


@receiver(user_login_failed, dispatch_uid="audit_sign_in_failed")
def _sign_in_failed(sender: Any, credentials: dict, request: Any = None, **kwargs: Any) -> None:
    username = credentials.get("username")  # the password is never read
    record(
        Action.SIGN_IN_FAILED,
        user=None,
        username=username if isinstance(username, str) else "",
        request=request,
    )


def _locked_out(sender: Any, request: Any = None, username: Any = None, **kwargs: Any) -> None:
    record(
        Action.LOCKED_OUT,
        user=None,
        username=username if isinstance(username, str) else "",
        request=request,
    )


if apps.is_installed("axes"):  # django-axes sends this when it locks a user or address out
    from axes.signals import user_locked_out

    user_locked_out.connect(_locked_out, dispatch_uid="audit_locked_out")


def _connection_settings(connection: Any) -> dict[str, Any]:
    values = {name: plain(getattr(connection, name)) for name in CONNECTION_FIELDS}
    options = values["options"]
    values["options"] = sorted(options) if isinstance(options, dict) else []
    return values


@receiver(pre_save, sender="vendors.VendorConnection", dispatch_uid="audit_connection_before")
def _connection_before(sender: Any, instance: Any, **kwargs: Any) -> None:
    if kwargs.get("raw") or instance.pk is None:
        return
    stored = sender.objects.filter(pk=instance.pk).first()
    instance._audit_before = _connection_settings(stored) if stored is not None else None


@receiver(post_save, sender="vendors.VendorConnection", dispatch_uid="audit_connection_saved")
def _connection_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if kwargs.get("raw"):
        return
    after = _connection_settings(instance)
    before = getattr(instance, "_audit_before", None) or {}
    instance._audit_before = None
    if before:
        after = {name: value for name, value in after.items() if before.get(name) != value}
        if not after:
            return
        before = {name: before.get(name) for name in after}
    _record_connection(instance, {"before": before, "after": after})


@receiver(post_delete, sender="vendors.VendorConnection", dispatch_uid="audit_connection_deleted")
def _connection_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _record_connection(instance, {"before": _connection_settings(instance), "after": {}})


def _record_connection(connection: Any, changes: dict[str, Any]) -> None:
    record(
        Action.CONNECTION_CHANGED,
        object_type=connection._meta.label_lower,
        object_id=connection.pk if connection.pk is not None else "",
        object_repr=str(connection.get_vendor_display()),
        clinic_id=connection.clinic_id,
        changes=changes,
    )
