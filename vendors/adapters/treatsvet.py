"""Treats.vet (France, veterinary): payloads, paths and status tables.

Contract: ../shared/vendor-docs/treatsvet-post-appointments.txt and research-notes §5.

- Auth: `X-API-Key: vk_...` (secret role "api_key"); the key is the clinic.
- Create: POST /appointments with the owner (`clientId` = refs["guardian"]), the animal
  (`patientId` = refs["patient"]), `vetId`, optional `appointmentTypeId`, `scheduledAt` in UTC
  with `Z`, `reason` (the comment) and `isUrgent`; 201 returns the appointment. The end comes
  from the appointment type at Treats.vet: there is no duration field to send.
- 409 = the time is taken. The answer carries no alternatives, so we ask
  GET /appointments/available-slots for that vet, type and day (the clinic-local date: the
  docs do not say which zone `date` is in) and offer the next free starts.
- No cancel endpoint and no appointment search: `cancel` keeps the base NotSupported (cancel
  in Treats.vet too) and `supports_lookup` is False; GET /appointments/{id} serves `lookup`.
- Status: only `SCHEDULED` is documented. The other values in the table are our reading of
  the vendor's vocabulary (upper-case English, as `SCHEDULED` and the consultation statuses
  `IN_PROGRESS`, `VALIDATED`); anything else keeps its vendor value and no canonical status.

The clinic's calendar in Treats.vet (DESIGN §8; research notes §5.4):
- No appointment list is documented, so busy time is derived from free time, by window (never
  incrementally): for each mapped vet (`query.practitioners`) with working hours in the window
  (`query.working_hours`, clipped to the window and to now: Treats.vet offers no past slot),
  one `GET /appointments/available-slots?vetId&date&appointmentTypeId` per local date (the
  locations' zone, as for the alternatives above) those hours touch; busy = the working
  hours minus the union of the answered `[startTime, endTime)` slots, as spans of kind "busy"
  without an ID. Days a vet does not work cost nothing. Our own appointments' time is in
  those spans too (Treats.vet cannot tell whose time it is).
- `appointmentTypeId`: the shortest (`durationMinutes`, from `GET /appointments/types`, one
  request per pull) of the mapped types, whose slots cover free time most finely; without a
  mapped type it is left out, as in the create call. Vet IDs that are not UUIDs are skipped
  (booking names the mapping error).
- Each answer must be a list of slots with both times (UTC with an offset); anything else
  raises, as does any failed request: the read is whole or not at all (`complete=True`,
  `lists_appointments=False`).
- Status back-sync: `GET /appointments/{id}` (APPOINTMENT_READ) for our appointments
  (`query.ours`), at most OURS_PER_PULL of them per pull, a random sample when there are more
  (the key's hourly budget). Each is an appointment span with its ID, times, vet, animal
  (`patientId`) and `status`; a 404 is inactive with vendor status "deleted" (times: the
  window's start); CANCELLED/CANCELED are inactive. SCHEDULED maps to no canonical status
  here: it is the state every appointment is created in and keeps whatever the desk does
  (Treats.vet cannot be told of a confirmation or an arrival), so it is no news; the other
  words map by the table above.
- Rate limit: the key has an hourly request limit (the docs' example: 1000/h). A pull costs
  1 (types) + Σ vets' working days in the window (at most vets × 15 local days for
  `calendar_days` = 14) + at most OURS_PER_PULL (15). With `min_pull_seconds` = 300 (12 pulls
  an hour), 4 vets working every day: 12 × (1 + 60 + 15) = 912 requests/h; 4 vets on
  five-day weeks (the demo clinic): 12 × (1 + 44 + 15) = 720/h, leaving room for bookings
  and pre-flights. A 429 of up to 5 s is waited out (`read`); a longer one (the hour's budget
  spent) fails the pull, and the last good copy stays.
- `is_free`: the same available-slots for the request's vet, local date and type (none when
  unmapped) offers the request's exact start. One call, no waiting out 429s: a pre-flight must
  be quick.
"""

from __future__ import annotations

import datetime
import random
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from scheduling.localtime import utc_iso
from vendors.base import UUID, Adapter
from vendors.errors import ConfigurationError, NotFound, SlotUnavailable, VendorError
from vendors.intervals import Interval, local_days, merged, minus
from vendors.types import (
    APPOINTMENT,
    BUSY,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    VendorAppointment,
)

