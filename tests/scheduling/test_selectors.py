"""scheduling/selectors.py: the reads every surface shares."""

import pytest

from scheduling import availability
from scheduling.models import WorkingHours
from scheduling.selectors import practitioner_list, practitioners_at
from tests.factories import (
    ClinicMembershipFactory,
    LocationFactory,
    PractitionerFactory,
    SpecialtyFactory,
    UserFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("how", "works_there"),
    [
        ("working hours there", True),
        ("assigned to the location", True),
        ("both", True),
        ("working hours elsewhere", False),
        ("inactive, with working hours there", False),
    ],
)
def test_who_works_at_a_location(world, how, works_there):
    elsewhere = LocationFactory(clinic=world.clinic, name="Ñuñoa")
    practitioner = PractitionerFactory(clinic=world.clinic, active="inactive" not in how)
    if "hours there" in how or how == "both":
        WorkingHoursFactory(practitioner=practitioner, location=world.location)
    if how == "working hours elsewhere":
        WorkingHoursFactory(practitioner=practitioner, location=elsewhere)
    if how in ("assigned to the location", "both"):
        practitioner.locations.add(world.location)

    assert (practitioner in practitioners_at(world.location)) is works_there


def test_practitioners_of_another_clinic_never_work_here(world):
    stranger = PractitionerFactory()
    stranger.locations.add(world.location)  # a bad row: the clinic still decides

    assert stranger not in practitioners_at(world.location)


def test_an_assigned_practitioner_without_hours_is_shown_alike_everywhere(world):
    """Linked to the location but no working hours there: listed by the API and the slot
    engine's specialty search alike (with no free times, since they have no hours)."""
    specialty = SpecialtyFactory(clinic=world.clinic)
    assigned = PractitionerFactory(clinic=world.clinic, family_name="Aravena")
    assigned.specialties.add(specialty)
    assigned.locations.add(world.location)
    assert not WorkingHours.objects.filter(practitioner=assigned).exists()
    user = UserFactory()
    ClinicMembershipFactory(user=user, clinic=world.clinic)

    assert assigned in practitioners_at(world.location)
    assert assigned in practitioner_list(user=user, location=world.location)
    assert availability.practitioners_for(world.location, specialty=specialty) == [assigned.pk]


def test_practitioners_at_is_one_query(world, django_assert_num_queries):
    with django_assert_num_queries(1):
        list(practitioners_at(world.location))
