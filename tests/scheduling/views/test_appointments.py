"""The appointment page of the desk: details, delivery block, history and actions."""

import datetime
import re

import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import formats, timezone, translation

from scheduling import booking
from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AuditAction,
    AuditEvent,
)
from scheduling.views.context import SESSION_CLINIC
from tests.factories import (
    AppointmentEventFactory,
    AppointmentFactory,
    CancelReasonFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    DeliveryAttemptFactory,
    DeliveryFactory,
    LocationFactory,
    PatientFactory,
    VendorConnectionFactory,
)
from tests.scheduling.test_cancel_reasons import PEOPLE
from vendors.models import DeliveryState

Status = AppointmentStatus
HTMX = {"HX-Request": "true"}
POLLING = 'hx-trigger="every 2s"'


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def monday(world):
    """A Monday at least a week ahead of today in Santiago (the world works Mondays)."""
    today = timezone.now().astimezone(world.location.zone).date()
    return today + datetime.timedelta(days=7 + (7 - today.weekday()) % 7)


@pytest.fixture
def booked(world, monday, receptionist):
    """Monday 09:00–09:30 with Camila Rojas in a chair, booked by the receptionist."""
    return world.book(
        "09:00", day=monday, by=receptionist, comment="Sensitive tooth", now=timezone.now()
    )


def url(name, appointment, query=""):
    return reverse(f"desk:{name}", args=[appointment.pk]) + query


def clock(world, moment):
    """A time as the page shows it: in the locale's format, in the location's zone."""
    with translation.override("en"):
        return formats.time_format(moment.astimezone(world.location.zone))


def long_day(world, moment):
    """A day as the page shows it: "Monday, Jan. 4, 2027"."""
    day = moment.astimezone(world.location.zone)
    with translation.override("en"):
        return f"{formats.date_format(day, 'l')}, {formats.date_format(day, 'DATE_FORMAT')}"


def started_today(world, status=Status.UNCONFIRMED):
    """An appointment that started a few minutes ago, on today's date in Santiago."""
    now = timezone.now()
    since_midnight = now.astimezone(world.location.zone)
    since_midnight -= since_midnight.replace(hour=0, minute=0, second=0, microsecond=0)
    start = now - min(datetime.timedelta(minutes=5), since_midnight)
    return AppointmentFactory(
        clinic=world.clinic,
        location=world.location,
        practitioner=world.practitioner,
        room=world.rooms[0],
        patient=world.patients[1],
        appointment_type=world.appointment_type,
        start=start,
        status=status,
    )


def connect(world):
    return VendorConnectionFactory(clinic=world.clinic)


# -- the page ------------------------------------------------------------------------------


def test_page_shows_the_details_in_the_locations_zone_and_the_history(
    desk, world, booked, receptionist
):
    response = desk.get(url("appointment", booked))

    assert response.status_code == 200
    page = response.content.decode()
    assert booked.start.astimezone(world.location.zone).hour == 9
    assert f"{clock(world, booked.start)}–{clock(world, booked.end)}" in page
    assert f"<dd>{long_day(world, booked.start)}</dd>" in page
    assert "America/Santiago" in page
    for text in (
        str(world.patients[0]),
        "Dra. Camila Rojas",
        "Chair 1",
        "Check-up",
        "In person",
        "Sensitive tooth",
        '<span class="badge unconfirmed">Unconfirmed</span>',
    ):
        assert text in page
    assert "by recepcion" in page  # created by
    # History: the booking, by whom, and the booked time in local time.
    assert "<td>Booked</td>" in page
    assert "<td>recepcion</td>" in page
    span = (
        f"{long_day(world, booked.start)}, {clock(world, booked.start)}–{clock(world, booked.end)}"
    )
    assert f"<td>{span}</td>" in page
    # A local clinic: nothing goes to a PMS, and nothing polls.
    assert "Not required" in page
    assert POLLING not in page


def test_an_animal_is_shown_with_its_owner(desk, world, monday):
    pet = PatientFactory(clinic=world.clinic, animal=True, given_name="Cachupín")
    appointment = world.book("10:00", day=monday, patient=pet, now=timezone.now())

    page = desk.get(url("appointment", appointment)).content.decode()

    assert "Cachupín (dog," in page
    assert "<dt>Owner</dt>" in page
    assert pet.guardian_name in page
    assert "+56 9 8765 4321" in page


