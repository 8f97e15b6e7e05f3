"""The day calendar (one column per room or per practitioner) and a practitioner's week.

Both pages place appointments on one time grid in the location's wall-clock time. The grid
is a CSS grid of 5-minute units (15-minute rows are drawn by the stylesheet): every
appointment, working-hours band and time-off band is one element with a start row and a
span, so the page grows with the number of appointments, never with rows x columns.

Queries are bounded: rooms, working hours, time off, appointments (with their patient,
practitioner, room and type) and one `sync_of` for every delivery badge.
"""

import dataclasses
import datetime
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from scheduling import access
from scheduling.localtime import DAY_OUT_OF_RANGE, EARLIEST_DAY, LATEST_DAY, day_in_range, to_utc
from scheduling.models import (
    MAX_DURATION_MINUTES,
    Appointment,
    AppointmentStatus,
    Modality,
    ModalityOffer,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from scheduling.selectors import practitioners_at
from scheduling.views.context import desk_view
from vendors.selectors import Sync, sync_of

UNIT_MINUTES = 5  # one grid row of the stylesheet (calendar.css has at-1..at-288)
DAY_MINUTES = 24 * 60
OPENS, CLOSES = 8 * 60, 18 * 60  # the grid shows at least 08:00-18:00
MAX_LANES = 6  # side-by-side appointments in one column (calendar.css has lane-1..lane-6)
POLL_SECONDS = 5
SYNC_POLLER = "cal-sync"  # id of the element that polls while a delivery is in flight
VIDEO_COLUMN = "video"

# What the grid shows of an appointment and its related records (nothing else is loaded).
SHOWN_FIELDS = (
    "start",
    "end",
    "status",
    "modality",
    "urgent",
    "patient__given_name",
    "patient__family_name",
    "patient__preferred_name",
    "patient__species",
    "practitioner__title",
    "practitioner__given_name",
    "practitioner__family_name",
    "room__name",
    "room__kind",
    "room__is_overflow",
    "room__active",
    "appointment_type__name",
)

Minutes = tuple[int, int]  # [start, end) in minutes after the column day's local midnight


class CalendarQuery(forms.Form):
    """What the receptionist asked to see; a bad value falls back to its default."""

    date = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."},
    )
    by = forms.ChoiceField(
        required=False,
        choices=[("room", "Rooms"), ("practitioner", "Practitioners")],
        error_messages={"invalid_choice": "Show one column per room or per practitioner."},
    )
    cancelled = forms.ChoiceField(
        required=False,
        choices=[("show", "Show"), ("hide", "Hide")],
        error_messages={"invalid_choice": "Show or hide the cancelled appointments."},
    )
    practitioner = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={
            "invalid": "Choose a practitioner from the list.",
            "min_value": "Choose a practitioner from the list.",
        },
    )

    def clean_date(self) -> datetime.date | None:
        day = self.cleaned_data["date"]
        if day is not None and not day_in_range(day):
            raise forms.ValidationError(DAY_OUT_OF_RANGE)
        return day

    def value(self, name: str, default: Any) -> Any:
        return self.cleaned_data.get(name) or default

    def messages(self) -> list[str]:
        return [message for errors in self.errors.values() for message in errors]


# --- what the template draws -------------------------------------------------------------


@dataclasses.dataclass
class Band:
    """A shaded stretch of a column: working hours, time off or a closure."""

    kind: str  # "open", "off" or "closed"
    css: str
    label: str


# One appointment placed in a column, as the template reads it: a flat dict of display
# strings (one dictionary look-up per value keeps the rendering of hundreds of them cheap).
Entry = dict[str, Any]

STATUS_LABELS = dict(AppointmentStatus.choices)


@dataclasses.dataclass
class Column:
    key: str
    title: str
    note: str
    lanes: int
    bands: list[Band]
    entries: list[Entry]
    now_css: str | None
    today: bool = False


@dataclasses.dataclass
class Grid:
    first_minute: int
    last_minute: int
    hours: list[tuple[str, str]]  # (label, css)
    columns: list[Column]

    @property
    def css(self) -> str:
        return _place(self.first_minute, self.last_minute, self.first_minute)

    @property
    def entries(self) -> Iterable[Entry]:
        for column in self.columns:
            yield from column.entries

    @property
    def polling(self) -> bool:
        return any(entry["sync"].in_flight for entry in self.entries)


