"""One shape for every API error, rendered by one handler (REST_FRAMEWORK["EXCEPTION_HANDLER"]).

Every error body is ``{"detail": "<one sentence>", "errors": {"<field>": ["<message>"]}}``;
a 409 for a taken slot adds ``"alternatives"``, in the zone the view puts in the handler's
context (``context["zone"]``, the location booked; UTC if none). Nested field errors get
dotted names (``appointment.start``, ``items.0.name``); errors about the whole request sit
under ``__all__``.
"""

import datetime
import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from scheduling.api.slots import SlotSerializer
from scheduling.errors import NON_FIELD, BookingError, SlotConflict, TransitionNotAllowed
from scheduling.localtime import UTC

# Human text, in the request's language (the JSON keys and codes never change).
INVALID_INPUT = _("The request is invalid: fix the fields listed in errors.")
BROKEN_RULE = _("The booking breaks a rule: fix the fields listed in errors.")
SLOT_TAKEN = _("That time is no longer free: pick one of the alternatives.")
NOT_ALLOWED = _("The appointment's status does not allow this change.")


class ErrorSerializer(serializers.Serializer):
    """The body of every error answer."""

    detail = serializers.CharField(help_text="What went wrong, in one sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text=(
            "Messages per field; nested fields are dotted (`appointment.start`), "
            "errors about the whole request are under `__all__`. Empty when no field is at fault."
        ),
    )


class ConflictSerializer(ErrorSerializer):
    """A 409: the time is taken (a lost race) or the change is not allowed now."""

    alternatives = SlotSerializer(
        many=True,
        required=False,
        help_text="The next free slots, present when the requested time was taken.",
    )


RETRY_AFTER = OpenApiParameter(
    name="Retry-After",
    type=OpenApiTypes.INT,
    location=OpenApiParameter.HEADER,
    response=[status.HTTP_429_TOO_MANY_REQUESTS],
    required=True,
    description="Seconds to wait before trying again.",
)

DESCRIPTIONS = {
    400: "Invalid input or a broken booking rule: messages per field. An ID in the body or "
    "the query that names no record you can see is invalid input (`No such practitioner.`).",
    401: "Missing, invalid, expired or revoked credentials (`WWW-Authenticate: Token`).",
    403: "Signed in, but not allowed to do this.",
    404: "No such record (the ID in the path) among the clinics you belong to.",
    409: "The time is taken (see `alternatives`) or the status does not allow the change.",
    429: "Too many requests: wait `Retry-After` seconds.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """`@extend_schema(responses=...)` entries for error statuses, each with its serializer.

    Add `RETRY_AFTER` to the operation's `parameters` when 429 is listed.
    """
    return {
        code: OpenApiResponse(
            response=ConflictSerializer if code == status.HTTP_409_CONFLICT else ErrorSerializer,
            description=DESCRIPTIONS.get(code, ""),
        )
        for code in statuses
    }


def flatten_errors(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail as ``{dotted field name: [messages]}``."""
    errors: dict[str, list[str]] = {}

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                name = str(key)
                if name in (api_settings.NON_FIELD_ERRORS_KEY, NON_FIELD):
                    walk(value, path)
                else:
                    walk(value, (*path, name))
        elif isinstance(node, list | tuple):
            for index, item in enumerate(node):
                if isinstance(item, Mapping | list | tuple):
                    walk(item, (*path, str(index)))
                else:
                    walk(item, path)
        else:
            errors.setdefault(".".join(path) or NON_FIELD, []).append(str(node))

    walk(detail, ())
    return errors


def _summary(errors: dict[str, list[str]], fallback: str, *, any_field: bool) -> str:
    """The only message when there is one (of the whole request, or of any field if
    `any_field`); otherwise the fallback sentence."""
    messages = [message for texts in errors.values() for message in texts]
    if len(messages) == 1 and (any_field or NON_FIELD in errors):
        return str(messages[0])
    return str(fallback)


def _booking_error(exc: BookingError, zone: datetime.tzinfo | None) -> Response:
    errors = {field: list(texts) for field, texts in exc.messages.items()}
    if isinstance(exc, SlotConflict):
        alternatives = SlotSerializer(exc.alternatives, many=True, context={"zone": zone or UTC})
        body = {
            "detail": _summary(errors, SLOT_TAKEN, any_field=True),
            "errors": errors,
            "alternatives": alternatives.data,
        }
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, TransitionNotAllowed):
        body = {"detail": _summary(errors, NOT_ALLOWED, any_field=True), "errors": errors}
        return Response(body, status=status.HTTP_409_CONFLICT)
    body = {"detail": _summary(errors, BROKEN_RULE, any_field=True), "errors": errors}
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Render every error as ``{"detail", "errors"}``; None (a 500) for anything unexpected."""
    if isinstance(exc, BookingError):
        set_rollback()
        return _booking_error(exc, context.get("zone"))
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(serializers.as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response

    if isinstance(exc, exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        detail = _summary(errors, INVALID_INPUT, any_field=False)
    elif isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        wait = max(1, math.ceil(exc.wait))
        errors = {}
        detail = ngettext(
            "Too many requests: try again in %(wait)d second.",
            "Too many requests: try again in %(wait)d seconds.",
            wait,
        ) % {"wait": wait}
        response["Retry-After"] = str(wait)
    elif isinstance(exc.detail, dict | list):
        errors = flatten_errors(exc.detail)
        detail = _summary(errors, str(exc.default_detail), any_field=True)
    else:
        errors = {}
        detail = str(exc.detail)
    response.data = {"detail": detail, "errors": errors}
    return response
