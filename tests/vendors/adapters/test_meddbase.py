"""Meddbase contract: the documented requests and envelopes, over real sockets to the simulator."""

import datetime
import json
import re
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.meddbase import CONSULTATION, ENVIRONMENT, request, settings
from vendors.adapters.meddbase import STATES, MeddbaseAdapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.simulators import meddbase as meddbase_simulator
from vendors.simulators.meddbase import PATIENTS

API = "/patientportalapi"
LOGIN_PATH = f"{API}/auth/login"
BOOK_PATH = f"{API}/appointment/book-time-slot"
KEY = meddbase_simulator.CLIENT_KEY
LONDON = zoneinfo.ZoneInfo("Europe/London")
NO_SLOT = "No appropriate time slot can be found for the proposed time slot."


VENDOR = "meddbase"


@pytest.fixture(params=[True, False], ids=["http-status", "inside-200"])
def error_style(request, simulator):
    """Run a test with errors as HTTP statuses and as error envelopes inside a 200."""
    simulator.http_errors = request.param
    return request.param


def session_of(simulator):
    ((session, token),) = simulator.sessions.items()
    return session, token


# -- book ------------------------------------------------------------------------------


def test_book_logs_in_then_books_the_proposed_slot(simulator, adapter):
    booking = request()

    appointment = adapter.book(booking)

    login, book = simulator.requests
    assert (login.method, login.path, login.query) == ("POST", LOGIN_PATH, {"client-key": KEY})
    assert login.json == {
        "username": meddbase_simulator.USERNAME,
        "password": meddbase_simulator.PASSWORD,
    }
    session, token = session_of(simulator)
    assert (book.method, book.path) == ("POST", BOOK_PATH)
    assert book.query == {"client-key": KEY, "patient": "pat1001"}
    assert (book.header("x-session-id"), book.header("x-token")) == (session, token)
    assert book.json == {
        "proposedTimeSlot": {
            "Type": {"Key": CONSULTATION},
            "Start": booking.start.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M:%S"),
            "Site": {"Key": 1123},
            "Location": {"Key": 214},
            "Modules": [],
            "Services": [],
            "PayerType": "PA",
        },
        "clinician": 84,
        "method": 0,
    }
    assert appointment.external_id == "apt58462"
    assert (appointment.vendor_status, appointment.status) == ("Booked", "unconfirmed")
    assert appointment.details == {
        "start": booking.local_start.strftime("%Y-%m-%dT%H:%M:%S"),
        "finish": (booking.local_start + datetime.timedelta(minutes=30)).strftime(
            "%Y-%m-%dT%H:%M:%S"
        ),
        "state": "Booked",
        "clinician": 84,
        "telemedicine": False,
        "invoice": {
            "key": "inv58462",
            "number": 58462,
            "currency": "GBP",
            "total_gross": 100,
            "paid": 0,
        },
    }


def test_book_sends_the_options_and_referral(simulator):
    adapter = MeddbaseAdapter(
        settings(
            simulator.url,
            payer_type="IN",
            modules=[10382],
            method=0,
            price=160,
            recall="rc9",
        )
    )

    adapter.book(request(refs={**request().refs, "referral": "ref7"}))

    sent = simulator.requests[-1]
    assert sent.query == {
        "client-key": KEY,
        "patient": "pat1001",
        "referral": "ref7",
        "recall": "rc9",
    }
    assert sent.json["proposedTimeSlot"]["Modules"] == [{"Key": 10382}]
    assert sent.json["proposedTimeSlot"]["PayerType"] == "IN"
    assert sent.json["price"] == 160


def test_book_without_a_room_lets_meddbase_choose_the_location(simulator, adapter):
    refs = {key: value for key, value in request().refs.items() if key != "room"}

    appointment = adapter.book(request(refs=refs))

    assert "Location" not in simulator.requests[-1].json["proposedTimeSlot"]
    assert appointment.external_id


def _site_time(time_zone: str, wall: str) -> datetime.datetime:
    """A site's wall-clock time as the aware UTC instant a booking holds."""
    moment = datetime.datetime.fromisoformat(wall).replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
    return moment.astimezone(datetime.UTC)


