"""REST API v1: appointments — list, read, book (with Idempotency-Key), cancel, reschedule."""

import datetime
import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from scheduling.api.appointments import AppointmentList
from scheduling.api.errors import INVALID_INPUT
from scheduling.localtime import DAY_OUT_OF_RANGE
from scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AuditAction,
    AuditEvent,
    IdempotencyRecord,
    Weekday,
)
from tests.factories import (
    AppointmentFactory,
    CancelReasonFactory,
    ClinicMembershipFactory,
    DeliveryFactory,
    LocationFactory,
    PractitionerFactory,
    RoomFactory,
    UserFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY, NOW

APPOINTMENTS = "/api/v1/appointments/"
KEY = "0f8fad5b-d9cb-469f-a165-70867728950e"
FIELDS = {
    "id",
    "location",
    "practitioner",
    "room",
    "patient",
    "appointment_type",
    "start",
    "end",
    "duration_minutes",
    "modality",
    "status",
    "comment",
    "urgent",
    "sync",
    "created_at",
    "updated_at",
}
LOCAL_ONLY = {
    "state": "not_required",
    "vendor": None,
    "external_id": None,
    "vendor_status": None,
    "last_error": None,
    "attempts": 0,
}


def url(appointment_id: int, action: str = "") -> str:
    return f"{APPOINTMENTS}{appointment_id}/{action + '/' if action else ''}"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def advance(self, **delta: float) -> None:
        self.now += datetime.timedelta(**delta)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    """It is Friday 2027-01-01 12:00 UTC: MONDAY (2027-01-04) is bookable."""
    clock = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: clock.now)
    return clock


@pytest.fixture
def user(world):
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    return user


def client_for(user) -> APIClient:
    cache.clear()  # a fresh throttle count
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api(user) -> APIClient:
    return client_for(user)


@pytest.fixture
def elsewhere(db):
    """Another clinic, with a location, a practitioner, a patient and an appointment."""
    appointment = AppointmentFactory()
    return appointment


def booking(world, hhmm: str = "09:00", **extra) -> dict:
    return {
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "patient": world.patients[0].pk,
        "appointment_type": world.appointment_type.pk,
        "start": f"{MONDAY}T{hhmm}:00-03:00",
        **extra,
    }


def appointment_at(world, start: datetime.datetime, **extra) -> Appointment:
    """An appointment written straight to the database (no rules), for the list tests."""
    options = {
        "clinic": world.clinic,
        "location": world.location,
        "practitioner": world.practitioner,
        "room": world.rooms[0],
        "patient": world.patients[0],
        "appointment_type": world.appointment_type,
        "start": start,
        "end": start + datetime.timedelta(minutes=30),
        **extra,
    }
    return AppointmentFactory(**options)


