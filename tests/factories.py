"""factory-boy factories for every model of the clinic domain.

Related records always belong to the same clinic: sub-factories take their clinic (or
location, or practitioner) from the record being built.
"""

import datetime
from collections.abc import Callable
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AppointmentType,
    AuditAction,
    AuditEvent,
    CancelReason,
    Clinic,
    ClinicKind,
    ClinicMembership,
    Location,
    Modality,
    ModalityOffer,
    Patient,
    PatientSearchTerm,
    Practitioner,
    Role,
    Room,
    RoomKind,
    Sex,
    Specialty,
    TimeOff,
    Weekday,
    WorkingHours,
)
from scheduling.models.api import hash_token
from vendors.models import (
    Delivery,
    DeliveryAttempt,
    ExternalId,
    Operation,
    PmsBusy,
    Vendor,
    VendorConnection,
)

PASSWORD = "correct horse battery staple"


def days_ahead_at(days: int, hour: int) -> datetime.datetime:
    """An aware UTC datetime `days` from now, on the hour."""
    day = timezone.now().astimezone(datetime.UTC) + datetime.timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def years_ago(years: int) -> datetime.date:
    today = timezone.localdate()
    return datetime.date(today.year - years, 1, 1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)
    is_active = True

    class Params:
        staff = factory.Trait(is_staff=True)
        superuser = factory.Trait(is_staff=True, is_superuser=True)


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.LazyAttribute(lambda clinic: slugify(clinic.name))
    kind = ClinicKind.MEDICAL

    class Params:
        veterinary = factory.Trait(kind=ClinicKind.VETERINARY)


class ClinicMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicMembership

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Role.RECEPTIONIST


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Location {n}")
    time_zone = "America/Santiago"
    address = factory.Sequence(lambda n: f"Avenida Providencia {1000 + n}, Santiago")
    phone = "+56 2 2345 6789"


class SpecialtyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Specialty

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Specialty {n}")


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    clinic = factory.SubFactory(ClinicFactory)
    title = "Dra."
    given_name = factory.Sequence(lambda n: f"Isabel{n}")
    family_name = factory.Sequence(lambda n: f"Allende{n}")
    email = factory.LazyAttribute(lambda p: f"{p.given_name}.{p.family_name}@example.com".lower())


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Room {n}")
    kind = RoomKind.ROOM
    is_overflow = False


class PatientFactory(factory.django.DjangoModelFactory):
    """An adult human by default; `animal=True` for a veterinary patient, `minor=True` for
    a child with a guardian."""

    class Meta:
        model = Patient

    clinic = factory.SubFactory(ClinicFactory)
    given_name = factory.Sequence(lambda n: f"Gabriela{n}")
    family_name = factory.Sequence(lambda n: f"Mistral{n}")
    birth_date = datetime.date(1985, 4, 7)
    sex = Sex.FEMALE
    phone = factory.Sequence(lambda n: f"+56 9 5555 {n:04d}")
    email = factory.LazyAttribute(lambda p: f"{p.given_name}.{p.family_name}@example.com".lower())

    class Params:
        animal = factory.Trait(
            clinic=factory.SubFactory(ClinicFactory, veterinary=True),
            given_name=factory.Sequence(lambda n: f"Firulais{n}"),
            birth_date=datetime.date(2020, 3, 1),
            sex=Sex.MALE,
            species="dog",
            breed="Quiltro",
            email="",
            guardian_name=factory.LazyAttribute(lambda p: f"Ana {p.family_name}"),
            guardian_relationship="owner",
            guardian_phone="+56 9 8765 4321",
        )
        minor = factory.Trait(
            birth_date=factory.LazyFunction(lambda: years_ago(10)),
            guardian_name=factory.LazyAttribute(lambda p: f"Lucila {p.family_name}"),
            guardian_relationship="mother",
            guardian_phone="+56 9 8765 1234",
        )


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentType

    clinic = factory.SubFactory(ClinicFactory)
    name = factory.Sequence(lambda n: f"Consultation {n}")
    default_duration_minutes = 30
    modalities = ModalityOffer.IN_PERSON


