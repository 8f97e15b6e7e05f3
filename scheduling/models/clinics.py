import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduling.validators import validate_time_zone


class ClinicKind(models.TextChoices):
    DENTAL = "dental", _("Dental")
    AESTHETIC = "aesthetic", _("Aesthetic")
    MEDICAL = "medical", _("Medical")
    VETERINARY = "veterinary", _("Veterinary")


class Clinic(models.Model):
    """The tenant: owns every other record."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=ClinicKind.choices, default=ClinicKind.MEDICAL
    )
    allows_overflow_booking = models.BooleanField(
        _("allows overflow booking"),
        default=False,
        help_text=_(
            "Let receptionists double-book a practitioner through an overflow room "
            "(Dentalink's sobrecupo)."
        ),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_(
            "The desk's language for users who have not chosen their own "
            "(blank: each browser's language)."
        ),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("clinic")
        verbose_name_plural = _("clinics")

    def __str__(self) -> str:
        return self.name

    @property
    def is_veterinary(self) -> bool:
        return self.kind == ClinicKind.VETERINARY


class Location(models.Model):
    """A site of a clinic, with its own time zone; pages show its local time."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="locations", verbose_name=_("clinic")
    )
    name = models.CharField(_("name"), max_length=120)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        validators=[validate_time_zone],
        help_text=_("IANA time zone, e.g. America/Santiago or Europe/Paris."),
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["clinic__name", "name"]
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="location_name_unique_per_clinic",
                violation_error_message=_("This clinic already has a location with this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    RECEPTIONIST = "receptionist", _("Receptionist")
    MANAGER = "manager", _("Clinic manager")
    ADMIN = "admin", _("Administrator")


class ClinicMembership(models.Model):
    """Which clinics a user may see and book in, and as what."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="clinic_memberships",
        verbose_name=_("user"),
    )
    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("clinic")
    )
    role = models.CharField(
        _("role"), max_length=20, choices=Role.choices, default=Role.RECEPTIONIST
    )

    class Meta:
        ordering = ["clinic__name", "user__username"]
        verbose_name = _("clinic membership")
        verbose_name_plural = _("clinic memberships")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"],
                name="membership_unique_per_user_and_clinic",
                violation_error_message=_("This user is already a member of this clinic."),
            ),
        ]

    def __str__(self) -> str:
        return _("%(user)s — %(role)s at %(clinic)s") % {
            "user": self.user,
            "role": self.get_role_display(),
            "clinic": self.clinic,
        }


class UserPreferences(models.Model):
    """A desk user's own settings, whichever clinic they work in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="preferences",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_("Blank: the clinic's language."),
    )
    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("home clinic"),
        help_text=_("The clinic the desk opens in after signing in (blank: the first)."),
    )

    class Meta:
        verbose_name = _("user preferences")
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return str(self.user)
