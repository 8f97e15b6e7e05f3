"""The booking rules, the validators and the API speak the reader's language (DESIGN §10).

Every message is marked for translation and rendered in the active language when it is
raised (a page's, or the API request's Accept-Language); in English it reads as it always
has. Until the catalogues are written Spanish and French fall back to English, except for
words Django and DRF already translate (day and month names, DRF's own messages).
"""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.functional import Promise
from rest_framework.test import APIClient

from scheduling import availability, booking
from scheduling.api.errors import BROKEN_RULE, INVALID_INPUT
from scheduling.api.serializers import UNKNOWN_FIELD
from scheduling.errors import BookingError, RuleViolation, TransitionNotAllowed, no_such
from scheduling.localtime import DAY_OUT_OF_RANGE, HALF_DAYS, resolve_local
from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AppointmentType,
    AuditEvent,
    IdempotencyRecord,
    Practitioner,
    Room,
    Specialty,
    TimeOff,
    UserSession,
    WorkingHours,
)
from scheduling.models.people import PatientSearchTerm
from scheduling.validators import validate_time_zone
from tests.factories import ClinicMembershipFactory, UserFactory
from tests.worlds import MONDAY, NOW, SANTIAGO

LANGUAGES = ["en", "es", "fr"]
# The models whose labels this module checks (the others' are checked with their own code).
LABELLED_MODELS = [
    ApiToken,
    Appointment,
    AppointmentEvent,
    AppointmentType,
    AuditEvent,
    IdempotencyRecord,
    PatientSearchTerm,
    Practitioner,
    Room,
    Specialty,
    TimeOff,
    UserSession,
    WorkingHours,
]


def refusal(error: BookingError, field: str) -> str:
    """The one message of `field`, checked to be plain text (not a lazy string that would
    change language later, or fail to join)."""
    (message,) = error.messages[field]
    assert type(message) is str
    assert str(error)  # the messages joined, as logs and the admin show them
    return message


# -- booking rules --------------------------------------------------------------------------

BOOKING_RULES = [
    (
        "08:45",
        {},
        "start",
        {
            "en": "Dra. Camila Rojas does not work at Providencia on Mon 04 Jan 2027 08:45–09:15; "
            "choose a time within their working hours.",
        },
    ),
    (
        "09:10",
        {},
        "start",
        {
            "en": "Dra. Camila Rojas's appointments start every 15 minutes from 09:00; choose one "
            "of those times."
        },
    ),
    (
        "09:00",
        {"duration_minutes": 20},
        "duration_minutes",
        {
            "en": "At this time Dra. Camila Rojas's appointments last a multiple of 15 minutes; 20 "
            "is not."
        },
    ),
    (
        "09:00",
        {"comment": "x" * 1001},
        "comment",
        {"en": "Keep the comment to 1000 characters (it has 1001)."},
    ),
    (
        "09:00",
        {"modality": "video"},
        "modality",
        {"en": "Only in person appointments are possible at this time."},
    ),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("hhmm", "options", "field", "expected"), BOOKING_RULES)
def test_a_broken_booking_rule_is_said_in_the_active_language(
    world, language, hhmm, options, field, expected
):
    with translation.override(language), pytest.raises(RuleViolation) as error:
        world.book(hhmm, **options)

    message = refusal(error.value, field)
    if language in expected:
        assert message == expected[language]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("language", "when"),
    [
        ("en", "Mon 04 Jan 2027 09:00"),
        ("es", "lun 04 Ene 2027 09:00"),
        ("fr", "lun 04 Jan 2027 09:00"),
    ],
)
def test_dates_in_messages_name_the_day_and_month_in_the_active_language(world, language, when):
    with translation.override(language), pytest.raises(RuleViolation) as error:
        world.book("09:00", now=world.at("09:05"))

    assert when in refusal(error.value, "start")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_transition_not_allowed_is_said_in_the_active_language(world, language):
    appointment = world.book("09:00")
    booking.change_status(appointment, AppointmentStatus.CANCELLED, reason="Sick", now=NOW)

    with translation.override(language), pytest.raises(TransitionNotAllowed) as error:
        booking.change_status(appointment, AppointmentStatus.CONFIRMED, now=NOW)

    with translation.override(language):
        cancelled = AppointmentStatus.CANCELLED.label.lower()
        confirmed = AppointmentStatus.CONFIRMED.label.lower()
    message = refusal(error.value, "status")
    assert cancelled in message and confirmed in message
    if language == "en":
        assert message == "A cancelled appointment cannot become confirmed."


# -- the slot engine's demand, local times, validators -------------------------------------

