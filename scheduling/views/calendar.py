"""The day calendar (one column per room or per practitioner), a practitioner's week, and
the poller that refreshes their delivery badges while a delivery is on its way.

Each view reads the query (`CalendarQuery`), loads the records (the calendar selectors of
scheduling/selectors.py), has them laid out on the time grid (scheduling/calendar_layout.py)
and renders. Queries are bounded: rooms, working hours, time off, appointments (with their
patient, practitioner, room and type) and one `sync_of` for every delivery badge.
"""

import dataclasses
import datetime
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from scheduling.calendar_layout import Column, Minutes, Off, Visit, hours_note, lay_out
from scheduling.forms import CalendarQuery
from scheduling.localtime import EARLIEST_DAY, LATEST_DAY, to_utc
from scheduling.models import (
    Appointment,
    AppointmentStatus,
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
    room_list,
)
from scheduling.views.context import desk_view
from scheduling.views.render import render_page, wants_region
from vendors import calendar
from vendors.delivery import connection_serving
from vendors.models import BusyKind, PmsBusy, Vendor
from vendors.selectors import Sync, freshness_at, sync_of

POLL_SECONDS = 5
VIDEO_COLUMN = "video"
STATUS_LABELS = dict(AppointmentStatus.choices)

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
        cancelled=query.value("cancelled", "show"),
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


def _link(name: str, **params: Any) -> str:
    query = urlencode({key: value for key, value in params.items() if value not in (None, "")})
    return f"{reverse(name)}?{query}"


def _poll_url(request: HttpRequest, name: str) -> str:
    """The poller's address: the page's sync view, asked about the same query."""
    query = request.GET.urlencode()
    return f"{reverse(name)}?{query}" if query else reverse(name)


# --- what a visit shows ---------------------------------------------------------------------


def _shown(appointments: list[Appointment], asked: Asked) -> list[Appointment]:
    if not asked.hide_cancelled:
        return appointments
    return [a for a in appointments if a.status != AppointmentStatus.CANCELLED]


def _counts(appointments: list[Appointment]) -> dict[str, int]:
    cancelled = sum(a.status == AppointmentStatus.CANCELLED for a in appointments)
    return {"booked": len(appointments) - cancelled, "cancelled": cancelled}


def _appointment_urls() -> Callable[[int], str]:
    """The appointment page's address: reversed once with a stand-in ID, then filled in (one
    reverse per page, not per visit)."""
    stand_in = str(2**31 - 1)
    pattern = reverse("desk:appointment", args=[stand_in])
    return lambda pk: pattern.replace(stand_in, str(pk))


def _visits(
    appointments: list[Appointment], *, zone: Any, detail: Callable[[Appointment], str]
) -> list[Visit[Entry]]:
    """For each appointment (same order), its instants and what its box shows."""
    syncs = sync_of(appointments)
    url = _appointment_urls()
    visits = []
    for a in appointments:
        entry = _entry(a, zone=zone, detail=detail(a), url=url(a.pk), sync=syncs[a.pk])
        visits.append(Visit(a.start, a.end, entry))
    return visits


