"""Which clinics a user may see: every page, admin screen and API call is scoped by these."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Model, Q, QuerySet

from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentType,
    AuditEvent,
    CancelReason,
    Clinic,
    ClinicMembership,
    Location,
    Patient,
    PatientSearchTerm,
    Practitioner,
    Role,
    Room,
    Specialty,
    TimeOff,
    WorkingHours,
)
from vendors.models import Delivery, DeliveryAttempt, ExternalId, PmsBusy, VendorConnection

User = AbstractBaseUser | AnonymousUser

# How each model reaches its clinic.
CLINIC_PATHS: dict[type[Model], tuple[str, ...]] = {
    Clinic: ("pk",),
    Location: ("clinic",),
    Specialty: ("clinic",),
    Practitioner: ("clinic",),
    Patient: ("clinic",),
    PatientSearchTerm: ("clinic",),
    AppointmentType: ("clinic",),
    CancelReason: ("clinic",),
    Appointment: ("clinic",),
    AppointmentEvent: ("appointment__clinic",),
    ClinicMembership: ("clinic",),
    Room: ("location__clinic",),
    WorkingHours: ("practitioner__clinic",),
    TimeOff: ("practitioner__clinic", "location__clinic"),
    VendorConnection: ("clinic",),
    ExternalId: ("connection__clinic",),
    Delivery: ("appointment__clinic",),
    DeliveryAttempt: ("delivery__appointment__clinic",),
    PmsBusy: ("connection__clinic",),
    AuditEvent: ("clinic",),  # rows of no clinic (sign-ins, tokens): superusers only
}

MANAGING_ROLES = (Role.MANAGER, Role.ADMIN)


def clinic_ids(user: User, *, roles: tuple[str, ...] | None = None) -> QuerySet:
    """IDs of the clinics the user belongs to (with one of `roles`, if given)."""
    memberships = ClinicMembership.objects.filter(user_id=user.pk)
    if roles is not None:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("clinic_id")


def scope(queryset: QuerySet, user: User, *, roles: tuple[str, ...] | None = None) -> QuerySet:
    """Restrict a queryset of a clinic-owned model to the user's clinics.

    Superusers see everything; anonymous users see nothing.
    """
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    allowed = clinic_ids(user, roles=roles)
    condition = Q()
    for path in CLINIC_PATHS[queryset.model]:
        condition |= Q(**{f"{path}__in": allowed})
    return queryset.filter(condition)