def written() -> tuple[int, int, int]:
    return (
        Appointment.objects.count(),
        AppointmentEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


# -- book ----------------------------------------------------------------------------------


def test_book_answers_201_with_the_appointment(api, world, user):
    response = api.post(APPOINTMENTS, booking(world, comment="Molar", urgent=True), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.get()
    assert set(body) == FIELDS
    assert body == {
        "id": appointment.pk,
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "room": world.rooms[0].pk,
        "patient": world.patients[0].pk,
        "appointment_type": world.appointment_type.pk,
        "start": "2027-01-04T09:00:00-03:00",
        "end": "2027-01-04T09:30:00-03:00",
        "duration_minutes": 30,
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Molar",
        "urgent": True,
        "sync": LOCAL_ONLY,
        "created_at": "2027-01-01T09:00:00-03:00",
        "updated_at": "2027-01-01T09:00:00-03:00",
    }
    assert appointment.start == world.at("09:00")
    assert appointment.created_by == user
    assert appointment.events.get().by == user


def test_book_takes_a_utc_start_and_a_duration_instead_of_a_type(api, world):
    body = {
        **booking(world, start="2027-01-04T13:00:00Z", duration_minutes=45),
        "appointment_type": None,
        "room": world.rooms[1].pk,
        "modality": "in_person",
    }

    response = api.post(APPOINTMENTS, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["start"] == "2027-01-04T10:00:00-03:00"
    assert response.json()["end"] == "2027-01-04T10:45:00-03:00"
    assert response.json()["room"] == world.rooms[1].pk
    assert response.json()["appointment_type"] is None


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (
            {"start": "2027-01-04T08:00:00-03:00"},
            "start",
            "Dra. Camila Rojas does not work at Providencia on Mon 04 Jan 2027 08:00–08:30; "
            "choose a time within their working hours.",
        ),
        (
            {"start": "2027-01-04T09:05:00-03:00"},
            "start",
            "Dra. Camila Rojas's appointments start every 15 minutes from 09:00; "
            "choose one of those times.",
        ),
        (
            {"appointment_type": None},
            "appointment_type",
            "Choose an appointment type or a duration.",
        ),
        (
            {"modality": "video"},
            "modality",
            "Only in person appointments are possible at this time.",
        ),
        (
            {"start": "2026-12-28T09:00:00-03:00"},
            "start",
            "Mon 28 Dec 2026 09:00 has passed; choose a later time.",
        ),
    ],
)
def test_a_broken_rule_answers_400_with_the_field_and_writes_nothing(
    api, world, extra, field, message
):
    response = api.post(APPOINTMENTS, booking(world, **extra), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert response.json()["detail"] == message
    assert written() == (0, 0, 0)


def test_a_taken_time_answers_409_with_three_alternatives(api, world):
    world.book("09:00", patient=world.patients[1])

    response = api.post(APPOINTMENTS, booking(world, "09:00"), format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["errors"] == {
        "start": ["Dra. Camila Rojas is already booked from 09:00 to 09:30; choose another time."]
    }
    assert [slot["start"] for slot in body["alternatives"]] == [
        "2027-01-04T09:30:00-03:00",
        "2027-01-04T09:45:00-03:00",
        "2027-01-04T10:00:00-03:00",
    ]
    assert body["alternatives"][0]["practitioner"] == world.practitioner.pk
    assert body["alternatives"][0]["rooms"] == [world.rooms[0].pk, world.rooms[1].pk]
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize("field", ["location", "practitioner", "patient", "room", "assistant"])
def test_another_clinics_records_answer_400_naming_the_field(api, world, elsewhere, field):
    theirs = {
        "location": elsewhere.location.pk,
        "practitioner": elsewhere.practitioner.pk,
        "patient": elsewhere.patient.pk,
        "room": elsewhere.room.pk,
        "assistant": elsewhere.practitioner.pk,
    }

    response = api.post(APPOINTMENTS, booking(world, **{field: theirs[field]}), format="json")

    assert response.status_code == 400
    model = "practitioner" if field == "assistant" else field
    assert response.json() == {"detail": INVALID_INPUT, "errors": {field: [f"No such {model}."]}}
    assert Appointment.objects.count() == 1  # theirs


@pytest.mark.parametrize("pk", [0, 999_999, 2**63, 2**80])
def test_unknown_ids_in_the_body_answer_400(api, world, pk):
    response = api.post(APPOINTMENTS, booking(world, patient=pk), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"patient": ["No such patient."]}
    assert written() == (0, 0, 0)


def test_unknown_ids_and_unknown_fields_are_named_together(api, world):
    body = booking(world, practitioner=999_999, room=999_999, nonsense=1)

    response = api.post(APPOINTMENTS, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "practitioner": ["No such practitioner."],
        "room": ["No such room."],
        "nonsense": ["Unknown field; remove it."],
    }


MEGABYTE = "x" * 1_000_000


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        ({"location": "1"}, "location", "Give the location's ID as a whole number."),
        ({"location": [1]}, "location", "Give the location's ID as a whole number."),
        ({"patient": True}, "patient", "Give the patient's ID as a whole number."),
        ({"urgent": "yes"}, "urgent", "Give true or false."),
        ({"comment": 5}, "comment", "Not a valid string."),
        ({"duration_minutes": "30"}, "duration_minutes", "A valid integer is required."),
        (
            {"duration_minutes": 0},
            "duration_minutes",
            "Ensure this value is greater than or equal to 1.",
        ),
        ({"modality": "phone"}, "modality", '"phone" is not a valid choice.'),
        ({"comment": MEGABYTE}, "comment", "Ensure this field has no more than 1000 characters."),
        ({"nonsense": 1}, "nonsense", "Unknown field; remove it."),
        (
            {"start": 20270104},
            "start",
            "Give an ISO 8601 date and time with its UTC offset, e.g. 2027-01-04T09:00:00-03:00.",
        ),
        (
            {"start": MEGABYTE},
            "start",
            "Give an ISO 8601 date and time with its UTC offset, e.g. 2027-01-04T09:00:00-03:00.",
        ),
        (
            {"start": "next monday"},
            "start",
            "Give an ISO 8601 date and time with its UTC offset, e.g. 2027-01-04T09:00:00-03:00.",
        ),
        (
            {"start": "2026-02-30T09:00:00-03:00"},
            "start",
            "2026-02-30T09:00:00-03:00 is not a real date and time; check the day and the hour.",
        ),
        (
            {"start": "2027-01-04T09:00:00"},
            "start",
            "Give the offset too: 2027-01-04T09:00:00 has no UTC offset, e.g. "
            "2027-01-04T09:00:00-03:00 for a location at UTC-03:00, or a UTC time ending in Z.",
        ),
        (
            {"start": "2027-09-05T00:30:00-04:00"},
            "start",
            "2027-09-05 00:30 does not exist in America/Santiago: the clocks jump forward for "
            "daylight saving time. Choose a time outside the skipped hour.",
        ),
        (
            {"start": "2027-01-04T09:00:00-04:00"},
            "start",
            "Providencia is at UTC-03:00 on 2027-01-04, not UTC-04:00: for 09:00 there, send "
            "2027-01-04T09:00:00-03:00 (or the time in UTC, ending in Z).",
        ),
        ({"start": "9999-12-31T23:00:00-05:00"}, "start", DAY_OUT_OF_RANGE),
        ({"start": "1899-12-31T23:00:00-05:00"}, "start", DAY_OUT_OF_RANGE),
    ],
)
def test_bad_input_answers_400_with_a_message_per_field_and_writes_nothing(
    api, world, extra, field, message
):
    response = api.post(APPOINTMENTS, booking(world, **extra), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    assert written() == (0, 0, 0)


def test_missing_fields_are_named(api, world):
    response = api.post(APPOINTMENTS, {}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"location", "practitioner", "patient", "start"}


@pytest.mark.parametrize(
    "raw",
    [
        '{"location": ',
        "[1, 2]",
        '"text"',
        "null",
        '{"start": NaN}',
        "\xff\xfe",
        "[" * 100_000,
        '{"comment": ' * 100_000,
    ],
    ids=["cut", "list", "string", "null", "nan", "not-utf8", "deep-list", "deep-object"],
)
@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": KEY}])
def test_a_body_that_is_not_a_json_object_answers_400(api, world, raw, headers):
    response = api.post(APPOINTMENTS, raw, content_type="application/json", headers=headers)

    assert response.status_code == 400
    assert response.json()["detail"]
    assert written() == (0, 0, 0)


def test_form_data_is_not_accepted(api, world):
    response = api.post(APPOINTMENTS, booking(world))

    assert response.status_code == 415
    assert Appointment.objects.count() == 0


def test_without_credentials_nothing_is_booked(world):
    response = APIClient().post(APPOINTMENTS, booking(world), format="json")

    assert response.status_code == 401
    assert Appointment.objects.count() == 0


# -- idempotency ---------------------------------------------------------------------------


def post_once(api, body, key=KEY):
    return api.post(APPOINTMENTS, body, format="json", headers={"Idempotency-Key": key})


def test_the_same_key_and_body_replay_the_first_answer_and_book_once(api, world, clock):
    first = post_once(api, booking(world))
    clock.advance(minutes=5)
    again = post_once(api, booking(world))

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert Appointment.objects.count() == 1
    assert AppointmentEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_without_a_surrounding_transaction_the_key_is_claimed_and_replayed(api, world):
    """As in production (autocommit): the claim is the first statement of the transaction
    that books (one commit per booking, not two), and the second request's refused claim
    leaves the connection usable."""
    statements: list[tuple[bool, bool]] = []  # (a claim?, inside a transaction block?)

    def note(execute, sql, params, many, context):
        claim = sql.startswith('INSERT INTO "scheduling_idempotencyrecord"')
        statements.append((claim, connection.in_atomic_block))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        first = post_once(api, booking(world))
        again = post_once(api, booking(world))

    claims = [inside for claim, inside in statements if claim]
    assert claims == [True, True]
    assert next(claim for claim, inside in statements if inside)  # the transaction's first
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_sent_while_the_first_runs_waits_for_its_answer(world, user, monkeypatch):
    booking_started, finish = threading.Event(), threading.Event()
    book = AppointmentList.book

    def slow_book(self, request):
        booking_started.set()
        assert finish.wait(10)
        return book(self, request)

    monkeypatch.setattr(AppointmentList, "book", slow_book)

    def send() -> object:
        try:
            client = APIClient()
            client.force_authenticate(user)
            return post_once(client, booking(world))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(send)
        assert booking_started.wait(10)
        monkeypatch.setattr(AppointmentList, "book", book)
        duplicate = pool.submit(send)
        with pytest.raises(TimeoutError):
            duplicate.result(timeout=0.5)  # its claim waits for the first's transaction
        finish.set()
        answers = [first.result(timeout=30), duplicate.result(timeout=30)]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[1].json() == answers[0].json()
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert Appointment.objects.count() == 1


def test_the_body_is_compared_as_json_not_as_text(api, world):
    body = booking(world)
    first = post_once(api, body)
    reordered = json.dumps(dict(reversed(body.items())), indent=2)

    again = api.post(
        APPOINTMENTS, reordered, content_type="application/json", headers={"Idempotency-Key": KEY}
    )

    assert again.status_code == 201
    assert again.json() == first.json()
    assert Appointment.objects.count() == 1


def test_a_conflict_is_replayed_too(api, world):
    world.book("09:00", patient=world.patients[1])

    first = post_once(api, booking(world))
    world.book("09:30", patient=world.patients[2])  # the alternatives have changed meanwhile
    again = post_once(api, booking(world))

    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()


def test_the_same_key_with_another_body_answers_422(api, world):
    post_once(api, booking(world, "09:00"))

    response = post_once(api, booking(world, "10:00"))

    assert response.status_code == 422
    message = (
        "This key was already used with another request body in the last 24 hours; "
        "use a new key for a new request."
    )
    assert response.json() == {"detail": message, "errors": {"Idempotency-Key": [message]}}
    assert Appointment.objects.count() == 1


def test_keys_expire_after_24_hours(api, world, clock):
    post_once(api, booking(world, "09:00"))
    clock.advance(hours=24, seconds=1)

    response = post_once(api, booking(world, "10:00"))

    assert response.status_code == 201
    assert response.json()["start"] == "2027-01-04T10:00:00-03:00"
    assert Appointment.objects.count() == 2
    assert IdempotencyRecord.objects.get().created_at == clock.now  # the old one is gone


@pytest.mark.django_db(transaction=True)  # the sweeper manages its own connections
def test_the_sweeper_deletes_expired_keys_and_keeps_live_ones(api, world, clock):
    from django.core.management import call_command

    post_once(api, booking(world, "09:00"), key="old")
    clock.advance(hours=20)
    post_once(api, booking(world, "10:00"), key="young")
    clock.advance(hours=4, seconds=1)

    call_command("deliver")

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["young"]


def test_a_booking_does_not_sweep_expired_keys(api, world, clock):
    post_once(api, booking(world, "09:00"), key="old")
    clock.advance(hours=25)

    post_once(api, booking(world, "10:00"), key="new")

    assert IdempotencyRecord.objects.count() == 2  # the sweeper's job, not the request's


def test_keys_are_per_user(api, world):
    other = UserFactory(username="other-phone")
    ClinicMembershipFactory(user=other, clinic=world.clinic)
    post_once(api, booking(world, "09:00"))

    response = post_once(client_for(other), booking(world, "10:00"))

    assert response.status_code == 201
    assert Appointment.objects.count() == 2


def test_a_request_still_in_progress_answers_409_and_books_nothing(api, world):
    post_once(api, booking(world))
    IdempotencyRecord.objects.update(status_code=None, body=None)  # as if still running
    Appointment.objects.all().delete()

    response = post_once(api, booking(world))

    assert response.status_code == 409
    assert response.json()["errors"] == {
        "Idempotency-Key": [
            "A request with this key is still being processed; retry in a few seconds to get "
            "its answer."
        ]
    }
    assert Appointment.objects.count() == 0


def test_a_claim_left_by_a_request_that_died_is_taken_over(api, world, clock):
    post_once(api, booking(world))
    IdempotencyRecord.objects.update(status_code=None, body=None)
    Appointment.objects.all().delete()  # it died before committing: nothing was booked
    clock.advance(minutes=6)

    response = post_once(api, booking(world))

    assert response.status_code == 201
    assert Appointment.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 201


def test_a_request_refused_before_booking_frees_its_key(api, world):
    refused = post_once(api, booking(world, start="2027-01-04T09:00:00"))
    fixed = post_once(api, booking(world))

    assert refused.status_code == 400
    assert fixed.status_code == 201
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("k" * 256, "Keep the key to 255 characters (it has 256)."),
        ("k" * 1_000_000, "Keep the key to 255 characters (it has 1000000)."),
        ("", "Give a non-empty key, e.g. a UUID."),
        (
            "tab\there",
            "Use visible ASCII characters only (letters, digits, punctuation), e.g. a UUID.",
        ),
        (
            "two words",
            "Use visible ASCII characters only (letters, digits, punctuation), e.g. a UUID.",
        ),
        ("clé", "Use visible ASCII characters only (letters, digits, punctuation), e.g. a UUID."),
    ],
    ids=["256", "megabyte", "empty", "tab", "space", "accent"],
)
def test_a_bad_key_answers_400_and_writes_nothing(api, world, key, message):
    response = post_once(api, booking(world), key=key)

    assert response.status_code == 400
    assert response.json()["errors"] == {"Idempotency-Key": [message]}
    assert written() == (0, 0, 0)


