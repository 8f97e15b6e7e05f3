from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.models.clinics import Clinic, Location
from scheduling.models.modality import Modality, ModalityOffer
from scheduling.models.people import Patient, Practitioner, Specialty
from scheduling.models.rooms import Room

MAX_DURATION_MINUTES = 24 * 60
MAX_BUFFER_MINUTES = 240

# What to say when a record named in a booking belongs to another clinic.
OF_THIS_CLINIC = {
    "location": _("Choose a location of this clinic."),
    "practitioner": _("Choose a practitioner of this clinic."),
    "patient": _("Choose a patient of this clinic."),
    "appointment_type": _("Choose an appointment type of this clinic."),
    "assistant": _("Choose an assistant of this clinic."),
}


def outside_clinic(clinic_id: int | None, **records: models.Model | None) -> dict[str, str]:
    """A message per named record (location, practitioner, patient, appointment type,
    assistant) that belongs to a clinic other than `clinic_id`."""
    if not clinic_id:
        return {}
    return {
        field: str(OF_THIS_CLINIC[field])
        for field, record in records.items()
        if record is not None and record.clinic_id != clinic_id
    }


class AppointmentType(models.Model):
    """A kind of visit: sets the default duration, the buffers and the modalities."""

    clinic = models.ForeignKey(
        Clinic,
        on_delete=models.CASCADE,
        related_name="appointment_types",
        verbose_name=_("clinic"),
    )
    name = models.CharField(_("name"), max_length=120)
    specialty = models.ForeignKey(
        Specialty,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="appointment_types",
        verbose_name=_("specialty"),
    )
    default_duration_minutes = models.PositiveSmallIntegerField(
        _("default duration minutes"),
        default=30,
        validators=[MaxValueValidator(MAX_DURATION_MINUTES)],
    )
    buffer_before_minutes = models.PositiveSmallIntegerField(
        _("buffer before minutes"),
        default=0,
        validators=[MaxValueValidator(MAX_BUFFER_MINUTES)],
        help_text=_("Time kept free before the appointment (set-up)."),
    )
    buffer_after_minutes = models.PositiveSmallIntegerField(
        _("buffer after minutes"),
        default=0,
        validators=[MaxValueValidator(MAX_BUFFER_MINUTES)],
        help_text=_("Time kept free after the appointment (cleaning, notes)."),
    )
    modalities = models.CharField(
        max_length=10,
        choices=ModalityOffer.choices,
        default=ModalityOffer.IN_PERSON,
        verbose_name=_("allowed modalities"),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("appointment type")
        verbose_name_plural = _("appointment types")
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "name"],
                name="appointment_type_name_unique_per_clinic",
                violation_error_message=_(
                    "This clinic already has an appointment type with this name."
                ),
            ),
            models.CheckConstraint(
                condition=Q(default_duration_minutes__gt=0),
                name="appointment_type_duration_positive",
                violation_error_message=_("The default duration must be at least one minute."),
            ),
            models.CheckConstraint(
                condition=Q(default_duration_minutes__lte=MAX_DURATION_MINUTES),
                name="appointment_type_duration_at_most_a_day",
                violation_error_message=_("The default duration must be at most 24 hours."),
            ),
            models.CheckConstraint(
                condition=Q(
                    buffer_before_minutes__lte=MAX_BUFFER_MINUTES,
                    buffer_after_minutes__lte=MAX_BUFFER_MINUTES,
                ),
                name="appointment_type_buffers_at_most_four_hours",
                violation_error_message=_("Buffers must be at most 240 minutes."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.specialty_id and self.clinic_id and self.specialty.clinic_id != self.clinic_id:
            raise ValidationError({"specialty": gettext("Choose a specialty of this clinic.")})


class AppointmentStatus(models.TextChoices):
    UNCONFIRMED = "unconfirmed", pgettext_lazy("appointment status", "Unconfirmed")
    CONFIRMED = "confirmed", pgettext_lazy("appointment status", "Confirmed")
    ARRIVED = "arrived", pgettext_lazy("appointment status", "Arrived")
    COMPLETED = "completed", pgettext_lazy("appointment status", "Completed")
    CANCELLED = "cancelled", pgettext_lazy("appointment status", "Cancelled")
    NO_SHOW = "no_show", pgettext_lazy("appointment status", "No-show")


ACTIVE_STATUSES = (
    AppointmentStatus.UNCONFIRMED,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.ARRIVED,
    AppointmentStatus.COMPLETED,
)


class Appointment(models.Model):
    """A booked visit. Times are aware and stored in UTC; pages show the location's zone."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="appointments", verbose_name=_("clinic")
    )
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("location")
    )
    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.PROTECT,
        related_name="appointments",
        verbose_name=_("practitioner"),
    )
    room = models.ForeignKey(
        Room,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("room"),
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("patient")
    )
    appointment_type = models.ForeignKey(
        AppointmentType,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("appointment type"),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    # start/end widened by the type's buffers at booking time: what the practitioner and
    # the room are kept free for. The database's overlap guards compare these.
    busy_from = models.DateTimeField(_("busy from"), editable=False)
    busy_until = models.DateTimeField(_("busy until"), editable=False)
    overflow = models.BooleanField(
        _("overflow"),
        default=False,
        editable=False,
        help_text=_("Booked through an overflow room: may overlap the practitioner's agenda."),
    )
    modality = models.CharField(
        _("modality"), max_length=10, choices=Modality.choices, default=Modality.IN_PERSON
    )
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.UNCONFIRMED,
    )
    comment = models.TextField(_("comment"), max_length=1000, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    assistant = models.ForeignKey(
        Practitioner,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assisted_appointments",
        verbose_name=_("assistant"),
    )
    follow_up_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_ups",
        verbose_name=_("follow up of"),
    )
    cancellation_reason = models.CharField(_("cancellation reason"), max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        indexes = [
            # Overlap look-ups ask "busy_until > t1 and busy_from < t2": with busy_until
            # second, the scan starts at t1 and only walks later appointments.
            models.Index(fields=["practitioner", "busy_until"]),
            models.Index(fields=["room", "busy_until"]),
            models.Index(fields=["patient", "end"]),
            models.Index(fields=["location", "start"]),
            models.Index(fields=["clinic", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="appointment_end_after_start",
                violation_error_message=_("The end must be after the start."),
            ),
            models.CheckConstraint(
                condition=Q(busy_from__lte=F("start"), busy_until__gte=F("end")),
                name="appointment_busy_covers_visit",
            ),
            models.CheckConstraint(
                condition=Q(assistant__isnull=True) | ~Q(assistant=F("practitioner")),
                name="appointment_assistant_not_practitioner",
                violation_error_message=_(
                    "The assistant must be someone other than the practitioner."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status__in=AppointmentStatus.values),
                name="appointment_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(modality__in=Modality.values),
                name="appointment_modality_valid",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(patient)s with %(practitioner)s at %(start)s UTC") % {
            "patient": self.patient,
            "practitioner": self.practitioner,
            "start": f"{self.start:%Y-%m-%d %H:%M}",
        }

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Appointment:
        appointment = super().from_db(db, field_names, values)
        # Where it was busy as loaded: a save that moves it frees that time in the
        # availability cache too (scheduling.slot_cache).
        appointment.stored_busy = appointment.busy()
        return appointment

    def busy(self) -> tuple[int, int, datetime.datetime, datetime.datetime] | None:
        """(location, practitioner, busy from, busy until); None if one was not loaded."""
        fields = self.__dict__
        try:
            return (
                fields["location_id"],
                fields["practitioner_id"],
                fields["busy_from"],
                fields["busy_until"],
            )
        except KeyError:
            return None

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def clean(self) -> None:
        """Row-level consistency; the booking rules themselves live in the booking service."""
        errors: dict[str, str] = {}
        if self.start and self.end and self.end <= self.start:
            errors["end"] = gettext("The end must be after the start.")
        errors.update(
            outside_clinic(
                self.clinic_id,
                **{
                    field: getattr(self, field) if getattr(self, f"{field}_id") else None
                    for field in OF_THIS_CLINIC
                },
            )
        )
        if self.room_id and self.location_id and self.room.location_id != self.location_id:
            errors["room"] = gettext("Choose a room at the appointment's location.")
        if self.assistant_id and self.assistant_id == self.practitioner_id:
            errors["assistant"] = gettext(
                "The assistant must be someone other than the practitioner."
            )
        if self.modality == Modality.IN_PERSON and not self.room_id:
            errors["room"] = gettext("An in-person appointment needs a room.")
        if errors:
            raise ValidationError(errors)


class AppointmentEvent(models.Model):
    """What happened to an appointment, by whom and when: its history."""

    class Action(models.TextChoices):
        BOOKED = "booked", pgettext_lazy("appointment event", "Booked")
        RESCHEDULED = "rescheduled", pgettext_lazy("appointment event", "Rescheduled")
        CONFIRMED = "confirmed", pgettext_lazy("appointment event", "Confirmed")
        ARRIVED = "arrived", pgettext_lazy("appointment event", "Arrived")
        COMPLETED = "completed", pgettext_lazy("appointment event", "Completed")
        CANCELLED = "cancelled", pgettext_lazy("appointment event", "Cancelled")
        NO_SHOW = "no_show", pgettext_lazy("appointment event", "Marked no-show")

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("appointment")
    )
    action = models.CharField(_("action"), max_length=12, choices=Action.choices)
    from_status = models.CharField(
        _("from status"), max_length=12, choices=AppointmentStatus.choices, blank=True
    )
    to_status = models.CharField(_("to status"), max_length=12, choices=AppointmentStatus.choices)
    details = models.JSONField(_("details"), default=dict, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )

    class Meta:
        ordering = ["at", "pk"]
        verbose_name = _("appointment event")
        verbose_name_plural = _("appointment events")
        indexes = [models.Index(fields=["appointment", "at"])]

    def __str__(self) -> str:
        return gettext("%(action)s at %(at)s UTC") % {
            "action": self.get_action_display(),
            "at": f"{self.at:%Y-%m-%d %H:%M}",
        }