@dataclasses.dataclass
class ColumnSpec:
    """A column before placement: its day, its open hours and its appointments."""

    key: str
    title: str
    day: datetime.date
    note: str = ""
    open: list[Minutes] = dataclasses.field(default_factory=list)
    off: list[tuple[int, int, str, str]] = dataclasses.field(default_factory=list)
    appointments: list[Appointment] = dataclasses.field(default_factory=list)


# --- time arithmetic ---------------------------------------------------------------------


def _minute_of(instant: datetime.datetime, day: datetime.date, zone: Any) -> int:
    """Wall-clock minutes after `day`'s local midnight, clamped to that day."""
    local = instant.astimezone(zone)
    offset = (local.date() - day).days
    if offset < 0:
        return 0
    if offset > 0:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def _span_of(
    start: datetime.datetime, end: datetime.datetime, day: datetime.date, zone: Any
) -> Minutes:
    first = _minute_of(start, day, zone)
    return first, max(_minute_of(end, day, zone), first + 1)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _merged(spans: Iterable[Minutes]) -> list[Minutes]:
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _rows(start: int, end: int, first: int) -> tuple[int, int]:
    """Grid rows (1-based start, span) of [start, end) on an axis starting at `first`."""
    row = (start - first) // UNIT_MINUTES + 1
    last = math.ceil((end - first) / UNIT_MINUTES) + 1
    return row, max(1, last - row)


def _place(start: int, end: int, first: int) -> str:
    row, span = _rows(start, end, first)
    return f"at-{row} span-{span}"


def _lanes(spans: Sequence[tuple[int, int]]) -> tuple[list[tuple[int, int]], int]:
    """Side-by-side lanes for overlapping spans (grid rows): for each span its lane and the
    number of lanes of its overlapping cluster; and the most lanes any cluster needs."""
    placed: list[tuple[int, int]] = [(0, 1)] * len(spans)
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    cluster: list[tuple[int, int]] = []
    lane_ends: list[int] = []
    cluster_end = -1
    widest = 1

    def close() -> None:
        nonlocal widest
        width = min(len(lane_ends), MAX_LANES)
        widest = max(widest, width)
        for index, lane in cluster:
            placed[index] = (min(lane, width - 1), width)

    for index in order:
        start, end = spans[index]
        if cluster and start >= cluster_end:
            close()
            cluster, lane_ends = [], []
        lane = next((n for n, lane_end in enumerate(lane_ends) if lane_end <= start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        cluster.append((index, lane))
        cluster_end = end if len(cluster) == 1 else max(cluster_end, end)
    if cluster:
        close()
    return placed, widest


def _lane_css(lane: int, width: int, lanes: int) -> str:
    share = lanes // width
    first = lane * share + 1
    span = lanes - lane * share if lane == width - 1 else share
    return f"lane-{first} wide-{span}"


# --- loading -----------------------------------------------------------------------------


def _window(days: Sequence[datetime.date], zone: Any) -> tuple[datetime.datetime, ...]:
    return (
        to_utc(days[0], datetime.time(0), zone),
        to_utc(days[-1] + datetime.timedelta(days=1), datetime.time(0), zone),
    )


def _working_hours(
    request: HttpRequest, days: Sequence[datetime.date], **filters: Any
) -> list[WorkingHours]:
    weekdays = sorted({day.weekday() for day in days})
    hours = WorkingHours.objects.filter(
        location=request.desk.location,
        practitioner__clinic=request.desk.clinic,
        practitioner__active=True,
        weekday__in=weekdays,
        **filters,
    ).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=days[-1]),
        Q(valid_until__isnull=True) | Q(valid_until__gte=days[0]),
    )
    return list(access.scope(hours, request.user).select_related("practitioner"))


def _block_minutes(block: WorkingHours) -> Minutes:
    return (
        block.start_time.hour * 60 + block.start_time.minute,
        block.end_time.hour * 60 + block.end_time.minute,
    )