def test_a_key_of_255_characters_is_fine(api, world):
    assert post_once(api, booking(world), key="k" * 255).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_book_once(world, user):
    desks = 8
    barrier = threading.Barrier(desks)
    body = booking(world)

    def send(_: int) -> int:
        try:
            client = APIClient()
            client.force_authenticate(user)
            barrier.wait()
            return post_once(client, body).status_code
        finally:
            connection.close()

    cache.clear()
    with ThreadPoolExecutor(max_workers=desks) as pool:
        outcomes = Counter(pool.map(send, range(desks)))

    assert outcomes == {201: desks}  # each waited for the first and replayed its answer
    assert Appointment.objects.count() == 1
    assert IdempotencyRecord.objects.get().status_code == 201


# -- read ----------------------------------------------------------------------------------


def test_read_an_appointment(api, world):
    appointment = world.book("10:00", comment="Sensitive tooth")

    response = api.get(url(appointment.pk))

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body["id"] == appointment.pk
    assert body["start"] == "2027-01-04T10:00:00-03:00"
    assert body["end"] == "2027-01-04T10:30:00-03:00"
    assert body["comment"] == "Sensitive tooth"
    assert body["sync"] == LOCAL_ONLY


def test_read_shows_the_delivery_to_the_pms(api, world):
    appointment = world.book("10:00")
    connection_ = VendorConnectionFactory(clinic=world.clinic, vendor="dentalink")
    DeliveryFactory(
        appointment=appointment,
        connection=connection_,
        state="needs_attention",
        attempts=3,
        external_id="4711",
        vendor_status="No confirmado",
        last_error="Dentalink refused the chair.",
    )

    response = api.get(url(appointment.pk))

    assert response.json()["sync"] == {
        "state": "needs_attention",
        "vendor": "dentalink",
        "external_id": "4711",
        "vendor_status": "No confirmado",
        "last_error": "Dentalink refused the chair.",
        "attempts": 3,
    }


