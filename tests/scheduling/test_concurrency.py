"""Many desks booking the same slot at once, each on its own database connection."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from scheduling.errors import SlotConflict
from scheduling.models import Appointment, Weekday
from tests.factories import PatientFactory, PractitionerFactory, WorkingHoursFactory

DESKS = 50

pytestmark = pytest.mark.django_db(transaction=True)


def race(attempts) -> Counter:
    barrier = threading.Barrier(len(attempts))

    def run(attempt) -> str:
        try:
            barrier.wait()
            attempt()
            return "booked"
        except SlotConflict as conflict:
            return "conflict" if conflict.alternatives else "conflict without alternatives"
        except Exception as error:
            return f"{type(error).__name__}: {error}"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return Counter(pool.map(run, attempts))


def test_fifty_desks_one_practitioner_slot(world):
    patients = [PatientFactory(clinic=world.clinic) for _ in range(DESKS)]

    outcomes = race([lambda p=p: world.book("10:00", patient=p) for p in patients])

    assert outcomes == {"booked": 1, "conflict": DESKS - 1}
    assert Appointment.objects.filter(practitioner=world.practitioner).count() == 1


def test_fifty_desks_one_room_different_practitioners(world):
    room = world.rooms[0]
    desks = []
    for _ in range(DESKS):
        practitioner = PractitionerFactory(clinic=world.clinic)
        WorkingHoursFactory(
            practitioner=practitioner, location=world.location, weekday=Weekday.MONDAY
        )
        patient = PatientFactory(clinic=world.clinic)
        desks.append(
            lambda pr=practitioner, pa=patient: world.book(
                "10:00", practitioner=pr, patient=pa, room=room
            )
        )

    outcomes = race(desks)

    assert outcomes == {"booked": 1, "conflict": DESKS - 1}
    assert Appointment.objects.filter(room=room).count() == 1
