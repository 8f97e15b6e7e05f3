"""The PMS's busy time in the desk and our appointments following the PMS (vendors.calendar),
applied from reads as an adapter returns them. Reads over real sockets are tested per vendor
(tests/vendors/adapters/test_*_calendar.py) and end to end in test_calendar_pull.py."""

import datetime

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from scheduling import booking
from scheduling.errors import SlotConflict
from scheduling.models import Appointment, AppointmentEvent, AppointmentStatus, WorkingHours
from tests.factories import VendorConnectionFactory, map_ids
from tests.scheduling.views.test_book import HTMX, choose
from tests.worlds import MONDAY, NOW, World
from vendors import calendar
from vendors.models import CalendarPull, Delivery, DeliveryState, Operation, PmsBusy
from vendors.types import BLOCK, BUSY, BusySpan, CalendarQuery, CalendarRead

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

Status = AppointmentStatus
HOUR = datetime.timedelta(hours=1)


@pytest.fixture
def pms(world: World):
    """A Dentalink connection with the world's practitioner (1) and chairs (1, 2) mapped."""
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="dentalink",
        base_url="https://api.dentalink.healthatom.com/api/v1",
        secrets={"api_token": "PMS_TEST_DENTALINK_TOKEN"},
    )
    map_ids(connection, [(world.practitioner, "1"), (world.rooms[0], "1"),
                         (world.rooms[1], "2"), (world.location, "1")])  # fmt: skip
    return connection


def window(world: World) -> CalendarQuery:
    start = world.at("00:00")
    return CalendarQuery(start=start, end=start + datetime.timedelta(days=7),
                         time_zone=world.location.time_zone)  # fmt: skip


def read(*spans: BusySpan, complete: bool = True, **kwargs) -> CalendarRead:
    return CalendarRead(spans=list(spans), complete=complete, **kwargs)


def span(world: World, hhmm: str, minutes: int = 30, **kwargs) -> BusySpan:
    start = world.at(hhmm)
    values = {"practitioner": "1", "room": "", "external_id": f"x{hhmm}", **kwargs}
    return BusySpan(start=start, end=start + datetime.timedelta(minutes=minutes), **values)


def apply(pms, world: World, *spans: BusySpan, complete: bool = True, ours=(), **kwargs):
    query = window(world)
    if ours:
        query = CalendarQuery(**{**query.__dict__, "ours": tuple(ours)})
    return calendar.apply(pms, read(*spans, complete=complete, **kwargs), query=query, now=NOW)


def delivered(pms, appointment: Appointment, external_id: str) -> Appointment:
    """As if the booking had reached the PMS: its delivery synced, its ID mapped."""
    Delivery.objects.filter(appointment=appointment).update(
        state=DeliveryState.SYNCED, external_id=external_id
    )
    map_ids(pms, [(appointment, external_id)])
    return appointment


# -- busy time held in the PMS --------------------------------------------------------------


def test_time_booked_directly_in_the_pms_is_not_offered(world, pms):
    assert "10:00" in world.local_starts(world.slots())
    apply(pms, world, span(world, "10:00"))
    after = world.local_starts(world.slots())
    assert "10:00" not in after and "09:45" not in after  # 09:45 + 30 min overlaps


def test_a_room_booked_directly_in_the_pms_is_not_offered(world, pms):
    apply(pms, world, span(world, "10:00", practitioner="", room="1"))
    at_ten = {slot.start: slot.room_ids for slot in world.slots()}[world.at("10:00")]
    assert at_ten == (world.rooms[1].pk,)


def test_the_slot_engine_reads_pms_busy_time_in_its_one_query(world, pms):
    apply(pms, world, *(span(world, f"{h:02d}:00") for h in (9, 10, 11)))
    with CaptureQueriesContext(db) as queries:
        slots = world.slots()
    assert len(queries) == 1
    assert not {"09:00", "10:00", "11:00"} & set(world.local_starts(slots))


