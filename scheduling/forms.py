"""Forms that parse a person's input and hand it to the booking service."""

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import QueryDict

from scheduling import booking
from scheduling.errors import NON_FIELD, BookingError, RuleViolation, SlotConflict, no_such
from scheduling.localtime import DAY_OUT_OF_RANGE, UTC, day_in_range, resolve_local
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Clinic,
    Location,
    Modality,
    Patient,
    Practitioner,
    Room,
    Specialty,
)
from scheduling.patients import (
    ANIMAL_FIELDS,
    PERSON_FIELDS,
    REGISTRATION_FIELDS,
    register_patient,
)
from scheduling.selectors import practitioners_at

OCCURRENCES = [
    ("", "—"),
    ("0", "The first one (before the clocks go back)"),
    ("1", "The second one (after the clocks go back)"),
]


def describe_slots(slots: list, location: Any) -> str:
    return ", ".join(f"{slot.start.astimezone(location.zone):%a %d %b %H:%M}" for slot in slots)


def add_booking_error(
    form: forms.BaseForm, error: BookingError, field_of_error: Mapping[str, str | None]
) -> None:
    """The booking service's messages, each next to the form's field it names (else on top)."""
    for field, messages in error.messages.items():
        field = field_of_error.get(field, field)
        form.add_error(field if field in form.fields else None, messages)


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
        # An unknown or foreign ID gets the message the desk and the API give.
        error_messages = {
            name: {"invalid_choice": no_such(model)}
            for name, model in {
                "location": Location,
                "practitioner": Practitioner,
                "patient": Patient,
                "appointment_type": AppointmentType,
                "room": Room,
            }.items()
        }

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
        add_booking_error(self, error, self.field_of_error)
        if isinstance(error, SlotConflict) and error.alternatives:
            self.add_error(None, f"Free instead: {describe_slots(error.alternatives, location)}.")


# -- the desk ------------------------------------------------------------------------------
#
# The desk's forms parse what a receptionist submitted; rule messages come from the booking
# service (mapped to fields by `add_booking_error`), date bounds from scheduling.localtime.

DATE_FORMAT = "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."
CHOOSE_PATIENT = "Choose a patient, or register a new one."
CHOOSE_TYPE = "Choose an appointment type."
CHOOSE_SLOT = "Choose a time in the list of free slots."
CHOOSE_FREE_TIME = "Choose one of the free times."
CHOOSE_ACTION = "Choose one of the actions offered for this appointment."
CHOOSE_WHO = "Choose a practitioner or a specialty."
CHOOSE_LOCATION = "Choose a location from the list."


class DayField(forms.DateField):
    """A local date (YYYY-MM-DD) a person asks about, within scheduling.localtime's bounds."""

    default_error_messages = {"invalid": DATE_FORMAT}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def validate(self, value: datetime.date | None) -> None:
        super().validate(value)
        if value is not None and not day_in_range(value):
            raise forms.ValidationError(DAY_OUT_OF_RANGE, code="out_of_range")


class InstantField(forms.Field):
    """A chosen slot's start as the page posts it: ISO 8601 with an offset, within the date
    bounds. With `zone`, a wall-clock time without offset is also accepted and resolved at
    the location by scheduling.localtime (a DST gap or fold is refused with its message)."""

    def __init__(self, *, message: str, zone: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": message, "invalid": message})
        super().__init__(**kwargs)
        self.zone = zone

    def to_python(self, value: Any) -> datetime.datetime | None:
        text = str(value or "").strip()
        if not text:
            return None
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not day_in_range(moment.date()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
        if self.zone is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return resolve_local(moment, self.zone)
        except RuleViolation as error:
            raise forms.ValidationError(error.messages["start"], code=error.code) from None


class RecordChoiceField(forms.ChoiceField):
    """A choice among records read once for the page (no query per rendering or cleaning);
    cleans to the record. An unknown or foreign ID gets the API's "No such …" message."""

    def __init__(self, records: Sequence[Model], *, model: type[Model], **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {}).setdefault("invalid_choice", no_such(model))
        self.by_pk = {str(record.pk): record for record in records}
        super().__init__(choices=[(pk, str(r)) for pk, r in self.by_pk.items()], **kwargs)

    def clean(self, value: Any) -> Model | None:
        return self.by_pk.get(super().clean(value))


class QueryForm(forms.Form):
    """A page's query string: a bad value falls back to its default, with a message."""

    def value(self, name: str, default: Any) -> Any:
        return self.cleaned_data.get(name) or default

    def messages(self) -> list[str]:
        return [message for errors in self.errors.values() for message in errors]


class LocationChoiceForm(QueryForm):
    """`?location=` of any desk page: a location ID (one of the clinic's, checked by the
    desk); anything else falls back to the current location with a message."""

    location = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={
            "invalid": CHOOSE_LOCATION,
            "min_value": CHOOSE_LOCATION,
        },
    )


class CalendarQuery(QueryForm):
    """What the receptionist asked the day or week calendar to show."""

    date = DayField(required=False)
    by = forms.ChoiceField(
        required=False,
        choices=[("room", "Rooms"), ("practitioner", "Practitioners")],
        error_messages={"invalid_choice": "Show one column per room or per practitioner."},
    )
    cancelled = forms.ChoiceField(
        required=False,
        choices=[("show", "Show"), ("hide", "Hide")],
        error_messages={"invalid_choice": "Show or hide the cancelled appointments."},
    )
    practitioner = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={
            "invalid": "Choose a practitioner from the list.",
            "min_value": "Choose a practitioner from the list.",
        },
    )


