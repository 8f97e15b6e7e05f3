from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.models.appointments import Appointment
from scheduling.models.clinics import Clinic
from scheduling.models.people import Patient

APPEND_ONLY = _("The audit trail is append-only: its rows are never changed or deleted.")


class AppendOnly(PermissionDenied):
    """An attempt to change or delete audit rows."""


class AuditAction(models.TextChoices):
    VIEWED = "viewed", pgettext_lazy("audit action", "Viewed")
    CREATED = "created", pgettext_lazy("audit action", "Created")
    CHANGED = "changed", pgettext_lazy("audit action", "Changed")
    CANCELLED = "cancelled", pgettext_lazy("audit action", "Cancelled")
    REGISTERED = "registered", pgettext_lazy("audit action", "Registered")
    DELETED = "deleted", pgettext_lazy("audit action", "Deleted")
    SIGNED_IN = "signed_in", pgettext_lazy("audit action", "Signed in")
    SIGNED_OUT = "signed_out", pgettext_lazy("audit action", "Signed out")
    SIGN_IN_FAILED = "sign_in_failed", pgettext_lazy("audit action", "Sign-in failed")
    LOCKED_OUT = "locked_out", pgettext_lazy("audit action", "Locked out")
    TOKEN_ISSUED = "token_issued", pgettext_lazy("audit action", "API token issued")
    TOKEN_REVOKED = "token_revoked", pgettext_lazy("audit action", "API token revoked")
    CONNECTION_CHANGED = (
        "connection_changed",
        pgettext_lazy("audit action", "PMS connection changed"),
    )


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

    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    user = _kept_reference(settings.AUTH_USER_MODEL, verbose_name=_("user"))
    username = models.CharField(
        _("username"), max_length=150, blank=True, help_text=_("As it was then.")
    )
    clinic = _kept_reference(Clinic, verbose_name=_("clinic"))
    action = models.CharField(_("action"), max_length=20, choices=AuditAction.choices)
    object_type = models.CharField(
        _("object type"),
        max_length=100,
        blank=True,
        help_text=_("app_label.model, e.g. scheduling.appointment."),
    )
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(max_length=200, blank=True, verbose_name=_("object"))
    patient = _kept_reference(Patient, verbose_name=_("patient"))
    appointment = _kept_reference(Appointment, verbose_name=_("appointment"))
    address = models.CharField(
        _("address"),
        max_length=255,
        blank=True,
        help_text=_("The client's address as the request saw it."),
    )
    changes = models.JSONField(_("changes"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        default_permissions = ("view",)  # no add, change or delete: not even for superusers
        indexes = [
            models.Index(fields=["clinic", "at"]),
            models.Index(fields=["patient", "at"]),
            models.Index(fields=["appointment", "at"]),
            models.Index(fields=["user", "at"]),
        ]

    def __str__(self) -> str:
        values = {
            "who": self.username or gettext("someone"),
            "action": self.get_action_display().lower(),
            "at": f"{self.at:%Y-%m-%d %H:%M}",
        }
        if self.object_type:
            values["what"] = self.object_repr or self.object_type
            return gettext("%(who)s %(action)s %(what)s at %(at)s UTC") % values
        return gettext("%(who)s %(action)s at %(at)s UTC") % values

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise AppendOnly(APPEND_ONLY)
        kwargs["force_insert"] = True  # never an UPDATE, even with a primary key given
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise AppendOnly(APPEND_ONLY)