def _time_off(request: HttpRequest, window: Sequence[datetime.datetime], who: Q) -> list[TimeOff]:
    location = request.desk.location
    rows = TimeOff.objects.filter(
        Q(location=location) | who, start__lt=window[1], end__gt=window[0]
    )
    return list(access.scope(rows, request.user))


def _appointments(
    request: HttpRequest, window: Sequence[datetime.datetime], **filters: Any
) -> list[Appointment]:
    desk = request.desk
    rows = Appointment.objects.filter(
        clinic=desk.clinic,
        location=desk.location,
        start__lt=window[1],
        end__gt=window[0],
        # lets the (location, start) index bound the scan: no visit lasts more than a day
        start__gte=window[0] - datetime.timedelta(minutes=MAX_DURATION_MINUTES),
        **filters,
    )
    return list(
        access.scope(rows, request.user)
        .select_related("patient", "practitioner", "room", "appointment_type")
        .only(*SHOWN_FIELDS)
        .order_by("start", "pk")
    )


def _off_bands(
    entries: Iterable[TimeOff], day: datetime.date, zone: Any, *, practitioner_id: int | None
) -> list[tuple[int, int, str, str]]:
    bands = []
    for off in entries:
        if off.practitioner_id is None:
            kind, label = "closed", f"Closed{': ' + off.reason if off.reason else ''}"
        elif off.practitioner_id == practitioner_id:
            kind, label = "off", f"Time off{': ' + off.reason if off.reason else ''}"
        else:
            continue
        start, end = _minute_of(off.start, day, zone), _minute_of(off.end, day, zone)
        if end > start:
            bands.append((start, end, kind, label))
    return bands


# --- placing -----------------------------------------------------------------------------


def _appointment_urls() -> Callable[[int], str | None]:
    """The appointment page's address, or None while that page does not exist.

    Reversed once with a stand-in ID, then filled in: one reverse per page, not per visit.
    """
    stand_in = str(2**31 - 1)
    try:
        pattern = reverse("desk:appointment", args=[stand_in])
    except NoReverseMatch:
        return lambda pk: None
    return lambda pk: pattern.replace(stand_in, str(pk))


def _entry(
    appointment: Appointment,
    *,
    css: str,
    zone: Any,
    detail: str,
    url: str | None,
    sync: Sync,
) -> Entry:
    kind = appointment.appointment_type.name if appointment.appointment_type else "No type"
    video = " · video" if appointment.modality == Modality.VIDEO else ""
    return {
        "pk": appointment.pk,
        "css": css,
        "status": appointment.status,
        "status_label": STATUS_LABELS.get(appointment.status, appointment.status),
        "faded": appointment.status == AppointmentStatus.CANCELLED,
        "time": _time_label(appointment, zone),
        "patient": appointment.patient.display_name,
        "urgent": appointment.urgent,
        "meta": f"{kind} · {detail}{video}",
        "url": url,
        "sync": sync,
    }


def _time_label(appointment: Appointment, zone: Any) -> str:
    start, end = appointment.start.astimezone(zone), appointment.end.astimezone(zone)
    label = f"{start:%H:%M}–{end:%H:%M}"
    if end.date() != start.date():
        label += f" (ends {end:%a} {end.day})"
    return label


