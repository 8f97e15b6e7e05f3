"""The clinic's cancellation reasons (`CancelReason`): the defaults a clinic starts with,
what the desk and the API offer, and the words a cancellation records.

A cancellation stores text (`Appointment.cancellation_reason`, also sent to the PMS): the
chosen reason's label, the receptionist's own words, or both ("Patient unwell — has the
flu"). The text, not a link to the reason, so that renaming or retiring a reason later
never rewrites what was recorded, and every PMS gets words it can show.
"""

from collections.abc import Sequence

from django.db.models import QuerySet
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from scheduling import access
from scheduling.errors import RuleViolation
from scheduling.models import Appointment, CancelReason, Clinic, ClinicKind

# The field a reason's errors are reported on, in the desk's form and in the API.
FIELD = "reason_id"
SEPARATOR = " — "
POSITION_STEP = 10  # gaps, so that a manager can put a reason between two defaults

CONTEXT = "cancellation reason"
BOOKED_BY_MISTAKE = pgettext_lazy(CONTEXT, "Booked by mistake")
RESCHEDULED = pgettext_lazy(CONTEXT, "Rescheduled")
DEFAULT_LABELS: dict[str, Sequence[Promise]] = {
    "people": (
        pgettext_lazy(CONTEXT, "Patient asked"),
        pgettext_lazy(CONTEXT, "Patient unwell"),
        pgettext_lazy(CONTEXT, "Practitioner unavailable"),
        BOOKED_BY_MISTAKE,
        RESCHEDULED,
    ),
    ClinicKind.VETERINARY: (
        pgettext_lazy(CONTEXT, "Owner asked"),
        pgettext_lazy(CONTEXT, "Animal unwell"),
        pgettext_lazy(CONTEXT, "Vet unavailable"),
        BOOKED_BY_MISTAKE,
        RESCHEDULED,
    ),
}


def default_labels(*, kind: str, language: str) -> list[str]:
    """The default reasons of a clinic of `kind`, in `language`."""
    labels = DEFAULT_LABELS.get(kind, DEFAULT_LABELS["people"])
    with translation.override(language):
        return [str(label) for label in labels]


def ensure_default_reasons(clinic: Clinic) -> int:
    """Give a clinic without any cancellation reason the defaults, in the clinic's language;
    a clinic with reasons keeps its own list (its managers may have removed defaults on
    purpose). Returns how many reasons were added."""
    if clinic.cancel_reasons.exists():
        return 0
    labels = default_labels(kind=clinic.kind, language=clinic.language)
    CancelReason.objects.bulk_create(
        [
            CancelReason(clinic=clinic, label=label, position=POSITION_STEP * number)
            for number, label in enumerate(labels, start=1)
        ],
        ignore_conflicts=True,  # another process adding the same defaults meanwhile
    )
    return len(labels)


def offered_reasons(clinic: Clinic) -> QuerySet[CancelReason]:
    """The reasons a receptionist may choose from, in the clinic's order."""
    return CancelReason.objects.filter(clinic=clinic, active=True).order_by(
        "position", "label", "pk"
    )


def visible_reasons(user: access.User) -> QuerySet[CancelReason]:
    """Every reason of the user's clinics (what an API request may name)."""
    clinics = access.scope(Clinic.objects.all(), user)
    return CancelReason.objects.filter(clinic__in=clinics.values("pk"))


def offered_to(user: access.User) -> QuerySet[CancelReason]:
    """The reasons the user's clinics offer, clinic by clinic in each one's order."""
    return (
        visible_reasons(user)
        .filter(active=True)
        .order_by("clinic__name", "clinic_id", "position", "label", "pk")
    )


def reason_text(appointment: Appointment, *, preset: CancelReason | None, details: str) -> str:
    """What a cancellation records: the preset's label, the details, or both. A preset of
    another clinic, or one no longer offered, is refused (RuleViolation on FIELD); an empty
    result is left to the booking service, which requires a reason."""
    details = details.strip()
    if preset is None:
        return details
    if preset.clinic_id != appointment.clinic_id:
        raise RuleViolation({FIELD: _("Choose a cancellation reason of this clinic.")})
    if not preset.active:
        raise RuleViolation(
            {
                FIELD: _("“%(reason)s” is no longer offered; choose another reason.")
                % {"reason": preset.label}
            }
        )
    return f"{preset.label}{SEPARATOR}{details}" if details else preset.label
