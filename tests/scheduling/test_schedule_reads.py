"""The slot engine's hand-written reads return what the ORM's equivalents return, on the
same rows, on SQLite and PostgreSQL alike."""

import datetime

import pytest
from django.db.models import Q

from scheduling import booking, schedule_reads
from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    ModalityOffer,
    Room,
    TimeOff,
    Weekday,
    WorkingHours,
)
from tests.factories import (
    PmsBusyFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY

pytestmark = pytest.mark.django_db
UTC = datetime.UTC
WEEK = datetime.timedelta(days=7)


@pytest.fixture
def busy_world(world):
    """Hours with and without validity periods, an inactive colleague, time off, a closure,
    an inactive room, appointments active, cancelled and overflow, time held in the PMS,
    another practitioner's visit and PMS hold in the rooms."""
    colleague = PractitionerFactory(clinic=world.clinic, active=False)
    WorkingHoursFactory(
        practitioner=world.practitioner, location=world.location, weekday=Weekday.TUESDAY,
        start_time=datetime.time(14, 30), end_time=datetime.time(18),
        valid_from=MONDAY, valid_until=MONDAY + WEEK, modality=ModalityOffer.BOTH,
    )  # fmt: skip
    WorkingHoursFactory(
        practitioner=world.practitioner, location=world.location, weekday=Weekday.FRIDAY,
        valid_until=MONDAY - WEEK,
    )  # fmt: skip
    WorkingHoursFactory(practitioner=colleague, location=world.location)
    RoomFactory(location=world.location, name="Chair 9", active=False)
    kept = world.book("09:00")
    world.book("09:30", room=world.rooms[1])
    cancelled = world.book("11:00", patient=world.patients[1])
    booking.cancel_appointment(cancelled, reason="flu")
    world.book("09:00", room=world.overflow_room, patient=world.patients[2])
    TimeOffFactory(practitioner=world.practitioner, start=world.at("10:00"), end=world.at("11:30"))
    TimeOffFactory(
        practitioner=None, location=world.location, start=world.at("11:45"), end=world.at("12:00")
    )
    TimeOffFactory(practitioner=world.practitioner, start=world.at("09:00", MONDAY + 3 * WEEK))
    connection = VendorConnectionFactory(clinic=world.clinic)
    PmsBusyFactory(connection=connection, practitioner=world.practitioner,
                   start=world.at("12:15"), end=world.at("12:45"))  # fmt: skip
    PmsBusyFactory(connection=connection, practitioner=None, room=world.rooms[0],
                   start=world.at("09:45"), end=world.at("10:00"))  # fmt: skip
    # Another practitioner's visit and PMS hold in this location's rooms.
    other = PractitionerFactory(clinic=world.clinic)
    WorkingHoursFactory(practitioner=other, location=world.location, weekday=Weekday.MONDAY)
    world.book("10:30", practitioner=other, room=world.rooms[1], patient=world.patients[1])
    PmsBusyFactory(connection=connection, practitioner=other, room=world.rooms[0],
                   start=world.at("13:00"), end=world.at("13:30"))  # fmt: skip
    world.kept = kept
    world.colleague = colleague
    return world


def test_working_hours(busy_world):
    world = busy_world
    ids = [world.practitioner.pk, world.colleague.pk]
    first, last = MONDAY, MONDAY + datetime.timedelta(days=13)

    found = schedule_reads.working_hours(world.location.pk, ids, first, last)

    expected = WorkingHours.objects.filter(
        location=world.location, practitioner_id__in=ids, practitioner__active=True
    ).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=last),
        Q(valid_until__isnull=True) | Q(valid_until__gte=first),
    )
    assert sorted(found) == sorted(
        expected.values_list("practitioner_id", *WorkingHours.BLOCK_FIELDS)
    )
    assert len(found) == 2  # the colleague is inactive; Friday's block ended before


def test_time_off(busy_world):
    world = busy_world
    start, end = world.at("00:00"), world.at("00:00", MONDAY + datetime.timedelta(days=1))

    found = schedule_reads.time_off(world.location.pk, [world.practitioner.pk], start, end)

    expected = TimeOff.objects.filter(
        Q(practitioner_id__in=[world.practitioner.pk]) | Q(location=world.location),
        end__gt=start,
        start__lt=end,
    ).values_list("practitioner_id", "start", "end")
    assert sorted(found, key=str) == sorted(expected, key=str)
    assert len(found) == 2


def test_rooms(busy_world):
    world = busy_world

    found = schedule_reads.rooms(world.location.pk)

    expected = (
        Room.objects.filter(location=world.location, active=True)
        .order_by("is_overflow", "name", "pk")
        .values_list("pk", "is_overflow", "location__clinic__allows_overflow_booking")
    )
    assert found == list(expected)
    assert [room_id for room_id, *_ in found] == [*(r.pk for r in world.rooms),
                                                   world.overflow_room.pk]  # fmt: skip


