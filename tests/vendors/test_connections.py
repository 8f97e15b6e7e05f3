import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from scheduling.models import Appointment
from tests.factories import (
    AppointmentFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    ExternalIdFactory,
    LocationFactory,
    VendorConnectionFactory,
)
from vendors import delivery
from vendors.models import ConnectionStore, DeliveryState, VendorConnection
from vendors.selectors import sync_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"secrets": {"api_key": "vk_live_123"}}, "secrets", "Give environment variable NAMES"),
        ({"options": ["tenant"]}, "options", "Options are a JSON object"),
        ({"read_timeout": 30}, "__all__", "The read timeout must be between 0 and 10 seconds."),
        ({"connect_timeout": 5}, "__all__", "The connect timeout must be between 0 and 3"),
    ],
)
def test_connection_validation_says_what_to_fix(changes, field, message):
    connection = VendorConnectionFactory.build(clinic=VendorConnectionFactory().clinic, **changes)

    with pytest.raises(ValidationError) as error:
        connection.full_clean()

    assert message in " ".join(error.value.message_dict[field])


def test_one_active_connection_per_clinic_or_location():
    first = VendorConnectionFactory()
    location = LocationFactory(clinic=first.clinic)
    VendorConnectionFactory(clinic=first.clinic, location=location)

    duplicate = VendorConnectionFactory.build(clinic=first.clinic)
    with pytest.raises(ValidationError):
        duplicate.full_clean()
    VendorConnectionFactory(clinic=first.clinic, active=False)


def test_stored_tokens_are_encrypted():
    connection = VendorConnectionFactory()
    store = ConnectionStore(connection)
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)

    store.put("refresh_token", "rt-very-secret", expires)

    raw = VendorConnection.objects.get(pk=connection.pk).stored_secrets
    assert "rt-very-secret" not in raw
    assert ConnectionStore(connection).get("refresh_token") == ("rt-very-secret", expires)


def test_one_adapter_reads_the_stored_token_once(django_assert_num_queries):
    connection = VendorConnectionFactory()
    ConnectionStore(connection).put("token", "t-1", None)
    store = ConnectionStore(connection)

    with django_assert_num_queries(1):
        assert [store.get("token") for _ in range(3)] == [("t-1", None)] * 3


def test_a_write_keeps_what_another_process_stored_meanwhile():
    connection = VendorConnectionFactory()
    ours = ConnectionStore(connection)
    assert ours.get("token") is None  # read before the other process wrote
    ConnectionStore(connection).put("refresh_token", "rt-2", None)

    ours.put("token", "t-1", None)

    fresh = ConnectionStore(connection)
    assert fresh.get("refresh_token") == ("rt-2", None)
    assert fresh.get("token") == ours.get("token") == ("t-1", None)


def test_connection_for_prefers_the_location_then_the_clinic():
    appointment = AppointmentFactory()
    assert delivery.connection_for(appointment) is None
    clinic_wide = VendorConnectionFactory(clinic=appointment.clinic)
    assert delivery.connection_for(appointment) == clinic_wide
    own = VendorConnectionFactory(clinic=appointment.clinic, location=appointment.location)
    assert delivery.connection_for(appointment) == own


def test_sync_reads_not_required_without_a_pms_and_the_latest_delivery_otherwise(
    django_assert_num_queries,
):
    local = AppointmentFactory()
    booked = DeliveryFactory(state=DeliveryState.SYNCED, external_id="A-1", vendor_status="OK",
                             attempts=1)  # fmt: skip
    DeliveryFactory(appointment=booked.appointment, connection=booked.connection,
                    operation="cancel", state=DeliveryState.QUEUED)  # fmt: skip
    appointments = list(Appointment.objects.order_by("pk"))

    with django_assert_num_queries(1):
        sync = sync_of(appointments)

    assert sync[local.pk].state == "not_required"
    assert sync[booked.appointment_id].as_dict() == {
        "state": "queued",
        "vendor": "treatsvet",
        "external_id": "A-1",
        "vendor_status": None,
        "last_error": None,
        "attempts": 0,
    }


@pytest.mark.parametrize("count", [1, 2, 3, 5, 17])
def test_sync_reads_each_of_any_number_of_appointments(count, django_assert_num_queries):
    """One statement: on PostgreSQL the IDs are one array; elsewhere one statement is written
    per power of two and the list padded with its last ID."""
    deliveries = [
        DeliveryFactory(state=DeliveryState.SYNCED, external_id=f"A-{n}", attempts=n)
        for n in range(count - count // 2)
    ]
    locals_ = [AppointmentFactory() for _ in range(count // 2)]
    appointments = [d.appointment for d in deliveries] + locals_

    with django_assert_num_queries(1):
        sync = sync_of(reversed(appointments))

    assert list(sync) == [a.pk for a in reversed(appointments)]
    for n, sent in enumerate(deliveries):
        assert sync[sent.appointment_id].as_dict() == {
            "state": "synced", "vendor": sent.connection.vendor, "external_id": f"A-{n}",
            "vendor_status": None, "last_error": None, "attempts": n,
        }  # fmt: skip
    assert all(sync[a.pk].state == "not_required" for a in locals_)
    assert sync_of([]) == {}


@pytest.mark.parametrize(
    "factory",
    [VendorConnectionFactory, ExternalIdFactory, DeliveryFactory, DeliveryAttemptFactory],
)
def test_vendor_admin_pages_render(superuser_client, factory):
    obj = factory()
    model = obj._meta.model
    if model.__name__ == "DeliveryAttempt":
        obj = obj.delivery
        model = obj._meta.model
    info = model._meta.app_label, model._meta.model_name

    for url in (
        reverse("admin:{}_{}_changelist".format(*info)),
        reverse("admin:{}_{}_change".format(*info), args=[obj.pk]),
    ):
        assert superuser_client.get(url).status_code == 200


def test_retry_now_queues_a_delivery_that_needs_attention(superuser_client):
    stuck = DeliveryFactory(state=DeliveryState.NEEDS_ATTENTION, attempts=8,
                            last_error="Gave up")  # fmt: skip

    superuser_client.post(
        reverse("admin:vendors_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [stuck.pk]},
    )

    stuck.refresh_from_db()
    assert stuck.state == DeliveryState.QUEUED
    assert stuck.attempts == 7  # one more attempt is allowed
