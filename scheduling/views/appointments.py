"""The desk's appointment page: details, delivery to the PMS, history and the actions.

Every action parses its input and calls the booking service (`scheduling.booking`); the
rules (status table, reschedule, cancellation reason) live there. Times are shown in the
appointment location's zone. Opening the page is audited (`scheduling.audit`); those who
manage the clinic see the appointment's latest audit rows on it.

Cancelling offers the clinic's reasons (scheduling.cancel_reasons) and the receptionist's own
words; a cancelled or no-show appointment offers "Rebook this patient": the booking page's
way of choosing a patient (desk:patient-choose, audited), with the location, practitioner and
type chosen too — IDs in the address, never a patient's data.

The delivery block is the partial "desk/appointment.html#sync"; other pages include it with
`appointment` and `sync` (that appointment's value of `vendors.selectors.sync_of`), and it
polls `sync` below until the delivery settles.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Any

from django.contrib import messages
from django.db.models import Exists, OuterRef, Prefetch, Value
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, retarget

from scheduling import access, audit, availability, booking, cancel_reasons
from scheduling.cancel_forms import CancelForm
from scheduling.errors import BookingError, RuleViolation, SlotConflict, TransitionNotAllowed
from scheduling.forms import RescheduleForm, StatusForm
from scheduling.localtime import HALF_DAYS, UTC, by_half_day
from scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from scheduling.views.context import desk_view
from scheduling.views.render import render_page, wants_region
from vendors.models import Delivery, DeliveryAttempt
from vendors.selectors import sync_of

TEMPLATE = "desk/appointment.html"
Status = AppointmentStatus

# The buttons for status changes (cancelling has its own form, with a reason).
STATUS_BUTTONS = {
    Status.CONFIRMED: gettext_lazy("Confirm"),
    Status.ARRIVED: gettext_lazy("Mark arrived"),
    Status.COMPLETED: gettext_lazy("Mark completed"),
    Status.NO_SHOW: gettext_lazy("Mark no-show"),
}
STATUS_DONE = {
    Status.CONFIRMED: gettext_lazy("Appointment confirmed."),
    Status.ARRIVED: gettext_lazy("Marked arrived."),
    Status.COMPLETED: gettext_lazy("Marked completed."),
    Status.NO_SHOW: gettext_lazy("Marked no-show."),
    Status.CANCELLED: gettext_lazy("Appointment cancelled."),
}
# The picker's headings, by scheduling.localtime's half-day keys.
HALF_DAY_NAMES = {HALF_DAYS[0]: gettext_lazy("Morning"), HALF_DAYS[1]: gettext_lazy("Afternoon")}
# After these, the patient is usually booked again: the page offers it.
REBOOKABLE = (Status.CANCELLED, Status.NO_SHOW)


# -- reading -----------------------------------------------------------------------------------


def _appointment(request: HttpRequest, pk: int) -> Appointment:
    """The appointment, if it belongs to the desk's current clinic (else 404), with
    `shows_audit`: whether the user manages its clinic (and so sees its audit rows)."""
    appointments = access.scope(Appointment.objects.all(), request.user).filter(
        clinic=request.desk.clinic
    )
    user = request.user
    if user.is_superuser:
        manages = Value(True)
    else:
        managed = access.clinic_ids(user, roles=access.MANAGING_ROLES)
        manages = Exists(managed.filter(clinic_id=OuterRef("clinic_id")))
    return get_object_or_404(
        appointments.select_related(
            "location",
            "practitioner",
            "room",
            "patient",
            "appointment_type",
            "assistant",
            "created_by",
        ).annotate(shows_audit=manages),
        pk=pk,
    )


def _day(moment: datetime.datetime) -> str:
    """A local day in the active language's words: "Monday, Jan. 4, 2027"."""
    return _("%(weekday)s, %(day)s") % {
        "weekday": formats.date_format(moment, "l"),
        "day": formats.date_format(moment, "DATE_FORMAT"),
    }


def _span(start: datetime.datetime, end: datetime.datetime, zone: Any) -> str:
    start, end = start.astimezone(zone), end.astimezone(zone)
    return _("%(day)s, %(start)s–%(end)s") % {
        "day": _day(start),
        "start": formats.time_format(start),
        "end": formats.time_format(end),
    }


