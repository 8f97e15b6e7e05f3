import datetime
import re

import pytest
from django.apps import apps
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import UniqueConstraint
from django.utils import timezone

from scheduling import access
from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Clinic,
    IdempotencyRecord,
    IdentityDocument,
    Modality,
    Patient,
    Role,
    TimeOff,
    UserPreferences,
    UserSession,
    Weekday,
    WorkingHours,
)
from tests.factories import (
    AppointmentFactory,
    AppointmentTypeFactory,
    CancelReasonFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SpecialtyFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
    make_in_clinic,
)

pytestmark = pytest.mark.django_db

NON_FIELD = "__all__"


def validation_messages(instance) -> dict[str, list[str]]:
    """The messages `full_clean()` gives, per field."""
    with pytest.raises(ValidationError) as error:
        instance.full_clean()
    return error.value.message_dict


def change(instance, **values):
    for name, value in values.items():
        setattr(instance, name, value)
    return instance


# Records that belong to a user, not to a clinic: only their owner ever reads them.
USER_OWNED = {ApiToken, IdempotencyRecord, UserPreferences, UserSession}
CLINIC_OWNED = [m for m in apps.get_app_config("scheduling").get_models() if m not in USER_OWNED]


# --- Factories -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", CLINIC_OWNED, ids=lambda model: model.__name__)
def test_every_model_has_a_factory_that_makes_a_valid_record(model):
    clinic = ClinicFactory()

    record = make_in_clinic(model, clinic)

    assert isinstance(record, model)
    record.full_clean()


# --- Database constraints ------------------------------------------------------------------

CONSTRAINTS = {
    constraint.name: (model, constraint)
    for model in apps.get_app_config("scheduling").get_models()
    for constraint in model._meta.constraints
}


def refusal(constraint_name: str) -> str:
    """A pattern for the database's error: PostgreSQL names the constraint; SQLite names
    a check constraint, and a unique one by its columns."""
    model, constraint = CONSTRAINTS[constraint_name]
    if isinstance(constraint, UniqueConstraint):
        columns = ", ".join(
            f"{model._meta.db_table}.{model._meta.get_field(name).column}"
            for name in constraint.fields
        )
        return rf"{constraint_name}|UNIQUE constraint failed: {re.escape(columns)}$"
    return rf"\b{constraint_name}\b"


def duplicate_location_name():
    location = LocationFactory()
    LocationFactory(clinic=location.clinic, name=location.name)


def duplicate_membership():
    membership = ClinicMembershipFactory()
    ClinicMembershipFactory(user=membership.user, clinic=membership.clinic, role=Role.MANAGER)


def duplicate_specialty_name():
    specialty = SpecialtyFactory()
    SpecialtyFactory(clinic=specialty.clinic, name=specialty.name)


def duplicate_patient_national_id():
    patient = PatientFactory(national_id_type=IdentityDocument.RUT, national_id="12.345.678-5")
    PatientFactory(
        clinic=patient.clinic, national_id_type=IdentityDocument.RUT, national_id="12.345.678-5"
    )


def duplicate_cancel_reason_label():
    reason = CancelReasonFactory()
    CancelReasonFactory(clinic=reason.clinic, label=reason.label)


def duplicate_room_name():
    room = RoomFactory()
    RoomFactory(location=room.location, name=room.name)


def duplicate_appointment_type_name():
    appointment_type = AppointmentTypeFactory()
    AppointmentTypeFactory(clinic=appointment_type.clinic, name=appointment_type.name)


def appointment_type_of_zero_minutes():
    AppointmentTypeFactory(default_duration_minutes=0)


def appointment_type_longer_than_a_day():
    AppointmentTypeFactory(default_duration_minutes=24 * 60 + 1)


def appointment_type_with_long_buffer():
    AppointmentTypeFactory(buffer_after_minutes=241)


def working_hours(**values):
    def write():
        hours = WorkingHoursFactory()
        WorkingHours.objects.filter(pk=hours.pk).update(**values)

    return write


def time_off_ending_at_its_start():
    time_off = TimeOffFactory()
    TimeOff.objects.filter(pk=time_off.pk).update(end=time_off.start)


