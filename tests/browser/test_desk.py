"""The receptionist's day in real Chromium: book, lose a race, reschedule, cancel, PMS down."""

import pytest
from playwright.sync_api import expect

from scheduling.models import Appointment, AppointmentStatus
from tests.worlds import MONDAY
from vendors import delivery
from vendors.models import ExternalId

pytestmark = pytest.mark.django_db(transaction=True)
SETTLE = 20_000  # ms: the worker retries with backoff; the page polls every 2 s


def book_page(live_server, world) -> str:
    return (
        f"{live_server.url}/desk/?location={world.location.pk}&who=p:{world.practitioner.pk}"
        f"&appointment_type={world.appointment_type.pk}&date={MONDAY.isoformat()}"
    )


def choose_existing_patient(page, patient) -> None:
    search = page.get_by_label("Find by name, phone or national ID")
    search.fill(patient.family_name)
    expect(page.locator("#patient-results [role=option]").first).to_be_visible()
    search.press("ArrowDown")
    search.press("Enter")
    expect(page.locator("#patient-box")).to_contain_text(patient.family_name)


def choose_slot_and_book(page, hhmm: str) -> None:
    page.locator("#slots .slot", has_text=hhmm).first.click()
    book = page.get_by_role("button", name="Book", exact=True)
    expect(book).to_be_visible()
    book.click()


def test_book_a_new_patient_and_see_the_pms_id_appear(signed_in, live_server, world,
                                                      dentalink, worker):  # fmt: skip
    page = signed_in
    page.goto(book_page(live_server, world))
    page.get_by_role("button", name="Register a new patient").click()
    page.get_by_label("Given name").fill("Ana")
    page.get_by_label("Family name").fill("Vera Soto")
    page.get_by_label("Phone", exact=True).fill("+56 9 1234 5678")
    page.get_by_role("button", name="Save patient").click()
    expect(page.locator("#patient-box")).to_contain_text("Ana Vera Soto")

    choose_slot_and_book(page, "9:30 a.m.")

    confirmation = page.locator("#booked")
    expect(confirmation).to_contain_text("Booked")
    expect(confirmation).to_contain_text("9:30 a.m.")
    expect(confirmation).to_contain_text("Synced", timeout=SETTLE)
    appointment = Appointment.objects.get()
    vendor_id = ExternalId.objects.get(content_type__model="appointment").external_id
    expect(confirmation).to_contain_text(vendor_id)
    assert appointment.patient.family_name == "Vera Soto"


def test_a_slot_another_desk_just_took_offers_alternatives(signed_in, live_server, world):
    page = signed_in
    page.goto(book_page(live_server, world))
    choose_existing_patient(page, world.patients[0])
    world.book("09:30", patient=world.patients[1])  # the other desk is faster

    page.locator("#slots .slot", has_text="9:30 a.m.").first.click()

    expect(page.locator("#options")).to_contain_text("has just been taken at another desk")
    alternative = page.get_by_role("button", name="Book Mon, January 4, 10 a.m.")
    alternative.click()
    expect(page.locator("#booked")).to_contain_text("10 a.m.")
    assert Appointment.objects.filter(patient=world.patients[0]).get().start == world.at("10:00")


def test_reschedule(signed_in, live_server, world):
    appointment = world.book("09:00")
    page = signed_in

    page.goto(f"{live_server.url}/desk/appointments/{appointment.pk}/reschedule/?date={MONDAY}")
    page.locator("#reschedule .slot", has_text="11 a.m.").first.click()

    expect(page.locator("#appointment-page")).to_contain_text(
        "Moved to Monday, Jan. 4, 2027, 11 a.m.–11:30 a.m."
    )
    appointment.refresh_from_db()
    assert appointment.start == world.at("11:00")


def test_cancel(signed_in, live_server, world):
    appointment = world.book("09:00")
    page = signed_in
    page.goto(f"{live_server.url}/desk/appointments/{appointment.pk}/")

    page.get_by_label("Reason for cancelling").fill("The patient has a fever")
    page.get_by_role("button", name="Cancel appointment").click()

    expect(page.locator("#appointment-page h1")).to_contain_text("Cancelled")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == "The patient has a fever"


def test_a_pms_that_is_down_shows_queued_then_synced(signed_in, live_server, world,
                                                     dentalink, worker, monkeypatch):  # fmt: skip
    # The retries' jitter at its longest (2 s, then 4 s): with a short draw the delivery could
    # be synced before the page first shows it, and "Queued" never be seen.
    monkeypatch.setattr(delivery.random, "uniform", lambda low, high: high)
    ExternalId.objects.create(
        connection=world.clinic.connections.get(),
        record=world.patients[0],
        external_id="501",
    )
    dentalink.inject("503", "503", path="/api/v1/citas")
    page = signed_in
    page.goto(book_page(live_server, world))
    choose_existing_patient(page, world.patients[0])

    choose_slot_and_book(page, "10:30 a.m.")

    confirmation = page.locator("#booked")
    expect(confirmation).to_contain_text("Queued", timeout=SETTLE)
    expect(confirmation).to_contain_text("Synced", timeout=SETTLE)
