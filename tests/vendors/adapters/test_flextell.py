"""Flextell contract: the documented requests and answers, over real sockets to the simulator."""

import dataclasses
import datetime
import urllib.parse
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.flextell import ENVIRONMENT, request, settings
from vendors.adapters import flextell as flextell_adapter
from vendors.adapters.flextell import STATUSES, FlextellAdapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    LookupIncomplete,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.simulators import flextell as flextell_simulator
from vendors.simulators.flextell import CUSTOMERS

TOKEN_PATH = "/oauth/token"
CREATE_PATH = "/api/v1/appointments"


VENDOR = "flextell"


def api_calls(simulator):
    return [r for r in simulator.requests if r.path != TOKEN_PATH]


def token_calls(simulator):
    return [r for r in simulator.requests if r.path == TOKEN_PATH]


# -- book ------------------------------------------------------------------------------


def test_book_sends_the_documented_create_and_reads_the_appointment(simulator, adapter):
    booking = request()

    appointment = adapter.book(booking)

    sent = simulator.requests[-1]
    assert (sent.method, sent.path, sent.query) == ("POST", CREATE_PATH, {})
    (access_token,) = simulator.access_tokens
    assert sent.header("Authorization") == f"Bearer {access_token}"
    assert sent.header("X-Tenant") == "7"
    assert sent.header("Content-Type") == "application/json"
    assert sent.json == {
        "customer_id": 31,
        "user_id": 11,
        "scheduled_at": booking.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "pending",
        "treatments": [41],
        "room_id": 21,
        "description": "Control post-operatorio",
    }
    assert appointment.external_id == "101"
    assert (appointment.vendor_status, appointment.status) == ("pending", "unconfirmed")
    assert appointment.details == {
        "code": "APT-000101",
        "scheduled_at": booking.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "doctor_id": 11,
        "room_id": 21,
    }


def test_book_sends_assistant_follow_up_and_at_most_1000_characters(simulator, adapter):
    first = adapter.book(request())
    booking = request(
        hours_ahead=72,
        comment="x" * 1200,
        refs={
            "patient": "32",
            "practitioner": "12",
            "appointment_type": "42",
            "assistant": "13",
            "follow_up_of": first.external_id,
        },
    )

    adapter.book(booking)

    assert simulator.requests[-1].json == {
        "customer_id": 32,
        "user_id": 12,
        "scheduled_at": booking.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "status": "pending",
        "treatments": [42],
        "assistant_id": 13,
        "parent_appointment_id": 101,
        "description": "x" * 1000,
    }


def test_book_leaves_out_an_empty_comment(simulator, adapter):
    adapter.book(request(comment=""))

    assert "description" not in simulator.requests[-1].json


@pytest.mark.parametrize(
    ("canonical", "sent"),
    [("unconfirmed", "pending"), ("confirmed", "approved"), ("arrived", "approved")],
)
def test_book_sends_the_status_the_seed_revision_requires(simulator, adapter, canonical, sent):
    appointment = adapter.book(request(status=canonical))

    assert simulator.requests[-1].json["status"] == sent
    assert appointment.vendor_status == sent


def test_book_sends_scheduled_at_in_utc_whatever_the_location_zone(simulator, adapter):
    start = datetime.datetime(2031, 3, 4, 13, 30, tzinfo=datetime.UTC)
    adapter.book(
        request(start=start, end=start + datetime.timedelta(minutes=30), time_zone="Asia/Tokyo")
    )

    assert simulator.requests[-1].json["scheduled_at"] == "2031-03-04T13:30:00Z"


# -- status table ----------------------------------------------------------------------


@pytest.mark.parametrize(("vendor_status", "canonical"), sorted(STATUSES.items()))
def test_lookup_maps_every_flextell_status(simulator, adapter, vendor_status, canonical):
    booked = adapter.book(request())
    simulator.appointments[int(booked.external_id)]["status"] = vendor_status

    appointment = adapter.lookup(booked.external_id)

    assert simulator.requests[-1].path == f"{CREATE_PATH}/{booked.external_id}"
    assert (appointment.vendor_status, appointment.status) == (vendor_status, canonical)


# -- cancel, find, reference, check ------------------------------------------------------


def test_cancel_patches_status_and_reason(simulator, adapter):
    booked = adapter.book(request())

    appointment = adapter.cancel(booked.external_id, request(), reason="Patient is travelling")

    sent = simulator.requests[-1]
    assert (sent.method, sent.path) == ("PATCH", f"{CREATE_PATH}/{booked.external_id}")
    assert sent.json == {"status": "cancelled", "cancellation_reason": "Patient is travelling"}
    assert (appointment.vendor_status, appointment.status) == ("cancelled", "cancelled")