@pytest.mark.parametrize(
    ("time_zone", "wall", "sent"),
    [
        ("Europe/London", "2031-07-01T09:30", "2031-07-01T09:30:00"),
        ("Europe/London", "2031-01-06T08:30", "2031-01-06T08:30:00"),
        # Paris and London change on the same instants (last Sundays of March and October).
        ("Europe/Paris", "2027-03-26T10:00", "2027-03-26T09:00:00"),
        ("Europe/Paris", "2027-03-29T10:00", "2027-03-29T09:00:00"),
        ("Europe/Paris", "2027-10-29T10:00", "2027-10-29T09:00:00"),
        ("Europe/Paris", "2027-11-01T10:00", "2027-11-01T09:00:00"),
        # Santiago: UTC-3 in its summer, UTC-4 from 4 April to 5 September 2027.
        ("America/Santiago", "2027-03-26T10:00", "2027-03-26T13:00:00"),
        ("America/Santiago", "2027-03-29T10:00", "2027-03-29T14:00:00"),
        ("America/Santiago", "2027-04-02T10:00", "2027-04-02T14:00:00"),
        ("America/Santiago", "2027-04-05T10:00", "2027-04-05T15:00:00"),
        ("America/Santiago", "2027-09-03T10:00", "2027-09-03T15:00:00"),
        ("America/Santiago", "2027-09-06T10:00", "2027-09-06T14:00:00"),
        ("America/Santiago", "2027-10-29T10:00", "2027-10-29T14:00:00"),
        ("America/Santiago", "2027-11-01T10:00", "2027-11-01T13:00:00"),
        # London's repeated hour (01:00-01:59 twice on 31 October): the offset says which.
        ("America/Santiago", "2027-10-30T21:30", "2027-10-31T01:30:00+01:00"),
        ("America/Santiago", "2027-10-30T22:30", "2027-10-31T01:30:00+00:00"),
    ],
)
def test_book_sends_the_instant_as_london_time(simulator, adapter, time_zone, wall, sent):
    start = _site_time(time_zone, wall)
    booking = request(start=start, end=start + datetime.timedelta(minutes=30), time_zone=time_zone)

    appointment = adapter.book(booking)

    assert simulator.requests[-1].json["proposedTimeSlot"]["Start"] == sent
    # The instant Meddbase understood (read as London time) is the appointment's instant.
    assert simulator.booked[appointment.external_id]["Start"].astimezone(datetime.UTC) == start
    assert appointment.details["start"] == sent[:19]
    assert adapter.find(booking).external_id == appointment.external_id


def test_a_site_outside_the_uk_is_found_at_its_own_instant_only(adapter):
    start = _site_time("America/Santiago", "2027-04-05T10:00")
    booking = request(start=start, end=start + datetime.timedelta(minutes=30),
                      time_zone="America/Santiago")  # fmt: skip
    adapter.book(booking)
    # The same wall-clock time in London, five hours earlier, is another appointment.
    elsewhere = _site_time("Europe/London", "2027-04-05T10:00")

    assert adapter.find(request(start=elsewhere, end=elsewhere)) is None


# -- states ------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "canonical"), sorted(STATES.items()))
def test_find_maps_every_meddbase_state(simulator, adapter, state, canonical):
    booked = adapter.book(request())
    simulator.set_state(booked.external_id, state)

    found = adapter.find(request())

    if state == "Cancelled":
        assert found is None  # a cancelled attempt is not the appointment to keep
    else:
        assert (found.vendor_status, found.status) == (state, canonical)


# -- session -----------------------------------------------------------------------------


def test_session_is_kept_and_reused(simulator, adapter):
    booked = adapter.book(request())
    adapter.find(request())
    MeddbaseAdapter(settings(simulator.url), store=adapter.store).cancel(
        booked.external_id, request()
    )

    assert simulator.logins == 1
    stored, _ = adapter.store.get("session")
    assert json.loads(stored) == dict(
        zip(("SessionID", "Token"), session_of(simulator), strict=True)
    )


@pytest.mark.parametrize("cause", ["expired", "bad-token"])
def test_a_lost_session_is_renewed_once(simulator, adapter, error_style, cause):
    adapter.book(request())
    if cause == "expired":
        simulator.expire_sessions()
    else:
        session, _ = session_of(simulator)
        adapter.store.put("session", json.dumps({"SessionID": session, "Token": "stale"}))

    assert adapter.find(request()) is not None
    assert simulator.logins == 2
    assert [r.path for r in simulator.requests[-3:]] == [
        f"{API}/appointment/appointments",
        LOGIN_PATH,
        f"{API}/appointment/appointments",
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PMS_MEDDBASE_TEST_CLIENT_KEY", "wrong", "Meddbase refused the client key"),
        ("PMS_MEDDBASE_TEST_PASSWORD", "wrong", "refused the service user's username or password"),
    ],
)
def test_refused_credentials_are_not_retried(
    simulator, adapter, error_style, monkeypatch, variable, value, message
):
    monkeypatch.setenv(variable, value)

    with pytest.raises(AuthenticationFailed, match=re.escape(message)):
        adapter.book(request())

    assert [r.path for r in simulator.requests] == [LOGIN_PATH]
    assert adapter.exchanges[-1].error == "AuthenticationFailed"