def time_off_of_practitioner_and_location():
    practitioner = PractitionerFactory()
    TimeOffFactory(practitioner=practitioner, location=LocationFactory(clinic=practitioner.clinic))


def time_off_of_nobody():
    TimeOffFactory(practitioner=None, location=None)


def appointment_ending_at_its_start():
    appointment = AppointmentFactory()
    Appointment.objects.filter(pk=appointment.pk).update(end=appointment.start)


def appointment_busy_for_less_than_the_visit():
    appointment = AppointmentFactory()
    Appointment.objects.filter(pk=appointment.pk).update(
        busy_until=appointment.end - datetime.timedelta(minutes=5)
    )


def appointment_assisted_by_its_practitioner():
    appointment = AppointmentFactory()
    Appointment.objects.filter(pk=appointment.pk).update(assistant=appointment.practitioner)


def appointment_with_unknown_status():
    AppointmentFactory(status="postponed")


def appointment_with_unknown_modality():
    AppointmentFactory(modality="telepathy")


CONSTRAINT_VIOLATIONS = [
    ("location_name_unique_per_clinic", duplicate_location_name),
    ("membership_unique_per_user_and_clinic", duplicate_membership),
    ("specialty_name_unique_per_clinic", duplicate_specialty_name),
    ("patient_national_id_unique_per_clinic", duplicate_patient_national_id),
    ("room_name_unique_per_location", duplicate_room_name),
    ("cancel_reason_label_unique_per_clinic", duplicate_cancel_reason_label),
    ("appointment_type_name_unique_per_clinic", duplicate_appointment_type_name),
    ("appointment_type_duration_positive", appointment_type_of_zero_minutes),
    ("appointment_type_duration_at_most_a_day", appointment_type_longer_than_a_day),
    ("appointment_type_buffers_at_most_four_hours", appointment_type_with_long_buffer),
    ("working_hours_end_after_start", working_hours(end_time=datetime.time(9, 0))),
    ("working_hours_interval_positive", working_hours(slot_interval_minutes=0)),
    ("working_hours_weekday_valid", working_hours(weekday=7)),
    (
        "working_hours_validity_ordered",
        working_hours(valid_from=datetime.date(2026, 3, 1), valid_until=datetime.date(2026, 2, 28)),
    ),
    ("time_off_end_after_start", time_off_ending_at_its_start),
    ("time_off_practitioner_xor_location", time_off_of_practitioner_and_location),
    ("time_off_practitioner_xor_location", time_off_of_nobody),
    ("appointment_end_after_start", appointment_ending_at_its_start),
    ("appointment_busy_covers_visit", appointment_busy_for_less_than_the_visit),
    ("appointment_assistant_not_practitioner", appointment_assisted_by_its_practitioner),
    ("appointment_status_valid", appointment_with_unknown_status),
    ("appointment_modality_valid", appointment_with_unknown_modality),
]


def idempotency_key_used_twice():
    user = UserFactory()
    IdempotencyRecord.objects.create(user=user, key="k", request_hash="h")
    IdempotencyRecord.objects.create(user=user, key="k", request_hash="h")


CONSTRAINT_VIOLATIONS += [
    ("idempotency_key_unique_per_user", idempotency_key_used_twice),
]


def test_every_constraint_has_a_violation_case():
    assert {name for name, _ in CONSTRAINT_VIOLATIONS} == set(CONSTRAINTS)


@pytest.mark.parametrize(
    ("constraint", "write"),
    CONSTRAINT_VIOLATIONS,
    ids=[f"{name}-{write.__name__}" for name, write in CONSTRAINT_VIOLATIONS],
)
def test_database_refuses_a_write_that_breaks(constraint, write):
    with pytest.raises(IntegrityError, match=refusal(constraint)), transaction.atomic():
        write()


@pytest.mark.parametrize(
    ("field", "value"), [("name", "Clínica Alemana"), ("slug", "clinica-alemana")]
)
def test_database_refuses_a_second_clinic_with_the_same(field, value):
    ClinicFactory(**{field: value})
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicFactory(**{field: value})


def overlapping(first: Appointment, **values) -> Appointment:
    """A second appointment in `first`'s clinic and location, 15 minutes after it starts."""
    values.setdefault("start", first.start + datetime.timedelta(minutes=15))
    return AppointmentFactory(clinic=first.clinic, location=first.location, **values)


