import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling import availability
from scheduling.errors import RuleViolation
from scheduling.models import Modality, ModalityOffer, Weekday
from tests.factories import (
    AppointmentTypeFactory,
    PractitionerFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)
from tests.scheduling.conftest import MONDAY, NOW

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

TUESDAY = MONDAY + datetime.timedelta(days=1)
EVERY_15_FOR_30 = [f"{h:02d}:{m:02d}" for h in (9, 10, 11) for m in (0, 15, 30, 45)][:-1]


def test_slots_step_by_the_interval_inside_the_block(world):
    slots = world.slots()

    assert world.local_starts(slots) == EVERY_15_FOR_30
    assert all(slot.end - slot.start == datetime.timedelta(minutes=30) for slot in slots)
    assert all(slot.room_ids == tuple(r.pk for r in world.rooms) for slot in slots)
    assert all(slot.modalities == {Modality.IN_PERSON} for slot in slots)
    assert all(slot.practitioner_id == world.practitioner.pk for slot in slots)


def test_no_slots_on_days_without_working_hours(world):
    assert world.slots(TUESDAY) == []


@pytest.mark.parametrize(
    ("duration", "first", "last", "count"),
    [(15, "09:00", "11:45", 12), (45, "09:00", "11:15", 10), (180, "09:00", "09:00", 1)],
)
def test_explicit_duration(world, duration, first, last, count):
    starts = world.local_starts(world.slots(duration_minutes=duration))

    assert (starts[0], starts[-1], len(starts)) == (first, last, count)


@pytest.mark.parametrize("duration", [20, 50, 181])
def test_a_duration_that_is_not_a_multiple_of_the_interval_gets_nothing(world, duration):
    assert world.slots(duration_minutes=duration) == []


def test_an_appointment_blocks_its_practitioner_but_adjacent_slots_stay(world):
    world.book("10:00")

    starts = world.local_starts(world.slots())

    assert "09:30" in starts and "10:30" in starts
    assert not {"09:45", "10:00", "10:15"} & set(starts)


def test_buffers_widen_the_busy_time(world):
    cleaning = AppointmentTypeFactory(
        clinic=world.clinic, default_duration_minutes=30, buffer_before_minutes=15,
        buffer_after_minutes=15,
    )  # fmt: skip
    world.book("10:00", appointment_type=cleaning)

    plain = world.local_starts(world.slots())
    buffered = world.local_starts(world.slots(appointment_type=cleaning))

    assert "09:30" not in plain and "10:45" in plain and "10:30" not in plain
    assert "09:00" in buffered and "09:15" not in buffered
    assert "10:45" not in buffered and "11:00" in buffered


def test_cancelled_appointments_do_not_block(world):
    from scheduling import booking

    appointment = world.book("10:00")
    booking.cancel_appointment(appointment, reason="Patient is travelling")

    assert world.local_starts(world.slots()) == EVERY_15_FOR_30


def test_time_off_and_closures_remove_slots(world):
    TimeOffFactory(practitioner=world.practitioner, start=world.at("09:00"), end=world.at("10:00"))
    TimeOffFactory(
        closure=True, location=world.location, start=world.at("11:00"), end=world.at("12:00")
    )

    assert world.local_starts(world.slots()) == ["10:00", "10:15", "10:30"]


def test_closure_of_another_location_does_not_matter(world):
    TimeOffFactory(closure=True, location__clinic=world.clinic, start=world.at("09:00"),
                   end=world.at("12:00"))  # fmt: skip

    assert len(world.slots()) == len(EVERY_15_FOR_30)


@pytest.mark.parametrize(
    ("valid_from", "valid_until", "offered"),
    [
        (None, None, True),
        (MONDAY, MONDAY, True),
        (MONDAY + datetime.timedelta(days=1), None, False),
        (None, MONDAY - datetime.timedelta(days=1), False),
    ],
)
def test_validity_period(world, valid_from, valid_until, offered):
    world.practitioner.working_hours.update(valid_from=valid_from, valid_until=valid_until)

    assert bool(world.slots()) is offered


