"""Django's database cache (the default shared cache, CACHE_URL unset), writing a key in one
statement.

Django's `set`, `add` and `touch` count the whole table first (`SELECT COUNT(*)`, to cull it
when over MAX_ENTRIES), then open a transaction to read the key's row and update or insert
it: five statements, each a round trip to PostgreSQL. The API's throttle writes one key on
every request, so a search spent more of its statements on the cache than on the search.
Here a write is one statement: an insert that updates the row already there
(`ON CONFLICT … DO UPDATE`, which PostgreSQL and SQLite both speak); `add` updates only a
row that has expired, as Django's does. The table is counted once every CULL_EVERY writes
of a cache client instead of on each, so it may pass MAX_ENTRIES by that many rows between
two counts; the cull itself is Django's (expired rows first, then a share of the rest).
Reads are Django's own.

On PostgreSQL the cache's tables are UNLOGGED (`set_unlogged`, run by migration 0011): a write
goes to no write-ahead log, so it waits for no flush to disk. In a logged table every
throttle-log write of the API committed like a booking, a disk flush per request: a write
took 0.45-0.64 ms logged and 0.21-0.31 ms unlogged here (median of 300, alternating).
What an unlogged table gives up suits a cache: after a crash of the database
(not a clean restart) it starts empty, and a standby does not hold it, so throttle counts,
sign-in lock-outs and API tokens kept for a minute start over.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import pickle
from typing import Any

from django.conf import settings
from django.core.cache.backends import db
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

# Writes of one cache client between two counts of the table.
CULL_EVERY = 100
VENDORS = ("postgresql", "sqlite")
DEFAULT_TABLE = "django_cache"  # CACHE_URL's default, dbcache://django_cache


def tables() -> set[str]:
    """The database caches' tables: CACHE_URL's default and any other configured one."""
    from django.core.cache import caches

    configured = {
        caches[alias]._table
        for alias in settings.CACHES
        if isinstance(caches[alias], db.BaseDatabaseCache)
    }
    return {DEFAULT_TABLE, *configured}


def set_unlogged(schema_editor: Any, *, unlogged: bool = True) -> None:
    """Makes the cache tables unlogged (or logged again) on PostgreSQL; elsewhere nothing."""
    if schema_editor.connection.vendor != "postgresql":
        return
    persistence = "UNLOGGED" if unlogged else "LOGGED"
    for table in sorted(tables()):
        name = schema_editor.quote_name(table)
        schema_editor.execute(f"ALTER TABLE IF EXISTS {name} SET {persistence}")


class DatabaseCache(db.DatabaseCache):
    _until_count = 0  # writes of this client before it counts the table again

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        key = self.make_and_validate_key(key, version=version)
        self._write("set", key, value, timeout)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._write("add", key, value, timeout)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        key = self.make_and_validate_key(key, version=version)
        return self._write("touch", key, None, timeout)

    def _write(self, mode: str, key: str, value: Any, timeout: Any) -> bool:
        """Django's `_base_set(mode, …)` in one statement."""
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        if connection.vendor not in VENDORS:
            return self._base_set(mode, key, value, timeout)
        now = timezone.now().replace(microsecond=0)
        if self._until_count <= 0:
            self._count_and_cull(alias, now)
            self._until_count = CULL_EVERY
        self._until_count -= 1
        sql, params = self._statement(connection, mode, key, value, timeout, now=now)
        # Inside a transaction, a failed write must not break it (Django's does the same).
        guard = transaction.atomic(using=alias) if connection.in_atomic_block else None
        try:
            with guard or contextlib.nullcontext(), connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount == 1
        except DatabaseError:
            return False  # as Django's: a write that races another may fail quietly

    def _statement(
        self, connection: Any, mode: str, key: str, value: Any, timeout: Any, *,
        now: datetime.datetime,
    ) -> tuple[str, list]:  # fmt: skip
        quote = connection.ops.quote_name
        table = quote(self._table)
        expires = connection.ops.adapt_datetimefield_value(self._expires(timeout))
        if mode == "touch":
            return (
                f"UPDATE {table} SET {quote('expires')} = %s WHERE {quote('cache_key')} = %s",
                [expires, key],
            )
        pickled = pickle.dumps(value, self.pickle_protocol)
        encoded = base64.b64encode(pickled).decode("latin1")
        sql = (
            f"INSERT INTO {table} ({quote('cache_key')}, {quote('value')}, {quote('expires')}) "
            f"VALUES (%s, %s, %s) ON CONFLICT ({quote('cache_key')}) DO UPDATE SET "
            f"{quote('value')} = excluded.{quote('value')}, "
            f"{quote('expires')} = excluded.{quote('expires')}"
        )
        params = [key, encoded, expires]
        if mode == "add":  # only over a row that has expired
            sql += f" WHERE {table}.{quote('expires')} < %s"
            params.append(connection.ops.adapt_datetimefield_value(now))
        return sql, params

    def _expires(self, timeout: Any) -> datetime.datetime:
        seconds = self.get_backend_timeout(timeout)
        if seconds is None:
            moment = datetime.datetime.max  # noqa: DTZ901 (Django's own "never")
        else:
            zone = datetime.UTC if settings.USE_TZ else None
            moment = datetime.datetime.fromtimestamp(seconds, tz=zone)
        return moment.replace(microsecond=0)

    def _count_and_cull(self, alias: str, now: datetime.datetime) -> None:
        table = connections[alias].ops.quote_name(self._table)
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            rows = cursor.fetchone()[0]
            if rows > self._max_entries:
                self._cull(alias, cursor, now, rows)