@pytest.mark.parametrize(
    ("guard", "shared"),
    [
        ("appointment_no_practitioner_overlap", "practitioner"),
        ("appointment_no_room_overlap", "room"),
        ("appointment_no_patient_overlap", "patient"),
    ],
)
def test_database_refuses_overlapping_active_appointments(guard, shared):
    first = AppointmentFactory()

    with pytest.raises(IntegrityError, match=rf"\b{guard}\b"), transaction.atomic():
        overlapping(first, **{shared: getattr(first, shared)})


@pytest.mark.parametrize("shared", ["practitioner", "room", "patient"])
@pytest.mark.parametrize(
    "second",
    [
        pytest.param(lambda first: {"status": AppointmentStatus.CANCELLED}, id="cancelled"),
        pytest.param(lambda first: {"status": AppointmentStatus.NO_SHOW}, id="no-show"),
        pytest.param(lambda first: {"start": first.end}, id="back to back"),
    ],
)
def test_inactive_or_back_to_back_appointments_may_share(shared, second):
    first = AppointmentFactory()

    overlapping(first, **{shared: getattr(first, shared)}, **second(first))


def test_an_overflow_appointment_may_overlap_the_practitioner_and_the_overflow_room():
    first = AppointmentFactory()
    overflow_room = RoomFactory(location=first.location, is_overflow=True)

    overlapping(first, practitioner=first.practitioner, room=overflow_room, overflow=True)
    overlapping(first, practitioner=first.practitioner, room=overflow_room, overflow=True)

    assert first.practitioner.appointments.count() == 3


def test_patients_without_national_id_do_not_collide():
    patient = PatientFactory(national_id="")
    PatientFactory(clinic=patient.clinic, national_id="")

    assert Patient.objects.filter(clinic=patient.clinic).count() == 2


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"clinic": None}, id="another clinic"),
        pytest.param({"national_id_type": IdentityDocument.PASSPORT}, id="another document"),
    ],
)
def test_a_national_id_may_repeat_in_another_clinic_or_document(other):
    first = PatientFactory(national_id_type=IdentityDocument.RUT, national_id="12.345.678-5")
    values = {
        "clinic": first.clinic,
        "national_id_type": IdentityDocument.RUT,
        "national_id": "12.345.678-5",
    }
    values.update(other)
    if values["clinic"] is None:
        values["clinic"] = ClinicFactory()

    second = PatientFactory(**values)

    second.full_clean()


# --- Location ------------------------------------------------------------------------------


def test_location_with_unknown_time_zone():
    location = LocationFactory.build(clinic=ClinicFactory(), time_zone="Mars/Olympus")

    assert validation_messages(location) == {
        "time_zone": [
            "“Mars/Olympus” is not a known IANA time zone. "
            "Use a name such as America/Santiago or Europe/Paris."
        ]
    }


@pytest.mark.parametrize("time_zone", ["America/Santiago", "Europe/Paris", "UTC"])
def test_location_with_known_time_zone(time_zone):
    LocationFactory.build(clinic=ClinicFactory(), time_zone=time_zone).full_clean()


# --- Working hours -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            {"end_time": datetime.time(9, 0)},
            {
                "end_time": [
                    "The end time must be after the start time (blocks cannot cross midnight)."
                ]
            },
            id="end at start",
        ),
        pytest.param(
            {"start_time": datetime.time(22, 0), "end_time": datetime.time(2, 0)},
            {
                "end_time": [
                    "The end time must be after the start time (blocks cannot cross midnight)."
                ]
            },
            id="across midnight",
        ),
        pytest.param(
            {"slot_interval_minutes": 25},
            {
                "slot_interval_minutes": [
                    "A 25-minute interval does not divide this 240-minute block; "
                    "change the interval or the end time."
                ]
            },
            id="interval does not divide the block",
        ),
        pytest.param(
            {"end_time": datetime.time(10, 10), "slot_interval_minutes": 20},
            {
                "slot_interval_minutes": [
                    "A 20-minute interval does not divide this 70-minute block; "
                    "change the interval or the end time."
                ]
            },
            id="block not a multiple of the interval",
        ),
        pytest.param(
            {"slot_interval_minutes": 0},
            {"slot_interval_minutes": ["The slot interval must be at least one minute."]},
            id="zero interval",
        ),
        pytest.param(
            {"valid_from": datetime.date(2026, 3, 1), "valid_until": datetime.date(2026, 2, 28)},
            {"valid_until": ["“Valid until” must not be before “valid from”."]},
            id="validity period reversed",
        ),
    ],
)
def test_working_hours_clean(values, expected):
    hours = change(WorkingHoursFactory(), **values)

    assert validation_messages(hours) == expected


