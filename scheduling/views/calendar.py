"""The day calendar (one column per room or per practitioner), a practitioner's week, the
poller that refreshes their delivery badges while a delivery is on its way, and moving an
appointment on them.

Each view reads the query (`CalendarQuery`), loads the records (the calendar selectors of
scheduling/selectors.py), has them laid out on the time grid (scheduling/calendar_layout.py)
and renders. Queries are bounded: rooms, working hours, time off, appointments (with their
patient, practitioner, room and type) and one `sync_of` for every delivery badge.

Every free cell of the grid links to the booking page with the column's practitioner or
room, the day and the time filled in. An appointment that can still be moved is dragged to
another time, room or practitioner (static/js/calendar.js asks for confirmation first) or
moved with its "Move…" dialog; both post `MoveForm` to `move`, which calls the booking
service's `reschedule_appointment` (its rules, conflicts, history, audit and delivery to
the PMS) and answers with the calendar again: moved, or the reason why not and the next
free times.
"""

import dataclasses
import datetime
import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from scheduling import access, audit, availability, booking
from scheduling.calendar_layout import (
    DAY_MINUTES,
    STEP_MINUTES,
    Column,
    Grid,
    Minutes,
    Off,
    Visit,
    hours_note,
    lay_out,
)
from scheduling.errors import BookingError, SlotConflict, TransitionNotAllowed, no_such
from scheduling.forms import CalendarQuery, InstantField, QueryForm
from scheduling.localtime import EARLIEST_DAY, LATEST_DAY, to_utc
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentStatus,
    Location,
    Modality,
    ModalityOffer,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from scheduling.selectors import (
    calendar_appointments,
    calendar_held_in_pms,
    calendar_practitioners,
    calendar_time_off,
    calendar_working_hours,
    clinic_practitioner,
    practitioners_at,
    room_list,
)
from scheduling.views.context import Desk, desk_view
from scheduling.views.render import render_page, wants_region
from vendors import calendar
from vendors.delivery import connection_serving
from vendors.models import BusyKind, PmsBusy, Vendor
from vendors.selectors import Sync, freshness_at, sync_of

POLL_SECONDS = 5
VIDEO_COLUMN = "video"
STATUS_LABELS = dict(AppointmentStatus.choices)
# Each status has its colour (calendar.css) and its mark, so that a card too small for the
# status's name still tells it apart without relying on colour alone.
STATUS_ICONS = {
    AppointmentStatus.UNCONFIRMED: "?",
    AppointmentStatus.CONFIRMED: "✓",
    AppointmentStatus.ARRIVED: "➔",
    AppointmentStatus.COMPLETED: "■",
    AppointmentStatus.CANCELLED: "✕",
    AppointmentStatus.NO_SHOW: "⊘",
}
# Hidden unless asked for ("Show cancelled and no-show"): their time is free again.
HIDDEN_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)

# One appointment as the template reads it: a flat dict of display values (one dictionary
# look-up per value keeps the rendering of hundreds of them cheap).
Entry = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Asked:
    """The query read, with its defaults filled in and a notice for each bad value."""

    now: datetime.datetime
    today: datetime.date
    day: datetime.date
    by: str
    cancelled: str
    practitioner: int | None
    notices: list[str]

    @property
    def hide_cancelled(self) -> bool:
        return self.cancelled == "hide"


def _asked(request: HttpRequest) -> Asked:
    notices = list(request.desk.notices)
    query = CalendarQuery(request.GET)
    query.is_valid()
    now = timezone.now()
    today = now.astimezone(request.desk.location.zone).date()
    return Asked(
        now=now,
        today=today,
        day=query.value("date", today),
        by=query.value("by", "room"),
        cancelled=query.value("cancelled", "hide"),
        practitioner=query.value("practitioner", None),
        notices=notices + query.messages(),
    )


def _window(
    days: Sequence[datetime.date], zone: Any
) -> tuple[datetime.datetime, datetime.datetime]:
    """The instants from the first day's local midnight to the midnight after the last."""
    return (
        to_utc(days[0], datetime.time(0), zone),
        to_utc(days[-1] + datetime.timedelta(days=1), datetime.time(0), zone),
    )


def _query(**params: Any) -> str:
    return urlencode({key: value for key, value in params.items() if value not in (None, "")})


def _link(name: str, **params: Any) -> str:
    return f"{reverse(name)}?{_query(**params)}"


def _poll_url(request: HttpRequest, name: str) -> str:
    """The poller's address: the page's sync view, asked about the same query."""
    query = request.GET.urlencode()
    return f"{reverse(name)}?{query}" if query else reverse(name)