STATUSES = {
    "SCHEDULED": "unconfirmed",  # documented
    "CONFIRMED": "confirmed",
    "ARRIVED": "arrived",
    "CHECKED_IN": "arrived",
    "IN_PROGRESS": "arrived",
    "COMPLETED": "completed",
    "DONE": "completed",
    "CANCELLED": "cancelled",
    "CANCELED": "cancelled",
    "NO_SHOW": "no_show",
    "MISSED": "no_show",
}
# Reference kinds -> paths (Treats.vet offers no list of vets).
REFERENCE_PATHS = {
    "appointment_types": "appointments/types",
    "guardians": "clients",
    "patients": "patients",
    "available_slots": "appointments/available-slots",
}
ALTERNATIVES = 3
# Our appointments whose status one pull reads, at most (the key's hourly budget).
OURS_PER_PULL = 15
# Statuses that carry no news about one of ours (see the module's docstring).
NO_NEWS = frozenset({"SCHEDULED"})
INACTIVE = frozenset({"CANCELLED", "CANCELED"})
SLOTS_PATH = "appointments/available-slots"
DETAIL_FIELDS = (
    "clientId", "patientId", "vetId", "appointmentTypeId", "scheduledAt", "endTime", "isUrgent",
    "status", "displayStatus", "createdAt",
)  # fmt: skip


