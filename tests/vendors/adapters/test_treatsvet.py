"""Treats.vet: the exact request the adapter sends and what it reads back, over real sockets
against the simulator; the simulator refuses what Treats.vet documents it refuses."""

import datetime
import itertools
import zoneinfo

import pytest
import requests

from tests.vendors.scenarios.treatsvet import (
    ANIMAL,
    CONSULTATION,
    KEY_VARIABLE,
    OWNER,
    VET,
    request,
    settings,
)
from vendors.adapters.treatsvet import TreatsVetAdapter
from vendors.errors import (
    AuthenticationFailed,
    ConfigurationError,
    NotFound,
    NotSupported,
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    VendorValidationError,
)
from vendors.simulators.base import Reply
from vendors.simulators.treatsvet import API_KEY, stable_id

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
# A year ahead whose 2 March (and so 6 July) is a Tuesday: Dr Martin works all day.
NEXT_YEAR = next(
    year
    for year in itertools.count(datetime.date.today().year + 1)
    if datetime.date(year, 3, 2).weekday() == 1
)
OTHER_OWNER = stable_id("client:Hugo Petit")
OTHER_ANIMAL = stable_id("patient:Noisette")  # Hugo Petit's rabbit
TAKEN = "This time slot is no longer available"


def local(month: int, day: int, hour: int, minute: int = 0) -> datetime.datetime:
    """A wall-clock time in Paris next year, as the aware UTC instant a booking holds."""
    moment = datetime.datetime(NEXT_YEAR, month, day, hour, minute, tzinfo=PARIS)
    return moment.astimezone(datetime.UTC)


def booking(start: datetime.datetime | None = None, minutes: int = 20, **changes):
    start = start or local(3, 2, 10)
    refs = {**request().refs, **changes.pop("refs", {})}
    end = start + datetime.timedelta(minutes=minutes)
    return request(start=start, end=end, refs=refs, **changes)


def another_animal(start: datetime.datetime):
    return booking(start, refs={"guardian": OTHER_OWNER, "patient": OTHER_ANIMAL})


VENDOR = "treatsvet"


def last_sent(simulator):
    sent = simulator.requests[-1]
    return sent.method, sent.path, sent.json


# -- book ---------------------------------------------------------------------------------


def test_book_sends_the_documented_appointment(adapter, simulator):
    adapter.book(booking(local(3, 2, 10)))

    sent = simulator.requests[-1]
    assert (sent.method, sent.path) == ("POST", "/api/v1/appointments")
    assert sent.header("X-API-Key") == API_KEY
    assert sent.json == {
        "clientId": OWNER,
        "patientId": ANIMAL,
        "vetId": VET,
        "appointmentTypeId": CONSULTATION,
        "scheduledAt": f"{NEXT_YEAR}-03-02T09:00:00Z",
        "reason": "Vaccination annuelle",
        "isUrgent": False,
    }


def test_book_reads_the_appointment_back(adapter, simulator):
    result = adapter.book(booking(local(3, 2, 10)))

    stored = simulator.appointments[result.external_id]
    assert (result.vendor_status, result.status, result.settled) == (
        "SCHEDULED",
        "unconfirmed",
        True,
    )
    assert result.details == {
        "clientId": OWNER,
        "patientId": ANIMAL,
        "vetId": VET,
        "appointmentTypeId": CONSULTATION,
        "scheduledAt": f"{NEXT_YEAR}-03-02T09:00:00Z",
        "endTime": f"{NEXT_YEAR}-03-02T09:20:00Z",
        "isUrgent": False,
        "status": "SCHEDULED",
        "displayStatus": "Planifié",
        "createdAt": stored["createdAt"],
    }


def test_summer_time_is_sent_in_utc(adapter, simulator):
    adapter.book(booking(local(7, 6, 10)))

    assert last_sent(simulator)[2]["scheduledAt"] == f"{NEXT_YEAR}-07-06T08:00:00Z"