# --- words and times ------------------------------------------------------------------------


def _clock(minutes: int) -> str:
    """A minute of the day in the language's time format ("9 a.m.", "09:00")."""
    minutes = minutes % DAY_MINUTES
    return time_format(datetime.time(minutes // 60, minutes % 60))


def _hours_note(spans: Iterable[Minutes]) -> str:
    return hours_note(spans, label=_clock) or _("not working")


def _day_title(day: datetime.date) -> str:
    """A week's column: its weekday and date in the language's order ("Mon January 4")."""
    return f"{date_format(day, 'D')} {date_format(day, 'MONTH_DAY_FORMAT')}"


def _when(moment: datetime.datetime, zone: Any) -> str:
    """A moment at the location, in the language's formats."""
    local = moment.astimezone(zone)
    return _("%(date)s, %(time)s") % {
        "date": date_format(local, "DATE_FORMAT"),
        "time": time_format(local),
    }


# --- what a visit shows ---------------------------------------------------------------------


def _shown(appointments: list[Appointment], asked: Asked) -> list[Appointment]:
    if not asked.hide_cancelled:
        return appointments
    return [a for a in appointments if a.status not in HIDDEN_STATUSES]


def _counts(appointments: list[Appointment]) -> dict[str, int]:
    hidden = sum(a.status in HIDDEN_STATUSES for a in appointments)
    return {"booked": len(appointments) - hidden, "hidden": hidden}


def _appointment_urls() -> Callable[[int], str]:
    """The appointment page's address: reversed once with a stand-in ID, then filled in (one
    reverse per page, not per visit)."""
    stand_in = str(2**31 - 1)
    pattern = reverse("desk:appointment", args=[stand_in])
    return lambda pk: pattern.replace(stand_in, str(pk))


def _visits(
    appointments: list[Appointment],
    *,
    zone: Any,
    now: datetime.datetime,
    detail: Callable[[Appointment], str],
) -> list[Visit[Entry]]:
    """For each appointment (same order), its instants and what its box shows."""
    syncs = sync_of(appointments)
    url = _appointment_urls()
    clock = functools.cache(time_format)  # a day's visits share a few dozen times
    labels = {status: str(label) for status, label in STATUS_LABELS.items()}
    visits = []
    for a in appointments:
        entry = _entry(
            a,
            zone=zone,
            now=now,
            detail=detail(a),
            url=url(a.pk),
            sync=syncs[a.pk],
            clock=clock,
            labels=labels,
        )
        visits.append(Visit(a.start, a.end, entry, takes_time=a.status in ACTIVE_STATUSES))
    return visits


def _entry(
    appointment: Appointment,
    *,
    zone: Any,
    now: datetime.datetime,
    detail: str,
    url: str,
    sync: Sync,
    clock: Callable[[datetime.time], str] = time_format,
    labels: dict[str, str] = STATUS_LABELS,
) -> Entry:
    kind = appointment.appointment_type.name if appointment.appointment_type else _("No type")
    video = f" · {_('video')}" if appointment.modality == Modality.VIDEO else ""
    return {
        "pk": appointment.pk,
        "status": appointment.status,
        "status_label": labels.get(appointment.status, appointment.status),
        "status_icon": STATUS_ICONS.get(appointment.status, "•"),
        "faded": appointment.status in HIDDEN_STATUSES,
        "time": _time_label(appointment, zone, clock),
        "start": f"{appointment.start.astimezone(zone):%Y-%m-%dT%H:%M}",
        "minutes": appointment.duration_minutes,
        "patient": appointment.patient.display_name,
        "urgent": appointment.urgent,
        "meta": f"{kind} · {detail}{video}",
        "url": url,
        "sync": sync,
        "movable": appointment.status in booking.RESCHEDULABLE and appointment.start > now,
    }


def _time_label(
    appointment: Appointment, zone: Any, clock: Callable[[datetime.time], str] = time_format
) -> str:
    start, end = appointment.start.astimezone(zone), appointment.end.astimezone(zone)
    label = f"{clock(start.time())}–{clock(end.time())}"
    if end.date() != start.date():
        label = _("%(span)s (ends %(day)s)") % {
            "span": label,
            "day": date_format(end.date(), "MONTH_DAY_FORMAT"),
        }
    return label


def _practitioner_of(appointment: Appointment) -> str:
    return str(appointment.practitioner)


def _where(appointment: Appointment) -> str:
    return appointment.room.name if appointment.room else _("Video")


def _block_minutes(block: WorkingHours) -> Minutes:
    return (
        block.start_time.hour * 60 + block.start_time.minute,
        block.end_time.hour * 60 + block.end_time.minute,
    )


def _step(blocks: Iterable[WorkingHours]) -> int:
    """Minutes between the bookable starts of a column: its shortest slot interval."""
    return min((block.slot_interval_minutes for block in blocks), default=STEP_MINUTES)


def _off(time_off: list[TimeOff], *, practitioner_id: int | None) -> list[Off]:
    """Closures of the location, and the time off of one practitioner (if any)."""
    bands = []
    for off in time_off:
        if off.practitioner_id is None:
            kind = "closed"
            label = _("Closed: %(reason)s") % {"reason": off.reason} if off.reason else _("Closed")
        elif off.practitioner_id == practitioner_id:
            kind = "off"
            label = (
                _("Time off: %(reason)s") % {"reason": off.reason} if off.reason else _("Time off")
            )
        else:
            continue
        bands.append(Off(off.start, off.end, kind, label))
    return bands


def _held(
    held: list[PmsBusy], *, practitioner_id: int | None = None, room_id: int | None = None
) -> list[Off]:
    """Time the PMS holds for one practitioner or room, as read-only bands: "Busy in
    Dentalink", with the patient's name when the PMS's patient is mapped here."""
    bands = []
    for busy in held:
        if (practitioner_id is not None and busy.practitioner_id == practitioner_id) or (
            room_id is not None and busy.room_id == room_id
        ):
            vendor = Vendor(busy.vendor).label
            if busy.kind == BusyKind.BLOCK:
                label = _("Blocked in %(vendor)s") % {"vendor": vendor}
            else:
                label = _("Busy in %(vendor)s") % {"vendor": vendor}
            if busy.patient is not None:
                label = _("%(held)s: %(patient)s") % {
                    "held": label,
                    "patient": busy.patient.display_name,
                }
            bands.append(Off(busy.start, busy.end, "pms", label))
    return bands


def _room_note(room: Room) -> str:
    parts = [str(room.get_kind_display())]
    if room.is_overflow:
        parts.append(_("overflow"))
    if not room.active:
        parts.append(_("inactive"))
    return " · ".join(parts)


def _statuses() -> list[tuple[str, str, str]]:
    """The legend: each status with its name and mark, in the order of its life."""
    return [(status, label, STATUS_ICONS[status]) for status, label in AppointmentStatus.choices]


def _polling(entries: Iterable[Entry]) -> bool:
    """Poll while any delivery is on its way."""
    return any(entry["sync"].in_flight for entry in entries)


@dataclasses.dataclass(frozen=True, slots=True)
class FreeLink:
    """A free cell as the page shows it: where it sits, where it leads, what it says."""

    css: str
    minute: int
    href: str
    label: str


def _with_free_links(grid: Grid, book_url: str) -> Grid:
    """Each column's free cells as links to the booking page. A day holds hundreds of them:
    their words and addresses are written here, each time of day formatted once, not by
    template filters cell by cell."""
    said = _("Book at %(time)s, %(where)s")
    clocks: dict[int, str] = {}
    for column in grid.columns:
        day = f"{column.day:%Y-%m-%d}"
        prefix = f"{book_url}&{column.data['book']}&date={day}&start={day}T"
        links = []
        for cell in column.cells:
            if (clock := clocks.get(cell.minute)) is None:
                clock = clocks[cell.minute] = time_format(cell.time)
            label = said % {"time": clock, "where": column.title}
            links.append(FreeLink(cell.css, cell.minute, prefix + cell.hhmm, label))
        column.cells = links
    return grid


def _book_url(location: Location) -> str:
    """The booking page at the location; each free cell adds its day, time and column."""
    return _link("desk:book", location=location.pk)


def _chooses(practitioner_id: int) -> str:
    """The booking page's query that chooses one practitioner (and their slot)."""
    return _query(who=f"p:{practitioner_id}", slot_practitioner=practitioner_id)


# --- the day --------------------------------------------------------------------------------


def _day_context(request: HttpRequest, asked: Asked) -> dict[str, Any]:
    desk, user = request.desk, request.user
    location, zone = desk.location, desk.location.zone
    the_day = asked.day
    start, end = _window([the_day], zone)

    rooms = list(room_list(user=user, location=location))
    blocks = [
        block
        for block in calendar_working_hours(user=user, location=location, days=[the_day])
        if block.applies_on(the_day)
    ]
    appointments = calendar_appointments(user=user, location=location, start=start, end=end)
    time_off = calendar_time_off(
        user=user,
        location=location,
        start=start,
        end=end,
        practitioner_ids={b.practitioner_id for b in blocks}
        | {a.practitioner_id for a in appointments},
    )

    held = calendar_held_in_pms(
        user=user,
        location=location,
        start=start,
        end=end,
        practitioner_ids={b.practitioner_id for b in blocks}
        | {a.practitioner_id for a in appointments},
        room_ids=[room.pk for room in rooms],
    )
    shown = _shown(appointments, asked)
    if asked.by == "practitioner":
        visits = _visits(shown, zone=zone, now=asked.now, detail=_where)
        columns = _practitioner_columns(the_day, blocks, shown, visits, time_off, held)
    else:
        visits = _visits(shown, zone=zone, now=asked.now, detail=_practitioner_of)
        columns = _room_columns(the_day, rooms, blocks, shown, visits, time_off, held)
    grid = _with_free_links(lay_out(columns, zone=zone, now=asked.now), _book_url(location))

    params = {
        "location": location.pk,
        "date": the_day.isoformat(),
        "by": asked.by,
        "cancelled": None if asked.hide_cancelled else "show",
    }

    def link(**changes: Any) -> str:
        return _link("desk:day", **{**params, **changes})

    one_day = datetime.timedelta(days=1)
    return {
        "desk": desk,
        "nav": "day",
        "day": the_day,
        "earliest_day": EARLIEST_DAY,
        "latest_day": LATEST_DAY,
        "is_today": the_day == asked.today,
        "by": asked.by,
        "cancelled": asked.cancelled,
        "grid": grid,
        "notices": asked.notices,
        "counts": _counts(appointments),
        "pms_calendar": freshness_at(location),
        "polling": _polling(visit.item for visit in visits),
        "poll_url": _poll_url(request, "desk:day-sync"),
        "poll_seconds": POLL_SECONDS,
        "page_url": link(),
        "book_url": _book_url(location),
        "statuses": _statuses(),
        "move_url": _link("desk:calendar-move", calendar="day", **params),
        "links": {
            "previous": link(date=(the_day - one_day).isoformat())
            if the_day > EARLIEST_DAY
            else None,
            "next": link(date=(the_day + one_day).isoformat()) if the_day < LATEST_DAY else None,
            "today": link(date=asked.today.isoformat()),
            "by_room": link(by="room"),
            "by_practitioner": link(by="practitioner"),
            "week": _link("desk:week", location=location.pk, date=the_day.isoformat()),
        },
    }


@desk_view
def day(request: HttpRequest) -> HttpResponse:
    """GET ?location=&date=YYYY-MM-DD&by=room|practitioner&cancelled=hide|show"""
    context = _day_context(request, _asked(request))
    return render_page(request, "desk/day.html", context, region="calendar")


@desk_view
@require_POST
def refresh_from_pms(request: HttpRequest) -> HttpResponse:
    """ "Refresh from PMS": read the location's PMS calendar now (the whole window), then draw
    the freshness line again and tell the calendar to redraw itself."""
    location = request.desk.location
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = _link("desk:day", location=location.pk)
    connection = connection_serving(location.pk, location.clinic_id)
    refreshed = calendar.pull(connection, full=True) if connection is not None else None
    if not wants_region(request):
        return redirect(back)
    context = {
        "desk": request.desk,
        "pms_calendar": freshness_at(location),
        "refreshed": refreshed,
        "back": back,
    }
    response = render_page(request, "desk/day.html", context, region="pms_calendar")
    response["HX-Trigger"] = "pms-refreshed"
    return response


@desk_view
def day_sync(request: HttpRequest) -> HttpResponse:
    """GET with the day's query: the sync poller of the day and every delivery badge."""
    location, zone = request.desk.location, request.desk.location.zone
    asked = _asked(request)
    start, end = _window([asked.day], zone)
    appointments = calendar_appointments(user=request.user, location=location, start=start, end=end)
    return _sync_answer(request, _shown(appointments, asked))


def _room_columns(
    the_day: datetime.date,
    rooms: list[Room],
    blocks: list[WorkingHours],
    appointments: list[Appointment],
    visits: list[Visit[Entry]],
    time_off: list[TimeOff],
    held: list[PmsBusy],
) -> list[Column[Entry]]:
    """One column per room (plus rooms no longer active that hold a visit of the day), and
    a Video column for video visits without a room or when someone offers video today."""
    in_person_blocks = [
        b for b in blocks if Modality.IN_PERSON in ModalityOffer.allowed(b.modality)
    ]
    video_blocks = [b for b in blocks if Modality.VIDEO in ModalityOffer.allowed(b.modality)]
    in_person = [_block_minutes(b) for b in in_person_blocks]
    video = [_block_minutes(b) for b in video_blocks]
    closures = _off(time_off, practitioner_id=None)

    def room_column(room: Room) -> Column[Entry]:
        return Column(
            str(room.pk),
            room.name,
            the_day,
            _room_note(room),
            in_person,
            closures + _held(held, room_id=room.pk),
            step=_step(in_person_blocks),
            data={
                "book": _query(room=room.pk),
                "room": str(room.pk),
                "modality": Modality.IN_PERSON,
            },
        )

    def video_column() -> Column[Entry]:
        return Column(
            VIDEO_COLUMN,
            _("Video"),
            the_day,
            _("no room"),
            video,
            closures,
            step=_step(video_blocks),
            data={"book": _query(modality=Modality.VIDEO), "modality": Modality.VIDEO},
        )

    columns = {str(room.pk): room_column(room) for room in rooms}
    for appointment, visit in zip(appointments, visits, strict=True):
        room = appointment.room
        key = VIDEO_COLUMN if room is None else str(room.pk)
        if key not in columns:
            columns[key] = video_column() if room is None else room_column(room)
        columns[key].visits.append(visit)
    if video and VIDEO_COLUMN not in columns:
        columns[VIDEO_COLUMN] = video_column()
    return list(columns.values())


def _practitioner_columns(
    the_day: datetime.date,
    blocks: list[WorkingHours],
    appointments: list[Appointment],
    visits: list[Visit[Entry]],
    time_off: list[TimeOff],
    held: list[PmsBusy],
) -> list[Column[Entry]]:
    """One column per practitioner who works at the location that day or has a visit."""
    people = {b.practitioner_id: b.practitioner for b in blocks}
    people.update({a.practitioner_id: a.practitioner for a in appointments})
    ordered = sorted(people.values(), key=lambda p: (p.family_name, p.given_name, p.pk))
    columns = {}
    for practitioner in ordered:
        own = [b for b in blocks if b.practitioner_id == practitioner.pk]
        hours = [_block_minutes(b) for b in own]
        columns[practitioner.pk] = Column(
            str(practitioner.pk),
            str(practitioner),
            the_day,
            _hours_note(hours),
            hours,
            _off(time_off, practitioner_id=practitioner.pk)
            + _held(held, practitioner_id=practitioner.pk),
            step=_step(own),
            data={"book": _chooses(practitioner.pk), "practitioner": str(practitioner.pk)},
        )
    for appointment, visit in zip(appointments, visits, strict=True):
        columns[appointment.practitioner_id].visits.append(visit)
    return list(columns.values())


# --- the week -------------------------------------------------------------------------------


def _week_of(the_day: datetime.date) -> list[datetime.date]:
    monday = the_day - datetime.timedelta(days=the_day.weekday())
    return [monday + datetime.timedelta(days=n) for n in range(7)]


def _whose_week(
    request: HttpRequest, asked: Asked
) -> tuple[list[Practitioner], Practitioner | None]:
    """The practitioners who work at the location, and whose week is shown: the one asked
    for (404 if not of this clinic), else the first."""
    practitioners = calendar_practitioners(user=request.user, location=request.desk.location)
    wanted = asked.practitioner
    practitioner = next((p for p in practitioners if p.pk == wanted), None)
    if wanted and practitioner is None:
        practitioner = clinic_practitioner(user=request.user, clinic=request.desk.clinic, pk=wanted)
        if practitioner is None:
            raise Http404(_("No such practitioner at this clinic."))
        practitioners.append(practitioner)
    if practitioner is None and practitioners:
        practitioner = practitioners[0]
    return practitioners, practitioner


def _week_context(request: HttpRequest, asked: Asked) -> dict[str, Any]:
    desk, user = request.desk, request.user
    location, zone = desk.location, desk.location.zone
    days = _week_of(asked.day)
    monday, sunday = days[0], days[-1]
    start, end = _window(days, zone)
    practitioners, practitioner = _whose_week(request, asked)

    grid, visits = None, []
    counts = {"booked": 0, "hidden": 0}
    if practitioner is not None:
        blocks = calendar_working_hours(
            user=user, location=location, days=days, practitioner=practitioner
        )
        appointments = calendar_appointments(
            user=user, location=location, start=start, end=end, practitioner=practitioner
        )
        time_off = calendar_time_off(
            user=user, location=location, start=start, end=end, practitioner_ids=[practitioner.pk]
        )
        held = calendar_held_in_pms(
            user=user, location=location, start=start, end=end, practitioner_ids=[practitioner.pk]
        )
        counts = _counts(appointments)
        columns = {}
        for day_ in days:
            own = [b for b in blocks if b.applies_on(day_)]
            hours = [_block_minutes(b) for b in own]
            columns[day_] = Column(
                day_.isoformat(),
                _day_title(day_),
                day_,
                _hours_note(hours),
                hours,
                _off(time_off, practitioner_id=practitioner.pk)
                + _held(held, practitioner_id=practitioner.pk),
                step=_step(own),
                data={"book": _chooses(practitioner.pk)},
            )
        shown = _shown(appointments, asked)
        visits = _visits(shown, zone=zone, now=asked.now, detail=_where)
        for appointment, visit in zip(shown, visits, strict=True):
            starts = appointment.start.astimezone(zone).date()
            columns[max(starts, monday)].visits.append(visit)
        grid = _with_free_links(
            lay_out(list(columns.values()), zone=zone, now=asked.now), _book_url(location)
        )

    params = {
        "location": location.pk,
        "practitioner": practitioner.pk if practitioner else None,
        "date": asked.day.isoformat(),
        "cancelled": None if asked.hide_cancelled else "show",
    }

    def link(**changes: Any) -> str:
        return _link("desk:week", **{**params, **changes})

    one_week = datetime.timedelta(days=7)
    return {
        "desk": desk,
        "nav": "week",
        "day": asked.day,
        "earliest_day": EARLIEST_DAY,
        "latest_day": LATEST_DAY,
        "monday": monday,
        "sunday": sunday,
        "is_this_week": monday <= asked.today <= sunday,
        "practitioners": practitioners,
        "practitioner": practitioner,
        "cancelled": asked.cancelled,
        "grid": grid,
        "notices": asked.notices,
        "counts": counts,
        "pms_calendar": freshness_at(location),
        "polling": _polling(visit.item for visit in visits),
        "poll_url": _poll_url(request, "desk:week-sync"),
        "poll_seconds": POLL_SECONDS,
        "page_url": link(),
        "book_url": _book_url(location),
        "statuses": _statuses(),
        "move_url": _link("desk:calendar-move", calendar="week", **params),
        "links": {
            "previous": link(date=(monday - one_week).isoformat())
            if monday - one_week >= EARLIEST_DAY
            else None,
            "next": link(date=(monday + one_week).isoformat())
            if monday + one_week <= LATEST_DAY
            else None,
            "today": link(date=asked.today.isoformat()),
            "day": _link("desk:day", location=location.pk, date=asked.day.isoformat()),
        },
    }


@desk_view
def week(request: HttpRequest) -> HttpResponse:
    """GET ?location=&practitioner=&date=YYYY-MM-DD&cancelled=hide|show"""
    context = _week_context(request, _asked(request))
    return render_page(request, "desk/week.html", context, region="calendar")


@desk_view
def week_sync(request: HttpRequest) -> HttpResponse:
    """GET with the week's query: the sync poller of the week and every delivery badge."""
    asked = _asked(request)
    _, practitioner = _whose_week(request, asked)
    appointments: list[Appointment] = []
    if practitioner is not None:
        start, end = _window(_week_of(asked.day), request.desk.location.zone)
        appointments = calendar_appointments(
            user=request.user,
            location=request.desk.location,
            start=start,
            end=end,
            practitioner=practitioner,
        )
    return _sync_answer(request, _shown(appointments, asked))


# --- the sync poller ------------------------------------------------------------------------


def _sync_answer(request: HttpRequest, appointments: list[Appointment]) -> HttpResponse:
    """The poller again (still polling while a delivery is on its way, settled without
    `hx-trigger` once none is) and every badge, swapped out of band."""
    syncs = sync_of(appointments)
    entries = [{"pk": a.pk, "sync": syncs[a.pk]} for a in appointments]
    context = {
        "entries": entries,
        "oob": True,
        "polling": _polling(entries),
        "poll_url": request.get_full_path(),
        "poll_seconds": POLL_SECONDS,
    }
    return render_page(request, "desk/day.html#sync", context)


# --- moving an appointment ------------------------------------------------------------------

CALENDARS: dict[str, tuple[Callable[[HttpRequest, Asked], dict[str, Any]], str]] = {
    "day": (_day_context, "desk/day.html"),
    "week": (_week_context, "desk/week.html"),
}
NO_SUCH_APPOINTMENT = gettext_lazy("No such appointment.")
CHOOSE_NEW_TIME = gettext_lazy("Choose the new date and time, e.g. 2027-01-04T10:30.")


class CalendarChoice(QueryForm):
    """`?calendar=` of the move: the calendar to draw again afterwards."""

    calendar = forms.ChoiceField(
        required=False,
        choices=[("day", gettext_lazy("Day")), ("week", gettext_lazy("Week"))],
        error_messages={"invalid_choice": gettext_lazy("Show the day or the week.")},
    )


class MoveForm(forms.Form):
    """Moving one appointment of the desk's location: its new start (wall-clock time at the
    location, or ISO 8601 with an offset), and its room, practitioner and modality when
    they change (empty: the booking service keeps the room if it is free, else picks one;
    keeps the practitioner; keeps the modality where the new hours offer it)."""

    appointment = forms.IntegerField(
        min_value=1,
        error_messages={
            "required": NO_SUCH_APPOINTMENT,
            "invalid": NO_SUCH_APPOINTMENT,
            "min_value": NO_SUCH_APPOINTMENT,
        },
    )
    start = InstantField(required=False, message=CHOOSE_NEW_TIME)
    room = forms.ModelChoiceField(Room.objects.none(), required=False)
    practitioner = forms.ModelChoiceField(Practitioner.objects.none(), required=False)
    modality = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Modality.choices],
        error_messages={"invalid_choice": gettext_lazy("Choose in person or video.")},
    )

    def __init__(self, data: Any, *, desk: Desk, user: Any, move: bool) -> None:
        super().__init__(data)
        self.desk, self.user = desk, user
        location = desk.location
        self.fields["start"].zone = location.zone
        self.fields["start"].required = move
        self.fields["room"].queryset = room_list(user=user, location=location)
        self.fields["room"].error_messages["invalid_choice"] = no_such(Room)
        self.fields["practitioner"].queryset = access.scope(practitioners_at(location), user)
        self.fields["practitioner"].error_messages["invalid_choice"] = no_such(Practitioner)

    def clean_appointment(self) -> Appointment:
        """An appointment of the desk's clinic and location, with what moving it reads."""
        found = (
            access.scope(Appointment.objects.all(), self.user)
            .filter(pk=self.cleaned_data["appointment"])
            .filter(clinic=self.desk.clinic, location=self.desk.location)
            .select_related(
                "location", "practitioner", "room", "patient", "appointment_type", "assistant"
            )
            .first()
        )
        if found is None:
            raise forms.ValidationError(NO_SUCH_APPOINTMENT, code="invalid_choice")
        return found

    def problems(self) -> list[str]:
        return [str(text) for texts in self.errors.values() for text in texts]