def _recorded(text: Any) -> datetime.datetime | None:
    """An instant the booking service recorded in an event's details (ISO 8601)."""
    try:
        moment = datetime.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclasses.dataclass(frozen=True)
class HistoryRow:
    at: datetime.datetime
    action: str
    by: str
    details: list[str]


def _event_details(event: AppointmentEvent, zone: Any) -> list[str]:
    """The event's details in a receptionist's words (times in the location's zone)."""
    details = event.details if isinstance(event.details, dict) else {}
    lines = []
    if event.from_status and event.from_status != event.to_status:
        lines.append(
            _("%(before)s → %(after)s")
            % {"before": event.get_from_status_display(), "after": event.get_to_status_display()}
        )

    def span(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        start, end = _recorded(value.get("start")), _recorded(value.get("end"))
        return _span(start, end, zone) if start and end else None

    moved_from, moved_to = span(details.get("from")), span(details.get("to"))
    if moved_from and moved_to:
        lines.append(_("From %(before)s to %(after)s") % {"before": moved_from, "after": moved_to})
    elif booked := span(details):
        lines.append(booked)
    if details.get("reason"):
        lines.append(_("Reason: %(reason)s") % {"reason": details["reason"]})
    known = {"from", "to", "start", "end", "reason", "by_pms"}
    lines.extend(f"{key}: {value}" for key, value in details.items() if key not in known)
    return lines


def _pms_of(event: AppointmentEvent) -> str:
    """The PMS a change was made in ("Dentalink"), when it came from there."""
    details = event.details if isinstance(event.details, dict) else {}
    return str(details.get("by_pms") or "")


def _history(appointment: Appointment) -> list[HistoryRow]:
    zone = appointment.location.zone
    return [
        HistoryRow(
            at=event.at,
            action=event.get_action_display(),
            by=event.by.get_username() if event.by else _pms_of(event) or "—",
            details=_event_details(event, zone),
        )
        for event in appointment.events.select_related("by").order_by("at", "pk")
    ]


@dataclasses.dataclass(frozen=True)
class AuditRow:
    at: datetime.datetime
    action: str
    by: str
    address: str
    details: list[str]


def _audit(appointment: Appointment) -> list[AuditRow] | None:
    """The latest audit rows, for those who manage the clinic (None: not shown)."""
    if not getattr(appointment, "shows_audit", False):
        return None
    return [
        AuditRow(
            at=event.at,
            action=event.get_action_display(),
            by=event.username or "—",
            address=event.address or "—",
            details=audit.describe(event),
        )
        for event in audit.appointment_audit(appointment)
    ]


def _deliveries(appointment: Appointment) -> list[Delivery]:
    """Every delivery with its attempt log, without the recorded HTTP exchanges."""
    attempts = DeliveryAttempt.objects.defer("exchanges").order_by("number", "pk")
    return list(
        appointment.deliveries.select_related("connection")
        .prefetch_related(Prefetch("attempts_log", queryset=attempts))
        .order_by("created_at", "pk")
    )


# -- the reschedule picker -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SlotChoice:
    """A free time as the picker offers it: `value` is the ISO UTC start to post back."""

    value: str
    day: datetime.date
    time: str
    local: datetime.datetime
    label: str
    current: bool

    @classmethod
    def of(cls, slot: availability.Slot, appointment: Appointment) -> SlotChoice:
        zone = appointment.location.zone
        start = slot.start.astimezone(zone)
        return cls(
            value=slot.start.astimezone(UTC).isoformat(),
            day=start.date(),
            time=formats.time_format(start),
            local=start,
            label=_span(slot.start, slot.end, zone),
            current=slot.start == appointment.start,
        )


@dataclasses.dataclass
class Picker:
    day: datetime.date
    today: datetime.date
    halves: list[tuple[str, str, list[SlotChoice]]]  # key ("morning"), heading, choices
    next_free: SlotChoice | None
    alternatives: list[SlotChoice]
    errors: dict[str, list[str]]
    top_errors: list[str]

    @property
    def any_free(self) -> bool:
        return any(choices for _key, _heading, choices in self.halves)

    @property
    def previous_day(self) -> datetime.date:
        return self.day - datetime.timedelta(days=1)

    @property
    def next_day(self) -> datetime.date:
        return self.day + datetime.timedelta(days=1)


def _split(
    messages_by_field: dict[str, list[str]], fields: Sequence[str]
) -> tuple[dict[str, list[str]], list[str]]:
    """Messages shown next to one of `fields`, and the rest (shown at the top)."""
    near = {field: texts for field, texts in messages_by_field.items() if field in fields}
    top = [
        text for field, texts in messages_by_field.items() if field not in fields for text in texts
    ]
    return near, top


def _picker(
    appointment: Appointment,
    form: RescheduleForm,
    *,
    errors: dict[str, list[str]] | None = None,
    alternatives: Sequence[availability.Slot] = (),
) -> Picker:
    """Free slots of the same practitioner, type and modality on one local day."""
    location = appointment.location
    zone = location.zone
    today = timezone.now().astimezone(zone).date()
    messages_by_field = {**form.errors, **(errors or {})}
    day = form.cleaned_data.get("date")
    if day is None:
        day = max(appointment.start.astimezone(zone).date(), today)
    slots: list[availability.Slot] = []
    following: list[availability.Slot] = []
    search = {
        "location": location,
        "practitioner_ids": [appointment.practitioner_id],
        "exclude_appointment_id": appointment.pk,
    }
    try:
        demand = availability.Demand.build(
            appointment_type=appointment.appointment_type,
            duration_minutes=appointment.duration_minutes,
            modality=appointment.modality,
        )
        slots = availability.free_slots(demand=demand, date_from=day, date_to=day, **search)
        following = availability.next_available(
            demand=demand, date_from=day + datetime.timedelta(days=1), count=1, **search
        )
    except RuleViolation as error:
        for field, texts in error.messages.items():
            messages_by_field.setdefault(field, []).extend(texts)
    choices = [SlotChoice.of(slot, appointment) for slot in slots]
    alternatives = [SlotChoice.of(slot, appointment) for slot in alternatives]
    # A conflict's message goes with its alternatives, at the top of the picker.
    near, top = _split(messages_by_field, ("date",) if alternatives else ("start", "date"))
    return Picker(
        day=day,
        today=today,
        halves=[
            (key.lower(), str(HALF_DAY_NAMES[key]), items)
            for key, items in by_half_day(choices, lambda choice: choice.local).items()
        ],
        next_free=SlotChoice.of(following[0], appointment) if following else None,
        alternatives=alternatives,
        errors=near,
        top_errors=top,
    )


# -- rendering -------------------------------------------------------------------------------


def _page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    errors: dict[str, list[str]] | None = None,
    picker: Picker | None = None,
    cancel_form: CancelForm | None = None,
    fragment: str = "page",
) -> HttpResponse:
    """The page (or, for htmx, one of its partials), always with status 200."""
    allowed = booking.TRANSITIONS[appointment.status]
    whole = fragment == "page" or not wants_region(request)  # the audit is in the page only
    can_cancel = Status.CANCELLED in allowed
    # The cancel form's messages go next to it, if it is shown; others at the top.
    near, top = _split(errors or {}, CancelForm.FIELDS if can_cancel else ())
    if can_cancel and picker is None and cancel_form is None:  # the picker hides the form
        cancel_form = _cancel_form(request)
    context = {
        "desk": request.desk,
        "nav": "appointment",
        "appointment": appointment,
        "sync": sync_of([appointment])[appointment.pk],
        "deliveries": _deliveries(appointment),
        "history": _history(appointment),
        "audit_rows": _audit(appointment) if whole else None,
        "status_actions": [
            (status, label) for status, label in STATUS_BUTTONS.items() if status in allowed
        ],
        "can_cancel": can_cancel,
        "cancel_form": cancel_form if can_cancel else None,
        "rebook": _rebook(appointment),
        "can_reschedule": appointment.status in booking.RESCHEDULABLE,
        "errors": near,
        "top_errors": top,
        "picker": picker,
    }
    return render_page(request, TEMPLATE, context, region=fragment)