def test_urgent_without_type_or_reason(adapter, simulator):
    refs = {role: ref for role, ref in request().refs.items() if role != "appointment_type"}

    result = adapter.book(request(start=local(3, 2, 10), urgent=True, comment="", refs=refs))

    body = last_sent(simulator)[2]
    assert body["isUrgent"] is True
    assert "appointmentTypeId" not in body
    assert "reason" not in body
    assert result.details["endTime"] == f"{NEXT_YEAR}-03-02T09:30:00Z"  # 30 minutes untyped


def test_ids_are_sent_as_canonical_uuids(adapter, simulator):
    adapter.book(booking(refs={"practitioner": VET.upper()}))

    assert last_sent(simulator)[2]["vetId"] == VET


# -- taken times ----------------------------------------------------------------------------


def test_a_taken_time_is_slot_unavailable_with_the_vets_next_free_starts(adapter, simulator):
    adapter.book(booking(local(3, 2, 10)))

    with pytest.raises(SlotUnavailable) as taken:
        adapter.book(another_animal(local(3, 2, 10, 10)))

    assert (taken.value.status, taken.value.vendor_message) == (409, TAKEN)
    assert taken.value.alternatives == [local(3, 2, 10, 20), local(3, 2, 10, 40), local(3, 2, 11)]
    asked = simulator.requests[-1]
    assert (asked.method, asked.path, asked.query) == (
        "GET",
        "/api/v1/appointments/available-slots",
        {"vetId": VET, "date": f"{NEXT_YEAR}-03-02", "appointmentTypeId": CONSULTATION},
    )
    assert len(simulator.appointments) == 1


def test_another_vet_may_take_the_same_time(adapter):
    adapter.book(booking(local(3, 2, 10)))

    other_vet = stable_id("vet:Thomas Moreau")
    refs = {"practitioner": other_vet, "patient": OTHER_ANIMAL, "guardian": OTHER_OWNER}
    second = adapter.book(booking(local(3, 2, 10), refs=refs))

    assert second.status == "unconfirmed"


def test_a_taken_time_without_a_slot_list_still_says_taken(adapter, simulator):
    adapter.book(booking(local(3, 2, 10)))
    simulator.inject("500", path="/api/v1/appointments/available-slots")

    with pytest.raises(SlotUnavailable) as taken:
        adapter.book(another_animal(local(3, 2, 10)))

    assert taken.value.alternatives == []
    assert taken.value.vendor_message == TAKEN


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (400, {"message": "scheduledAt is required"}, {}, VendorValidationError),
        (401, {"message": "Invalid or expired API key"}, {}, AuthenticationFailed),
        (403, {"message": "Insufficient permissions"}, {}, AuthenticationFailed),
        (404, {"message": "Resource not found"}, {}, NotFound),
        (500, {"message": "Internal server error"}, {}, OutcomeUnknown),
    ],
)
def test_error_answers_map_to_what_to_do_next(
    adapter, simulator, monkeypatch, status, body, headers, error
):
    monkeypatch.setattr(
        simulator, "create_appointment", lambda request: Reply(status, body, headers)
    )

    with pytest.raises(error) as raised:
        adapter.book(booking())

    assert type(raised.value) is error
    assert (raised.value.status, raised.value.vendor_message) == (status, body["message"])


@pytest.mark.parametrize(
    "headers", [pytest.param({"Retry-After": "42"}, id="header"), pytest.param({}, id="body")]
)
def test_rate_limit_says_when_to_send_again(adapter, simulator, monkeypatch, headers):
    body = {"message": "Rate limit exceeded. Please try again later.", "retryAfter": 42}
    monkeypatch.setattr(simulator, "create_appointment", lambda request: Reply(429, body, headers))

    with pytest.raises(RateLimited) as limited:
        adapter.book(booking())

    assert limited.value.retry_after == 42.0
    assert limited.value.retryable


def test_an_answer_without_an_id_is_an_unknown_outcome(adapter, simulator, monkeypatch):
    monkeypatch.setattr(
        simulator, "create_appointment", lambda request: Reply(201, {"status": "SCHEDULED"})
    )

    with pytest.raises(OutcomeUnknown):
        adapter.book(booking())