@dataclasses.dataclass
class Alternative:
    """A free time the refusal offers instead: what to post back to move there (`start` as
    ISO 8601; the room asked for when it is free then, else none: the service picks)."""

    start: str
    local: datetime.datetime
    practitioner_id: int
    room_id: int | None


@dataclasses.dataclass
class Refusal:
    """Why a move did not happen, and the next free times to move to instead."""

    messages: list[str]
    appointment_id: int | None = None
    modality: str = ""
    alternatives: list[Alternative] = dataclasses.field(default_factory=list)


def _calendar_of(request: HttpRequest) -> tuple[str, Asked, list[str]]:
    choice = CalendarChoice(request.GET)
    choice.is_valid()
    return choice.value("calendar", "day"), _asked(request), choice.messages()


def _calendar_page(
    request: HttpRequest, kind: str, asked: Asked, **extra: Any
) -> tuple[dict[str, Any], str]:
    build, template = CALENDARS[kind]
    context = build(request, asked)
    context["back"] = context["page_url"]  # the freshness line's redraw, not this address
    context.update(extra)
    return context, template


def _distinct(texts: Iterable[Any]) -> list[str]:
    return list(dict.fromkeys(str(text) for text in texts))


def _current(appointment: Appointment) -> str:
    zone = appointment.location.zone
    where = appointment.room.name if appointment.room else _("Video")
    return _("%(when)s · %(where)s · %(who)s") % {
        "when": _when(appointment.start, zone),
        "where": where,
        "who": appointment.practitioner,
    }


