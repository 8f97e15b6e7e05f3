"""The day calendar, the practitioner's week and their sync poller (scheduling/views/calendar.py);
where things sit on the grid is tested in tests/scheduling/test_calendar_layout.py."""

import datetime
import re
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection
from django.shortcuts import resolve_url
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format, time_format

from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AuditAction,
    AuditEvent,
    Modality,
    ModalityOffer,
    Weekday,
)
from tests.factories import (
    AppointmentFactory,
    ClinicFactory,
    DeliveryFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    TimeOffFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY, SANTIAGO
from vendors.models import Delivery, Operation, PmsBusy, VendorConnection

# Monday 2027-01-04, 10:07 in Santiago (UTC-3 in summer).
NOW = datetime.datetime(2027, 1, 4, 13, 7, tzinfo=datetime.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _now(monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def day_url(world, **params) -> str:
    query = {"location": world.location.pk, "date": MONDAY.isoformat(), **params}
    return reverse("desk:day") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def week_url(world, **params) -> str:
    query = {"location": world.location.pk, "date": MONDAY.isoformat(), **params}
    return reverse("desk:week") + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def sync_url(world, name: str = "desk:day-sync", **params) -> str:
    """The address the page's sync poller asks (the page's own query)."""
    query = {"location": world.location.pk, "date": MONDAY.isoformat(), **params}
    return reverse(name) + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def poller(url: str) -> str:
    """The sync poller while a delivery is on its way: it asks `url` every 5 seconds."""
    return (
        f'<div id="cal-sync" hidden hx-get="{url.replace("&", "&amp;")}" '
        'hx-trigger="every 5s" hx-swap="outerHTML"></div>'
    )


def local(hhmm: str, day: datetime.date = MONDAY) -> datetime.datetime:
    time = datetime.time.fromisoformat(hhmm)
    return datetime.datetime.combine(day, time, tzinfo=SANTIAGO).astimezone(datetime.UTC)


def visit(world, hhmm: str, minutes: int = 30, day: datetime.date = MONDAY, **fields):
    """An appointment written directly (past or future, inside hours or not)."""
    options = {
        "clinic": world.clinic,
        "location": world.location,
        "practitioner": world.practitioner,
        "room": world.rooms[0],
        "patient": world.patients[0],
        "appointment_type": world.appointment_type,
        **fields,
    }
    start = local(hhmm, day)
    return AppointmentFactory(
        start=start, end=start + datetime.timedelta(minutes=minutes), **options
    )


def clock(hhmm: str) -> str:
    """A time as the pages write it: in the language's time format."""
    return time_format(datetime.time.fromisoformat(hhmm))


def span(start: str, end: str) -> str:
    return f"{clock(start)}–{clock(end)}"


def day_title(day: datetime.date = MONDAY) -> str:
    """The day's heading: its weekday and its date in the language's format."""
    return f"{date_format(day, 'l')}, {date_format(day, 'DATE_FORMAT')}"


def week_column(day: datetime.date) -> str:
    """A week's column heading: its weekday and its day and month in the language's order."""
    return f"{date_format(day, 'D')} {date_format(day, 'MONTH_DAY_FORMAT')}"


def hours(page: str) -> list[str]:
    """The hour axis's labels."""
    return re.findall(r'class="cal-hour [^"]*">([^<]*)<', page)


def status(label: str, icon: str) -> str:
    """A card's status: its mark, and its name (hidden on a compact card, not from readers)."""
    return (
        f'<span class="appt-status"><span class="appt-icon" aria-hidden="true">{icon}</span> '
        f'<span class="appt-status-label">{label}</span></span>'
    )


def column(page: str, title: str) -> str:
    """The HTML of the column headed `title`."""
    match = re.search(
        r'<section class="cal-col[^"]*"[^>]*>\s*<div class="cal-head">\s*<h2[^>]*>'
        + re.escape(title)
        + r"</h2>.*?</section>",
        page,
        re.S,
    )
    assert match, f"no column {title!r}"
    return match.group(0)


def appointments_in(page: str) -> int:
    return len(re.findall(r'class="appt st-', page))


# --- access ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["desk:day", "desk:week"])
def test_signed_out_goes_to_sign_in(client, world, name):
    response = client.get(reverse(name))

    assert response.status_code == 302
    assert response.url.startswith(resolve_url(settings.LOGIN_URL))
    assert "next=" in response.url


@pytest.mark.parametrize("name", ["desk:day", "desk:week"])
def test_another_clinics_location_is_not_found(desk, world, name):
    elsewhere = LocationFactory(clinic=ClinicFactory())

    response = desk.get(reverse(name) + f"?location={elsewhere.pk}")

    assert response.status_code == 404


def test_another_clinics_practitioner_is_not_found(desk, world):
    stranger = PractitionerFactory(clinic=ClinicFactory())

    response = desk.get(week_url(world, practitioner=stranger.pk))

    assert response.status_code == 404


def test_another_clinics_appointments_never_show(desk, world):
    other = ClinicFactory()
    AppointmentFactory(
        clinic=other,
        start=local("09:00"),
        end=local("09:30"),
        patient=PatientFactory(clinic=other, given_name="Intruso", family_name="Ajeno"),
    )

    page = desk.get(day_url(world)).content.decode()

    assert "Intruso" not in page


# --- the day calendar --------------------------------------------------------------------


def test_one_column_per_room_with_the_visits_in_local_time(desk, world):
    booked = world.book("09:00")

    response = desk.get(day_url(world))

    page = response.content.decode()
    assert response.status_code == 200
    assert day_title() in page
    assert "Monday" in day_title()
    for room in ("Chair 1", "Chair 2", "Sobrecupo"):
        assert f">{room}</h2>" in page
    chair = column(page, booked.room.name)
    assert booked.patient.display_name in chair
    assert span("09:00", "09:30") in chair
    assert str(world.practitioner) in chair
    assert "Check-up" in chair
    assert f'href="/desk/appointments/{booked.pk}/"' in chair
    assert status("Unconfirmed", "?") in chair
    # 08:00 is the first row; 09:00 is 12 five-minute rows later; 30 minutes span 6 rows.
    assert "appt st-unconfirmed at-13 span-6 lane-1 wide-1 compact" in chair


def test_rooms_are_shaded_while_someone_works_and_the_axis_covers_08_to_18(desk, world):
    page = desk.get(day_url(world)).content.decode()

    assert 'class="band open at-13 span-36"' in column(page, "Chair 1")  # 09:00-12:00
    assert hours(page) == [clock(f"{hour:02d}:00") for hour in range(8, 18)]


def test_the_axis_stretches_to_the_earliest_and_latest_working_hours(desk, world):
    WorkingHoursFactory(
        practitioner=PractitionerFactory(clinic=world.clinic),
        location=world.location,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(7, 30),
        end_time=datetime.time(19, 30),
    )

    page = desk.get(day_url(world)).content.decode()

    assert hours(page)[0] == clock("07:00")
    assert hours(page)[-1] == clock("19:00")
    assert 'class="band open at-7 span-144"' in page  # 07:30-19:30 on a 07:00 axis


def test_the_axis_stretches_to_a_visit_outside_working_hours(desk, world):
    visit(world, "20:15", minutes=45)

    page = desk.get(day_url(world)).content.decode()

    assert hours(page)[-1] == clock("20:00")
    assert span("20:15", "21:00") in page


def test_one_column_per_practitioner(desk, world):
    booked = world.book("10:00")
    other = PractitionerFactory(clinic=world.clinic, given_name="Tomás", family_name="Zúñiga")
    WorkingHoursFactory(
        practitioner=other,
        location=world.location,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(14),
        end_time=datetime.time(18),
    )

    page = desk.get(day_url(world, by="practitioner")).content.decode()

    mine = column(page, str(world.practitioner))
    assert span("09:00", "12:00") in mine  # the column note: her hours that day
    assert 'class="band open at-13 span-36"' in mine
    assert booked.patient.display_name in mine
    assert booked.room.name in mine  # in this view the visit says where
    theirs = column(page, str(other))
    assert 'class="band open at-73 span-48"' in theirs
    assert "appt " not in theirs
    assert page.index(str(world.practitioner)) < page.index(str(other))  # Rojas, then Zúñiga


def test_video_visits_without_a_room_get_a_video_column(desk, world):
    booked = visit(world, "11:00", room=None, modality=Modality.VIDEO)

    page = desk.get(day_url(world)).content.decode()

    video = column(page, "Video")
    assert booked.patient.display_name in video
    assert " · video" in video


def test_a_video_column_shows_when_someone_offers_video_that_day(desk, world):
    world.practitioner.working_hours.update(modality=ModalityOffer.BOTH)

    page = desk.get(day_url(world)).content.decode()

    assert 'class="band open at-13 span-36"' in column(page, "Video")


HIDDEN = [
    (AppointmentStatus.CANCELLED, "Cancelled", "✕"),
    (AppointmentStatus.NO_SHOW, "No-show", "⊘"),
]


def toggle(page: str) -> str:
    """The "Show cancelled and no-show" checkbox."""
    match = re.search(r'<input type="checkbox" id="show-cancelled"[^>]*>', page)
    assert match, "no toggle"
    return match.group(0)


@pytest.mark.parametrize(("state", "label", "icon"), HIDDEN)
@pytest.mark.parametrize("url", [day_url, week_url])
def test_cancelled_and_no_show_visits_are_hidden_until_asked_for(
    desk, world, url, state, label, icon
):
    booked = world.book("09:00")
    gone = visit(world, "09:00", status=state, patient=world.patients[1])

    page = desk.get(url(world)).content.decode()

    assert gone.patient.display_name not in page
    assert booked.patient.display_name in page
    assert "1 appointment · 1 cancelled or no-show" in page
    assert "checked" not in toggle(page)

    shown = desk.get(url(world, cancelled="show")).content.decode()

    assert gone.patient.display_name in shown
    card = re.search(rf'<div class="appt st-{state} [^"]*"', shown).group(0)
    assert " faded" in card
    assert status(label, icon) in shown
    assert "checked" in toggle(shown)
    assert "lanes-2" in shown  # side by side with the visit that took its place
    assert "cancelled=show" in shown.split('id="calendar-title"')[1]  # the links keep it


def test_the_toggle_is_a_form_that_redraws_the_calendar(desk, world):
    page = desk.get(day_url(world, by="practitioner")).content.decode()

    form = re.search(
        r'<form method="get" action="/desk/day/" class="cal-toggle".*?</form>', page, re.S
    )
    assert form
    assert 'hx-target="#calendar"' in form.group(0) and 'hx-push-url="true"' in form.group(0)
    assert '<input type="hidden" name="by" value="practitioner">' in form.group(0)
    assert "Show cancelled and no-show" in form.group(0)


ICONS = {
    AppointmentStatus.UNCONFIRMED: "?",
    AppointmentStatus.CONFIRMED: "✓",
    AppointmentStatus.ARRIVED: "➔",
    AppointmentStatus.COMPLETED: "■",
    AppointmentStatus.CANCELLED: "✕",
    AppointmentStatus.NO_SHOW: "⊘",
}


@pytest.mark.parametrize(("value", "label"), AppointmentStatus.choices)
def test_the_legend_shows_each_status_as_its_cards_do(desk, world, value, label):
    visit(world, "11:00", status=value)

    page = desk.get(day_url(world, cancelled="show")).content.decode()

    assert (
        f'<span class="cal-swatch st-{value}"><span class="appt-icon" aria-hidden="true">'
        f"{ICONS[value]}</span> {label}</span>"
    ) in page
    assert f'<div class="appt st-{value} ' in page  # the same colours (calendar.css .st-*)
    assert status(label, ICONS[value]) in page


@pytest.mark.parametrize(("minutes", "compact"), [(15, True), (30, True), (45, False)])
def test_a_card_of_30_minutes_or_less_is_compact_and_keeps_its_status(
    desk, world, minutes, compact
):
    booked = visit(world, "11:00", minutes=minutes, status=AppointmentStatus.CONFIRMED)

    page = desk.get(day_url(world)).content.decode()

    card = re.search(rf'<div class="appt [^"]*" data-appointment="{booked.pk}"', page).group(0)
    assert (" compact" in card) is compact
    assert status("Confirmed", "✓") in page  # the mark, and the name for screen readers


# --- free times: booking from the calendar -------------------------------------------------


def free_times(page: str, title: str) -> list[str]:
    """The starts (HH:MM) of the free cells of the column headed `title`."""
    return re.findall(r'class="cal-free [^"]*" href="[^"]*T(\d\d:\d\d)"', column(page, title))


def test_free_times_are_the_working_hours_not_taken_and_not_past(desk, world):
    world.book("11:00")  # in Chair 1; it is 10:07 now

    page = desk.get(day_url(world)).content.decode()

    assert free_times(page, "Chair 1") == ["10:15", "10:30", "10:45", "11:30", "11:45"]
    assert free_times(page, "Chair 2") == [
        "10:15",
        "10:30",
        "10:45",
        "11:00",
        "11:15",
        "11:30",
        "11:45",
    ]


def test_a_free_time_links_to_the_booking_form_with_its_room_day_and_time(desk, world):
    page = desk.get(day_url(world, date="2027-01-11")).content.decode()

    room = world.rooms[1]
    expected = (
        f'<a class="cal-free at-13 span-3" href="/desk/?location={world.location.pk}&amp;'
        f'room={room.pk}&amp;date=2027-01-11&amp;start=2027-01-11T09:00" data-cell="540">'
        f'<span class="visually-hidden">Book at {clock("09:00")}, Chair 2</span></a>'
    )
    assert expected in column(page, "Chair 2")


@pytest.mark.parametrize("url", [day_url, week_url])
def test_a_practitioners_free_time_chooses_them_on_the_booking_form(desk, world, url):
    page = desk.get(url(world, date="2027-01-11", by="practitioner")).content.decode()

    who = world.practitioner.pk
    assert (
        f'href="/desk/?location={world.location.pk}&amp;who=p%3A{who}&amp;slot_practitioner={who}'
        f'&amp;date=2027-01-11&amp;start=2027-01-11T11:45"'
    ) in page


def test_the_booking_form_reads_a_free_times_link(desk, world):
    calendar = desk.get(day_url(world, date="2027-01-11", by="practitioner")).content.decode()
    link = re.search(r'class="cal-free [^"]*" href="([^"]*T10:30)"', calendar).group(1)

    response = desk.get(link.replace("&amp;", "&"))

    page = response.content.decode()
    assert response.status_code == 200
    chosen = rf'value="p:{world.practitioner.pk}"[^>]*\b(checked|selected)\b'
    assert re.search(chosen, page)  # a choice of the form, whatever its widget
    assert 'value="2027-01-11"' in page


def test_no_free_time_in_time_off_closures_or_pms_held_time(desk, world):
    tuesday = "2027-01-11"  # a Monday a week on: the whole morning ahead
    day = datetime.date.fromisoformat(tuesday)
    TimeOffFactory(
        practitioner=world.practitioner, start=local("09:00", day), end=local("10:00", day)
    )
    TimeOffFactory(
        practitioner=None,
        location=world.location,
        start=local("11:00", day),
        end=local("11:30", day),
    )
    PmsBusy.objects.create(
        connection=VendorConnectionFactory(clinic=world.clinic),
        practitioner=world.practitioner,
        start=local("11:30", day),
        end=local("12:00", day),
        last_seen=NOW,
    )

    page = desk.get(day_url(world, date=tuesday, by="practitioner")).content.decode()

    assert free_times(page, str(world.practitioner)) == ["10:00", "10:15", "10:30", "10:45"]


def test_a_cancelled_visit_leaves_its_time_free(desk, world):
    visit(world, "11:00", status=AppointmentStatus.CANCELLED)

    page = desk.get(day_url(world, cancelled="show")).content.decode()

    assert "11:00" in free_times(page, "Chair 1")


def test_free_times_follow_the_practitioners_slot_interval(desk, world):
    world.practitioner.working_hours.update(slot_interval_minutes=20)

    page = desk.get(day_url(world, date="2027-01-11", by="practitioner")).content.decode()

    assert free_times(page, str(world.practitioner))[:4] == ["09:00", "09:20", "09:40", "10:00"]


def test_overlapping_visits_share_the_column_in_lanes(desk, world):
    for n in range(3):
        visit(world, "10:00", room=world.overflow_room, patient=world.patients[n], overflow=True)

    page = desk.get(day_url(world)).content.decode()

    overflow = column(page, "Sobrecupo")
    assert "lanes-3" in page
    for lane in (1, 2, 3):
        assert f"lane-{lane} wide-1" in overflow


def test_delivery_badges_and_polling_while_a_delivery_is_in_flight(desk, world):
    connection_ = VendorConnectionFactory(clinic=world.clinic)
    waiting, failed = world.book("09:00"), world.book("10:00")
    DeliveryFactory(appointment=waiting, connection=connection_, state="queued")
    DeliveryFactory(
        appointment=failed, connection=connection_, state="needs_attention", last_error="x"
    )

    page = desk.get(day_url(world)).content.decode()

    assert f'id="sync-{waiting.pk}" class="badge sync queued" title="Treats.vet: queued">' in page
    assert "Treats.vet: needs attention</span>" in page
    assert f'id="sync-{failed.pk}" class="badge sync needs_attention"' in page
    assert poller(sync_url(world)) in page

    still = desk.get(sync_url(world), **HTMX).content.decode()

    assert still.startswith(poller(sync_url(world)))  # still on its way: poll again
    assert (
        f'id="sync-{waiting.pk}" class="badge sync queued" title="Treats.vet: queued" '
        'hx-swap-oob="true"><span aria-hidden="true">PMS …</span>'
    ) in still

    waiting.deliveries.update(state="synced")
    poll = desk.get(sync_url(world), **HTMX).content.decode()

    assert poll.startswith('<div id="cal-sync" hidden></div>')  # settled: no more polling
    assert (
        f'id="sync-{waiting.pk}" class="badge sync synced" title="Treats.vet: synced" '
        'hx-swap-oob="true"><span aria-hidden="true">PMS ✓</span>'
    ) in poll
    assert f'id="sync-{failed.pk}" class="badge sync needs_attention"' in poll
    assert "cal-grid" not in poll


def test_the_poller_asks_about_the_days_hidden_cancelled_visits_no_more(desk, world):
    connection_ = VendorConnectionFactory(clinic=world.clinic)
    gone = visit(world, "09:00", status=AppointmentStatus.CANCELLED)
    DeliveryFactory(appointment=gone, connection=connection_, state="queued")

    page = desk.get(day_url(world, cancelled="hide")).content.decode()
    poll = desk.get(sync_url(world, cancelled="hide"), **HTMX).content.decode()

    assert '<div id="cal-sync" hidden></div>' in page
    assert poll == '<div id="cal-sync" hidden></div>'


def test_the_week_polls_its_own_sync_view(desk, world):
    connection_ = VendorConnectionFactory(clinic=world.clinic)
    later = visit(world, "15:00", day=MONDAY + datetime.timedelta(days=3))
    DeliveryFactory(appointment=later, connection=connection_, state="sending")
    url = sync_url(world, "desk:week-sync", practitioner=world.practitioner.pk)

    page = desk.get(week_url(world, practitioner=world.practitioner.pk)).content.decode()

    assert poller(url) in page

    later.deliveries.update(state="synced")
    poll = desk.get(url, **HTMX).content.decode()

    assert poll.startswith('<div id="cal-sync" hidden></div>')
    assert f'id="sync-{later.pk}" class="badge sync synced"' in poll
    assert "cal-grid" not in poll


def test_local_clinics_show_no_delivery_badge_and_never_poll(desk, world):
    booked = world.book("09:00")

    page = desk.get(day_url(world)).content.decode()

    assert f'<span id="sync-{booked.pk}" class="badge sync not_required" hidden></span>' in page
    assert '<div id="cal-sync" hidden></div>' in page


def test_the_now_line_is_drawn_today_only(desk, world):
    page = desk.get(day_url(world)).content.decode()  # Monday 4 January is today

    # 10:07 is 127 minutes after 08:00: row 26, 2 minutes in.
    assert page.count('class="cal-now at-26 nudge-2"') == 3  # one per room column
    assert '<span class="badge">Today</span>' in page

    tuesday = desk.get(day_url(world, date="2027-01-05")).content.decode()

    assert "cal-now" not in tuesday


def test_previous_next_and_today_links(desk, world):
    page = desk.get(day_url(world, date="2027-01-06", by="practitioner")).content.decode()
    place = f"location={world.location.pk}"

    assert f'href="/desk/day/?{place}&amp;date=2027-01-05&amp;by=practitioner"' in page
    assert f'href="/desk/day/?{place}&amp;date=2027-01-07&amp;by=practitioner"' in page
    assert f'href="/desk/day/?{place}&amp;date=2027-01-04&amp;by=practitioner"' in page
    assert 'hx-get="/desk/day/?' in page
    assert (
        '<input type="date" id="cal-date" name="date" value="2027-01-06" '
        'min="1900-01-01" max="2999-12-31" required>'
    ) in page
    assert '<label for="cal-date">Date</label>' in page


def test_location_choice_lists_the_desks_locations(desk, world):
    second = LocationFactory(clinic=world.clinic, name="Ñuñoa")
    RoomFactory(location=second, name="Box 7")

    page = desk.get(day_url(world)).content.decode()

    assert '<label for="cal-location">Location</label>' in page
    assert f'<option value="{second.pk}" >Ñuñoa</option>' in page

    there = desk.get(reverse("desk:day") + f"?location={second.pk}").content.decode()

    assert ">Box 7</h2>" in there
    assert ">Chair 1</h2>" not in there


def test_time_off_and_closures_are_marked(desk, world):
    TimeOffFactory(
        practitioner=world.practitioner, start=local("11:00"), end=local("12:00"), reason="Dentist"
    )
    TimeOffFactory(
        practitioner=None,
        location=world.location,
        start=local("16:00"),
        end=local("17:00"),
        reason="Fire drill",
    )

    page = desk.get(day_url(world, by="practitioner")).content.decode()

    mine = column(page, str(world.practitioner))
    assert 'class="band off at-37 span-12"><span>Time off: Dentist</span>' in mine
    assert 'class="band closed at-97 span-12"><span>Closed: Fire drill</span>' in mine


def test_a_week_shows_time_off_on_its_own_days_only(desk, world):
    TimeOffFactory(
        practitioner=world.practitioner,
        start=local("00:00", MONDAY + datetime.timedelta(days=1)),
        end=local("00:00", MONDAY + datetime.timedelta(days=2)),
        reason="Conference",
    )
    visit(world, "00:00", day=MONDAY + datetime.timedelta(days=2))  # axis: 00:00-18:00

    page = desk.get(week_url(world)).content.decode()

    assert 'class="band off at-1 span-216"><span>Time off: Conference</span>' in column(
        page, week_column(MONDAY + datetime.timedelta(days=1))
    )
    assert page.count("Time off: Conference") == 1


def test_htmx_gets_the_calendar_region_only(desk, world):
    response = desk.get(day_url(world), **HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<section id="calendar"')
    assert "<html" not in page
    assert "HX-Request" in response["Vary"]


def test_the_page_answers_htmx_with_its_calendar_whatever_the_target(desk, world):
    response = desk.get(day_url(world), HTTP_HX_TARGET="cal-sync", **HTMX)

    assert response.content.decode().lstrip().startswith('<section id="calendar"')
    assert "HX-Target" not in response["Vary"]  # the poller has its own address


def test_a_history_restore_gets_the_whole_page(desk, world):
    response = desk.get(day_url(world), HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)

    assert "<html" in response.content.decode()


def test_the_project_serves_both_pages_under_desk(desk, world):
    booked = world.book("09:00")

    day_page = desk.get(f"/desk/day/?location={world.location.pk}&date=2027-01-04")
    week_page = desk.get(f"/desk/week/?location={world.location.pk}&date=2027-01-04")

    assert day_page.status_code == week_page.status_code == 200
    for page in (day_page, week_page):
        assert f'href="/desk/appointments/{booked.pk}/"' in page.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"date": "04/01/2027"}, "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."),
        ({"date": "2027-02-30"}, "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."),
        ({"date": "0001-01-01"}, "Choose a date between the years 1900 and 2999."),
        ({"date": "9999-12-31"}, "Choose a date between the years 1900 and 2999."),
        ({"by": "chair"}, "Show one column per room or per practitioner."),
        ({"cancelled": "maybe"}, "Show or hide the cancelled appointments."),
        ({"location": "north"}, "Choose a location from the list."),
    ],
)
def test_bad_input_says_what_to_fix_and_shows_today(desk, world, params, message):
    response = desk.get(reverse("desk:day"), params)

    page = response.content.decode()
    assert response.status_code == 200
    assert f'<p class="notice bad" role="alert">{message}</p>' in page
    assert day_title() in page