@pytest.mark.parametrize("action", ["", "cancel", "reschedule"])
def test_another_clinics_appointment_is_404(api, world, elsewhere, action):
    before = (elsewhere.status, elsewhere.start)
    if action:
        body = {"reason": "x"} if action == "cancel" else {"start": "2027-01-04T12:00:00Z"}
        response = api.post(url(elsewhere.pk, action), body, format="json")
    else:
        response = api.get(url(elsewhere.pk))

    assert response.status_code == 404
    assert response.json() == {"detail": "No such appointment.", "errors": {}}
    elsewhere.refresh_from_db()
    assert (elsewhere.status, elsewhere.start) == before


@pytest.mark.parametrize("pk", [999_999, 2**63, 2**80])
def test_unknown_appointments_are_404(api, world, pk):
    assert api.get(url(pk)).status_code == 404


# -- list ----------------------------------------------------------------------------------


def test_the_list_shows_the_users_clinics_ordered_by_start(api, world, elsewhere):
    later = world.book("11:00")
    earlier = world.book("09:00", patient=world.patients[1])

    response = api.get(APPOINTMENTS)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert body["next"] is None
    assert [a["id"] for a in body["results"]] == [earlier.pk, later.pk]
    assert set(body["results"][0]) == FIELDS
    assert body["results"][0]["sync"] == LOCAL_ONLY

    latest_first = api.get(APPOINTMENTS, {"ordering": "-start"}).json()["results"]
    assert [a["id"] for a in latest_first] == [later.pk, earlier.pk]


