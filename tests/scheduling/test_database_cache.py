"""The database's shared cache (scheduling/database_cache.py, CACHE_URL unset): each write one
statement, the same rows as Django's own backend reads and writes, `add` and `touch` as
Django's, the table culled over MAX_ENTRIES. On SQLite and, with DATABASE_URL, PostgreSQL."""

import datetime

import pytest
from django.core.cache.backends.base import CacheKeyWarning
from django.core.cache.backends.db import DatabaseCache as DjangosCache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from scheduling import cache_config, database_cache
from scheduling.database_cache import DatabaseCache
from scheduling.models import Clinic
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ours(**options) -> DatabaseCache:
    return DatabaseCache("django_cache", {"OPTIONS": options})


def djangos() -> DjangosCache:
    return DjangosCache("django_cache", {})


def rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM django_cache")
        return cursor.fetchone()[0]


def cache_statements(captured: CaptureQueriesContext) -> list[str]:
    return [query["sql"].split()[0] for query in captured if "django_cache" in query["sql"]]


@pytest.fixture(autouse=True)
def _empty_table():
    djangos().clear()
    yield
    djangos().clear()


def test_settings_give_this_backend_for_the_default_url_with_a_table_sized_limit():
    config = cache_config.from_url("")

    assert config["BACKEND"] == "scheduling.database_cache.DatabaseCache"
    assert config["OPTIONS"]["MAX_ENTRIES"] == cache_config.DATABASE_MAX_ENTRIES
    assert cache_config.from_url("dbcache://django_cache?max_entries=50")["OPTIONS"] == {
        "MAX_ENTRIES": 50
    }


def test_a_write_is_one_statement_and_the_table_is_counted_once_every_cull_every():
    cache = ours()

    with CaptureQueriesContext(connection) as captured:
        for number in range(database_cache.CULL_EVERY + 1):
            cache.set(f"key-{number}", number)

    statements = cache_statements(captured)
    assert statements.count("INSERT") == database_cache.CULL_EVERY + 1
    assert statements.count("SELECT") == 2  # the first write and the (CULL_EVERY + 1)th
    assert len(statements) == database_cache.CULL_EVERY + 3
    assert "BEGIN" not in " ".join(query["sql"] for query in captured)


@pytest.mark.parametrize(
    ("writer", "reader"), [(ours, djangos), (djangos, ours)], ids=["ours→django", "django→ours"]
)
def test_rows_are_django_s_own(writer, reader):
    value = {"history": [1.5, 2.25], "name": "Ñuñoa"}
    writer().set("shared", value, 60)
    writer().set("replaced", "old", 60)
    writer().set("replaced", "new", 60)
    writer().set("forever", 7, None)

    assert reader().get_many(["shared", "replaced", "forever"]) == {
        "shared": value,
        "replaced": "new",
        "forever": 7,
    }
    assert rows() == 3


def test_an_expired_value_is_gone():
    cache = ours()
    cache.set("brief", 1, -1)

    assert cache.get("brief", "absent") == "absent"


@pytest.mark.parametrize("cache", [ours, djangos], ids=["ours", "django"])
def test_add_keeps_a_live_value_and_replaces_an_expired_one(cache):
    assert cache().add("absent", "first", 60) is True
    assert cache().add("absent", "second", 60) is False
    cache().set("stale", "old", -1)
    assert cache().add("stale", "fresh", 60) is True

    assert djangos().get_many(["absent", "stale"]) == {"absent": "first", "stale": "fresh"}


@pytest.mark.parametrize("cache", [ours, djangos], ids=["ours", "django"])
def test_touch_moves_the_expiry_of_a_stored_key_only(cache):
    cache().set("kept", 1, 1)

    assert cache().touch("kept", 3600) is True
    assert cache().touch("missing", 3600) is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT expires FROM django_cache")
        (expires,) = cursor.fetchone()
    if isinstance(expires, str):
        expires = datetime.datetime.fromisoformat(expires)
    if timezone.is_naive(expires):  # SQLite's, in UTC
        expires = expires.replace(tzinfo=datetime.UTC)
    assert expires > timezone.now() + datetime.timedelta(minutes=59)


def test_over_max_entries_the_expired_rows_go_first_then_a_share_of_the_rest():
    for number in range(5):
        djangos().set(f"old-{number}", number, -1)
    for number in range(8):
        djangos().set(f"live-{number}", number, 60)

    ours(MAX_ENTRIES=10, CULL_FREQUENCY=2).set("one-more", 1, 60)  # counts 13 rows first

    assert rows() == 9  # 8 live ones are not over 10: only the 5 expired ones went
    for number in range(10):
        djangos().set(f"more-{number}", number, 60)

    ours(MAX_ENTRIES=10, CULL_FREQUENCY=2).set("last", 1, 60)  # counts 19 live rows

    assert rows() == 19 - 19 // 2 + 1


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite takes a key of any length"
)  # fmt: skip
def test_a_failed_write_inside_a_transaction_leaves_the_transaction_usable():
    with transaction.atomic():
        ClinicFactory(name="Kept")

        with pytest.warns(CacheKeyWarning):
            assert ours().add("k" * 300, 1) is False  # longer than the column's 255

        assert Clinic.objects.filter(name="Kept").exists()
    assert Clinic.objects.filter(name="Kept").exists()


def persistence(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's unlogged tables")
def test_on_postgresql_migrate_leaves_the_cache_table_unlogged_and_it_can_be_logged_again():
    assert persistence("django_cache") == "u"  # "u": unlogged, "p": logged

    with connection.schema_editor() as editor:
        database_cache.set_unlogged(editor, unlogged=False)
    assert persistence("django_cache") == "p"

    with connection.schema_editor() as editor:
        database_cache.set_unlogged(editor)
    assert persistence("django_cache") == "u"
    ours().set("after", 1, 60)
    assert ours().get("after") == 1


@pytest.mark.skipif(connection.vendor == "postgresql", reason="the other databases' case")
def test_elsewhere_making_the_tables_unlogged_alters_nothing():
    with CaptureQueriesContext(connection) as captured, connection.schema_editor() as editor:
        database_cache.set_unlogged(editor)
    assert not [query["sql"] for query in captured if "ALTER" in query["sql"]]