class SwitchClinicForm(forms.Form):
    """The clinic switcher: one of the user's clinics."""

    clinic = forms.TypedChoiceField(coerce=int)

    def __init__(self, data: Any = None, *, clinics: Sequence[Clinic], **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["clinic"].choices = [(clinic.pk, str(clinic)) for clinic in clinics]


class SlotSearchForm(forms.Form):
    """The booking page's search: who (a practitioner, or anyone of a specialty, working at
    the desk's location), the clinic's active appointment type, the date (default: today
    at the location), next available, and the overflow room where the clinic allows it."""

    who = forms.CharField(required=False, label="Practitioner or specialty")  # "p:<id>", "s:<id>"
    date = DayField(required=False)
    next = forms.BooleanField(required=False)
    include_overflow = forms.BooleanField(required=False)

    def __init__(self, data: Any = None, *, desk: Any, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.desk = desk
        self.location = desk.location
        self.practitioners = list(practitioners_at(desk.location))
        self.specialties = list(Specialty.objects.filter(clinic=desk.clinic).order_by("name"))
        self.types = list(
            AppointmentType.objects.filter(clinic=desk.clinic, active=True).order_by("name")
        )
        self.who_choices = [
            ("Practitioners", [(f"p:{p.pk}", str(p)) for p in self.practitioners]),
            *(
                [("Anyone of a specialty", [(f"s:{s.pk}", s.name) for s in self.specialties])]
                if self.specialties
                else []
            ),
        ]
        self.fields["appointment_type"] = RecordChoiceField(
            self.types, model=AppointmentType, required=False
        )

    def clean_who(self) -> str:
        """Also cleans to `practitioner` or `specialty` (the records of the location)."""
        who = self.cleaned_data["who"]
        kind, _, pk = who.partition(":")
        practitioner = next((p for p in self.practitioners if str(p.pk) == pk), None)
        specialty = next((s for s in self.specialties if str(s.pk) == pk), None)
        if kind == "p" and practitioner is None:
            raise forms.ValidationError(no_such(Practitioner), code="invalid_choice")
        if kind == "s" and specialty is None:
            raise forms.ValidationError(no_such(Specialty), code="invalid_choice")
        if who and kind not in ("p", "s"):
            raise forms.ValidationError(CHOOSE_WHO, code="invalid_choice")
        self.cleaned_data["practitioner"] = practitioner if kind == "p" else None
        self.cleaned_data["specialty"] = specialty if kind == "s" else None
        return who

    def clean_include_overflow(self) -> bool:
        return self.cleaned_data["include_overflow"] and self.desk.clinic.allows_overflow_booking

    def clean_date(self) -> datetime.date:
        return self.cleaned_data["date"] or self.desk.today

    @property
    def specialty_chosen(self) -> bool:
        """Slots of several practitioners: each slot names its practitioner."""
        return self.choice("specialty") is not None

    def choice(self, name: str) -> Any:
        """A field's cleaned value, or None while it is missing or invalid."""
        if not self.is_bound:
            return None
        self.is_valid()
        return self.cleaned_data.get(name)


class BookingChoicesForm(SlotSearchForm):
    """Everything the booking page has chosen so far: the search, the patient, the chosen
    slot (its start and practitioner), room, modality, comment and urgency. With
    `book=True` (the booking POST) what a booking needs is required."""

    start = InstantField(required=False, message=CHOOSE_SLOT)
    comment = forms.CharField(required=False, strip=False)
    urgent = forms.BooleanField(required=False)
    modality = forms.ChoiceField(
        required=False,
        choices=[("", "—"), *Modality.choices],
        error_messages={"invalid_choice": "Choose in person or video."},
    )

    # What links on the page keep when they change one choice.
    KEPT = ("who", "appointment_type", "date", "include_overflow", "start", "slot_practitioner")
    field_of_error = {"practitioner": "slot_practitioner", NON_FIELD: None}

    def __init__(self, data: Any = None, *, desk: Any, book: bool = False, **kwargs: Any):
        super().__init__(data, desk=desk, **kwargs)
        self.book = book
        self.fields["start"].zone = desk.location.zone
        self.fields["start"].required = book
        self.fields["appointment_type"].required = book
        self.fields["appointment_type"].error_messages["required"] = CHOOSE_TYPE
        self.fields["slot_practitioner"] = RecordChoiceField(
            self.practitioners,
            model=Practitioner,
            required=False,
            error_messages={"invalid_choice": no_such(Practitioner)},
        )
        self.fields["patient"] = forms.ModelChoiceField(
            Patient.objects.filter(clinic=desk.clinic),
            required=book,
            widget=forms.HiddenInput,
            error_messages={"required": CHOOSE_PATIENT, "invalid_choice": no_such(Patient)},
        )
        self.fields["room"] = forms.ModelChoiceField(
            Room.objects.filter(location=desk.location, active=True),
            required=False,
            error_messages={"invalid_choice": no_such(Room)},
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, practitioner = cleaned.get("start"), cleaned.get("slot_practitioner")
        if start is not None:
            cleaned["date"] = start.astimezone(self.location.zone).date()  # the slot's day
        if (
            self.book
            and "start" not in self.errors
            and "slot_practitioner" not in self.errors
            and (start is None or practitioner is None)
        ):
            self.add_error("start", CHOOSE_SLOT)
        return cleaned

    def booking(self) -> dict[str, Any]:
        """The booking service's arguments (book_appointment), once the form is valid."""
        data = self.cleaned_data
        return {
            "location": self.location,
            "practitioner": data["slot_practitioner"],
            "patient": data["patient"],
            "appointment_type": data["appointment_type"],
            "start": data["start"],
            "room": data["room"],
            "modality": data["modality"] or None,
            "comment": data["comment"].strip(),
            "urgent": data["urgent"],
        }

    def add_booking_error(self, error: BookingError) -> None:
        add_booking_error(self, error, self.field_of_error)

    def kept(self, *, without: Sequence[str] = ()) -> str:
        return kept_choices(self.data, self.location, without=without)


def kept_choices(
    data: Mapping[str, Any], location: Location, *, without: Sequence[str] = ()
) -> str:
    """The query string of the booking page's choices made so far (as submitted), for links
    that change one of them; reads no records."""
    query = QueryDict(mutable=True)
    query["location"] = str(location.pk)
    for name in BookingChoicesForm.KEPT:
        if name not in without and data.get(name):
            query[name] = data[name]
    return query.urlencode()


class RescheduleForm(forms.Form):
    """The reschedule picker: the day to show, and (to move) the chosen free time."""

    date = DayField(required=False)
    start = InstantField(required=False, message=CHOOSE_FREE_TIME)

    def __init__(self, data: Any = None, *, move: bool = False, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.fields["start"].required = move


class StatusForm(forms.Form):
    """A status change offered by a button of the appointment page."""

    status = forms.ChoiceField(
        choices=AppointmentStatus.choices,
        error_messages={"required": CHOOSE_ACTION, "invalid_choice": CHOOSE_ACTION},
    )
    reason = forms.CharField(required=False, strip=False)


class CancelForm(forms.Form):
    """A cancellation; the booking service requires and bounds the reason."""

    reason = forms.CharField(required=False, strip=False)


class PatientForm(forms.ModelForm):
    """A new patient, or an animal with its owner, registered without leaving the page;
    saved through scheduling.patients.register_patient (its rules and messages)."""

    class Meta:
        model = Patient
        fields = REGISTRATION_FIELDS
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, clinic: Clinic, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        if clinic.is_veterinary:
            for name in PERSON_FIELDS:
                del self.fields[name]
            self.fields["given_name"].label = "Animal's name"
            self.fields["family_name"].label = "Owner's family name"
            self.fields["guardian_name"].label = "Owner's full name"
            self.fields["guardian_phone"].label = "Owner's phone"
            self.fields["guardian_email"].label = "Owner's email"
        else:
            for name in ANIMAL_FIELDS:
                del self.fields[name]

    def _post_clean(self) -> None:
        """The model's rules are checked once, by register_patient, in save()."""

    def save(self, commit: bool = True) -> Patient:
        """Register the patient; a rule it breaks lands on the form and is raised again."""
        try:
            return register_patient(clinic=self.clinic, **self.cleaned_data)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
            raise
