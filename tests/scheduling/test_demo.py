import datetime
import itertools

import pytest
from django.core.management import call_command

from scheduling import access
from scheduling.demo import DEMO_CLINICS, format_rut, rut_check_digit, seed_demo
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    Clinic,
    ClinicKind,
    ModalityOffer,
    Patient,
    Practitioner,
    Room,
    WorkingHours,
)

pytestmark = pytest.mark.django_db

MONDAY = datetime.date(2026, 11, 16)


def table_counts() -> dict[str, int]:
    models = [Clinic, Practitioner, Room, Patient, WorkingHours, Appointment]
    return {model.__name__: model.objects.count() for model in models}


def test_seed_demo_is_idempotent():
    seed_demo(today=MONDAY)
    first = table_counts()
    summary = seed_demo(today=MONDAY)

    assert table_counts() == first
    assert summary.appointments_created == 0


def test_seed_demo_is_realistic():
    summary = seed_demo(today=MONDAY)

    assert summary.clinics == 2
    assert {c.locations.first().time_zone for c in Clinic.objects.all()} == {
        "America/Santiago",
        "Europe/Paris",
    }
    assert summary.practitioners >= 8
    assert summary.rooms >= 10
    assert Room.objects.filter(is_overflow=True).exists()
    assert summary.patients >= 200
    assert summary.appointments_next_week > 50
    modalities = set(WorkingHours.objects.values_list("modality", flat=True))
    assert {ModalityOffer.VIDEO, ModalityOffer.BOTH} <= modalities


def test_every_demo_record_passes_validation():
    seed_demo(today=MONDAY)

    for model in [Patient, WorkingHours, Practitioner, Room]:
        for obj in model.objects.all():
            obj.full_clean()
    vet_patients = Patient.objects.filter(clinic__kind=ClinicKind.VETERINARY)
    assert vet_patients.exists()
    assert not vet_patients.filter(species="").exists()
    assert not vet_patients.filter(guardian_name="").exists()


@pytest.mark.parametrize("resource", ["practitioner", "room", "patient"])
def test_demo_appointments_never_overlap(resource):
    seed_demo(today=MONDAY)

    appointments = sorted(
        Appointment.objects.filter(
            status__in=ACTIVE_STATUSES, **{f"{resource}__isnull": False}
        ).values_list(f"{resource}_id", "start", "end")
    )
    for (key_a, _, end_a), (key_b, start_b, _) in itertools.pairwise(appointments):
        if key_a == key_b:
            assert end_a <= start_b


def test_demo_appointments_lie_inside_working_hours():
    seed_demo(today=MONDAY)

    for appointment in Appointment.objects.select_related("location"):
        local_start = appointment.start.astimezone(appointment.location.zone)
        local_end = appointment.end.astimezone(appointment.location.zone)
        assert WorkingHours.objects.filter(
            practitioner=appointment.practitioner_id,
            location=appointment.location_id,
            weekday=local_start.weekday(),
            start_time__lte=local_start.time(),
            end_time__gte=local_end.time(),
        ).exists(), appointment


def test_seed_demo_command_prints_the_logins(client):
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", stdout=out)

    assert "reception / demo-reception" in out.getvalue()
    assert "manager / demo-manager" in out.getvalue()
    assert client.login(username="reception", password="demo-reception")
    assert client.login(username="manager", password="demo-manager")


def test_demo_users_belong_to_both_clinics():
    summary = seed_demo(today=MONDAY)
    from django.contrib.auth import get_user_model

    reception = get_user_model().objects.get(username="reception")
    assert set(summary.users) == {"reception", "manager"}
    assert access.scope(Clinic.objects.all(), reception).count() == len(DEMO_CLINICS)


@pytest.mark.parametrize(
    ("number", "digit"),
    [(12345678, "5"), (11111111, "1"), (7654321, "6"), (10000013, "K"), (10000004, "0")],
)
def test_rut_check_digit(number, digit):
    assert rut_check_digit(number) == digit
    assert format_rut(number).endswith(f"-{digit}")