def test_working_hours_at_a_location_of_another_clinic():
    hours = change(WorkingHoursFactory(), location=LocationFactory())

    assert validation_messages(hours) == {
        "location": ["Choose a location of the practitioner's own clinic."]
    }


OVERLAP_MESSAGE = (
    "These hours overlap the practitioner's block Monday 09:00–13:00 at Providencia; "
    "a practitioner cannot work two blocks at the same time."
)


@pytest.fixture
def monday_block():
    """The practitioner's Monday 09:00–13:00 at Providencia."""
    return WorkingHoursFactory(location__name="Providencia")


def second_block(existing: WorkingHours, *, elsewhere: bool, **values) -> WorkingHours:
    location = (
        LocationFactory(clinic=existing.practitioner.clinic, name="Las Condes")
        if elsewhere
        else existing.location
    )
    return WorkingHoursFactory.build(
        practitioner=existing.practitioner, location=location, **values
    )


@pytest.mark.parametrize(
    ("existing_values", "values", "elsewhere"),
    [
        pytest.param(
            {},
            {"start_time": datetime.time(10), "end_time": datetime.time(12)},
            False,
            id="inside, same location",
        ),
        pytest.param(
            {},
            {"start_time": datetime.time(12), "end_time": datetime.time(14)},
            True,
            id="partly, at another location of the clinic",
        ),
        pytest.param({}, {}, True, id="same times, at another location"),
        pytest.param(
            {"valid_from": datetime.date(2026, 1, 1)},
            {"valid_until": datetime.date(2026, 3, 1)},
            False,
            id="open-ended validity periods that meet",
        ),
        pytest.param(
            {"valid_until": datetime.date(2026, 6, 30)},
            {"valid_from": datetime.date(2026, 6, 30)},
            False,
            id="validity periods sharing a day",
        ),
    ],
)
def test_overlapping_working_hours_of_one_practitioner(
    monday_block, existing_values, values, elsewhere
):
    change(monday_block, **existing_values).save()
    hours = second_block(monday_block, elsewhere=elsewhere, **values)

    assert validation_messages(hours) == {NON_FIELD: [OVERLAP_MESSAGE]}


@pytest.mark.parametrize(
    ("existing_values", "values", "elsewhere"),
    [
        pytest.param(
            {},
            {"start_time": datetime.time(13), "end_time": datetime.time(15)},
            False,
            id="back to back",
        ),
        pytest.param({}, {"weekday": Weekday.TUESDAY}, True, id="another weekday"),
        pytest.param(
            {"valid_until": datetime.date(2026, 6, 30)},
            {"valid_from": datetime.date(2026, 7, 1)},
            True,
            id="disjoint validity periods",
        ),
        pytest.param(
            {"valid_from": datetime.date(2026, 7, 1)},
            {"valid_from": datetime.date(2026, 1, 1), "valid_until": datetime.date(2026, 6, 30)},
            False,
            id="disjoint validity periods, the new one first",
        ),
    ],
)
def test_working_hours_that_do_not_overlap(monday_block, existing_values, values, elsewhere):
    change(monday_block, **existing_values).save()

    second_block(monday_block, elsewhere=elsewhere, **values).full_clean()


def test_two_practitioners_may_work_the_same_hours(monday_block):
    colleague = PractitionerFactory(clinic=monday_block.practitioner.clinic)

    WorkingHoursFactory.build(practitioner=colleague, location=monday_block.location).full_clean()


def test_a_saved_block_does_not_overlap_itself(monday_block):
    monday_block.full_clean()