@pytest.mark.parametrize("excluding", [False, True])
def test_busy_spans(busy_world, excluding):
    world = busy_world
    rooms = [room.pk for room in world.rooms]
    after, before = world.at("00:00"), world.at("00:00", MONDAY + datetime.timedelta(days=1))
    exclude = world.kept.pk if excluding else None

    found = schedule_reads.busy_spans(
        [world.practitioner.pk], rooms, after=after, ends_before=before, starts_before=before,
        exclude_appointment_id=exclude,
    )  # fmt: skip

    ours = Appointment.objects.filter(
        Q(practitioner_id=world.practitioner.pk) | Q(room_id__in=rooms),
        status__in=ACTIVE_STATUSES,
        overflow=False,
        busy_until__gt=after,
        busy_until__lt=before,
        busy_from__lt=before,
    ).exclude(pk=exclude)
    from vendors.models import PmsBusy

    theirs = PmsBusy.objects.filter(
        Q(practitioner_id=world.practitioner.pk) | Q(room_id__in=rooms),
        end__gt=after,
        end__lt=before,
        start__lt=before,
    )
    expected = [
        *ours.values_list("practitioner_id", "room_id", "busy_from", "busy_until"),
        *theirs.values_list("practitioner_id", "room_id", "start", "end"),
    ]
    assert sorted(found, key=str) == sorted(expected, key=str)
    assert len(found) == (5 if excluding else 6)
    assert all(start.tzinfo is not None and start.utcoffset() == datetime.timedelta(0)
               for _, _, start, _ in found)  # fmt: skip


@pytest.mark.parametrize("excluding", [False, True])
@pytest.mark.parametrize("colleague", [False, True])
def test_one_statement_reads_what_the_four_read(busy_world, excluding, colleague):
    world = busy_world
    ids = [world.practitioner.pk, *([world.colleague.pk] if colleague else [])]
    regular = [room.pk for room in world.rooms]  # the active regular rooms
    days = {"first_day": MONDAY - WEEK, "last_day": MONDAY + WEEK}
    window = {"window_start": world.at("00:00"), "window_end": world.at("00:00", MONDAY + WEEK)}
    spans = {"after": world.at("00:00"), "ends_before": world.at("00:00", MONDAY + 2 * WEEK),
             "starts_before": world.at("00:00", MONDAY + 2 * WEEK)}  # fmt: skip
    exclude = world.kept.pk if excluding else None

    found = schedule_reads.schedule(
        world.location.pk, ids, **days, **window, **spans, exclude_appointment_id=exclude
    )

    assert sorted(found.working_hours) == sorted(
        schedule_reads.working_hours(world.location.pk, ids, days["first_day"], days["last_day"])
    )
    assert sorted(found.time_off, key=str) == sorted(
        schedule_reads.time_off(world.location.pk, ids, *window.values()), key=str
    )
    assert found.rooms == schedule_reads.rooms(world.location.pk)  # in the same order
    assert sorted(found.busy_spans, key=str) == sorted(
        schedule_reads.busy_spans(ids, regular, **spans, exclude_appointment_id=exclude), key=str
    )
    assert (len(found.working_hours), len(found.time_off), len(found.rooms)) == (3, 2, 3)
    assert len(found.busy_spans) == (5 if excluding else 6)
    assert all(
        isinstance(start, datetime.datetime) and start.utcoffset() == datetime.timedelta(0)
        for _, _, start, _ in found.busy_spans
    )


def test_the_one_statement_is_one_query(busy_world, django_assert_num_queries):
    world = busy_world
    start, end = world.at("00:00"), world.at("00:00", MONDAY + WEEK)

    with django_assert_num_queries(1):
        schedule_reads.schedule(
            world.location.pk, [world.practitioner.pk], first_day=MONDAY, last_day=MONDAY + WEEK,
            window_start=start, window_end=end, after=start, ends_before=end, starts_before=end,
        )  # fmt: skip


def test_the_statements_are_written_once_per_shape(busy_world):
    world = busy_world
    schedule_reads._busy_spans_sql.cache_clear()
    args = {"after": world.at("00:00"), "ends_before": world.at("23:00"),
            "starts_before": world.at("23:00")}  # fmt: skip

    for _ in range(3):
        schedule_reads.busy_spans([world.practitioner.pk], [1, 2], **args)
    schedule_reads.busy_spans([world.practitioner.pk], [1, 2, 3], **args)

    assert schedule_reads._busy_spans_sql.cache_info().misses == 2
    assert schedule_reads._busy_spans_sql.cache_info().hits == 2
