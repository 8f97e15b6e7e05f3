"""NexHealth webhooks end to end: the simulator signs and sends, the desk settles the delivery;
the same signed delivery sent again inside the five-minute window (a replay) is acknowledged
with 200 and nothing is done (vendors/webhooks.py says why 2xx)."""

import datetime
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import VendorConnectionFactory, map_ids
from tests.vendors.adapters.test_nexhealth import Receiver
from tests.vendors.allow import allow
from vendors.delivery import deliver
from vendors.models import Delivery, DeliveryState, WebhookReceipt
from vendors.simulators import nexhealth

pytestmark = pytest.mark.django_db
State = DeliveryState
HOOK_SECRET = "hook-secret"


@pytest.fixture
def receiver():
    """Stands between the simulator and the desk: keeps each webhook exactly as sent."""
    receiver = Receiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture
def nexhealth_world(world, monkeypatch, settings, receiver):
    monkeypatch.setenv("PMS_NX_KEY", nexhealth.API_KEY)
    monkeypatch.setenv("PMS_NX_HOOK", HOOK_SECRET)
    simulator = nexhealth.NexHealthSimulator(
        webhook_url=receiver.url, webhook_secret=HOOK_SECRET, webhook_delay=None
    ).start()
    allow(settings, simulator.url)
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="nexhealth",
        base_url=simulator.url,
        secrets={"api_key": "PMS_NX_KEY", "webhook_secret": "PMS_NX_HOOK"},
        options={"subdomain": nexhealth.SUBDOMAIN},
    )
    map_ids(
        connection,
        [
            (world.practitioner, "201"),
            (world.location, "101"),
            (world.rooms[0], "301"),
            (world.patients[0], "501"),
        ],
    )
    yield world, connection, simulator
    simulator.stop()


def forward(client, connection, headers: dict[str, str], body: bytes):
    """POST one webhook to the desk exactly as the simulator sent it."""
    wanted = {k.lower(): v for k, v in headers.items() if k.lower() in ("timestamp", "signature")}
    return client.post(
        reverse("vendors:nexhealth-webhook", args=[connection.pk]),
        data=body,
        content_type="application/json",
        headers=wanted,
    )


def test_a_replayed_webhook_is_acknowledged_and_changes_nothing(client, nexhealth_world,
                                                                receiver):  # fmt: skip
    world, connection, simulator = nexhealth_world
    appointment = world.book("09:00")
    accepted = deliver(Delivery.objects.get(appointment=appointment).pk)
    assert accepted.state == State.ACCEPTED, accepted.last_error
    simulator.run_insertions()
    simulator.wait_for_webhooks(1)
    ((headers, body),) = receiver.received

    first = forward(client, connection, headers, body)
    settled = Delivery.objects.get(pk=accepted.pk)
    # Awaiting its confirmation again (say, a manager's retry): a replay must not settle it.
    Delivery.objects.filter(pk=accepted.pk).update(state=State.ACCEPTED, settled_at=None)
    replayed = forward(client, connection, headers, body)

    assert (first.status_code, first.json()) == (200, {"received": True, "settled": True})
    assert settled.state == State.SYNCED
    assert (replayed.status_code, replayed.json()) == (
        200,
        {"received": True, "settled": False, "duplicate": True},
    )
    assert Delivery.objects.get(pk=accepted.pk).state == State.ACCEPTED
    assert WebhookReceipt.objects.filter(connection=connection).count() == 1


def event(external_id: str, stamp: datetime.datetime) -> tuple[dict[str, str], bytes]:
    body = json.dumps(
        {
            "resource_type": "Appointment",
            "event_name": "appointment_insertion.complete",
            "data": {"appointment": {"id": int(external_id), "foreign_id": f"EHR-{external_id}"}},
        }
    ).encode()
    timestamp = stamp.isoformat()
    return {"timestamp": timestamp, "signature": nexhealth.sign(HOOK_SECRET, timestamp, body)}, body


@pytest.fixture
def accepted(world, monkeypatch):
    monkeypatch.setenv("PMS_NX_HOOK", HOOK_SECRET)
    connection = VendorConnectionFactory(clinic=world.clinic, vendor="nexhealth",
                                         secrets={"webhook_secret": "PMS_NX_HOOK"})  # fmt: skip
    return Delivery.objects.create(
        appointment=world.book("09:00"), connection=connection, operation="book",
        state=State.ACCEPTED, external_id="777",
    )  # fmt: skip


def test_the_vendors_own_retry_is_signed_anew_and_is_not_a_replay(client, accepted):
    now = timezone.now()
    later = now + datetime.timedelta(seconds=30)
    first = forward(client, accepted.connection, *event("777", now))
    retried = forward(client, accepted.connection, *event("777", later))

    assert first.json() == {"received": True, "settled": True}
    assert retried.json() == {"received": True, "settled": False}  # already settled: no-op
    assert WebhookReceipt.objects.count() == 2


def test_receipts_older_than_the_window_are_pruned(client, accepted):
    now = timezone.now()
    old = WebhookReceipt.objects.create(connection=accepted.connection, signature="a" * 64,
                                        sent_at=now - datetime.timedelta(minutes=6))  # fmt: skip
    recent = WebhookReceipt.objects.create(connection=accepted.connection, signature="b" * 64,
                                           sent_at=now - datetime.timedelta(minutes=4))  # fmt: skip

    headers, body = event("777", now)

    forward(client, accepted.connection, headers, body)

    assert set(WebhookReceipt.objects.values_list("signature", flat=True)) == {
        recent.signature,
        headers["signature"],
    }
    assert old.signature == "a" * 64


def test_a_replay_after_the_window_is_refused_by_its_timestamp(client, accepted):
    stale = timezone.now() - datetime.timedelta(minutes=6)

    answer = forward(client, accepted.connection, *event("777", stale))

    assert answer.status_code == 403
    assert not WebhookReceipt.objects.exists()


@pytest.mark.parametrize("variable", ["SECRET_KEY", "DATABASE_URL", "NX_HOOK"])
def test_a_webhook_secret_in_a_refused_variable_is_never_used(client, world, monkeypatch,
                                                              variable):  # fmt: skip
    monkeypatch.setenv(variable, HOOK_SECRET)
    connection = VendorConnectionFactory(clinic=world.clinic, vendor="nexhealth",
                                         secrets={"webhook_secret": variable})  # fmt: skip

    answer = forward(client, connection, *event("777", timezone.now()))

    assert (answer.status_code, answer.json()) == (
        403,
        {"error": "This connection has no webhook secret set."},
    )
