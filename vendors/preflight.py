"""The pre-flight check (DESIGN §8): before a booking is committed here, ask the PMS whether
the time is still free, where the vendor offers a free-slot check and the connection asks for
it. It only ever refuses a time the PMS says is taken: a slow, failing or unreachable PMS skips
the check (each of its calls waits at most the connection's pre-flight timeout), and the
booking goes ahead to be delivered as usual."""

from __future__ import annotations

import dataclasses
import datetime
import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from scheduling import slot_cache
from scheduling.models import Appointment, AppointmentType, Location, Patient, Practitioner, Room
from vendors.base import Adapter
from vendors.delivery import LOOK_UP, connection_serving, refs_of
from vendors.errors import ConfigurationError, VendorError
from vendors.models import BusyKind, ConnectionStore, PmsBusy, VendorConnection
from vendors.types import BookingRequest

logger = logging.getLogger("vendors.preflight")


def taken_in_pms(
    *,
    location: Location,
    practitioner: Practitioner,
    patient: Patient,
    room: Room | None,
    appointment_type: AppointmentType | None,
    start: datetime.datetime,
    end: datetime.datetime,
    modality: str,
    connection: VendorConnection | type[LOOK_UP] | None = LOOK_UP,
) -> str | None:
    """Why the PMS says this time is not free, or None (free, unchecked or unknown). The
    caller may pass the connection the location books into (None: local), if it has it."""
    if connection is LOOK_UP:
        connection = connection_serving(location.pk, location.clinic_id)
    if connection is None or not connection.preflight:
        return None
    try:
        adapter = _adapter(connection)
        if not adapter.checks_free:
            return None
        refs = refs_of(
            connection,
            {
                "practitioner": (Practitioner, practitioner.pk, ""),
                "patient": (Patient, patient.pk, ""),
                "guardian": (Patient, patient.pk, "guardian"),
                "room": (Room, room.pk if room else None, ""),
                "location": (Location, location.pk, ""),
                "appointment_type": (
                    AppointmentType, appointment_type.pk if appointment_type else None, ""
                ),
            },
        )  # fmt: skip
        request = BookingRequest(
            key="pre-flight",
            start=start,
            end=end,
            time_zone=location.time_zone,
            modality=modality,
            status=Appointment._meta.get_field("status").default,
            refs=refs,
        )
        if adapter.is_free(request):
            return None
    except (VendorError, ConfigurationError) as skipped:
        logger.info("pre-flight at %s skipped: %s", connection.vendor, type(skipped).__name__)
        return None
    label = connection.get_vendor_display()
    # Never offered again while we wait for the calendar read that shows what took it.
    PmsBusy.objects.create(
        connection=connection,
        practitioner=practitioner,
        room=room if room is not None and not room.is_overflow else None,
        start=start,
        end=end,
        kind=BusyKind.BUSY,
        vendor_status="taken (pre-flight)",
        last_seen=timezone.now(),
    )
    slot_cache.clinic_changed(connection.clinic_id)
    _read_soon(connection)
    return _(
        "%(pms)s says this time is no longer free (booked there directly); choose another time."
    ) % {"pms": label}


def _adapter(connection: VendorConnection) -> Adapter:
    from vendors.adapters import adapter_class

    quick = dataclasses.replace(
        connection.settings(),
        connect_timeout=min(connection.preflight_timeout, connection.connect_timeout),
        read_timeout=min(connection.preflight_timeout, connection.read_timeout),
    )
    return adapter_class(connection.vendor)(quick, store=ConnectionStore(connection))


def _read_soon(connection: VendorConnection) -> None:
    """The PMS knows something we do not: read its calendar again at once."""
    from vendors.tasks import pull_calendar

    try:
        pull_calendar.enqueue(connection.pk)
    except Exception:  # the sweeper reads it at its next turn anyway
        logger.exception("could not enqueue a calendar read of connection %s", connection.pk)