def test_a_wrong_key_is_an_authentication_failure(simulator, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, "vk_wrong")

    with pytest.raises(AuthenticationFailed) as refused:
        TreatsVetAdapter(settings(simulator.url)).book(booking())

    assert refused.value.vendor_message == "Invalid or expired API key"
    assert simulator.appointments == {}


def test_a_missing_key_is_a_configuration_error_and_nothing_is_sent(simulator, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)

    with pytest.raises(ConfigurationError) as missing:
        TreatsVetAdapter(settings(simulator.url)).check()

    assert str(missing.value) == (
        "The Treats.vet connection has no api key: set the environment variable "
        f"{KEY_VARIABLE} and name it on the connection."
    )
    assert simulator.requests == []


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        (
            {"guardian": ""},
            "The owner (guardian) of this appointment has no Treats.vet ID: map it to its "
            "Treats.vet client in the admin (External IDs).",
        ),
        (
            {"patient": ""},
            "The patient of this appointment has no Treats.vet ID: map it to its Treats.vet "
            "animal in the admin (External IDs).",
        ),
        (
            {"practitioner": "42"},
            "Treats.vet IDs of the practitioner are UUIDs; “42” is not one. Fix it in the "
            "admin (External IDs).",
        ),
        (
            {"appointment_type": "vaccination"},
            "Treats.vet IDs of the appointment type are UUIDs; “vaccination” is not one. Fix "
            "it in the admin (External IDs).",
        ),
    ],
)
def test_missing_or_malformed_mappings_are_configuration_errors(adapter, simulator, refs, message):
    with pytest.raises(ConfigurationError) as wrong:
        adapter.book(booking(refs=refs))

    assert str(wrong.value) == message
    assert simulator.requests == []


# -- what Treats.vet does not offer -----------------------------------------------------------


def test_cancel_is_not_offered_so_the_receptionist_cancels_in_treats_vet(adapter, simulator):
    assert adapter.supports_cancel is False

    with pytest.raises(NotSupported) as refused:
        adapter.cancel("3c90c3cc-0d44-4b50-8888-8dd25736052a", booking(), reason="Owner called")

    assert str(refused.value) == (
        "Treats.vet offers no cancellation through its API: cancel the appointment in "
        "Treats.vet too."
    )
    assert simulator.requests == []


def test_an_earlier_attempt_cannot_be_searched_for(adapter):
    assert adapter.supports_lookup is False

    with pytest.raises(NotSupported):
        adapter.find(booking())


def test_lookup_reads_one_appointment(adapter, simulator):
    booked = adapter.book(booking())

    result = adapter.lookup(booked.external_id)

    assert last_sent(simulator)[:2] == ("GET", f"/api/v1/appointments/{booked.external_id}")
    assert (result.external_id, result.vendor_status, result.status) == (
        booked.external_id,
        "SCHEDULED",
        "unconfirmed",
    )


def test_lookup_of_an_unknown_appointment_is_not_found(adapter):
    with pytest.raises(NotFound) as missing:
        adapter.lookup("3c90c3cc-0d44-4b50-8888-8dd25736052a")

    assert missing.value.vendor_message == "Resource not found"


@pytest.mark.parametrize(
    ("status", "canonical"),
    [
        ("SCHEDULED", "unconfirmed"),
        ("CONFIRMED", "confirmed"),
        ("ARRIVED", "arrived"),
        ("IN_PROGRESS", "arrived"),
        ("COMPLETED", "completed"),
        ("CANCELLED", "cancelled"),
        ("NO_SHOW", "no_show"),
        ("WAITING_LIST", None),
    ],
)
def test_status_table(adapter, status, canonical):
    result = adapter.appointment({"id": "a", "status": status, "displayStatus": "libellé"})

    assert (result.vendor_status, result.status) == (status, canonical)


