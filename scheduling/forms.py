"""Forms that parse a person's input and hand it to the booking service."""

import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser

from scheduling import booking
from scheduling.errors import NON_FIELD, BookingError, SlotConflict
from scheduling.localtime import resolve_local
from scheduling.models import Appointment, Modality

OCCURRENCES = [
    ("", "—"),
    ("0", "The first one (before the clocks go back)"),
    ("1", "The second one (after the clocks go back)"),
]


def describe_slots(slots: list, location: Any) -> str:
    return ", ".join(f"{slot.start.astimezone(location.zone):%a %d %b %H:%M}" for slot in slots)


class BookingForm(forms.ModelForm):
    """A booking in the location's wall-clock time; the booking service checks every rule."""

    date = forms.DateField(help_text="In the location's time zone.")
    time = forms.TimeField(label="Start time", help_text="In the location's time zone.")
    occurrence = forms.TypedChoiceField(
        choices=OCCURRENCES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="Only when the clocks go back and this time happens twice.",
    )
    duration_minutes = forms.IntegerField(
        required=False, min_value=1, help_text="Empty: the appointment type's duration."
    )
    modality = forms.TypedChoiceField(
        choices=[("", "As the working hours allow"), *Modality.choices],
        required=False,
        empty_value=None,
    )

    class Meta:
        model = Appointment
        fields = [
            "location",
            "practitioner",
            "patient",
            "appointment_type",
            "room",
            "comment",
            "urgent",
            "assistant",
            "follow_up_of",
        ]

    booked_by: AbstractBaseUser | None = None
    field_of_error = {"start": "time", "reason": NON_FIELD}

    def _post_clean(self) -> None:
        """The booking service validates the whole booking in clean(), not the model."""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        location = cleaned["location"]
        try:
            start = resolve_local(
                datetime.datetime.combine(cleaned["date"], cleaned["time"]),
                location.zone,
                fold=cleaned.get("occurrence"),
                field="time",
            )
            self.instance = booking.book_appointment(
                location=location,
                practitioner=cleaned["practitioner"],
                patient=cleaned["patient"],
                start=start,
                appointment_type=cleaned.get("appointment_type"),
                duration_minutes=cleaned.get("duration_minutes"),
                room=cleaned.get("room"),
                modality=cleaned.get("modality"),
                comment=cleaned.get("comment", ""),
                urgent=cleaned.get("urgent", False),
                assistant=cleaned.get("assistant"),
                follow_up_of=cleaned.get("follow_up_of"),
                by=self.booked_by,
            )
        except BookingError as error:
            self.add_booking_error(error, location)
        return cleaned

    def add_booking_error(self, error: BookingError, location: Any) -> None:
        for field, messages in error.messages.items():
            field = self.field_of_error.get(field, field)
            self.add_error(field if field in self.fields else None, messages)
        if isinstance(error, SlotConflict) and error.alternatives:
            self.add_error(None, f"Free instead: {describe_slots(error.alternatives, location)}.")
