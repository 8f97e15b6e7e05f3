"""Look-ups compiled once (scheduling.prepared) find what the ORM finds, for every user."""

import datetime

import pytest
from rest_framework.test import APIClient

from scheduling import schedule_reads
from scheduling.api import fields
from scheduling.api.fields import _all_visible, _call, visible_record
from scheduling.models import Appointment, Patient, WorkingHours
from scheduling.prepared import STAND_IN, Prepared, first_of_each, rows_of_each
from scheduling.selectors import (
    visible_appointment_types,
    visible_appointments,
    visible_locations,
    visible_practitioners,
)
from tests.factories import (
    ClinicMembershipFactory,
    DeliveryFactory,
    PractitionerFactory,
    TimeOffFactory,
    UserFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY
from vendors import delivery
from vendors.models import Delivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    mine, theirs = PractitionerFactory(), PractitionerFactory()
    retired = PractitionerFactory(clinic=mine.clinic, active=False)
    member = UserFactory()
    ClinicMembershipFactory(user=member, clinic=mine.clinic)
    return mine, theirs, retired, member


@pytest.mark.parametrize("superuser", [False, True])
def test_a_prepared_look_up_finds_what_the_orm_finds(people, superuser):
    mine, theirs, retired, member = people
    member.is_superuser = superuser
    member.save()

    for practitioner in (mine, theirs, retired):
        expected = visible_practitioners(member).filter(pk=practitioner.pk).first()
        found = visible_record(visible_practitioners, member, practitioner.pk)
        assert found == expected
        if found is not None:  # the same fields, converted the same way
            assert found.__dict__.keys() >= {"given_name", "active", "clinic_id"}
            assert (found.given_name, found.active) == (expected.given_name, expected.active)
    assert visible_record(visible_practitioners, member, mine.pk) == mine
    assert (visible_record(visible_practitioners, member, theirs.pk) == theirs) is superuser


def test_no_one_signed_in_or_an_impossible_id_finds_nothing(people):
    from django.contrib.auth.models import AnonymousUser

    mine, _, _, member = people

    assert visible_record(visible_practitioners, AnonymousUser(), mine.pk) is None
    assert visible_record(visible_practitioners, member, 0) is None
    member.is_active = False
    assert visible_record(visible_practitioners, member, mine.pk) is None


def test_the_queryset_is_built_once_per_shape(people, django_assert_num_queries):
    mine, theirs, _, member = people
    built = []

    def build(user_pk, pk):
        built.append((user_pk, pk))
        return visible_practitioners(type(member)(pk=user_pk, is_active=True)).filter(pk=pk)[:1]

    lookup = Prepared(build)
    with django_assert_num_queries(2):
        assert lookup([member.pk, mine.pk]) == [mine]
        assert lookup([member.pk, theirs.pk]) == []
    assert len(built) == 1  # with stand-ins, never with the real values
    assert built[0][0] < 0


def fields_of(instance) -> dict:
    return {name: value for name, value in instance.__dict__.items() if name != "_state"}


def joined_rows(delivery_id: int):
    return Delivery.objects.select_related(
        "connection__clinic", "appointment__location", "appointment__room", "appointment__patient"
    ).filter(pk=delivery_id)


@pytest.mark.parametrize("room", [True, False], ids=["in a room", "no room (a null join)"])
def test_joined_rows_are_made_as_the_orm_makes_them(world, room, django_assert_num_queries):
    appointment = world.book("09:00")
    if not room:
        Appointment.objects.filter(pk=appointment.pk).update(room=None)
    delivery = DeliveryFactory(appointment=appointment)
    lookup = Prepared(joined_rows)
    lookup([STAND_IN])  # compiled

    with django_assert_num_queries(1):
        (found,) = lookup([delivery.pk])
        related = [
            found.connection, found.connection.clinic, found.appointment,
            found.appointment.location, found.appointment.room, found.appointment.patient,
        ]  # fmt: skip
    expected = joined_rows(delivery.pk).get()

    assert fields_of(found) == fields_of(expected)
    if room:
        assert fields_of(related[4]) == fields_of(expected.appointment.room)
    else:
        assert related[4] is None and expected.appointment.room is None
    for mine, theirs in zip(
        [related[0], related[1], related[2], related[3], related[5]],
        [expected.connection, expected.connection.clinic, expected.appointment,
         expected.appointment.location, expected.appointment.patient],
        strict=True,
    ):  # fmt: skip
        assert type(mine) is type(theirs)
        assert fields_of(mine) == fields_of(theirs)
    assert lookup([2**62]) == []


def test_a_visible_appointment_is_read_with_its_joined_rows(people, world):
    appointment = world.book("09:00")
    member = UserFactory()
    ClinicMembershipFactory(user=member, clinic=world.clinic)

    found = visible_record(visible_appointments, member, appointment.pk)

    assert found == appointment
    assert "location" in found._state.fields_cache  # select_related kept


def test_the_api_compiles_each_look_up_once_however_many_requests(world, receptionist):
    """Each request's serializer fields are new objects: their look-ups must still be the
    ones compiled for the first request, not one more kept per request."""
    api = APIClient()
    api.force_authenticate(receptionist)
    names = {"location": world.location.pk, "practitioner": world.practitioner.pk,
             "appointment_type": world.appointment_type.pk}  # fmt: skip
    booking = {**names, "patient": world.patients[0].pk, "start": f"{MONDAY}T09:00:00-03:00"}

    def requests() -> None:
        assert api.get("/api/v1/availability/", {**names, "date_from": MONDAY}).status_code == 200
        api.post("/api/v1/appointments/", booking, format="json")

    requests()
    compiled = dict(fields._LOOKUPS)
    for _ in range(3):
        requests()

    kept = dict(fields._LOOKUPS)
    assert kept == compiled


# --- Several look-ups in one statement ------------------------------------------------------


def test_look_ups_run_together_find_what_each_finds_alone(world, django_assert_num_queries):
    """Found and not found, of several models, one of them left to the ORM (select_related),
    in one statement for the prepared ones."""
    member = UserFactory()
    ClinicMembershipFactory(user=member, clinic=world.clinic)
    other = PractitionerFactory()
    appointment = world.book("09:00")
    asked = [
        (visible_locations, world.location.pk),
        (visible_practitioners, other.pk),  # another clinic's: not found
        (visible_practitioners, world.practitioner.pk),
        (visible_appointment_types, world.appointment_type.pk),
        (_all_visible(Patient), world.patients[0].pk),
        (visible_appointments, appointment.pk),  # select_related: run on its own
        (visible_locations, 2**62),
    ]
    alone = [visible_record(visible, member, pk) for visible, pk in asked]

    with django_assert_num_queries(2):
        together = first_of_each([_call(visible, member, pk) for visible, pk in asked])

    assert together == alone
    assert together[1] is None and together[-1] is None
    assert None not in together[2:-1]
    for mine, theirs in zip(together, alone, strict=True):
        if mine is not None:
            assert mine.__dict__.keys() == theirs.__dict__.keys()
            assert {k: v for k, v in mine.__dict__.items() if k != "_state"} == {
                k: v for k, v in theirs.__dict__.items() if k != "_state"
            }


def test_a_request_looks_its_references_up_in_one_statement(world, receptionist):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = APIClient()
    api.force_authenticate(receptionist)
    names = {"location": world.location.pk, "practitioner": world.practitioner.pk,
             "appointment_type": world.appointment_type.pk}  # fmt: skip
    with CaptureQueriesContext(connection) as captured:
        answer = api.get("/api/v1/availability/", {**names, "date_from": MONDAY})

    assert answer.status_code == 200
    look_ups = [q["sql"] for q in captured if "one_row" in q["sql"]]
    assert len(look_ups) == 1
    assert len(captured) == 2  # the references; the schedule with the PMS calendar's last read


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"practitioner": 2**62}, "practitioner"),
        ({"appointment_type": 2**62}, "appointment_type"),
        ({"location": 2**62}, "location"),
    ],
)
def test_a_reference_naming_nothing_is_its_fields_error_with_the_others(
    world, receptionist, change, field
):
    api = APIClient()
    api.force_authenticate(receptionist)
    query = {"location": world.location.pk, "practitioner": world.practitioner.pk,
             "appointment_type": world.appointment_type.pk, "date_from": "someday"}  # fmt: skip

    answer = api.get("/api/v1/availability/", {**query, **change})

    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {field, "date_from"}
    assert list(errors) == [name for name in query if name in errors]  # the fields' order


