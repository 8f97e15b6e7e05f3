"""Reads about deliveries for pages, the API and the admin: the one presenter of an
appointment's state at its PMS."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from vendors.models import IN_FLIGHT_STATES, Delivery, DeliveryState, Vendor

NOT_REQUIRED = "not_required"
NOT_REQUIRED_LABEL = "Not required (no PMS)"
STATE_CHOICES = [(NOT_REQUIRED, NOT_REQUIRED_LABEL), *DeliveryState.choices]
# The calendar's badge for each state; in-flight states show "PMS …".
MARKS = {DeliveryState.SYNCED: "PMS ✓", DeliveryState.NEEDS_ATTENTION: "PMS !"}
IN_FLIGHT_MARK = "PMS …"


@dataclasses.dataclass(frozen=True, slots=True)
class Sync:
    """The `sync` block of DESIGN §6: an appointment's state at its PMS (its latest
    delivery), with the words pages show for it."""

    state: str
    vendor: str | None = None
    external_id: str | None = None
    vendor_status: str | None = None
    last_error: str | None = None
    attempts: int = 0

    @property
    def required(self) -> bool:
        return self.state != NOT_REQUIRED

    @property
    def in_flight(self) -> bool:
        """Still on its way (queued, sending, accepted): pages keep polling."""
        return self.state in IN_FLIGHT_STATES

    @property
    def vendor_label(self) -> str:
        """The PMS's own name, e.g. "Treats.vet"."""
        if self.vendor is None:
            return ""
        return Vendor(self.vendor).label if self.vendor in Vendor.values else self.vendor

    @property
    def state_label(self) -> str:
        """e.g. "Accepted (awaiting the PMS's confirmation)"."""
        return dict(STATE_CHOICES).get(self.state, self.state)

    @property
    def state_word(self) -> str:
        """The state in one or two words, e.g. "accepted"."""
        return self.state_label.split(" (")[0].lower()

    @property
    def label(self) -> str:
        """e.g. "Dentalink: synced"; empty for a clinic without a PMS."""
        if not self.required:
            return ""
        return f"{self.vendor_label or 'PMS'}: {self.state_word}"

    @property
    def mark(self) -> str:
        return MARKS.get(self.state, IN_FLIGHT_MARK)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "vendor": self.vendor,
            "external_id": self.external_id,
            "vendor_status": self.vendor_status,
            "last_error": self.last_error,
            "attempts": self.attempts,
        }


def sync_of(appointments: Iterable[Any]) -> dict[int, Sync]:
    """The `Sync` of each appointment, in one query: the state of its latest delivery, the
    vendor, the vendor's appointment ID, its status, the last error and the attempts so
    far. Local clinics read `not_required`."""
    ids = [appointment.pk for appointment in appointments]
    latest: dict[int, Delivery] = {}
    external: dict[int, str] = {}
    for delivery in (
        Delivery.objects.filter(appointment_id__in=ids)
        .select_related("connection")
        .order_by("appointment_id", "pk")
    ):
        latest[delivery.appointment_id] = delivery
        if delivery.external_id:
            external[delivery.appointment_id] = delivery.external_id
    result = {}
    for pk in ids:
        delivery = latest.get(pk)
        if delivery is None:
            result[pk] = Sync(state=NOT_REQUIRED)
            continue
        result[pk] = Sync(
            state=delivery.state,
            vendor=delivery.connection.vendor,
            external_id=external.get(pk) or None,
            vendor_status=delivery.vendor_status or None,
            last_error=delivery.last_error or None,
            attempts=delivery.attempts,
        )
    return result
