"""Every error has one shape: {"detail": one sentence, "errors": {field: [messages]}}.

The handler's table is checked on a view called directly (no endpoint raises each of these
on demand); what endpoints answer is checked through the project's URLs (/api/v1/...)."""

import datetime
import json
import zoneinfo

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from scheduling.api.errors import (
    BROKEN_RULE,
    INVALID_INPUT,
    ConflictSerializer,
    ErrorSerializer,
    error_responses,
    flatten_errors,
)
from scheduling.availability import Slot
from scheduling.errors import RuleViolation, SlotConflict, TransitionNotAllowed
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOT_FOUND = {"detail": "Not found.", "errors": {}}
FORBIDDEN = {"detail": "You do not have permission to perform this action.", "errors": {}}

SLOT = Slot(
    start=datetime.datetime(2027, 1, 4, 12, 30, tzinfo=UTC),
    end=datetime.datetime(2027, 1, 4, 13, 0, tzinfo=UTC),
    practitioner_id=7,
    room_ids=(3, 4),
    modalities=frozenset({"video", "in_person"}),
)
# The slot at 09:30 in Santiago, the zone of the view that raised the conflict.
ALTERNATIVE = {
    "start": "2027-01-04T09:30:00-03:00",
    "end": "2027-01-04T10:00:00-03:00",
    "practitioner": 7,
    "rooms": [3, 4],
    "modalities": ["in_person", "video"],
}

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
        {"start": "Dr Rojas is already booked at 09:00."}, alternatives=[SLOT]
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


class Raiser(APIView):
    """Raises the error named `kind`, as a view at a location in Santiago would."""

    permission_classes = [AllowAny]
    zone = zoneinfo.ZoneInfo("America/Santiago")

    def get_exception_handler_context(self) -> dict:
        return {**super().get_exception_handler_context(), "zone": self.zone}

    def get(self, request: Request, kind: str) -> Response:
        raise ERRORS[kind]()


