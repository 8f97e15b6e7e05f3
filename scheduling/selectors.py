"""Reads shared by the desk, the API, the admin and the vendors (HackSoft-style selectors).

Every function that takes a `user` returns only records of that user's clinics
(`access.scope`); the others take an already-scoped record (a location, a clinic).
"""

from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from scheduling import access
from scheduling.models import (
    AppointmentType,
    Clinic,
    Location,
    Patient,
    Practitioner,
    Room,
    Specialty,
    WorkingHours,
)
from scheduling.patients import search_patients

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
