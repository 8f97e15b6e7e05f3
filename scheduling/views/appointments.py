"""The desk's appointment page: details, delivery to the PMS, history and the actions.

Every action parses its input and calls the booking service (`scheduling.booking`); the
rules (status table, reschedule, cancellation reason) live there. Times are shown in the
appointment location's zone.

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
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import push_url, retarget

from scheduling import access, availability, booking
from scheduling.errors import BookingError, RuleViolation, SlotConflict
from scheduling.localtime import UTC
from scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from scheduling.views.context import desk_view
from vendors.models import Delivery, DeliveryAttempt
from vendors.selectors import sync_of

TEMPLATE = "desk/appointment.html"
Status = AppointmentStatus

# The buttons for status changes (cancelling has its own form, with a reason).
STATUS_BUTTONS = {
    Status.CONFIRMED: "Confirm",
    Status.ARRIVED: "Mark arrived",
    Status.COMPLETED: "Mark completed",
    Status.NO_SHOW: "Mark no-show",
}
STATUS_DONE = {
    Status.CONFIRMED: "Appointment confirmed.",
    Status.ARRIVED: "Marked arrived.",
    Status.COMPLETED: "Marked completed.",
    Status.NO_SHOW: "Marked no-show.",
    Status.CANCELLED: "Appointment cancelled.",
}
NOON = datetime.time(12)
EARLIEST_DAY, LATEST_DAY = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)


# -- reading -----------------------------------------------------------------------------------


def _appointment(request: HttpRequest, pk: int) -> Appointment:
    """The appointment, if it belongs to the desk's current clinic (else 404)."""
    appointments = access.scope(Appointment.objects.all(), request.user).filter(
        clinic=request.desk.clinic
    )
    return get_object_or_404(
        appointments.select_related(
            "location",
            "practitioner",
            "room",
            "patient",
            "appointment_type",
            "assistant",
            "created_by",
        ),
        pk=pk,
    )


def _span(start: datetime.datetime, end: datetime.datetime, zone: Any) -> str:
    start, end = start.astimezone(zone), end.astimezone(zone)
    return f"{start:%a %d %b %Y, %H:%M}–{end:%H:%M}"


def _moment(text: Any) -> datetime.datetime | None:
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
        lines.append(f"{event.get_from_status_display()} → {event.get_to_status_display()}")

    def span(value: Any) -> str | None:
        if not isinstance(value, dict):
            return None
        start, end = _moment(value.get("start")), _moment(value.get("end"))
        return _span(start, end, zone) if start and end else None

    moved_from, moved_to = span(details.get("from")), span(details.get("to"))
    if moved_from and moved_to:
        lines.append(f"From {moved_from} to {moved_to}")
    elif booked := span(details):
        lines.append(booked)
    if details.get("reason"):
        lines.append(f"Reason: {details['reason']}")
    known = {"from", "to", "start", "end", "reason"}
    lines.extend(f"{key}: {value}" for key, value in details.items() if key not in known)
    return lines


def _history(appointment: Appointment) -> list[HistoryRow]:
    zone = appointment.location.zone
    return [
        HistoryRow(
            at=event.at,
            action=event.get_action_display(),
            by=event.by.get_username() if event.by else "—",
            details=_event_details(event, zone),
        )
        for event in appointment.events.select_related("by").order_by("at", "pk")
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
    label: str
    morning: bool
    current: bool

    @classmethod
    def of(cls, slot: availability.Slot, appointment: Appointment) -> SlotChoice:
        zone = appointment.location.zone
        start = slot.start.astimezone(zone)
        return cls(
            value=slot.start.astimezone(UTC).isoformat(),
            day=start.date(),
            time=f"{start:%H:%M}",
            label=_span(slot.start, slot.end, zone),
            morning=start.time() < NOON,
            current=slot.start == appointment.start,
        )


@dataclasses.dataclass
class Picker:
    day: datetime.date
    today: datetime.date
    morning: list[SlotChoice]
    afternoon: list[SlotChoice]
    next_free: SlotChoice | None
    alternatives: list[SlotChoice]
    errors: dict[str, list[str]]
    top_errors: list[str]

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


def _day(text: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _picker(
    appointment: Appointment,
    day_text: str | None,
    *,
    errors: dict[str, list[str]] | None = None,
    alternatives: Sequence[availability.Slot] = (),
) -> Picker:
    """Free slots of the same practitioner, type and modality on one local day."""
    location = appointment.location
    zone = location.zone
    today = timezone.now().astimezone(zone).date()
    messages_by_field = dict(errors or {})
    day = _day(day_text)
    if day_text and day is None:
        messages_by_field["date"] = ["Enter the date as YYYY-MM-DD, e.g. 2027-01-04."]
    elif day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        messages_by_field["date"] = ["Choose a date between the years 1900 and 2999."]
        day = None
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
        morning=[choice for choice in choices if choice.morning],
        afternoon=[choice for choice in choices if not choice.morning],
        next_free=SlotChoice.of(following[0], appointment) if following else None,
        alternatives=alternatives,
        errors=near,
        top_errors=top,
    )


# -- rendering -------------------------------------------------------------------------------


def _wants_fragment(request: HttpRequest) -> bool:
    htmx = request.htmx
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def _page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    errors: dict[str, list[str]] | None = None,
    picker: Picker | None = None,
    reason: str = "",
    fragment: str = "page",
) -> HttpResponse:
    """The page (or, for htmx, one of its partials), always with status 200."""
    allowed = booking.TRANSITIONS[appointment.status]
    near, top = _split(errors or {}, ("reason",))
    context = {
        "desk": request.desk,
        "nav": "appointment",
        "appointment": appointment,
        "sync": sync_of([appointment])[appointment.pk],
        "deliveries": _deliveries(appointment),
        "history": _history(appointment),
        "status_actions": [
            (status, label) for status, label in STATUS_BUTTONS.items() if status in allowed
        ],
        "can_cancel": Status.CANCELLED in allowed,
        "can_reschedule": appointment.status in booking.RESCHEDULABLE,
        "errors": near,
        "top_errors": top,
        "picker": picker,
        "reason": reason,
    }
    template = f"{TEMPLATE}#{fragment}" if _wants_fragment(request) else TEMPLATE
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _done(request: HttpRequest, appointment: Appointment, message: str) -> HttpResponse:
    """After a successful action: the re-rendered page for htmx, else a redirect to it."""
    messages.success(request, message)
    url = reverse("desk:appointment", args=[appointment.pk])
    if not _wants_fragment(request):
        return redirect(url)
    response = _page(request, _appointment(request, appointment.pk))
    return push_url(response, url)


