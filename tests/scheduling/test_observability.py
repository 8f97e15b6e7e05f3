"""Request IDs and structured logs (scheduling/observability.py): every request gets an ID,
echoed in X-Request-ID, carried by every log line written while it runs, kept by the
deliveries it records and set again while their attempts run — so one booking is followed
from the desk to the vendor, with no patient data on the way."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from scheduling import observability
from scheduling.observability import JsonFormatter, RequestIdFilter, TextFormatter
from tests.factories import ClinicMembershipFactory, PatientFactory, UserFactory
from tests.vendors.allow import world_at_dentalink
from tests.worlds import MONDAY, NOW
from vendors.delivery import deliver
from vendors.models import Delivery, DeliveryState

BASE_DIR = Path(__file__).resolve().parents[2]
GENERATED = re.compile(r"[0-9a-f]{32}")
GIVEN, FAMILY, PHONE = "Xochiquetzal", "Pelicanbright", "+56 9 8642 9753"


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict]]]:
    """The JSON lines the root logger writes from now on, at every level, through the
    production handler's filter and formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# -- the request ID: generated, accepted, refused, echoed ------------------------------------


@pytest.mark.django_db
def test_a_request_without_an_id_gets_a_new_one(client):
    first = client.get("/health/")["X-Request-ID"]
    second = client.get("/health/")["X-Request-ID"]

    assert GENERATED.fullmatch(first)
    assert GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered",
    [
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "nginx.42_a-b",
        "x" * 64,
    ],
)
def test_the_proxys_short_safe_id_is_taken_and_echoed(client, offered):
    response = client.get("/health/", headers={"X-Request-ID": offered})

    assert response["X-Request-ID"] == offered


@pytest.mark.django_db
@pytest.mark.parametrize(
    "offered",
    [
        "",
        "x" * 65,
        "two words",
        "forged\nERROR line",
        "-leading-dash",
        "ñandú",
        "a;b",
        "<script>",
        "Root=1-67891233-abcdef012345678912345678",
    ],
    ids=[
        "empty",
        "too long",
        "space",
        "newline",
        "leading dash",
        "not ascii",
        "semicolon",
        "markup",
        "trace header",
    ],
)
def test_anything_else_is_replaced_by_a_new_id(client, offered):
    response = client.get("/health/", headers={"X-Request-ID": offered})

    assert GENERATED.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_the_header_is_ignored_when_the_operator_does_not_trust_it(client, settings):
    settings.TRUST_REQUEST_ID_HEADER = False

    response = client.get("/health/", headers={"X-Request-ID": "from-the-client"})

    assert GENERATED.fullmatch(response["X-Request-ID"])


@pytest.mark.django_db
def test_every_line_of_a_request_carries_its_id(client, json_lines):
    response = client.get("/nowhere/", headers={"X-Request-ID": "req-404"})

    lines = json_lines()
    assert response.status_code == 404
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("django.request", "Not Found: /nowhere/")
    ]
    assert {line["request_id"] for line in lines} == {"req-404"}
    assert observability.current_request_id() == ""  # nothing left behind after it


# -- the formatters ---------------------------------------------------------------------------


def test_a_json_line_has_time_level_logger_message_request_id_and_exception(json_lines):
    log = logging.getLogger("vendors.delivery")
    log.info("outside %s", "any request")
    with observability.request_context("abc-123"):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed %d times", 2)

    outside, failed = json_lines()
    assert set(outside) == {"time", "level", "logger", "message", "request_id"}
    assert outside["time"].endswith("+00:00")
    assert (outside["level"], outside["message"], outside["request_id"]) == (
        "INFO",
        "outside any request",
        None,
    )
    assert (failed["level"], failed["logger"], failed["message"]) == (
        "ERROR",
        "vendors.delivery",
        "failed 2 times",
    )
    assert failed["request_id"] == "abc-123"
    assert failed["exception"].startswith("Traceback")
    assert failed["exception"].endswith("ValueError: boom")


@pytest.mark.parametrize(
    ("request_id", "expected"),
    [("abc-123", "WARNING vendors [abc-123] slow: 7 s"), ("", "WARNING vendors [-] slow: 7 s")],
)
def test_a_text_line_names_level_logger_and_request_id(request_id, expected):
    record = logging.LogRecord("vendors", logging.WARNING, __file__, 1, "slow: %s s", (7,), None)
    with observability.request_context(request_id) if request_id else nullcontext():
        RequestIdFilter().filter(record)

    assert TextFormatter().format(record) == expected