def _move_form(request: HttpRequest, kind: str, asked: Asked, notices: list[str]) -> HttpResponse:
    """GET: the "Move…" form of one appointment (the dialog's content for htmx; otherwise
    the calendar page with the form above it)."""
    # Only the appointment: the rest of this query is the calendar's (whose `practitioner`
    # is the week's, not a new one).
    asked_for = {"appointment": request.GET.get("appointment", "")}
    form = MoveForm(asked_for, desk=request.desk, user=request.user, move=False)
    form.is_valid()
    appointment = form.cleaned_data.get("appointment")
    move: dict[str, Any] = {"problems": form.problems() if appointment is None else []}
    if appointment is not None:
        try:
            booking.check_reschedulable(appointment)
        except TransitionNotAllowed as error:
            move["problems"] = _distinct(t for texts in error.messages.values() for t in texts)
        else:
            local = appointment.start.astimezone(appointment.location.zone)
            move.update(
                appointment=appointment,
                current=_current(appointment),
                start=f"{local:%Y-%m-%dT%H:%M}",
                rooms=list(form.fields["room"].queryset),
                practitioners=list(form.fields["practitioner"].queryset),
                modalities=Modality.choices,
            )
    if wants_region(request):
        context = {"desk": request.desk, "move": move, "move_url": _move_url(request)}
        return render_page(request, CALENDARS[kind][1], context, region="move_form")
    if "appointment" in move:  # its form on the whole page: a view, as the reschedule page
        audit.record(audit.Action.VIEWED, appointment)
    context, template = _calendar_page(request, kind, asked, move=move)
    context["notices"] = context["notices"] + notices
    return render_page(request, template, context)