def test_history_lists_every_event_with_its_details(desk, world, booked, receptionist):
    AppointmentEventFactory(
        appointment=booked,
        action=AppointmentEvent.Action.CANCELLED,
        from_status=Status.UNCONFIRMED,
        to_status=Status.CANCELLED,
        by=receptionist,
        details={"reason": "Patient has the flu"},
    )

    page = desk.get(url("appointment", booked)).content.decode()

    assert "<td>Cancelled</td>" in page
    assert "Unconfirmed → Cancelled" in page
    assert "Reason: Patient has the flu" in page


def test_delivery_block_and_attempt_log_without_the_http_bodies(desk, world, booked):
    delivery = DeliveryFactory(
        appointment=booked,
        connection=connect(world),
        state=DeliveryState.NEEDS_ATTENTION,
        attempts=2,
        external_id="",
        vendor_status="",
        last_error="Treats.vet refused the patient: map the patient in External IDs.",
    )
    DeliveryAttemptFactory(
        delivery=delivery, number=1, http_status=503, latency_ms=812, outcome="queued",
        error="Treats.vet is unavailable (503); retrying.",
        exchanges=[{"request": "REQUEST-BODY-XYZ", "response": "RESPONSE-BODY-XYZ"}],
    )  # fmt: skip
    DeliveryAttemptFactory(
        delivery=delivery, number=2, http_status=422, latency_ms=95, outcome="needs_attention",
        error="Treats.vet refused the patient: map the patient in External IDs.",
    )  # fmt: skip

    page = desk.get(url("appointment", booked)).content.decode()

    assert "Treats.vet" in page
    assert '<span class="badge needs_attention">Needs attention</span>' in page
    assert "map the patient in External IDs." in page
    assert "Retry now" in page  # what to do next
    assert "<dt>Attempts</dt><dd>2</dd>" in page
    assert "<td>503</td>" in page
    assert "<td>812 ms</td>" in page
    assert "Treats.vet is unavailable (503); retrying." in page
    assert "<td>422</td>" in page
    assert "BODY-XYZ" not in page
    assert POLLING not in page


def test_delivery_block_shows_the_vendors_id_and_status_once_synced(desk, world, booked):
    DeliveryFactory(
        appointment=booked,
        connection=connect(world),
        state=DeliveryState.SYNCED,
        attempts=1,
        external_id="tv-4711",
        vendor_status="SCHEDULED",
    )

    page = desk.get(url("appointment", booked)).content.decode()

    assert "tv-4711" in page
    assert "SCHEDULED" in page
    assert '<span class="badge synced">Synced</span>' in page


@pytest.mark.parametrize(
    ("state", "polls"),
    [
        (DeliveryState.QUEUED, True),
        (DeliveryState.SENDING, True),
        (DeliveryState.ACCEPTED, True),
        (DeliveryState.SYNCED, False),
        (DeliveryState.NEEDS_ATTENTION, False),
        (None, False),  # not_required: a clinic without a PMS
    ],
)
def test_sync_partial_polls_only_while_the_delivery_is_unsettled(desk, world, booked, state, polls):
    if state is not None:
        DeliveryFactory(appointment=booked, connection=connect(world), state=state)

    response = desk.get(url("appointment-sync", booked), headers=HTMX)

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith(f'<section id="pms-sync-{booked.pk}"')
    assert "<html" not in fragment
    assert (POLLING in fragment) is polls
    assert (f'hx-get="{url("appointment-sync", booked)}"' in fragment) is polls
    assert ('hx-swap="outerHTML"' in fragment) is polls


def test_polling_stops_when_the_delivery_settles(desk, world, booked):
    delivery = DeliveryFactory(
        appointment=booked, connection=connect(world), state=DeliveryState.QUEUED
    )
    assert POLLING in desk.get(url("appointment-sync", booked), headers=HTMX).content.decode()
    assert POLLING in desk.get(url("appointment", booked)).content.decode()

    delivery.state = DeliveryState.SYNCED
    delivery.external_id = "tv-1"
    delivery.save()

    fragment = desk.get(url("appointment-sync", booked), headers=HTMX).content.decode()
    assert POLLING not in fragment
    assert "hx-get" not in fragment
    assert "tv-1" in fragment