def test_the_list_is_paginated_by_50(api, world):
    first = world.at("09:00")
    for n in range(51):
        appointment_at(world, first + datetime.timedelta(minutes=30 * n))

    page_one = api.get(APPOINTMENTS).json()
    page_two = api.get(APPOINTMENTS, {"page": 2}).json()

    assert page_one["count"] == 51
    assert len(page_one["results"]) == 50
    assert page_one["next"].endswith("/api/v1/appointments/?page=2")
    assert len(page_two["results"]) == 1
    assert page_two["next"] is None
    assert api.get(APPOINTMENTS, {"page": 3}).status_code == 404


def test_the_list_filters(api, world):
    other_location = LocationFactory(clinic=world.clinic, time_zone="Europe/Paris")
    colleague = PractitionerFactory(clinic=world.clinic)
    a = appointment_at(world, world.at("09:00"))
    b = appointment_at(
        world, world.at("10:00"), patient=world.patients[1], status=AppointmentStatus.CONFIRMED
    )
    c = appointment_at(
        world,
        world.at("10:00"),
        practitioner=colleague,
        room=world.rooms[1],
        patient=world.patients[2],
        status=AppointmentStatus.CANCELLED,
    )
    d = appointment_at(
        world,
        datetime.datetime(2027, 1, 5, 9, tzinfo=datetime.UTC),
        location=other_location,
        room=RoomFactory(location=other_location),
    )

    def ids(**query) -> list[int]:
        response = api.get(APPOINTMENTS, query)
        assert response.status_code == 200, response.json()
        return [appointment["id"] for appointment in response.json()["results"]]

    assert ids() == [a.pk, b.pk, c.pk, d.pk]
    assert ids(location=other_location.pk) == [d.pk]
    assert ids(practitioner=colleague.pk) == [c.pk]
    assert ids(patient=world.patients[1].pk) == [b.pk]
    assert ids(status="confirmed") == [b.pk]
    assert ids(status="confirmed,cancelled") == [b.pk, c.pk]
    assert ids(status="unconfirmed", location=world.location.pk) == [a.pk]
    assert ids(date_from="2027-01-05") == [d.pk]
    assert ids(date_from="0001-01-01", date_to="9999-12-31") == [a.pk, b.pk, c.pk, d.pk]
    assert ids(date_to="2027-01-04") == [a.pk, b.pk, c.pk]
    assert ids(date_from="2027-01-04", date_to="2027-01-04", ordering="-start") == [
        c.pk,
        b.pk,
        a.pk,
    ]


