"""Time booked directly in NexHealth reaches the desk by its signed webhook, before any pull:
the simulator pushes `appointment_created`/`appointment_updated` to our endpoint over a real
socket (live server), and the grid changes at once."""

import pytest
import requests

from scheduling.models import Appointment, AppointmentStatus
from tests.vendors.allow import world_at_nexhealth
from tests.worlds import World
from vendors.models import PmsBusy

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("slot_answers")]


@pytest.fixture
def pushing(world: World, live_server, monkeypatch, settings):
    with world_at_nexhealth(world, live_server, monkeypatch, settings) as (simulator, _):
        yield simulator


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