def test_the_latest_delivery_decides_the_state(desk, world, booked):
    connection_ = connect(world)
    DeliveryFactory(appointment=booked, connection=connection_, state=DeliveryState.SYNCED)
    DeliveryFactory(appointment=booked, connection=connection_, state=DeliveryState.QUEUED)

    fragment = desk.get(url("appointment-sync", booked), headers=HTMX).content.decode()

    assert POLLING in fragment


def test_sync_without_htmx_goes_to_the_page(desk, booked):
    response = desk.get(url("appointment-sync", booked))

    assert response.status_code == 302
    assert response["Location"] == url("appointment", booked) + "#delivery"


def test_sync_partial_can_be_included_by_another_page(world, booked):
    from django.template.loader import render_to_string

    DeliveryFactory(appointment=booked, connection=connect(world), state=DeliveryState.ACCEPTED)
    from vendors.selectors import sync_of

    html = render_to_string(
        "desk/appointment.html#sync",
        {"appointment": booked, "sync": sync_of([booked])[booked.pk]},
    )

    assert POLLING in html
    assert "Accepted" in html


# -- status actions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "offered"),
    [
        (Status.UNCONFIRMED, {"confirmed", "arrived", "no_show"}),
        (Status.CONFIRMED, {"arrived", "no_show"}),
        (Status.ARRIVED, {"completed"}),
        (Status.COMPLETED, set()),
        (Status.CANCELLED, set()),
        (Status.NO_SHOW, set()),
    ],
)
def test_only_the_status_changes_of_the_table_are_offered(desk, world, status, offered):
    appointment = started_today(world, status=status)

    page = desk.get(url("appointment", appointment)).content.decode()

    for value in ("confirmed", "arrived", "completed", "no_show"):
        assert (f'name="status" value="{value}"' in page) is (value in offered)
    can_cancel = status in (Status.UNCONFIRMED, Status.CONFIRMED)
    assert (url("appointment-cancel", appointment) in page) is can_cancel
    assert (url("appointment-reschedule", appointment) in page) is can_cancel


@pytest.mark.parametrize(
    ("before", "after", "message"),
    [
        (Status.UNCONFIRMED, Status.CONFIRMED, "Appointment confirmed."),
        (Status.UNCONFIRMED, Status.ARRIVED, "Marked arrived."),
        (Status.CONFIRMED, Status.ARRIVED, "Marked arrived."),
        (Status.UNCONFIRMED, Status.NO_SHOW, "Marked no-show."),
        (Status.CONFIRMED, Status.NO_SHOW, "Marked no-show."),
        (Status.ARRIVED, Status.COMPLETED, "Marked completed."),
    ],
)
def test_each_allowed_status_change_works_with_htmx(
    desk, world, receptionist, before, after, message
):
    appointment = started_today(world, status=before)

    response = desk.post(url("appointment-status", appointment), {"status": after}, headers=HTMX)

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<div id="appointment-page"')
    assert message in fragment
    assert f'<span class="badge {after}">' in fragment
    assert response["HX-Push-Url"] == url("appointment", appointment)
    appointment.refresh_from_db()
    assert appointment.status == after
    event = appointment.events.get()
    assert (event.from_status, event.to_status, event.by) == (before, after, receptionist)


def test_a_status_change_without_htmx_redirects_to_the_page_with_the_message(desk, world):
    appointment = started_today(world)

    response = desk.post(url("appointment-status", appointment), {"status": Status.ARRIVED})

    assert response.status_code == 302
    assert response["Location"] == url("appointment", appointment)
    page = desk.get(response["Location"]).content.decode()
    assert "Marked arrived." in page