# --- Several reads of any number of rows in one statement -----------------------------------


def _fields(record):
    return {key: value for key, value in record.__dict__.items() if key != "_state"}


def test_reads_run_together_find_what_each_finds_alone(world, django_assert_num_queries):
    """Several rows, one row and none, of models and of a raw read with instants, each read's
    values in its own types: what the booking's rules read (scheduling.booking._reads)."""
    WorkingHoursFactory(
        practitioner=world.practitioner, location=world.location, weekday=2,
        start_time=datetime.time(14, 0), end_time=datetime.time(18, 0),
    )  # fmt: skip
    away = TimeOffFactory(practitioner=world.practitioner)
    closed = TimeOffFactory(practitioner=None, location=world.location)
    connection = VendorConnectionFactory(clinic=world.clinic)
    hours = Prepared(lambda pk: WorkingHours.objects.filter(practitioner_id=pk))
    window = (away.start - datetime.timedelta(days=1), closed.end + datetime.timedelta(days=1))
    ids = (world.location.pk, [world.practitioner.pk], *window)
    reads = [
        hours.read([world.practitioner.pk]),
        schedule_reads.time_off_read(*ids),
        delivery.SERVING.read([world.location.pk, world.clinic.pk]),
        hours.read([2**62]),
    ]

    with django_assert_num_queries(1):
        blocks, time_off, candidates, nobody = rows_of_each(reads)

    alone = list(WorkingHours.objects.filter(practitioner=world.practitioner))
    assert len(alone) >= 2
    assert sorted(map(_fields, blocks), key=str) == sorted(map(_fields, alone), key=str)
    assert sorted(time_off, key=str) == sorted(schedule_reads.time_off(*ids), key=str)
    assert {(pid, start) for pid, start, _ in time_off} == {
        (world.practitioner.pk, away.start), (None, closed.start),
    }  # fmt: skip
    stored = type(connection).objects.get(pk=connection.pk)
    assert [_fields(found) for found in candidates] == [_fields(stored)]
    assert candidates[0].secrets == connection.secrets
    assert nobody == []


def test_reads_left_to_the_orm_are_not_offered_to_run_together(world):
    joined = Prepared(lambda pk: Appointment.objects.filter(pk=pk).select_related("practitioner"))
    assert joined.read([world.book("09:00").pk]) is None