class TreatsVetAdapter(Adapter):
    vendor = "treatsvet"
    label = "Treats.vet"
    supports_lookup = False  # GET /appointments/{id} only: no search by patient and time
    supports_cancel = False

    required_secrets = ("api_key",)
    # Documented base URL: https://api.treats.vet/api/v1
    production_hosts = ("api.treats.vet",)
    booking_path = "appointments"
    booking_roles = {
        "guardian": True,
        "patient": True,
        "practitioner": True,
        "appointment_type": False,
    }
    id_formats = {"": UUID}
    vendor_terms = {"guardian": "client", "patient": "animal", "practitioner": "vet"}

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "clientId": ids["guardian"],
            "patientId": ids["patient"],
            "vetId": ids["practitioner"],
            "scheduledAt": utc_iso(request.start),
            "isUrgent": request.urgent,
        }
        if "appointment_type" in ids:
            payload["appointmentTypeId"] = ids["appointment_type"]
        if request.comment:
            payload["reason"] = request.comment
        return payload

    def parse_booking(self, answer: Any) -> VendorAppointment:
        return self.appointment(answer)

    def slot_taken(
        self, taken: SlotUnavailable, request: BookingRequest, ids: Mapping[str, Any]
    ) -> SlotUnavailable:
        taken.alternatives = self._free_starts(request, ids)
        return taken

    # -- other operations ----------------------------------------------------------------

    def _free_starts(
        self, request: BookingRequest, ids: Mapping[str, Any]
    ) -> list[datetime.datetime]:
        """The next free starts Treats.vet offers that day, after the one that was taken.
        A second question may fail too; the refusal then simply comes without them."""
        params = {"vetId": ids["practitioner"], "date": request.local_start.date().isoformat()}
        if "appointment_type" in ids:
            params["appointmentTypeId"] = ids["appointment_type"]
        try:
            slots = self.reference("available_slots", **params)
        except VendorError:
            return []
        starts = []
        for slot in slots:
            try:
                starts.append(self.parse_time(str(slot["startTime"])))
            except (KeyError, TypeError, ValueError):
                continue
        return sorted(start for start in starts if start > request.start)[:ALTERNATIVES]

    def lookup(self, external_id: str) -> VendorAppointment:
        path = f"appointments/{urllib.parse.quote(external_id, safe='')}"
        return self.appointment(self.call("GET", path))

    def reference(self, kind: str, **params: str) -> list[dict[str, Any]]:
        """Reference lists; `available_slots` takes vetId, date (YYYY-MM-DD) and
        appointmentTypeId, as the vendor names them."""
        path = REFERENCE_PATHS.get(kind)
        if path is None:
            return super().reference(kind)
        body = self.call("GET", path, params=params or None)
        items = body.get("data") if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise VendorError(
                f"Treats.vet answered the “{kind}” list in an unexpected shape.",
                vendor=self.vendor,
            )
        return items

    def check(self) -> str:
        types = self.reference("appointment_types")
        return f"Treats.vet answered with {len(types)} appointment type(s)."

    # -- the clinic's calendar (DESIGN §8) ------------------------------------------------

    calendar_days = 14
    min_pull_seconds = 300.0
    # An appointment lasts its type's length at Treats.vet (there is no end to send).
    stores_duration = False

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
        hours = {}
        for vet in dict.fromkeys(query.practitioners):
            intervals = merged(query.working_hours.get(vet, ()), max(query.start, now), query.end)
            if intervals and self._uuid(vet):
                hours[vet] = intervals
        kind = self._finest_type(query.appointment_types) if hours else None
        spans = [
            span
            for vet, intervals in hours.items()
            for span in self._busy(vet, intervals, kind, query)
        ]
        spans += [self._our_span(external_id, query) for external_id in _sample(query.ours)]
        return CalendarRead(spans, complete=True, lists_appointments=False)

    def _busy(
        self, vet: str, intervals: list[Interval], kind: str | None, query: CalendarQuery
    ) -> list[BusySpan]:
        """The vet's working intervals that no free slot of theirs covers."""
        params = {"vetId": self._uuid(vet)} | ({"appointmentTypeId": kind} if kind else {})
        free = [
            slot
            for day in local_days(intervals, query.zone)
            for slot in self._slots(params | {"date": day.isoformat()})
        ]
        return [
            BusySpan(start, end, kind=BUSY, practitioner=vet)
            for start, end in minus(intervals, free)
        ]

    def is_free(self, request: BookingRequest) -> bool:
        params = {
            "vetId": self.external_id(request.refs, "practitioner"),
            "date": request.local_start.date().isoformat(),
        }
        if request.refs.get("appointment_type"):
            params["appointmentTypeId"] = self.external_id(request.refs, "appointment_type")
        return any(start == request.start for start, _ in self._slots(params, wait=False))

    def _slots(self, params: Mapping[str, Any], *, wait: bool = True) -> list[Interval]:
        """The free slots Treats.vet answers, as UTC intervals; any other answer raises."""
        if wait:
            answer = self.read(SLOTS_PATH, params=params)
        else:
            answer = self.call("GET", SLOTS_PATH, params=params)
        if not isinstance(answer, list):
            raise TypeError("available slots")
        slots = []
        for slot in answer:
            start, end = self.parse_time(slot["startTime"]), self.parse_time(slot["endTime"])
            if end <= start:
                raise ValueError("a slot ends before it starts")
            slots.append((start, end))
        return slots

    def _finest_type(self, mapped: Sequence[str]) -> str | None:
        """The mapped appointment type with the shortest duration, or None."""
        wanted = {self._uuid(kind, "appointment_type") for kind in mapped} - {None}
        if not wanted:
            return None
        types = self.read("appointments/types")
        if not isinstance(types, list):
            raise TypeError("appointment types")
        durations = {
            str(kind["id"]).lower(): int(kind["durationMinutes"])
            for kind in types
            if str(kind["id"]).lower() in wanted
        }
        return min(durations, key=lambda kind: (durations[kind], kind)) if durations else None

    def _our_span(self, external_id: str, query: CalendarQuery) -> BusySpan:
        try:
            body = self.read(f"appointments/{urllib.parse.quote(external_id, safe='')}")
        except NotFound:
            return BusySpan(
                query.start, query.start, kind=APPOINTMENT, external_id=external_id,
                vendor_status="deleted", active=False,
            )  # fmt: skip
        word = str(body["status"] or "")
        return BusySpan(
            self.parse_time(body["scheduledAt"]),
            self.parse_time(body["endTime"]),
            kind=APPOINTMENT,
            external_id=external_id,
            practitioner=str(body.get("vetId") or ""),
            patient=str(body.get("patientId") or ""),
            vendor_status=word,
            status=None if word.upper() in NO_NEWS else STATUSES.get(word.upper()),
            active=word.upper() not in INACTIVE,
        )

    def _uuid(self, value: str, role: str = "practitioner") -> str | None:
        """The ID as Treats.vet takes it, or None when it is not a UUID."""
        try:
            return self.parse_id(value, role)
        except ConfigurationError:
            return None

    # -- mapping ------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.secret("api_key")}

    def appointment(self, body: Any) -> VendorAppointment:
        if not isinstance(body, Mapping) or not body.get("id"):
            raise self.answered_without("the appointment's id")
        status = str(body.get("status") or "")
        return VendorAppointment(
            external_id=str(body["id"]),
            vendor_status=status or str(body.get("displayStatus") or ""),
            status=STATUSES.get(status.upper()),
            details={name: body[name] for name in DETAIL_FIELDS if name in body},
        )


def _sample(ours: Sequence[str]) -> list[str]:
    """Our appointments this pull looks up: all, or OURS_PER_PULL of them at random."""
    unique = list(dict.fromkeys(ours))
    return unique if len(unique) <= OURS_PER_PULL else random.sample(unique, OURS_PER_PULL)