@pytest.mark.parametrize(
    ("status", "posted", "message"),
    [
        (Status.COMPLETED, Status.CONFIRMED, "A completed appointment cannot become confirmed."),
        (Status.CANCELLED, Status.ARRIVED, "A cancelled appointment cannot become arrived."),
        (Status.ARRIVED, Status.NO_SHOW, "An arrived appointment cannot become no-show."),
        (Status.CONFIRMED, Status.CONFIRMED, "A confirmed appointment cannot become confirmed."),
    ],
)
def test_a_status_change_the_table_forbids_is_refused(desk, world, status, posted, message):
    appointment = started_today(world, status=status)

    for headers in (HTMX, {}):
        response = desk.post(
            url("appointment-status", appointment), {"status": posted}, headers=headers
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert message.split(" ", 1)[1] in page
    appointment.refresh_from_db()
    assert appointment.status == status
    assert not appointment.events.exists()


def test_no_show_before_the_start_is_refused_with_the_services_message(desk, world, booked):
    response = desk.post(url("appointment-status", booked), {"status": Status.NO_SHOW})

    assert response.status_code == 200
    assert "The appointment has not started yet" in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


@pytest.mark.parametrize("posted", ["", "bogus", "cancelled "])
def test_an_unknown_status_is_refused(desk, world, booked, posted):
    response = desk.post(url("appointment-status", booked), {"status": posted}, headers=HTMX)

    assert response.status_code == 200
    assert "Choose one of the actions offered for this appointment." in response.content.decode()
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


# -- cancel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_without_a_reason_shows_the_services_message_next_to_the_field(desk, booked, reason):
    response = desk.post(url("appointment-cancel", booked), {"reason": reason}, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        '<p class="error" id="cancel-reason-error">Give a reason for the cancellation.</p>' in page
    )
    assert 'aria-describedby="cancel-reason-error"' in page
    assert '<label for="cancel-reason">' in page
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


def test_a_too_long_reason_is_refused_and_kept_in_the_field(desk, booked):
    reason = "x" * 1001

    response = desk.post(url("appointment-cancel", booked), {"reason": reason}, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Keep the reason to 1000 characters." in page
    assert f">{reason}</textarea>" in page
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


def test_cancel_with_a_reason(desk, booked, receptionist):
    response = desk.post(
        url("appointment-cancel", booked), {"reason": "Patient has the flu"}, headers=HTMX
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Appointment cancelled." in page
    assert "Reason: Patient has the flu" in page
    assert url("appointment-cancel", booked) not in page  # nothing more to cancel
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED
    assert booked.cancellation_reason == "Patient has the flu"
    audited = AuditEvent.objects.filter(appointment=booked).latest("pk")
    assert (audited.action, audited.user, audited.changes["after"]) == (
        AuditAction.CANCELLED,
        receptionist,
        {"status": "cancelled", "reason": "Patient has the flu"},
    )


def test_cancel_without_htmx_redirects(desk, booked):
    response = desk.post(url("appointment-cancel", booked), {"reason": "Moved abroad"})

    assert response.status_code == 302
    assert response["Location"] == url("appointment", booked)


def test_cancelling_twice_is_refused(desk, world, booked):
    desk.post(url("appointment-cancel", booked), {"reason": "Moved abroad"})

    response = desk.post(url("appointment-cancel", booked), {"reason": "Again"}, headers=HTMX)

    assert response.status_code == 200
    assert "A cancelled appointment cannot become cancelled." in response.content.decode()


def test_an_empty_cancellation_of_a_cancelled_appointment_is_answered_at_the_top(desk, booked):
    booking.cancel_appointment(booked, reason="Moved abroad")

    response = desk.post(url("appointment-cancel", booked), {"reason": ""}, headers=HTMX)

    page = response.content.decode()
    alert = page[page.index('<div class="notice bad" role="alert"') :]
    assert "Give a reason for the cancellation." in alert[: alert.index("</div>")]


def test_cancelling_a_delivered_appointment_starts_polling(desk, world, monday):
    connect(world)
    appointment = world.book("10:00", day=monday, now=timezone.now())

    response = desk.post(
        url("appointment-cancel", appointment), {"reason": "Patient asked"}, headers=HTMX
    )

    assert response.status_code == 200
    assert POLLING in response.content.decode()
    assert appointment.deliveries.count() == 2  # the booking, then the cancellation


# -- cancel with the clinic's reasons ---------------------------------------------------------

RADIO = re.compile(r'<input type="radio" name="reason_id" value="(\d*)" id="([\w-]+)"( checked)?>')


@pytest.fixture
def reasons(world):
    """The world's clinic with the default reasons, by label."""
    ensure_default_reasons(world.clinic)
    return {reason.label: reason for reason in world.clinic.cancel_reasons.all()}


def radios(page):
    """The reasons offered: (value, checked) in the page's order."""
    return [(value, bool(checked)) for value, _id, checked in RADIO.findall(page)]


def test_the_cancel_form_offers_the_clinics_active_reasons_without_a_disclosure(
    desk, world, booked, reasons
):
    CancelReasonFactory(clinic=world.clinic, label="Retired", active=False)
    CancelReasonFactory(label="Of another clinic")

    page = desk.get(url("appointment", booked)).content.decode()

    assert "<details" not in page
    assert "<legend>Reason for cancelling</legend>" in page
    assert radios(page) == [(str(reasons[label].pk), False) for label in PEOPLE] + [("", True)]
    assert "Another reason (write it below)" in page
    assert "Retired" not in page
    assert "Of another clinic" not in page
    assert '<label for="cancel-reason">In your own words</label>' in page
    assert 'aria-describedby="cancel-reason-help"' in page


@pytest.mark.parametrize(
    ("label", "words", "recorded"),
    [
        ("Patient unwell", "", "Patient unwell"),
        ("Patient unwell", "Has the flu", "Patient unwell — Has the flu"),
        (None, "Moved abroad", "Moved abroad"),
    ],
)
def test_cancel_with_a_reason_of_the_clinic_then_rebook(
    desk, booked, reasons, label, words, recorded
):
    posted = {"reason_id": reasons[label].pk if label else "", "reason": words}

    response = desk.post(url("appointment-cancel", booked), posted, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Appointment cancelled." in page
    assert f"Reason: {recorded}" in page
    assert '<form id="rebook"' in page
    assert "Rebook this patient" in page
    assert 'name="reason_id"' not in page  # nothing more to cancel
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED
    assert booked.cancellation_reason == recorded


@pytest.mark.parametrize(
    ("posted", "field", "message"),
    [
        ({"reason_id": "", "reason": "  "}, "reason", "Choose a reason, or write one."),
        ({"reason": ""}, "reason", "Choose a reason, or write one."),
        ({"reason_id": "bogus", "reason": "x"}, "reason-id", "Choose one of the reasons listed."),
        ({"reason_id": "retired", "reason": ""}, "reason-id", "Choose one of the reasons listed."),
        ({"reason_id": "elsewhere"}, "reason-id", "Choose one of the reasons listed."),
    ],
)
def test_cancel_without_a_reason_says_what_to_choose(
    desk, world, booked, reasons, posted, field, message
):
    others = {
        "retired": CancelReasonFactory(clinic=world.clinic, active=False).pk,
        "elsewhere": CancelReasonFactory().pk,
    }
    posted = {name: others.get(value, value) for name, value in posted.items()}

    response = desk.post(url("appointment-cancel", booked), posted, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert f'<p class="error" id="cancel-{field}-error">{message}</p>' in page
    assert f"cancel-{field}-error" in page[page.index('<form method="post" action="/desk/ap') :]
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


def test_a_refused_cancellation_keeps_the_reason_chosen_and_the_words(desk, booked, reasons):
    chosen = reasons["Patient unwell"]
    words = "x" * 990  # with the label, more than the 1000 characters kept

    response = desk.post(
        url("appointment-cancel", booked), {"reason_id": chosen.pk, "reason": words}, headers=HTMX
    )

    page = response.content.decode()
    assert "Keep the reason to 1000 characters." in page
    assert (str(chosen.pk), True) in radios(page)
    assert ("", True) not in radios(page)
    assert f">{words}</textarea>" in page
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


def test_a_clinic_without_reasons_asks_for_words_only(desk, booked):
    page = desk.get(url("appointment", booked)).content.decode()

    assert radios(page) == []
    assert "<fieldset" not in page
    assert '<label for="cancel-reason">Reason for cancelling</label>' in page
    assert 'aria-required="true"' in page


def rebook_form(page):
    form = page[page.index('<form id="rebook"') :]
    return form[: form.index("</form>")]


def rebook_query(page):
    return dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', rebook_form(page))
    )


@pytest.mark.parametrize("status", [Status.CANCELLED, Status.NO_SHOW])
def test_a_cancelled_or_missed_appointment_offers_to_rebook_the_patient_by_ids_only(
    desk, world, booked, status
):
    Appointment.objects.filter(pk=booked.pk).update(status=status)

    page = desk.get(url("appointment", booked)).content.decode()

    form = rebook_form(page)
    choose = reverse("desk:patient-choose", args=[booked.patient_id])
    assert f'method="get" action="{choose}"' in form
    assert '<button type="submit">Rebook this patient</button>' in form
    assert rebook_query(page) == {
        "location": str(world.location.pk),
        "who": f"p:{world.practitioner.pk}",
        "appointment_type": str(world.appointment_type.pk),
    }


@pytest.mark.parametrize(
    "status", [Status.UNCONFIRMED, Status.CONFIRMED, Status.ARRIVED, Status.COMPLETED]
)
def test_rebook_is_not_offered_while_the_appointment_stands(desk, world, status):
    appointment = started_today(world, status=status)

    page = desk.get(url("appointment", appointment)).content.decode()

    assert 'id="rebook"' not in page
    assert "Rebook this patient" not in page


def test_rebook_leaves_out_what_can_no_longer_be_booked(desk, world, booked):
    booking.cancel_appointment(booked, reason="Moved abroad")
    for record in (world.practitioner, world.appointment_type):
        record.active = False
        record.save(update_fields=["active"])

    page = desk.get(url("appointment", booked)).content.decode()

    assert rebook_query(page) == {"location": str(world.location.pk)}


def test_rebook_lands_on_the_booking_page_with_the_patient_chosen(
    desk, world, booked, receptionist
):
    desk.post(url("appointment-cancel", booked), {"reason": "Moved abroad"})
    page = desk.get(url("appointment", booked)).content.decode()
    choose = reverse("desk:patient-choose", args=[booked.patient_id])

    response = desk.get(choose, rebook_query(page), follow=True)

    assert response.status_code == 200
    landed, _status = response.redirect_chain[-1]
    assert landed.startswith(reverse("desk:book") + "?")
    assert f"patient={booked.patient_id}" in landed
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEWED, patient=booked.patient)
    assert viewed.filter(object_type="scheduling.patient", user=receptionist).exists()
    assert response.context["patient"] == booked.patient
    form = response.context["form"]
    form.is_valid()
    assert form.cleaned_data["practitioner"] == world.practitioner
    assert form.cleaned_data["appointment_type"] == world.appointment_type


def test_the_cancel_form_reads_the_reasons_in_one_query(desk, world, booked):
    CancelReasonFactory(clinic=world.clinic)
    desk.get(url("appointment", booked))  # warm up the session and caches
    few = count_queries(desk, url("appointment", booked))

    CancelReasonFactory.create_batch(20, clinic=world.clinic)

    assert count_queries(desk, url("appointment", booked)) == few <= 11


def test_a_cancelled_page_reads_no_reasons(desk, world, booked):
    booking.cancel_appointment(booked, reason="Moved abroad")
    desk.get(url("appointment", booked))  # warm up the session and caches

    assert count_queries(desk, url("appointment", booked)) <= 10


# -- reschedule ------------------------------------------------------------------------------


def test_reschedule_picker_shows_the_free_times_of_that_day(desk, world, booked, monday):
    world.book("10:00", day=monday, patient=world.patients[1], now=timezone.now())

    response = desk.get(url("appointment-reschedule", booked, f"?date={monday}"))

    assert response.status_code == 200
    page = response.content.decode()
    assert '<label for="reschedule-date">Date</label>' in page
    assert f'value="{monday}"' in page
    assert "Morning" in page
    assert "Afternoon" not in page  # the practitioner works 09:00–12:00
    offered = [
        f'value="{world.at(hhmm, monday).isoformat()}"'
        for hhmm in ("09:00", "09:15", "09:30", "10:30", "11:30")
    ]
    for value in offered:
        assert value in page  # 09:00 is the appointment itself: free for it
    assert f"{clock(world, booked.start)} <small>current</small>" in page
    for hhmm in ("09:45", "10:00", "10:15", "11:45"):
        assert f'value="{world.at(hhmm, monday).isoformat()}"' not in page
    next_monday = monday + datetime.timedelta(days=7)
    assert f"?date={next_monday}" in page
    assert "Next available:" in page


def test_reschedule_defaults_to_the_appointments_day(desk, booked, monday):
    page = desk.get(url("appointment-reschedule", booked)).content.decode()

    assert f'id="reschedule-date" name="date" value="{monday}"' in page


def test_reschedule_picker_alone_for_a_date_change(desk, world, booked, monday):
    tuesday = monday + datetime.timedelta(days=1)

    response = desk.get(
        url("appointment-reschedule", booked, f"?date={tuesday}"),
        headers={**HTMX, "HX-Target": "reschedule"},
    )

    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.lstrip().startswith('<section id="reschedule"')
    assert "History" not in fragment
    assert "No free times on this day." in fragment
    next_free = world.at("09:00", monday + datetime.timedelta(days=7))
    assert f"Next available: {long_day(world, next_free)}, {clock(world, next_free)}–" in fragment


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("31/02/2027", "Enter the date as YYYY-MM-DD"),
        ("2027-02-31", "Enter the date as YYYY-MM-DD"),
        ("9999-12-31", "Choose a date between the years 1900 and 2999."),
        ("0001-01-01", "Choose a date between the years 1900 and 2999."),
    ],
)
def test_reschedule_with_a_bad_date_says_what_to_enter(desk, booked, monday, date, message):
    response = desk.get(url("appointment-reschedule", booked, f"?date={date}"))

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert f'id="reschedule-date" name="date" value="{monday}"' in page


def test_reschedule_moves_the_appointment(desk, world, booked, monday, receptionist):
    new_start = world.at("10:30", monday)

    response = desk.post(
        url("appointment-reschedule", booked),
        {"start": new_start.isoformat(), "date": str(monday)},
        headers=HTMX,
    )

    assert response.status_code == 200
    page = response.content.decode()
    moved = f"{clock(world, new_start)}–{clock(world, world.at('11:00', monday))}"
    assert f"Moved to {long_day(world, new_start)}, {moved}; it is unconfirmed again." in page
    assert 'id="reschedule"' not in page
    assert response["HX-Push-Url"] == url("appointment", booked)
    booked.refresh_from_db()
    assert booked.start == new_start
    assert booked.events.filter(action=AppointmentEvent.Action.RESCHEDULED, by=receptionist)


def test_reschedule_without_htmx_redirects(desk, world, booked, monday):
    response = desk.post(
        url("appointment-reschedule", booked), {"start": world.at("11:00", monday).isoformat()}
    )

    assert response.status_code == 302
    assert response["Location"] == url("appointment", booked)


def test_reschedule_onto_a_taken_time_offers_the_alternatives(desk, world, booked, monday):
    world.book("10:00", day=monday, patient=world.patients[1], now=timezone.now())

    response = desk.post(
        url("appointment-reschedule", booked),
        {"start": world.at("10:00", monday).isoformat()},
        headers=HTMX,
    )

    assert response.status_code == 200
    page = response.content.decode()
    alert = page[page.index('<div class="notice bad" role="alert"') :]
    assert alert.index("Dra. Camila Rojas is already booked from 10:00 to 10:30") < alert.index(
        "Next free times"
    )
    for hhmm in ("10:30", "10:45", "11:00"):
        value = world.at(hhmm, monday).isoformat()
        assert f'<button type="submit" class="slot" name="start" value="{value}">' in page
    booked.refresh_from_db()
    assert booked.start == world.at("09:00", monday)


def test_reschedule_outside_working_hours_shows_the_rule(desk, world, booked, monday):
    response = desk.post(
        url("appointment-reschedule", booked),
        {"start": world.at("14:00", monday).isoformat()},
        headers=HTMX,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Dra. Camila Rojas does not work at Providencia" in page
    assert 'id="reschedule-start-error"' in page


@pytest.mark.parametrize(
    "start", ["", "tomorrow", "2027-01-04T09:00", "0001-01-01T00:30:00+00:00", "9999-12-31T23:59Z"]
)
def test_reschedule_without_a_proper_start_asks_for_one(desk, booked, start):
    response = desk.post(url("appointment-reschedule", booked), {"start": start}, headers=HTMX)

    assert response.status_code == 200
    assert "Choose one of the free times." in response.content.decode()


def test_a_cancelled_appointment_cannot_be_rescheduled(desk, world, booked, monday):
    desk.post(url("appointment-cancel", booked), {"reason": "Moved abroad"})

    page = desk.get(url("appointment-reschedule", booked)).content.decode()
    assert "A cancelled appointment cannot be rescheduled." in page
    assert 'id="reschedule"' not in page

    response = desk.post(
        url("appointment-reschedule", booked), {"start": world.at("11:00", monday).isoformat()}
    )
    assert response.status_code == 200
    assert "A cancelled appointment cannot be rescheduled." in response.content.decode()


# -- access ----------------------------------------------------------------------------------

ROUTES = [
    ("get", "appointment"),
    ("get", "appointment-sync"),
    ("get", "appointment-reschedule"),
    ("post", "appointment-status"),
    ("post", "appointment-cancel"),
    ("post", "appointment-reschedule"),
]


@pytest.mark.parametrize(("method", "name"), ROUTES)
def test_another_clinics_appointment_is_not_found(desk, world, method, name):
    theirs = AppointmentFactory()

    response = getattr(desk, method)(url(name, theirs), headers=HTMX)

    assert response.status_code == 404


@pytest.mark.parametrize(("method", "name"), ROUTES)
def test_a_clinic_the_desk_is_not_switched_to_is_not_found(desk, world, receptionist, method, name):
    other = ClinicFactory(name="AAA first by name")
    LocationFactory(clinic=other)
    ClinicMembershipFactory(user=receptionist, clinic=other)
    theirs = AppointmentFactory(clinic=other)
    session = desk.session
    session[SESSION_CLINIC] = world.clinic.pk
    session.save()

    response = getattr(desk, method)(url(name, theirs), {"status": "confirmed"})

    assert response.status_code == 404


@pytest.mark.parametrize(("method", "name"), ROUTES)
def test_signed_out_goes_to_sign_in(client, booked, method, name):
    response = getattr(client, method)(url(name, booked))

    assert response.status_code == 302
    assert response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    booked.refresh_from_db()
    assert booked.status == Status.UNCONFIRMED


def test_status_change_by_get_is_not_allowed(desk, booked):
    assert desk.get(url("appointment-status", booked)).status_code == 405


# -- query counts ----------------------------------------------------------------------------


def appointment_with(world, connection_, count):
    """An appointment with `count` deliveries, each with `count` attempts, and `count` events."""
    appointment = started_today(world)
    AppointmentEventFactory.create_batch(count, appointment=appointment)
    for _ in range(count):
        delivery = DeliveryFactory(appointment=appointment, connection=connection_)
        for number in range(1, count + 1):
            DeliveryAttemptFactory(delivery=delivery, number=number, http_status=503)
    return appointment


def count_queries(client, path, **kwargs):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **kwargs)
    assert response.status_code == 200
    return len(queries)


def test_page_query_count_does_not_grow_with_deliveries_attempts_and_events(desk, world):
    connection_ = connect(world)
    one = appointment_with(world, connection_, 1)
    desk.get(url("appointment", one))  # warm up the session and caches
    small = count_queries(desk, url("appointment", one))
    Appointment.objects.filter(pk=one.pk).update(status=Status.CANCELLED)  # frees the time
    ten = appointment_with(world, connection_, 10)

    large = count_queries(desk, url("appointment", ten))

    assert small == large
    assert large <= 11  # one of them: the clinic's cancellation reasons


def test_sync_and_picker_query_counts_are_bounded(desk, world, booked, monday):
    picker = url("appointment-reschedule", booked, f"?date={monday}")
    only_picker = {**HTMX, "HX-Target": "reschedule"}
    desk.get(url("appointment", booked))  # warm up the session and caches
    alone = count_queries(desk, picker, headers=only_picker)

    for other, hhmm in ((1, "10:00"), (2, "11:00")):
        world.book(hhmm, day=monday, patient=world.patients[other], now=timezone.now())

    assert count_queries(desk, picker, headers=only_picker) == alone <= 20
    assert count_queries(desk, url("appointment-sync", booked), headers=HTMX) <= 6


def test_a_started_appointment_cannot_be_rescheduled_with_the_services_message(desk, world):
    appointment = started_today(world)

    for response in (
        desk.get(url("appointment-reschedule", appointment), headers=HTMX),
        desk.post(url("appointment-reschedule", appointment), {"start": "2030-01-07T12:00Z"}),
    ):
        assert response.status_code == 200
        page = response.content.decode()
        assert "This appointment has already started; it can no longer be moved." in page
        assert 'id="reschedule"' not in page
