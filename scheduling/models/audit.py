from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from scheduling.models.appointments import Appointment
from scheduling.models.clinics import Clinic
from scheduling.models.people import Patient

APPEND_ONLY = "The audit trail is append-only: its rows are never changed or deleted."


class AppendOnly(PermissionDenied):
    """An attempt to change or delete audit rows."""


class AuditAction(models.TextChoices):
    VIEWED = "viewed", "Viewed"
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    CANCELLED = "cancelled", "Cancelled"
    REGISTERED = "registered", "Registered"
    DELETED = "deleted", "Deleted"
    SIGNED_IN = "signed_in", "Signed in"
    SIGNED_OUT = "signed_out", "Signed out"
    SIGN_IN_FAILED = "sign_in_failed", "Sign-in failed"
    LOCKED_OUT = "locked_out", "Locked out"
    TOKEN_ISSUED = "token_issued", "API token issued"
    TOKEN_REVOKED = "token_revoked", "API token revoked"
    CONNECTION_CHANGED = "connection_changed", "PMS connection changed"


class AuditEventQuerySet(models.QuerySet):
    """Rows are only ever added: bulk updates and deletes are refused too."""

    def update(self, **kwargs: object) -> int:
        raise AppendOnly(APPEND_ONLY)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly(APPEND_ONLY)

    delete.queryset_only = True  # type: ignore[attr-defined]


def _kept_reference(model: type[models.Model] | str, **kwargs: object) -> models.ForeignKey:
    """A reference that outlives its record: no database constraint, nothing done on delete,
    so an audit row still names the patient or appointment that was deleted (and never
    changes when something it names does)."""
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # the composite indexes below lead with these columns
        null=True,
        blank=True,
        related_name="+",
        **kwargs,
    )


class AuditEvent(models.Model):
    """Who viewed, created, changed, cancelled or deleted what, when and from which address;
    and sign-ins, failures, lock-outs, API tokens and PMS connection changes (DESIGN §9).

    Written by `scheduling.audit` (at most one insert per request), never changed or
    deleted. `changes` holds {"before": {...}, "after": {...}} for a change, or what a list
    showed ({"count": n, "ids": [...]}) for a view; never a secret (patient data may be
    here: the audit stays in the database, never in logs)."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = _kept_reference(settings.AUTH_USER_MODEL)
    username = models.CharField(max_length=150, blank=True, help_text="As it was then.")
    clinic = _kept_reference(Clinic)
    action = models.CharField(max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(
        max_length=100, blank=True, help_text="app_label.model, e.g. scheduling.appointment."
    )
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True, verbose_name="object")
    patient = _kept_reference(Patient)
    appointment = _kept_reference(Appointment)
    address = models.CharField(
        max_length=255, blank=True, help_text="The client's address as the request saw it."
    )
    changes = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit event"
        default_permissions = ("view",)  # no add, change or delete: not even for superusers
        indexes = [
            models.Index(fields=["clinic", "at"]),
            models.Index(fields=["patient", "at"]),
            models.Index(fields=["appointment", "at"]),
            models.Index(fields=["user", "at"]),
        ]

    def __str__(self) -> str:
        who = self.username or "someone"
        what = f" {self.object_repr or self.object_type}" if self.object_type else ""
        return f"{who} {self.get_action_display().lower()}{what} at {self.at:%Y-%m-%d %H:%M} UTC"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly(APPEND_ONLY)
        kwargs["force_insert"] = True  # never an UPDATE, even with a primary key given
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly(APPEND_ONLY)