DEMANDS = [
    ({}, "appointment_type", "Choose an appointment type or a duration."),
    ({"duration_minutes": 0}, "duration", "The duration must be at least one minute."),
    ({"duration_minutes": 30, "modality": "fax"}, "modality", "Choose in person or video."),
]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize(("options", "field", "english"), DEMANDS)
def test_an_impossible_demand_is_said_in_the_active_language(language, options, field, english):
    with translation.override(language), pytest.raises(RuleViolation) as error:
        availability.Demand.build(**options)

    message = refusal(error.value, field)
    if language == "en":
        assert message == english


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_range_too_long_is_said_in_the_active_language(world, language):
    with translation.override(language), pytest.raises(RuleViolation) as error:
        world.slots(MONDAY, to=MONDAY + datetime.timedelta(days=40))

    message = refusal(error.value, "date_to")
    if language == "en":
        assert message == "Ask for at most 31 days at a time."


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_time_skipped_by_daylight_saving_is_said_in_the_active_language(language):
    skipped = datetime.datetime(2026, 9, 6, 0, 30)  # Santiago's clocks jump 00:00 → 01:00

    with translation.override(language), pytest.raises(RuleViolation) as error:
        resolve_local(skipped, SANTIAGO)

    message = refusal(error.value, "start")
    assert "2026-09-06 00:30" in message and "America/Santiago" in message
    if language == "en":
        assert message == (
            "2026-09-06 00:30 does not exist in America/Santiago: the clocks jump forward for "
            "daylight saving time. Choose a time outside the skipped hour."
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_time_zone_is_said_in_the_active_language(language):
    with translation.override(language):
        with pytest.raises(ValidationError) as error:
            validate_time_zone("Mars/Olympus")
        (message,) = error.value.messages

    assert "Mars/Olympus" in message
    if language == "en":
        assert message == (
            "“Mars/Olympus” is not a known IANA time zone. "
            "Use a name such as America/Santiago or Europe/Paris."
        )


def test_shared_words_are_read_in_the_language_of_whoever_shows_them():
    """Module-level words are lazy: decided when shown, not when the module was imported."""
    for words in (DAY_OUT_OF_RANGE, *HALF_DAYS, no_such(Room), no_such(TimeOff)):
        assert isinstance(words, Promise)
    assert [str(half) for half in HALF_DAYS] == ["Morning", "Afternoon"]
    assert str(no_such(Room)) == "No such room."
    assert str(no_such(TimeOff)) == "No such time off / closure."  # no sentence of its own


# -- the API ------------------------------------------------------------------------------


@pytest.fixture
def api(world, monkeypatch) -> APIClient:
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)  # MONDAY is bookable
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("language", "required"),
    [
        ("en", "This field is required."),
        ("es", "Este campo es requerido."),  # DRF's own catalogue
        ("fr", "Ce champ est obligatoire."),
    ],
)
def test_an_api_400_answers_in_the_request_s_language(world, api, language, required):
    body = {
        "location": world.location.pk,
        "patient": world.patients[0].pk,
        "start": "2027-01-04T09:00:00-03:00",
        "practitionr": world.practitioner.pk,
    }

    response = api.post("/api/v1/appointments/", body, format="json", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 400
    assert response["Content-Language"] == language
    with translation.override(language):
        expected = {
            "detail": str(INVALID_INPUT),
            "errors": {"practitioner": [required], "practitionr": [str(UNKNOWN_FIELD)]},
        }
    assert response.json() == expected
    if language == "en":
        assert response.json()["detail"] == (
            "The request is invalid: fix the fields listed in errors."
        )


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_broken_rule_over_the_api_answers_in_the_request_s_language(world, api, language):
    body = {
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "patient": world.patients[0].pk,
        "appointment_type": world.appointment_type.pk,
        "start": "2027-01-04T09:10:00-03:00",
    }

    response = api.post("/api/v1/appointments/", body, format="json", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 400
    with translation.override(language), pytest.raises(RuleViolation) as error:
        world.book("09:10")
    (message,) = error.value.messages["start"]
    assert response.json() == {"detail": message, "errors": {"start": [message]}}
    if language == "en":
        assert message.startswith("Dra. Camila Rojas's appointments start every 15 minutes")
    assert str(BROKEN_RULE)  # the summary when several fields are wrong


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_api_404_answers_in_the_request_s_language(api, language):
    response = api.get("/api/v1/appointments/999999/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 404
    with translation.override(language):
        expected = str(no_such(Appointment))
    assert response.json() == {"detail": expected, "errors": {}}
    if language == "en":
        assert expected == "No such appointment."


# -- labels of the models ------------------------------------------------------------------


def _labels(model: type[models.Model]) -> list[tuple[str, object]]:
    labels = [
        ("verbose_name", model._meta.verbose_name),
        ("verbose_name_plural", model._meta.verbose_name_plural),
    ]
    for field in model._meta.get_fields(include_hidden=False):
        if field.auto_created or (not field.concrete and not field.many_to_many):
            continue
        labels.append((f"{field.name}.verbose_name", field.verbose_name))
        if field.help_text:
            labels.append((f"{field.name}.help_text", field.help_text))
        for value, label in field.flatchoices:
            labels.append((f"{field.name}={value}", label))
    for constraint in model._meta.constraints:
        if constraint.violation_error_message is not None:
            labels.append((constraint.name, constraint.violation_error_message))
    return labels


@pytest.mark.parametrize("model", LABELLED_MODELS, ids=lambda model: model.__name__)
def test_every_label_a_manager_reads_is_marked_for_translation(model):
    plain = [name for name, label in _labels(model) if not isinstance(label, Promise)]

    assert plain == []
