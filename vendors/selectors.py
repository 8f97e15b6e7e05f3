"""Reads about deliveries for pages and the API."""

from collections.abc import Iterable
from typing import Any

from vendors.models import Delivery

NOT_REQUIRED = "not_required"


def sync_of(appointments: Iterable[Any]) -> dict[int, dict[str, Any]]:
    """The `sync` block of DESIGN §6 for each appointment, in one query: the state of its
    latest delivery, the vendor, the vendor's appointment ID, its status, the last error
    and the attempts so far. Local clinics read `not_required`."""
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
            result[pk] = {
                "state": NOT_REQUIRED,
                "vendor": None,
                "external_id": None,
                "vendor_status": None,
                "last_error": None,
                "attempts": 0,
            }
            continue
        result[pk] = {
            "state": delivery.state,
            "vendor": delivery.connection.vendor,
            "external_id": external.get(pk) or None,
            "vendor_status": delivery.vendor_status or None,
            "last_error": delivery.last_error or None,
            "attempts": delivery.attempts,
        }
    return result
