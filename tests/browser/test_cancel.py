"""Cancelling in real Chromium: one of the clinic's reasons, then "Rebook this patient"."""

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.models import AppointmentStatus
from tests.browser.conftest import ARTIFACTS

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_with_a_reason_of_the_clinic_then_rebook_the_patient(signed_in, live_server, world):
    ensure_default_reasons(world.clinic)
    appointment = world.book("09:00")
    patient = appointment.patient
    page = signed_in
    page.goto(f"{live_server.url}/desk/appointments/{appointment.pk}/")

    reasons = page.get_by_role("group", name="Reason for cancelling")
    expect(reasons).to_be_visible()  # offered at once, not behind a disclosure
    reasons.get_by_label("Patient unwell").check()
    page.get_by_label("In your own words").fill("Fever since yesterday")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test_cancel_reasons_offered.png"), full_page=True)
    page.get_by_role("button", name="Cancel appointment").click()

    expect(page.locator("#appointment-page h1")).to_contain_text("Cancelled")
    expect(page.locator("#appointment-page")).to_contain_text(
        "Patient unwell — Fever since yesterday"
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == "Patient unwell — Fever since yesterday"

    rebook = page.get_by_role("button", name="Rebook this patient")
    expect(rebook).to_be_in_viewport()
    page.screenshot(path=str(ARTIFACTS / "test_cancel_rebook_offered.png"), full_page=True)
    rebook.click()

    page.wait_for_url("**/desk/?**")
    query = parse_qs(urlsplit(page.url).query)
    assert query["patient"] == [str(patient.pk)]
    assert query["who"] == [f"p:{world.practitioner.pk}"]
    assert query["appointment_type"] == [str(world.appointment_type.pk)]
    assert patient.family_name not in page.url  # IDs only in the address
    expect(page.locator("#patient-box")).to_contain_text(patient.family_name)


def test_cancel_without_a_reason_says_what_to_do(signed_in, live_server, world):
    ensure_default_reasons(world.clinic)
    appointment = world.book("09:00")
    page = signed_in
    page.goto(f"{live_server.url}/desk/appointments/{appointment.pk}/")

    page.get_by_role("button", name="Cancel appointment").click()

    words = page.get_by_label("In your own words")
    expect(words).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#cancel-reason-error")).to_have_text("Choose a reason, or write one.")
    expect(words).to_be_focused()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.UNCONFIRMED
