"""/healthz: what an operator's monitor polls every few seconds (scheduling/health.py).

503 only when this process cannot serve (database, migrations, shared cache); a slow PMS or a
delivery backlog says "degraded" with 200, since local booking goes on without the PMS.
"""

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.urls import reverse
from django.utils import timezone

from scheduling import health
from tests.factories import (
    AppointmentFactory,
    ClinicFactory,
    DeliveryFactory,
    PatientFactory,
    VendorConnectionFactory,
)
from vendors.models import CalendarPull, Delivery, DeliveryState, VendorConnection

BASE_DIR = Path(__file__).resolve().parents[2]
URL = "/healthz"
ALL_OK = {"database": "ok", "migrations": "ok", "cache": "ok"}
NO_DELIVERIES = {"backlog": 0, "oldest_queued_seconds": None, "needs_attention": 0, "late": False}


@pytest.fixture
def migrated():
    """The answer "every migration is applied" already kept by this process."""
    health.migrations.check()


def queued(age: datetime.timedelta, *, state: str = DeliveryState.QUEUED, **extra) -> Delivery:
    delivery = DeliveryFactory(state=state, **extra)
    Delivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - age)
    return delivery


def read(connection_, age: datetime.timedelta | None) -> None:
    CalendarPull.objects.create(
        connection=connection_, read_at=None if age is None else timezone.now() - age
    )


def calendars_just_read() -> None:
    for connection_ in VendorConnection.objects.all():
        read(connection_, datetime.timedelta(0))


@pytest.mark.django_db
def test_a_healthy_desk_answers_ok(client):
    response = client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "checks": ALL_OK,
        "deliveries": NO_DELIVERIES,
        "calendars": [],
    }
    assert reverse("healthz") == URL


@pytest.mark.django_db
def test_the_backlog_counts_deliveries_not_yet_at_their_pms(client, settings):
    settings.HEALTHZ_DELIVERY_WAIT_SECONDS = 300
    queued(datetime.timedelta(minutes=2))
    queued(datetime.timedelta(minutes=1), state=DeliveryState.SENDING)
    queued(datetime.timedelta(hours=3), state=DeliveryState.NEEDS_ATTENTION)
    queued(datetime.timedelta(hours=5), state=DeliveryState.SYNCED)
    queued(datetime.timedelta(hours=5), state=DeliveryState.ACCEPTED)
    calendars_just_read()

    body = client.get(URL).json()

    assert body["status"] == "ok"
    deliveries = body["deliveries"]
    assert (deliveries["backlog"], deliveries["needs_attention"]) == (2, 1)
    assert 120 <= deliveries["oldest_queued_seconds"] < 130
    assert deliveries["late"] is False


@pytest.mark.django_db
def test_a_delivery_waiting_too_long_degrades_but_keeps_the_desk_in_service(client, settings):
    settings.HEALTHZ_DELIVERY_WAIT_SECONDS = 300
    queued(datetime.timedelta(minutes=6))
    calendars_just_read()

    response = client.get(URL)

    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["deliveries"]["late"] is True


@pytest.mark.django_db
def test_each_active_connection_says_how_old_its_calendar_is(client, settings):
    settings.PMS_STALE_SECONDS, settings.PMS_PULL_SECONDS = 300, 30
    fresh = VendorConnectionFactory(vendor="dentalink")
    read(fresh, datetime.timedelta(seconds=20))
    old = VendorConnectionFactory(vendor="flextell")
    read(old, datetime.timedelta(minutes=10))
    never = VendorConnectionFactory(vendor="nexhealth")
    VendorConnectionFactory(vendor="meddbase", active=False)

    response = client.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    ages = {c["connection"]: c for c in body["calendars"]}
    assert set(ages) == {fresh.pk, old.pk, never.pk}
    assert 20 <= ages[fresh.pk]["last_read_seconds"] < 30
    assert (ages[fresh.pk]["vendor"], ages[fresh.pk]["stale"]) == ("dentalink", False)
    assert 600 <= ages[old.pk]["last_read_seconds"] < 610
    assert (ages[old.pk]["vendor"], ages[old.pk]["stale"]) == ("flextell", True)
    assert ages[never.pk] == {
        "connection": never.pk,
        "vendor": "nexhealth",
        "last_read_seconds": None,
        "stale": True,
    }