def test_busy_rooms_are_left_out_and_a_full_house_leaves_no_in_person_slot(world):
    other = PractitionerFactory(clinic=world.clinic)
    WorkingHoursFactory(practitioner=other, location=world.location, weekday=Weekday.MONDAY)
    world.book("09:00", room=world.rooms[0])
    world.book("09:00", practitioner=other, room=world.rooms[1], patient=world.patients[1])

    slots = world.slots(practitioner_ids=[other.pk])
    by_start = {f"{s.start.astimezone(world.location.zone):%H:%M}": s for s in slots}

    assert "09:00" not in by_start  # other is busy himself
    assert world.local_starts(world.slots())[0] == "09:30"  # both chairs taken until 09:30


def test_video_slots_need_no_room(world):
    world.practitioner.working_hours.update(modality=ModalityOffer.BOTH)
    for room, patient in zip(world.rooms, world.patients, strict=False):
        other = PractitionerFactory(clinic=world.clinic)
        WorkingHoursFactory(practitioner=other, location=world.location, weekday=Weekday.MONDAY)
        world.book("09:00", practitioner=other, room=room, patient=patient, duration_minutes=180)
    anything = AppointmentTypeFactory(clinic=world.clinic, modalities=ModalityOffer.BOTH)

    slots = world.slots(appointment_type=anything)

    assert slots and all(slot.modalities == {Modality.VIDEO} for slot in slots)
    assert all(slot.room_ids == () for slot in slots)
    assert world.slots(appointment_type=anything, modality=Modality.IN_PERSON) == []


@pytest.mark.parametrize(
    ("block", "kind", "requested", "offered"),
    [
        (ModalityOffer.IN_PERSON, ModalityOffer.BOTH, None, {Modality.IN_PERSON}),
        (ModalityOffer.VIDEO, ModalityOffer.BOTH, None, {Modality.VIDEO}),
        (ModalityOffer.BOTH, ModalityOffer.BOTH, None, {Modality.IN_PERSON, Modality.VIDEO}),
        (ModalityOffer.BOTH, ModalityOffer.BOTH, Modality.VIDEO, {Modality.VIDEO}),
        (ModalityOffer.BOTH, ModalityOffer.VIDEO, None, {Modality.VIDEO}),
        (ModalityOffer.IN_PERSON, ModalityOffer.VIDEO, None, None),
        (ModalityOffer.VIDEO, ModalityOffer.IN_PERSON, None, None),
    ],
)
def test_modalities_are_what_both_the_hours_and_the_type_allow(
    world, block, kind, requested, offered
):
    world.practitioner.working_hours.update(modality=block)
    appointment_type = AppointmentTypeFactory(clinic=world.clinic, modalities=kind)

    slots = world.slots(appointment_type=appointment_type, modality=requested)

    assert ({slots[0].modalities} if slots else {None}) == {frozenset(offered) if offered else None}


def test_overflow_rooms_only_when_asked(world):
    overflow = world.overflow_room.pk

    assert all(overflow not in slot.room_ids for slot in world.slots())
    assert all(slot.room_ids[-1] == overflow for slot in world.slots(include_overflow=True))


def test_overflow_room_offers_a_busy_practitioner_when_the_clinic_allows(world):
    world.book("10:00")

    with_overflow = world.slots(include_overflow=True)
    at_ten = [slot for slot in with_overflow if world.local_starts([slot]) == ["10:00"]]

    assert at_ten and at_ten[0].room_ids == (world.overflow_room.pk,)
    world.clinic.allows_overflow_booking = False
    world.clinic.save()
    assert "10:00" not in world.local_starts(world.slots(include_overflow=True))


