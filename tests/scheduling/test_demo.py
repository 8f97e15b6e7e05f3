import itertools
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpRequest
from django.urls import reverse

from scheduling import access
from scheduling.demo import DEMO_CLINICS, seed_demo
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
from scheduling.national_ids import check_digit_rut, format_rut
from vendors.delivery import _refs
from vendors.delivery import connection_for as delivery_connection
from vendors.models import Delivery, ExternalId, VendorConnection

pytestmark = pytest.mark.django_db


def table_counts() -> dict[str, int]:
    models = [Clinic, Practitioner, Room, Patient, WorkingHours, Appointment]
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture(autouse=True)
def nexhealth_key(monkeypatch):
    """seed_demo imports Downtown Dental from a NexHealth simulator with the demo's key."""
    from vendors.simulators.nexhealth import API_KEY

    monkeypatch.setenv("PMS_DEMO_NEXHEALTH_KEY", API_KEY)


def test_seed_demo_command_is_idempotent_and_prints_the_logins(client):
    first, second = StringIO(), StringIO()

    call_command("seed_demo", stdout=first)
    counts = table_counts()
    call_command("seed_demo", stdout=second)

    assert table_counts() == counts
    assert "(0 new)" in second.getvalue()
    for output in (first.getvalue(), second.getvalue()):
        assert "http://127.0.0.1:8000/desk/ as reception / demo-reception" in output
        assert "http://127.0.0.1:8000/admin/ as manager / demo-manager" in output
    assert client.login(request=HttpRequest(), username="manager", password="demo-manager")
    assert client.login(request=HttpRequest(), username="reception", password="demo-reception")


def test_the_demo_receptionist_lands_in_the_dentalink_clinic_in_spanish(client):
    seed_demo()
    client.post(reverse("login"), {"username": "reception", "password": "demo-reception"})

    page = client.get(reverse("desk:book"), HTTP_ACCEPT_LANGUAGE="en")

    assert page.context["desk"].clinic.slug == "sonrisa"
    assert page.context["desk"].clinic.connections.get().vendor == "dentalink"
    assert page["Content-Language"] == "es"


def test_seed_demo_builds_realistic_valid_clinics():
    summary = seed_demo()

    assert summary.clinics == len(DEMO_CLINICS) == 3
    assert {c.locations.first().time_zone for c in Clinic.objects.all()} == {
        "America/Santiago",
        "Europe/Paris",
        "America/New_York",  # Downtown Dental, imported from NexHealth
    }
    assert summary.locations == 5
    assert summary.practitioners >= 8
    assert summary.rooms >= 10
    assert Room.objects.filter(is_overflow=True).exists()
    assert summary.patients >= 200
    assert summary.appointments_next_week > 100
    modalities = set(WorkingHours.objects.values_list("modality", flat=True))
    assert {ModalityOffer.VIDEO, ModalityOffer.BOTH} <= modalities

    for model in [Patient, WorkingHours, Practitioner, Room, Appointment]:
        for obj in model.objects.all():
            obj.full_clean()
    animals = Patient.objects.filter(clinic__kind=ClinicKind.VETERINARY)
    assert animals.exists()
    assert not animals.filter(species="").exists()
    assert not animals.filter(guardian_name="").exists()

    for resource in ("practitioner", "room", "patient"):
        rows = sorted(
            Appointment.objects.filter(
                status__in=ACTIVE_STATUSES, **{f"{resource}__isnull": False}
            ).values_list(f"{resource}_id", "start", "end")
        )
        for (key_a, _, end_a), (key_b, start_b, _) in itertools.pairwise(rows):
            assert key_a != key_b or end_a <= start_b, resource

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

    reception = get_user_model().objects.get(username="reception")
    assert set(summary.users) == {"reception", "manager"}
    assert access.scope(Clinic.objects.all(), reception).count() == 4


def test_demo_clinics_book_into_the_simulators_and_one_stays_local():
    seed_demo()

    vendors = dict(VendorConnection.objects.values_list("clinic__slug", "vendor"))
    assert vendors == {"sonrisa": "dentalink", "lilas": "treatsvet", "downtown": "nexhealth"}
    connected = Appointment.objects.filter(clinic__slug__in=vendors)
    local = Appointment.objects.filter(clinic__slug="nunoa")
    assert local.exists()
    assert not Delivery.objects.filter(appointment__in=local).exists()
    assert Delivery.objects.filter(appointment__in=connected).count() == connected.count()
    for appointment in connected.select_related("clinic")[:20]:
        refs = _refs(delivery_connection(appointment), appointment)
        assert {"practitioner", "patient"} <= set(refs)


@pytest.mark.parametrize(
    ("number", "digit"),
    [(12345678, "5"), (11111111, "1"), (7654321, "6"), (10000013, "K"), (10000004, "0")],
)
def test_rut_check_digit(number, digit):
    assert check_digit_rut(number) == digit
    assert format_rut(number).endswith(f"-{digit}")


def test_one_demo_clinic_arrives_by_importing_it_from_its_pms():
    summary = seed_demo()

    downtown = Clinic.objects.get(slug="downtown")
    assert summary.imported[0].startswith("locations: 1 created")
    assert Patient.objects.filter(clinic=downtown).count() > 100
    assert WorkingHours.objects.filter(location__clinic=downtown).exists()
    assert ExternalId.objects.filter(connection__clinic=downtown).count() > 100

    again = seed_demo()

    counts = [line for line in again.imported if not line.startswith("skipped")]
    assert all(" 0 created, 0 linked, 0 updated," in line for line in counts)