def test_cancel_without_reason_sends_only_the_status(simulator, adapter):
    booked = adapter.book(request())

    adapter.cancel(booked.external_id, request())

    assert simulator.requests[-1].json == {"status": "cancelled"}


def test_find_returns_what_an_unanswered_attempt_created(simulator, adapter):
    # 15:00 UTC is noon in Santiago: the local and the UTC date are one.
    booking = request(hours_ahead=48 - datetime.datetime.now(datetime.UTC).hour + 15)
    simulator.inject("timeout_after", path=CREATE_PATH)
    with pytest.raises(OutcomeUnknown):
        adapter.book(booking)

    found = adapter.find(booking)

    assert found is not None
    assert (found.external_id, found.status) == ("101", "unconfirmed")
    sent = simulator.requests[-1]
    day = booking.start.date()
    assert (sent.method, sent.path) == ("GET", CREATE_PATH)
    assert sent.query == {
        "customer_id": "31",
        "user_id": "11",
        "from": day.isoformat(),
        "to": (day + datetime.timedelta(days=1)).isoformat(),
        "page": "1",
        "per_page": "100",
    }


@pytest.mark.parametrize(
    "other",
    [
        {"hours_ahead": 49},
        {"refs": {"patient": "32", "practitioner": "11", "appointment_type": "41"}},
    ],
    ids=["other-time", "other-patient"],
)
def test_find_ignores_other_appointments(adapter, other):
    adapter.book(request())

    assert adapter.find(request(**other)) is None


def test_find_asks_for_the_tenant_s_local_day(simulator, adapter):
    simulator.time_zone = "America/Santiago"
    santiago = zoneinfo.ZoneInfo("America/Santiago")
    local_day = datetime.date.today() + datetime.timedelta(days=3)
    start = datetime.datetime.combine(local_day, datetime.time(22, 30), santiago)
    booking = request(start=start, end=start + datetime.timedelta(minutes=30))
    assert start.astimezone(datetime.UTC).date() == local_day + datetime.timedelta(days=1)
    booked = adapter.book(booking)

    found = adapter.find(booking)

    assert found is not None and found.external_id == booked.external_id
    sent = simulator.requests[-1].query
    assert (sent["from"], sent["to"]) == (
        local_day.isoformat(),
        (local_day + datetime.timedelta(days=2)).isoformat(),
    )


@pytest.fixture
def patient_adapter(simulator) -> FlextellAdapter:
    """Reading eleven pages of a thousand appointments, or searching every customer, may take
    longer than the scenario's half-second read timeout on a busy machine: what is tested is
    the paging and the search, not the clock."""
    return FlextellAdapter(dataclasses.replace(settings(simulator.url), read_timeout=5.0))


def test_find_reads_every_page_of_a_tenant_with_over_a_thousand_appointments(
    simulator, patient_adapter
):
    adapter = patient_adapter
    simulator.honours_filters = False
    simulator.prefill(1050, start=datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC))
    booking = request()
    booked = adapter.book(booking)

    found = adapter.find(booking)

    assert found is not None and found.external_id == booked.external_id
    pages = [r.query["page"] for r in api_calls(simulator) if r.method == "GET"]
    assert pages == [str(page) for page in range(1, 12)]


def test_a_look_up_that_cannot_finish_never_answers_not_there(
    simulator, patient_adapter, monkeypatch
):
    adapter = patient_adapter
    monkeypatch.setattr(flextell_adapter, "LOOKUP_PAGES", 10)
    simulator.honours_filters = False
    simulator.prefill(1050, start=datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.UTC))
    booking = request()
    adapter.book(booking)

    with pytest.raises(LookupIncomplete) as error:
        adapter.find(booking)

    assert (error.value.retryable, error.value.outcome_unknown) == (False, True)
    assert str(error.value) == (
        "Flextell lists more appointments for that day than we could read (10 pages), so we "
        "cannot tell whether an earlier attempt booked this: check Flextell, then retry here "
        "only if it is not there."
    )


def test_find_ignores_a_cancelled_attempt(adapter):
    booked = adapter.book(request())
    adapter.cancel(booked.external_id, request())

    assert adapter.find(request()) is None


