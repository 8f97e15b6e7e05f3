"""Forms that parse a person's input and hand it to the booking service."""

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.http import QueryDict
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scheduling import booking, patients
from scheduling.countries import (
    SERVED,
    Country,
    international,
    looks_like_national_id,
    looks_like_phone,
)
from scheduling.errors import NON_FIELD, BookingError, RuleViolation, SlotConflict, no_such
from scheduling.localtime import DAY_OUT_OF_RANGE, UTC, day_in_range, resolve_local
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Clinic,
    IdentityDocument,
    Location,
    Modality,
    Patient,
    Practitioner,
    Room,
    Sex,
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
    ("0", _("The first one (before the clocks go back)")),
    ("1", _("The second one (after the clocks go back)")),
]


def describe_slots(slots: list, location: Any) -> str:
    return ", ".join(
        date_format(slot.start.astimezone(location.zone), "D d M H:i") for slot in slots
    )


def add_booking_error(
    form: forms.BaseForm, error: BookingError, field_of_error: Mapping[str, str | None]
) -> None:
    """The booking service's messages, each next to the form's field it names (else on top)."""
    for field, messages in error.messages.items():
        field = field_of_error.get(field, field)
        form.add_error(field if field in form.fields else None, messages)


class BookingForm(forms.ModelForm):
    """A booking in the location's wall-clock time; the booking service checks every rule."""

    date = forms.DateField(label=_("Date"), help_text=_("In the location's time zone."))
    time = forms.TimeField(label=_("Start time"), help_text=_("In the location's time zone."))
    occurrence = forms.TypedChoiceField(
        label=_("Occurrence"),
        choices=OCCURRENCES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Only when the clocks go back and this time happens twice."),
    )
    duration_minutes = forms.IntegerField(
        label=_("Duration (minutes)"),
        required=False,
        min_value=1,
        help_text=_("Empty: the appointment type's duration."),
    )
    modality = forms.TypedChoiceField(
        label=_("Modality"),
        choices=[("", _("As the working hours allow")), *Modality.choices],
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
            times = describe_slots(error.alternatives, location)
            self.add_error(None, gettext("Free instead: %(times)s.") % {"times": times})


# -- the desk ------------------------------------------------------------------------------
#
# The desk's forms parse what a receptionist submitted; rule messages come from the booking
# service (mapped to fields by `add_booking_error`), date bounds from scheduling.localtime.

DATE_FORMAT = _("Enter the date as YYYY-MM-DD, e.g. 2027-01-04.")
CHOOSE_PATIENT = _("Choose a patient, or register a new one.")
CHOOSE_TYPE = _("Choose an appointment type.")
CHOOSE_SLOT = _("Choose a time in the list of free slots.")
CHOOSE_FREE_TIME = _("Choose one of the free times.")
CHOOSE_ACTION = _("Choose one of the actions offered for this appointment.")
CHOOSE_WHO = _("Choose a practitioner or a specialty.")
CHOOSE_LOCATION = _("Choose a location from the list.")
CHOOSE_PRACTITIONER = _("Choose a practitioner from the list.")


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
        choices=[("room", _("Rooms")), ("practitioner", _("Practitioners"))],
        error_messages={"invalid_choice": _("Show one column per room or per practitioner.")},
    )
    cancelled = forms.ChoiceField(
        required=False,
        choices=[("show", _("Show")), ("hide", _("Hide"))],
        error_messages={"invalid_choice": _("Show or hide the cancelled appointments.")},
    )
    practitioner = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={"invalid": CHOOSE_PRACTITIONER, "min_value": CHOOSE_PRACTITIONER},
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

    who = forms.CharField(
        required=False, label=_("Practitioner or specialty")
    )  # "p:<id>", "s:<id>"
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
            (_("Practitioners"), [(f"p:{p.pk}", str(p)) for p in self.practitioners]),
            *(
                [(_("Anyone of a specialty"), [(f"s:{s.pk}", s.name) for s in self.specialties])]
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
        error_messages={"invalid_choice": _("Choose in person or video.")},
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

    def is_chosen(self, slot: Any) -> bool:
        """Whether `slot` (of the free times) is the one chosen."""
        practitioner = self.choice("slot_practitioner")
        return (
            practitioner is not None
            and slot.practitioner_id == practitioner.pk
            and slot.start == self.choice("start")
        )

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


# -- registering a patient -------------------------------------------------------------------

# The registration form's sections: what most registrations need, then the rest behind a
# disclosure each (open when one of its fields has a value or an error).
PERSON_SECTIONS = {
    "main": (
        "given_name",
        "family_name",
        "birth_date",
        "phone_country",
        "phone",
        "national_id_type",
        "national_id",
    ),
    "more": ("preferred_name", "sex", "email"),
    "guardian": ("guardian_name", "guardian_relationship", "guardian_phone", "guardian_email"),
}
ANIMAL_SECTIONS = {
    "main": (
        "given_name",
        "species",
        "family_name",
        "guardian_name",
        "phone_country",
        "guardian_phone",
    ),
    "more": ("breed", "birth_date", "sex", "guardian_email", "phone", "email"),
}
SECTION_TITLES = {
    "more": _("More details"),
    "guardian": _("Parent or guardian (for a minor)"),
}
# Lower-case particles of family names that stay lower case ("de la Fuente").
NAME_PARTICLES = frozenset(
    {"da", "das", "de", "del", "der", "des", "di", "do", "dos", "du", "e", "la", "las", "le",
     "los", "van", "von", "y"}
)  # fmt: skip
NAME_LENGTH = 80


def _name(text: str) -> str:
    """A name as typed, capitalised when typed all in lower case ("vera-soto" -> "Vera-Soto")."""
    words = [word for word in text.split() if not any(char.isdigit() for char in word)]
    if any(word != word.lower() for word in words):
        return " ".join(words)[:NAME_LENGTH]
    return " ".join(
        word if word in NAME_PARTICLES else "-".join(part.capitalize() for part in word.split("-"))
        for word in words
    )[:NAME_LENGTH]


def registration_initial(text: str, country: Country | None) -> dict[str, str]:
    """What a patient search typed says about the patient it did not find: a national ID
    (with the country's document type), a phone, or a name — one word is a family name;
    "Family, Given"; otherwise the first word is the given name and the rest the family
    name(s) ("Ana Vera Soto")."""
    text = " ".join(text.split())
    if not text:
        return {}
    if looks_like_national_id(text, country):
        return {"national_id": text[:40], "national_id_type": country.national_id_type}
    if looks_like_phone(text):
        return {"phone": text[:40]}
    if "," in text:
        family, _comma, given = text.partition(",")
    else:
        words = text.split()
        given, family = ("", words[0]) if len(words) == 1 else (words[0], " ".join(words[1:]))
    names = {"given_name": _name(given), "family_name": _name(family)}
    return {field: value for field, value in names.items() if value}


class PatientForm(forms.ModelForm):
    """A new patient, or an animal with its owner, registered without leaving the page;
    saved through scheduling.patients.register_patient (its rules and messages). Defaults
    come from the location's country (scheduling.countries): the phone's country code and
    the national ID document; an ID type without a number is no choice."""

    phone_country = forms.ChoiceField(
        label=_("Phone country"),
        required=False,
        help_text=_("Added to numbers typed without +."),
    )
    # The "Register anyway" button, after the likely duplicates were shown.
    register_anyway = forms.BooleanField(required=False)

    class Meta:
        model = Patient
        fields = REGISTRATION_FIELDS
        labels = {
            "given_name": _("Given name"),
            "family_name": _("Family name"),
            "preferred_name": _("Preferred name"),
            "birth_date": _("Birth date"),
            "sex": _("Sex"),
            "phone": _("Phone"),
            "email": _("Email"),
            "national_id_type": _("National ID type"),
            "national_id": _("National ID"),
            "species": _("Species"),
            "breed": _("Breed"),
            "guardian_name": _("Parent or guardian's name"),
            "guardian_relationship": _("Relationship"),
            "guardian_phone": _("Parent or guardian's phone"),
            "guardian_email": _("Parent or guardian's email"),
        }
        help_texts = {
            "given_name": "",  # the model's "For an animal: …": the animal's labels say it
            "family_name": "",
            "preferred_name": _("Preferred or social name, shown instead."),
            "species": _("e.g. dog, cat, rabbit."),
            "guardian_relationship": _("e.g. mother, legal guardian."),
        }
        # The browser's date picker always sends YYYY-MM-DD, whatever the language.
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(
        self, *args: Any, clinic: Clinic, country: Country | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.clinic = clinic
        self.fields["birth_date"].input_formats = ["%Y-%m-%d"]
        self.fields["sex"].required = False  # "unknown" unless said
        self.fields["phone_country"].choices = [
            ("", "—"),
            *sorted(
                ((c.code, f"{c.name} ({c.calling_code})") for c in SERVED.values()),
                key=lambda choice: choice[1],
            ),
        ]
        self.initial.setdefault("phone_country", country.code if country else "")
        if not self.is_bound:
            self.fields["given_name"].widget.attrs["autofocus"] = True
        if clinic.is_veterinary:
            for name in PERSON_FIELDS:
                del self.fields[name]
            self.fields["given_name"].label = _("Animal's name")
            self.fields["family_name"].label = _("Owner's family name")
            self.fields["guardian_name"].label = _("Owner's full name")
            self.fields["guardian_phone"].label = _("Owner's phone")
            self.fields["guardian_phone"].help_text = _("A phone or an email of the owner.")
            self.fields["guardian_email"].label = _("Owner's email")
            # Required by the model's rules for animals (which say so when missing).
            for name in ("species", "guardian_name"):
                self.fields[name].widget.attrs["required"] = True
        else:
            for name in ANIMAL_FIELDS:
                del self.fields[name]
            self.fields["national_id_type"].choices = [("", "—"), *IdentityDocument.choices]
            self.initial.setdefault("national_id_type", country.national_id_type if country else "")

    def sections(self) -> list[dict[str, Any]]:
        """The fields by section, for the template: the first always shown, the others
        behind a disclosure, open when one of their fields has a value or an error."""
        layout = ANIMAL_SECTIONS if self.clinic.is_veterinary else PERSON_SECTIONS
        sections = []
        for key, names in layout.items():
            fields = [self[name] for name in names if name in self.fields]
            filled = any(
                field.errors or field.value() not in (None, "", field.initial) for field in fields
            )
            sections.append(
                {
                    "key": key,
                    "title": SECTION_TITLES.get(key, ""),
                    "fields": fields,
                    "open": key == "main" or filled,
                }
            )
        return sections

    def _post_clean(self) -> None:
        """The model's rules are checked by register_patient, in save() (or check_rules())."""

    def clean_sex(self) -> str:
        return self.cleaned_data["sex"] or Sex.UNKNOWN

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        country = SERVED.get(cleaned.get("phone_country") or "")
        for name in ("phone", "guardian_phone"):
            if cleaned.get(name):
                cleaned[name] = international(cleaned[name], country)
        if "national_id" in self.fields and not cleaned.get("national_id"):
            cleaned["national_id_type"] = ""  # the country's default type, with no number
        return cleaned

    def registration(self) -> dict[str, Any]:
        """register_patient's fields, once the form is valid."""
        return {
            name: self.cleaned_data[name] for name in self._meta.fields if name in self.cleaned_data
        }

    def likely_duplicates(self) -> list[tuple[Patient, str]]:
        """Patients of the clinic this one may already be (scheduling.patients), each with
        why; for an animal, its owner's phone is the phone compared."""
        data = self.cleaned_data
        return patients.likely_duplicates(
            self.clinic,
            given_name=data.get("given_name", ""),
            family_name=data.get("family_name", ""),
            birth_date=data.get("birth_date"),
            phone=data.get("phone") or data.get("guardian_phone", ""),
            national_id_type=data.get("national_id_type", ""),
            national_id=data.get("national_id", ""),
        )

    def _add_rule_errors(self, error: ValidationError) -> None:
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)

    def check_rules(self) -> bool:
        """The model's rules, without saving: whether the patient could be registered."""
        try:
            Patient(clinic=self.clinic, **self.registration()).full_clean()
        except ValidationError as error:
            self._add_rule_errors(error)
            return False
        return True

    def save(self, commit: bool = True) -> Patient:
        """Register the patient; a rule it breaks lands on the form and is raised again."""
        try:
            return register_patient(clinic=self.clinic, **self.registration())
        except ValidationError as error:
            self._add_rule_errors(error)
            raise