def test_the_first_and_last_days_have_no_link_beyond(desk, world):
    first = desk.get(day_url(world, date="1900-01-01")).content.decode()
    last = desk.get(day_url(world, date="2999-12-31")).content.decode()

    assert "Previous day" not in first and "Next day" in first
    assert "Next day" not in last and "Previous day" in last


def test_a_day_when_the_clocks_go_back(desk, world):
    # Santiago leaves summer time at midnight between Saturday 3 and Sunday 4 April 2027.
    day = datetime.date(2027, 4, 4)
    WorkingHoursFactory(
        practitioner=world.practitioner, location=world.location, weekday=Weekday.SUNDAY
    )
    booked = visit(world, "09:00", day=day)

    response = desk.get(day_url(world, date=day.isoformat()))

    assert response.status_code == 200
    assert span("09:00", "09:30") in column(response.content.decode(), booked.room.name)


# --- the week ----------------------------------------------------------------------------


def test_the_week_of_the_first_practitioner_monday_to_sunday(desk, world):
    booked = world.book("09:00")
    later = visit(world, "15:00", day=MONDAY + datetime.timedelta(days=3))

    response = desk.get(week_url(world, date="2027-01-06"))

    page = response.content.decode()
    assert response.status_code == 200
    days = [MONDAY + datetime.timedelta(days=n) for n in range(7)]
    titles = re.findall(r'<h2 class="cal-title" id="col-[^"]*">([^<]*)</h2>', page)
    assert titles == [week_column(day) for day in days]
    assert titles[0].startswith("Mon ") and titles[-1].startswith("Sun ")
    sunday = date_format(days[-1], "DATE_FORMAT")
    monday_ = date_format(MONDAY, "MONTH_DAY_FORMAT")
    assert f"{world.practitioner} · week of {monday_} – {sunday}" in page
    monday = column(page, titles[0])
    assert booked.patient.display_name in monday
    assert 'class="band open at-13 span-36"' in monday
    assert span("09:00", "12:00") in monday
    assert "not working" in column(page, titles[1])
    assert span("15:00", "15:30") in column(page, titles[3])
    assert later.room.name in column(page, titles[3])
    assert page.count("cal-now") == 1  # today is Monday
    assert 'class="cal-col lanes-1 is-today"' in page


