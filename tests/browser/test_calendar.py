"""The day and week calendars in real Chromium: book from a free time, move an appointment by
drag and drop or from the keyboard, a drop onto a taken time, and cancelled visits hidden
until asked for. A screenshot of each state goes to test-artifacts/calendar-*.png."""

import datetime
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from scheduling.models import Appointment, AppointmentStatus
from tests.browser.conftest import ARTIFACTS
from tests.factories import AppointmentFactory, VendorConnectionFactory
from tests.worlds import MONDAY
from vendors.models import BusyKind, Delivery, DeliveryState, Operation, PmsBusy, Vendor

pytestmark = pytest.mark.django_db(transaction=True)
SETTLE = 20  # seconds: the worker retries with backoff


def day_page(live_server, world, **params: Any) -> str:
    query = "".join(f"&{key}={value}" for key, value in params.items())
    return f"{live_server.url}/desk/day/?location={world.location.pk}&date={MONDAY}{query}"


def snap(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"calendar-{name}.png"), full_page=True)


def body_of(page: Page, title: str) -> Locator:
    """The time grid of the column headed `title`."""
    heading = page.locator("h2.cal-title", has_text=title)
    return page.locator("section.cal-col", has=heading).locator(".cal-body")


def card(page: Page, appointment: Appointment) -> Locator:
    return page.locator(f'.appt[data-appointment="{appointment.pk}"]')


def drag(page: Page, source: Locator, target: Locator, hhmm: str) -> None:
    """Drag a card by its top edge so that it starts at `hhmm` in the column `target`."""
    grid = page.locator(".cal-grid")
    first = int(grid.get_attribute("data-first-minute"))
    rows = int(grid.get_attribute("data-rows"))
    box = target.bounding_box()
    hours, minutes = map(int, hhmm.split(":"))
    y = (hours * 60 + minutes - first) / 5 * box["height"] / rows
    source.drag_to(
        target,
        source_position={"x": 12, "y": 3},
        target_position={"x": box["width"] / 2, "y": y + 3},
    )


def eventually(found: Callable[[], Any], timeout: float = SETTLE) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := found():
            return value
        time.sleep(0.2)
    raise AssertionError("still not there")


def chosen(page: Page, name: str) -> list[str]:
    """The values the booking form holds for `name`, whatever its widgets."""
    return page.evaluate(
        """name => Array.from(document.querySelectorAll(`[name="${name}"]`))
            .filter(e => !["radio", "checkbox"].includes(e.type) || e.checked)
            .map(e => e.value)""",
        name,
    )


def synced(appointment: Appointment, operation: str) -> Delivery | None:
    return Delivery.objects.filter(
        appointment=appointment, operation=operation, state=DeliveryState.SYNCED
    ).first()


# --- booking from a free time -----------------------------------------------------------------


def test_clicking_a_free_time_opens_the_booking_form_filled_in(signed_in, live_server, world):
    page = signed_in
    page.goto(day_page(live_server, world, by="practitioner"))
    free = body_of(page, str(world.practitioner)).locator('.cal-free[data-cell="630"]')  # 10:30
    free.hover()
    snap(page, "free-time")

    free.click()

    page.wait_for_url(re.compile(r"/desk/\?"))
    assert "start=2027-01-04T10:30" in page.url
    assert f"slot_practitioner={world.practitioner.pk}" in page.url
    assert f"p:{world.practitioner.pk}" in chosen(page, "who")
    assert MONDAY.isoformat() in chosen(page, "date")
    snap(page, "free-time-booking-form")


def test_a_free_time_is_reached_with_the_arrow_keys_and_booked_with_enter(
    signed_in, live_server, world
):
    page = signed_in
    page.goto(day_page(live_server, world))  # one column per room
    first = page.locator('.cal-free[tabindex="0"]')
    expect(first).to_have_count(1)  # the grid's free times are one tab stop
    first.focus()

    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    focused = page.locator(".cal-free:focus")
    expect(focused).to_have_attribute("data-cell", "570")  # 09:30, in the second room
    snap(page, "free-time-keyboard")
    page.keyboard.press("Enter")

    page.wait_for_url(re.compile(r"/desk/\?"))
    assert "start=2027-01-04T09:30" in page.url
    assert f"room={world.rooms[1].pk}" in page.url


# --- moving -------------------------------------------------------------------------------------


