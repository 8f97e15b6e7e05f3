"""One-row inserts compiled once (scheduling.inserts) send what Django's compiler sends."""

import datetime
import uuid

import pytest
from django.db import connection
from django.db.models import F, Value
from django.db.models.constants import OnConflict
from django.db.models.functions import Concat, Upper
from django.db.models.sql import InsertQuery
from django_tasks_db.models import DBTaskResult

from scheduling.inserts import RememberedInsert
from scheduling.models import Appointment, AppointmentEvent, AuditEvent, Patient
from tests.factories import AppointmentFactory, PatientFactory
from vendors.models import ExternalId

pytestmark = pytest.mark.django_db

MOMENT = datetime.datetime(2027, 1, 4, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def nothing_remembered(monkeypatch):
    monkeypatch.setattr(RememberedInsert, "_texts", {})
    monkeypatch.setattr("django.utils.timezone.now", lambda: MOMENT)


def ours() -> type:
    return connection.ops.compiler("SQLInsertCompiler")


def djangos() -> type:
    return next(cls for cls in ours().__mro__ if cls.__module__.startswith("django."))


def compile_insert(compiler: type, *objs, **conflict) -> list:
    """The statements `Model.save()` would send for `objs` (one row each, or in bulk); with
    `conflict` (on_conflict, update_fields, unique_fields), those of `bulk_create`."""
    meta = objs[0]._meta
    fields = [field for field in meta.local_concrete_fields if not field.generated]
    if objs[0].pk is None:
        fields = [field for field in fields if field is not meta.auto_field]
    query = InsertQuery(type(objs[0]), **conflict)
    query.insert_values(fields, list(objs))
    insert = compiler(query, connection, "default")
    insert.returning_fields = meta.db_returning_fields
    return [(sql, [_comparable(param) for param in params]) for sql, params in insert.as_sql()]


def _comparable(param: object) -> object:
    """psycopg's JSON wrapper compares by identity; its value is what is sent."""
    return ("json", param.obj, param.dumps) if hasattr(param, "dumps") else param


def appointment() -> Appointment:
    return Appointment(
        clinic_id=3, location_id=4, practitioner_id=5, room_id=6, patient_id=7,
        appointment_type_id=8, start=MOMENT, end=MOMENT + datetime.timedelta(minutes=30),
        busy_from=MOMENT, busy_until=MOMENT + datetime.timedelta(minutes=40),
        modality="in_person", comment="Molar", urgent=True,
    )  # fmt: skip


ROWS = {
    "appointment": appointment,
    "appointment event": lambda: AppointmentEvent(
        appointment_id=9, action="booked", to_status="unconfirmed", details={"start": "x"}
    ),
    "audit row, JSON": lambda: AuditEvent(
        at=MOMENT,
        user_id=None,
        username="",
        action="viewed",
        object_type="scheduling.patient",
        object_id="12",
        changes={"name": ["a", "b"], "n": 1},
    ),
    "task, its own UUID key": lambda: DBTaskResult(
        id=uuid.UUID(int=7),
        args_kwargs={"args": [1], "kwargs": {}},
        priority=0,
        task_path="vendors.tasks.send_delivery",
        queue_name="default",
        backend_name="default",
    ),
}


@pytest.mark.parametrize("make", ROWS.values(), ids=ROWS.keys())
def test_a_row_is_sent_as_django_sends_it_the_first_time_and_every_time_after(make):
    expected = compile_insert(djangos(), make())

    assert compile_insert(ours(), make()) == expected  # compiled by Django, remembered
    assert compile_insert(ours(), make()) == expected  # from what was remembered
    assert len(RememberedInsert._texts) == 1


def test_the_values_are_the_new_rows_not_the_remembered_ones():
    compile_insert(ours(), appointment())
    other = appointment()
    other.comment, other.patient_id = "Canine", 70

    assert compile_insert(ours(), other) == compile_insert(djangos(), other)


def test_auto_now_still_stamps_each_row(monkeypatch):
    compile_insert(ours(), appointment())
    later = MOMENT + datetime.timedelta(hours=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    row = appointment()

    compile_insert(ours(), row)

    assert row.created_at == row.updated_at == later


@pytest.mark.parametrize(
    "expression", [Upper(Value("molar")), Concat(Value("a"), Value("b"))], ids=["upper", "concat"]
)
def test_an_expression_is_compiled_by_django_each_time(expression):
    compile_insert(ours(), appointment())
    row = appointment()
    row.comment = expression

    sql, _params = compile_insert(ours(), row)[0]

    assert "UPPER" in sql.upper() or "||" in sql or "CONCAT" in sql.upper()
    assert compile_insert(ours(), row) == compile_insert(djangos(), row)


def test_an_expression_the_first_time_is_not_remembered():
    row = appointment()
    row.comment = Upper(Value("molar"))

    compile_insert(ours(), row)

    assert RememberedInsert._texts == {}
    assert compile_insert(ours(), appointment()) == compile_insert(djangos(), appointment())


def test_several_rows_are_left_to_django():
    rows = [appointment(), appointment()]

    assert compile_insert(ours(), *rows) == compile_insert(djangos(), *rows)
    assert RememberedInsert._texts == {}


def test_rows_written_through_the_orm_read_back_as_written():
    """End to end on this database: create, bulk_create, an F() update refused on insert."""
    first = AppointmentFactory(comment="first")
    second = AppointmentFactory(comment="second")
    patients = Patient.objects.bulk_create(
        [PatientFactory.build(clinic=first.clinic), PatientFactory.build(clinic=first.clinic)]
    )

    stored = Appointment.objects.in_bulk([first.pk, second.pk])
    assert (stored[first.pk].comment, stored[second.pk].comment) == ("first", "second")
    assert stored[second.pk].patient_id == second.patient_id
    assert Patient.objects.filter(pk__in=[p.pk for p in patients]).count() == 2
    with pytest.raises(ValueError, match="F\\(\\) expressions can only be used to update"):
        AppointmentEvent.objects.create(appointment=first, action="booked", to_status=F("id"))


def test_an_insert_updating_on_conflict_is_remembered_with_its_clause():
    def mapping(external_id: str) -> ExternalId:
        return ExternalId(
            connection_id=2, content_type_id=3, object_id=4, role="", external_id=external_id
        )

    meta = ExternalId._meta
    conflict = {
        "on_conflict": OnConflict.UPDATE,
        "update_fields": [meta.get_field("external_id")],
        "unique_fields": [meta.get_field(name) for name in ("connection", "content_type",
                                                            "object_id", "role")],
    }  # fmt: skip
    plain = compile_insert(ours(), mapping("A-1"))  # another statement: kept apart

    for external_id in ("A-1", "B-2"):
        expected = compile_insert(djangos(), mapping(external_id), **conflict)
        assert compile_insert(ours(), mapping(external_id), **conflict) == expected
    assert "ON CONFLICT" in expected[0][0].upper()
    assert plain != expected
    assert len(RememberedInsert._texts) == 2
