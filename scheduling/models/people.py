import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from scheduling.models.clinics import Clinic, Location

ADULT_AGE_YEARS = 18
DUPLICATE_NATIONAL_ID = "Another patient of this clinic has this national ID."


class Specialty(models.Model):
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="specialties")
    name = models.CharField(max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "specialties"
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="specialty_name_unique_per_clinic",
                violation_error_message="This clinic already has a specialty with this name.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Practitioner(models.Model):
    """A dentist, doctor, aesthetician or vet who sees patients."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="practitioners")
    title = models.CharField(max_length=20, blank=True, help_text="e.g. Dr., Dra.")
    given_name = models.CharField(max_length=80)
    family_name = models.CharField(max_length=80)
    specialties = models.ManyToManyField(Specialty, blank=True, related_name="practitioners")
    locations = models.ManyToManyField(
        Location,
        blank=True,
        related_name="practitioners",
        help_text="Where this practitioner works, besides the locations of their working "
        "hours (they count too).",
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [models.Index(fields=["clinic", "family_name", "given_name"])]

    def __str__(self) -> str:
        return " ".join(part for part in (self.title, self.given_name, self.family_name) if part)


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class IdentityDocument(models.TextChoices):
    RUT = "rut", "RUT (Chile)"
    NIR = "nir", "NIR / social security number (France)"
    DNI = "dni", "DNI / national identity card"
    PASSPORT = "passport", "Passport"
    OTHER = "other", "Other"


class Patient(models.Model):
    """A person, or an animal whose owner is the contact (veterinary clinics)."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="patients")
    given_name = models.CharField(max_length=80, help_text="For an animal: its name.")
    family_name = models.CharField(
        max_length=80, help_text="For an animal: the owner's family name."
    )
    preferred_name = models.CharField(
        max_length=80, blank=True, help_text="Preferred or social name, shown instead."
    )
    birth_date = models.DateField(null=True, blank=True)
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    national_id = models.CharField(max_length=40, blank=True, verbose_name="national ID")
    national_id_type = models.CharField(
        max_length=20, choices=IdentityDocument.choices, blank=True, verbose_name="national ID type"
    )
    species = models.CharField(
        max_length=40, blank=True, help_text="Animals only, e.g. dog, cat, rabbit."
    )
    breed = models.CharField(max_length=80, blank=True)
    guardian_name = models.CharField(
        max_length=160, blank=True, verbose_name="owner / guardian name"
    )
    guardian_relationship = models.CharField(
        max_length=40, blank=True, help_text="e.g. owner, mother, legal guardian."
    )
    guardian_phone = models.CharField(
        max_length=40, blank=True, verbose_name="owner / guardian phone"
    )
    guardian_email = models.EmailField(blank=True, verbose_name="owner / guardian email")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "phone"]),
            models.Index(fields=["clinic", "national_id"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "national_id_type", "national_id"],
                condition=~Q(national_id=""),
                name="patient_national_id_unique_per_clinic",
                violation_error_message=DUPLICATE_NATIONAL_ID,
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.species:
            return f"{self.preferred_name or self.given_name} ({self.species}, {self.family_name})"
        return f"{self.preferred_name or self.given_name} {self.family_name}"

    def age_on(self, day: datetime.date) -> int | None:
        if self.birth_date is None:
            return None
        before_birthday = (day.month, day.day) < (self.birth_date.month, self.birth_date.day)
        return day.year - self.birth_date.year - before_birthday

    def clean(self) -> None:
        errors: dict[str, str] = {}
        today = timezone.localdate()
        if self.birth_date and self.birth_date > today:
            errors["birth_date"] = "The birth date is in the future; check the year."
        if self.national_id and not self.national_id_type:
            errors["national_id_type"] = "Choose which document this national ID comes from."
        if self.national_id_type and not self.national_id:
            errors["national_id"] = "Enter the document number, or clear the ID type."
        veterinary = self.clinic_id is not None and self.clinic.is_veterinary
        if veterinary and not self.species:
            errors["species"] = "This is a veterinary clinic: enter the animal's species."
        if not veterinary and self.species:
            errors["species"] = "Only veterinary clinics have animal patients; clear the species."
        age = self.age_on(today)
        minor = age is not None and 0 <= age < ADULT_AGE_YEARS
        needs_guardian = veterinary or minor
        if needs_guardian:
            who = "the owner" if veterinary else "a parent or guardian (the patient is a minor)"
            if not self.guardian_name:
                errors["guardian_name"] = f"Enter the name of {who}."
            if not (self.guardian_phone or self.guardian_email):
                errors["guardian_phone"] = f"Enter a phone or an email for {who}."
        if errors:
            raise ValidationError(errors)