def _build_grid(
    specs: Sequence[ColumnSpec],
    *,
    zone: Any,
    now: datetime.datetime,
    hide_cancelled: bool,
    detail: Callable[[Appointment], str],
) -> Grid:
    visible = {
        spec.key: [
            a
            for a in spec.appointments
            if not (hide_cancelled and a.status == AppointmentStatus.CANCELLED)
        ]
        for spec in specs
    }
    spans = {
        spec.key: [_span_of(a.start, a.end, spec.day, zone) for a in visible[spec.key]]
        for spec in specs
    }
    first, last = OPENS, CLOSES
    for spec in specs:
        for start, end in [*spec.open, *spans[spec.key]]:
            first, last = min(first, start), max(last, end)
    first = first // 60 * 60
    last = min(DAY_MINUTES, math.ceil(last / 60) * 60)

    syncs = sync_of([a for appointments in visible.values() for a in appointments])
    url = _appointment_urls()
    local_now = now.astimezone(zone)
    now_minute = local_now.hour * 60 + local_now.minute
    columns = []
    for spec in specs:
        appointments = visible[spec.key]
        rows = [_rows(max(s, first), min(e, last), first) for s, e in spans[spec.key]]
        placed, lanes = _lanes([(row, row + span) for row, span in rows])
        entries = [
            _entry(
                a,
                css=f"at-{row} span-{span} " + _lane_css(lane, width, lanes),
                zone=zone,
                detail=detail(a),
                url=url(a.pk),
                sync=syncs[a.pk],
            )
            for a, (row, span), (lane, width) in zip(appointments, rows, placed, strict=True)
        ]
        bands = [
            Band("open", _place(max(s, first), min(e, last), first), "")
            for s, e in _merged(spec.open)
            if min(e, last) > max(s, first)
        ]
        bands += [
            Band(kind, _place(max(s, first), min(e, last), first), label)
            for s, e, kind, label in spec.off
            if min(e, last) > max(s, first)
        ]
        now_css = None
        today = spec.day == local_now.date()
        if today and first <= now_minute < last:
            row = (now_minute - first) // UNIT_MINUTES + 1
            now_css = f"at-{row} nudge-{(now_minute - first) % UNIT_MINUTES}"
        columns.append(
            Column(spec.key, spec.title, spec.note, lanes, bands, entries, now_css, today)
        )
    hours = [
        (_clock(minute), _place(minute, min(minute + 60, last), first))
        for minute in range(first, last, 60)
    ]
    return Grid(first, last, hours, columns)


def _hours_note(spans: Iterable[Minutes]) -> str:
    return ", ".join(f"{_clock(s)}–{_clock(e)}" for s, e in _merged(spans))


def _room_note(room: Room) -> str:
    parts = [room.get_kind_display()]
    if room.is_overflow:
        parts.append("overflow")
    if not room.active:
        parts.append("inactive")
    return " · ".join(parts)


# --- pages -------------------------------------------------------------------------------


def _check_location(request: HttpRequest) -> list[str]:
    """Another clinic's location ID gives 404; a malformed one a message."""
    wanted = (request.GET.get("location") or "").strip()
    if not wanted or any(str(loc.pk) == wanted for loc in request.desk.locations):
        return []
    if wanted.isdigit():
        raise Http404("No such location at this clinic.")
    return ["Choose a location from the list."]


def _link(name: str, **params: Any) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return f"{reverse(name)}?{query}"