def test_dragging_an_appointment_to_another_time_moves_it_and_the_pms_is_told(
    signed_in, live_server, world, dentalink, worker
):
    appointment = world.book("09:00")
    booked = eventually(lambda: synced(appointment, Operation.BOOK))
    page = signed_in
    page.goto(day_page(live_server, world, by="practitioner"))

    drag(page, card(page, appointment), body_of(page, str(world.practitioner)), "10:30")

    dialog = page.locator("#cal-drop-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(appointment.patient.display_name)
    expect(dialog.locator("[data-fill=to]")).to_contain_text("10:30")
    snap(page, "drag-confirm")
    dialog.get_by_role("button", name="Move", exact=True).click()

    expect(page.locator("#calendar .notice.ok")).to_contain_text("Moved to")
    expect(card(page, appointment)).to_have_class(re.compile(r"\bat-31\b"))  # 10:30 from 08:00
    snap(page, "drag-moved")
    appointment.refresh_from_db()
    assert appointment.start == world.at("10:30")
    assert appointment.status == AppointmentStatus.UNCONFIRMED
    moved = eventually(lambda: synced(appointment, Operation.RESCHEDULE))
    assert moved.external_id != booked.external_id  # the PMS holds the new time


def test_a_drop_can_be_called_off(signed_in, live_server, world):
    appointment = world.book("09:00")
    page = signed_in
    page.goto(day_page(live_server, world))

    drag(page, card(page, appointment), body_of(page, "Chair 2"), "11:00")
    dialog = page.locator("#cal-drop-dialog")
    expect(dialog).to_contain_text("Chair 2")
    dialog.get_by_role("button", name="Cancel").click()

    expect(dialog).to_be_hidden()
    expect(page.locator(".cal-drop")).to_have_count(0)
    appointment.refresh_from_db()
    assert (appointment.start, appointment.room) == (world.at("09:00"), world.rooms[0])


def test_moving_from_the_keyboard(signed_in, live_server, world):
    appointment = world.book("09:00")
    page = signed_in
    page.goto(day_page(live_server, world))
    card(page, appointment).locator(".appt-open").focus()

    page.keyboard.press("Tab")
    expect(card(page, appointment).locator(".appt-move")).to_be_focused()
    page.keyboard.press("Enter")

    dialog = page.locator("#cal-move-dialog")
    expect(dialog).to_be_visible()
    when = dialog.get_by_label("New date and time")
    expect(when).to_be_focused()
    expect(when).to_have_value("2027-01-04T09:00")
    when.fill("2027-01-04T11:15")
    dialog.get_by_label("Room").select_option(label="Chair 2")
    snap(page, "keyboard-move")
    dialog.get_by_role("button", name="Move", exact=True).press("Enter")

    expect(page.locator("#calendar .notice.ok")).to_contain_text("Moved to")
    expect(
        body_of(page, "Chair 2").locator(f'[data-appointment="{appointment.pk}"]')
    ).to_be_visible()
    snap(page, "keyboard-moved")
    appointment.refresh_from_db()
    assert (appointment.start, appointment.room) == (world.at("11:15"), world.rooms[1])


def test_a_drop_onto_a_taken_time_says_why_and_leaves_the_card_in_place(
    signed_in, live_server, world
):
    mine = world.book("09:00")
    world.book("10:00", patient=world.patients[1])
    page = signed_in
    page.goto(day_page(live_server, world, by="practitioner"))

    drag(page, card(page, mine), body_of(page, str(world.practitioner)), "10:00")
    page.locator("#cal-drop-dialog").get_by_role("button", name="Move", exact=True).click()

    refusal = page.locator("#move-refused")
    expect(refusal).to_contain_text("Not moved.")
    expect(refusal).to_contain_text(str(world.practitioner))
    expect(refusal).to_be_focused()
    expect(card(page, mine)).to_have_class(re.compile(r"\bat-13\b"))  # still at 09:00
    alternatives = refusal.locator("button.slot")
    expect(alternatives.first).to_be_visible()
    snap(page, "drop-refused")
    mine.refresh_from_db()
    assert mine.start == world.at("09:00")

    alternatives.first.click()

    expect(page.locator("#calendar .notice.ok")).to_contain_text("Moved to")
    mine.refresh_from_db()
    assert mine.start == world.at("10:30")  # the next free time after 10:00


def test_pms_held_time_is_read_only(signed_in, live_server, world):
    PmsBusy.objects.create(
        connection=VendorConnectionFactory(clinic=world.clinic, vendor=Vendor.DENTALINK),
        external_id="901",
        practitioner=world.practitioner,
        start=world.at("11:00"),
        end=world.at("12:00"),
        kind=BusyKind.APPOINTMENT,
        last_seen=timezone.now(),
    )
    page = signed_in
    page.goto(day_page(live_server, world, by="practitioner"))

    band = page.locator(".band.pms")
    expect(band).to_contain_text("Busy in Dentalink")
    expect(band).not_to_have_attribute("draggable", "true")
    cells = body_of(page, str(world.practitioner)).locator(".cal-free")
    starts = [int(value) for value in cells.evaluate_all("els => els.map(e => e.dataset.cell)")]
    assert starts and max(starts) < 11 * 60  # nothing to book in the PMS's hour


# --- cancelled and no-show ------------------------------------------------------------------


def test_cancelled_visits_are_hidden_until_asked_for(signed_in, live_server, world):
    world.book("10:00")
    start = world.at("09:00")
    gone = AppointmentFactory(
        clinic=world.clinic,
        location=world.location,
        practitioner=world.practitioner,
        room=world.rooms[0],
        patient=world.patients[1],
        appointment_type=world.appointment_type,
        start=start,
        end=start + datetime.timedelta(minutes=30),
        status=AppointmentStatus.CANCELLED,
    )
    page = signed_in
    page.goto(day_page(live_server, world))
    expect(card(page, gone)).to_have_count(0)
    expect(body_of(page, "Chair 1").locator('.cal-free[data-cell="540"]')).to_have_count(1)
    snap(page, "cancelled-hidden")

    page.get_by_label("Show cancelled and no-show").check()

    expect(card(page, gone)).to_be_visible()
    expect(page).to_have_url(re.compile(r"cancelled=show"))
    swatch = page.locator(".cal-swatch.st-cancelled")
    for style in ("border-left-color", "background-color"):
        shown = card(page, gone).evaluate(f"e => getComputedStyle(e)['{style}']")
        assert swatch.evaluate(f"e => getComputedStyle(e)['{style}']") == shown
    snap(page, "cancelled-shown")

    page.reload()
    expect(card(page, gone)).to_be_visible()
    expect(page.get_by_label("Show cancelled and no-show")).to_be_checked()


def test_a_compact_card_shows_its_status_by_mark_and_name(signed_in, live_server, world):
    appointment = world.book("09:00")  # 30 minutes
    page = signed_in
    page.goto(day_page(live_server, world))

    status = card(page, appointment).locator(".appt-status")
    expect(card(page, appointment)).to_have_class(re.compile(r"\bcompact\b"))
    expect(status.locator(".appt-icon")).to_have_text("?")
    expect(status.locator(".appt-icon")).to_be_visible()
    expect(status).to_contain_text("Unconfirmed")  # for screen readers, not cut
    snap(page, "compact-card")


# --- accessibility --------------------------------------------------------------------------


def axe_violations(page: Page) -> list[str]:
    """What axe-core (vendored under static/) finds against WCAG 2.1 A and AA."""
    page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")
    return page.evaluate(
        """async () => {
            const result = await axe.run(document, {
                runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
            });
            return result.violations.map(
                (v) => `${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`
            );
        }"""
    )


def test_the_calendars_with_every_status_and_the_move_dialog_pass_axe(
    signed_in, live_server, world
):
    movable = world.book("09:00")
    for n, (state, _label) in enumerate(AppointmentStatus.choices[1:]):
        start = world.at("09:30") + datetime.timedelta(minutes=15 * n)
        AppointmentFactory(
            clinic=world.clinic,
            location=world.location,
            practitioner=world.practitioner,
            room=world.rooms[1],
            patient=world.patients[n % 3],
            appointment_type=world.appointment_type,
            start=start,
            end=start + datetime.timedelta(minutes=15 if n % 2 else 45),
            status=state,
            overflow=True,
        )
    page = signed_in
    week = f"/desk/week/?location={world.location.pk}&date={MONDAY}&cancelled=show"

    for path in (day_page(live_server, world, cancelled="show"), f"{live_server.url}{week}"):
        page.goto(path)
        assert axe_violations(page) == [], path

    card(page, movable).hover()  # its "Move…" link shows on hover and focus
    card(page, movable).locator(".appt-move").click()
    expect(page.locator("#cal-move-dialog")).to_be_visible()
    snap(page, "move-dialog")
    assert axe_violations(page) == []
