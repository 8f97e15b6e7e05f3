"""The receptionist's main journeys in English, Spanish and French, in real Chromium: an
existing patient booked from the keyboard alone, an appointment dragged to another time,
a cancellation with one of the clinic's reasons and then "Rebook this patient".

The words the tests look for are the catalogue's own (gettext in the clinic's language), so
a page that shows English where Spanish is due fails here."""

import datetime

import pytest
from django.utils import formats, translation
from playwright.sync_api import expect

from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.models import Appointment, AppointmentStatus
from tests.browser.conftest import ARTIFACTS
from tests.browser.test_calendar import body_of, card, day_page, drag
from tests.factories import PatientFactory
from tests.worlds import MONDAY

pytestmark = pytest.mark.django_db(transaction=True)
LANGUAGES = ["en", "es", "fr"]


def words(language: str, *english: str) -> list[str]:
    with translation.override(language):
        said = [translation.gettext(text) for text in english]
    if language != "en":
        assert said != list(english), f"{english} untranslated in {language}"
    return said


def clock(language: str, hhmm: str) -> str:
    with translation.override(language):
        return formats.time_format(datetime.time.fromisoformat(hhmm), "TIME_FORMAT")


def speak(world, language: str) -> None:
    world.clinic.language = language
    world.clinic.save(update_fields=["language"])


def snap(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("language", LANGUAGES)
def test_booking_from_the_keyboard_alone(signed_in, live_server, world, language):
    speak(world, language)
    search_label, book_label = words(language, "Find by name, phone or national ID", "Book")
    patient = PatientFactory(clinic=world.clinic, given_name="Josefina", family_name="Araya")
    page = signed_in
    page.goto(f"{live_server.url}/desk/?location={world.location.pk}&date={MONDAY}")

    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_label(search_label)).to_be_focused()
    page.keyboard.type(patient.family_name)
    expect(page.locator("#patient-results [role=option]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.get_by_role("radio", name=str(world.practitioner))).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("radio", name=world.appointment_type.name, exact=False)).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#slots .slot", has_text=clock(language, "09:00"))).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#slots .slot", has_text=clock(language, "09:30"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=book_label, exact=True)).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.locator("#booked")).to_contain_text(world.appointment_type.name)
    snap(page, f"keyboard-booking-{language}")
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.start) == (patient, world.at("09:30"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_dragging_an_appointment_to_another_time(signed_in, live_server, world, language):
    speak(world, language)
    (move_label,) = words(language, "Move")
    appointment = world.book("09:00")
    page = signed_in
    page.goto(day_page(live_server, world, by="practitioner"))

    drag(page, card(page, appointment), body_of(page, str(world.practitioner)), "10:30")
    dialog = page.locator("#cal-drop-dialog")
    expect(dialog.locator("[data-fill=to]")).to_contain_text("10:30")  # the browser's clock
    dialog.get_by_role("button", name=move_label, exact=True).click()

    expect(page.locator("#calendar .notice.ok")).to_be_visible()
    snap(page, f"drag-reschedule-{language}")
    appointment.refresh_from_db()
    assert appointment.start == world.at("10:30")


@pytest.mark.parametrize("language", LANGUAGES)
def test_cancelling_with_a_reason_then_rebooking(signed_in, live_server, world, language):
    speak(world, language)
    ensure_default_reasons(world.clinic)
    reason = world.clinic.cancel_reasons.order_by("position").first().label
    group, own_words, cancel, rebook = words(
        language,
        "Reason for cancelling",
        "In your own words",
        "Cancel appointment",
        "Rebook this patient",
    )
    appointment = world.book("09:00")
    page = signed_in
    page.goto(f"{live_server.url}/desk/appointments/{appointment.pk}/")

    page.get_by_role("group", name=group).get_by_label(reason).check()
    page.get_by_label(own_words).fill("—")
    page.get_by_role("button", name=cancel).click()
    expect(page.get_by_role("button", name=rebook)).to_be_visible()
    snap(page, f"cancelled-{language}")
    page.get_by_role("button", name=rebook).click()

    page.wait_for_url("**/desk/?**")
    expect(page.locator("#patient-box")).to_contain_text(appointment.patient.family_name)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason.startswith(reason)