@pytest.mark.parametrize(
    ("kind", "path", "first"),
    [
        (
            "practitioners",
            "/api/v1/users",
            {"id": "11", "name": "Dr. Ana Rojas", "roles": ["doctor"]},
        ),
        ("rooms", "/api/v1/rooms", {"id": "21", "name": "Room 1", "status": "active"}),
        (
            "appointment_types",
            "/api/v1/treatments",
            {"id": "41", "name": "Consultation", "practitioners": ["11", "12"]},
        ),
        ("patients", "/api/v1/customers", {"id": "31", "name": "Lucía Pérez"}),
    ],
)
def test_reference_lists(simulator, patient_adapter, kind, path, first):
    found = patient_adapter.reference(kind)

    assert found[0] == first
    assert simulator.requests[-1].path == path


def test_reference_patients_searches_by_text(simulator, patient_adapter):
    found = patient_adapter.reference("patients", search="muñoz")

    assert found == [{"id": "32", "name": "Tomás Muñoz"}]
    assert simulator.requests[-1].query["search"] == "muñoz"


def test_reference_of_an_unknown_kind_is_not_supported(adapter):
    with pytest.raises(NotSupported):
        adapter.reference("specialties")


def test_check_reads_the_rooms(simulator, adapter):
    assert adapter.check() == "Flextell tenant 7 answered with 3 rooms."
    assert simulator.requests[-1].path == "/api/v1/rooms"


# -- OAuth -------------------------------------------------------------------------------


def test_token_exchange_sends_the_refresh_token_grant(simulator, adapter):
    adapter.check()

    (sent,) = token_calls(simulator)
    assert sent.method == "POST"
    assert sent.header("Content-Type") == "application/x-www-form-urlencoded"
    assert sent.form == {
        "grant_type": "refresh_token",
        "refresh_token": flextell_simulator.INITIAL_REFRESH_TOKEN,
        "client_id": flextell_simulator.CLIENT_ID,
        "client_secret": flextell_simulator.CLIENT_SECRET,
    }


def test_token_url_option_overrides_the_default(simulator):
    adapter = FlextellAdapter(settings(simulator.url, token_url=f"{simulator.url}/elsewhere"))

    with pytest.raises(ConfigurationError, match="token_url"):
        adapter.check()

    assert simulator.requests[0].path == "/elsewhere"


def test_access_token_is_cached_and_reused(simulator, adapter):
    adapter.book(request())
    adapter.book(request(hours_ahead=50))
    adapter.check()

    assert simulator.exchanges == 1
    assert len({r.header("Authorization") for r in api_calls(simulator)}) == 1


def test_access_token_is_cached_in_the_store_across_adapters(simulator, adapter):
    adapter.check()

    FlextellAdapter(settings(simulator.url), store=adapter.store).check()

    assert simulator.exchanges == 1


def test_expired_access_token_is_exchanged_with_the_rotated_refresh_token(simulator, adapter):
    adapter.check()
    rotated, _ = adapter.store.get("refresh_token")
    adapter.store.put("access_token", "old", datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC))

    adapter.check()

    assert rotated != flextell_simulator.INITIAL_REFRESH_TOKEN
    assert [r.form["refresh_token"] for r in token_calls(simulator)] == [
        flextell_simulator.INITIAL_REFRESH_TOKEN,
        rotated,
    ]
    assert adapter.store.get("refresh_token")[0] not in (
        rotated,
        flextell_simulator.INITIAL_REFRESH_TOKEN,
    )


def test_a_new_refresh_token_in_the_environment_wins_over_the_stored_one(
    simulator, adapter, monkeypatch
):
    adapter.check()
    monkeypatch.setenv("PMS_FLEXTELL_TEST_REFRESH_TOKEN", "flextell-sim-rt-new-consent")
    adapter.store.put("access_token", "", None)

    adapter.check()

    assert token_calls(simulator)[-1].form["refresh_token"] == "flextell-sim-rt-new-consent"


def test_a_401_drops_the_token_and_exchanges_once(simulator, adapter):
    booked = adapter.book(request())
    simulator.revoke_access_tokens()

    assert adapter.lookup(booked.external_id).external_id == booked.external_id
    assert simulator.exchanges == 2
    assert [(r.method, r.path) for r in simulator.requests[-3:]] == [
        ("GET", f"{CREATE_PATH}/101"),
        ("POST", TOKEN_PATH),
        ("GET", f"{CREATE_PATH}/101"),
    ]


def test_a_second_401_is_an_authentication_failure(simulator, adapter, monkeypatch):
    monkeypatch.setattr(flextell_simulator, "TOKEN_LIFETIME", -1)  # every token born expired

    with pytest.raises(AuthenticationFailed) as caught:
        adapter.check()

    assert caught.value.vendor_message == "The access token is invalid or has expired."
    assert simulator.exchanges == 2


