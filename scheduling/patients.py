"""Finding and registering patients at the desk."""

from django.db.models import Q, QuerySet

from scheduling.models import Clinic, Patient

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
