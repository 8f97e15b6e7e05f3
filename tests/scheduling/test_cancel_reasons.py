"""The clinic's cancellation reasons: defaults, what is offered, and what a cancellation records."""

import importlib

import pytest
from django.apps import apps
from django.db import IntegrityError
from django.utils import translation

from scheduling import booking, cancel_reasons
from scheduling.errors import RuleViolation
from scheduling.models import AppointmentStatus, ClinicKind
from tests.factories import CancelReasonFactory, ClinicFactory

pytestmark = pytest.mark.django_db

PEOPLE = [
    "Patient asked",
    "Patient unwell",
    "Practitioner unavailable",
    "Booked by mistake",
    "Rescheduled",
]
ANIMALS = ["Owner asked", "Animal unwell", "Vet unavailable", "Booked by mistake", "Rescheduled"]


def labels(clinic) -> list[str]:
    return list(clinic.cancel_reasons.order_by("position").values_list("label", flat=True))


# -- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (ClinicKind.DENTAL, PEOPLE),
        (ClinicKind.AESTHETIC, PEOPLE),
        (ClinicKind.MEDICAL, PEOPLE),
        (ClinicKind.VETERINARY, ANIMALS),
    ],
)
def test_a_clinic_gets_the_default_reasons_of_its_kind_in_order(kind, expected):
    clinic = ClinicFactory(kind=kind)

    added = cancel_reasons.ensure_default_reasons(clinic)

    assert added == len(expected)
    assert labels(clinic) == expected
    positions = list(clinic.cancel_reasons.values_list("position", flat=True))
    assert sorted(positions) == [10, 20, 30, 40, 50]  # room for a reason in between
    assert all(clinic.cancel_reasons.values_list("active", flat=True))


def test_defaults_are_written_in_the_clinics_language(monkeypatch):
    clinic = ClinicFactory(language="fr")
    seen = []
    override = translation.override
    monkeypatch.setattr(
        translation, "override", lambda language: seen.append(language) or override(language)
    )

    cancel_reasons.ensure_default_reasons(clinic)

    assert seen == ["fr"]


def test_defaults_are_added_once():
    clinic = ClinicFactory()
    cancel_reasons.ensure_default_reasons(clinic)

    assert cancel_reasons.ensure_default_reasons(clinic) == 0
    assert labels(clinic) == PEOPLE


def test_a_clinic_with_its_own_reasons_keeps_its_list():
    clinic = ClinicFactory()
    CancelReasonFactory(clinic=clinic, label="Weather")

    assert cancel_reasons.ensure_default_reasons(clinic) == 0
    assert labels(clinic) == ["Weather"]


def test_the_migration_gives_every_existing_clinic_its_defaults():
    migration = importlib.import_module("scheduling.migrations.0009_cancel_reasons")
    dental, vet = ClinicFactory(kind=ClinicKind.DENTAL), ClinicFactory(kind=ClinicKind.VETERINARY)

    migration.add_default_reasons(apps, None)

    assert labels(dental) == PEOPLE
    assert labels(vet) == ANIMALS


def test_a_label_is_unique_within_a_clinic_only():
    first = CancelReasonFactory(label="Weather")
    CancelReasonFactory(label="Weather")  # another clinic

    with pytest.raises(IntegrityError):
        CancelReasonFactory(clinic=first.clinic, label="Weather")


# -- what is offered -----------------------------------------------------------------------


def test_only_the_clinics_active_reasons_are_offered_in_their_order():
    clinic = ClinicFactory()
    later = CancelReasonFactory(clinic=clinic, label="B later", position=20)
    CancelReasonFactory(clinic=clinic, label="Retired", position=5, active=False)
    tie = CancelReasonFactory(clinic=clinic, label="A tie", position=20)
    first = CancelReasonFactory(clinic=clinic, label="Z first", position=1)
    CancelReasonFactory(label="Elsewhere", position=0)

    assert list(cancel_reasons.offered_reasons(clinic)) == [first, tie, later]


def test_an_api_user_sees_the_reasons_of_their_clinics(world, receptionist):
    own = CancelReasonFactory(clinic=world.clinic)
    CancelReasonFactory()

    assert list(cancel_reasons.visible_reasons(receptionist)) == [own]


# -- cancelling with a reason ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chosen", "words", "recorded"),
    [
        ("Patient unwell", "", "Patient unwell"),
        ("Patient unwell", "  has the flu ", "Patient unwell — has the flu"),
        (None, " Moved abroad ", "Moved abroad"),
    ],
)
def test_a_cancellation_records_the_reason_and_the_words(world, chosen, words, recorded):
    appointment = world.book("10:00")
    preset = CancelReasonFactory(clinic=world.clinic, label=chosen) if chosen else None

    booking.cancel_appointment(appointment, preset=preset, reason=words)

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == recorded
    assert appointment.events.get(action="cancelled").details == {"reason": recorded}


@pytest.mark.parametrize(
    ("make_preset", "words", "field", "message"),
    [
        (
            lambda world: CancelReasonFactory(),
            "",
            "reason_id",
            "Choose a cancellation reason of this clinic.",
        ),
        (
            lambda world: CancelReasonFactory(clinic=world.clinic, label="Flu", active=False),
            "",
            "reason_id",
            "“Flu” is no longer offered; choose another reason.",
        ),
        (lambda world: None, "   ", "reason", "Give a reason for the cancellation."),
        (
            lambda world: CancelReasonFactory(clinic=world.clinic, label="Flu"),
            "x" * 995,
            "reason",
            "Keep the reason to 1000 characters.",
        ),
    ],
    ids=["another clinic's", "retired", "none", "too long together"],
)
def test_a_cancellation_without_a_proper_reason_is_refused(
    world, make_preset, words, field, message
):
    appointment = world.book("10:00")

    with pytest.raises(RuleViolation) as refused:
        booking.cancel_appointment(appointment, preset=make_preset(world), reason=words)

    assert refused.value.messages == {field: [message]}
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.UNCONFIRMED
    assert not appointment.events.filter(action="cancelled").exists()