@pytest.mark.parametrize(
    ("variable", "value", "vendor_message"),
    [
        (
            "PMS_FLEXTELL_TEST_REFRESH_TOKEN",
            "revoked-or-typo",
            "The refresh token is invalid or was revoked.",
        ),
        ("PMS_FLEXTELL_TEST_CLIENT_SECRET", "wrong", "Client authentication failed."),
    ],
)
def test_a_refused_token_exchange_asks_for_a_new_consent(
    adapter, monkeypatch, variable, value, vendor_message
):
    monkeypatch.setenv(variable, value)

    with pytest.raises(AuthenticationFailed) as caught:
        adapter.book(request())

    assert "connect Flextell again" in caught.value.message
    assert caught.value.vendor_message == vendor_message


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second",
    [
        {"refs": {"patient": "32", "practitioner": "11", "appointment_type": "41"}},
        {"refs": {"patient": "32", "practitioner": "12", "appointment_type": "41", "room": "21"}},
    ],
    ids=["same-doctor", "same-room"],
)
def test_a_taken_slot_is_slot_unavailable(adapter, second):
    adapter.book(request())

    with pytest.raises(SlotUnavailable) as caught:
        adapter.book(request(key="k2", **second))

    assert caught.value.status == 409
    assert caught.value.vendor_message.startswith("The selected time is no longer available")


@pytest.mark.parametrize(
    ("fault", "error_class", "vendor_message"),
    [
        ("429", RateLimited, "Too many requests."),
        ("503", VendorUnavailable, "The service is temporarily unavailable."),
        ("500", OutcomeUnknown, "An unexpected error occurred."),
    ],
)
def test_documented_error_bodies_map_to_typed_errors(
    simulator, adapter, fault, error_class, vendor_message
):
    simulator.inject(fault, path=CREATE_PATH)

    with pytest.raises(error_class) as caught:
        adapter.book(request())

    assert caught.value.vendor_message == vendor_message
    if fault == "429":
        assert caught.value.retry_after == 1.0


def test_a_validation_error_carries_flextell_s_message(adapter):
    with pytest.raises(VendorValidationError) as caught:
        adapter.book(
            request(refs={"patient": "31", "practitioner": "11", "appointment_type": "999"})
        )

    assert caught.value.status == 422
    assert caught.value.vendor_message == "The selected treatments is invalid."


def test_a_state_conflict_is_not_a_taken_slot(simulator, adapter):
    booked = adapter.book(request())
    simulator.appointments[101]["status"] = "completed"

    with pytest.raises(VendorValidationError) as caught:
        adapter.cancel(booked.external_id, request())

    assert caught.value.status == 409
    assert caught.value.vendor_message == "A completed appointment cannot be cancelled."


def test_an_unknown_appointment_is_not_found(adapter):
    with pytest.raises(NotFound):
        adapter.lookup("999")


def test_a_tenant_we_may_not_use_is_an_authentication_failure(simulator):
    adapter = FlextellAdapter(settings(simulator.url, tenant="8"))

    with pytest.raises(AuthenticationFailed) as caught:
        adapter.check()

    assert caught.value.vendor_message == "You do not have access to this tenant."


@pytest.mark.parametrize(
    ("refs", "options", "message"),
    [
        (
            {"patient": "31", "practitioner": "11"},
            {},
            "The appointment type of this appointment has no Flextell ID: map it to its "
            "Flextell treatment in the admin (External IDs).",
        ),
        (
            {"practitioner": "11", "appointment_type": "41"},
            {},
            "The patient of this appointment has no Flextell ID: map it to its Flextell "
            "customer in the admin (External IDs).",
        ),
        (
            {"patient": "31", "appointment_type": "41"},
            {},
            "The practitioner of this appointment has no Flextell ID: map it to its Flextell "
            "user (doctor) in the admin (External IDs).",
        ),
        (
            {"patient": "31", "practitioner": "dr-rojas", "appointment_type": "41"},
            {},
            "Flextell IDs of the practitioner are whole numbers; “dr-rojas” is not one. Fix it "
            "in the admin (External IDs).",
        ),
        (
            {"patient": "31", "practitioner": "11", "appointment_type": "41"},
            {"tenant": ""},
            "The flextell connection needs the option “tenant”; set it in the admin.",
        ),
    ],
)
def test_missing_mappings_and_options_are_refused_before_any_call(
    simulator, refs, options, message
):
    adapter = FlextellAdapter(settings(simulator.url, **options))

    with pytest.raises(ConfigurationError) as refused:
        adapter.book(request(refs=refs))

    assert str(refused.value) == message
    assert simulator.requests == []


