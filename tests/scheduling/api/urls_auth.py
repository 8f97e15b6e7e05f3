"""Test-only URLconf: the auth and docs endpoints under api/v1/, tiny views that raise each
error the exception handler renders, and the admin."""

import datetime

from django.contrib import admin
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import include, path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from scheduling.api import auth, docs
from scheduling.availability import Slot
from scheduling.errors import RuleViolation, SlotConflict, TransitionNotAllowed

UTC = datetime.UTC
ALTERNATIVE = Slot(
    start=datetime.datetime(2027, 1, 4, 12, 30, tzinfo=UTC),
    end=datetime.datetime(2027, 1, 4, 13, 0, tzinfo=UTC),
    practitioner_id=7,
    room_ids=(3, 4),
    modalities=frozenset({"video", "in_person"}),
)

ERRORS = {
    "validation": lambda: exceptions.ValidationError(
        {
            "non_field_errors": ["Choose a practitioner or a specialty."],
            "appt": {"start": ["Enter a date and time with an offset."], "non_field_errors": ["x"]},
            "items": [{}, {"name": ["This field is required."]}],
            "tags": {0: ["Not a valid string."]},
        }
    ),
    "validation-one-field": lambda: exceptions.ValidationError({"start": ["Enter a date."]}),
    "validation-whole": lambda: exceptions.ValidationError("The date range is too long."),
    "django-validation": lambda: DjangoValidationError({"start": ["Starts in the past."]}),
    "rule": lambda: RuleViolation(
        {"start": "Dr Rojas does not work at 08:00.", "room": "Box 2 is not at this location."}
    ),
    "rule-one": lambda: RuleViolation({"modality": "This block offers video only."}),
    "conflict": lambda: SlotConflict(
        {"start": "Dr Rojas is already booked at 09:00."}, alternatives=[ALTERNATIVE]
    ),
    "transition": lambda: TransitionNotAllowed("A cancelled appointment cannot be confirmed."),
    "not-authenticated": lambda: exceptions.NotAuthenticated(),
    "authentication-failed": lambda: exceptions.AuthenticationFailed("Invalid token."),
    "permission-denied": lambda: exceptions.PermissionDenied(),
    "django-permission-denied": lambda: DjangoPermissionDenied("secret reason"),
    "http404": lambda: Http404("No Appointment matches the given query."),
    "not-found": lambda: exceptions.NotFound(),
    "throttled": lambda: exceptions.Throttled(wait=12.2),
    "unexpected": lambda: ZeroDivisionError("a bug"),
}


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([AllowAny])
def raise_error(request: Request, kind: str) -> Response:
    raise ERRORS[kind]()


class EchoSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=20)


@extend_schema(exclude=True)
@api_view(["POST"])
@permission_classes([AllowAny])
def echo(request: Request) -> Response:
    incoming = EchoSerializer(data=request.data)
    incoming.is_valid(raise_exception=True)
    return Response(incoming.validated_data)


@extend_schema(exclude=True)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def whoami(request: Request) -> Response:
    return Response({"username": request.user.username})


test_patterns = [
    path("errors/<slug:kind>/", raise_error, name="raise-error"),
    path("echo/", echo, name="echo"),
    path("whoami/", whoami, name="whoami"),
]

urlpatterns = [
    path("api/v1/", include(([*auth.urlpatterns, *docs.urlpatterns, *test_patterns], "api"))),
    path("admin/", admin.site.urls),
]