def _cancel_form(request: HttpRequest, data: Any = None) -> CancelForm:
    """The cancel form with the clinic's reasons (the desk's clinic is the appointment's)."""
    return CancelForm(data, reasons=cancel_reasons.offered_reasons(request.desk.clinic))


@dataclasses.dataclass(frozen=True)
class Rebook:
    """Where "Rebook this patient" goes: `url` chooses the patient on the booking page,
    `query` keeps the location, practitioner and type that can still be booked."""

    url: str
    query: dict[str, str]


def _rebook(appointment: Appointment) -> Rebook | None:
    """None while the appointment stands (nothing to rebook)."""
    if appointment.status not in REBOOKABLE:
        return None
    query = {}
    if appointment.location.active:
        query["location"] = str(appointment.location_id)
    if appointment.practitioner.active:
        query["who"] = f"p:{appointment.practitioner_id}"
    kind = appointment.appointment_type
    if kind is not None and kind.active:
        query["appointment_type"] = str(kind.pk)
    return Rebook(reverse("desk:patient-choose", args=[appointment.patient_id]), query)


def _done(request: HttpRequest, appointment: Appointment, message: str) -> HttpResponse:
    """After a successful action: the re-rendered page for htmx, else a redirect to it."""
    messages.success(request, message)
    url = reverse("desk:appointment", args=[appointment.pk])
    if not wants_region(request):
        return redirect(url)
    response = _page(request, _appointment(request, appointment.pk))
    return push_url(response, url)