def test_check_logs_in_afresh_and_reads_payer_types(simulator, adapter):
    adapter.book(request())

    assert adapter.check() == (
        "Meddbase accepted the client key and service user; payer types: PA, IN."
    )
    assert simulator.logins == 2
    assert simulator.requests[-1].path == f"{API}/appointment/payer-types"


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second",
    [{"patient": "pat1002"}, {"patient": "pat1002", "practitioner": "85"}],
    ids=["same-clinician", "same-room"],
)
def test_a_taken_slot_is_slot_unavailable(adapter, error_style, second):
    adapter.book(request())

    with pytest.raises(SlotUnavailable) as caught:
        adapter.book(request(key="k2", refs={**request().refs, **second}))

    assert caught.value.status == 424
    assert caught.value.vendor_message == NO_SLOT
    assert adapter.exchanges[-1].status == (424 if error_style else 200)


@pytest.mark.parametrize(
    ("fault", "error_class", "vendor_message"),
    [
        (
            "503",
            VendorUnavailable,
            "Application is starting. Please wait and send the request later.",
        ),
        ("500", OutcomeUnknown, "Internal server error."),
    ],
)
def test_fault_envelopes_map_to_typed_errors(
    simulator, adapter, error_style, fault, error_class, vendor_message
):
    simulator.inject(fault, path=BOOK_PATH)

    with pytest.raises(error_class) as caught:
        adapter.book(request())

    assert caught.value.vendor_message == vendor_message


def test_rate_limiting_honours_retry_after(simulator, adapter):
    simulator.inject("429", path=BOOK_PATH)

    with pytest.raises(RateLimited) as caught:
        adapter.book(request())

    assert (caught.value.retry_after, caught.value.vendor_message) == (1.0, "Too many requests.")


@pytest.mark.parametrize(
    ("options", "refs", "error_class", "vendor_message"),
    [
        (
            {"modules": [999]},
            {},
            VendorValidationError,
            "Module is not available for this appointment type.",
        ),
        ({}, {"patient": "pat404"}, NotFound, "Patient not found."),
        ({}, {"location": "1124"}, NotFound, "Location not found at this site."),
        ({"price": 99}, {}, SlotUnavailable, NO_SLOT),
    ],
    ids=["bad-module", "unknown-patient", "room-of-another-site", "other-price"],
)
def test_refusals_carry_meddbase_s_message(
    simulator, error_style, options, refs, error_class, vendor_message
):
    adapter = MeddbaseAdapter(settings(simulator.url, **options))

    with pytest.raises(error_class) as caught:
        adapter.book(request(refs={**request().refs, **refs}))

    assert caught.value.vendor_message == vendor_message
    assert adapter.exchanges[-1].error == error_class.__name__


@pytest.mark.parametrize(
    ("refs", "options", "message"),
    [
        (
            {"practitioner": "84", "location": "1123", "appointment_type": CONSULTATION},
            {},
            "The patient of this appointment has no Meddbase ID: map it to its Meddbase "
            "patient key in the admin (External IDs).",
        ),
        (
            {"patient": "pat1001", "location": "1123", "appointment_type": CONSULTATION},
            {},
            "The practitioner of this appointment has no Meddbase ID: map it to its Meddbase "
            "clinician (0 = any clinician) in the admin (External IDs).",
        ),
        (
            {"patient": "pat1001", "practitioner": "84", "appointment_type": CONSULTATION},
            {},
            "The location of this appointment has no Meddbase ID: map it to its Meddbase site "
            "in the admin (External IDs).",
        ),
        (
            {"patient": "pat1001", "practitioner": "84", "location": "1123"},
            {},
            "The appointment type of this appointment has no Meddbase ID: map it to its "
            "Meddbase appointment type in the admin (External IDs).",
        ),
        (
            {
                "patient": "pat1001",
                "practitioner": "Dr House",
                "location": "1123",
                "appointment_type": CONSULTATION,
            },
            {},
            "Meddbase IDs of the practitioner are whole numbers; “Dr House” is not one. Fix it "
            "in the admin (External IDs).",
        ),
        (None, {"modules": "10382, short"}, "The Meddbase option “modules” must list"),
        (
            None,
            {"method": "random"},
            "The meddbase connection's option “method” takes whole numbers, not “random”; fix "
            "it in the admin.",
        ),
    ],
)
def test_missing_mappings_and_options_are_refused_before_any_call(
    simulator, refs, options, message
):
    adapter = MeddbaseAdapter(settings(simulator.url, **options))

    with pytest.raises(ConfigurationError, match=re.escape(message)):
        adapter.book(request(refs=refs or request().refs))

    assert simulator.requests == []


