"""A small clinic to book in: one location in Santiago, one practitioner, three rooms."""

import dataclasses
import datetime
import zoneinfo

from scheduling import availability, booking
from scheduling.models import (
    Appointment,
    AppointmentType,
    Clinic,
    Location,
    ModalityOffer,
    Patient,
    Practitioner,
    Room,
    Weekday,
)
from tests.factories import (
    AppointmentTypeFactory,
    ClinicFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SpecialtyFactory,
    WorkingHoursFactory,
)

UTC = datetime.UTC
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
MONDAY = datetime.date(2027, 1, 4)  # summer in Santiago: UTC-3
NOW = datetime.datetime(2027, 1, 1, 12, 0, tzinfo=UTC)


@dataclasses.dataclass
class World:
    clinic: Clinic
    location: Location
    practitioner: Practitioner
    rooms: list[Room]
    overflow_room: Room
    appointment_type: AppointmentType
    patients: list[Patient]

    def at(self, hhmm: str, day: datetime.date = MONDAY) -> datetime.datetime:
        """A local wall-clock time at the location, as an aware UTC instant."""
        local = datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm))
        return local.replace(tzinfo=self.location.zone).astimezone(UTC)

    def book(self, hhmm: str, day: datetime.date = MONDAY, **kwargs) -> Appointment:
        options = {
            "location": self.location,
            "practitioner": self.practitioner,
            "patient": self.patients[0],
            "appointment_type": self.appointment_type,
            "now": NOW,
            **kwargs,
        }
        return booking.book_appointment(start=self.at(hhmm, day), **options)

    def slots(self, day: datetime.date = MONDAY, to: datetime.date | None = None, **kwargs):
        demand_options = {
            key: kwargs.pop(key)
            for key in ("appointment_type", "duration_minutes", "modality", "include_overflow")
            if key in kwargs
        }
        demand_options.setdefault(
            "appointment_type",
            None if "duration_minutes" in demand_options else self.appointment_type,
        )
        return availability.free_slots(
            location=self.location,
            practitioner_ids=kwargs.pop("practitioner_ids", [self.practitioner.pk]),
            demand=availability.Demand.build(**demand_options),
            date_from=day,
            date_to=to or day,
            now=kwargs.pop("now", NOW),
            **kwargs,
        )

    def local_starts(self, slots) -> list[str]:
        return [f"{slot.start.astimezone(self.location.zone):%H:%M}" for slot in slots]


def build_world() -> World:
    clinic = ClinicFactory(allows_overflow_booking=True)
    location = LocationFactory(clinic=clinic, name="Providencia", time_zone="America/Santiago")
    specialty = SpecialtyFactory(clinic=clinic, name="General dentistry")
    practitioner = PractitionerFactory(clinic=clinic, given_name="Camila", family_name="Rojas")
    practitioner.specialties.add(specialty)
    practitioner.locations.add(location)
    WorkingHoursFactory(
        practitioner=practitioner,
        location=location,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(9),
        end_time=datetime.time(12),
        slot_interval_minutes=15,
        modality=ModalityOffer.IN_PERSON,
    )
    rooms = [RoomFactory(location=location, name=f"Chair {n}") for n in (1, 2)]
    overflow_room = RoomFactory(location=location, name="Sobrecupo", is_overflow=True)
    appointment_type = AppointmentTypeFactory(
        clinic=clinic, name="Check-up", default_duration_minutes=30
    )
    patients = [PatientFactory(clinic=clinic) for _ in range(3)]
    return World(clinic, location, practitioner, rooms, overflow_room, appointment_type, patients)