def _move_url(request: HttpRequest) -> str:
    """Where the move form posts: this view, asked about the same calendar (without the
    appointment: the form names it)."""
    query = request.GET.copy()
    query.pop("appointment", None)
    return f"{reverse('desk:calendar-move')}?{query.urlencode()}"


def _page_url(kind: str, request: HttpRequest, asked: Asked) -> str:
    """The calendar the move was made on (without drawing it)."""
    location, day = request.desk.location.pk, asked.day.isoformat()
    cancelled = None if asked.hide_cancelled else "show"
    if kind == "week":
        return _link(
            "desk:week",
            location=location,
            practitioner=asked.practitioner,
            date=day,
            cancelled=cancelled,
        )
    return _link("desk:day", location=location, date=day, by=asked.by, cancelled=cancelled)


def _alternatives(
    slots: Sequence[availability.Slot], zone: Any, room: Room | None
) -> list[Alternative]:
    return [
        Alternative(
            slot.start.isoformat(),
            slot.start.astimezone(zone),
            slot.practitioner_id,
            room.pk if room is not None and room.pk in slot.room_ids else None,
        )
        for slot in slots
    ]


def _moved_message(appointment: Appointment) -> str:
    zone = appointment.location.zone
    where = appointment.room.name if appointment.room else _("Video")
    return _("Moved to %(when)s (%(where)s, %(who)s); it is unconfirmed again.") % {
        "when": _when(appointment.start, zone),
        "where": where,
        "who": appointment.practitioner,
    }