# --- Time off ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            lambda time_off: {"location": LocationFactory(clinic=time_off.practitioner.clinic)},
            {
                "location": [
                    "Leave the location empty for a practitioner's time off; "
                    "set only the location for a closure."
                ]
            },
            id="both practitioner and location",
        ),
        pytest.param(
            lambda time_off: {"practitioner": None},
            {
                "practitioner": [
                    "Choose a practitioner (time off) or a location "
                    "(closure of the whole location)."
                ]
            },
            id="neither practitioner nor location",
        ),
        pytest.param(
            lambda time_off: {"end": time_off.start - datetime.timedelta(hours=1)},
            {"end": ["The end must be after the start."]},
            id="end before start",
        ),
        pytest.param(
            lambda time_off: {"end": time_off.start},
            {"end": ["The end must be after the start."]},
            id="end at start",
        ),
    ],
)
def test_time_off_clean(values, expected):
    time_off = TimeOffFactory()
    change(time_off, **values(time_off))

    assert validation_messages(time_off) == expected


@pytest.mark.parametrize("closure", [False, True], ids=["practitioner's leave", "closure"])
def test_time_off_of_one_practitioner_or_one_location_is_valid(closure):
    TimeOffFactory(closure=closure).full_clean()


# --- Patients ------------------------------------------------------------------------------

MINOR_GUARDIAN = "a parent or guardian (the patient is a minor)"


@pytest.mark.parametrize(
    ("traits", "values", "expected"),
    [
        pytest.param(
            {},
            {"national_id": "12.345.678-5"},
            {"national_id_type": ["Choose which document this national ID comes from."]},
            id="national id without type",
        ),
        pytest.param(
            {},
            {"national_id_type": IdentityDocument.RUT},
            {"national_id": ["Enter the document number, or clear the ID type."]},
            id="type without national id",
        ),
        pytest.param(
            {"animal": True},
            {"species": ""},
            {"species": ["This is a veterinary clinic: enter the animal's species."]},
            id="veterinary patient without species",
        ),
        pytest.param(
            {"animal": True},
            {"guardian_name": "", "guardian_phone": ""},
            {
                "guardian_name": ["Enter the name of the owner."],
                "guardian_phone": ["Enter a phone or an email for the owner."],
            },
            id="veterinary patient without owner",
        ),
        pytest.param(
            {},
            {"species": "cat"},
            {"species": ["Only veterinary clinics have animal patients; clear the species."]},
            id="human patient with species",
        ),
        pytest.param(
            {"minor": True},
            {"guardian_name": "", "guardian_phone": ""},
            {
                "guardian_name": [f"Enter the name of {MINOR_GUARDIAN}."],
                "guardian_phone": [f"Enter a phone or an email for {MINOR_GUARDIAN}."],
            },
            id="minor without guardian",
        ),
    ],
)
def test_patient_clean(traits, values, expected):
    patient = change(PatientFactory(**traits), **values)

    assert validation_messages(patient) == expected


def test_patient_born_in_the_future():
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    patient = change(PatientFactory(), birth_date=tomorrow)

    assert validation_messages(patient)["birth_date"] == [
        "The birth date is in the future; check the year."
    ]


def test_patient_born_in_the_future_is_only_told_to_check_the_year():
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    patient = change(PatientFactory(), birth_date=tomorrow)

    assert validation_messages(patient) == {
        "birth_date": ["The birth date is in the future; check the year."]
    }


@pytest.mark.parametrize(
    ("traits", "values"),
    [
        pytest.param({}, {}, id="adult"),
        pytest.param({}, {"birth_date": None}, id="adult of unknown age"),
        pytest.param({"minor": True}, {}, id="minor with guardian"),
        pytest.param(
            {"minor": True},
            {"guardian_phone": "", "guardian_email": "lucila@example.com"},
            id="minor with guardian email only",
        ),
        pytest.param({"animal": True}, {}, id="animal with owner"),
    ],
)
def test_valid_patients(traits, values):
    change(PatientFactory(**traits), **values).full_clean()


