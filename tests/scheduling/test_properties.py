"""Property tests: the engine against a brute-force oracle, and booking as a state machine."""

import dataclasses
import datetime
import zoneinfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scheduling import availability, booking
from scheduling.errors import SlotConflict
from scheduling.models import ACTIVE_STATUSES, Appointment, Modality, ModalityOffer
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    WorkingHoursFactory,
)

UTC = datetime.UTC
MINUTE = datetime.timedelta(minutes=1)
NOW = datetime.datetime(2026, 1, 1, tzinfo=UTC)
PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Ordinary days and DST transition days in both zones.
DAYS = [
    ("America/Santiago", datetime.date(2027, 1, 4)),
    ("America/Santiago", datetime.date(2026, 9, 6)),
    ("America/Santiago", datetime.date(2027, 4, 3)),
    ("Europe/Paris", datetime.date(2026, 3, 29)),
    ("Europe/Paris", datetime.date(2026, 10, 25)),
    ("Europe/Paris", datetime.date(2027, 6, 15)),
]


@st.composite
def schedules(draw):
    """A random day at a location: blocks, time off, closures and existing appointments."""
    zone_name, day = draw(st.sampled_from(DAYS))
    blocks = []
    for practitioner in range(2):
        start = 0
        for _ in range(draw(st.integers(1 - practitioner, 2))):
            interval = draw(st.sampled_from([10, 15, 20, 30]))
            if start >= 16 * 60:
                break
            start = draw(st.integers(max(28, -(-start // 15)), 64)) * 15  # 07:00 to 16:00
            length = draw(st.integers(2, 16)) * interval
            if start + length >= 24 * 60:
                break
            blocks.append(
                (
                    practitioner,
                    start,
                    start + length,
                    interval,
                    draw(st.sampled_from(ModalityOffer.values)),
                    draw(st.sampled_from([None, day, day + datetime.timedelta(days=1)])),
                )
            )
            start += length
    # Around the blocks, on a five-minute grid so that edges meet edges.
    spans = st.tuples(
        st.integers(84, 216).map(lambda five: five * 5),
        st.integers(1, 36).map(lambda five: five * 5),
    )
    time_off = draw(st.lists(st.tuples(st.integers(0, 2), spans), max_size=2))
    appointments = draw(
        st.lists(
            st.tuples(st.integers(0, 1), st.integers(0, 2), spans, st.integers(0, 20),
                      st.integers(0, 20), st.booleans()),
            min_size=1,
            max_size=8,
        )
    )  # fmt: skip
    demand = availability.Demand(
        duration=draw(st.sampled_from([10, 15, 20, 30, 40, 45, 60])) * MINUTE,
        buffer_before=draw(st.sampled_from([0, 5, 15])) * MINUTE,
        buffer_after=draw(st.sampled_from([0, 10, 15])) * MINUTE,
        modalities=draw(
            st.sampled_from([frozenset(Modality.values), frozenset({Modality.IN_PERSON}),
                             frozenset({Modality.VIDEO})])
        ),
        include_overflow=draw(st.booleans()),
    )  # fmt: skip
    now_offset = draw(st.sampled_from([None, 8 * 60, 11 * 60 + 7]))
    return zone_name, day, blocks, time_off, appointments, demand, now_offset


@dataclasses.dataclass
class Built:
    location: object
    practitioners: list
    rooms: list
    overflow: object
    day: datetime.date
    zone: zoneinfo.ZoneInfo
    now: datetime.datetime


def build(schedule) -> Built:
    zone_name, day, blocks, time_off, appointments, _, now_offset = schedule
    zone = zoneinfo.ZoneInfo(zone_name)
    midnight = datetime.datetime.combine(day, datetime.time(0), tzinfo=zone).astimezone(UTC)
    location = LocationFactory(clinic=ClinicFactory(allows_overflow_booking=True),
                               time_zone=zone_name)  # fmt: skip
    practitioners = [PractitionerFactory(clinic=location.clinic) for _ in range(2)]
    rooms = [RoomFactory(location=location, name=f"Room {n}") for n in range(2)]
    overflow = RoomFactory(location=location, name="Overflow", is_overflow=True)
    for who, start, end, interval, modality, valid_from in blocks:
        WorkingHoursFactory(
            practitioner=practitioners[who],
            location=location,
            weekday=day.weekday(),
            start_time=datetime.time(start // 60, start % 60),
            end_time=datetime.time(end // 60, end % 60),
            slot_interval_minutes=interval,
            modality=modality,
            valid_from=valid_from,
        )
    for who, (start, length) in time_off:
        span = {"start": midnight + start * MINUTE, "end": midnight + (start + length) * MINUTE}
        if who == 2:
            TimeOffFactory(closure=True, location=location, **span)
        else:
            TimeOffFactory(practitioner=practitioners[who], **span)
    patient = PatientFactory(clinic=location.clinic)
    for who, room, (start, length), before, after, cancelled in appointments:
        begin = midnight + start * MINUTE
        try:
            with transaction.atomic():
                Appointment.objects.create(
                    clinic=location.clinic,
                    location=location,
                    practitioner=practitioners[who],
                    room=[*rooms, overflow][room],
                    overflow=room == 2,
                    patient=PatientFactory(clinic=location.clinic) if room else patient,
                    start=begin,
                    end=begin + length * MINUTE,
                    busy_from=begin - before * MINUTE,
                    busy_until=begin + (length + after) * MINUTE,
                    status="cancelled" if cancelled else "confirmed",
                )
        except Exception:
            continue
    now = NOW if now_offset is None else midnight + now_offset * MINUTE
    return Built(location, practitioners, rooms, overflow, day, zone, now)


def oracle(built: Built, demand: availability.Demand) -> set:
    """Minute by minute, straight from the definitions in scheduling/availability.py."""
    location, zone, day = built.location, built.zone, built.day
    active = list(
        Appointment.objects.filter(location=location, status__in=ACTIVE_STATUSES, overflow=False)
    )

    def minutes(start, end) -> set:
        return {int(start.timestamp()) // 60 + i for i in range(int((end - start) / MINUTE))}

    expected = set()
    for practitioner in built.practitioners:
        away = set()
        for off in practitioner.time_off.all():
            away |= minutes(off.start, off.end)
        for closure in location.closures.all():
            away |= minutes(closure.start, closure.end)
        busy = set()
        for a in active:
            if a.practitioner_id == practitioner.pk:
                busy |= minutes(a.busy_from, a.busy_until)
        room_busy = {room.pk: set() for room in built.rooms}
        for a in active:
            if a.room_id in room_busy:
                room_busy[a.room_id] |= minutes(a.busy_from, a.busy_until)
        for block in practitioner.working_hours.all():
            if block.valid_from is not None and block.valid_from > day:
                continue
            interval = block.slot_interval_minutes
            if demand.duration / MINUTE % interval:
                continue
            block_start = datetime.datetime.combine(day, block.start_time, tzinfo=zone)
            block_end = datetime.datetime.combine(day, block.end_time, tzinfo=zone)
            first, last = block_start.astimezone(UTC), block_end.astimezone(UTC)
            allowed = ModalityOffer.allowed(block.modality) & demand.modalities
            start = first
            while start + demand.duration <= last:
                end = start + demand.duration
                on_grid = int((start - first) / MINUTE) % interval == 0
                padded = minutes(start - demand.buffer_before, end + demand.buffer_after)
                if on_grid and start >= built.now and not (minutes(start, end) & away) and allowed:
                    if padded & busy:
                        rooms = (built.overflow.pk,) if demand.include_overflow else ()
                        offered = allowed & {Modality.IN_PERSON} if rooms else frozenset()
                    else:
                        rooms = tuple(r.pk for r in built.rooms if not padded & room_busy[r.pk])
                        if demand.include_overflow:
                            rooms += (built.overflow.pk,)
                        offered = allowed if rooms else allowed - {Modality.IN_PERSON}
                    if offered:
                        expected.add((start, end, practitioner.pk, rooms, frozenset(offered)))
                start += MINUTE
    return expected


def engine(built: Built, demand: availability.Demand) -> list:
    return availability.free_slots(
        location=built.location,
        practitioner_ids=[p.pk for p in built.practitioners],
        demand=demand,
        date_from=built.day,
        date_to=built.day,
        now=built.now,
    )


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(schedule=schedules())
def test_engine_agrees_with_a_minute_by_minute_oracle(schedule):
    with transaction.atomic():
        built = build(schedule)
        demand = schedule[5]

        slots = engine(built, demand)

        assert {
            (s.start, s.end, s.practitioner_id, s.room_ids, s.modalities) for s in slots
        } == oracle(built, demand)
        assert len(slots) == len(set(slots))
        transaction.set_rollback(True)


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(schedule=schedules(), data=st.data())
def test_every_offered_slot_can_be_booked(schedule, data):
    with transaction.atomic():
        built = build(schedule)
        demand = dataclasses.replace(schedule[5], buffer_before=0 * MINUTE,
                                     buffer_after=0 * MINUTE)  # fmt: skip
        slots = engine(built, demand)
        if slots:
            slot = data.draw(st.sampled_from(slots))
            modality = data.draw(st.sampled_from(sorted(slot.modalities)))
            room = data.draw(st.sampled_from(slot.room_ids)) if slot.room_ids else None

            appointment = booking.book_appointment(
                location=built.location,
                practitioner=next(p for p in built.practitioners if p.pk == slot.practitioner_id),
                patient=PatientFactory(clinic=built.location.clinic),
                start=slot.start,
                duration_minutes=int(demand.duration / MINUTE),
                modality=modality,
                room=None if room is None else type(built.overflow).objects.get(pk=room),
                now=built.now,
            )

            assert (appointment.start, appointment.end) == (slot.start, slot.end)
        transaction.set_rollback(True)


MONDAY = datetime.date(2027, 1, 4)
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")


def at(quarter: int) -> datetime.datetime:
    local = datetime.datetime.combine(MONDAY, datetime.time(9), tzinfo=SANTIAGO)
    return (local + quarter * 15 * MINUTE).astimezone(UTC)


@dataclasses.dataclass
class Booked:
    practitioner: int
    room: int | None
    overflow: bool
    patient: int
    start: datetime.datetime
    end: datetime.datetime
    busy_until: datetime.datetime


class BookingMachine(RuleBasedStateMachine):
    """Random book / cancel / reschedule against a pure-Python model of what must happen."""

    @initialize()
    def open_clinic(self):
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        clinic = ClinicFactory(allows_overflow_booking=True)
        self.location = LocationFactory(clinic=clinic, time_zone="America/Santiago")
        self.practitioners = [PractitionerFactory(clinic=clinic) for _ in range(2)]
        for practitioner in self.practitioners:
            WorkingHoursFactory(
                practitioner=practitioner, location=self.location, end_time=datetime.time(12)
            )
        self.rooms = [RoomFactory(location=self.location, name=f"Chair {n}") for n in (1, 2)]
        self.overflow = RoomFactory(location=self.location, name="Sobrecupo", is_overflow=True)
        self.patients = [PatientFactory(clinic=clinic) for _ in range(3)]
        self.types = [
            AppointmentTypeFactory(clinic=clinic, default_duration_minutes=30),
            AppointmentTypeFactory(
                clinic=clinic, default_duration_minutes=45, buffer_after_minutes=15
            ),
        ]
        self.model: dict[int, Booked] = {}

    def teardown(self):
        if hasattr(self, "atomic"):
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

    def _clashes(self, plan: Booked, exclude: int | None = None) -> bool:
        for pk, other in self.model.items():
            if pk == exclude:
                continue
            if other.patient == plan.patient and other.start < plan.end and plan.start < other.end:
                return True
            if plan.overflow or other.overflow:
                continue
            overlaps = other.start < plan.busy_until and plan.start < other.busy_until
            if overlaps and other.practitioner == plan.practitioner:
                return True
            if overlaps and plan.room is not None and other.room == plan.room:
                return True
        return False

    def _with_free_room(self, plan: Booked, exclude: int | None = None) -> Booked | None:
        for room in self.rooms:
            candidate = dataclasses.replace(plan, room=room.pk)
            if not self._clashes(candidate, exclude):
                return candidate
        return None

    @rule(
        who=st.integers(0, 1),
        patient=st.integers(0, 2),
        kind=st.integers(0, 1),
        quarter=st.integers(0, 9),
        room=st.sampled_from(["auto", 0, 1, "overflow"]),
    )
    def book(self, who, patient, kind, quarter, room):
        appointment_type = self.types[kind]
        start = at(quarter)
        end = start + appointment_type.default_duration_minutes * MINUTE
        chosen = {"auto": None, "overflow": self.overflow}.get(room) or (
            None if room == "auto" else self.rooms[room]
        )
        plan = Booked(
            self.practitioners[who].pk,
            chosen.pk if chosen else None,
            room == "overflow",
            self.patients[patient].pk,
            start,
            end,
            end + appointment_type.buffer_after_minutes * MINUTE,
        )
        expected = plan if chosen else self._with_free_room(plan)
        if expected is not None and self._clashes(expected):
            expected = None
        try:
            appointment = booking.book_appointment(
                location=self.location,
                practitioner=self.practitioners[who],
                patient=self.patients[patient],
                appointment_type=appointment_type,
                start=start,
                room=chosen,
                now=NOW,
            )
        except SlotConflict:
            assert expected is None
        else:
            assert expected is not None
            assert appointment.room_id == expected.room
            self.model[appointment.pk] = expected

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def cancel(self, data):
        pk = data.draw(st.sampled_from(sorted(self.model)))
        booking.cancel_appointment(Appointment.objects.get(pk=pk), reason="Patient called")
        del self.model[pk]

    @precondition(lambda self: self.model)
    @rule(data=st.data(), quarter=st.integers(0, 9))
    def reschedule(self, data, quarter):
        pk = data.draw(st.sampled_from(sorted(self.model)))
        current = self.model[pk]
        length = current.end - current.start
        moved = dataclasses.replace(
            current,
            start=at(quarter),
            end=at(quarter) + length,
            busy_until=at(quarter) + (current.busy_until - current.start),
        )
        if not self._clashes(moved, exclude=pk):
            expected = moved
        elif current.overflow:
            expected = None
        else:
            expected = self._with_free_room(moved, exclude=pk)
        try:
            booking.reschedule_appointment(
                Appointment.objects.get(pk=pk), start=moved.start, now=NOW
            )
        except SlotConflict:
            assert expected is None
        else:
            assert expected is not None
            assert Appointment.objects.get(pk=pk).room_id == expected.room
            self.model[pk] = expected

    @invariant()
    def database_matches_the_model(self):
        if not hasattr(self, "model"):
            return
        rows = Appointment.objects.filter(status__in=ACTIVE_STATUSES).values_list(
            "pk", "practitioner_id", "room_id", "overflow", "patient_id", "start", "end",
            "busy_until",
        )  # fmt: skip
        assert {pk: Booked(*rest) for pk, *rest in rows} == self.model

    @invariant()
    def nothing_overlaps(self):
        if not hasattr(self, "model"):
            return
        for pk, plan in self.model.items():
            assert not self._clashes(plan, exclude=pk)


@pytest.mark.django_db
def test_booking_state_machine():
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        BookingMachine,
        settings=settings(max_examples=25, stateful_step_count=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )  # fmt: skip
