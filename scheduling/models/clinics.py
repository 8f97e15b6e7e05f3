import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduling.validators import validate_time_zone


class ClinicKind(models.TextChoices):
    DENTAL = "dental", "Dental"
    AESTHETIC = "aesthetic", "Aesthetic"
    MEDICAL = "medical", "Medical"
    VETERINARY = "veterinary", "Veterinary"


class Clinic(models.Model):
    """The tenant: owns every other record."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    kind = models.CharField(max_length=20, choices=ClinicKind.choices, default=ClinicKind.MEDICAL)
    allows_overflow_booking = models.BooleanField(
        default=False,
        help_text="Let receptionists double-book a practitioner through an overflow room "
        "(Dentalink's sobrecupo).",
    )
    language = models.CharField(
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        help_text=_(
            "The desk's language for users who have not chosen their own "
            "(blank: each browser's language)."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_veterinary(self) -> bool:
        return self.kind == ClinicKind.VETERINARY


class Location(models.Model):
    """A site of a clinic, with its own time zone; pages show its local time."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="locations")
    name = models.CharField(max_length=120)
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. America/Santiago or Europe/Paris.",
    )
    address = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="location_name_unique_per_clinic",
                violation_error_message="This clinic already has a location with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)


class Role(models.TextChoices):
    RECEPTIONIST = "receptionist", "Receptionist"
    MANAGER = "manager", "Clinic manager"
    ADMIN = "admin", "Administrator"


class ClinicMembership(models.Model):
    """Which clinics a user may see and book in, and as what."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clinic_memberships"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.RECEPTIONIST)

    class Meta:
        ordering = ["clinic__name", "user__username"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "clinic"],
                name="membership_unique_per_user_and_clinic",
                violation_error_message="This user is already a member of this clinic.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.clinic}"


class UserPreferences(models.Model):
    """A desk user's own settings, whichever clinic they work in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    language = models.CharField(
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
