"""Webhooks from PMS vendors: signature checked, duplicates ignored, no 500s."""

import os

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from vendors import delivery
from vendors.models import Vendor, VendorConnection


@csrf_exempt
@require_POST
def nexhealth(request: HttpRequest, connection_id: int) -> JsonResponse:
    from vendors.adapters.nexhealth import InvalidWebhook, parse_webhook

    connection = get_object_or_404(
        VendorConnection, pk=connection_id, vendor=Vendor.NEXHEALTH, active=True
    )
    secret = os.environ.get(connection.secrets.get("webhook_secret", ""), "")
    if not secret:
        return JsonResponse({"error": "This connection has no webhook secret set."}, status=403)
    try:
        event = parse_webhook(request.headers, request.body, secret)
    except InvalidWebhook as error:
        return JsonResponse({"error": str(error)}, status=403)
    if event.sync is None:  # an event we do not act on: acknowledge, or NexHealth retries
        return JsonResponse({"received": True, "settled": False})
    settled = delivery.settle(
        connection, event.external_id, ok=event.sync == "synced", vendor_status=event.event
    )
    return JsonResponse({"received": True, "settled": settled})
