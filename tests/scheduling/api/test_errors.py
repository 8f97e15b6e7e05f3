"""Every error has one shape: {"detail": one sentence, "errors": {field: [messages]}}."""

import pytest
from rest_framework.test import APIClient

from scheduling.api.errors import (
    BROKEN_RULE,
    INVALID_INPUT,
    ConflictSerializer,
    ErrorSerializer,
    error_responses,
    flatten_errors,
)

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.scheduling.api.urls_auth")]

NOT_FOUND = {"detail": "Not found.", "errors": {}}
FORBIDDEN = {"detail": "You do not have permission to perform this action.", "errors": {}}

ALTERNATIVE = {
    "start": "2027-01-04T12:30:00Z",
    "end": "2027-01-04T13:00:00Z",
    "practitioner": 7,
    "rooms": [3, 4],
    "modalities": ["in_person", "video"],
}


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def raised(api: APIClient, kind: str):
    return api.get(f"/api/v1/errors/{kind}/")


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
def test_each_error_has_one_shape(api, kind, status, body):
    response = raised(api, kind)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


@pytest.mark.parametrize("kind", ["not-authenticated", "authentication-failed"])
def test_401_asks_for_a_token(api, kind):
    assert raised(api, kind)["WWW-Authenticate"] == "Token"


def test_429_says_when_to_come_back(api):
    response = raised(api, "throttled")

    assert response["Retry-After"] == "13"


def test_an_unexpected_error_is_not_disguised(api):
    with pytest.raises(ZeroDivisionError):
        raised(api, "unexpected")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "detail", "errors"),
    [
        ('{"name": ', "application/json", 400, None, {}),
        ("[1, 2", "application/json", 400, None, {}),
        ('{"name": 5}', "text/plain", 415, 'Unsupported media type "text/plain" in request.', {}),
        (
            '{"name": ["a"]}',
            "application/json",
            400,
            INVALID_INPUT,
            {"name": ["Not a valid string."]},
        ),
        (
            '{"name": "' + "x" * 1_000_000 + '"}',
            "application/json",
            400,
            INVALID_INPUT,
            {"name": ["Ensure this field has no more than 20 characters."]},
        ),
    ],
    ids=["truncated object", "truncated list", "not JSON", "wrong type", "1 MB string"],
)
def test_bad_bodies_are_refused_in_the_same_shape(api, body, content_type, status, detail, errors):
    response = api.post("/api/v1/echo/", body, content_type=content_type)

    assert response.status_code == status
    assert response.json()["errors"] == errors
    if detail is None:
        assert response.json()["detail"].startswith("JSON parse error - ")
    else:
        assert response.json()["detail"] == detail


def test_a_wrong_method_is_refused_in_the_same_shape(api):
    response = api.put("/api/v1/echo/", {}, format="json")

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