class WorkingHoursFactory(factory.django.DjangoModelFactory):
    """Monday 09:00–13:00, a slot every 15 minutes, at a location of the practitioner's
    clinic."""

    class Meta:
        model = WorkingHours

    practitioner = factory.SubFactory(PractitionerFactory)
    location = factory.SubFactory(
        LocationFactory, clinic=factory.SelfAttribute("..practitioner.clinic")
    )
    weekday = Weekday.MONDAY
    start_time = datetime.time(9, 0)
    end_time = datetime.time(13, 0)
    slot_interval_minutes = 15
    modality = ModalityOffer.IN_PERSON


class TimeOffFactory(factory.django.DjangoModelFactory):
    """A practitioner's day off tomorrow (UTC); `closure=True` closes a whole location instead."""

    class Meta:
        model = TimeOff

    practitioner = factory.SubFactory(PractitionerFactory)
    location = None
    start = factory.LazyFunction(lambda: days_ahead_at(1, hour=0))
    end = factory.LazyAttribute(lambda t: t.start + datetime.timedelta(hours=24))
    reason = "Annual leave"

    class Params:
        closure = factory.Trait(
            practitioner=None,
            location=factory.SubFactory(LocationFactory),
            reason="Public holiday",
        )


class CancelReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CancelReason

    clinic = factory.SubFactory(ClinicFactory)
    label = factory.Sequence(lambda n: f"Reason {n}")
    position = factory.Sequence(lambda n: n * 10)


class AppointmentFactory(factory.django.DjangoModelFactory):
    """Thirty minutes next week, in person; every related record of one clinic."""

    class Meta:
        model = Appointment

    clinic = factory.SubFactory(ClinicFactory)
    location = factory.SubFactory(LocationFactory, clinic=factory.SelfAttribute("..clinic"))
    practitioner = factory.SubFactory(PractitionerFactory, clinic=factory.SelfAttribute("..clinic"))
    room = factory.SubFactory(RoomFactory, location=factory.SelfAttribute("..location"))
    patient = factory.SubFactory(PatientFactory, clinic=factory.SelfAttribute("..clinic"))
    appointment_type = factory.SubFactory(
        AppointmentTypeFactory, clinic=factory.SelfAttribute("..clinic")
    )
    start = factory.LazyFunction(lambda: days_ahead_at(7, hour=12))
    end = factory.LazyAttribute(lambda a: a.start + datetime.timedelta(minutes=30))
    busy_from = factory.SelfAttribute("start")
    busy_until = factory.SelfAttribute("end")
    busy_from = factory.LazyAttribute(
        lambda a: a.start - datetime.timedelta(minutes=buffer(a.appointment_type, "before"))
    )
    busy_until = factory.LazyAttribute(
        lambda a: a.end + datetime.timedelta(minutes=buffer(a.appointment_type, "after"))
    )
    modality = Modality.IN_PERSON
    status = AppointmentStatus.UNCONFIRMED


def buffer(appointment_type: AppointmentType | None, side: str) -> int:
    if appointment_type is None:
        return 0
    return getattr(appointment_type, f"buffer_{side}_minutes")


class AppointmentEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AppointmentEvent

    appointment = factory.SubFactory(AppointmentFactory)
    action = AppointmentEvent.Action.BOOKED
    from_status = ""
    to_status = AppointmentStatus.UNCONFIRMED
    by = None


class VendorConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorConnection

    clinic = factory.SubFactory(ClinicFactory)
    vendor = Vendor.TREATSVET
    base_url = "http://127.0.0.1:9/api/v1"
    secrets = factory.LazyFunction(lambda: {"api_key": "PMS_TEST_TREATSVET_API_KEY"})


class ExternalIdFactory(factory.django.DjangoModelFactory):
    """The vendor's ID of a practitioner of the connection's clinic."""

    class Meta:
        model = ExternalId

    connection = factory.SubFactory(VendorConnectionFactory)
    record = factory.SubFactory(
        PractitionerFactory, clinic=factory.SelfAttribute("..connection.clinic")
    )
    external_id = factory.Sequence(lambda n: f"ext-{n}")


