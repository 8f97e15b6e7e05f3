"""Daylight saving time on the 2026 and 2027 transition days of Santiago and Paris."""

import datetime
import zoneinfo

import pytest

from scheduling import availability, booking
from scheduling.errors import AmbiguousLocalTime, RuleViolation
from scheduling.localtime import resolve_local
from scheduling.models import ModalityOffer
from tests.factories import (
    AppointmentTypeFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    WorkingHoursFactory,
)

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

UTC = datetime.UTC
NOW = datetime.datetime(2026, 1, 1, tzinfo=UTC)
T = datetime.time

# zone, day, block, local starts offered (every 30 min, 30-minute visits), UTC offsets seen
TRANSITIONS = [
    # Paris springs forward at 02:00 -> 03:00
    ("Europe/Paris", "2026-03-29", (T(1), T(4)), ["01:00", "01:30", "03:00", "03:30"]),
    ("Europe/Paris", "2027-03-28", (T(1), T(4)), ["01:00", "01:30", "03:00", "03:30"]),
    # Paris falls back at 03:00 -> 02:00: 02:00-03:00 happens twice
    ("Europe/Paris", "2026-10-25", (T(1), T(4)),
     ["01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30"]),
    ("Europe/Paris", "2027-10-31", (T(1), T(4)),
     ["01:00", "01:30", "02:00", "02:30", "02:00", "02:30", "03:00", "03:30"]),
    # Santiago springs forward at Sunday 00:00 -> 01:00
    ("America/Santiago", "2026-09-06", (T(0), T(2)), ["01:00", "01:30"]),
    ("America/Santiago", "2027-09-05", (T(0), T(2)), ["01:00", "01:30"]),
    # Santiago falls back at Saturday 24:00 -> 23:00; the block ends at the first 23:30
    ("America/Santiago", "2026-04-04", (T(22), T(23, 30)), ["22:00", "22:30", "23:00"]),
    ("America/Santiago", "2027-04-03", (T(22), T(23, 30)), ["22:00", "22:30", "23:00"]),
]  # fmt: skip


def _clinic_on(zone_name: str, day: datetime.date, block: tuple[datetime.time, datetime.time]):
    location = LocationFactory(time_zone=zone_name)
    practitioner = PractitionerFactory(clinic=location.clinic)
    WorkingHoursFactory(
        practitioner=practitioner,
        location=location,
        weekday=day.weekday(),
        start_time=block[0],
        end_time=block[1],
        slot_interval_minutes=30,
        modality=ModalityOffer.IN_PERSON,
    )
    RoomFactory(location=location)
    appointment_type = AppointmentTypeFactory(clinic=location.clinic, default_duration_minutes=30)
    return location, practitioner, appointment_type


@pytest.mark.django_db
@pytest.mark.parametrize(("zone_name", "day", "block", "expected"), TRANSITIONS)
def test_slots_on_transition_days_last_their_real_length(zone_name, day, block, expected):
    day = datetime.date.fromisoformat(day)
    location, practitioner, appointment_type = _clinic_on(zone_name, day, block)

    slots = availability.free_slots(
        location=location,
        practitioner_ids=[practitioner.pk],
        demand=availability.Demand.build(appointment_type=appointment_type),
        date_from=day,
        date_to=day,
        now=NOW,
    )

    zone = zoneinfo.ZoneInfo(zone_name)
    assert [f"{slot.start.astimezone(zone):%H:%M}" for slot in slots] == expected
    assert all(slot.end - slot.start == datetime.timedelta(minutes=30) for slot in slots)
    starts = [slot.start for slot in slots]
    assert starts == sorted(set(starts))  # distinct real instants, in order
    for slot in slots:
        booking.book_appointment(
            location=location,
            practitioner=practitioner,
            patient=PatientFactory(clinic=location.clinic),
            appointment_type=appointment_type,
            start=slot.start,
            now=NOW,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zone_name", "day", "hhmm", "offset_hours"),
    [
        ("Europe/Paris", "2026-03-28", "09:00", 1),
        ("Europe/Paris", "2026-03-30", "09:00", 2),
        ("America/Santiago", "2026-04-04", "09:00", -3),
        ("America/Santiago", "2026-04-05", "09:00", -4),
        ("America/Santiago", "2026-09-05", "09:00", -4),
        ("America/Santiago", "2026-09-07", "09:00", -3),
    ],
)
def test_ordinary_hours_around_transitions_use_the_right_offset(zone_name, day, hhmm, offset_hours):
    day = datetime.date.fromisoformat(day)
    location, practitioner, appointment_type = _clinic_on(zone_name, day, (T(9), T(10)))

    (first, *_) = availability.free_slots(
        location=location,
        practitioner_ids=[practitioner.pk],
        demand=availability.Demand.build(appointment_type=appointment_type),
        date_from=day,
        date_to=day,
        now=NOW,
    )

    local = datetime.datetime.combine(day, T(9))
    assert first.start == (local - datetime.timedelta(hours=offset_hours)).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone_name", "local"),
    [
        ("Europe/Paris", "2026-03-29 02:30"),
        ("Europe/Paris", "2027-03-28 02:00"),
        ("America/Santiago", "2026-09-06 00:30"),
        ("America/Santiago", "2027-09-05 00:00"),
    ],
)
def test_a_local_time_in_a_gap_is_refused(zone_name, local):
    naive = datetime.datetime.fromisoformat(local)

    with pytest.raises(RuleViolation) as error:
        resolve_local(naive, zoneinfo.ZoneInfo(zone_name))

    assert error.value.messages == {
        "start": [
            f"{local} does not exist in {zone_name}: the clocks jump forward for daylight "
            "saving time. Choose a time outside the skipped hour."
        ]
    }


@pytest.mark.parametrize(
    ("zone_name", "local", "first_utc", "second_utc"),
    [
        ("Europe/Paris", "2026-10-25 02:30", "2026-10-25 00:30", "2026-10-25 01:30"),
        ("Europe/Paris", "2027-10-31 02:00", "2027-10-31 00:00", "2027-10-31 01:00"),
        ("America/Santiago", "2026-04-04 23:30", "2026-04-05 02:30", "2026-04-05 03:30"),
        ("America/Santiago", "2027-04-03 23:00", "2027-04-04 02:00", "2027-04-04 03:00"),
    ],
)
def test_an_ambiguous_local_time_must_be_resolved_explicitly(
    zone_name, local, first_utc, second_utc
):
    zone = zoneinfo.ZoneInfo(zone_name)
    naive = datetime.datetime.fromisoformat(local)
    first = datetime.datetime.fromisoformat(first_utc).replace(tzinfo=UTC)
    second = datetime.datetime.fromisoformat(second_utc).replace(tzinfo=UTC)

    with pytest.raises(AmbiguousLocalTime) as error:
        resolve_local(naive, zone)

    assert error.value.options == [first, second]
    assert "happens twice" in error.value.messages["start"][0]
    assert resolve_local(naive, zone, fold=0) == first
    assert resolve_local(naive, zone, fold=1) == second


def test_ordinary_local_times_resolve_directly():
    zone = zoneinfo.ZoneInfo("America/Santiago")

    assert resolve_local(datetime.datetime(2026, 11, 23, 9, 0), zone) == datetime.datetime(
        2026, 11, 23, 12, 0, tzinfo=UTC
    )