def test_dates_are_local_dates_of_the_location(api, world):
    # 23:30 on Monday in Santiago is 02:30 UTC on Tuesday.
    late = appointment_at(world, datetime.datetime(2027, 1, 5, 2, 30, tzinfo=datetime.UTC))

    monday = api.get(APPOINTMENTS, {"date_from": "2027-01-04", "date_to": "2027-01-04"})
    tuesday = api.get(APPOINTMENTS, {"date_from": "2027-01-05", "date_to": "2027-01-05"})

    assert [a["id"] for a in monday.json()["results"]] == [late.pk]
    assert monday.json()["results"][0]["start"] == "2027-01-04T23:30:00-03:00"
    assert tuesday.json()["results"] == []


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            {"status": "bogus"},
            "status",
            "Choose among unconfirmed, confirmed, arrived, completed, "
            "cancelled, no_show (comma-separated).",
        ),
        (
            {"date_from": "2026-02-30"},
            "date_from",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        ),
        (
            {"date_from": "2027-01-05", "date_to": "2027-01-04"},
            "date_to",
            "Give a date_to on or after date_from.",
        ),
        ({"location": "abc"}, "location", "A valid integer is required."),
        (
            {"location": str(2**80)},
            "location",
            "Ensure this value is less than or equal to 9223372036854775807.",
        ),
        ({"ordering": "patient"}, "ordering", '"patient" is not a valid choice.'),
        ({"status": ""}, "status", "Give a value, or leave the parameter out."),
        ({"location": ""}, "location", "Give a value, or leave the parameter out."),
    ],
)
def test_bad_filters_answer_400(api, world, query, field, message):
    response = api.get(APPOINTMENTS, query)

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}


@pytest.mark.parametrize("field", ["location", "practitioner", "patient"])
def test_filtering_by_another_clinics_record_is_400(api, world, elsewhere, field):
    response = api.get(APPOINTMENTS, {field: getattr(elsewhere, f"{field}_id")})

    assert response.status_code == 400
    assert response.json() == {"detail": INVALID_INPUT, "errors": {field: [f"No such {field}."]}}


def test_the_list_costs_the_same_queries_for_2_or_50_appointments(api, world):
    first = world.at("09:00")
    pms = VendorConnectionFactory(clinic=world.clinic)

    def queries_for(count: int) -> int:
        Appointment.objects.all().delete()
        for n in range(count):
            appointment = appointment_at(world, first + datetime.timedelta(minutes=30 * n))
            DeliveryFactory(appointment=appointment, connection=pms)
        with CaptureQueriesContext(connection) as captured:
            response = api.get(APPOINTMENTS, {"date_from": "2027-01-01", "status": "unconfirmed"})
        assert response.json()["count"] == count
        return len(captured)

    assert queries_for(2) == queries_for(50) <= 5  # the last: the audit row (one insert)


# -- cancel --------------------------------------------------------------------------------


def test_cancel_with_a_reason(api, world, user):
    appointment = world.book("10:00")

    response = api.post(url(appointment.pk, "cancel"), {"reason": "Feels better"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["id"] == appointment.pk
    appointment.refresh_from_db()
    assert appointment.cancellation_reason == "Feels better"
    assert appointment.events.last().by == user
    audited = AuditEvent.objects.filter(appointment=appointment).latest("pk")
    assert (audited.action, audited.user) == (AuditAction.CANCELLED, user)


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"reason": "  "}, "reason", "Give a reason for the cancellation."),
        ({}, "reason", "This field is required."),
        ({"reason": 5}, "reason", "Not a valid string."),
        (
            {"reason": "x" * 1_000_000},
            "reason",
            "Ensure this field has no more than 1000 characters.",
        ),
        ({"reason": "x", "notify": True}, "notify", "Unknown field; remove it."),
    ],
)
def test_cancel_refuses_bad_input(api, world, body, field, message):
    appointment = world.book("10:00")

    response = api.post(url(appointment.pk, "cancel"), body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [message]}
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.UNCONFIRMED