class PmsBusyFactory(factory.django.DjangoModelFactory):
    """Half an hour a practitioner of the connection's clinic is busy in its PMS."""

    class Meta:
        model = PmsBusy

    connection = factory.SubFactory(VendorConnectionFactory)
    practitioner = factory.SubFactory(
        PractitionerFactory, clinic=factory.SelfAttribute("..connection.clinic")
    )
    start = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=1))
    end = factory.LazyAttribute(lambda busy: busy.start + datetime.timedelta(minutes=30))
    external_id = factory.Sequence(lambda n: f"pms-{n}")
    last_seen = factory.LazyFunction(timezone.now)


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    appointment = factory.SubFactory(AppointmentFactory)
    connection = factory.SubFactory(
        VendorConnectionFactory, clinic=factory.SelfAttribute("..appointment.clinic")
    )
    operation = Operation.BOOK


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    number = 1
    started_at = factory.LazyFunction(timezone.now)
    outcome = "synced"


class ApiTokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    digest = factory.Sequence(lambda n: hash_token(f"bd_key{n}"))
    prefix = factory.Sequence(lambda n: f"bd_key{n}"[:10])
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))


class AuditEventFactory(factory.django.DjangoModelFactory):
    """Someone viewed an appointment of the clinic."""

    class Meta:
        model = AuditEvent

    appointment = factory.SubFactory(AppointmentFactory)
    clinic = factory.SelfAttribute("appointment.clinic")
    patient = factory.SelfAttribute("appointment.patient")
    user = factory.SubFactory(UserFactory)
    username = factory.SelfAttribute("user.username")
    action = AuditAction.VIEWED
    object_type = "scheduling.appointment"
    object_id = factory.LazyAttribute(lambda event: str(event.appointment.pk))
    address = "192.0.2.10"


def map_ids(connection: VendorConnection, pairs: Any) -> None:
    """Map our records to the vendor's IDs at `connection`: (record, external ID[, role])."""
    for record, external_id, *role in pairs:
        ExternalId.objects.create(
            connection=connection,
            record=record,
            external_id=external_id,
            role=role[0] if role else "",
        )


def make_in_clinic(model: type[Model], clinic: Clinic, **kwargs: Any) -> Model:
    """One record of `model` that belongs to `clinic` (for scoping tests)."""
    makers: dict[type[Model], Callable[..., Model]] = {
        Clinic: lambda: clinic,
        ApiToken: lambda: ApiTokenFactory(
            user=ClinicMembershipFactory(clinic=clinic).user, **kwargs
        ),
        ClinicMembership: lambda: ClinicMembershipFactory(clinic=clinic, **kwargs),
        Location: lambda: LocationFactory(clinic=clinic, **kwargs),
        Specialty: lambda: SpecialtyFactory(clinic=clinic, **kwargs),
        Practitioner: lambda: PractitionerFactory(clinic=clinic, **kwargs),
        Room: lambda: RoomFactory(location__clinic=clinic, **kwargs),
        Patient: lambda: PatientFactory(clinic=clinic, **kwargs),
        # Written with their patient, never on their own.
        PatientSearchTerm: lambda: PatientFactory(clinic=clinic, **kwargs).search_terms.first(),
        AppointmentType: lambda: AppointmentTypeFactory(clinic=clinic, **kwargs),
        CancelReason: lambda: CancelReasonFactory(clinic=clinic, **kwargs),
        WorkingHours: lambda: WorkingHoursFactory(practitioner__clinic=clinic, **kwargs),
        TimeOff: lambda: TimeOffFactory(practitioner__clinic=clinic, **kwargs),
        Appointment: lambda: AppointmentFactory(clinic=clinic, **kwargs),
        AppointmentEvent: lambda: AppointmentEventFactory(appointment__clinic=clinic, **kwargs),
        AuditEvent: lambda: AuditEventFactory(appointment__clinic=clinic, **kwargs),
        VendorConnection: lambda: VendorConnectionFactory(clinic=clinic, **kwargs),
        ExternalId: lambda: ExternalIdFactory(connection__clinic=clinic, **kwargs),
        Delivery: lambda: DeliveryFactory(appointment__clinic=clinic, **kwargs),
        DeliveryAttempt: lambda: DeliveryAttemptFactory(
            delivery__appointment__clinic=clinic, **kwargs
        ),
        PmsBusy: lambda: PmsBusyFactory(connection__clinic=clinic, **kwargs),
    }
    return makers[model]()
