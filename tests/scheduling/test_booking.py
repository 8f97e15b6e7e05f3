import datetime

import pytest
from django.db import IntegrityError, transaction

from scheduling import booking
from scheduling.errors import RuleViolation, SlotConflict, TransitionNotAllowed
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    Modality,
    ModalityOffer,
)
from tests.factories import (
    AppointmentTypeFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
)
from tests.scheduling.conftest import MONDAY, NOW

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

Status = AppointmentStatus
NOON = datetime.time(12)


def test_book_stores_the_appointment_in_utc_with_its_history(world):
    user = UserFactory()

    appointment = world.book("09:30", by=user, comment="Sensitive tooth", urgent=True)

    appointment.refresh_from_db()
    assert appointment.start == datetime.datetime(2027, 1, 4, 12, 30, tzinfo=datetime.UTC)
    assert appointment.end - appointment.start == datetime.timedelta(minutes=30)
    assert (appointment.busy_from, appointment.busy_until) == (appointment.start, appointment.end)
    assert appointment.room == world.rooms[0]  # the first free room, chosen for the receptionist
    assert appointment.modality == Modality.IN_PERSON
    assert appointment.status == Status.UNCONFIRMED
    assert (appointment.created_by, appointment.comment, appointment.urgent) == (
        user,
        "Sensitive tooth",
        True,
    )
    event = appointment.events.get()
    assert (event.action, event.to_status, event.by) == ("booked", Status.UNCONFIRMED, user)


def test_buffers_are_stored_as_busy_time(world):
    cleaning = AppointmentTypeFactory(
        clinic=world.clinic, buffer_before_minutes=10, buffer_after_minutes=15
    )

    appointment = world.book("10:00", appointment_type=cleaning)

    assert appointment.busy_from == world.at("09:50")
    assert appointment.busy_until == world.at("10:45")


def _other_clinic_patient(world):
    return PatientFactory()


RULES = [
    ("08:45", {}, "start", "does not work at Providencia"),
    ("11:45", {}, "start", "does not work at Providencia"),
    ("09:10", {}, "start", "appointments start every 15 minutes from 09:00"),
    ("09:00", {"duration_minutes": 20}, "duration_minutes", "multiple of 15 minutes; 20 is not"),
    ("09:00", {"duration_minutes": 0}, "duration_minutes", "at least one minute"),
    ("09:00", {"comment": "x" * 1001}, "comment", "Keep the comment to 1000 characters"),
    ("09:00", {"modality": Modality.VIDEO}, "modality", "Only in person appointments"),
]


@pytest.mark.parametrize(("hhmm", "options", "field", "message"), RULES)
def test_rules_refuse_with_one_message_per_field(world, hhmm, options, field, message):
    with pytest.raises(RuleViolation) as error:
        world.book(hhmm, **options)

    assert list(error.value.messages) == [field]
    assert message in error.value.messages[field][0]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("make", "field", "message"),
    [
        (lambda w: {"patient": PatientFactory()}, "patient", "Choose a patient of this clinic."),
        (
            lambda w: {"practitioner": PractitionerFactory()},
            "practitioner",
            "Choose a practitioner of this clinic.",
        ),
        (
            lambda w: {"room": RoomFactory(location=LocationFactory(clinic=w.clinic))},
            "room",
            "Choose a room at Providencia.",
        ),
        (
            lambda w: {"appointment_type": AppointmentTypeFactory()},
            "appointment_type",
            "Choose an appointment type of this clinic.",
        ),
        (
            lambda w: {"start": datetime.datetime(2027, 1, 4, 9, 0)},
            "start",
            "Give the start with its UTC offset, e.g. 2026-11-23T09:00:00-03:00.",
        ),
    ],
)
def test_everything_must_belong_to_the_clinic(world, make, field, message):
    options = make(world)
    start = options.pop("start", world.at("09:00"))

    with pytest.raises(RuleViolation) as error:
        booking.book_appointment(
            location=world.location,
            practitioner=options.pop("practitioner", world.practitioner),
            patient=options.pop("patient", world.patients[0]),
            appointment_type=options.pop("appointment_type", world.appointment_type),
            start=start,
            now=NOW,
            **options,
        )

    assert error.value.messages == {field: [message]}


