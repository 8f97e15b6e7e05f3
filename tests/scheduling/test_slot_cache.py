"""Free-slot answers kept in the cache (scheduling.slot_cache): a repeated search reads no
table, and every booking, cancel, move, schedule change and PMS read a search depends on
shows in the next search, exactly as if nothing had been kept."""

import datetime
from collections.abc import Callable

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from scheduling import booking, slot_cache
from scheduling.models import Appointment, Weekday, WorkingHours
from tests.factories import (
    AppointmentFactory,
    LocationFactory,
    PractitionerFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY, NOW, World

NEXT_MONDAY = MONDAY + datetime.timedelta(days=7)


@pytest.fixture(autouse=True)
def _answers_kept(settings):
    settings.AVAILABILITY_CACHE_SECONDS = 300


def found(world: World, **options) -> list[tuple[str, tuple[int, ...]]]:
    """Each slot a search finds: its local start and its rooms."""
    slots = world.slots(**options)
    return list(zip(world.local_starts(slots), (slot.room_ids for slot in slots), strict=True))


def searched(world: World, **options) -> tuple[list[tuple[str, tuple[int, ...]]], int]:
    """What a search finds, and how many SQL statements it ran."""
    with CaptureQueriesContext(connection) as queries:
        slots = found(world, **options)
    return slots, len(queries)


def computed(world: World, **options) -> list[tuple[str, tuple[int, ...]]]:
    """What the same search finds with nothing kept."""
    with override_settings(AVAILABILITY_CACHE_SECONDS=0):
        return found(world, **options)


def warmed(world: World, **options) -> list[tuple[str, tuple[int, ...]]]:
    """Search until the answer comes from the cache (the second search), and return it."""
    first, _ = searched(world, **options)
    again, queries = searched(world, **options)
    assert (again, queries) == (first, 0)
    return first


def test_a_repeated_search_reads_no_table_and_finds_the_same(world):
    starts, queries = searched(world)
    assert queries == 1
    assert warmed(world) == starts == computed(world)


def test_answers_are_not_kept_when_turned_off(world, settings):
    settings.AVAILABILITY_CACHE_SECONDS = 0
    searched(world)
    assert searched(world)[1] == 1


def test_an_answer_kept_earlier_leaves_out_the_starts_that_have_passed(world, settings):
    settings.BOOKING_MIN_NOTICE_MINUTES = 0
    warmed(world, now=NOW)
    later = world.at("10:10")  # what was kept was computed days before Monday
    starts, queries = searched(world, now=later)
    assert queries == 0
    assert starts == computed(world, now=later) and starts[0][0] == "10:15"


def test_an_answer_kept_by_a_clock_ahead_of_this_one_is_not_used(world):
    warmed(world, now=world.at("10:10"))
    starts, queries = searched(world, now=NOW)
    assert queries == 1 and starts == computed(world, now=NOW)


def others_fill_the_rooms(world: World) -> None:
    """Both chairs at 10:00, by two others: the world's practitioner has no room then."""
    for room, patient in zip(world.rooms, world.patients[1:], strict=True):
        other = PractitionerFactory(clinic=world.clinic)
        other.locations.add(world.location)
        AppointmentFactory(
            clinic=world.clinic, location=world.location, practitioner=other, room=room,
            patient=patient, appointment_type=world.appointment_type, start=world.at("10:00"),
        )  # fmt: skip


def booked_at_another_location(world: World) -> None:
    elsewhere = LocationFactory(clinic=world.clinic, time_zone=world.location.time_zone)
    world.practitioner.locations.add(elsewhere)
    AppointmentFactory(
        clinic=world.clinic, location=elsewhere, room=None, practitioner=world.practitioner,
        patient=world.patients[1], appointment_type=world.appointment_type,
        start=world.at("10:00"), modality="video",
    )  # fmt: skip


def cancelled(world: World) -> None:
    booking.cancel_appointment(Appointment.objects.get(), reason="Patient is travelling")


def rescheduled_a_week_later(world: World) -> None:
    booking.reschedule_appointment(
        Appointment.objects.get(), start=world.at("11:00", NEXT_MONDAY), now=NOW
    )


def rescheduled_within_the_day(world: World) -> None:
    booking.reschedule_appointment(Appointment.objects.get(), start=world.at("11:00"), now=NOW)


@pytest.mark.parametrize(
    ("before", "change"),
    [
        (None, lambda world: world.book("10:00")),
        (None, others_fill_the_rooms),
        (None, booked_at_another_location),
        ("10:00", cancelled),
        ("10:00", rescheduled_a_week_later),
        ("10:00", rescheduled_within_the_day),
    ],
    ids=["booked", "rooms-filled-by-another", "booked-elsewhere", "cancelled",
         "moved-to-another-week", "moved-within-the-day"],
)  # fmt: skip
def test_a_change_to_the_appointments_shows_in_the_next_search(
    world, before: str | None, change: Callable[[World], None]
):
    if before:
        world.book(before)
    kept = warmed(world)
    change(world)
    starts, _ = searched(world)
    assert starts == computed(world)
    assert starts != kept


def working_hours_shortened(world: World) -> None:
    hours = WorkingHours.objects.get()
    hours.end_time = datetime.time(11)
    hours.save()


def room_closed(world: World) -> None:
    for room in world.rooms:
        room.active = False
        room.save()


def overflow_no_longer_allowed(world: World) -> None:
    world.clinic.allows_overflow_booking = False
    world.clinic.save()


@pytest.mark.parametrize(
    "change",
    [
        working_hours_shortened,
        lambda world: WorkingHours.objects.get().delete(),
        lambda world: WorkingHoursFactory(
            practitioner=world.practitioner, location=world.location, weekday=Weekday.MONDAY,
            start_time=datetime.time(14), end_time=datetime.time(15),
        ),
        lambda world: TimeOffFactory(
            practitioner=world.practitioner, start=world.at("10:00"), end=world.at("11:00")
        ),
        lambda world: TimeOffFactory(
            closure=True, location=world.location, start=world.at("09:00"), end=world.at("10:00")
        ),
        room_closed,
        overflow_no_longer_allowed,
    ],
    ids=["hours-shortened", "hours-removed", "hours-added", "time-off", "closure",
         "rooms-closed", "overflow-turned-off"],
)  # fmt: skip
def test_a_change_to_the_schedule_shows_in_the_next_search(world, change):
    world.book("10:00")  # the practitioner is busy at 10: only the overflow room is left then
    kept = warmed(world, include_overflow=True)
    change(world)
    starts, _ = searched(world, include_overflow=True)
    assert starts == computed(world, include_overflow=True)
    assert starts != kept


def test_an_answer_kept_under_a_token_the_cache_lost_is_not_used_again(world):
    """A bulk write announces nothing; had its token not been lost either, the kept answer
    would be right to stay. Lost, it must not: a token that comes back is a new one."""
    kept = warmed(world)
    cache.delete(f"{slot_cache.PREFIX}:p:{world.practitioner.pk}:{world.at('10:00'):%Y%m%d}")
    Appointment.objects.bulk_create(
        [
            AppointmentFactory.build(
                clinic=world.clinic, location=world.location, room=world.rooms[0],
                practitioner=world.practitioner, patient=world.patients[0],
                appointment_type=world.appointment_type, start=world.at("10:00"),
            )
        ]
    )  # fmt: skip
    starts, queries = searched(world)
    assert queries == 1
    assert starts == computed(world) != kept


@pytest.mark.shared_cache
def test_a_shared_cache_keeps_answers_and_drops_them_on_a_booking(world, shared_cache):
    first, _ = searched(world)
    again, queries = searched(world)
    assert again == first
    if shared_cache == "redis":
        assert queries == 0
    world.book("10:00")
    assert searched(world)[0] == computed(world) != first


@pytest.mark.django_db(transaction=True)
def test_a_change_renews_its_tokens_again_once_it_commits(world):
    """A search between the write and the commit reads what was there before, and may keep
    it under the tokens the write set: the commit must set them again."""
    token = f"{slot_cache.PREFIX}:p:{world.practitioner.pk}:{world.at('10:00'):%Y%m%d}"
    searched(world)
    before = cache.get(token)
    with transaction.atomic():
        world.book("10:00")
        written = cache.get(token)
    assert before != written != cache.get(token) is not None
