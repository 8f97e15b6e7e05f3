"""The booking's one-statement check (scheduling/claims.py) agrees with the ORM code it stands
for in scheduling/booking.py, on the same rows, on SQLite and PostgreSQL alike; and `_claim`
answers what the ORM path answers, in one statement when nothing is in the way."""

import dataclasses
import datetime
from collections.abc import Callable
from typing import Any

import pytest

from scheduling import booking, claims
from scheduling.models import ACTIVE_STATUSES, Appointment, Modality, Practitioner, Room
from tests.factories import (
    AppointmentTypeFactory,
    LocationFactory,
    PmsBusyFactory,
    PractitionerFactory,
    RoomFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.scheduling.conftest import NOW, World
from vendors.models import VendorConnection

pytestmark = pytest.mark.django_db
NOON = datetime.time(12)


@dataclasses.dataclass
class Scenario:
    """The booking to check (world.book's options at `hhmm`), the appointment it moves, what
    is in the way and the room it would get."""

    hhmm: str = "09:00"
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    exclude: Appointment | None = None
    video: bool = False
    busy: frozenset[str] = frozenset()
    free_room: str | None = None


def _colleague(world: World) -> Practitioner:
    colleague = PractitionerFactory(clinic=world.clinic)
    WorkingHoursFactory(practitioner=colleague, location=world.location, end_time=NOON)
    return colleague


def _held(world: World, hhmm: str, until: str, **holder: Any) -> None:
    connection = VendorConnection.objects.filter(clinic=world.clinic).first()
    connection = connection or VendorConnectionFactory(clinic=world.clinic)
    PmsBusyFactory(connection=connection, start=world.at(hhmm), end=world.at(until), **holder)


def free(world: World) -> Scenario:
    return Scenario(free_room="Chair 1")


def practitioner_busy_by_another_patient(world: World) -> Scenario:
    world.book("09:00", patient=world.patients[1])
    return Scenario(busy=frozenset({"practitioner"}), free_room="Chair 2")


def practitioner_busy_by_this_patient(world: World) -> Scenario:
    world.book("09:15")
    return Scenario(busy=frozenset({"practitioner", "patient"}), free_room="Chair 2")


def room_given_taken(world: World) -> Scenario:
    world.book("09:00", practitioner=_colleague(world), patient=world.patients[1])
    return Scenario(options={"room": world.rooms[0]}, busy=frozenset({"room"}))


def first_room_taken(world: World) -> Scenario:
    world.book("09:00", practitioner=_colleague(world), patient=world.patients[1])
    return Scenario(free_room="Chair 2")


def all_rooms_taken(world: World) -> Scenario:
    for index, room in enumerate(world.rooms):
        world.book(
            "09:00", practitioner=_colleague(world), room=room, patient=world.patients[1 + index]
        )
    return Scenario()


def the_only_free_rooms_are_inactive_or_overflow(world: World) -> Scenario:
    RoomFactory(location=world.location, name="Chair 0", active=False)
    RoomFactory(location=world.location, name="Chair 3", is_overflow=True)
    world.book("09:00", practitioner=_colleague(world), patient=world.patients[1])
    world.rooms[1].active = False
    world.rooms[1].save()
    return Scenario()


def a_room_of_another_location_is_not_picked(world: World) -> Scenario:
    RoomFactory(location=LocationFactory(clinic=world.clinic), name="Box 0")
    for index, room in enumerate(world.rooms):
        world.book(
            "09:00", practitioner=_colleague(world), room=room, patient=world.patients[1 + index]
        )
    return Scenario()


def rooms_by_name_then_id(world: World) -> Scenario:
    Room.objects.filter(pk=world.rooms[1].pk).update(name="Chair 0")
    return Scenario(free_room="Chair 0")


def cancelled_appointment(world: World) -> Scenario:
    cancelled = world.book("09:00", patient=world.patients[1])
    booking.cancel_appointment(cancelled, reason="flu")
    return Scenario(free_room="Chair 1")


def overflow_appointment_of_another_patient(world: World) -> Scenario:
    world.book("09:00", room=world.overflow_room, patient=world.patients[1])
    return Scenario(free_room="Chair 1")


def overflow_appointment_of_this_patient(world: World) -> Scenario:
    world.book("09:00", room=world.overflow_room)
    return Scenario(busy=frozenset({"patient"}), free_room="Chair 1")


def held_in_pms_for_the_practitioner(world: World) -> Scenario:
    _held(world, "09:15", "09:45", practitioner=world.practitioner)
    return Scenario(busy=frozenset({"held"}), free_room="Chair 1")


def held_in_pms_for_the_room_given(world: World) -> Scenario:
    _held(world, "09:15", "09:45", practitioner=None, room=world.rooms[0])
    return Scenario(options={"room": world.rooms[0]}, busy=frozenset({"held"}))


def held_in_pms_for_the_first_room(world: World) -> Scenario:
    _held(world, "09:15", "09:45", practitioner=None, room=world.rooms[0])
    return Scenario(free_room="Chair 2")


def held_in_pms_for_someone_else(world: World) -> Scenario:
    _held(world, "09:00", "09:30", practitioner=_colleague(world))
    return Scenario(free_room="Chair 1")


def held_in_pms_just_before(world: World) -> Scenario:
    _held(world, "08:30", "09:00", practitioner=world.practitioner)
    _held(world, "09:30", "10:00", practitioner=None, room=world.rooms[0])
    return Scenario(free_room="Chair 1")


def patient_busy_elsewhere(world: World) -> Scenario:
    world.book("09:15", practitioner=_colleague(world), room=world.rooms[1])
    return Scenario(busy=frozenset({"patient"}), free_room="Chair 1")


def excluding_the_clashing_appointment(world: World) -> Scenario:
    moved = world.book("09:00")
    return Scenario(exclude=moved, free_room="Chair 1")


def excluding_another_appointment(world: World) -> Scenario:
    world.book("09:00", patient=world.patients[1])
    moved = world.book("10:00")
    return Scenario(exclude=moved, busy=frozenset({"practitioner"}), free_room="Chair 2")


def excluding_with_the_room_given(world: World) -> Scenario:
    moved = world.book("09:00", room=world.rooms[1])
    return Scenario(options={"room": world.rooms[1]}, exclude=moved)


def buffer_after_an_appointment(world: World) -> Scenario:
    cleaning = AppointmentTypeFactory(clinic=world.clinic, buffer_after_minutes=15)
    world.book("09:00", appointment_type=cleaning)  # busy until 09:45
    return Scenario(hhmm="09:30", busy=frozenset({"practitioner"}), free_room="Chair 2")


def buffer_before_the_booking(world: World) -> Scenario:
    world.book("09:00", patient=world.patients[1])
    cleaning = AppointmentTypeFactory(clinic=world.clinic, buffer_before_minutes=15)
    return Scenario(
        hhmm="09:30",
        options={"appointment_type": cleaning},
        busy=frozenset({"practitioner"}),
        free_room="Chair 2",
    )


def touching_spans(world: World) -> Scenario:
    world.book("09:00", patient=world.patients[1])
    world.book("10:00", practitioner=_colleague(world), room=world.rooms[0])
    return Scenario(hhmm="09:30", free_room="Chair 1")


def video_with_the_practitioner_busy(world: World) -> Scenario:
    world.book("09:00", patient=world.patients[1])
    return Scenario(video=True, busy=frozenset({"practitioner"}))


def video_free(world: World) -> Scenario:
    world.book("09:00", practitioner=_colleague(world), patient=world.patients[1])
    return Scenario(video=True)


def overflow_room_given(world: World) -> Scenario:
    """Taken the ORM's way (`_claim` does not ask the statement), but the facts are the same."""
    world.book("09:00", patient=world.patients[1])
    return Scenario(options={"room": world.overflow_room}, busy=frozenset({"practitioner"}))


SCENARIOS: list[Callable[[World], Scenario]] = [
    free,
    practitioner_busy_by_another_patient,
    practitioner_busy_by_this_patient,
    room_given_taken,
    first_room_taken,
    all_rooms_taken,
    the_only_free_rooms_are_inactive_or_overflow,
    a_room_of_another_location_is_not_picked,
    rooms_by_name_then_id,
    cancelled_appointment,
    overflow_appointment_of_another_patient,
    overflow_appointment_of_this_patient,
    held_in_pms_for_the_practitioner,
    held_in_pms_for_the_room_given,
    held_in_pms_for_the_first_room,
    held_in_pms_for_someone_else,
    held_in_pms_just_before,
    patient_busy_elsewhere,
    excluding_the_clashing_appointment,
    excluding_another_appointment,
    excluding_with_the_room_given,
    buffer_after_an_appointment,
    buffer_before_the_booking,
    touching_spans,
    video_with_the_practitioner_busy,
    video_free,
    overflow_room_given,
]


def _plan(world: World, scenario: Scenario) -> booking.Plan:
    plan = booking.plan_booking(
        location=world.location,
        practitioner=world.practitioner,
        patient=world.patients[0],
        start=world.at(scenario.hhmm),
        **{"appointment_type": world.appointment_type, "now": NOW, **scenario.options},
    )
    if scenario.video:  # the world's hours are in person only
        plan = dataclasses.replace(plan, modality=Modality.VIDEO)
    return plan


def _check(plan: booking.Plan, exclude_id: int | None) -> claims.Claim:
    return claims.check(
        location_id=plan.location.pk,
        practitioner_id=plan.practitioner.pk,
        patient_id=plan.patient.pk,
        room_id=plan.room.pk if plan.room else None,
        pick_room=plan.modality == Modality.IN_PERSON and plan.room is None,
        start=plan.start,
        end=plan.end,
        busy_from=plan.busy_from,
        busy_until=plan.busy_until,
        exclude_id=exclude_id,
    )


def _by_orm(plan: booking.Plan, exclude_id: int | None) -> dict[str, Any]:
    """What the booking service's ORM code says of each part."""
    active = Appointment.objects.filter(status__in=ACTIVE_STATUSES)
    if exclude_id is not None:
        active = active.exclude(pk=exclude_id)
    room = None
    if plan.modality == Modality.IN_PERSON and plan.room is None:
        room = booking._pick_room(plan, exclude_id)
    return {
        "practitioner_busy": booking._busy_clash(active, plan, practitioner=plan.practitioner)
        is not None,
        "room_busy": plan.room is not None
        and booking._busy_clash(active, plan, room=plan.room) is not None,
        "held_in_pms": bool(booking._held_in_pms(plan)),
        "patient_busy": active.filter(
            patient=plan.patient, end__gt=plan.start, start__lt=plan.end
        ).exists(),
        "free_room_id": room.pk if room else None,
    }


def _outcome(claim: Callable, plan: booking.Plan, exclude_id: int | None) -> Any:
    try:
        return claim(plan, exclude_id)
    except booking._Taken as taken:
        return taken.messages


def _fields(room: Room) -> list:
    return [getattr(room, field.attname) for field in Room._meta.concrete_fields]


@pytest.mark.parametrize("make", SCENARIOS, ids=[make.__name__ for make in SCENARIOS])
def test_the_statement_agrees_with_the_orm(world, make):
    scenario = make(world)
    plan = _plan(world, scenario)
    exclude_id = scenario.exclude.pk if scenario.exclude else None

    claim = _check(plan, exclude_id)

    expected = _by_orm(plan, exclude_id)
    assert {name: getattr(claim, name) for name in expected} == expected
    busy = {
        "practitioner": claim.practitioner_busy,
        "room": claim.room_busy,
        "held": claim.held_in_pms,
        "patient": claim.patient_busy,
    }
    assert {name for name, yes in busy.items() if yes} == scenario.busy
    assert claim.clashes == bool(scenario.busy)
    room = claim.free_room(world.location)
    assert (room.name if room else None) == scenario.free_room
    if room is not None:
        assert _fields(room) == _fields(Room.objects.get(pk=room.pk))
        assert str(room) == str(Room.objects.get(pk=room.pk))


@pytest.mark.parametrize("make", SCENARIOS, ids=[make.__name__ for make in SCENARIOS])
def test_claim_answers_what_the_orm_path_answers(world, make):
    scenario = make(world)
    plan = _plan(world, scenario)
    exclude_id = scenario.exclude.pk if scenario.exclude else None

    fast = _outcome(booking._claim, plan, exclude_id)

    slow = _outcome(booking._claim_by_orm, plan, exclude_id)
    assert fast == slow
    if isinstance(fast, booking.Plan) and plan.room is None and fast.room is not None:
        assert _fields(fast.room) == _fields(slow.room)
        assert fast.room.location is plan.location


def test_a_free_in_person_slot_is_claimed_in_one_statement(world, django_assert_num_queries):
    world.book("09:00", patient=world.patients[1])
    plan = _plan(world, Scenario(hhmm="09:30"))

    with django_assert_num_queries(1):
        claimed = booking._claim(plan, None)
        # Nothing downstream reads the room again: its fields and location came along.
        assert (str(claimed.room), claimed.room.location.zone) == ("Chair 1", world.location.zone)
        assert not claimed.overflow


def test_a_booking_stores_the_room_the_statement_picked(world):
    appointment = world.book("09:00")

    appointment.refresh_from_db()
    assert appointment.room == world.rooms[0]
    assert not appointment.overflow


def test_the_statement_is_written_once_per_shape(world):
    claims._claim_sql.cache_clear()
    plan = _plan(world, Scenario())

    for _ in range(3):
        _check(plan, None)
    _check(plan, 1)
    _check(dataclasses.replace(plan, room=world.rooms[0]), None)

    assert claims._claim_sql.cache_info().misses == 3
    assert claims._claim_sql.cache_info().hits == 2
