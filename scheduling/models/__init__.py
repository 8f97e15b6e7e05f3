from scheduling.models.api import ApiToken, IdempotencyRecord
from scheduling.models.appointments import (
    ACTIVE_STATUSES,
    MAX_BUFFER_MINUTES,
    MAX_DURATION_MINUTES,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AppointmentType,
)
from scheduling.models.audit import AuditAction, AuditEvent
from scheduling.models.clinics import (
    Clinic,
    ClinicKind,
    ClinicMembership,
    Location,
    Role,
    UserPreferences,
)
from scheduling.models.modality import Modality, ModalityOffer
from scheduling.models.people import (
    IdentityDocument,
    Patient,
    PatientSearchTerm,
    Practitioner,
    Sex,
    Specialty,
)
from scheduling.models.reasons import CancelReason
from scheduling.models.rooms import Room, RoomKind
from scheduling.models.schedules import TimeOff, Weekday, WorkingHours
from scheduling.models.sessions import UserSession

__all__ = [
    "ACTIVE_STATUSES",
    "MAX_BUFFER_MINUTES",
    "MAX_DURATION_MINUTES",
    "ApiToken",
    "Appointment",
    "AppointmentEvent",
    "AppointmentStatus",
    "AppointmentType",
    "AuditAction",
    "AuditEvent",
    "CancelReason",
    "Clinic",
    "ClinicKind",
    "ClinicMembership",
    "IdempotencyRecord",
    "IdentityDocument",
    "Location",
    "Modality",
    "ModalityOffer",
    "Patient",
    "PatientSearchTerm",
    "Practitioner",
    "Role",
    "Room",
    "RoomKind",
    "Sex",
    "Specialty",
    "TimeOff",
    "UserPreferences",
    "UserSession",
    "Weekday",
    "WorkingHours",
]
