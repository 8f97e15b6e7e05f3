"""What crosses the adapter boundary: plain data, no models."""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from typing import Any

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclasses.dataclass(frozen=True)
class BookingRequest:
    """One appointment as a PMS needs it. `refs` holds the vendor's IDs of the records
    involved, by role: practitioner, patient, guardian (an animal's owner), room, location,
    appointment_type, specialty, assistant, follow_up_of."""

    key: str  # stable per delivery: the idempotency key
    start: datetime.datetime  # aware, UTC
    end: datetime.datetime
    time_zone: str
    modality: str  # in_person | video
    status: str  # canonical status
    comment: str = ""
    urgent: bool = False
    room_is_overflow: bool = False
    refs: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def local_start(self) -> datetime.datetime:
        return self.start.astimezone(zoneinfo.ZoneInfo(self.time_zone))

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


@dataclasses.dataclass(frozen=True)
class VendorAppointment:
    """The PMS's answer about one appointment."""

    external_id: str
    vendor_status: str = ""
    # The canonical status the vendor's status maps to, when it maps to one.
    status: str | None = None
    # False while the vendor has accepted but not yet confirmed the write (NexHealth).
    settled: bool = True
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Exchange:
    """One HTTP call, redacted, for the delivery's attempt log."""

    method: str
    url: str
    status: int | None
    latency_ms: int
    request: Any
    response: Any
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Its fields by name, the bodies not copied (`dataclasses.asdict` copies them deeply):
        what stores an exchange builds its own copy as it scrubs it."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class PatientDetails:
    """A patient as a PMS registers one (patient data: never logged, redacted in attempts)."""

    given_name: str
    family_name: str
    birth_date: datetime.date | None = None
    sex: str = ""
    phone: str = ""
    email: str = ""
    national_id: str = ""
    national_id_type: str = ""


# -- reading the PMS's calendar (DESIGN §8) ---------------------------------------------------

APPOINTMENT = "appointment"  # one of the PMS's appointments
BLOCK = "block"  # time the PMS blocks (a "Bloqueo", NexHealth's `unavailable`)
BUSY = "busy"  # taken, without saying by what (derived from the vendor's free times)
BUSY_KINDS = (APPOINTMENT, BLOCK, BUSY)


@dataclasses.dataclass(frozen=True)
class CalendarQuery:
    """What a calendar read covers. IDs are the vendor's, of the records mapped at the
    connection; an adapter reads what it can of them and ignores the rest."""

    start: datetime.datetime  # aware UTC, inclusive
    end: datetime.datetime  # aware UTC, exclusive
    time_zone: str  # the locations' zone: local dates for vendors that page by day
    practitioners: tuple[str, ...] = ()
    rooms: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    appointment_types: tuple[str, ...] = ()
    # The vendor IDs of the appointments we delivered that fall in the window: a vendor that
    # cannot list its appointments looks these up one by one for their status.
    ours: tuple[str, ...] = ()
    # The cursor the previous complete-or-incremental read returned: "" = read the window.
    since: str = ""
    # Practitioner ID -> its working intervals in the window (aware UTC), for vendors that
    # only say which times are free (Treats.vet): everything else inside them is busy.
    working_hours: dict[str, tuple[tuple[datetime.datetime, datetime.datetime], ...]] = (
        dataclasses.field(default_factory=dict)
    )

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def local_days(self) -> tuple[datetime.date, datetime.date]:
        """The first and last local dates the window touches."""
        last = self.end - datetime.timedelta(microseconds=1)
        return self.start.astimezone(self.zone).date(), last.astimezone(self.zone).date()


@dataclasses.dataclass(frozen=True)
class BusySpan:
    """Time the PMS holds: one of its appointments, a block, or time it says is not free.
    Patient data stays at the vendor: only the patient's vendor ID crosses (to show a mapped
    patient's name)."""

    start: datetime.datetime  # aware UTC
    end: datetime.datetime
    kind: str = APPOINTMENT
    external_id: str = ""  # the vendor's ID of the appointment or block, if it has one
    practitioner: str = ""  # vendor IDs
    room: str = ""
    location: str = ""
    patient: str = ""
    vendor_status: str = ""  # the vendor's own word for its state (no patient data)
    status: str | None = None  # the canonical status it maps to, when it maps to one
    # False: cancelled or deleted at the vendor; the time is free again.
    active: bool = True


@dataclasses.dataclass
class CalendarRead:
    """What one read of the PMS's calendar found."""

    spans: list[BusySpan]
    # True: the whole query window was read, so anything not in `spans` is gone from it.
    # False: only what changed since `query.since` (an incremental read or a webhook).
    complete: bool = True
    # The cursor to pass as `since` next time ("" when the vendor has no incremental read).
    cursor: str = ""
    # Whether `spans` are the vendor's appointments with their IDs (so that one of ours
    # missing from a complete read was deleted there). False for free-time vendors.
    lists_appointments: bool = True


# -- onboarding a clinic from its PMS (issue 12) ------------------------------------------------

# What an import reads, in the order it is applied (a room needs its location, hours their
# practitioner and location).
IMPORT_KINDS = ("locations", "practitioners", "rooms", "types", "hours", "patients")
# Each kind as a report names it ("practitioners: 3 created, …").
KIND_LABELS = {
    "locations": pgettext_lazy("imported records", "locations"),
    "practitioners": pgettext_lazy("imported records", "practitioners"),
    "rooms": pgettext_lazy("imported records", "rooms"),
    "types": pgettext_lazy("imported records", "types"),
    "hours": pgettext_lazy("imported records", "hours"),
    "patients": pgettext_lazy("imported records", "patients"),
}


@dataclasses.dataclass(frozen=True)
class ImportedRecord:
    """One record as the PMS lists it, in our model's words.

    `fields` holds our model's field names and values (only those the vendor says something
    about):
    - locations: name, address, phone, time_zone (IANA, when the vendor tells it), active
    - practitioners: title, given_name, family_name, email, phone, active
    - rooms: name, active (refs["location"] when the room belongs to one)
    - types: name, default_duration_minutes, active
    - hours: weekday (0 = Monday), start_time, end_time (datetime.time, local wall clock),
      slot_interval_minutes (refs["practitioner"], refs["location"])
    - patients: given_name, family_name, birth_date (datetime.date), sex (female | male |
      other | unknown), phone, email, national_id, national_id_type (rut | passport | …),
      species, breed (animals), guardian_name, guardian_phone, guardian_email
    `refs` are the vendor's IDs of related records (location, practitioner, guardian).
    A record the vendor returned malformed comes with `problem` set (what is wrong, never
    its patient data) and is skipped and reported, the rest imported."""

    kind: str
    external_id: str
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    refs: dict[str, str] = dataclasses.field(default_factory=dict)
    problem: str = ""


# How a patient is looked for at the PMS before being created there, in this order: the first
# criterion that finds anyone decides (one: linked; several: a person chooses).
PATIENT_CRITERIA = ("national_id", "email", "phone", "name_birth_date")
CRITERION_WORDS = {
    "national_id": _("national ID"),
    "email": _("e-mail"),
    "phone": _("phone"),
    "name_birth_date": _("name and birth date"),
}


@dataclasses.dataclass(frozen=True)
class PatientMatch:
    """What a look-up of one of our patients at the PMS found: the criterion that found
    anyone, and the PMS's IDs of those it found (no patient data)."""

    criterion: str = ""
    candidates: tuple[str, ...] = ()

    @property
    def sure(self) -> str | None:
        """The PMS's ID when exactly one patient matched."""
        return self.candidates[0] if len(self.candidates) == 1 else None
