"""Reads shared by the desk, the API, the admin and the vendors (HackSoft-style selectors).

Every function that takes a `user` returns only records of that user's clinics
(`access.scope`); the others take an already-scoped record (a location, a clinic).
"""

import datetime
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import Exists, F, Model, OuterRef, Prefetch, Q, QuerySet

from scheduling import access
from scheduling.localtime import EARLIEST_DAY, LATEST_DAY, to_utc
from scheduling.models import (
    MAX_DURATION_MINUTES,
    Appointment,
    AppointmentType,
    Clinic,
    Location,
    Patient,
    Practitioner,
    Room,
    Specialty,
    TimeOff,
    WorkingHours,
)
from scheduling.patients import search_patients
from vendors.models import PmsBusy

SEARCH_LIMIT = 100  # a search is for finding someone: refine it rather than page far


def practitioners_at(location: Location) -> QuerySet[Practitioner]:
    """Active practitioners of the location's clinic who work there: assigned to the
    location, or with working hours there. The one definition the desk, the calendars, the
    slot engine and the API use."""
    works_there = WorkingHours.objects.filter(practitioner=OuterRef("pk"), location=location)
    assigned = Practitioner.locations.through.objects.filter(
        practitioner=OuterRef("pk"), location=location
    )
    return Practitioner.objects.filter(
        Exists(works_there) | Exists(assigned), clinic_id=location.clinic_id, active=True
    ).order_by("family_name", "given_name", "pk")


def visible_clinics(user: Any) -> QuerySet[Clinic]:
    return access.scope(Clinic.objects.all(), user).order_by("name", "pk")


def visible_locations(user: Any) -> QuerySet[Location]:
    return access.scope(Location.objects.filter(active=True), user)


def visible_practitioners(user: Any) -> QuerySet[Practitioner]:
    return access.scope(Practitioner.objects.filter(active=True), user)


def visible_specialties(user: Any) -> QuerySet[Specialty]:
    return access.scope(Specialty.objects.all(), user)


def visible_appointment_types(user: Any) -> QuerySet[AppointmentType]:
    return access.scope(AppointmentType.objects.filter(active=True), user)


def location_list(*, user: Any) -> QuerySet[Location]:
    return visible_locations(user).order_by("clinic__name", "clinic_id", "name", "pk")


def practitioner_list(
    *, user: Any, location: Location | None = None, specialty: Specialty | None = None
) -> QuerySet[Practitioner]:
    """Active practitioners; at a location, those who work there (`practitioners_at`)."""
    practitioners = visible_practitioners(user)
    if location is not None:
        practitioners = practitioners.filter(pk__in=practitioners_at(location).values("pk"))
    if specialty is not None:
        practitioners = practitioners.filter(
            Exists(
                Practitioner.specialties.through.objects.filter(
                    practitioner=OuterRef("pk"), specialty=specialty
                )
            )
        )
    return practitioners.order_by("family_name", "given_name", "pk").prefetch_related(
        Prefetch("specialties", queryset=Specialty.objects.only("pk").order_by("pk")),
        Prefetch("locations", queryset=Location.objects.filter(active=True).only("pk")),
        Prefetch(
            "working_hours",
            queryset=WorkingHours.objects.filter(location__active=True)
            .only("pk", "practitioner_id", "location_id")
            .order_by("pk"),
        ),
    )


def practitioner_location_ids(practitioner: Practitioner) -> list[int]:
    """The active locations where a practitioner works, by the rule of `practitioners_at`
    (reads the prefetched `locations` and `working_hours` of `practitioner_list`)."""
    assigned = {location.pk for location in practitioner.locations.all()}
    worked = {hours.location_id for hours in practitioner.working_hours.all()}
    return sorted(assigned | worked)


def room_list(*, user: Any, location: Location | None = None) -> QuerySet[Room]:
    rooms = access.scope(Room.objects.filter(active=True, location__active=True), user)
    if location is not None:
        rooms = rooms.filter(location=location)
    return rooms.order_by("location_id", "is_overflow", "name", "pk")


