"""What crosses the adapter boundary: plain data, no models."""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from typing import Any


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
