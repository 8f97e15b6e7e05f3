import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from scheduling.models.clinics import Location
from scheduling.models.modality import ModalityOffer
from scheduling.models.people import Practitioner


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


def applies_on(
    day: datetime.date,
    *,
    weekday: int,
    valid_from: datetime.date | None,
    valid_until: datetime.date | None,
) -> bool:
    """Whether a weekly block (its weekday and validity period) is worked on `day`."""
    return (
        day.weekday() == weekday
        and (valid_from is None or valid_from <= day)
        and (valid_until is None or day <= valid_until)
    )


def _minutes(value: datetime.time) -> int:
    return value.hour * 60 + value.minute


class WorkingHours(models.Model):
    """A weekly block of a practitioner at a location, in the location's wall time."""

    practitioner = models.ForeignKey(
        Practitioner, on_delete=models.CASCADE, related_name="working_hours"
    )
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    start_time = models.TimeField(help_text="Local time at the location.")
    end_time = models.TimeField(help_text="Local time at the location.")
    slot_interval_minutes = models.PositiveSmallIntegerField(
        default=15, help_text="Appointments start every this many minutes."
    )
    modality = models.CharField(
        max_length=10, choices=ModalityOffer.choices, default=ModalityOffer.IN_PERSON
    )
    valid_from = models.DateField(null=True, blank=True, help_text="Empty: since always.")
    valid_until = models.DateField(null=True, blank=True, help_text="Empty: until further notice.")

    class Meta:
        ordering = ["practitioner", "weekday", "start_time"]
        verbose_name = "working hours"
        verbose_name_plural = "working hours"
        indexes = [models.Index(fields=["location", "weekday"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="working_hours_end_after_start",
                violation_error_message="The end time must be after the start time.",
            ),
            models.CheckConstraint(
                condition=Q(slot_interval_minutes__gt=0),
                name="working_hours_interval_positive",
                violation_error_message="The slot interval must be at least one minute.",
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="working_hours_weekday_valid",
                violation_error_message="The weekday must be Monday to Sunday.",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="working_hours_validity_ordered",
                violation_error_message="“Valid until” must not be before “valid from”.",
            ),
        ]

    # What makes a weekly block, in the order the slot engine reads and the admin shows it.
    BLOCK_FIELDS = (
        "weekday",
        "start_time",
        "end_time",
        "slot_interval_minutes",
        "modality",
        "valid_from",
        "valid_until",
    )

    # Set by a form set that holds all of the practitioner's blocks and compares them itself
    # (the database still has the rows as they were before the save).
    siblings_checked_by_form = False

    def __str__(self) -> str:
        return (
            f"{self.get_weekday_display()} {self.start_time:%H:%M}–{self.end_time:%H:%M}"
            f" at {self.location}"
        )

    def applies_on(self, day: datetime.date) -> bool:
        """Whether this block is worked on `day` (its weekday, within its validity)."""
        return applies_on(
            day, weekday=self.weekday, valid_from=self.valid_from, valid_until=self.valid_until
        )

    def overlaps(self, other: "WorkingHours") -> bool:
        """Same practitioner, same weekday, overlapping times and validity periods."""
        if self.practitioner_id != other.practitioner_id or self.weekday != other.weekday:
            return False
        if not (self.start_time < other.end_time and other.start_time < self.end_time):
            return False
        starts = [d for d in (self.valid_from, other.valid_from) if d]
        ends = [d for d in (self.valid_until, other.valid_until) if d]
        return not (starts and ends and max(starts) > min(ends))

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.start_time and self.end_time:
            if self.end_time <= self.start_time:
                errors["end_time"] = (
                    "The end time must be after the start time (blocks cannot cross midnight)."
                )
            elif self.slot_interval_minutes:
                length = _minutes(self.end_time) - _minutes(self.start_time)
                if length % self.slot_interval_minutes:
                    errors["slot_interval_minutes"] = (
                        f"A {self.slot_interval_minutes}-minute interval does not divide this "
                        f"{length}-minute block; change the interval or the end time."
                    )
        if self.slot_interval_minutes == 0:
            errors["slot_interval_minutes"] = "The slot interval must be at least one minute."
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = "“Valid until” must not be before “valid from”."
        practitioner = self._practitioner_or_none()
        if (
            practitioner is not None
            and self.location_id
            and self.location.clinic_id != practitioner.clinic_id
        ):
            errors["location"] = "Choose a location of the practitioner's own clinic."
        if errors:
            raise ValidationError(errors)
        if self.practitioner_id and self.start_time and self.end_time:
            if self.siblings_checked_by_form:
                return
            siblings = WorkingHours.objects.filter(
                practitioner_id=self.practitioner_id, weekday=self.weekday
            ).exclude(pk=self.pk)
            self.check_no_overlap(siblings)

    def _practitioner_or_none(self) -> Practitioner | None:
        # In an admin inline on the "add practitioner" page the practitioner is not saved yet.
        try:
            return self.practitioner
        except Practitioner.DoesNotExist:
            return None

    def check_no_overlap(self, others: Iterable["WorkingHours"]) -> None:
        for other in others:
            if other is not self and self.overlaps(other):
                raise ValidationError(
                    f"These hours overlap the practitioner's block {other}; "
                    "a practitioner cannot work two blocks at the same time."
                )


class TimeOff(models.Model):
    """Leave of one practitioner, or a closure of a whole location."""

    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.CASCADE,
        related_name="time_off",
        null=True,
        blank=True,
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        help_text="Set for a closure of the whole location.",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = "time off / closure"
        verbose_name_plural = "time off and closures"
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["location", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="time_off_end_after_start",
                violation_error_message="The end must be after the start.",
            ),
            models.CheckConstraint(
                condition=Q(practitioner__isnull=False, location__isnull=True)
                | Q(practitioner__isnull=True, location__isnull=False),
                name="time_off_practitioner_xor_location",
                violation_error_message="Choose either a practitioner (time off) or a location "
                "(closure), not both.",
            ),
        ]

    def __str__(self) -> str:
        who = self.practitioner or f"{self.location} closed"
        return f"{who}: {self.start:%Y-%m-%d %H:%M}–{self.end:%Y-%m-%d %H:%M} UTC"

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": "The end must be after the start."})
        # In an admin inline the parent may not be saved yet: look at the objects, not the ids.
        has_practitioner = self.practitioner is not None
        has_location = self.location is not None
        if has_practitioner and has_location:
            raise ValidationError(
                {
                    "location": "Leave the location empty for a practitioner's time off; "
                    "set only the location for a closure."
                }
            )
        if not has_practitioner and not has_location:
            raise ValidationError(
                {
                    "practitioner": "Choose a practitioner (time off) or a location (closure "
                    "of the whole location)."
                }
            )