def test_the_past_and_the_minimum_notice(world, settings):
    with pytest.raises(RuleViolation) as error:
        world.book("09:00", now=world.at("09:05"))
    assert error.value.messages == {
        "start": ["Mon 04 Jan 2027 09:00 has passed; choose a later time."]
    }

    settings.BOOKING_MIN_NOTICE_MINUTES = 120
    with pytest.raises(RuleViolation) as error:
        world.book("10:00", now=world.at("08:30"))
    assert error.value.messages == {
        "start": ["Bookings need 120 minutes' notice; choose Mon 04 Jan 2027 10:30 or later."]
    }


@pytest.mark.parametrize("reads", ["together", "each on its own"])
def test_time_off_and_closures_are_refused_with_the_reason(world, reads, monkeypatch):
    if reads == "each on its own":  # as when a look-up cannot be prepared (booking._reads)
        monkeypatch.setattr(booking._blocks_of, "read", lambda *args: None)
    TimeOffFactory(practitioner=world.practitioner, start=world.at("09:00"),
                   end=world.at("10:00"), reason="Dentist's own appointment")  # fmt: skip
    TimeOffFactory(closure=True, location=world.location, start=world.at("11:00"),
                   end=world.at("12:00"), reason="Fire drill")  # fmt: skip

    with pytest.raises(RuleViolation) as away:
        world.book("09:30")
    with pytest.raises(RuleViolation) as closed:
        world.book("11:00")

    assert away.value.messages == {
        "start": [
            "Dra. Camila Rojas is away until Mon 04 Jan 2027 10:00 (Dentist's own appointment)."
        ]
    }
    assert closed.value.messages == {
        "start": ["Providencia is closed until Mon 04 Jan 2027 12:00 (Fire drill)."]
    }
    assert world.book("10:00").start == world.at("10:00")


@pytest.mark.parametrize(
    ("block", "requested", "stored_or_error"),
    [
        (ModalityOffer.IN_PERSON, None, Modality.IN_PERSON),
        (ModalityOffer.VIDEO, None, Modality.VIDEO),
        (ModalityOffer.VIDEO, Modality.IN_PERSON, "Only video appointments are possible"),
        (ModalityOffer.BOTH, Modality.VIDEO, Modality.VIDEO),
        (ModalityOffer.BOTH, None, "This time can be in person or by video: choose one."),
    ],
)
def test_modality_rule(world, block, requested, stored_or_error):
    world.practitioner.working_hours.update(modality=block)
    world.appointment_type.modalities = ModalityOffer.BOTH
    world.appointment_type.save()

    if stored_or_error in Modality.values:
        appointment = world.book("09:00", modality=requested)
        assert appointment.modality == stored_or_error
        assert (appointment.room is None) == (stored_or_error == Modality.VIDEO)
    else:
        with pytest.raises(RuleViolation) as error:
            world.book("09:00", modality=requested)
        assert stored_or_error in error.value.messages["modality"][0]


@pytest.mark.parametrize("resource", ["practitioner", "room", "patient"])
def test_overlaps_are_conflicts_with_alternatives(world, resource):
    other = PractitionerFactory(clinic=world.clinic)
    WorkingHoursFactory(practitioner=other, location=world.location, end_time=NOON)
    world.book("10:00", room=world.rooms[0], patient=world.patients[0])
    second = {
        "practitioner": {"patient": world.patients[1]},
        "room": {"practitioner": other, "room": world.rooms[0], "patient": world.patients[1]},
        "patient": {"practitioner": other, "room": world.rooms[1]},
    }[resource]

    with pytest.raises(SlotConflict) as conflict:
        world.book("10:15", **second)

    field = {"practitioner": "start", "room": "room", "patient": "patient"}[resource]
    assert field in conflict.value.messages
    assert len(conflict.value.alternatives) == 3
    assert all(slot.start >= world.at("10:15") for slot in conflict.value.alternatives)
    assert Appointment.objects.count() == 1


def test_adjacent_appointments_are_fine(world):
    world.book("09:00", room=world.rooms[0])
    world.book("09:30", room=world.rooms[0], patient=world.patients[1])

    assert Appointment.objects.count() == 2