def test_never_in_the_past_and_minimum_notice(world, settings):
    nine_twenty = world.at("09:20")

    assert world.local_starts(world.slots(now=nine_twenty))[0] == "09:30"
    settings.BOOKING_MIN_NOTICE_MINUTES = 60
    assert world.local_starts(world.slots(now=nine_twenty))[0] == "10:30"


def test_specialty_gathers_every_practitioner_working_there(world):
    specialty = world.practitioner.specialties.get()
    colleague = PractitionerFactory(clinic=world.clinic)
    colleague.specialties.add(specialty)
    WorkingHoursFactory(practitioner=colleague, location=world.location, weekday=Weekday.MONDAY,
                        start_time=datetime.time(14), end_time=datetime.time(15))  # fmt: skip
    PractitionerFactory(clinic=world.clinic).specialties.add(specialty)  # works nowhere

    ids = availability.practitioners_for(world.location, specialty=specialty)
    slots = world.slots(practitioner_ids=ids)

    assert sorted(ids) == sorted([world.practitioner.pk, colleague.pk])
    assert {slot.practitioner_id for slot in slots} == set(ids)
    assert slots == sorted(slots, key=lambda slot: slot.start)


def test_range_is_limited_to_31_days(world):
    world.slots(MONDAY, MONDAY + datetime.timedelta(days=30))

    with pytest.raises(RuleViolation) as error:
        world.slots(MONDAY, MONDAY + datetime.timedelta(days=31))
    assert error.value.messages == {"date_to": ["Ask for at most 31 days at a time."]}


@pytest.mark.parametrize("days", [1, 14, 31])
@pytest.mark.parametrize("appointments", [0, 12])
def test_query_count_is_fixed_whatever_the_range_and_the_bookings(
    world, days, appointments, django_assert_num_queries
):
    for week in range(appointments // 6):
        for hhmm in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30"):
            world.book(hhmm, MONDAY + datetime.timedelta(weeks=week), patient=world.patients[0])

    # One statement: hours, time off, rooms, busy spans (ours and the PMS's).
    with django_assert_num_queries(1):
        world.slots(MONDAY, MONDAY + datetime.timedelta(days=days - 1))


def test_next_available_skips_full_days_and_crosses_chunks(world):
    for week in range(3):
        day = MONDAY + datetime.timedelta(weeks=week)
        for hhmm in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30"):
            world.book(hhmm, day, patient=world.patients[week % 3])

    slots = availability.next_available(
        location=world.location,
        practitioner_ids=[world.practitioner.pk],
        demand=availability.Demand.build(appointment_type=world.appointment_type),
        date_from=MONDAY,
        count=3,
        now=NOW,
    )

    fourth_monday = MONDAY + datetime.timedelta(weeks=3)
    assert [slot.start for slot in slots] == [
        world.at(hhmm, fourth_monday) for hhmm in ("09:00", "09:15", "09:30")
    ]


def test_next_available_stops_at_the_horizon(world):
    world.practitioner.working_hours.update(valid_from=MONDAY + datetime.timedelta(days=95))

    slots = availability.next_available(
        location=world.location,
        practitioner_ids=[world.practitioner.pk],
        demand=availability.Demand.build(appointment_type=world.appointment_type),
        date_from=MONDAY,
        now=NOW,
    )

    assert slots == []


def test_next_available_query_count_per_chunk(world):
    with CaptureQueriesContext(connection) as queries:
        availability.next_available(
            location=world.location,
            practitioner_ids=[world.practitioner.pk],
            demand=availability.Demand.build(appointment_type=world.appointment_type),
            date_from=MONDAY,
            now=NOW,
        )

    assert len(queries) == 1  # found in the first 14-day chunk


def test_demand_needs_a_type_or_a_duration():
    with pytest.raises(RuleViolation) as error:
        availability.Demand.build()
    assert error.value.messages == {
        "appointment_type": ["Choose an appointment type or a duration."]
    }