@desk_view
@require_http_methods(["GET", "POST"])
def move(request: HttpRequest) -> HttpResponse:
    """GET ?appointment=&calendar=day|week&<the calendar's query>: the "Move…" form.
    POST appointment, start, room, practitioner, modality (MoveForm): move it through the
    booking service, then the calendar again (its region for htmx; otherwise a redirect to
    it, or the page with the refusal)."""
    kind, asked, notices = _calendar_of(request)
    if request.method == "GET":
        return _move_form(request, kind, asked, notices)
    form = MoveForm(request.POST, desk=request.desk, user=request.user, move=True)
    refusal: Refusal | None = None
    moved: Appointment | None = None
    if not form.is_valid():
        refusal = Refusal(form.problems())
    else:
        data = form.cleaned_data
        appointment = data["appointment"]
        zone = appointment.location.zone
        try:
            moved = booking.reschedule_appointment(
                appointment,
                start=data["start"],
                practitioner=data["practitioner"],
                room=data["room"],
                modality=data["modality"] or None,
                by=request.user,
            )
        except SlotConflict as conflict:
            refusal = Refusal(
                _distinct(t for texts in conflict.messages.values() for t in texts),
                appointment.pk,
                data["modality"],
                _alternatives(conflict.alternatives, zone, data["room"]),
            )
        except BookingError as error:
            refusal = Refusal(_distinct(t for texts in error.messages.values() for t in texts))
    if moved is not None:
        messages.success(request, _moved_message(moved))
        if not wants_region(request):
            return redirect(_page_url(kind, request, asked))
    context, template = _calendar_page(
        request, kind, asked, refusal=refusal, moved_pk=moved.pk if moved else None
    )
    context["notices"] = context["notices"] + notices
    return render_page(request, template, context, region="calendar")


urlpatterns = [
    path("day/", day, name="day"),
    path("day/sync/", day_sync, name="day-sync"),
    path("calendar/refresh/", refresh_from_pms, name="calendar-refresh"),
    path("calendar/move/", move, name="calendar-move"),
    path("week/", week, name="week"),
    path("week/sync/", week_sync, name="week-sync"),
]