# --- Names unique per clinic (or location) -------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "owner", "message"),
    [
        (LocationFactory, "clinic", "This clinic already has a location with this name."),
        (SpecialtyFactory, "clinic", "This clinic already has a specialty with this name."),
        (
            AppointmentTypeFactory,
            "clinic",
            "This clinic already has an appointment type with this name.",
        ),
        (RoomFactory, "location", "This location already has a room with this name."),
    ],
    ids=["location", "specialty", "appointment type", "room"],
)
def test_duplicate_name(factory, owner, message):
    original = factory()
    duplicate = factory.build(name=original.name, **{owner: getattr(original, owner)})

    assert validation_messages(duplicate) == {NON_FIELD: [message]}

    factory(name=original.name).full_clean()  # the same name elsewhere is fine


def test_duplicate_membership():
    membership = ClinicMembershipFactory()
    duplicate = ClinicMembershipFactory.build(user=membership.user, clinic=membership.clinic)

    assert validation_messages(duplicate) == {
        NON_FIELD: ["This user is already a member of this clinic."]
    }


def test_duplicate_national_id():
    patient = PatientFactory(national_id_type=IdentityDocument.RUT, national_id="12.345.678-5")
    duplicate = PatientFactory.build(
        clinic=patient.clinic, national_id_type=IdentityDocument.RUT, national_id="12.345.678-5"
    )

    assert validation_messages(duplicate) == {
        NON_FIELD: ["Another patient of this clinic has this national ID."]
    }


# --- Appointment types and appointments ----------------------------------------------------


def test_appointment_type_with_specialty_of_another_clinic():
    appointment_type = change(AppointmentTypeFactory(), specialty=SpecialtyFactory())

    assert validation_messages(appointment_type) == {
        "specialty": ["Choose a specialty of this clinic."]
    }


def test_a_factory_appointment_is_consistent():
    appointment = AppointmentFactory()

    appointment.full_clean()
    assert appointment.start > timezone.now()
    assert appointment.start.utcoffset() == datetime.timedelta(0)
    assert appointment.duration_minutes == 30
    assert {
        appointment.location.clinic,
        appointment.practitioner.clinic,
        appointment.room.location.clinic,
        appointment.patient.clinic,
        appointment.appointment_type.clinic,
    } == {appointment.clinic}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            lambda a: {"room": RoomFactory(location__clinic=a.clinic)},
            {"room": ["Choose a room at the appointment's location."]},
            id="room at another location",
        ),
        pytest.param(
            lambda a: {"room": None},
            {"room": ["An in-person appointment needs a room."]},
            id="in person without room",
        ),
        pytest.param(
            lambda a: {"patient": PatientFactory()},
            {"patient": ["Choose a patient of this clinic."]},
            id="patient of another clinic",
        ),
        pytest.param(
            lambda a: {"practitioner": PractitionerFactory()},
            {"practitioner": ["Choose a practitioner of this clinic."]},
            id="practitioner of another clinic",
        ),
        pytest.param(
            lambda a: {"location": LocationFactory()},
            {
                "location": ["Choose a location of this clinic."],
                "room": ["Choose a room at the appointment's location."],
            },
            id="location of another clinic",
        ),
        pytest.param(
            lambda a: {"appointment_type": AppointmentTypeFactory()},
            {"appointment_type": ["Choose an appointment type of this clinic."]},
            id="appointment type of another clinic",
        ),
        pytest.param(
            lambda a: {"assistant": PractitionerFactory()},
            {"assistant": ["Choose an assistant of this clinic."]},
            id="assistant of another clinic",
        ),
        pytest.param(
            lambda a: {"assistant": a.practitioner},
            {"assistant": ["The assistant must be someone other than the practitioner."]},
            id="assisted by its own practitioner",
        ),
        pytest.param(
            lambda a: {"end": a.start},
            {"end": ["The end must be after the start."]},
            id="end at start",
        ),
    ],
)
def test_appointment_clean(values, expected):
    appointment = AppointmentFactory()
    change(appointment, **values(appointment))

    assert validation_messages(appointment) == expected


def test_video_appointment_needs_no_room():
    change(AppointmentFactory(), modality=Modality.VIDEO, room=None).full_clean()


def test_appointment_assisted_by_a_colleague():
    appointment = AppointmentFactory()
    appointment.assistant = PractitionerFactory(clinic=appointment.clinic)

    appointment.full_clean()


# --- Access scope --------------------------------------------------------------------------


@pytest.mark.parametrize("model", CLINIC_OWNED, ids=lambda model: model.__name__)
def test_every_model_of_the_app_is_scoped_to_clinics(model):
    assert model in access.CLINIC_PATHS