def _entry(appointment: Appointment, *, zone: Any, detail: str, url: str, sync: Sync) -> Entry:
    kind = appointment.appointment_type.name if appointment.appointment_type else "No type"
    video = " · video" if appointment.modality == Modality.VIDEO else ""
    return {
        "pk": appointment.pk,
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


def _practitioner_of(appointment: Appointment) -> str:
    return str(appointment.practitioner)


def _where(appointment: Appointment) -> str:
    return appointment.room.name if appointment.room else "Video"


def _block_minutes(block: WorkingHours) -> Minutes:
    return (
        block.start_time.hour * 60 + block.start_time.minute,
        block.end_time.hour * 60 + block.end_time.minute,
    )


def _off(time_off: list[TimeOff], *, practitioner_id: int | None) -> list[Off]:
    """Closures of the location, and the time off of one practitioner (if any)."""
    bands = []
    for off in time_off:
        if off.practitioner_id is None:
            kind, label = "closed", f"Closed{': ' + off.reason if off.reason else ''}"
        elif off.practitioner_id == practitioner_id:
            kind, label = "off", f"Time off{': ' + off.reason if off.reason else ''}"
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
            words = "Blocked" if busy.kind == BusyKind.BLOCK else "Busy"
            label = f"{words} in {Vendor(busy.vendor).label}"
            if busy.patient is not None:
                label += f": {busy.patient.display_name}"
            bands.append(Off(busy.start, busy.end, "pms", label))
    return bands


def _room_note(room: Room) -> str:
    parts = [room.get_kind_display()]
    if room.is_overflow:
        parts.append("overflow")
    if not room.active:
        parts.append("inactive")
    return " · ".join(parts)


def _polling(entries: Iterable[Entry]) -> bool:
    """Poll while any delivery is on its way."""
    return any(entry["sync"].in_flight for entry in entries)


# --- the day --------------------------------------------------------------------------------


@desk_view
def day(request: HttpRequest) -> HttpResponse:
    """GET ?location=&date=YYYY-MM-DD&by=room|practitioner&cancelled=show|hide"""
    desk, user = request.desk, request.user
    location, zone = desk.location, desk.location.zone
    asked = _asked(request)
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
        visits = _visits(shown, zone=zone, detail=_where)
        columns = _practitioner_columns(the_day, blocks, shown, visits, time_off, held)
    else:
        visits = _visits(shown, zone=zone, detail=_practitioner_of)
        columns = _room_columns(the_day, rooms, blocks, shown, visits, time_off, held)
    grid = lay_out(columns, zone=zone, now=asked.now)

    def link(**changes: Any) -> str:
        params = {"location": location.pk, "date": the_day.isoformat(), "by": asked.by}
        params["cancelled"] = "hide" if asked.hide_cancelled else None
        return _link("desk:day", **{**params, **changes})

    one_day = datetime.timedelta(days=1)
    context = {
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
        "links": {
            "previous": link(date=(the_day - one_day).isoformat())
            if the_day > EARLIEST_DAY
            else None,
            "next": link(date=(the_day + one_day).isoformat()) if the_day < LATEST_DAY else None,
            "today": link(date=asked.today.isoformat()),
            "by_room": link(by="room"),
            "by_practitioner": link(by="practitioner"),
            "cancelled": link(cancelled="show" if asked.hide_cancelled else "hide"),
            "week": _link("desk:week", location=location.pk, date=the_day.isoformat()),
        },
    }
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
    in_person = [
        _block_minutes(b) for b in blocks if Modality.IN_PERSON in ModalityOffer.allowed(b.modality)
    ]
    video = [
        _block_minutes(b) for b in blocks if Modality.VIDEO in ModalityOffer.allowed(b.modality)
    ]
    closures = _off(time_off, practitioner_id=None)

    def room_column(room: Room) -> Column[Entry]:
        bands = closures + _held(held, room_id=room.pk)
        return Column(str(room.pk), room.name, the_day, _room_note(room), in_person, bands)

    def video_column() -> Column[Entry]:
        return Column(VIDEO_COLUMN, "Video", the_day, "no room", video, closures)

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
        hours = [_block_minutes(b) for b in blocks if b.practitioner_id == practitioner.pk]
        columns[practitioner.pk] = Column(
            str(practitioner.pk),
            str(practitioner),
            the_day,
            hours_note(hours) or "not working",
            hours,
            _off(time_off, practitioner_id=practitioner.pk)
            + _held(held, practitioner_id=practitioner.pk),
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
            raise Http404("No such practitioner at this clinic.")
        practitioners.append(practitioner)
    if practitioner is None and practitioners:
        practitioner = practitioners[0]
    return practitioners, practitioner


@desk_view
def week(request: HttpRequest) -> HttpResponse:
    """GET ?location=&practitioner=&date=YYYY-MM-DD&cancelled=show|hide"""
    desk, user = request.desk, request.user
    location, zone = desk.location, desk.location.zone
    asked = _asked(request)
    days = _week_of(asked.day)
    monday, sunday = days[0], days[-1]
    start, end = _window(days, zone)
    practitioners, practitioner = _whose_week(request, asked)

    grid, visits = None, []
    counts = {"booked": 0, "cancelled": 0}
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
            hours = [_block_minutes(b) for b in blocks if b.applies_on(day_)]
            columns[day_] = Column(
                day_.isoformat(),
                f"{day_:%a} {day_.day} {day_:%b}",
                day_,
                hours_note(hours) or "not working",
                hours,
                _off(time_off, practitioner_id=practitioner.pk)
                + _held(held, practitioner_id=practitioner.pk),
            )
        shown = _shown(appointments, asked)
        visits = _visits(shown, zone=zone, detail=_where)
        for appointment, visit in zip(shown, visits, strict=True):
            starts = appointment.start.astimezone(zone).date()
            columns[max(starts, monday)].visits.append(visit)
        grid = lay_out(list(columns.values()), zone=zone, now=asked.now)

    def link(**changes: Any) -> str:
        params = {
            "location": location.pk,
            "practitioner": practitioner.pk if practitioner else None,
            "date": asked.day.isoformat(),
            "cancelled": "hide" if asked.hide_cancelled else None,
        }
        return _link("desk:week", **{**params, **changes})

    one_week = datetime.timedelta(days=7)
    context = {
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
        "links": {
            "previous": link(date=(monday - one_week).isoformat())
            if monday - one_week >= EARLIEST_DAY
            else None,
            "next": link(date=(monday + one_week).isoformat())
            if monday + one_week <= LATEST_DAY
            else None,
            "today": link(date=asked.today.isoformat()),
            "cancelled": link(cancelled="show" if asked.hide_cancelled else "hide"),
            "day": _link("desk:day", location=location.pk, date=asked.day.isoformat()),
        },
    }
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


urlpatterns = [
    path("day/", day, name="day"),
    path("day/sync/", day_sync, name="day-sync"),
    path("calendar/refresh/", refresh_from_pms, name="calendar-refresh"),
    path("week/", week, name="week"),
    path("week/sync/", week_sync, name="week-sync"),
]
