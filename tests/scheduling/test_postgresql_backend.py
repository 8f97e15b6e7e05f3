"""The PostgreSQL backend (scheduling/postgresql) reads timestamps with psycopg's C loader
and gets what Django's own loader gets: aware datetimes in UTC, to the microsecond."""

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader

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
