"""Django's PostgreSQL backend, reading timestamps in C.

Django registers a loader of its own for `timestamptz` (text results): psycopg's loader
plus a Python call per value to set the time zone. Reading the busy spans of a two-week slot
search (3,500 timestamps) took 18.6 ms that way and 2.9 ms with psycopg's own C loader,
which gives the same aware UTC datetimes once the session's time zone is UTC (Django sets
it so with USE_TZ). This backend registers psycopg's loader on each connection and skips
Django's per-cursor check for a differing zone, which only matters for a database whose
TIME_ZONE differs from UTC (not ours: `uses_c_loader`).

Its compilers remember the SQL of one-row inserts (scheduling/inserts.py).

It also checks a kept connection's health (CONN_HEALTH_CHECKS, before each request reuses
it) without a round trip: see `is_usable`.
"""

import datetime
import select

from django.db.backends.postgresql import base, operations
from django.utils.asyncio import async_unsafe
from psycopg.types.datetime import TimestamptzLoader

from scheduling.inserts import InsertsRemembered


class DatabaseOperations(InsertsRemembered, operations.DatabaseOperations):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def is_usable(self) -> bool:
        """Django sends `SELECT 1` before every request that reuses a connection: one round
        trip more for every API call (a search makes three). An idle connection receives
        nothing unasked, so a quiet socket is a usable one; a server that restarts or ends
        the session sends its reason and closes, which makes the socket readable, and only
        then is Django's `SELECT 1` asked to decide. A server that vanished without a word
        fails the request either way (the `SELECT 1` would wait on it as the query does)."""
        if self.connection is None or self.connection.closed:
            return False
        # poll, not select: a process with more than 1,024 open files has descriptors
        # select cannot watch.
        watch = select.poll()
        try:
            watch.register(self.connection.fileno(), select.POLLIN)
            readable = bool(watch.poll(0))
        except (OSError, ValueError):
            return False
        return super().is_usable() if readable else True

    @property
    def uses_c_loader(self) -> bool:
        return self.timezone == datetime.UTC

    def get_new_connection(self, conn_params: dict) -> object:
        connection = super().get_new_connection(conn_params)
        if self.uses_c_loader:
            connection.adapters.register_loader("timestamptz", TimestamptzLoader)
        return connection

    @async_unsafe
    def create_cursor(self, name: str | None = None) -> object:
        if not self.uses_c_loader:
            return super().create_cursor(name)
        if not name:
            return self.connection.cursor()
        # A server-side cursor (QuerySet.iterator()), made as Django makes it.
        if self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            return base.ServerSideCursor(
                self.connection, name=name, scrollable=False, withhold=self.connection.autocommit
            )
        return self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)