def test_a_missing_secret_is_refused_before_any_call(simulator, adapter, monkeypatch):
    monkeypatch.delenv("PMS_MEDDBASE_TEST_CLIENT_KEY")

    with pytest.raises(ConfigurationError, match="PMS_MEDDBASE_TEST_CLIENT_KEY"):
        adapter.book(request())

    assert simulator.requests == []


# -- cancel, find, reference -------------------------------------------------------------


def test_cancel_calls_the_documented_get(simulator, adapter):
    booked = adapter.book(request())

    appointment = adapter.cancel(booked.external_id, request(), reason="Travelling")

    sent = simulator.requests[-1]
    assert (sent.method, sent.path) == ("GET", f"{API}/appointment/cancel")
    assert sent.query == {"client-key": KEY, "appointment": booked.external_id}
    assert appointment == type(appointment)(
        external_id=booked.external_id, vendor_status="Cancelled", status="cancelled"
    )


def test_cancel_keeps_the_cancellation_fee(adapter):
    booked = adapter.book(request(hours_ahead=3))

    appointment = adapter.cancel(booked.external_id, request(hours_ahead=3))

    assert appointment.details["cancellation_invoice"]["total_gross"] == 50


def test_find_returns_what_an_unanswered_attempt_created(simulator, adapter):
    booking = request()
    simulator.inject("timeout_after", path=BOOK_PATH)
    with pytest.raises(OutcomeUnknown):
        adapter.book(booking)

    found = adapter.find(booking)

    assert (found.external_id, found.status) == ("apt58462", "unconfirmed")
    sent = simulator.requests[-1]
    day = booking.local_start.replace(hour=0)
    assert (sent.method, sent.path) == ("GET", f"{API}/appointment/appointments")
    assert sent.query == {
        "client-key": KEY,
        "patient": "pat1001",
        "start-from": (day - datetime.timedelta(days=1)).isoformat(),
        "start-to": (day + datetime.timedelta(days=2)).isoformat(),
        "page-number": "1",
        "page-size": "50",
    }


@pytest.mark.parametrize(
    "other",
    [{"hours_ahead": 49}, {"refs": {**request().refs, "practitioner": "85"}}],
    ids=["other-time", "other-clinician"],
)
def test_find_ignores_other_appointments(adapter, other):
    adapter.book(request())

    assert adapter.find(request(**other)) is None


def test_lookup_of_one_appointment_is_not_offered(adapter):
    with pytest.raises(NotSupported):
        adapter.lookup("apt58462")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("payer_types", [{"id": "PA", "name": "Patient"}, {"id": "IN", "name": "Insurer"}]),
        (
            "locations",
            [
                {"id": "1123", "name": "2CP (Eye Room)"},
                {"id": "1124", "name": "Harley Street"},
                {"id": "1125", "name": "Providencia"},
            ],
        ),
        (
            "rooms",
            [
                {"id": "214", "name": "Room 1", "location": "1123"},
                {"id": "45", "name": "Surgery", "location": "1123"},
                {"id": "300", "name": "Room A", "location": "1124"},
                {"id": "400", "name": "Box 1", "location": "1125"},
            ],
        ),
        (
            "practitioners",
            [
                {"id": "84", "name": "Dr. Gregory House"},
                {"id": "85", "name": "Dr. Lisa Cuddy"},
                {"id": "86", "name": "Dr. Camila Rojas"},
            ],
        ),
    ],
)
def test_reference_lists(adapter, kind, expected):
    assert adapter.reference(kind) == expected


def test_reference_appointment_types(simulator, adapter):
    found = adapter.reference("appointment_types")

    assert found[0] == {
        "id": CONSULTATION,
        "name": "Consultation",
        "telemedicine": False,
        "modules": [{"id": "10382", "name": "Short Consult"}],
    }
    assert simulator.requests[-1].query == {"client-key": KEY, "payer-type": "PA"}