def appointment_type_list(
    *, user: Any, location: Location | None = None
) -> QuerySet[AppointmentType]:
    """Appointment types belong to a clinic: at a location, those of its clinic."""
    types = visible_appointment_types(user)
    if location is not None:
        types = types.filter(clinic_id=location.clinic_id)
    return types.order_by("clinic__name", "clinic_id", "name", "pk")


def patient_list(*, clinic: Clinic, search: str = "") -> QuerySet[Patient]:
    """The clinic's patients; with `search`, those matching every word (at most 100)."""
    if search.strip():
        return search_patients(clinic, search, limit=SEARCH_LIMIT)
    return Patient.objects.filter(clinic=clinic).order_by("family_name", "given_name", "pk")


# --- calendars ---
# The day calendar's and the week's loaders (scheduling/views/calendar.py): one query each,
# scoped to the user's clinics. The calendars' rooms are `room_list`.

# What the calendars show of an appointment and its related records (nothing else is loaded).
CALENDAR_FIELDS = (
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


def calendar_working_hours(
    *,
    user: Any,
    location: Location,
    days: Sequence[datetime.date],
    practitioner: Practitioner | None = None,
) -> list[WorkingHours]:
    """The weekly blocks at `location` of its clinic's active practitioners (or of one) that
    may apply on one of `days`, with their practitioner; `WorkingHours.applies_on` tells
    on which."""
    hours = WorkingHours.objects.filter(
        location=location,
        practitioner__clinic_id=location.clinic_id,
        practitioner__active=True,
        weekday__in=sorted({day.weekday() for day in days}),
    ).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=max(days)),
        Q(valid_until__isnull=True) | Q(valid_until__gte=min(days)),
    )
    if practitioner is not None:
        hours = hours.filter(practitioner=practitioner)
    return list(access.scope(hours, user).select_related("practitioner"))


def calendar_time_off(
    *,
    user: Any,
    location: Location,
    start: datetime.datetime,
    end: datetime.datetime,
    practitioner_ids: Iterable[int],
) -> list[TimeOff]:
    """Closures of `location` and time off of the given practitioners that overlap
    [start, end)."""
    rows = TimeOff.objects.filter(
        Q(location=location) | Q(practitioner_id__in=list(practitioner_ids)),
        start__lt=end,
        end__gt=start,
    )
    return list(access.scope(rows, user))


PATIENT_NAME_FIELDS = tuple(
    f"patient__{name}" for name in ("given_name", "preferred_name", "family_name", "species")
)


def calendar_held_in_pms(
    *,
    user: Any,
    location: Location,
    start: datetime.datetime,
    end: datetime.datetime,
    practitioner_ids: Iterable[int] = (),
    room_ids: Iterable[int] = (),
) -> list[PmsBusy]:
    """Time the PMS holds (booked or blocked there directly, DESIGN §8) for these
    practitioners or rooms, overlapping [start, end): read-only blocks on the calendars."""
    rows = (
        PmsBusy.objects.filter(
            Q(practitioner_id__in=list(practitioner_ids)) | Q(room_id__in=list(room_ids)),
            connection__clinic_id=location.clinic_id,
            start__lt=end,
            end__gt=start,
        )
        # Only what the band shows: the vendor's name and the mapped patient's name.
        .annotate(vendor=F("connection__vendor"))
        .select_related("patient")
        .only("practitioner_id", "room_id", "start", "end", "kind", *PATIENT_NAME_FIELDS)
        .order_by("start", "pk")
    )
    return list(access.scope(rows, user))


