import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.models.clinics import Location
from scheduling.models.modality import ModalityOffer
from scheduling.models.people import Practitioner


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


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
        Practitioner,
        on_delete=models.CASCADE,
        related_name="working_hours",
        verbose_name=_("practitioner"),
    )
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="working_hours", verbose_name=_("location")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("start time"), help_text=_("Local time at the location."))
    end_time = models.TimeField(_("end time"), help_text=_("Local time at the location."))
    slot_interval_minutes = models.PositiveSmallIntegerField(
        _("slot interval minutes"),
        default=15,
        help_text=_("Appointments start every this many minutes."),
    )
    modality = models.CharField(
        _("modality"), max_length=10, choices=ModalityOffer.choices, default=ModalityOffer.IN_PERSON
    )
    valid_from = models.DateField(
        _("valid from"), null=True, blank=True, help_text=_("Empty: since always.")
    )
    valid_until = models.DateField(
        _("valid until"), null=True, blank=True, help_text=_("Empty: until further notice.")
    )

    class Meta:
        ordering = ["practitioner", "weekday", "start_time"]
        verbose_name = pgettext_lazy("one block", "working hours")
        verbose_name_plural = pgettext_lazy("several blocks", "working hours")
        indexes = [models.Index(fields=["location", "weekday"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_time__gt=F("start_time")),
                name="working_hours_end_after_start",
                violation_error_message=_("The end time must be after the start time."),
            ),
            models.CheckConstraint(
                condition=Q(slot_interval_minutes__gt=0),
                name="working_hours_interval_positive",
                violation_error_message=_("The slot interval must be at least one minute."),
            ),
            models.CheckConstraint(
                condition=Q(weekday__gte=0, weekday__lte=6),
                name="working_hours_weekday_valid",
                violation_error_message=_("The weekday must be Monday to Sunday."),
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_until__gte=F("valid_from")),
                name="working_hours_validity_ordered",
                violation_error_message=_("“Valid until” must not be before “valid from”."),
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
        return gettext("%(weekday)s %(start)s–%(end)s at %(location)s") % {
            "weekday": self.get_weekday_display(),
            "start": f"{self.start_time:%H:%M}",
            "end": f"{self.end_time:%H:%M}",
            "location": self.location,
        }

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
                errors["end_time"] = gettext(
                    "The end time must be after the start time (blocks cannot cross midnight)."
                )
            elif self.slot_interval_minutes:
                length = _minutes(self.end_time) - _minutes(self.start_time)
                if length % self.slot_interval_minutes:
                    errors["slot_interval_minutes"] = gettext(
                        "A %(interval)d-minute interval does not divide this %(length)d-minute "
                        "block; change the interval or the end time."
                    ) % {"interval": self.slot_interval_minutes, "length": length}
        if self.slot_interval_minutes == 0:
            errors["slot_interval_minutes"] = gettext(
                "The slot interval must be at least one minute."
            )
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            errors["valid_until"] = gettext("“Valid until” must not be before “valid from”.")
        practitioner = self._practitioner_or_none()
        if (
            practitioner is not None
            and self.location_id
            and self.location.clinic_id != practitioner.clinic_id
        ):
            errors["location"] = gettext("Choose a location of the practitioner's own clinic.")
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
                    gettext(
                        "These hours overlap the practitioner's block %(block)s; a practitioner "
                        "cannot work two blocks at the same time."
                    )
                    % {"block": other}
                )


class TimeOff(models.Model):
    """Leave of one practitioner, or a closure of a whole location."""

    practitioner = models.ForeignKey(
        Practitioner,
        on_delete=models.CASCADE,
        related_name="time_off",
        null=True,
        blank=True,
        verbose_name=_("practitioner"),
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        related_name="closures",
        null=True,
        blank=True,
        verbose_name=_("location"),
        help_text=_("Set for a closure of the whole location."),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["start"]
        verbose_name = _("time off / closure")
        verbose_name_plural = _("time off and closures")
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["location", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=F("start")),
                name="time_off_end_after_start",
                violation_error_message=_("The end must be after the start."),
            ),
            models.CheckConstraint(
                condition=Q(practitioner__isnull=False, location__isnull=True)
                | Q(practitioner__isnull=True, location__isnull=False),
                name="time_off_practitioner_xor_location",
                violation_error_message=_(
                    "Choose either a practitioner (time off) or a location (closure), not both."
                ),
            ),
        ]

    def __str__(self) -> str:
        who = self.practitioner or gettext("%(location)s closed") % {"location": self.location}
        return gettext("%(who)s: %(start)s–%(end)s UTC") % {
            "who": who,
            "start": f"{self.start:%Y-%m-%d %H:%M}",
            "end": f"{self.end:%Y-%m-%d %H:%M}",
        }

    def clean(self) -> None:
        if self.start and self.end and self.end <= self.start:
            raise ValidationError({"end": gettext("The end must be after the start.")})
        # In an admin inline the parent may not be saved yet: look at the objects, not the ids.
        has_practitioner = self.practitioner is not None
        has_location = self.location is not None
        if has_practitioner and has_location:
            raise ValidationError(
                {
                    "location": gettext(
                        "Leave the location empty for a practitioner's time off; set only the "
                        "location for a closure."
                    )
                }
            )
        if not has_practitioner and not has_location:
            raise ValidationError(
                {
                    "practitioner": gettext(
                        "Choose a practitioner (time off) or a location (closure of the whole "
                        "location)."
                    )
                }
            )