# -- views -------------------------------------------------------------------------------------


@desk_view
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    audit.record(audit.Action.VIEWED, appointment)
    return _page(request, appointment)


@desk_view
@require_GET
def sync(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery block alone: it polls itself until the delivery settles."""
    appointment = _appointment(request, pk)
    if not wants_region(request):
        return redirect(reverse("desk:appointment", args=[pk]) + "#delivery")
    context = {"appointment": appointment, "sync": sync_of([appointment])[appointment.pk]}
    return render_page(request, TEMPLATE, context, region="sync")


@desk_view
@require_POST
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        return _page(request, appointment, errors=form.errors)
    to_status = form.cleaned_data["status"]
    try:
        booking.change_status(
            appointment, to_status, by=request.user, reason=form.cleaned_data["reason"]
        )
    except BookingError as error:
        return _page(request, _appointment(request, pk), errors=error.messages)
    return _done(request, appointment, STATUS_DONE[to_status])


@desk_view
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    form = _cancel_form(request, request.POST)
    if not form.is_valid():
        return _page(request, appointment, errors=form.errors, cancel_form=form)
    try:
        booking.cancel_appointment(appointment, by=request.user, **form.cancellation())
    except BookingError as error:
        appointment = _appointment(request, pk)
        return _page(request, appointment, errors=error.messages, cancel_form=form)
    return _done(request, appointment, STATUS_DONE[Status.CANCELLED])


@desk_view
@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    try:
        booking.check_reschedulable(appointment)
    except TransitionNotAllowed as error:
        page = _page(request, appointment, errors=error.messages)
        return retarget(page, "#appointment-page")
    if request.method == "GET":
        form = RescheduleForm(request.GET)
        form.is_valid()
        picker = _picker(appointment, form)
        fragment = "reschedule" if request.htmx.target == "reschedule" else "page"
        if fragment == "page":  # the whole appointment page, not the picker alone
            audit.record(audit.Action.VIEWED, appointment)
        return _page(request, appointment, picker=picker, fragment=fragment)
    form = RescheduleForm(request.POST, move=True)
    if not form.is_valid():
        return _page(request, appointment, picker=_picker(appointment, form))
    start = form.cleaned_data["start"]
    day = start.astimezone(appointment.location.zone).date()
    form = RescheduleForm({"date": day.isoformat()})
    form.is_valid()
    try:
        booking.reschedule_appointment(appointment, start=start, by=request.user)
    except SlotConflict as conflict:
        appointment = _appointment(request, pk)
        picker = _picker(
            appointment, form, errors=conflict.messages, alternatives=conflict.alternatives
        )
        return _page(request, appointment, picker=picker)
    except BookingError as error:
        appointment = _appointment(request, pk)
        return _page(request, appointment, picker=_picker(appointment, form, errors=error.messages))
    moved = _span(appointment.start, appointment.end, appointment.location.zone)
    return _done(
        request, appointment, _("Moved to %(time)s; it is unconfirmed again.") % {"time": moved}
    )


urlpatterns = [
    path("appointments/<int:pk>/", detail, name="appointment"),
    path("appointments/<int:pk>/status/", change_status, name="appointment-status"),
    path("appointments/<int:pk>/cancel/", cancel, name="appointment-cancel"),
    path("appointments/<int:pk>/reschedule/", reschedule, name="appointment-reschedule"),
    path("appointments/<int:pk>/sync/", sync, name="appointment-sync"),
]