def test_the_week_of_a_chosen_practitioner(desk, world):
    other = PractitionerFactory(clinic=world.clinic, given_name="Ana", family_name="Zapata")
    other.locations.add(world.location)
    visit(world, "12:00", practitioner=other, patient=world.patients[2])

    page = desk.get(week_url(world, practitioner=other.pk)).content.decode()

    assert f'<option value="{other.pk}" selected>{other}</option>' in page
    assert f"{other} · week of" in page
    assert appointments_in(page) == 1
    assert "not working" in column(page, week_column(MONDAY))


def test_the_week_asks_for_a_day_within_the_bounds(desk, world):
    page = desk.get(week_url(world, date="2027-01-07")).content.decode()

    assert (
        '<input type="date" id="cal-date" name="date" value="2027-01-07" '
        'min="1900-01-01" max="2999-12-31" required>'
    ) in page


def test_week_links_move_by_seven_days(desk, world):
    page = desk.get(week_url(world, date="2027-01-07")).content.decode()
    who = f"practitioner={world.practitioner.pk}"

    assert f"{who}&amp;date=2026-12-28" in page
    assert f"{who}&amp;date=2027-01-11" in page
    assert "Previous week" in page and "Next week" in page


def test_week_bad_practitioner_says_what_to_fix(desk, world):
    response = desk.get(week_url(world, practitioner="someone"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Choose a practitioner from the list." in page
    assert f"{world.practitioner} · week of" in page


def test_week_where_nobody_works_yet(desk, world):
    empty = LocationFactory(clinic=world.clinic, name="Empty")

    response = desk.get(reverse("desk:week") + f"?location={empty.pk}")

    assert response.status_code == 200
    assert "Nobody works at Empty yet" in response.content.decode()


# --- moving an appointment -----------------------------------------------------------------


def move_url(world, calendar: str = "day", **params) -> str:
    """The move view, asked about the calendar it was made on."""
    query = {"calendar": calendar, "location": world.location.pk, "date": MONDAY, **params}
    return reverse("desk:calendar-move") + "?" + urlencode(query)


def moving(appointment: Appointment, hhmm: str, **fields) -> dict:
    """The move form: the appointment, its new start (wall clock) and what else changes."""
    return {"appointment": appointment.pk, "start": f"{MONDAY}T{hhmm}", **fields}


def card_of(page: str, appointment: Appointment) -> str:
    match = re.search(
        rf'<div class="appt [^"]*" data-appointment="{appointment.pk}".*?</div>', page, re.S
    )
    assert match, f"no card of {appointment.pk}"
    return match.group(0)


def test_a_move_goes_through_the_booking_service_and_redraws_the_calendar(
    desk, world, receptionist
):
    booked = world.book("11:00")

    response = desk.post(move_url(world), moving(booked, "11:30"), **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<section id="calendar"')
    assert "Moved to" in page and "it is unconfirmed again." in page
    card = card_of(page, booked)
    assert "at-43 span-6" in card and "just-moved" in card  # 11:30 on the 08:00 axis
    booked.refresh_from_db()
    assert (booked.start, booked.room) == (local("11:30"), world.rooms[0])
    assert booked.events.get(action=AppointmentEvent.Action.RESCHEDULED).by == receptionist
    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.user, row.appointment_id) == (
        AuditAction.CHANGED,
        receptionist,
        booked.pk,
    )
    assert row.changes["after"]["start"] == local("11:30").isoformat()


def test_a_move_to_another_room(desk, world):
    booked = world.book("11:00")

    desk.post(
        move_url(world),
        moving(booked, "11:00", room=world.rooms[1].pk, modality=Modality.IN_PERSON),
        **HTMX,
    )

    booked.refresh_from_db()
    assert (booked.start, booked.room) == (local("11:00"), world.rooms[1])


def test_a_move_to_another_practitioner(desk, world):
    booked = world.book("11:00")
    other = PractitionerFactory(clinic=world.clinic, given_name="Tomás", family_name="Zúñiga")
    WorkingHoursFactory(practitioner=other, location=world.location, weekday=Weekday.MONDAY)

    page = desk.post(
        move_url(world, by="practitioner"), moving(booked, "11:00", practitioner=other.pk), **HTMX
    ).content.decode()

    booked.refresh_from_db()
    assert booked.practitioner == other
    assert booked.patient.display_name in column(page, str(other))


def test_a_move_of_a_delivered_appointment_is_delivered_as_a_reschedule(desk, world):
    VendorConnectionFactory(clinic=world.clinic)
    booked = world.book("11:00")

    desk.post(move_url(world), moving(booked, "11:30"), **HTMX)

    assert Delivery.objects.filter(appointment=booked, operation=Operation.RESCHEDULE).exists()


def test_a_move_onto_a_taken_time_says_why_and_offers_the_next_free_times(desk, world):
    booked = world.book("11:00")
    world.book("11:30", patient=world.patients[1])

    page = desk.post(
        move_url(world, by="practitioner"), moving(booked, "11:30"), **HTMX
    ).content.decode()

    refusal = re.search(r'<div class="notice bad cal-refusal".*?</div>\s*</div>', page, re.S).group(
        0
    )
    assert "Not moved." in refusal
    assert f"{world.practitioner} is already booked" in refusal
    next_monday = MONDAY + datetime.timedelta(days=7)  # nothing later is free this Monday
    for hhmm in ("09:00", "09:15", "09:30"):
        assert f'name="start" value="{local(hhmm, next_monday).isoformat()}"' in refusal
    assert f'<input type="hidden" name="appointment" value="{booked.pk}">' in refusal
    assert f'<input type="hidden" name="practitioner" value="{world.practitioner.pk}">' in refusal
    assert "Moved to" not in page
    booked.refresh_from_db()
    assert booked.start == local("11:00")
    assert "at-37 span-6" in card_of(page, booked)  # still at 11:00


def test_a_move_that_breaks_a_rule_says_which(desk, world):
    booked = world.book("11:00")

    page = desk.post(move_url(world), moving(booked, "14:00"), **HTMX).content.decode()

    assert "Not moved." in page
    assert "does not work at Providencia" in page
    assert 'class="slot"' not in page
    booked.refresh_from_db()
    assert booked.start == local("11:00")


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (AppointmentStatus.CANCELLED, "A cancelled appointment cannot be rescheduled."),
        (AppointmentStatus.ARRIVED, "A arrived appointment cannot be rescheduled."),
    ],
)
def test_what_cannot_be_moved_is_not(desk, world, state, message):
    booked = visit(world, "11:00", status=state)

    page = desk.post(
        move_url(world, cancelled="show"), moving(booked, "11:30"), **HTMX
    ).content.decode()

    assert message in page
    assert 'draggable="true"' not in card_of(page, booked)
    assert "appt-move" not in card_of(page, booked)
    booked.refresh_from_db()
    assert booked.start == local("11:00")


