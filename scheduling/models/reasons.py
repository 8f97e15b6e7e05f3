from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduling.models.clinics import Clinic


class CancelReason(models.Model):
    """A reason a receptionist picks when cancelling: the clinic's own list, in its words,
    kept by its managers in the admin. A cancellation records the words (see
    `scheduling.cancel_reasons.reason_text`), so renaming or retiring a reason never
    rewrites past cancellations."""

    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.CASCADE,
        related_name="cancel_reasons",
        verbose_name=_("clinic"),
    )
    label = models.CharField(_("label"), max_length=120)
    active = models.BooleanField(
        _("active"),
        default=True,
        help_text=_("Only active reasons are offered when cancelling."),
    )
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Reasons are offered from the lowest number up.")
    )

    class Meta:
        ordering = ["position", "label"]
        verbose_name = _("cancellation reason")
        verbose_name_plural = _("cancellation reasons")
        indexes = [
            models.Index(fields=["clinic", "position"], name="cancel_reason_clinic_position")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "label"],
                name="cancel_reason_label_unique_per_clinic",
                violation_error_message=_(
                    "This clinic already has a cancellation reason with this label."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.label
