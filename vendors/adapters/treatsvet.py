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
"""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Mapping
from typing import Any

from scheduling.localtime import utc_iso
from vendors.base import UUID, Adapter
from vendors.errors import SlotUnavailable, VendorError
from vendors.types import BookingRequest, VendorAppointment

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
