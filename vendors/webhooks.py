"""Webhooks from PMS vendors: signature checked, replays and duplicates ignored, no 500s.

NexHealth signs each delivery (`timestamp` and `signature` headers) and we accept it for five
minutes around its timestamp. Inside that window the very same delivery could be sent again
by anyone who saw it: each accepted delivery's signature is remembered per connection
(WebhookReceipt, pruned once its timestamp leaves the window), and a replay is answered
200 {"received": true, "settled": false, "duplicate": true} with nothing done. A 2xx, not a
4xx, because NexHealth retries every non-2xx answer for about 48 hours and then deactivates
the endpoint; the first delivery was already acted on.

Appointment events (`appointment_created`, `appointment_updated`) carry a change made in
NexHealth's calendar: applied at once like an incremental read (vendors.calendar), so time
booked there leaves our grid within seconds rather than at the next pull.
"""

import datetime

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from vendors import allowed, calendar, delivery
from vendors.language import written_for
from vendors.models import Vendor, VendorConnection, WebhookReceipt
from vendors.types import CalendarRead

# NexHealth's freshness window: a webhook whose timestamp is further from now is refused.
NEXHEALTH_TOLERANCE = datetime.timedelta(minutes=5)


@csrf_exempt
@require_POST
def nexhealth(request: HttpRequest, connection_id: int) -> JsonResponse:
    from vendors.adapters.nexhealth import InvalidWebhook, parse_webhook

    connection = get_object_or_404(
        VendorConnection.objects.select_related("clinic"),
        pk=connection_id,
        vendor=Vendor.NEXHEALTH,
        active=True,
    )
    named = connection.secrets if isinstance(connection.secrets, dict) else {}
    variable = named.get("webhook_secret", "")
    secret = "" if allowed.secret_refusal(variable) else allowed.secret_value(variable)
    if not secret:
        return JsonResponse({"error": "This connection has no webhook secret set."}, status=403)
    try:
        event = parse_webhook(
            request.headers,
            request.body,
            secret,
            tolerance_seconds=int(NEXHEALTH_TOLERANCE.total_seconds()),
        )
    except InvalidWebhook as error:
        return JsonResponse({"error": str(error)}, status=403)
    now = timezone.now()
    WebhookReceipt.objects.filter(sent_at__lt=now - NEXHEALTH_TOLERANCE).delete()
    signature = request.headers.get("signature", "").strip().lower()
    try:
        # The receipt and what the webhook settles commit together: a failure leaves neither,
        # so the vendor's retry is not mistaken for a replay. What it writes for people to
        # read later is in the clinic's language (vendors.language): no user sent it.
        with transaction.atomic(), written_for(connection.clinic):
            WebhookReceipt.objects.create(
                connection=connection, signature=signature, sent_at=event.sent_at
            )
            if event.spans:  # appointment_created / _updated: a change in its calendar
                outcome = calendar.apply(
                    connection, CalendarRead(list(event.spans), complete=False)
                )
                return JsonResponse({"received": True, "settled": False, "calendar": outcome.busy})
            if event.sync is None:  # an event we do not act on: acknowledge, or NexHealth retries
                return JsonResponse({"received": True, "settled": False})
            settled = delivery.settle(
                connection, event.external_id, ok=event.sync == "synced", vendor_status=event.event
            )
    except IntegrityError:  # this very delivery was accepted before: a replay
        return JsonResponse({"received": True, "settled": False, "duplicate": True})
    return JsonResponse({"received": True, "settled": settled})
