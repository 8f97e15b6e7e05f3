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
    LocationFactory,
    PmsBusyFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY
from vendors.models import CalendarPull, VendorConnection

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


def read(world, ids, *, first=MONDAY, last=MONDAY, start=None, end=None, exclude=None):
    """The one statement, for the practitioners `ids`: working hours for the days first..last,
    time off and busy spans for start..end (default: MONDAY)."""
    start = start or world.at("00:00")
    end = end or world.at("00:00", MONDAY + datetime.timedelta(days=1))
    return schedule_reads.schedule(
        world.location.pk, ids, first_day=first, last_day=last, window_start=start,
        window_end=end, after=start, ends_before=end, starts_before=end,
        exclude_appointment_id=exclude,
    )  # fmt: skip


def test_working_hours(busy_world):
    world = busy_world
    ids = [world.practitioner.pk, world.colleague.pk]
    first, last = MONDAY, MONDAY + datetime.timedelta(days=13)

    found = read(world, ids, first=first, last=last).working_hours

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
    assert sorted(read(world, [world.practitioner.pk]).time_off, key=str) == sorted(found, key=str)

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
    rooms = [room.pk for room in world.rooms]  # the location's active regular rooms
    after, before = world.at("00:00"), world.at("00:00", MONDAY + datetime.timedelta(days=1))
    exclude = world.kept.pk if excluding else None

    found = read(world, [world.practitioner.pk], exclude=exclude).busy_spans

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


def test_the_rooms_come_in_their_order_with_everything_else(busy_world):
    world = busy_world

    found = read(world, [world.practitioner.pk, world.colleague.pk])

    assert found.rooms == schedule_reads.rooms(world.location.pk)
    assert len(found.working_hours) == 2  # not the inactive colleague's, nor Friday's (ended)


def test_no_practitioner_reads_the_rooms_alone(busy_world, django_assert_num_queries):
    with django_assert_num_queries(1):
        found = read(busy_world, [])

    assert found == schedule_reads.ScheduleRows(
        [], [], schedule_reads.rooms(busy_world.location.pk), []
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
    schedule_reads._schedule_sql.cache_clear()
    one, two = [world.practitioner.pk], [world.practitioner.pk, world.colleague.pk]

    for _ in range(3):
        read(world, one)
    read(world, two)

    assert schedule_reads._schedule_sql.cache_info().misses == 2
    assert schedule_reads._schedule_sql.cache_info().hits == 2


# --- The PMS calendar's last read, with the rest --------------------------------------------


def read_with_calendar(world, ids):
    start, end = world.at("00:00"), world.at("00:00", MONDAY + datetime.timedelta(days=1))
    return schedule_reads.schedule(
        world.location.pk, ids, first_day=MONDAY, last_day=MONDAY, window_start=start,
        window_end=end, after=start, ends_before=end, starts_before=end,
        pms_calendar_of_clinic=world.clinic.pk,
    )  # fmt: skip


def pulled(connection, read_at, error=""):
    CalendarPull.objects.create(connection=connection, read_at=read_at, error=error)
    return (connection.vendor, read_at, error)


@pytest.mark.parametrize("practitioners", [1, 0], ids=["with the schedule", "alone"])
def test_the_location_s_own_connection_is_read_before_the_clinic_s(
    busy_world, django_assert_num_queries, practitioners
):
    world = busy_world
    clinic_wide = VendorConnection.objects.get(clinic=world.clinic)
    pulled(clinic_wide, world.at("08:00"))
    own = VendorConnectionFactory(clinic=world.clinic, location=world.location, vendor="dentalink")
    expected = pulled(own, world.at("08:30"), error="HTTP 503")
    ids = [world.practitioner.pk][:practitioners]

    with django_assert_num_queries(1 + (not practitioners)):
        found = read_with_calendar(world, ids)

    assert (
        found.pms_calendar
        == expected
        == schedule_reads.pms_calendar(world.clinic.pk, world.location.pk)
    )
    assert found.working_hours == read(world, ids).working_hours


@pytest.mark.parametrize(
    ("state", "expected"),
    [("another location's", None), ("never read", ("treatsvet", None, "")),
     ("inactive", None)],
)  # fmt: skip
def test_the_pms_calendar_without_a_read_or_a_connection(busy_world, state, expected):
    world = busy_world
    connection = VendorConnection.objects.get(clinic=world.clinic)
    if state == "another location's":
        other = LocationFactory(clinic=world.clinic)
        VendorConnection.objects.filter(pk=connection.pk).update(location=other)
    elif state == "inactive":
        VendorConnection.objects.filter(pk=connection.pk).update(active=False)

    found = read_with_calendar(world, [world.practitioner.pk])

    assert found.pms_calendar == expected
    assert read(world, [world.practitioner.pk]).pms_calendar is None  # not asked for
