"""The booking page in real Chromium: an existing patient booked from the keyboard alone and
in five clicks; a patient registered from the search text past a likely duplicate; a time
taken meanwhile; the confirmation. No request ever carries a CSRF token or a patient's data
in its URL."""

import datetime

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment, Patient
from tests.browser.conftest import ARTIFACTS
from tests.factories import PatientFactory
from tests.worlds import MONDAY

pytestmark = pytest.mark.django_db(transaction=True)


def open_book_page(page, live_server, world, **query) -> list[str]:
    """The booking page on MONDAY (nothing chosen but the day), and the URLs it requests."""
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    extra = "".join(f"&{name}={value}" for name, value in query.items())
    page.goto(f"{live_server.url}/desk/?location={world.location.pk}&date={MONDAY}{extra}")
    return urls


def snapshot(page, name: str) -> None:
    """A state on the way (the `page` fixture keeps the last one)."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"booking-{name}.png"))


def assert_clean(urls: list[str], *secrets: str) -> None:
    for url in urls:
        assert "csrfmiddlewaretoken" not in url
        for secret in secrets:
            assert secret.lower() not in url.lower(), url


def test_an_existing_patient_is_booked_from_the_keyboard_alone(signed_in, live_server, world):
    page = signed_in
    patient = PatientFactory(clinic=world.clinic, given_name="Josefina", family_name="Araya")
    urls = open_book_page(page, live_server, world)

    expect(page.get_by_label("Find by name, phone or national ID")).to_be_focused()
    page.keyboard.type(patient.family_name)
    expect(page.locator("#patient-results [role=option]")).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#patient-box")).to_contain_text(patient.family_name)
    expect(page.get_by_role("radio", name=str(world.practitioner))).to_be_focused()
    page.keyboard.press("Enter")  # the practitioner
    expect(page.get_by_role("radio", name="Check-up", exact=False)).to_be_focused()
    page.keyboard.press("Enter")  # the type; the free times come, the first one focused
    expect(page.locator("#slots .slot", has_text="9 a.m.")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#slots .slot", has_text="9:30 a.m.")).to_be_focused()
    page.keyboard.press("Enter")
    book = page.get_by_role("button", name="Book", exact=True)
    expect(book).to_be_focused()
    expect(page.locator("#booking-summary")).to_contain_text("9:30 a.m.")
    page.keyboard.press("Enter")

    expect(page.locator("#booked")).to_contain_text("Check-up")
    expect(page.locator("#booked")).to_be_focused()
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.start) == (patient, world.at("09:30"))
    assert_clean(urls, patient.family_name, patient.given_name)


def test_the_shortcuts_are_listed_in_a_popover_reached_by_keyboard(signed_in, live_server, world):
    page = signed_in
    open_book_page(page, live_server, world, who=f"p:{world.practitioner.pk}")
    help_list = page.locator("#shortcuts")

    page.locator("body").press("Escape")
    page.get_by_role("radio", name=str(world.practitioner)).focus()
    page.keyboard.press("?")
    expect(help_list).to_be_visible()
    expect(help_list).to_contain_text("Find a patient")
    snapshot(page, "shortcuts")
    page.keyboard.press("Escape")
    expect(help_list).to_be_hidden()
    page.keyboard.press("t")
    expect(page.get_by_role("radio", name="Check-up", exact=False)).to_be_focused()
    page.keyboard.press("/")
    expect(page.get_by_label("Find by name, phone or national ID")).to_be_focused()


def test_an_existing_patient_in_five_clicks_with_book_always_in_view(signed_in, live_server, world):
    page = signed_in
    page.set_viewport_size({"width": 1366, "height": 900})
    patient = PatientFactory(clinic=world.clinic, given_name="Tomás", family_name="Olivares")
    urls = open_book_page(page, live_server, world)
    clicks = []

    def click(locator) -> None:
        clicks.append(locator)
        locator.click()

    expect(page.get_by_label("Find by name, phone or national ID")).to_be_focused()
    page.keyboard.type(patient.family_name)  # no click: the search box has the focus
    click(page.locator("#patient-results [role=option]").first)
    expect(page.locator("#booking-summary")).to_contain_text(patient.display_name)
    click(page.get_by_text(str(world.practitioner), exact=True))
    click(page.get_by_text("Check-up", exact=False))
    click(page.locator("#slots .slot", has_text="10 a.m."))
    slot = page.locator("#slots .slot", has_text="10 a.m.")
    expect(slot).to_have_attribute("aria-pressed", "true")
    summary = page.locator("#booking-summary")
    for text in (patient.display_name, str(world.practitioner), "Check-up", "10 a.m.", "Chair 1",
                 "In person"):  # fmt: skip
        expect(summary).to_contain_text(text)
    book = page.get_by_role("button", name="Book", exact=True)
    expect(book).to_be_in_viewport()
    snapshot(page, "summary-before-book")
    click(book)

    expect(page.locator("#booked")).to_contain_text("Booked")
    assert len(clicks) <= 5
    assert Appointment.objects.get().start == world.at("10:00")
    assert_clean(urls, patient.family_name, patient.phone.replace(" ", ""))


def test_a_time_taken_meanwhile_gets_one_message_and_a_redrawn_grid(signed_in, live_server, world):
    page = signed_in
    patient = world.patients[0]
    open_book_page(page, live_server, world, who=f"p:{world.practitioner.pk}",
                   appointment_type=world.appointment_type.pk, patient=patient.pk)  # fmt: skip
    page.locator("#slots .slot", has_text="9:30 a.m.").click()
    expect(page.locator("#options")).to_contain_text("Chair 1")
    world.book("09:30", patient=world.patients[1])  # another desk, faster: Chair 1 too

    page.get_by_role("button", name="Book", exact=True).click()

    alert = page.locator("#options [role=alert]")
    expect(alert).to_have_count(1)
    expect(alert.locator("p")).to_have_count(1)
    expect(alert).to_have_text(
        "Dra. Camila Rojas is already booked from 09:30 to 10:00; choose another time."
    )
    expect(page.locator("#slots .slot", has_text="9:30 a.m.")).to_have_count(0)
    expect(page.locator("#slots .slot", has_text="10 a.m.")).to_have_count(1)
    expect(page.get_by_role("button", name="Book Mon, January 4, 10 a.m.")).to_be_focused()
    assert not Appointment.objects.filter(patient=patient).exists()


def test_the_confirmation_shows_everything_booked_and_books_again_for_the_patient(
    signed_in, live_server, world
):
    page = signed_in
    patient = world.patients[2]
    open_book_page(page, live_server, world, who=f"p:{world.practitioner.pk}",
                   appointment_type=world.appointment_type.pk, patient=patient.pk)  # fmt: skip
    page.locator("#slots .slot", has_text="11 a.m.").click()
    expect(page.locator("#booking-summary")).to_contain_text("11 a.m.")
    page.get_by_label("Comment").fill("Sensitive tooth")
    page.get_by_role("button", name="Book", exact=True).click()

    confirmation = page.locator("#booked")
    for text in (patient.display_name, "11 a.m.", str(world.practitioner), "Check-up",
                 "Providencia", "Chair 1", "In person", "Sensitive tooth"):  # fmt: skip
        expect(confirmation).to_contain_text(text)
    page.get_by_role("link", name="Book another for this patient").click()

    expect(page.locator("#patient-box")).to_contain_text(patient.display_name)
    expect(page.get_by_role("radio", name=str(world.practitioner))).to_be_focused()
    expect(page.locator("#booked")).to_have_count(0)


def test_registering_from_the_search_text_past_a_likely_duplicate(signed_in, live_server, world):
    page = signed_in
    PatientFactory(clinic=world.clinic, given_name="Martín", family_name="Rodríguez Flores",
                   phone="+56 9 5001 9643", birth_date=datetime.date(1980, 5, 17))  # fmt: skip
    urls = open_book_page(page, live_server, world)

    expect(page.get_by_label("Find by name, phone or national ID")).to_be_focused()
    page.keyboard.type("ana vera-soto")
    expect(page.locator("#patient-results")).to_contain_text("No patient matches")
    page.get_by_role("button", name="Register a new patient").click()
    expect(page.get_by_label("Given name")).to_have_value("Ana")
    expect(page.get_by_label("Family name")).to_have_value("Vera-Soto")
    expect(page.get_by_label("Given name")).to_be_focused()
    for label in ("Given name", "Family name"):
        expect(page.get_by_label(label)).to_have_attribute("required", "")
    expect(page.get_by_label("National ID type")).to_have_value("rut")
    expect(page.get_by_label("Phone country")).to_have_value("CL")
    expect(page.get_by_label("Email", exact=True)).to_be_hidden()  # behind "More details"
    snapshot(page, "registration-from-search")
    page.get_by_label("Phone", exact=True).fill("9 5001 9643")
    page.get_by_role("button", name="Save patient").click()

    warning = page.locator(".duplicates")
    expect(warning).to_contain_text("Martín Rodríguez Flores")
    expect(warning.get_by_role("link", name="Use this patient")).to_be_visible()
    snapshot(page, "duplicate-warning")
    assert not Patient.objects.filter(given_name="Ana").exists()
    page.get_by_role("button", name="Register anyway").click()

    expect(page.locator("#patient-box")).to_contain_text("Ana Vera-Soto")
    registered = Patient.objects.get(given_name="Ana")
    assert (registered.phone, registered.national_id_type) == ("+56 9 5001 9643", "")
    assert_clean(urls, "vera", "5001")


def test_a_likely_duplicate_is_chosen_instead(signed_in, live_server, world):
    page = signed_in
    other = PatientFactory(clinic=world.clinic, given_name="Martín", family_name="Rodríguez",
                           birth_date=datetime.date(1980, 5, 17))  # fmt: skip
    open_book_page(page, live_server, world)
    expect(page.get_by_label("Find by name, phone or national ID")).to_be_focused()
    page.keyboard.type("Martin Rodriguez Soto")
    page.get_by_role("button", name="Register a new patient").click()
    expect(page.get_by_label("Given name")).to_be_focused()  # the form has settled
    page.get_by_label("Family name").fill("Rodriguez")
    page.get_by_label("Birth date").fill("1980-05-17")
    page.get_by_role("button", name="Save patient").click()

    page.locator(".duplicates").get_by_role("link", name="Use this patient").click()

    expect(page.locator("#patient-box input[name=patient]")).to_have_value(str(other.pk))
    assert Patient.objects.filter(given_name="Martin").count() == 0


def test_a_time_asked_for_from_a_calendar_is_chosen_once_the_type_is(signed_in, live_server, world):
    page = signed_in
    start = world.at("10:30").isoformat().replace("+", "%2B")
    open_book_page(page, live_server, world, who=f"p:{world.practitioner.pk}", start=start,
                   slot_practitioner=world.practitioner.pk, room=world.rooms[1].pk)  # fmt: skip
    expect(page.locator("#options")).to_contain_text("Choose an appointment type to book")

    page.get_by_text("Check-up", exact=False).click()

    expect(page.locator("#options")).to_contain_text("10:30 a.m.–11 a.m.")
    expect(page.locator("#options").get_by_label("Chair 2")).to_be_checked()
    expect(page.locator("#slots .slot", has_text="10:30 a.m.")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator("#booking-summary")).to_contain_text("Chair 2")