def test_a_complete_read_replaces_the_window_and_an_incremental_one_patches(world, pms):
    apply(pms, world, span(world, "10:00"), span(world, "11:00"))
    assert PmsBusy.objects.count() == 2
    apply(pms, world, span(world, "11:00"))
    assert "10:00" in world.local_starts(world.slots())
    apply(pms, world, span(world, "11:00", active=False), complete=False)
    assert not PmsBusy.objects.exists()
    apply(pms, world, span(world, "09:00", kind=BLOCK, external_id="b1"), complete=False)
    assert PmsBusy.objects.get().kind == BLOCK


def test_unmapped_practitioners_and_rooms_are_not_kept(world, pms):
    apply(pms, world, span(world, "10:00", practitioner="99", room="98"))
    assert not PmsBusy.objects.exists()


def test_a_long_block_is_kept_in_pieces_of_a_day(world, pms):
    apply(pms, world, span(world, "00:00", minutes=3 * 24 * 60, kind=BLOCK))
    pieces = list(PmsBusy.objects.order_by("start"))
    assert len(pieces) == 3
    assert all(p.end - p.start == datetime.timedelta(days=1) for p in pieces)
    assert world.slots() == []


def test_the_mapped_patient_is_linked_never_named(world, pms):
    map_ids(pms, [(world.patients[1], "501")])
    apply(pms, world, span(world, "10:00", patient="501"), span(world, "11:00", patient="777"))
    linked = dict(PmsBusy.objects.values_list("external_id", "patient_id"))
    assert linked == {"x10:00": world.patients[1].pk, "x11:00": None}


def test_our_own_delivered_appointment_is_never_counted_twice(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    apply(pms, world, span(world, "10:00", external_id="754"), ours=["754"])
    assert not PmsBusy.objects.exists()
    ours.refresh_from_db()
    assert ours.status == Status.UNCONFIRMED


def test_busy_time_derived_from_free_slots_leaves_out_our_appointments(world, pms):
    world.book("10:00")
    apply(pms, world, span(world, "09:00", minutes=180, kind=BUSY, external_id=""),
          lists_appointments=False)  # fmt: skip
    pieces = list(PmsBusy.objects.order_by("start").values_list("start", "end"))
    assert pieces == [
        (world.at("09:00"), world.at("10:00")),
        (world.at("10:30"), world.at("12:00")),
    ]


def test_a_span_first_seen_as_the_pms_s_is_dropped_once_the_delivery_knows_it(world, pms):
    apply(pms, world, span(world, "10:00", external_id="754"))
    appointment = world.book("10:30")
    from vendors.delivery import _remember_external_id

    _remember_external_id(Delivery.objects.get(appointment=appointment), "754")
    assert not PmsBusy.objects.exists()


def test_booking_a_time_held_in_the_pms_names_the_pms(world, pms):
    apply(pms, world, span(world, "10:00"))
    with pytest.raises(SlotConflict) as refused:
        world.book("10:00")
    assert "busy in Dentalink from 10:00 to 10:30" in str(refused.value)
    assert "10:00" not in [f"{s.start.astimezone(world.location.zone):%H:%M}"
                           for s in refused.value.alternatives]  # fmt: skip


# -- our appointments follow the PMS ---------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        (
            {"active": False, "vendor_status": "Anulado"},
            Status.CANCELLED,
            "Cancelled in Dentalink.",
        ),
        ({"active": False, "vendor_status": "deleted"}, Status.CANCELLED, "Deleted in Dentalink."),
        ({"status": Status.CONFIRMED}, Status.CONFIRMED, ""),
    ],
)
def test_a_change_made_in_the_pms_is_applied_as_made_there(world, pms, change, status, reason):
    ours = delivered(pms, world.book("10:00"), "754")
    outcome = apply(pms, world, span(world, "10:00", external_id="754", **change))
    ours.refresh_from_db()
    assert (ours.status, ours.cancellation_reason, outcome.changed) == (status, reason, 1)
    event = AppointmentEvent.objects.filter(appointment=ours).last()
    assert event.details["by_pms"] == "Dentalink" and event.by is None
    # Nothing is sent back to the PMS: it made the change.
    assert list(Delivery.objects.filter(appointment=ours).values_list("operation", flat=True)) == [
        Operation.BOOK
    ]