def test_reference_sites_are_asked_per_appointment_type(simulator, adapter):
    adapter.reference("locations")

    asked = [r for r in simulator.requests if r.path == f"{API}/appointment/sites"]
    assert [(r.method, r.query["appointment-type"], r.query["payer-type"]) for r in asked] == [
        ("POST", "00000000fc0af8e9", "PA"),
        ("POST", "00000000fc0af8ea", "PA"),
        ("POST", "00000000fc0af8eb", "PA"),
    ]
    assert asked[0].json == {"clinicians": [], "modules": []}


# -- the simulator keeps the adapter honest ---------------------------------------------


@pytest.fixture
def session(simulator, adapter):
    adapter.check()
    return session_of(simulator)


def _slot(**changes):
    slot = {
        "Type": {"Key": CONSULTATION},
        "Start": "2031-01-06T09:30:00",
        "Site": {"Key": 1123},
        "Location": {"Key": 214},
        "Modules": [],
        "Services": [],
        "PayerType": "PA",
    }
    slot.update(changes)
    return {key: value for key, value in slot.items() if value is not ...}


@pytest.mark.parametrize(
    ("query", "headers", "code"),
    [
        ({}, {"x-session-id": "{session}", "x-token": "{token}"}, 3),
        ({"client-key": "wrong"}, {"x-session-id": "{session}", "x-token": "{token}"}, 4),
        ({"client-key": KEY}, {}, 8),
        ({"client-key": KEY}, {"x-session-id": "{session}", "x-token": "forged"}, 11),
    ],
)
def test_simulator_refuses_bad_client_key_and_session(simulator, session, query, headers, code):
    values = dict(zip(("session", "token"), session, strict=True))
    headers = {name: value.format(**values) for name, value in headers.items()}

    answer = requests.post(
        f"{simulator.url}{BOOK_PATH}",
        params={**query, "patient": "pat1001"},
        json={"proposedTimeSlot": _slot()},
        headers=headers,
        timeout=2,
    )

    assert answer.status_code == 401
    assert answer.json()["status"] == "error"
    assert answer.json()["error"]["EventCode"] == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, 7),
        ({"proposedTimeSlot": _slot(Type=...)}, 7),
        ({"proposedTimeSlot": _slot(Site={"Key": "1123"})}, 2),
        ({"proposedTimeSlot": _slot(Start="2031-01-06T09:30:00+0000")}, 2),
        ({"proposedTimeSlot": _slot(Start="06/01/2031 09:30")}, 2),
        ({"proposedTimeSlot": _slot(Modules=[10382])}, 2),
        ({"proposedTimeSlot": _slot(PayerType="XX")}, 2),
        ({"proposedTimeSlot": _slot(), "clinician": "84"}, 2),
    ],
    ids=[
        "no-slot",
        "no-type",
        "site-as-text",
        "start-with-a-malformed-offset",
        "start-not-iso",
        "modules-not-objects",
        "unknown-payer",
        "clinician-as-text",
    ],
)
def test_simulator_refuses_missing_and_ill_typed_fields(simulator, session, body, code):
    answer = requests.post(
        f"{simulator.url}{BOOK_PATH}",
        params={"client-key": KEY, "patient": "pat1001"},
        json=body,
        headers=dict(zip(("x-session-id", "x-token"), session, strict=True)),
        timeout=2,
    )

    assert answer.status_code == 400
    assert answer.json()["error"]["EventCode"] == code


def test_simulator_accepts_the_client_key_as_a_cookie(simulator):
    answer = requests.post(
        f"{simulator.url}{LOGIN_PATH}",
        json={"username": meddbase_simulator.USERNAME, "password": meddbase_simulator.PASSWORD},
        headers={"Cookie": f"Client-key={KEY}"},
        timeout=2,
    )

    assert answer.json()["status"] == "ok"


# -- redaction ---------------------------------------------------------------------------


def test_exchanges_keep_patient_data_and_secrets_out(simulator, adapter):
    booking = request(hours_ahead=3)
    booked = adapter.book(booking)
    adapter.find(booking)
    adapter.cancel(booked.external_id, booking)

    logged = repr(adapter.exchanges)
    patient = PATIENTS["pat1001"]
    secrets = [*ENVIRONMENT.values(), *session_of(simulator)]
    for value in [*(str(patient[k]) for k in patient if k not in ("Key", "Title")), *secrets]:
        assert value not in logged
