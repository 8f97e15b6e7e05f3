"""What the load test books into: the demo clinics (three of them deliver to a PMS
simulator), more patients, one API user and token per client, and the searches the clients
make (a location, a practitioner who works there and an appointment type they can book)."""

from __future__ import annotations

import dataclasses
import datetime
import random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from scheduling import availability, demo
from scheduling.api.authentication import issue_token
from scheduling.errors import RuleViolation
from scheduling.models import Clinic, ClinicMembership, Patient
from scheduling.selectors import appointment_type_list, location_list, practitioner_list

PATIENTS_PER_CLINIC = 2_000
# A vendor call that has not answered after this long counts as a timeout (the simulators
# then still act on it: the delivery must look the booking up before sending it again).
VENDOR_READ_TIMEOUT = 3.0


@dataclasses.dataclass(frozen=True)
class Search:
    location: int
    practitioner: int
    appointment_type: int
    patients: tuple[int, ...]


@dataclasses.dataclass
class World:
    tokens: list[str]
    searches: list[Search]
    first_day: datetime.date
    days: int


def prepare(*, clients: int, days: int = 60) -> World:
    """Everything the clients need, made in the database the stack uses."""
    with transaction.atomic():
        _more_patients()
        _map_new_animals()
        _tighter_vendor_timeouts()
        users = _load_users(clients)
        tokens = [issue_token(user=user)[1] for user in users]
    first_day = timezone.localdate() + datetime.timedelta(days=1)
    return World(
        tokens=tokens, searches=_searches(users[0], first_day), first_day=first_day, days=days
    )


def _more_patients() -> None:
    for clinic in Clinic.objects.all():
        have = Patient.objects.filter(clinic=clinic).count()
        rng = random.Random(f"load-{clinic.slug}")
        make = demo.demo_animal if clinic.is_veterinary else demo.demo_person
        Patient.objects.bulk_create(
            make(clinic, rng, 100_000 + index) for index in range(have, PATIENTS_PER_CLINIC)
        )


def _map_new_animals() -> None:
    from vendors.models import VendorConnection

    for connection in VendorConnection.objects.filter(vendor="treatsvet").select_related("clinic"):
        demo.map_animals_at_treatsvet(connection)


def _tighter_vendor_timeouts() -> None:
    from vendors.models import VendorConnection

    VendorConnection.objects.update(read_timeout=VENDOR_READ_TIMEOUT)


def _load_users(count: int) -> list:
    User = get_user_model()
    users = []
    clinics = list(Clinic.objects.all())
    for index in range(1, count + 1):
        user, _ = User.objects.get_or_create(username=f"load-client-{index:02d}")
        ClinicMembership.objects.bulk_create(
            [ClinicMembership(user=user, clinic=clinic) for clinic in clinics],
            ignore_conflicts=True,
        )
        users.append(user)
    return users


def _searches(user, day: datetime.date) -> list[Search]:
    """Every (location, practitioner, type) the desk offers that has hours on the days
    searched; each with the patients of its clinic."""
    searches = []
    for location in location_list(user=user).select_related("clinic"):
        patients = tuple(
            Patient.objects.filter(clinic=location.clinic_id).values_list("pk", flat=True)
        )
        for practitioner in practitioner_list(user=user, location=location):
            for kind in appointment_type_list(user=user, location=location):
                try:
                    free = availability.find_free_slots(
                        location=location,
                        practitioner=practitioner,
                        appointment_type=kind,
                        date_from=day,
                        date_to=day + datetime.timedelta(days=6),
                    )
                except RuleViolation:
                    continue
                if free:
                    searches.append(Search(location.pk, practitioner.pk, kind.pk, patients))
    return searches
