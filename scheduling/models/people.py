import datetime
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling import national_ids, patient_search
from scheduling.models.clinics import Clinic, Location

ADULT_AGE_YEARS = 18
DUPLICATE_NATIONAL_ID = _("Another patient of this clinic has this national ID.")


class Specialty(models.Model):
    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="specialties", verbose_name=_("clinic")
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["name"]
        verbose_name = _("specialty")
        verbose_name_plural = _("specialties")
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="specialty_name_unique_per_clinic",
                violation_error_message=_("This clinic already has a specialty with this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Practitioner(models.Model):
    """A dentist, doctor, aesthetician or vet who sees patients."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="practitioners", verbose_name=_("clinic")
    )
    title = models.CharField(_("title"), max_length=20, blank=True, help_text=_("e.g. Dr., Dra."))
    given_name = models.CharField(_("given name"), max_length=80)
    family_name = models.CharField(_("family name"), max_length=80)
    specialties = models.ManyToManyField(
        Specialty, blank=True, related_name="practitioners", verbose_name=_("specialties")
    )
    locations = models.ManyToManyField(
        Location,
        blank=True,
        related_name="practitioners",
        verbose_name=_("locations"),
        help_text=_(
            "Where this practitioner works, besides the locations of their working "
            "hours (they count too)."
        ),
    )
    email = models.EmailField(_("email"), blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["family_name", "given_name"]
        verbose_name = _("practitioner")
        verbose_name_plural = _("practitioners")
        indexes = [models.Index(fields=["clinic", "family_name", "given_name"])]

    def __str__(self) -> str:
        return " ".join(part for part in (self.title, self.given_name, self.family_name) if part)


class Sex(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", pgettext_lazy("sex", "Other")
    UNKNOWN = "unknown", _("Unknown")


class IdentityDocument(models.TextChoices):
    RUT = "rut", _("RUT (Chile)")
    NIR = "nir", _("NIR / social security number (France)")
    DNI = "dni", _("DNI / national identity card")
    PASSPORT = "passport", _("Passport")
    OTHER = "other", pgettext_lazy("identity document", "Other")


FOLDED_FIELDS = ("family_name_folded", "given_name_folded")


class PatientQuerySet(models.QuerySet):
    """Bulk writes keep the patients' search terms and folded names, as `save` does."""

    def bulk_create(self, objs: Iterable["Patient"], *args: Any, **kwargs: Any) -> list:
        if kwargs.get("ignore_conflicts") or kwargs.get("update_conflicts"):
            # Rows skipped or merged by the database come back without a primary key.
            raise ValueError("Patients are bulk-created with their search terms: no conflicts.")
        patients = list(objs)
        for patient in patients:
            patient.fold_names()
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(patients, *args, **kwargs)
            write_search_terms(created, using=self.db, replace=False)
        return created

    def bulk_update(
        self, objs: Iterable["Patient"], fields: Sequence[str], *args: Any, **kwargs: Any
    ) -> int:
        patients = list(objs)
        if patient_search.SEARCHED_FIELDS.isdisjoint(fields):
            return super().bulk_update(patients, fields, *args, **kwargs)
        for patient in patients:
            patient.fold_names()
        with transaction.atomic(using=self.db, savepoint=False):
            fields = list(dict.fromkeys([*fields, *FOLDED_FIELDS]))
            rows = super().bulk_update(patients, fields, *args, **kwargs)
            write_search_terms(patients, using=self.db, replace=True)
        return rows


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
    # Without accents, case or punctuation (scheduling/patient_search.py): search results are
    # ordered by them, likely duplicates compared by them.
    family_name_folded = models.CharField(
        max_length=patient_search.FOLDED_LENGTH, editable=False, default=""
    )
    given_name_folded = models.CharField(
        max_length=patient_search.FOLDED_LENGTH, editable=False, default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "phone"]),
            models.Index(fields=["clinic", "national_id"]),
            models.Index(
                fields=["clinic", "birth_date", "family_name_folded"],
                name="patient_same_birth_date",
            ),
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

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saved with its search terms and folded names (unless `update_fields` names none
        of the fields they come from)."""
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and patient_search.SEARCHED_FIELDS.isdisjoint(update_fields):
            super().save(*args, **kwargs)
            return
        self.fold_names()
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, *FOLDED_FIELDS}
        adding = self._state.adding
        using = kwargs.get("using") or router.db_for_write(Patient, instance=self)
        with transaction.atomic(using=using, savepoint=False):
            super().save(*args, **kwargs)
            write_search_terms([self], using=using, replace=not adding)

    def fold_names(self) -> None:
        self.family_name_folded, self.given_name_folded = patient_search.folded_names(self)

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
        """The patient's own rules; a national ID of a document with a rule (RUT, NIR, DNI:
        scheduling.national_ids) has a right check digit or letter. The ID is kept as written
        (an imported one as its PMS writes it: re-imports compare it); registering stores
        its usual form (scheduling.patients.register_patient)."""
        errors: dict[str, Any] = {}
        today = timezone.localdate()
        if self.birth_date and self.birth_date > today:
            errors["birth_date"] = gettext("The birth date is in the future; check the year.")
        if self.national_id and not self.national_id_type:
            errors["national_id_type"] = gettext(
                "Choose which document this national ID comes from."
            )
        if self.national_id_type and not self.national_id:
            errors["national_id"] = gettext("Enter the document number, or clear the ID type.")
        if self.national_id and self.national_id_type:
            try:
                national_ids.validated(self.national_id_type, self.national_id)
            except ValidationError as error:
                errors["national_id"] = error
        veterinary = self.clinic_id is not None and self.clinic.is_veterinary
        if veterinary and not self.species:
            errors["species"] = gettext("This is a veterinary clinic: enter the animal's species.")
        if not veterinary and self.species:
            errors["species"] = gettext(
                "Only veterinary clinics have animal patients; clear the species."
            )
        age = self.age_on(today)
        minor = age is not None and 0 <= age < ADULT_AGE_YEARS
        if veterinary:
            no_name = gettext("Enter the name of the owner.")
            no_contact = gettext("Enter a phone or an email for the owner.")
        elif minor:
            no_name = gettext("Enter the name of a parent or guardian (the patient is a minor).")
            no_contact = gettext(
                "Enter a phone or an email for a parent or guardian (the patient is a minor)."
            )
        if veterinary or minor:
            if not self.guardian_name:
                errors["guardian_name"] = no_name
            if not (self.guardian_phone or self.guardian_email):
                errors["guardian_phone"] = no_contact
        if errors:
            raise ValidationError(errors)


class PatientSearchTerm(models.Model):
    """One thing a patient is found by: a word of a name, the national ID, a phone's digits
    last first (scheduling/patient_search.py). Written with the patient, never by hand."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="+", db_index=False, verbose_name=_("clinic")
    )  # the index below starts with it
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="search_terms", verbose_name=_("patient")
    )
    kind = models.PositiveSmallIntegerField(_("kind"), choices=patient_search.TermKind.choices)
    value = models.CharField(_("value"), max_length=patient_search.TERM_LENGTH)
    # The patient's folded names (patient_search.sort_name): a search orders thousands of
    # matching terms by it without reading their patients.
    sort_name = models.CharField(_("sort name"), max_length=patient_search.SORT_LENGTH)

    class Meta:
        verbose_name = _("patient search term")
        verbose_name_plural = _("patient search terms")
        indexes = [
            # A typed word is a range of values (its prefix) within a clinic and a kind; with
            # the patient and sort name in the index, a search never reads the rows.
            models.Index(
                fields=["clinic", "kind", "value", "patient", "sort_name"],
                name="patient_search_term",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


def write_search_terms(patients: Sequence[Patient], *, using: str, replace: bool) -> None:
    """The patients' search terms, from their current values (`replace`: instead of the
    ones they had)."""
    if replace:
        PatientSearchTerm.objects.using(using).filter(
            patient__in=[patient.pk for patient in patients]
        ).delete()
    PatientSearchTerm.objects.using(using).bulk_create(
        [
            PatientSearchTerm(
                clinic_id=patient.clinic_id,
                patient_id=patient.pk,
                kind=kind,
                value=value,
                sort_name=patient_search.sort_name(
                    patient.family_name_folded, patient.given_name_folded
                ),
            )
            for patient in patients
            for kind, value in sorted(patient_search.patient_terms(patient))
        ],
        batch_size=2000,
    )