def raised(kind: str, view: type[APIView] = Raiser) -> Response:
    response = view.as_view()(APIRequestFactory().get("/"), kind=kind)
    response.render()
    response.json = lambda: json.loads(response.content)
    return response


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        (
            "validation",
            400,
            {
                "detail": INVALID_INPUT,
                "errors": {
                    "__all__": ["Choose a practitioner or a specialty."],
                    "appt.start": ["Enter a date and time with an offset."],
                    "appt": ["x"],
                    "items.1.name": ["This field is required."],
                    "tags.0": ["Not a valid string."],
                },
            },
        ),
        (
            "validation-one-field",
            400,
            {"detail": INVALID_INPUT, "errors": {"start": ["Enter a date."]}},
        ),
        (
            "validation-whole",
            400,
            {
                "detail": "The date range is too long.",
                "errors": {"__all__": ["The date range is too long."]},
            },
        ),
        (
            "django-validation",
            400,
            {"detail": INVALID_INPUT, "errors": {"start": ["Starts in the past."]}},
        ),
        (
            "rule",
            400,
            {
                "detail": BROKEN_RULE,
                "errors": {
                    "start": ["Dr Rojas does not work at 08:00."],
                    "room": ["Box 2 is not at this location."],
                },
            },
        ),
        (
            "rule-one",
            400,
            {
                "detail": "This block offers video only.",
                "errors": {"modality": ["This block offers video only."]},
            },
        ),
        (
            "conflict",
            409,
            {
                "detail": "Dr Rojas is already booked at 09:00.",
                "errors": {"start": ["Dr Rojas is already booked at 09:00."]},
                "alternatives": [ALTERNATIVE],
            },
        ),
        (
            "transition",
            409,
            {
                "detail": "A cancelled appointment cannot be confirmed.",
                "errors": {"__all__": ["A cancelled appointment cannot be confirmed."]},
            },
        ),
        (
            "not-authenticated",
            401,
            {"detail": "Authentication credentials were not provided.", "errors": {}},
        ),
        ("authentication-failed", 401, {"detail": "Invalid token.", "errors": {}}),
        ("permission-denied", 403, FORBIDDEN),
        ("django-permission-denied", 403, FORBIDDEN),
        ("http404", 404, NOT_FOUND),
        ("not-found", 404, NOT_FOUND),
        ("throttled", 429, {"detail": "Too many requests: try again in 13 seconds.", "errors": {}}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_each_error_has_one_shape(kind, status, body):
    response = raised(kind)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


@pytest.mark.parametrize("kind", ["not-authenticated", "authentication-failed"])
def test_401_asks_for_a_token(kind):
    assert raised(kind)["WWW-Authenticate"] == "Token"


def test_429_says_when_to_come_back():
    response = raised("throttled")

    assert response["Retry-After"] == "13"


def test_alternatives_are_in_utc_when_the_view_names_no_location():
    class Anywhere(Raiser):
        zone = None

    response = raised("conflict", view=Anywhere)

    assert response.status_code == 409
    assert response.json()["alternatives"][0]["start"] == "2027-01-04T12:30:00+00:00"


def test_an_unexpected_error_is_not_disguised():
    with pytest.raises(ZeroDivisionError):
        raised("unexpected")


# --- Through the project's URLs ------------------------------------------------------------


def test_an_unknown_api_path_is_not_found_in_the_same_shape(api):
    response = api.get("/api/v1/no-such-endpoint/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == NOT_FOUND


def test_without_credentials_the_answer_asks_for_a_token(api):
    response = api.get("/api/v1/locations/")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "errors": {},
    }


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail", "errors"),
    [
        ('{"username": ', "application/json", 400, None, {}),
        ("[1, 2", "application/json", 400, None, {}),
        (
            '{"username": 5}',
            "text/plain",
            415,
            'Unsupported media type "text/plain" in request.',
            {},
        ),
        (
            '{"username": ["a"], "password": "secret"}',
            "application/json",
            400,
            INVALID_INPUT,
            {"username": ["Not a valid string."]},
        ),
        (
            '{"username": "' + "x" * 1_000_000 + '", "password": "secret"}',
            "application/json",
            400,
            INVALID_INPUT,
            {"username": ["Ensure this field has no more than 150 characters."]},
        ),
    ],
    ids=["truncated object", "truncated list", "not JSON", "wrong type", "1 MB string"],
)
def test_bad_bodies_are_refused_in_the_same_shape(api, body, content_type, status, detail, errors):
    response = api.post("/api/v1/auth/token/", body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["errors"] == errors
    if detail is None:
        assert response.json()["detail"].startswith("JSON parse error - ")
    else:
        assert response.json()["detail"] == detail


def test_a_wrong_method_is_refused_in_the_same_shape(api):
    api.force_authenticate(UserFactory())

    response = api.put("/api/v1/locations/", {}, format="json")

    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.', "errors": {}}


@pytest.mark.parametrize(
    ("detail", "errors"),
    [
        ({"non_field_errors": ["a"]}, {"__all__": ["a"]}),
        ({"__all__": ["a"]}, {"__all__": ["a"]}),
        (["a", "b"], {"__all__": ["a", "b"]}),
        ({"a": {"b": {"c": ["deep"]}}}, {"a.b.c": ["deep"]}),
        ({"a": {"non_field_errors": ["n"], "b": ["m"]}}, {"a": ["n"], "a.b": ["m"]}),
        ({"rows": [{}, {"x": ["bad"]}, {}]}, {"rows.1.x": ["bad"]}),
        ({"tags": {3: ["bad"]}}, {"tags.3": ["bad"]}),
        ({"rows": [["bad"], []]}, {"rows.0": ["bad"]}),
        ({}, {}),
    ],
)
def test_flatten_errors_gives_dotted_field_names(detail, errors):
    assert flatten_errors(detail) == errors


def test_error_responses_document_each_status_with_its_serializer():
    responses = error_responses(400, 404, 409, 429)

    assert {code: response.response for code, response in responses.items()} == {
        400: ErrorSerializer,
        404: ErrorSerializer,
        409: ConflictSerializer,
        429: ErrorSerializer,
    }
    assert all(response.description for response in responses.values())