# -- reference data and check ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "first"),
    [
        (
            "appointment_types",
            "/api/v1/appointments/types",
            {"id": CONSULTATION, "name": "Consultation", "durationMinutes": 20},
        ),
        ("guardians", "/api/v1/clients", {"id": OWNER, "lastName": "Dubois"}),
        ("patients", "/api/v1/patients", {"id": ANIMAL, "name": "Rex", "clientId": OWNER}),
    ],
)
def test_reference_lists(adapter, simulator, kind, path, first):
    items = adapter.reference(kind)

    assert last_sent(simulator)[:2] == ("GET", path)
    assert items[0] | first == items[0]


def test_available_slots_skip_taken_times(adapter, simulator):
    adapter.book(booking(local(3, 2, 9)))

    slots = adapter.reference(
        "available_slots", vetId=VET, date=f"{NEXT_YEAR}-03-02", appointmentTypeId=CONSULTATION
    )

    assert slots[:2] == [
        {"startTime": f"{NEXT_YEAR}-03-02T08:20:00Z", "endTime": f"{NEXT_YEAR}-03-02T08:40:00Z"},
        {"startTime": f"{NEXT_YEAR}-03-02T08:40:00Z", "endTime": f"{NEXT_YEAR}-03-02T09:00:00Z"},
    ]
    # Dr Martin's Tuesday: 09:00-12:30 (10 starts) and 14:00-19:00 (15), less the booked one.
    assert len(slots) == 24


def test_there_is_no_list_of_vets(adapter):
    with pytest.raises(NotSupported, match=r"Treats.vet offers no “practitioners” list\."):
        adapter.reference("practitioners")


def test_check_reads_the_appointment_types(adapter, simulator):
    assert adapter.check() == "Treats.vet answered with 6 appointment type(s)."
    assert last_sent(simulator)[:2] == ("GET", "/api/v1/appointments/types")


# -- the simulator refuses what Treats.vet documents ------------------------------------------

VALID = {
    "clientId": OWNER,
    "patientId": ANIMAL,
    "vetId": VET,
    "scheduledAt": f"{NEXT_YEAR}-03-02T09:00:00Z",
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"clientId": None}, "clientId is required"),
        ({"scheduledAt": ""}, "scheduledAt is required"),
        ({"patientId": "12"}, "patientId must be a UUID"),
        ({"appointmentTypeId": "vaccination"}, "appointmentTypeId must be a UUID"),
        ({"vetId": OWNER}, "vetId must be the id of a vet of the clinic"),
        ({"scheduledAt": "02/03/2030 10:00"}, "scheduledAt must be an ISO 8601 date-time"),
        (
            {"scheduledAt": f"{NEXT_YEAR}-03-02T09:00:00"},
            "scheduledAt must include a time zone (e.g. 2026-02-15T10:00:00Z)",
        ),
        ({"scheduledAt": "2020-03-02T09:00:00Z"}, "scheduledAt must be in the future"),
        ({"isUrgent": "yes"}, "isUrgent must be a boolean"),
        ({"clientId": OTHER_OWNER}, "The patient does not belong to this client"),
    ],
)
def test_simulator_validates_the_documented_formats(simulator, changes, message):
    answer = requests.post(
        f"{simulator.url}/api/v1/appointments",
        json=VALID | changes,
        headers={"X-API-Key": API_KEY},
        timeout=5,
    )

    assert (answer.status_code, answer.json()) == (400, {"message": message})


@pytest.mark.parametrize(
    ("headers", "message"),
    [({}, "Authentication required"), ({"X-API-Key": "vk_other"}, "Invalid or expired API key")],
)
def test_simulator_wants_the_api_key(simulator, headers, message):
    answer = requests.get(f"{simulator.url}/api/v1/appointments/types", headers=headers, timeout=5)

    assert (answer.status_code, answer.json()) == (401, {"message": message})


def test_simulator_rate_limit_answer_is_the_documented_one(simulator):
    simulator.inject("429")

    answer = requests.get(
        f"{simulator.url}/api/v1/appointments/types", headers={"X-API-Key": API_KEY}, timeout=5
    )

    assert answer.status_code == 429
    assert answer.json() == {
        "message": "Rate limit exceeded. Please try again later.",
        "retryAfter": 1,
    }
    assert answer.headers["Retry-After"] == "1"
