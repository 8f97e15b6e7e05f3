"""The PostgreSQL backend (scheduling/postgresql) reads timestamps with psycopg's C loader
and gets what Django's own loader gets: aware datetimes in UTC, to the microsecond."""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

from scheduling.errors import SlotConflict
from tests.factories import PractitionerFactory, WorkingHoursFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only"),
]
MOMENTS = [
    "2027-01-04 12:00:00+00",
    "2027-03-31 23:59:59.999999-03",  # an offset, microseconds
    "1999-12-31 23:30:00+05:30",
    "2027-10-31 01:30:00+01",
]


def read(sql: str, *, djangos: bool) -> list:
    with connection.cursor() as cursor:
        if djangos:

            class UtcLoader(BaseTzLoader):
                timezone = datetime.UTC

            cursor.cursor.adapters.register_loader("timestamptz", UtcLoader)
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def test_timestamps_read_as_djangos_loader_reads_them():
    sql = " UNION ALL ".join(f"SELECT '{moment}'::timestamptz" for moment in MOMENTS)

    ours, djangos = read(sql, djangos=False), read(sql, djangos=True)

    assert ours == djangos
    assert all(value.utcoffset() == datetime.timedelta(0) for value in ours)
    assert ours[1] == datetime.datetime(2027, 4, 1, 2, 59, 59, 999999, tzinfo=datetime.UTC)


def test_the_connection_uses_psycopgs_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text

    assert not issubclass(loader, BaseTzLoader)
    assert connection.uses_c_loader


@pytest.mark.skipif(
    not connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold"),
    reason="prepared statements off (client-side binding)",
)
def test_a_slot_search_run_again_is_prepared_once_on_the_connection(world):
    """Django turns psycopg's prepared statements off; settings turn them back on, so that
    PostgreSQL plans the slot engine's statement once per connection, not on every search."""

    def prepared() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            return [row[0] for row in cursor.fetchall()]

    before = len(prepared())
    for _ in range(connection.settings_dict["OPTIONS"]["prepare_threshold"] + 1):
        world.slots()

    new = prepared()[before:]
    assert any("UNION ALL" in statement for statement in new), new


@pytest.mark.skipif(
    not connection.settings_dict.get("OPTIONS", {}).get("prepare_threshold"),
    reason="prepared statements off (client-side binding)",
)
@pytest.mark.parametrize("clash", ["practitioner", "room"])
def test_a_booking_refused_for_a_clash_keeps_the_prepared_statements(world, clash):
    """psycopg forgets every statement prepared on the connection after a ROLLBACK (even to a
    savepoint): a refused booking must not roll back, or each conflict would have the
    connection's next searches planned afresh."""

    def prepared() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return cursor.fetchone()[0]

    world.book("09:00", room=world.rooms[0])
    for _ in range(connection.settings_dict["OPTIONS"]["prepare_threshold"] + 1):
        world.slots()
    before = prepared()
    other = {}
    if clash == "room":
        other["practitioner"] = PractitionerFactory(clinic=world.clinic)
        WorkingHoursFactory(practitioner=other["practitioner"], location=world.location)

    with pytest.raises(SlotConflict):
        world.book("09:00", room=world.rooms[0], patient=world.patients[1], **other)

    assert before > 0
    assert prepared() >= before


# --- The health check of a kept connection (CONN_HEALTH_CHECKS) ------------------------------


@pytest.fixture
def kept():
    """A connection of its own to the test database, as a web process keeps one."""
    from django.db import connections

    other = connections.create_connection("default")
    other.ensure_connection()
    yield other
    other.close()


def test_a_quiet_kept_connection_is_usable_without_a_round_trip(kept, monkeypatch):
    from django.db.backends.postgresql import base

    def round_trip(self):
        raise AssertionError("SELECT 1 sent")

    monkeypatch.setattr(base.DatabaseWrapper, "is_usable", round_trip)

    assert kept.is_usable()


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(kept):
    import time

    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while kept.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)

    assert not kept.is_usable()
    kept.health_check_enabled, kept.health_check_done = True, False
    kept.close_if_health_check_failed()  # what Django does as a request starts
    with kept.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
