"""Finding and registering patients at the desk."""

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from scheduling import audit
from scheduling.models import Clinic, Patient
from scheduling.models.people import DUPLICATE_NATIONAL_ID

# What a desk or an app may fill in when registering a patient (the rest is the clinic's).
REGISTRATION_FIELDS = (
    "given_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "national_id_type",
    "national_id",
    "species",
    "breed",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
    "guardian_email",
)
# Fields that only make sense for a person, and for an animal (veterinary clinics).
PERSON_FIELDS = ("preferred_name", "national_id_type", "national_id", "guardian_relationship")
ANIMAL_FIELDS = ("species", "breed")

SEARCH_FIELDS = (
    "given_name",
    "family_name",
    "preferred_name",
    "phone",
    "national_id",
    "guardian_name",
    "guardian_phone",
)


def search_patients(clinic: Clinic, text: str, *, limit: int = 10) -> QuerySet[Patient]:
    """Patients of the clinic matching every word of `text` in a name, a phone or an ID."""
    patients = Patient.objects.filter(clinic=clinic)
    words = text.split()
    if not words:
        return patients.none()
    for word in words[:5]:
        condition = Q()
        for field in SEARCH_FIELDS:
            condition |= Q(**{f"{field}__icontains": word})
        patients = patients.filter(condition)
    return patients.order_by("family_name", "given_name", "pk")[:limit]


def register_patient(*, clinic: Clinic, **fields: Any) -> Patient:
    """A new patient of the clinic, checked by the model's rules (full_clean), whichever
    page or endpoint registers them; audited (by the request's user)."""
    patient = Patient(clinic=clinic, **fields)
    patient.full_clean()
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:
        # Another desk registered the same national ID between the check and the save.
        raise ValidationError(DUPLICATE_NATIONAL_ID) from error
    audit.record(
        audit.Action.REGISTERED,
        patient,
        object_repr=patient.display_name,
        changes={"after": {field: audit.plain(getattr(patient, field)) for field in fields}},
    )
    return patient
