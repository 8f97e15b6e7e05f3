"""Time booked directly in NexHealth reaches the desk by its signed webhook, before any pull:
the simulator pushes `appointment_created`/`appointment_updated` to our endpoint over a real
socket (live server), and the grid changes at once."""

import pytest
import requests
from django.urls import reverse

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import VendorConnectionFactory, map_ids
from tests.vendors.allow import allow
from tests.worlds import World
from vendors.models import PmsBusy
from vendors.simulators import nexhealth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pushing(world: World, live_server, monkeypatch, settings):
    monkeypatch.setenv("PMS_NX_KEY", nexhealth.API_KEY)
    monkeypatch.setenv("PMS_NX_HOOK", "hook-secret")
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="nexhealth",
        secrets={"api_key": "PMS_NX_KEY", "webhook_secret": "PMS_NX_HOOK"},
        options={"subdomain": nexhealth.SUBDOMAIN},
        base_url="http://127.0.0.1:9",
    )
    simulator = nexhealth.NexHealthSimulator(
        webhook_url=live_server.url + reverse("vendors:nexhealth-webhook", args=[connection.pk]),
        webhook_secret="hook-secret",
        webhook_delay=None,
    ).start()
    allow(settings, simulator.url)
    connection.base_url = simulator.url
    connection.save()
    map_ids(connection, [(world.practitioner, "201"), (world.location, "101"),
                         (world.rooms[0], "301"), (world.patients[0], "501")])  # fmt: skip
    yield simulator
    simulator.stop()


def direct(simulator, **fields) -> str:
    answer = requests.post(f"{simulator.url}/__simulator/direct", json=fields, timeout=2)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


def test_a_direct_booking_leaves_the_grid_by_webhook_and_its_cancellation_frees_it(world, pushing):
    assert "10:00" in world.local_starts(world.slots())
    booked = direct(pushing, action="book", practitioner="201", location="101", room="301",
                    patient="501", start="2027-01-04T10:00:00-03:00", minutes=30)  # fmt: skip
    pushing.wait_for_webhooks(1)

    busy = PmsBusy.objects.get()
    assert (busy.start, busy.external_id, busy.patient) == (world.at("10:00"), booked,
                                                            world.patients[0])  # fmt: skip
    assert "10:00" not in world.local_starts(world.slots())

    direct(pushing, action="cancel", id=booked)
    pushing.wait_for_webhooks(2)

    assert not PmsBusy.objects.exists()
    assert "10:00" in world.local_starts(world.slots())
    assert not Appointment.objects.exclude(status=AppointmentStatus.CANCELLED).exists()