def test_a_missing_secret_is_refused_before_any_call(simulator, adapter, monkeypatch):
    monkeypatch.delenv("PMS_FLEXTELL_TEST_CLIENT_SECRET")

    with pytest.raises(ConfigurationError, match="PMS_FLEXTELL_TEST_CLIENT_SECRET"):
        adapter.book(request())

    assert simulator.requests == []


# -- the simulator keeps the adapter honest ---------------------------------------------


def _body(**changes):
    body = {
        "customer_id": 31,
        "user_id": 11,
        "scheduled_at": "2031-01-01T10:00:00Z",
        "status": "pending",
        "treatments": [41],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


@pytest.fixture
def token(simulator, adapter):
    adapter.check()
    (access_token,) = simulator.access_tokens
    return access_token


@pytest.mark.parametrize(
    ("headers", "status", "error"),
    [
        ({}, 401, "invalid_token"),
        ({"Authorization": "Bearer forged"}, 401, "invalid_token"),
        ({"Authorization": "Bearer {token}"}, 400, "tenant_required"),
        ({"Authorization": "Bearer {token}", "X-Tenant": "9"}, 403, "forbidden"),
    ],
)
def test_simulator_refuses_bad_auth(simulator, token, headers, status, error):
    headers = {name: value.format(token=token) for name, value in headers.items()}

    answer = requests.post(
        f"{simulator.url}{CREATE_PATH}", json=_body(), headers=headers, timeout=2
    )

    assert answer.status_code == status
    assert answer.json()["error"] == error


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"customer_id": ...}, "The customer id field is required."),
        ({"user_id": "11"}, "The user id must be an integer."),
        ({"scheduled_at": "2031-01-01 10:00"}, "The scheduled at must be a valid date-time"),
        ({"scheduled_at": "2031-01-01T10:00:00"}, "The scheduled at must be a valid date-time"),
        ({"status": ...}, "The status field is required."),
        ({"status": "booked"}, "The selected status is invalid."),
        ({"treatments": []}, "The treatments field is required and must have at least 1 item."),
        ({"room_id": 99}, "The selected room id is invalid."),
        ({"description": "x" * 1001}, "The description may not be greater than 1000"),
    ],
)
def test_simulator_refuses_missing_and_ill_typed_fields(simulator, token, changes, message):
    answer = requests.post(
        f"{simulator.url}{CREATE_PATH}",
        json=_body(**changes),
        headers={"Authorization": f"Bearer {token}", "X-Tenant": "7"},
        timeout=2,
    )

    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_error"
    assert answer.json()["message"].startswith(message)


def test_simulator_reuse_of_a_rotated_refresh_token_is_refused(simulator, adapter):
    adapter.check()

    answer = requests.post(
        f"{simulator.url}{TOKEN_PATH}",
        data={
            "grant_type": "refresh_token",
            "refresh_token": flextell_simulator.INITIAL_REFRESH_TOKEN,
            "client_id": flextell_simulator.CLIENT_ID,
            "client_secret": flextell_simulator.CLIENT_SECRET,
        },
        timeout=2,
    )

    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


# -- redaction ---------------------------------------------------------------------------


def test_exchanges_keep_patient_data_and_secrets_out(simulator, adapter):
    booking = request(comment="Lucía Pérez prefers mornings")
    booked = adapter.book(booking)
    adapter.find(booking)
    adapter.cancel(booked.external_id, booking, reason="Lucía is travelling")
    adapter.reference("patients", search="Pérez")

    logged = repr(adapter.exchanges) + repr([e.url for e in adapter.exchanges])
    customer = CUSTOMERS[0]
    secrets = [
        *ENVIRONMENT.values(),
        *simulator.access_tokens,
        adapter.store.get("refresh_token")[0],
    ]
    for value in [*(str(customer[k]) for k in customer if k != "id"), "Lucía", *secrets]:
        assert value not in logged
    queries = [urllib.parse.urlsplit(e.url).query for e in adapter.exchanges]
    assert queries[2].startswith("customer_id=31&user_id=11&from=")
    assert queries[-1] == "search=***&page=1&per_page=100"


def test_recorded_urls_keep_their_query_with_secret_parameters_redacted(adapter):
    adapter.call("GET", "v1/rooms", params={"location_id": 7, "signature": "s3cr3t"})

    assert adapter.exchanges[-1].url.endswith("/api/v1/rooms?location_id=7&signature=***")