def test_cancelled_appointments_free_the_time(world):
    first = world.book("09:00")
    booking.cancel_appointment(first, reason="Feeling better")

    assert world.book("09:00").room == first.room


def test_overflow_room_double_books_only_when_chosen_and_allowed(world):
    world.book("09:00")

    double = world.book("09:00", room=world.overflow_room, patient=world.patients[1])

    assert double.overflow
    world.clinic.allows_overflow_booking = False
    world.clinic.save()
    world.location.refresh_from_db()
    with pytest.raises(RuleViolation) as error:
        world.book("09:30", room=world.overflow_room, patient=world.patients[2])
    assert error.value.messages == {
        "room": ["This clinic does not allow overflow booking; choose a regular room."]
    }


def test_no_free_room_is_a_conflict(world):
    for index, room in enumerate(world.rooms):
        other = PractitionerFactory(clinic=world.clinic)
        WorkingHoursFactory(practitioner=other, location=world.location, end_time=NOON)
        world.book("09:00", practitioner=other, room=room, patient=world.patients[index + 1])

    with pytest.raises(SlotConflict) as conflict:
        world.book("09:00")

    assert conflict.value.messages == {
        "room": ["No room is free at Providencia at that time; choose another time."]
    }
    assert conflict.value.alternatives[0].start == world.at("09:30")


@pytest.mark.parametrize("resource", ["practitioner", "room", "patient"])
def test_the_database_refuses_overlaps_written_behind_the_service(world, resource):
    first = world.book("09:00", room=world.rooms[0])
    copy = {
        "practitioner": {"room": world.rooms[1], "patient": world.patients[1]},
        "room": {"practitioner": PractitionerFactory(clinic=world.clinic),
                 "patient": world.patients[1]},
        "patient": {"practitioner": PractitionerFactory(clinic=world.clinic),
                    "room": world.rooms[1]},
    }[resource]  # fmt: skip
    fields = {
        field.name: getattr(first, field.name)
        for field in Appointment._meta.concrete_fields
        if field.name not in ("id", "created_at", "updated_at")
    }

    with (
        pytest.raises(IntegrityError, match=f"appointment_no_{resource}_overlap"),
        transaction.atomic(),
    ):
        Appointment.objects.create(**{**fields, **copy, "start": world.at("09:15"),
                                          "busy_from": world.at("09:15")})  # fmt: skip


def test_the_database_refuses_an_update_into_an_overlap(world):
    world.book("09:00", room=world.rooms[0])
    later = world.book("10:00", room=world.rooms[1], patient=world.patients[1])

    with (
        pytest.raises(IntegrityError, match="appointment_no_practitioner_overlap"),
        transaction.atomic(),
    ):
        Appointment.objects.filter(pk=later.pk).update(
            start=world.at("09:15"), busy_from=world.at("09:15")
        )


# Status table: (from, to, allowed)
TABLE = [
    (Status.UNCONFIRMED, Status.CONFIRMED, True),
    (Status.UNCONFIRMED, Status.ARRIVED, True),
    (Status.UNCONFIRMED, Status.CANCELLED, True),
    (Status.UNCONFIRMED, Status.NO_SHOW, True),
    (Status.UNCONFIRMED, Status.COMPLETED, False),
    (Status.CONFIRMED, Status.ARRIVED, True),
    (Status.CONFIRMED, Status.CANCELLED, True),
    (Status.CONFIRMED, Status.UNCONFIRMED, False),
    (Status.ARRIVED, Status.COMPLETED, True),
    (Status.ARRIVED, Status.CANCELLED, False),
    (Status.COMPLETED, Status.CANCELLED, False),
    (Status.CANCELLED, Status.COMPLETED, False),
    (Status.CANCELLED, Status.CONFIRMED, False),
    (Status.NO_SHOW, Status.ARRIVED, False),
]