def test_one_of_ours_missing_from_a_complete_read_was_deleted_there(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    apply(pms, world, ours=["754"])
    ours.refresh_from_db()
    assert ours.status == Status.CANCELLED
    assert ours.cancellation_reason == "Deleted in Dentalink."


def test_missing_from_a_read_of_free_time_says_nothing_about_ours(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    apply(pms, world, ours=["754"], lists_appointments=False)
    ours.refresh_from_db()
    assert ours.status == Status.UNCONFIRMED


def test_a_pms_behind_us_changes_nothing(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    booking.change_status(ours, Status.CONFIRMED)
    outcome = apply(pms, world, span(world, "10:00", external_id="754", status=Status.UNCONFIRMED))
    ours.refresh_from_db()
    assert (ours.status, outcome.changed, outcome.attention) == (Status.CONFIRMED, 0, 0)


def test_a_move_made_in_the_pms_moves_ours_and_frees_the_old_time(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    apply(pms, world, span(world, "11:00", external_id="754", room="2"))
    ours.refresh_from_db()
    assert (ours.start, ours.room) == (world.at("11:00"), world.rooms[1])
    assert "10:00" in world.local_starts(world.slots())
    assert AppointmentEvent.objects.filter(appointment=ours).last().details["by_pms"]


def test_a_change_the_status_table_forbids_needs_attention_once_then_resolves(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    booking.cancel_appointment(ours, reason="Patient called")
    Delivery.objects.filter(appointment=ours).update(state=DeliveryState.SYNCED)
    confirmed = span(world, "10:00", external_id="754", status=Status.CONFIRMED)
    for _ in range(2):
        outcome = apply(pms, world, confirmed)
    flagged = Delivery.objects.get(appointment=ours, operation=Operation.PMS_CHANGE)
    assert flagged.state == DeliveryState.NEEDS_ATTENTION
    assert "Dentalink has it as confirmed, but here it is cancelled" in flagged.last_error
    assert outcome.attention == 0  # flagged once, not at every pull
    ours.refresh_from_db()
    assert ours.status == Status.CANCELLED  # never applied silently
    apply(pms, world, span(world, "10:00", external_id="754", active=False))
    flagged.refresh_from_db()
    assert flagged.state == DeliveryState.SYNCED


def test_a_move_onto_taken_time_needs_attention(world, pms):
    ours = delivered(pms, world.book("10:00"), "754")
    world.book("11:00", patient=world.patients[1])
    apply(pms, world, span(world, "11:00", external_id="754"))
    ours.refresh_from_db()
    assert ours.start == world.at("10:00")
    flagged = Delivery.objects.get(appointment=ours, operation=Operation.PMS_CHANGE)
    assert "Moved in Dentalink to Mon 04 Jan 11:00" in flagged.last_error


def test_while_our_own_write_is_on_its_way_the_pms_copy_is_not_followed(world, pms):
    ours = world.book("10:00")
    map_ids(pms, [(ours, "754")])  # delivery still queued
    apply(pms, world, span(world, "10:00", external_id="754", active=False))
    ours.refresh_from_db()
    assert ours.status == Status.UNCONFIRMED


def test_a_pms_change_is_never_retried_or_sent(world, pms):
    from vendors import delivery

    ours = delivered(pms, world.book("10:00"), "754")
    flagged = Delivery.objects.create(
        appointment=ours, connection=pms, operation=Operation.PMS_CHANGE,
        state=DeliveryState.NEEDS_ATTENTION, last_error="x",
    )  # fmt: skip
    assert delivery.retry_now(flagged).state == DeliveryState.NEEDS_ATTENTION
    assert delivery.claim(now=NOW + HOUR * 24 * 30) is None


# -- what pages and the API say of it ---------------------------------------------------------


def availability(world: World, user):
    api = APIClient()
    api.force_authenticate(user)
    query = {"location": world.location.pk, "practitioner": world.practitioner.pk,
             "appointment_type": world.appointment_type.pk, "date_from": MONDAY}  # fmt: skip
    return api.get("/api/v1/availability/", query)


def read_at(pms, moment) -> None:
    CalendarPull.objects.update_or_create(connection=pms, defaults={"read_at": moment})


@pytest.mark.parametrize(
    ("age", "stale", "warning"),
    [
        (None, "true", "Dentalink calendar not read yet - times may be taken there."),
        (datetime.timedelta(minutes=1), "false", None),
        (datetime.timedelta(minutes=12), "true",
         "Dentalink calendar last read 12 min ago - times may be taken there."),
    ],
)  # fmt: skip
def test_the_api_s_availability_says_how_fresh_the_pms_calendar_is(
    world, pms, receptionist, age, stale, warning
):
    now = timezone.now()
    if age is not None:
        read_at(pms, now - age)
    answer = availability(world, receptionist)
    assert answer.status_code == 200
    assert answer.headers["PMS-Calendar-Stale"] == stale
    assert answer.headers.get("PMS-Calendar-Warning") == warning
    assert answer.headers["PMS-Calendar-Read-At"] == (
        (now - age).isoformat() if age is not None else "never"
    )


def test_a_clinic_without_a_pms_gets_no_calendar_headers(world, receptionist):
    answer = availability(world, receptionist)
    assert "PMS-Calendar-Stale" not in answer.headers


def test_the_slot_grid_warns_when_stale_and_redraws_itself(world, pms, desk):
    read_at(pms, timezone.now() - datetime.timedelta(minutes=12))
    page = desk.get(reverse("desk:slots"), choose(world), headers=HTMX).content.decode()
    assert "Dentalink calendar last read 12 min ago — times may be taken there." in page
    assert 'hx-trigger="every 30s"' in page


def test_the_day_shows_pms_time_read_only_with_the_mapped_patient(world, pms, desk):
    map_ids(pms, [(world.patients[1], "501")])
    apply(pms, world, span(world, "10:00", patient="501", room="1"),
          span(world, "11:00", kind=BLOCK, external_id="b1"))  # fmt: skip
    page = desk.get(reverse("desk:day"), {"location": world.location.pk, "date": MONDAY,
                                          "by": "practitioner"}).content.decode()  # fmt: skip
    assert f"Busy in Dentalink: {world.patients[1].display_name}" in page
    assert "Blocked in Dentalink" in page
    assert page.count('class="band pms') == 2
    assert "Refresh from Dentalink" in page


def test_refresh_from_pms_reads_at_once_and_redraws_the_calendar(world, pms, desk):
    # The connection's host answers nothing (port 9): the read fails and says so, nothing else.
    answer = desk.post(
        f"{reverse('desk:calendar-refresh')}?location={world.location.pk}",
        {"next": "/desk/day/"},
        headers=HTMX,
    )
    assert answer["HX-Trigger"] == "pms-refreshed"
    assert "calendar could not be read" in answer.content.decode()
    assert CalendarPull.objects.get(connection=pms).error


@pytest.mark.parametrize(
    ("vendor", "start", "end"),
    [
        ("dentalink", "10:00", "10:20"),  # a length changed in the PMS is applied
        ("treatsvet", "10:00", "10:30"),  # its type's length there says nothing of ours
        ("treatsvet", "11:00", "11:30"),  # a new start moves it, with our length
    ],
)
def test_where_the_pms_keeps_no_length_ours_is_kept(world, pms, vendor, start, end):
    type(pms).objects.filter(pk=pms.pk).update(vendor=vendor)
    pms.refresh_from_db()
    ours = delivered(pms, world.book("10:00"), "754")
    apply(pms, world, span(world, start, minutes=20, external_id="754"))
    ours.refresh_from_db()
    assert (ours.start, ours.end) == (world.at(start), world.at(end))


def test_the_api_reads_the_pms_calendar_with_the_schedule(world, pms, receptionist):
    read_at(pms, timezone.now())

    with CaptureQueriesContext(db) as queries:
        answer = availability(world, receptionist)

    assert answer.headers["PMS-Calendar-Stale"] == "false"
    calendar_reads = [q["sql"] for q in queries if CalendarPull._meta.db_table in q["sql"]]
    assert len(calendar_reads) == 1
    assert WorkingHours._meta.db_table in calendar_reads[0]