def test_a_visit_that_has_started_cannot_be_dragged(desk, world):
    started = visit(world, "10:00")  # it is 10:07
    later = visit(world, "11:00", patient=world.patients[1])

    page = desk.get(day_url(world)).content.decode()

    assert 'draggable="true"' not in card_of(page, started)
    assert f'draggable="true" data-start="{MONDAY}T11:00" data-minutes="30"' in card_of(page, later)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"appointment": ""}, "No such appointment."),
        ({"appointment": "first"}, "No such appointment."),
        ({"appointment": "0"}, "No such appointment."),
        ({"start": ""}, "Choose the new date and time, e.g. 2027-01-04T10:30."),
        ({"start": "tomorrow"}, "Choose the new date and time, e.g. 2027-01-04T10:30."),
        ({"start": "9999-01-04T10:30"}, "Choose the new date and time, e.g. 2027-01-04T10:30."),
        ({"room": "999999"}, "No such room."),
        ({"practitioner": "999999"}, "No such practitioner."),
        ({"modality": "phone"}, "Choose in person or video."),
    ],
)
def test_bad_move_input_says_what_to_fix(desk, world, fields, message):
    booked = world.book("11:00")

    response = desk.post(move_url(world), {**moving(booked, "11:30"), **fields}, **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Not moved." in page and message in page
    booked.refresh_from_db()
    assert booked.start == local("11:00")


@pytest.mark.parametrize("elsewhere", ["clinic", "location"])
def test_an_appointment_of_another_clinic_or_location_is_no_such_appointment(
    desk, world, elsewhere
):
    if elsewhere == "clinic":
        clinic = ClinicFactory()
        stranger = AppointmentFactory(clinic=clinic, start=local("11:00"), end=local("11:30"))
    else:
        there = LocationFactory(clinic=world.clinic, name="Ñuñoa")
        stranger = visit(world, "11:00", location=there, room=RoomFactory(location=there))

    page = desk.post(move_url(world), moving(stranger, "11:30"), **HTMX).content.decode()

    assert "No such appointment." in page
    stranger.refresh_from_db()
    assert stranger.start == local("11:00")


def test_a_room_of_another_location_is_no_such_room(desk, world):
    booked = world.book("11:00")
    there = RoomFactory(location=LocationFactory(clinic=world.clinic))

    page = desk.post(
        move_url(world), moving(booked, "11:30", room=there.pk), **HTMX
    ).content.decode()

    assert "No such room." in page


def test_the_week_is_drawn_again_after_a_move_on_it(desk, world):
    booked = world.book("11:00")

    page = desk.post(
        move_url(world, "week", practitioner=world.practitioner.pk),
        moving(booked, "11:30"),
        **HTMX,
    ).content.decode()

    assert f"{world.practitioner} · week of" in page
    assert "at-43" in card_of(page, booked)


def test_without_htmx_a_move_returns_to_the_calendar(desk, world):
    booked = world.book("11:00")

    response = desk.post(move_url(world, by="practitioner"), moving(booked, "11:30"))

    assert response.status_code == 302
    assert response.url == (
        f"/desk/day/?location={world.location.pk}&date={MONDAY}&by=practitioner"
    )
    assert "Moved to" in desk.get(response.url).content.decode()


def test_without_htmx_a_refusal_is_shown_on_the_calendar_page(desk, world):
    booked = world.book("11:00")

    response = desk.post(move_url(world), moving(booked, "14:00"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and "Not moved." in page


def test_the_move_dialog_offers_the_new_time_room_and_practitioner(
    desk, world, django_assert_max_num_queries
):
    booked = world.book("11:00")

    with django_assert_max_num_queries(8):  # the desk, the appointment, rooms, practitioners
        response = desk.get(move_url(world, appointment=booked.pk), **HTMX)

    page = response.content.decode()
    assert page.lstrip().startswith('<div class="cal-move card" id="cal-move">')
    assert booked.patient.display_name in page
    assert (
        '<input type="datetime-local" id="move-start" name="start" value="2027-01-04T11:00" '
        'step="300" required autofocus>'
    ) in page
    assert f'<option value="{world.rooms[1].pk}">Chair 2</option>' in page
    assert f"{world.practitioner} (unchanged)" in page
    assert f'<input type="hidden" name="appointment" value="{booked.pk}">' in page
    assert f'hx-post="{move_url(world)}"'.replace("&", "&amp;") in page
    assert not AuditEvent.objects.filter(action=AuditAction.VIEWED).exists()  # a part of the page


def test_the_move_form_without_htmx_is_the_calendar_with_the_form_and_is_audited(
    desk, world, receptionist
):
    booked = world.book("11:00")

    page = desk.get(move_url(world, appointment=booked.pk)).content.decode()

    assert "<html" in page and 'id="move-start"' in page and 'class="cal-grid"' in page
    row = AuditEvent.objects.get(action=AuditAction.VIEWED)
    assert (row.user, row.appointment_id) == (receptionist, booked.pk)


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (AppointmentStatus.CANCELLED, "A cancelled appointment cannot be rescheduled."),
        (AppointmentStatus.COMPLETED, "A completed appointment cannot be rescheduled."),
    ],
)
def test_the_move_dialog_of_what_cannot_be_moved_says_why(desk, world, state, message):
    booked = visit(world, "11:00", status=state)

    page = desk.get(move_url(world, appointment=booked.pk), **HTMX).content.decode()

    assert message in page
    assert 'id="move-start"' not in page


def test_the_move_dialog_of_no_appointment(desk, world):
    page = desk.get(move_url(world, appointment="x"), **HTMX).content.decode()

    assert "No such appointment." in page
    assert 'id="move-start"' not in page


# --- bounded queries ---------------------------------------------------------------------


def crowd(world, count: int, rooms: int = 20) -> list[Appointment]:
    """`count` half-hour visits from 08:00 over `rooms` rooms (one practitioner and one
    patient per room), every third one delivered to a PMS."""
    rooms_ = list(world.location.rooms.all())
    rooms_ += [RoomFactory(location=world.location) for _ in range(rooms - len(rooms_))]
    people = [world.practitioner] + [
        PractitionerFactory(clinic=world.clinic) for _ in range(rooms - 1)
    ]
    for practitioner in people[1:]:
        WorkingHoursFactory(
            practitioner=practitioner,
            location=world.location,
            weekday=Weekday.MONDAY,
            start_time=datetime.time(8),
            end_time=datetime.time(18),
        )
    patients = [PatientFactory(clinic=world.clinic) for _ in range(rooms)]
    connection_ = VendorConnection.objects.filter(clinic=world.clinic).first()
    connection_ = connection_ or VendorConnectionFactory(clinic=world.clinic)
    made = []
    for n in range(count):
        i, slot = n % rooms, n // rooms
        start = local("08:00") + datetime.timedelta(minutes=30 * slot)
        made.append(
            AppointmentFactory(
                clinic=world.clinic,
                location=world.location,
                practitioner=people[i],
                room=rooms_[i],
                patient=patients[i],
                appointment_type=world.appointment_type,
                start=start,
                end=start + datetime.timedelta(minutes=30),
                overflow=rooms_[i].is_overflow,
            )
        )
        if n % 3 == 0:
            DeliveryFactory(appointment=made[-1], connection=connection_, state="synced")
    return made


def queries(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.content.decode()


@pytest.mark.parametrize("by", ["room", "practitioner"])
def test_the_day_takes_the_same_queries_for_10_and_200_visits(desk, world, by):
    crowd(world, 10)
    few, page = queries(desk, day_url(world, by=by))
    assert appointments_in(page) == 10

    more = [
        AppointmentFactory(
            clinic=world.clinic,
            location=world.location,
            practitioner=a.practitioner,
            room=a.room,
            patient=a.patient,
            appointment_type=a.appointment_type,
            start=a.start + datetime.timedelta(minutes=30 * h),
            end=a.end + datetime.timedelta(minutes=30 * h),
        )
        for a in Appointment.objects.all()
        for h in range(1, 20)
    ]
    assert len(more) == 190
    many, page = queries(desk, day_url(world, by=by))

    assert appointments_in(page) == 200
    assert many == few
    assert few <= 11  # with the PMS's busy time and its freshness


def test_twenty_rooms_and_150_visits_in_bounded_queries(desk, world):
    crowd(world, 10)
    few, _ = queries(desk, day_url(world))
    Appointment.objects.all().delete()
    crowd(world, 150)

    many, page = queries(desk, day_url(world))

    assert many == few
    assert len(re.findall(r'<section class="cal-col', page)) == 20
    assert appointments_in(page) == 150
    assert page.count('class="band open ') == 20  # one shaded band per room, not per row


def test_the_week_takes_the_same_queries_for_few_and_many_visits(desk, world):
    def week_of_visits(hours: range) -> None:
        for offset in range(7):
            for hour in hours:
                visit(
                    world,
                    f"{hour:02d}:00",
                    day=MONDAY + datetime.timedelta(days=offset),
                    patient=world.patients[0],
                )

    week_of_visits(range(9, 11))
    few, page = queries(desk, week_url(world))
    assert appointments_in(page) == 14

    week_of_visits(range(11, 20))
    many, page = queries(desk, week_url(world))

    assert appointments_in(page) == 77
    assert many == few
    assert few <= 11  # with the PMS's busy time and its freshness


def test_a_move_takes_the_same_queries_for_few_and_many_visits(desk, world):
    def moved_in(hhmm: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = desk.post(move_url(world), moving(booked, hhmm), **HTMX)
        assert response.status_code == 200
        return len(captured), response.content.decode()

    crowd(world, 20)
    Appointment.objects.filter(practitioner=world.practitioner).delete()  # hers to move
    booked = world.book("11:00")
    few, page = moved_in("11:30")
    assert "Moved to" in page

    for n in range(1, 10):
        for a in Appointment.objects.exclude(pk=booked.pk).filter(start=local("08:00")):
            AppointmentFactory(
                clinic=world.clinic,
                location=world.location,
                practitioner=a.practitioner,
                room=a.room,
                patient=a.patient,
                start=a.start + datetime.timedelta(minutes=30 * n),
                end=a.end + datetime.timedelta(minutes=30 * n),
            )
    assert appointments_in(desk.get(day_url(world)).content.decode()) > 150
    many, page = moved_in("11:15")

    assert "Moved to" in page
    assert many == few
    # the desk (4), the appointment (1), the booking service's reschedule (about 16, with its
    # delivery and history) and the calendar drawn again (as the day page, at most 11)
    assert few <= 34