# -- views -------------------------------------------------------------------------------------


@desk_view
@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _appointment(request, pk))


@desk_view
@require_GET
def sync(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery block alone: it polls itself until the delivery settles."""
    appointment = _appointment(request, pk)
    if not _wants_fragment(request):
        return redirect(reverse("desk:appointment", args=[pk]) + "#delivery")
    context = {"appointment": appointment, "sync": sync_of([appointment])[appointment.pk]}
    response = render(request, f"{TEMPLATE}#sync", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@desk_view
@require_POST
def change_status(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    to_status = request.POST.get("status", "")
    if to_status not in Status.values:
        errors = {"status": ["Choose one of the actions offered for this appointment."]}
        return _page(request, appointment, errors=errors)
    try:
        booking.change_status(
            appointment, to_status, by=request.user, reason=request.POST.get("reason", "")
        )
    except BookingError as error:
        return _page(request, _appointment(request, pk), errors=error.messages)
    return _done(request, appointment, STATUS_DONE[to_status])


@desk_view
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    reason = request.POST.get("reason", "")
    try:
        booking.cancel_appointment(appointment, reason=reason, by=request.user)
    except BookingError as error:
        return _page(request, _appointment(request, pk), errors=error.messages, reason=reason)
    return _done(request, appointment, STATUS_DONE[Status.CANCELLED])


@desk_view
@require_http_methods(["GET", "POST"])
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    if request.method == "GET":
        if appointment.status not in booking.RESCHEDULABLE:
            status = appointment.get_status_display().lower()
            errors = {"status": [f"A {status} appointment cannot be rescheduled."]}
            return retarget(_page(request, appointment, errors=errors), "#appointment-page")
        picker = _picker(appointment, request.GET.get("date"))
        fragment = "reschedule" if request.htmx.target == "reschedule" else "page"
        return _page(request, appointment, picker=picker, fragment=fragment)
    start = _moment(request.POST.get("start", ""))
    day_text = request.POST.get("date")
    if start is None or not EARLIEST_DAY.year <= start.year <= LATEST_DAY.year:
        errors = {"start": ["Choose one of the free times."]}
        return _page(request, appointment, picker=_picker(appointment, day_text, errors=errors))
    day_text = start.astimezone(appointment.location.zone).date().isoformat()
    try:
        booking.reschedule_appointment(appointment, start=start, by=request.user)
    except SlotConflict as conflict:
        appointment = _appointment(request, pk)
        picker = _picker(
            appointment, day_text, errors=conflict.messages, alternatives=conflict.alternatives
        )
        return _page(request, appointment, picker=picker)
    except BookingError as error:
        appointment = _appointment(request, pk)
        return _page(
            request, appointment, picker=_picker(appointment, day_text, errors=error.messages)
        )
    moved = _span(appointment.start, appointment.end, appointment.location.zone)
    return _done(request, appointment, f"Moved to {moved}; it is unconfirmed again.")


urlpatterns = [
    path("appointments/<int:pk>/", detail, name="appointment"),
    path("appointments/<int:pk>/status/", change_status, name="appointment-status"),
    path("appointments/<int:pk>/cancel/", cancel, name="appointment-cancel"),
    path("appointments/<int:pk>/reschedule/", reschedule, name="appointment-reschedule"),
    path("appointments/<int:pk>/sync/", sync, name="appointment-sync"),
]