def calendar_appointments(
    *,
    user: Any,
    location: Location,
    start: datetime.datetime,
    end: datetime.datetime,
    practitioner: Practitioner | None = None,
) -> list[Appointment]:
    """The appointments at `location` (of one practitioner) that overlap [start, end),
    cancelled ones included, by start; only `CALENDAR_FIELDS` are loaded."""
    rows = Appointment.objects.filter(
        clinic_id=location.clinic_id,
        location=location,
        start__lt=end,
        end__gt=start,
        # lets the (location, start) index bound the scan: no visit lasts more than a day
        start__gte=start - datetime.timedelta(minutes=MAX_DURATION_MINUTES),
    )
    if practitioner is not None:
        rows = rows.filter(practitioner=practitioner)
    return list(
        access.scope(rows, user)
        .select_related("patient", "practitioner", "room", "appointment_type")
        .only(*CALENDAR_FIELDS)
        .order_by("start", "pk")
    )


def calendar_practitioners(*, user: Any, location: Location) -> list[Practitioner]:
    """The practitioners who work at `location` (`practitioners_at`), by name."""
    return list(access.scope(practitioners_at(location), user))


def clinic_practitioner(*, user: Any, clinic: Clinic, pk: int) -> Practitioner | None:
    """A practitioner of `clinic` by ID, active or not (a week someone asked for by name)."""
    return access.scope(Practitioner.objects.filter(clinic=clinic, pk=pk), user).first()


# --- REST API v1 ---
# What API references may name and the appointments list (scheduling/api/).


def visible_records(model: type[Model], user: Any) -> QuerySet:
    """Every record of `model` in the user's clinics, active or not: what a booking, a move
    or a list filter may name (the booking rules then refuse what cannot be booked)."""
    return access.scope(model._default_manager.all(), user)


def visible_appointments(user: Any) -> QuerySet[Appointment]:
    """The user's appointments, each with its location (whose zone renders its times)."""
    return access.scope(Appointment.objects.select_related("location"), user)


APPOINTMENT_ORDERINGS = {"start": ("start", "pk"), "-start": ("-start", "-pk")}


def appointment_list(
    *,
    user: Any,
    location: Location | None = None,
    practitioner: Practitioner | None = None,
    patient: Patient | None = None,
    status: Sequence[str] | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    ordering: str = "start",
) -> QuerySet[Appointment]:
    """The user's appointments matching every filter given, in a stable order
    (`APPOINTMENT_ORDERINGS`). `date_from` / `date_to` are local dates of each appointment's
    location, both included."""
    appointments = visible_appointments(user)
    for field, record in (
        ("location", location),
        ("practitioner", practitioner),
        ("patient", patient),
    ):
        if record is not None:
            appointments = appointments.filter(**{field: record})
    if status:
        appointments = appointments.filter(status__in=status)
    if date_from is not None or date_to is not None:
        if location is not None:
            zones: Iterable[str] = [location.time_zone]
        else:
            zones = (
                access.scope(Location.objects.all(), user)
                .order_by()
                .values_list("time_zone", flat=True)
                .distinct()
            )
        appointments = appointments.filter(_starting_on(zones, date_from, date_to))
    return appointments.order_by(*APPOINTMENT_ORDERINGS[ordering])


def _starting_on(
    zones: Iterable[str], date_from: datetime.date | None, date_to: datetime.date | None
) -> Q:
    """Starts on the local dates date_from..date_to of each location's own zone. Dates
    beyond localtime's EARLIEST_DAY..LATEST_DAY bound nothing (and keep the arithmetic away
    from years 1 and 9999)."""
    condition = Q(pk__in=[])
    for name in zones:
        zone = zoneinfo.ZoneInfo(name)
        within = Q(location__time_zone=name)
        if date_from is not None and date_from > EARLIEST_DAY:
            within &= Q(start__gte=to_utc(date_from, datetime.time(0), zone))
        if date_to is not None and date_to < LATEST_DAY:
            next_day = date_to + datetime.timedelta(days=1)
            within &= Q(start__lt=to_utc(next_day, datetime.time(0), zone))
        condition |= within
    return condition