def run_logging(log_format: str | None) -> subprocess.CompletedProcess:
    """A process of its own, set up by settings.LOGGING with this LOG_FORMAT."""
    code = (
        "import django, logging\n"
        "django.setup()\n"
        "from scheduling.observability import request_context\n"
        "log = logging.getLogger('vendors.delivery')\n"
        "log.warning('outside')\n"
        "with request_context('abc-123'):\n"
        "    log.warning('inside %s', 7)\n"
    )
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "scheduling.settings",
        "DEBUG": "true",
        "PYTHONWARNINGS": "ignore",
        **({"LOG_FORMAT": log_format} if log_format is not None else {}),
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ours(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "vendors.delivery" in line]


@pytest.mark.dbless
def test_log_format_json_writes_json_lines():
    result = run_logging("json")

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in ours(result.stderr)]
    assert [(line["message"], line["request_id"]) for line in lines] == [
        ("outside", None),
        ("inside 7", "abc-123"),
    ]


@pytest.mark.dbless
def test_plain_text_is_the_default():
    result = run_logging(None)

    assert result.returncode == 0, result.stderr
    assert ours(result.stderr) == [
        "WARNING vendors.delivery [-] outside",
        "WARNING vendors.delivery [abc-123] inside 7",
    ]


@pytest.mark.dbless
def test_an_unknown_log_format_stops_the_start():
    result = run_logging("xml")

    assert result.returncode != 0
    assert "LOG_FORMAT is 'xml'; set it to text or json." in result.stderr


# -- from the desk to the vendor --------------------------------------------------------------


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_TRACE_DENTALINK_TOKEN"
    ) as simulator:
        yield simulator


@pytest.fixture
def api(world, monkeypatch) -> APIClient:
    """A receptionist of the world's clinic on the API, on Friday 2027-01-01 12:00 UTC."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    user = UserFactory(username="trace")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_booking_is_followed_by_its_id_from_the_request_to_the_vendor(
    world, dentalink, api, json_lines
):
    # A patient unknown to Dentalink: the attempt searches for them and registers them there.
    patient = PatientFactory(clinic=world.clinic, given_name=GIVEN, family_name=FAMILY, phone=PHONE)
    before = len(json_lines())  # the tests' own set-up lines (factory-boy's)
    booked = api.post(
        "/api/v1/appointments/",
        {
            "location": world.location.pk,
            "practitioner": world.practitioner.pk,
            "patient": patient.pk,
            "appointment_type": world.appointment_type.pk,
            "start": f"{MONDAY}T09:00:00-03:00",
        },
        format="json",
        headers={"X-Request-ID": "desk-7f3a"},
    )
    assert booked.status_code == 201, booked.json()
    assert booked["X-Request-ID"] == "desk-7f3a"
    delivery = Delivery.objects.get()
    assert delivery.request_id == "desk-7f3a"
    during_request = len(json_lines())

    sent = deliver(delivery.pk)

    assert sent.state == DeliveryState.SYNCED
    lines = json_lines()[before:]
    attempt = json_lines()[during_request:]
    assert any(line["logger"] == "vendors" and "POST" in line["message"] for line in attempt)
    assert {line["request_id"] for line in lines} == {"desk-7f3a"}
    text = json.dumps(lines)
    for value in (GIVEN, FAMILY, PHONE, "86429753"):
        assert value not in text
    assert observability.current_request_id() == ""


def test_a_delivery_recorded_outside_a_request_gets_an_id_of_its_own(world, dentalink, json_lines):
    first = world.book("09:00", patient=world.patients[0])
    second = world.book("10:00", patient=world.patients[1])
    ids = [d.request_id for d in Delivery.objects.filter(appointment__in=[first, second])]
    before = len(json_lines())

    deliver(Delivery.objects.get(appointment=first).pk)

    assert all(GENERATED.fullmatch(found) for found in ids)
    assert ids[0] != ids[1]
    attempt = json_lines()[before:]
    assert attempt
    assert {line["request_id"] for line in attempt} == {ids[0]}