@pytest.mark.django_db
def test_every_calendar_fresh_and_no_backlog_is_ok(client):
    read(VendorConnectionFactory(vendor="dentalink"), datetime.timedelta(seconds=5))

    assert client.get(URL).json()["status"] == "ok"


@pytest.mark.django_db
def test_no_clinic_or_patient_name_is_in_the_answer(client):
    clinic = ClinicFactory(name="Clínica Zorzal Azul")
    patient = PatientFactory(clinic=clinic, given_name="Quetzal", family_name="Albatros")
    connection_ = VendorConnectionFactory(clinic=clinic, vendor="dentalink")
    read(connection_, datetime.timedelta(seconds=5))
    CalendarPull.objects.filter(pk=connection_.pk).update(error="Quetzal Albatros not found")
    queued(
        datetime.timedelta(minutes=1),
        appointment=AppointmentFactory(clinic=clinic, patient=patient),
        connection=connection_,
        last_error="Quetzal Albatros refused",
    )

    text = client.get(URL).content.decode()

    for word in ("Zorzal", "Quetzal", "Albatros", "refused", "not found"):
        assert word not in text


@pytest.mark.django_db
@pytest.mark.parametrize(("connections", "deliveries"), [(1, 1), (8, 30)])
def test_a_fixed_number_of_queries_whatever_there_is(
    client, migrated, django_assert_num_queries, connections, deliveries
):
    for n in range(connections):
        read(VendorConnectionFactory(vendor="dentalink"), datetime.timedelta(seconds=n))
    for _ in range(deliveries):
        queued(datetime.timedelta(seconds=30))

    # SELECT 1, the unsettled deliveries, the active connections with their calendars (the
    # tests' cache is in memory; the database cache adds one).
    with django_assert_num_queries(3):
        response = client.get(URL)

    assert response.status_code == 200


@pytest.mark.django_db
def test_the_migration_graph_is_loaded_only_until_everything_is_applied(
    client, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(health.migrations, "applied", False)
    with django_assert_max_num_queries(5) as first:
        assert client.get(URL).json()["checks"]["migrations"] == "ok"

    def no_graph(*args, **kwargs):
        raise AssertionError("the migration graph was loaded again")

    monkeypatch.setattr(health, "MigrationExecutor", no_graph)
    with django_assert_max_num_queries(len(first.captured_queries) - 1):
        assert client.get(URL).json()["checks"]["migrations"] == "ok"


@pytest.mark.django_db
def test_a_migration_not_applied_answers_503(client, monkeypatch):
    monkeypatch.setattr(health.migrations, "applied", False)
    latest = MigrationRecorder(connection).migration_qs.filter(app="vendors").latest("id")
    latest.delete()

    response = client.get(URL)

    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "ok", "migrations": "pending", "cache": "ok"},
    }
    assert health.migrations.applied is False  # asked again on the next call


@pytest.mark.django_db
def test_an_unreachable_cache_answers_503(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",  # the discard port: nothing listens
        }
    }

    response = client.get(URL)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "cache": "unreachable"}


@pytest.mark.dbless
def test_an_unreachable_database_answers_503():
    # A process of its own, whose database is a port nothing listens on.
    ask = (
        "import django, json; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(json.dumps([r.status_code, r.json()]))"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "scheduling.settings",
        "DEBUG": "true",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:9/nowhere",
    }

    result = subprocess.run(
        [sys.executable, "-c", ask],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    status, body = json.loads(result.stdout.splitlines()[-1])
    assert status == 503
    assert body == {
        "status": "error",
        "checks": {"database": "unreachable", "migrations": "unknown", "cache": "unreachable"},
    }


@pytest.mark.django_db
def test_healthz_is_never_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(URL).status_code == 200
    assert client.get("/health/").status_code == 200
    assert client.get(reverse("login")).status_code == 301


@pytest.mark.django_db
def test_head_answers_and_a_post_is_refused(client, migrated):
    assert client.head(URL).status_code == 200
    assert client.post(URL).status_code == 405
