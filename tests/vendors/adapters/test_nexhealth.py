"""NexHealth's contract, replayed against its simulator over real sockets."""

import base64
import dataclasses
import datetime
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.vendors.scenarios.nexhealth import request as booking
from tests.vendors.scenarios.nexhealth import settings
from vendors.adapters.nexhealth import (
    InsertionFailed,
    InvalidWebhook,
    NexHealthAdapter,
    WebhookEvent,
    parse_webhook,
)
from vendors.base import MemoryStore
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.simulators import nexhealth as sim
from vendors.types import VendorAppointment

SECRET = "whsec-test"
NO_ACCESS = "You don't have access to perform this action."


VENDOR = "nexhealth"


@pytest.fixture
def simulator(simulator):
    # Insertions run when a test says so (run_insertions), unless it sets a delay.
    simulator.webhook_delay, simulator.webhook_url, simulator.webhook_secret = None, "", ""
    return simulator


@pytest.fixture
def store():
    return MemoryStore()


@pytest.fixture
def adapter(simulator, store):
    return NexHealthAdapter(settings(simulator.url), store=store)


class Receiver:
    """The clinic desk's webhook endpoint, reduced to a list of what arrived."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/nexhealth/"


@pytest.fixture
def receiver(simulator):
    receiver = Receiver()
    simulator.webhook_url, simulator.webhook_secret = receiver.url, SECRET
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def sent(simulator, method, path):
    return [r for r in simulator.requests if r.method == method and r.path == path]


def signed(payload: dict, *, secret: str = SECRET, timestamp: str = "") -> tuple[dict, bytes]:
    """A webhook signed the way NexHealth documents it, computed here independently."""
    timestamp = timestamp or datetime.datetime.now(datetime.UTC).isoformat()
    body = json.dumps(payload).encode()
    message = f"{timestamp}.{base64.b64encode(body).decode()}".encode()
    signature = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return {"timestamp": timestamp, "signature": signature}, body


def insertion(event="appointment_insertion.complete", **appointment) -> dict:
    appt = {"id": 1001, "foreign_id": "EHR-1001", "cancelled": False, **appointment}
    return {"resource_type": "Appointment", "event_name": event, "data": {"appointment": appt}}


# -- book -----------------------------------------------------------------------------------


def test_book_sends_the_documented_request_and_is_only_accepted(simulator, adapter):
    request = booking()

    result = adapter.book(request)

    auth, create = simulator.requests
    assert (auth.method, auth.path) == ("POST", "/authenticates")
    assert auth.header("Authorization") == sim.API_KEY
    assert auth.header("Nex-Api-Version") == "v3.0.0"
    assert (create.method, create.path) == ("POST", "/appointments")
    assert create.query == {
        "subdomain": "sim-dental",
        "location_id": "101",
        "notify_patient": "false",
    }
    assert create.header("Authorization") == f"Bearer {adapter.store.get('token')[0]}"
    assert create.header("Nex-Api-Version") == "v3.0.0"
    local = request.local_start
    assert create.json == {
        "appt": {
            "patient_id": 501,
            "provider_id": 201,
            "start_time": local.isoformat(),
            "end_time": (local + datetime.timedelta(minutes=30)).isoformat(),
            "appointment_type_id": 402,
            "operatory_id": 301,
            "note": "Sensitive tooth, upper left",
        }
    }
    assert create.json["appt"]["start_time"].endswith(("-05:00", "-04:00"))
    assert result == VendorAppointment(
        external_id="1001",
        vendor_status="unconfirmed",
        status="unconfirmed",
        settled=False,
        details={
            "foreign_id": None,
            "location_id": 101,
            "provider_id": 201,
            "operatory_id": 301,
            "appointment_type_id": 402,
            "start_time": request.start.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "end_time": request.end.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "timezone": "America/New_York",
            "last_sync_time": None,
        },
    )


@pytest.mark.parametrize(
    ("options", "changes", "query", "appt"),
    [
        pytest.param(
            {}, {"comment": "x" * 200}, {}, {"note": "x" * 128}, id="note-cut-to-128"
        ),
        pytest.param({}, {"comment": ""}, {}, {"note": None}, id="no-comment-no-note"),
        pytest.param(
            {"map_by_operatory": False},
            {"refs": {"practitioner": "203", "patient": "502", "location": "102"}},
            {"location_id": "102"},
            {"provider_id": 203, "patient_id": 502, "operatory_id": None,
             "appointment_type_id": None},
            id="no-room-no-type",
        ),
        pytest.param(
            {"location_id": "101", "notify_patient": True},
            {"refs": {"practitioner": "201", "patient": "501", "room": "302"}},
            {"location_id": "101", "notify_patient": "true"},
            {"operatory_id": 302, "appointment_type_id": None},
            id="location-from-option-and-notify",
        ),
    ],
)  # fmt: skip
def test_book_payload_variants(simulator, options, changes, query, appt):
    adapter = NexHealthAdapter(settings(simulator.url, **options))

    adapter.book(booking(**changes))

    create = simulator.requests[-1]
    for name, value in query.items():
        assert create.query[name] == value
    for name, value in appt.items():
        assert create.json["appt"].get(name) == value


@pytest.mark.parametrize(
    ("options", "changes", "environment", "message"),
    [
        pytest.param({}, {}, {"PMS_NEXHEALTH_TEST_API_KEY": ""},
                     "The NexHealth connection has no api key: set the environment variable "
                     "PMS_NEXHEALTH_TEST_API_KEY and name it on the connection.", id="api-key"),
        pytest.param({"subdomain": ""}, {}, {},
                     "The nexhealth connection needs the option “subdomain”; set it in the admin.",
                     id="subdomain"),
        pytest.param({}, {"refs": {"patient": "501", "room": "301", "location": "101"}}, {},
                     "The practitioner of this appointment has no NexHealth ID: map it to its "
                     "NexHealth provider in the admin (External IDs).",
                     id="practitioner"),
        pytest.param({}, {"refs": {"practitioner": "201", "room": "301", "location": "101"}}, {},
                     "The patient of this appointment has no NexHealth ID: map it to its "
                     "NexHealth patient in the admin (External IDs).",
                     id="patient"),
        pytest.param({}, {"refs": {"practitioner": "201", "patient": "501", "room": "301"}}, {},
                     "The location of this appointment has no NexHealth ID: map it to its "
                     "NexHealth location in the admin (External IDs), or set the connection's "
                     "option “location_id”.", id="location"),
        pytest.param({}, {"refs": {"practitioner": "201", "patient": "501", "location": "101"}},
                     {}, "The room of this appointment has no NexHealth ID: map it to its "
                     "NexHealth operatory in the admin (External IDs).", id="room"),
        pytest.param({}, {"refs": {"practitioner": "dr-ruiz", "patient": "501", "room": "301",
                                   "location": "101"}}, {},
                     "NexHealth IDs of the practitioner are whole numbers; “dr-ruiz” is not one. "
                     "Fix it in the admin (External IDs).", id="non-numeric-ref"),
    ],
)  # fmt: skip
def test_missing_configuration_is_named_and_nothing_is_sent(
    simulator, monkeypatch, options, changes, environment, message
):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    adapter = NexHealthAdapter(settings(simulator.url, **options))

    with pytest.raises(ConfigurationError) as raised:
        adapter.book(booking(**changes))

    assert str(raised.value) == message
    assert not sent(simulator, "POST", "/appointments")


# -- settling: lookup, status table, timed out -------------------------------------------------


def test_lookup_settles_once_the_ehr_has_the_appointment(simulator, adapter):
    booked = adapter.book(booking())
    assert adapter.lookup(booked.external_id).settled is False

    assert simulator.run_insertions() == ["complete"]
    found = adapter.lookup(booked.external_id)

    request = simulator.requests[-1]
    assert (request.method, request.path) == ("GET", "/appointments/1001")
    assert request.query == {"subdomain": "sim-dental"}
    assert found.settled is True
    assert found.details["foreign_id"] == "EHR-1001"


@pytest.mark.parametrize(
    ("flags", "vendor_status", "status"),
    [
        ({}, "unconfirmed", "unconfirmed"),
        ({"confirmed": True}, "confirmed", "confirmed"),
        ({"patient_confirmed": True}, "patient_confirmed", "confirmed"),
        ({"checkin_at": "2030-01-01T10:00:00.000Z", "confirmed": True}, "checkin_at", "arrived"),
        ({"checked_out": True, "checkin_at": "2030-01-01T10:00:00.000Z"}, "checked_out",
         "completed"),
        ({"patient_missed": True, "confirmed": True}, "patient_missed", "no_show"),
        ({"cancelled": True, "confirmed": True}, "cancelled", "cancelled"),
        ({"deleted": True}, "deleted", "cancelled"),
    ],
)  # fmt: skip
def test_status_from_the_appointment_booleans(simulator, adapter, flags, vendor_status, status):
    booked = adapter.book(booking())
    simulator.set_flags(booked.external_id, **flags)

    found = adapter.lookup(booked.external_id)

    assert (found.vendor_status, found.status) == (vendor_status, status)


def test_lookup_of_an_appointment_never_written_before_its_start_fails(simulator, adapter):
    booked = adapter.book(booking())
    simulator.set_flags(booked.external_id, start_time="2020-01-01T10:00:00.000Z")

    with pytest.raises(InsertionFailed, match="never wrote this appointment"):
        adapter.lookup(booked.external_id)


def test_lookup_of_an_unknown_appointment(adapter):
    with pytest.raises(NotFound) as raised:
        adapter.lookup("999999")

    assert raised.value.vendor_message == "Appointment not found"


# -- cancel and find ------------------------------------------------------------------------------


def test_cancel_patches_cancelled(simulator, adapter):
    request = booking()
    booked = adapter.book(request)

    result = adapter.cancel(booked.external_id, request, reason="Patient is ill")

    patch = simulator.requests[-1]
    assert (patch.method, patch.path) == ("PATCH", "/appointments/1001")
    assert patch.query == {"subdomain": "sim-dental"}
    assert patch.json == {"appt": {"cancelled": True}}
    assert (result.external_id, result.vendor_status, result.status) == (
        "1001", "cancelled", "cancelled",
    )  # fmt: skip
    # A retried cancel is harmless.
    assert adapter.cancel(booked.external_id, request).status == "cancelled"


def test_find_finds_what_an_unanswered_attempt_created(simulator, adapter):
    request = booking()
    simulator.inject("timeout_after", path="/appointments")
    with pytest.raises(OutcomeUnknown):
        adapter.book(request)

    found = adapter.find(request)

    listing = simulator.requests[-1]
    assert (listing.method, listing.path) == ("GET", "/appointments")
    assert listing.query == {
        "subdomain": "sim-dental",
        "location_id": "101",
        "start": request.start.isoformat().replace("+00:00", "Z"),
        "end": request.end.isoformat().replace("+00:00", "Z"),
        "patient_ids[]": "501",
        "provider_ids[]": "201",
    }
    assert found is not None
    assert (found.external_id, found.settled) == ("1001", False)


@pytest.mark.parametrize(
    "earlier",
    [
        pytest.param(None, id="nothing-booked"),
        pytest.param("cancelled", id="only-a-cancelled-one"),
        pytest.param("an-hour-later", id="another-time"),
    ],
)
def test_find_finds_nothing(simulator, adapter, earlier):
    request = booking()
    if earlier == "cancelled":
        adapter.cancel(adapter.book(request).external_id, request)
    elif earlier == "an-hour-later":
        adapter.book(booking(hours_ahead=49))

    assert adapter.find(request) is None


# -- reference data and check ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "ids"),
    [
        ("locations", "/locations", ["101", "102"]),
        ("practitioners", "/providers", ["201", "202", "203"]),
        ("rooms", "/operatories", ["301", "302", "303"]),
        ("appointment_types", "/appointment_types", ["401", "402", "403"]),
        ("patients", "/patients", ["501", "502", "503"]),
    ],
)
def test_reference_lists_over_every_location(simulator, adapter, kind, path, ids):
    records = adapter.reference(kind)

    assert sorted(str(record["id"]) for record in records) == ids
    calls = sent(simulator, "GET", path)
    if kind == "locations":
        assert [call.query for call in calls] == [{"subdomain": "sim-dental"}]
    else:
        assert [call.query for call in calls] == [
            {"subdomain": "sim-dental", "location_id": "101"},
            {"subdomain": "sim-dental", "location_id": "102"},
        ]


def test_reference_of_one_location_and_unknown_kind(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, location_id="102"))

    assert [room["id"] for room in adapter.reference("rooms")] == [303]
    with pytest.raises(NotSupported):
        adapter.reference("statuses")


def test_check_authenticates_and_reads_the_locations(simulator, adapter):
    assert adapter.check() == (
        "NexHealth answered for the institution “sim-dental” with 2 location(s)."
    )
    assert [(r.method, r.path) for r in simulator.requests] == [
        ("POST", "/authenticates"),
        ("GET", "/locations"),
    ]


# -- token ----------------------------------------------------------------------------------------


def test_token_is_stored_with_its_expiry_and_reused_by_other_processes(simulator, adapter, store):
    adapter.book(booking())
    token, expires_at = store.get("token")
    lifetime = expires_at - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=54) < lifetime <= datetime.timedelta(minutes=55)

    # Another worker sharing the store: no second authentication.
    NexHealthAdapter(settings(simulator.url), store=store).check()

    assert len(sent(simulator, "POST", "/authenticates")) == 1
    assert simulator.requests[-1].header("Authorization") == f"Bearer {token}"


def test_an_expired_token_is_renewed_before_the_call(simulator, adapter, store):
    store.put("token", "old", datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1))

    adapter.check()

    assert [r.path for r in simulator.requests] == ["/authenticates", "/locations"]
    assert store.get("token")[0] != "old"


def test_a_refused_token_is_dropped_and_renewed_once(simulator, adapter, store):
    adapter.check()
    first = store.get("token")[0]
    simulator.expire_tokens()

    adapter.check()

    assert [r.path for r in simulator.requests] == [
        "/authenticates", "/locations", "/locations", "/authenticates", "/locations",
    ]  # fmt: skip
    assert store.get("token")[0] not in ("", first)


def test_a_refused_api_key_is_asked_once(simulator, monkeypatch, adapter):
    monkeypatch.setenv("PMS_NEXHEALTH_TEST_API_KEY", "wrong")

    with pytest.raises(AuthenticationFailed) as raised:
        adapter.book(booking())

    assert raised.value.status == 401
    assert raised.value.vendor_message == "Invalid Credentials"
    assert [r.path for r in simulator.requests] == ["/authenticates"]


# -- errors ----------------------------------------------------------------------------------------


def test_a_subdomain_the_key_cannot_reach(simulator):
    adapter = NexHealthAdapter(settings(simulator.url, subdomain="other-dental"))

    with pytest.raises(ConfigurationError) as raised:
        adapter.book(booking())

    assert raised.value.status == 403
    assert raised.value.vendor_message == NO_ACCESS
    assert "check the connection's subdomain and location ID" in str(raised.value)
    assert len(sent(simulator, "POST", "/authenticates")) == 1  # no pointless re-authentication


@pytest.mark.parametrize(
    ("changes", "vendor_message"),
    [
        pytest.param({"hours_ahead": -2}, "start_time must be in the future", id="past"),
        pytest.param(
            {"refs": {"practitioner": "203", "patient": "501", "room": "301", "location": "101"}},
            "Provider 203 not found at this location",
            id="provider-elsewhere",
        ),
        pytest.param(
            {"refs": {"practitioner": "201", "patient": "999", "room": "301", "location": "101"}},
            "Patient 999 not found",
            id="unknown-patient",
        ),
    ],
)
def test_refusals_are_validation_errors_with_nexhealth_words(adapter, changes, vendor_message):
    with pytest.raises(VendorValidationError) as raised:
        adapter.book(booking(**changes))

    assert raised.value.status == 400
    assert raised.value.vendor_message == vendor_message
    assert str(raised.value) == f"NexHealth refused the booking: {vendor_message}."


def test_code_false_is_a_refusal_even_with_200(simulator, adapter):
    adapter.check()
    simulator.refuse_next("Location is not set up for appointment writes")

    with pytest.raises(VendorValidationError) as raised:
        adapter.book(booking())

    assert raised.value.vendor_message == "Location is not set up for appointment writes"
    assert str(raised.value) == (
        "NexHealth refused the request: Location is not set up for appointment writes."
    )


@pytest.mark.parametrize(
    ("fault", "error", "vendor_message"),
    [
        ("429", RateLimited, "Too many requests"),
        ("500", OutcomeUnknown, "Internal Server Error"),
        ("503", VendorUnavailable, "Service Unavailable"),
    ],
)
def test_faults_keep_the_envelope_message(simulator, adapter, fault, error, vendor_message):
    simulator.inject(fault, path="/appointments")

    with pytest.raises(error) as raised:
        adapter.book(booking())

    assert raised.value.vendor_message == vendor_message
    if fault == "429":
        assert raised.value.retry_after == 1.0


# -- the taken slot and the signed webhook ---------------------------------------------------------


def test_a_taken_slot_is_accepted_then_fails_insertion_with_a_signed_webhook(
    simulator, adapter, receiver
):
    first = adapter.book(booking("k1"))
    second = adapter.book(booking("k2", refs={**booking().refs, "patient": "502", "room": "302"}))
    assert (first.settled, second.settled) == (False, False)

    assert simulator.run_insertions() == ["complete", "failed"]

    events = [parse_webhook(headers, body, SECRET) for headers, body in receiver.received]
    assert [(e.event, e.external_id, e.sync) for e in events] == [
        ("appointment_insertion.complete", first.external_id, "synced"),
        ("appointment_insertion.failed", second.external_id, "needs_attention"),
    ]
    assert events[0].appointment.details["foreign_id"] == "EHR-1001"
    assert events[1].appointment.details["foreign_id"] is None
    assert [w["status"] for w in simulator.state()["webhooks"]] == [200, 200]


def test_webhook_after_the_configured_delay_via_the_control_endpoint(simulator, adapter):
    receiver = Receiver()
    try:
        answer = requests.post(
            f"{simulator.url}/__simulator/webhook",
            json={"url": receiver.url, "secret": SECRET, "delay": 0.05, "fail_insertions": 1},
            timeout=2,
        )
        assert answer.json() == {"url": receiver.url, "delay": 0.05, "change_delay": 0.0}
        assert SECRET not in json.dumps(simulator.state())

        failed = adapter.book(booking("k1"))
        written = adapter.book(booking("k2", hours_ahead=50))
        simulator.wait_for_webhooks(2)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()

    events = {
        parse_webhook(h, b, SECRET).external_id: parse_webhook(h, b, SECRET).sync
        for h, b in receiver.received
    }
    assert events == {failed.external_id: "needs_attention", written.external_id: "synced"}
    assert adapter.lookup(written.external_id).settled is True


def test_an_undeliverable_webhook_is_recorded_and_the_insertion_still_happens(simulator, adapter):
    simulator.webhook_url, simulator.webhook_secret = "http://127.0.0.1:9/hooks", SECRET
    booked = adapter.book(booking())

    simulator.run_insertions()

    (webhook,) = simulator.state()["webhooks"]
    assert (webhook["event_name"], webhook["status"]) == ("appointment_insertion.complete", None)
    assert webhook["error"]
    assert adapter.lookup(booked.external_id).settled is True


def test_webhook_signature_is_the_documented_formula(simulator, adapter, receiver):
    adapter.book(booking())
    simulator.run_insertions()

    ((headers, body),) = receiver.received
    headers = {name.lower(): value for name, value in headers.items()}
    message = f"{headers['timestamp']}.{base64.b64encode(body).decode()}".encode()
    assert headers["signature"] == hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    payload = json.loads(body)
    assert payload["resource_type"] == "Appointment"
    assert payload["event_name"] == "appointment_insertion.complete"
    assert payload["data"]["appointment"]["id"] == 1001


def test_parse_webhook_reads_a_valid_event():
    headers, body = signed(insertion(confirmed=True))

    event = parse_webhook(headers, body, SECRET)

    assert event == WebhookEvent(
        event="appointment_insertion.complete",
        external_id="1001",
        sync="synced",
        appointment=VendorAppointment(
            external_id="1001",
            vendor_status="confirmed",
            status="confirmed",
            settled=True,
            details={"foreign_id": "EHR-1001"},
        ),
        sent_at=datetime.datetime.fromisoformat(headers["timestamp"]),
    )


@pytest.mark.parametrize(
    ("event", "sync"),
    [
        ("appointment_insertion.complete", "synced"),
        ("appointment_insertion.failed", "needs_attention"),
        ("appointment_insertion.timed_out", "needs_attention"),
        ("appointment_updated", None),
    ],
)
def test_parse_webhook_event_table(event, sync):
    headers, body = signed(insertion(event))

    assert parse_webhook(headers, body, SECRET).sync == sync


@pytest.mark.parametrize(
    ("tamper", "why"),
    [
        pytest.param(lambda h, b: ({**h, "signature": "0" * 64}, b), "signature", id="signature"),
        pytest.param(lambda h, b: (h, b.replace(b"1001", b"1002")), "signature", id="body"),
        pytest.param(lambda h, b: signed(insertion(), secret="other"), "signature", id="secret"),
        pytest.param(lambda h, b: ({"timestamp": h["timestamp"]}, b), "header", id="no-signature"),
        pytest.param(lambda h, b: signed(insertion(), timestamp="yesterday"), "timestamp",
                     id="malformed-timestamp"),
        pytest.param(lambda h, b: signed(insertion(), timestamp="2020-01-01T00:00:00+00:00"),
                     "timestamp", id="stale"),
        pytest.param(lambda h, b: signed({"event_name": "x"}), "no event name or appointment",
                     id="no-appointment"),
    ],
)  # fmt: skip
def test_parse_webhook_refuses(tamper, why):
    headers, body = tamper(*signed(insertion()))

    with pytest.raises(InvalidWebhook, match=why):
        parse_webhook(headers, body, SECRET)


def test_parse_webhook_tolerance_and_epoch_timestamps():
    now = datetime.datetime.now(datetime.UTC)
    headers, body = signed(insertion(), timestamp=str(int(now.timestamp())))
    sent_at = datetime.datetime.fromtimestamp(int(headers["timestamp"]), datetime.UTC)

    assert parse_webhook(headers, body, SECRET, now=sent_at + datetime.timedelta(seconds=300))
    with pytest.raises(InvalidWebhook):
        parse_webhook(headers, body, SECRET, now=sent_at + datetime.timedelta(seconds=301))
    with pytest.raises(ConfigurationError):
        parse_webhook(headers, body, "")


# -- the simulator refuses what NexHealth refuses ---------------------------------------


def _token(simulator) -> str:
    answer = requests.post(
        f"{simulator.url}/authenticates",
        headers={"Authorization": sim.API_KEY, "Nex-Api-Version": "v3.0.0"},
        timeout=2,
    )
    assert answer.json()["description"] == "Authenticated"
    return answer.json()["data"]["token"]


START = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=2)


def _appt(**changes) -> dict:
    """A valid `appt` for location 101; a change to `...` leaves the field out."""
    appt = {
        "patient_id": 501,
        "provider_id": 201,
        "operatory_id": 301,
        "start_time": START.isoformat(),
        "end_time": (START + datetime.timedelta(minutes=30)).isoformat(),
    }
    return {key: value for key, value in {**appt, **changes}.items() if value is not ...}


def _body(**changes) -> dict:
    return {"appt": _appt(**changes)}


QUERY = "?subdomain=sim-dental&location_id=101"


@pytest.mark.parametrize(
    ("headers", "path", "body", "status", "error"),
    [
        pytest.param({"Nex-Api-Version": None}, QUERY, _body(), 404, "Not Found", id="no-version"),
        pytest.param({"Nex-Api-Version": "v2"}, QUERY, _body(), 400,
                     "API version 'v2' is below the minimum allowed.", id="version-2"),
        pytest.param({"Authorization": None}, QUERY, _body(), 401, "Invalid Credentials",
                     id="no-bearer"),
        pytest.param({"Authorization": "Bearer forged"}, QUERY, _body(), 401,
                     "Invalid Credentials", id="wrong-bearer"),
        pytest.param({}, "?subdomain=other&location_id=101", _body(), 403, NO_ACCESS,
                     id="wrong-subdomain"),
        pytest.param({}, "?subdomain=sim-dental", _body(), 403, NO_ACCESS, id="no-location"),
        pytest.param({}, QUERY + "&notify_patient=maybe", _body(), 400,
                     "notify_patient must be true or false", id="notify-not-boolean"),
        pytest.param({}, QUERY, {"patient_id": 501}, 400, "appt is required", id="no-appt"),
        pytest.param({}, QUERY, _body(patient_id=...), 400, "patient_id is required",
                     id="no-patient"),
        pytest.param({}, QUERY, _body(provider_id="201"), 400, "provider_id must be an integer",
                     id="provider-as-string"),
        pytest.param({}, QUERY, _body(start_time="2030-01-01T10:00:00"), 400,
                     "start_time must be an ISO 8601 datetime with a UTC offset",
                     id="start-without-offset"),
        pytest.param({}, QUERY, _body(end_time=...), 400,
                     "end_time or appointment_type_id is required", id="no-end-no-type"),
        pytest.param({}, QUERY, _body(end_time=START.isoformat()), 400,
                     "end_time must be after start_time", id="empty"),
        pytest.param({}, QUERY, _body(operatory_id=...), 400,
                     "operatory_id is required for locations that map by operatory",
                     id="no-operatory"),
        pytest.param({}, QUERY, _body(note="n" * 129), 400,
                     "note is too long (maximum is 128 characters)", id="long-note"),
    ],
)  # fmt: skip
def test_simulator_refuses(simulator, headers, path, body, status, error):
    sent_headers = {"Authorization": f"Bearer {_token(simulator)}", "Nex-Api-Version": "v3.0.0"}
    sent_headers.update(headers)
    sent_headers = {name: value for name, value in sent_headers.items() if value is not None}

    answer = requests.post(
        f"{simulator.url}/appointments{path}",
        json=body,
        headers=sent_headers,
        timeout=2,
    )

    assert answer.status_code == status
    assert answer.json() == {"code": False, "description": None, "error": [error], "data": None}
    assert simulator.state()["appointments"] == []


def test_simulator_refuses_a_wrong_api_key(simulator):
    answer = requests.post(
        f"{simulator.url}/authenticates",
        headers={"Authorization": "Bearer " + sim.API_KEY, "Nex-Api-Version": "v3.0.0"},
        timeout=2,
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == ["Invalid Credentials"]


def test_simulator_infers_the_end_from_the_appointment_type(simulator):
    answer = requests.post(
        f"{simulator.url}/appointments{QUERY}",
        json=_body(end_time=..., appointment_type_id=401),
        headers={"Authorization": f"Bearer {_token(simulator)}", "Nex-Api-Version": "v3.0.0"},
        timeout=2,
    )

    appt = answer.json()["data"]["appt"]
    duration = datetime.datetime.fromisoformat(appt["end_time"]) - datetime.datetime.fromisoformat(
        appt["start_time"]
    )
    assert (answer.status_code, duration) == (201, datetime.timedelta(minutes=60))


# -- redaction ---------------------------------------------------------------------------


def test_patient_data_and_secrets_stay_out_of_the_attempt_log(simulator, adapter, store):
    request = booking()
    adapter.book(request)
    adapter.lookup("1001")

    logged = json.dumps([dataclasses.asdict(exchange) for exchange in adapter.exchanges])

    for secret in ("María", "González", "maria@example.org", "1985-04-12", request.comment,
                   sim.API_KEY, store.get("token")[0]):  # fmt: skip
        assert secret not in logged
    assert '"patient_id": 501' in logged  # identifiers stay, to trace the call