def test_cancel_refused_by_the_status_table_answers_409(api, world):
    appointment = world.book("10:00")
    api.post(url(appointment.pk, "cancel"), {"reason": "Once"}, format="json")

    response = api.post(url(appointment.pk, "cancel"), {"reason": "Twice"}, format="json")

    assert response.status_code == 409
    message = "A cancelled appointment cannot become cancelled."
    assert response.json() == {"detail": message, "errors": {"status": [message]}}


@pytest.mark.parametrize(
    ("words", "recorded"),
    [(None, "Patient unwell"), ("", "Patient unwell"), ("Has flu", "Patient unwell — Has flu")],
)
def test_cancel_with_a_reason_of_the_clinic(api, world, user, words, recorded):
    appointment = world.book("10:00")
    reason = CancelReasonFactory(clinic=world.clinic, label="Patient unwell")
    body = {"reason_id": reason.pk} | ({} if words is None else {"reason": words})

    response = api.post(url(appointment.pk, "cancel"), body, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    appointment.refresh_from_db()
    assert appointment.cancellation_reason == recorded
    audited = AuditEvent.objects.filter(appointment=appointment).latest("pk")
    assert audited.changes["after"] == {"status": "cancelled", "reason": recorded}


@pytest.mark.parametrize(
    ("reason_id", "message"),
    [
        ("elsewhere", "No such cancellation reason."),
        ("other clinic of mine", "Choose a cancellation reason of this clinic."),
        ("retired", "“Flu” is no longer offered; choose another reason."),
        ("7", "Give the cancellation reason's ID as a whole number."),
        (True, "Give the cancellation reason's ID as a whole number."),
        (2**63, "No such cancellation reason."),
    ],
)
def test_cancel_refuses_a_reason_it_cannot_use(api, world, user, reason_id, message):
    appointment = world.book("10:00")
    mine = ClinicMembershipFactory(user=user).clinic
    reasons = {
        "elsewhere": CancelReasonFactory().pk,
        "other clinic of mine": CancelReasonFactory(clinic=mine).pk,
        "retired": CancelReasonFactory(clinic=world.clinic, label="Flu", active=False).pk,
    }

    response = api.post(
        url(appointment.pk, "cancel"),
        {"reason_id": reasons.get(reason_id, reason_id), "reason": "x"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"reason_id": [message]}
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.UNCONFIRMED


def test_cancel_without_reason_nor_reason_id_asks_for_the_reason(api, world):
    appointment = world.book("10:00")

    response = api.post(url(appointment.pk, "cancel"), {"reason_id": None}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["This field is required."]}


def test_the_schema_documents_the_cancellation_reason(api, user):
    api.force_login(user)

    schema = api.get("/api/v1/schema/", {"format": "json"}).json()

    body = schema["paths"]["/api/v1/appointments/{id}/cancel/"]["post"]["requestBody"]
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    fields = schema["components"]["schemas"][name]
    assert fields["properties"]["reason_id"]["type"] == "integer"
    assert fields["properties"]["reason_id"]["nullable"] is True
    assert "cancellation reasons" in fields["properties"]["reason_id"]["description"]
    assert "required" not in fields or "reason" not in fields["required"]


# -- reschedule ----------------------------------------------------------------------------


def test_reschedule_moves_the_appointment(api, world, user):
    appointment = world.book("10:00")

    response = api.post(
        url(appointment.pk, "reschedule"), {"start": "2027-01-04T11:00:00-03:00"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["start"] == "2027-01-04T11:00:00-03:00"
    assert response.json()["status"] == "unconfirmed"
    appointment.refresh_from_db()
    assert appointment.start == world.at("11:00")
    assert appointment.events.last().by == user


def test_reschedule_to_another_practitioner_and_length(api, world):
    colleague = PractitionerFactory(clinic=world.clinic)
    WorkingHoursFactory(practitioner=colleague, location=world.location, weekday=Weekday.MONDAY)
    appointment = world.book("10:00")

    response = api.post(
        url(appointment.pk, "reschedule"),
        {"start": "2027-01-04T15:00:00Z", "practitioner": colleague.pk, "duration_minutes": 45},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["practitioner"] == colleague.pk
    assert response.json()["duration_minutes"] == 45


def test_reschedule_into_a_taken_time_answers_409_with_alternatives(api, world):
    world.book("09:00", patient=world.patients[1])
    appointment = world.book("11:00")

    response = api.post(
        url(appointment.pk, "reschedule"), {"start": "2027-01-04T09:00:00-03:00"}, format="json"
    )

    assert response.status_code == 409
    assert len(response.json()["alternatives"]) == 3
    assert response.json()["alternatives"][0]["start"] == "2027-01-04T09:30:00-03:00"
    appointment.refresh_from_db()
    assert appointment.start == world.at("11:00")


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        (
            {"start": "2027-01-04T11:00:00"},
            400,
            "start",
            "Give the offset too: 2027-01-04T11:00:00 has no UTC offset, e.g. "
            "2027-01-04T11:00:00-03:00 for a location at UTC-03:00, or a UTC time ending in Z.",
        ),
        ({"start": "2027-01-04T11:00:00Z", "room": 2**70}, 400, "room", "No such room."),
        (
            {"start": "2027-01-04T11:00:00Z", "patient": 1},
            400,
            "patient",
            "Unknown field; remove it.",
        ),
        (
            {"start": "2027-01-04T11:00:00-03:00", "duration_minutes": 20},
            400,
            "duration_minutes",
            "At this time Dra. Camila Rojas's appointments last a multiple of 15 minutes; "
            "20 is not.",
        ),
    ],
)
def test_reschedule_refuses_bad_input(api, world, body, status, field, message):
    appointment = world.book("10:00")

    response = api.post(url(appointment.pk, "reschedule"), body, format="json")

    assert response.status_code == status
    assert response.json()["errors"] == {field: [message]}
    appointment.refresh_from_db()
    assert appointment.start == world.at("10:00")


def test_reschedule_to_another_clinics_practitioner_is_400(api, world, elsewhere):
    appointment = world.book("10:00")

    response = api.post(
        url(appointment.pk, "reschedule"),
        {"start": "2027-01-04T11:00:00Z", "practitioner": elsewhere.practitioner.pk},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"practitioner": ["No such practitioner."]}


def test_a_cancelled_appointment_cannot_be_rescheduled(api, world):
    appointment = world.book("10:00")
    api.post(url(appointment.pk, "cancel"), {"reason": "Travel"}, format="json")

    response = api.post(
        url(appointment.pk, "reschedule"), {"start": "2027-01-04T11:00:00Z"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["detail"] == "A cancelled appointment cannot be rescheduled."


# -- times in answers ----------------------------------------------------------------------


def test_every_time_carries_the_locations_offset_at_that_moment(api, world, clock):
    paris = LocationFactory(clinic=world.clinic, name="Paris", time_zone="Europe/Paris")
    RoomFactory(location=paris)
    WorkingHoursFactory(
        practitioner=world.practitioner,
        location=paris,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(9),
        end_time=datetime.time(12),
        slot_interval_minutes=15,
    )
    clock.advance(days=150)  # 2027-05-31 12:00 UTC: summer in Paris, winter in Santiago
    summer = {"location": paris.pk, "start": "2027-06-07T09:00:00+02:00"}

    booked = api.post(APPOINTMENTS, booking(world, **summer), format="json")
    taken = api.post(
        APPOINTMENTS, booking(world, **summer, patient=world.patients[1].pk), format="json"
    )
    listed = api.get(APPOINTMENTS, {"location": paris.pk}).json()["results"]

    assert booked.status_code == 201, booked.json()
    assert {name: booked.json()[name] for name in ("start", "end", "created_at", "updated_at")} == {
        "start": "2027-06-07T09:00:00+02:00",
        "end": "2027-06-07T09:30:00+02:00",
        "created_at": "2027-05-31T14:00:00+02:00",
        "updated_at": "2027-05-31T14:00:00+02:00",
    }
    assert listed == [booked.json()]
    assert taken.status_code == 409
    assert [slot["start"] for slot in taken.json()["alternatives"]] == [
        "2027-06-07T09:30:00+02:00",
        "2027-06-07T09:45:00+02:00",
        "2027-06-07T10:00:00+02:00",
    ]


def test_santiagos_winter_offset_is_shown_in_winter(api, world, clock):
    clock.advance(days=150)  # 2027-05-31: UTC-04:00 in Santiago

    response = api.post(
        APPOINTMENTS, booking(world, start="2027-06-07T09:00:00-04:00"), format="json"
    )

    assert response.status_code == 201, response.json()
    assert response.json()["start"] == "2027-06-07T09:00:00-04:00"
    assert response.json()["created_at"] == "2027-05-31T08:00:00-04:00"