def _respond(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """The page, or one of its regions for htmx: the calendar, or the sync poller's answer
    (the poller itself plus every delivery badge, swapped out of band)."""
    context["here"] = request.get_full_path()
    context["poll_seconds"] = POLL_SECONDS
    if request.htmx and not request.htmx.history_restore_request:
        if request.htmx.target == SYNC_POLLER:
            template, context["oob"] = "desk/day.html#sync", True
        else:
            template = f"{template}#calendar"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@desk_view
def day(request: HttpRequest) -> HttpResponse:
    """GET ?location=&date=YYYY-MM-DD&by=room|practitioner&cancelled=show|hide"""
    desk = request.desk
    location, zone = desk.location, desk.location.zone
    notices = _check_location(request)
    query = CalendarQuery(request.GET)
    query.is_valid()
    notices += query.messages()
    now = timezone.now()
    today = now.astimezone(zone).date()
    the_day = query.value("date", today)
    by = query.value("by", "room")
    cancelled = query.value("cancelled", "show")
    window = _window([the_day], zone)

    rooms = list(
        access.scope(Room.objects.filter(location=location, active=True), request.user).order_by(
            "is_overflow", "name", "pk"
        )
    )
    blocks = [block for block in _working_hours(request, [the_day]) if block.applies_on(the_day)]
    appointments = _appointments(request, window)
    practitioner_ids = {b.practitioner_id for b in blocks} | {
        a.practitioner_id for a in appointments
    }
    time_off = _time_off(request, window, Q(practitioner_id__in=practitioner_ids))

    if by == "practitioner":
        specs, detail = _practitioner_columns(the_day, zone, blocks, appointments, time_off)
    else:
        specs, detail = _room_columns(the_day, zone, rooms, blocks, appointments, time_off)
    grid = _build_grid(specs, zone=zone, now=now, hide_cancelled=cancelled == "hide", detail=detail)

    def link(**changes: Any) -> str:
        params = {"location": location.pk, "date": the_day.isoformat(), "by": by}
        params["cancelled"] = cancelled if cancelled == "hide" else None
        return _link("desk:day", **{**params, **changes})

    one_day = datetime.timedelta(days=1)
    context = {
        "desk": desk,
        "nav": "day",
        "day": the_day,
        "is_today": the_day == today,
        "by": by,
        "cancelled": cancelled,
        "grid": grid,
        "notices": notices,
        "rooms": rooms,
        "counts": _counts(appointments),
        "links": {
            "previous": link(date=(the_day - one_day).isoformat())
            if the_day > EARLIEST_DAY
            else None,
            "next": link(date=(the_day + one_day).isoformat()) if the_day < LATEST_DAY else None,
            "today": link(date=today.isoformat()),
            "by_room": link(by="room"),
            "by_practitioner": link(by="practitioner"),
            "cancelled": link(cancelled="show" if cancelled == "hide" else "hide"),
            "week": _link("desk:week", location=location.pk, date=the_day.isoformat()),
        },
    }
    return _respond(request, "desk/day.html", context)


def _room_columns(
    the_day: datetime.date,
    zone: Any,
    rooms: list[Room],
    blocks: list[WorkingHours],
    appointments: list[Appointment],
    time_off: list[TimeOff],
) -> tuple[list[ColumnSpec], Callable[[Appointment], str]]:
    """One column per room (plus rooms no longer active that hold a visit of the day), and
    a Video column for video visits without a room or when someone offers video today."""
    in_person = [
        _block_minutes(b) for b in blocks if Modality.IN_PERSON in ModalityOffer.allowed(b.modality)
    ]
    video = [
        _block_minutes(b) for b in blocks if Modality.VIDEO in ModalityOffer.allowed(b.modality)
    ]
    closures = _off_bands(time_off, the_day, zone, practitioner_id=None)
    columns: dict[str, ColumnSpec] = {}
    for room in rooms:
        columns[str(room.pk)] = ColumnSpec(
            str(room.pk), room.name, the_day, _room_note(room), in_person, closures
        )
    for appointment in appointments:
        room = appointment.room
        if room is None:
            key = VIDEO_COLUMN
            if key not in columns:
                columns[key] = ColumnSpec(key, "Video", the_day, "no room", video, closures)
        else:
            key = str(room.pk)
            if key not in columns:
                columns[key] = ColumnSpec(
                    key, room.name, the_day, _room_note(room), in_person, closures
                )
        columns[key].appointments.append(appointment)
    if video and VIDEO_COLUMN not in columns:
        columns[VIDEO_COLUMN] = ColumnSpec(
            VIDEO_COLUMN, "Video", the_day, "no room", video, closures
        )
    return list(columns.values()), lambda a: str(a.practitioner)


def _practitioner_columns(
    the_day: datetime.date,
    zone: Any,
    blocks: list[WorkingHours],
    appointments: list[Appointment],
    time_off: list[TimeOff],
) -> tuple[list[ColumnSpec], Callable[[Appointment], str]]:
    """One column per practitioner who works at the location that day or has a visit."""
    people = {b.practitioner_id: b.practitioner for b in blocks}
    people.update({a.practitioner_id: a.practitioner for a in appointments})
    ordered = sorted(people.values(), key=lambda p: (p.family_name, p.given_name, p.pk))
    columns = {}
    for practitioner in ordered:
        hours = [_block_minutes(b) for b in blocks if b.practitioner_id == practitioner.pk]
        columns[practitioner.pk] = ColumnSpec(
            str(practitioner.pk),
            str(practitioner),
            the_day,
            _hours_note(hours) or "not working",
            hours,
            _off_bands(time_off, the_day, zone, practitioner_id=practitioner.pk),
        )
    for appointment in appointments:
        columns[appointment.practitioner_id].appointments.append(appointment)
    return list(columns.values()), _where


def _where(appointment: Appointment) -> str:
    return appointment.room.name if appointment.room else "Video"


def _counts(appointments: list[Appointment]) -> dict[str, int]:
    cancelled = sum(a.status == AppointmentStatus.CANCELLED for a in appointments)
    return {"booked": len(appointments) - cancelled, "cancelled": cancelled}


def _location_practitioners(request: HttpRequest) -> QuerySet:
    desk = request.desk
    return access.scope(practitioners_at(desk.location), request.user)


@desk_view
def week(request: HttpRequest) -> HttpResponse:
    """GET ?location=&practitioner=&date=YYYY-MM-DD&cancelled=show|hide"""
    desk = request.desk
    location, zone = desk.location, desk.location.zone
    notices = _check_location(request)
    query = CalendarQuery(request.GET)
    query.is_valid()
    notices += query.messages()
    now = timezone.now()
    today = now.astimezone(zone).date()
    the_day = query.value("date", today)
    cancelled = query.value("cancelled", "show")
    monday = the_day - datetime.timedelta(days=the_day.weekday())
    days = [monday + datetime.timedelta(days=n) for n in range(7)]
    window = _window(days, zone)

    practitioners = list(_location_practitioners(request))
    wanted = query.value("practitioner", None)
    practitioner = next((p for p in practitioners if p.pk == wanted), None)
    if wanted and practitioner is None:
        practitioner = get_object_or_404(
            access.scope(Practitioner.objects.filter(clinic=desk.clinic), request.user),
            pk=wanted,
        )
        practitioners.append(practitioner)
    if practitioner is None and practitioners:
        practitioner = practitioners[0]

    grid = None
    counts = {"booked": 0, "cancelled": 0}
    if practitioner is not None:
        blocks = _working_hours(request, days, practitioner=practitioner)
        appointments = _appointments(request, window, practitioner=practitioner)
        time_off = _time_off(request, window, Q(practitioner=practitioner))
        counts = _counts(appointments)
        specs = []
        for day_ in days:
            hours = [_block_minutes(b) for b in blocks if b.applies_on(day_)]
            specs.append(
                ColumnSpec(
                    day_.isoformat(),
                    f"{day_:%a} {day_.day} {day_:%b}",
                    day_,
                    _hours_note(hours) or "not working",
                    hours,
                    _off_bands(time_off, day_, zone, practitioner_id=practitioner.pk),
                )
            )
        by_day = {spec.day: spec for spec in specs}
        for appointment in appointments:
            starts = appointment.start.astimezone(zone).date()
            by_day[max(starts, monday)].appointments.append(appointment)
        grid = _build_grid(
            specs, zone=zone, now=now, hide_cancelled=cancelled == "hide", detail=_where
        )

    def link(**changes: Any) -> str:
        params = {
            "location": location.pk,
            "practitioner": practitioner.pk if practitioner else None,
            "date": the_day.isoformat(),
            "cancelled": cancelled if cancelled == "hide" else None,
        }
        return _link("desk:week", **{**params, **changes})

    one_week = datetime.timedelta(days=7)
    context = {
        "desk": desk,
        "nav": "week",
        "day": the_day,
        "monday": monday,
        "sunday": days[-1],
        "is_this_week": monday <= today <= days[-1],
        "practitioners": practitioners,
        "practitioner": practitioner,
        "cancelled": cancelled,
        "grid": grid,
        "notices": notices,
        "counts": counts,
        "links": {
            "previous": link(date=(monday - one_week).isoformat())
            if monday - one_week >= EARLIEST_DAY
            else None,
            "next": link(date=(monday + one_week).isoformat())
            if monday + one_week <= LATEST_DAY
            else None,
            "today": link(date=today.isoformat()),
            "cancelled": link(cancelled="show" if cancelled == "hide" else "hide"),
            "day": _link("desk:day", location=location.pk, date=the_day.isoformat()),
        },
    }
    return _respond(request, "desk/week.html", context)


urlpatterns = [
    path("day/", day, name="day"),
    path("week/", week, name="week"),
]