@pytest.mark.parametrize(("current", "target", "allowed"), TABLE)
def test_status_table(world, current, target, allowed):
    appointment = world.book("09:00")
    Appointment.objects.filter(pk=appointment.pk).update(status=current)
    appointment.refresh_from_db()
    user = UserFactory()

    change = lambda: booking.change_status(  # noqa: E731
        appointment, target, by=user, reason="Asked by phone", now=world.at("09:10")
    )
    if allowed:
        change()
        appointment.refresh_from_db()
        event = appointment.events.last()
        assert appointment.status == target
        assert (event.from_status, event.to_status, event.by) == (current, target, user)
    else:
        with pytest.raises(TransitionNotAllowed) as error:
            change()
        assert error.value.messages["status"][0].startswith(
            f"A {Status(current).label.lower()} appointment cannot become"
        )
        appointment.refresh_from_db()
        assert appointment.status == current


def test_cancel_needs_a_reason_and_keeps_it(world):
    appointment = world.book("09:00")

    with pytest.raises(RuleViolation) as error:
        booking.cancel_appointment(appointment, reason="  ")
    booking.cancel_appointment(appointment, reason="Rescheduling with another clinic")

    assert error.value.messages == {"reason": ["Give a reason for the cancellation."]}
    appointment.refresh_from_db()
    assert appointment.cancellation_reason == "Rescheduling with another clinic"
    assert appointment.events.last().details == {"reason": "Rescheduling with another clinic"}


@pytest.mark.parametrize("target", [Status.NO_SHOW, Status.COMPLETED])
def test_no_show_and_completed_wait_for_the_start(world, target):
    appointment = world.book("09:00")
    if target == Status.COMPLETED:
        booking.change_status(appointment, Status.ARRIVED, now=world.at("08:50"))

    with pytest.raises(TransitionNotAllowed):
        booking.change_status(appointment, target, now=world.at("08:55"))
    booking.change_status(appointment, target, now=world.at("09:01"))


def test_arrived_only_on_the_day(world):
    appointment = world.book("09:00")

    with pytest.raises(TransitionNotAllowed) as error:
        booking.change_status(
            appointment, Status.ARRIVED, now=world.at("09:00") - datetime.timedelta(days=1)
        )

    assert error.value.messages == {
        "status": ["A patient can be marked arrived only on the day of the appointment."]
    }


def test_reschedule_moves_and_asks_for_confirmation_again(world):
    user = UserFactory()
    appointment = world.book("09:00")
    booking.change_status(appointment, Status.CONFIRMED)

    booking.reschedule_appointment(appointment, start=world.at("10:00"), by=user, now=NOW)

    appointment.refresh_from_db()
    assert appointment.start == world.at("10:00")
    assert appointment.status == Status.UNCONFIRMED
    assert appointment.room == world.rooms[0]
    event = appointment.events.last()
    assert (event.action, event.by) == (AppointmentEvent.Action.RESCHEDULED, user)
    assert event.details["from"]["start"] == world.at("09:00").isoformat()


def test_reschedule_may_overlap_its_own_old_time(world):
    appointment = world.book("09:00")

    booking.reschedule_appointment(appointment, start=world.at("09:15"), now=NOW)

    appointment.refresh_from_db()
    assert appointment.start == world.at("09:15")


def test_reschedule_into_a_taken_time_is_a_conflict_and_changes_nothing(world):
    world.book("10:00", patient=world.patients[1])
    appointment = world.book("09:00")

    with pytest.raises(SlotConflict) as conflict:
        booking.reschedule_appointment(appointment, start=world.at("10:00"), now=NOW)

    appointment.refresh_from_db()
    assert appointment.start == world.at("09:00")
    assert conflict.value.alternatives[0].start == world.at("10:30")


def test_cancelled_appointments_cannot_be_rescheduled(world):
    appointment = world.book("09:00")
    booking.cancel_appointment(appointment, reason="No longer needed")

    with pytest.raises(TransitionNotAllowed) as error:
        booking.reschedule_appointment(appointment, start=world.at("10:00"), now=NOW)

    assert error.value.messages == {"__all__": ["A cancelled appointment cannot be rescheduled."]}


def test_a_booking_reads_its_rules_in_one_statement(world, django_assert_num_queries):
    # The rules' reads (working hours, time off, the PMS connection) in one; the claim (what
    # overlaps, the PMS's busy time included); the appointment, its event and its audit row;
    # the savepoint and its release (the test's transaction holds the booking's).
    with django_assert_num_queries(7):
        world.book("09:00")


def test_monday_not_sunday():
    assert MONDAY.weekday() == 0