SCOPED_MODELS = list(access.CLINIC_PATHS)


@pytest.fixture
def other_clinic(db):
    return ClinicFactory(name="Clinique Lyon")


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda model: model.__name__)
def test_scope_of_a_manager_is_their_own_clinic(model, clinic, other_clinic, manager):
    own = make_in_clinic(model, clinic)
    others = make_in_clinic(model, other_clinic)

    visible = set(access.scope(model.objects.all(), manager, roles=access.MANAGING_ROLES))

    assert own in visible
    assert others not in visible


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda model: model.__name__)
def test_scope_of_a_superuser_is_everything(model, clinic, other_clinic, superuser):
    make_in_clinic(model, clinic)
    make_in_clinic(model, other_clinic)

    assert set(access.scope(model.objects.all(), superuser)) == set(model.objects.all())


@pytest.mark.parametrize("model", SCOPED_MODELS, ids=lambda model: model.__name__)
def test_scope_of_an_anonymous_user_is_nothing(model, clinic):
    make_in_clinic(model, clinic)

    assert not access.scope(model.objects.all(), AnonymousUser()).exists()


def test_scope_of_an_inactive_member_is_nothing(clinic):
    membership = ClinicMembershipFactory(clinic=clinic, user__is_active=False)
    PatientFactory(clinic=clinic)

    assert not access.scope(Patient.objects.all(), membership.user).exists()


def test_scope_by_role(clinic):
    receptionist = ClinicMembershipFactory(clinic=clinic, role=Role.RECEPTIONIST).user
    patient = PatientFactory(clinic=clinic)

    assert list(access.scope(Patient.objects.all(), receptionist)) == [patient]
    assert not access.scope(
        Patient.objects.all(), receptionist, roles=access.MANAGING_ROLES
    ).exists()


def test_scope_of_a_member_of_two_clinics(clinic, other_clinic):
    user = UserFactory()
    ClinicMembershipFactory(user=user, clinic=clinic)
    ClinicMembershipFactory(user=user, clinic=other_clinic)
    ClinicFactory()

    assert set(access.scope(Clinic.objects.all(), user)) == {clinic, other_clinic}


def test_time_off_is_scoped_by_practitioner_or_by_location(clinic, other_clinic, manager):
    leave = TimeOffFactory(practitioner__clinic=clinic)
    closure = TimeOffFactory(closure=True, location__clinic=clinic)
    TimeOffFactory(practitioner__clinic=other_clinic)
    TimeOffFactory(closure=True, location__clinic=other_clinic)

    visible = access.scope(TimeOff.objects.all(), manager, roles=access.MANAGING_ROLES)

    assert set(visible) == {leave, closure}


def test_scope_does_not_duplicate_rows(clinic, manager):
    """The OR of two clinic paths (TimeOff) must not return a row twice."""
    TimeOffFactory.create_batch(3, practitioner__clinic=clinic)

    visible = access.scope(TimeOff.objects.all(), manager)

    assert visible.count() == 3
    assert len(list(visible)) == 3


def test_appointment_types_of_a_clinic(clinic, manager):
    own = AppointmentTypeFactory(clinic=clinic)
    AppointmentTypeFactory()

    assert list(access.scope(AppointmentType.objects.all(), manager)) == [own]


@pytest.mark.parametrize(
    ("day", "valid_from", "valid_until", "applies"),
    [
        (datetime.date(2027, 1, 4), None, None, True),  # a Monday, open-ended
        (datetime.date(2027, 1, 5), None, None, False),  # a Tuesday
        (datetime.date(2027, 1, 4), datetime.date(2027, 1, 4), None, True),
        (datetime.date(2027, 1, 4), datetime.date(2027, 1, 5), None, False),
        (datetime.date(2027, 1, 4), None, datetime.date(2027, 1, 4), True),
        (datetime.date(2027, 1, 4), None, datetime.date(2027, 1, 3), False),
    ],
)
def test_working_hours_apply_on_their_weekday_within_their_validity(
    day, valid_from, valid_until, applies
):
    block = WorkingHours(weekday=0, valid_from=valid_from, valid_until=valid_until)

    assert block.applies_on(day) is applies
