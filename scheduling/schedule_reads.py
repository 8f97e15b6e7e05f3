"""The slot engine's reads (`availability.load_schedule`), as SQL written once per database
and shape (how many practitioners and rooms) and bound to new values on every search.

Every slot search runs these four statements. Built through the ORM, each would be built and
compiled again on every search, which costs more than running it; and both drivers would
parse each datetime in Python as Django configures them. Here the instants come back as ISO
text written by the database and are parsed in C. The ORM's equivalents are in the tests
(tests/scheduling/test_schedule_reads.py), which compare both on the same rows.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection

from scheduling.models import (
    ACTIVE_STATUSES,
    Appointment,
    Clinic,
    Location,
    Practitioner,
    Room,
    TimeOff,
    WorkingHours,
)
from vendors.models import PmsBusy

Row = tuple
BusySpan = tuple[int | None, int | None, datetime.datetime, datetime.datetime]


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def dialect() -> str:
    """How rows come back: "postgresql-binary" (PostgreSQL with server-side binding: binary
    results, decoded in C), "postgresql" (text) or "sqlite" (text)."""
    if connection.vendor != "postgresql":
        return connection.vendor
    binding = connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")
    return "postgresql-binary" if binding else "postgresql"


def utc_text(column: str) -> str:
    """A datetime column as the statement reads it: as is where results are binary (an
    aware datetime), else as ISO 8601 text in UTC with its offset (`utc_instant` reads both)."""
    kind = dialect()
    if kind == "postgresql-binary":
        return column
    if kind == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
    return f"({column} || '+00:00')"  # SQLite stores "YYYY-MM-DD HH:MM:SS[.ffffff]" in UTC


def cursor() -> Any:
    """A cursor of the current connection, with binary results where the connection
    allows: psycopg then decodes each timestamp in C, several times faster than parsing
    text. Wrapped as Django wraps its own (errors, query log, query counts)."""
    if dialect() != "postgresql-binary":
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(connection.connection.cursor(binary=True))


def run(sql: str, params: Sequence) -> list[Row]:
    with cursor() as reading:
        reading.execute(sql, params)
        return reading.fetchall()


def utc_instant(value: datetime.datetime | str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) else value


def _time(value: datetime.time | str) -> datetime.time:
    return datetime.time.fromisoformat(value) if isinstance(value, str) else value


def _date(value: datetime.date | str | None) -> datetime.date | None:
    return datetime.date.fromisoformat(value) if isinstance(value, str) else value


# -- working hours ----------------------------------------------------------------------------


def working_hours(
    location_id: int, practitioner_ids: Sequence[int], first_day: datetime.date,
    last_day: datetime.date,
) -> list[tuple[int, int, datetime.time, datetime.time, int, str, datetime.date | None,
                datetime.date | None]]:  # fmt: skip
    """(practitioner_id, *WorkingHours.BLOCK_FIELDS) of the active practitioners' blocks at
    the location that may apply between the two days."""
    if not practitioner_ids:
        return []
    sql = _working_hours_sql(dialect(), len(practitioner_ids))
    adapt = connection.ops.adapt_datefield_value
    rows = run(sql, [location_id, *practitioner_ids, adapt(last_day), adapt(first_day)])
    return [
        (pid, weekday, _time(start), _time(end), interval, offer, _date(since), _date(until))
        for pid, weekday, start, end, interval, offer, since, until in rows
    ]


@functools.cache
def _working_hours_sql(kind: str, practitioners: int) -> str:
    hours, people = _table(WorkingHours), _table(Practitioner)
    fields = ", ".join(f"h.{_column(WorkingHours, name)}" for name in WorkingHours.BLOCK_FIELDS)
    since, until = _column(WorkingHours, "valid_from"), _column(WorkingHours, "valid_until")
    return (
        f"SELECT h.practitioner_id, {fields} FROM {hours} h "
        f"JOIN {people} p ON p.id = h.practitioner_id "
        f"WHERE h.location_id = %s AND h.practitioner_id IN ({_placeholders(practitioners)}) "
        f"AND p.{_column(Practitioner, 'active')} "
        f"AND (h.{since} IS NULL OR h.{since} <= %s) AND (h.{until} IS NULL OR h.{until} >= %s)"
    )


# -- time off and closures --------------------------------------------------------------------


def time_off(
    location_id: int, practitioner_ids: Sequence[int], window_start: datetime.datetime,
    window_end: datetime.datetime,
) -> list[tuple[int | None, datetime.datetime, datetime.datetime]]:  # fmt: skip
    """(practitioner_id or None for a closure of the location, start, end) meeting the
    window."""
    sql = _time_off_sql(dialect(), len(practitioner_ids))
    adapt = connection.ops.adapt_datetimefield_value
    rows = run(sql, [*practitioner_ids, location_id, adapt(window_start), adapt(window_end)])
    return [(pid, utc_instant(start), utc_instant(end)) for pid, start, end in rows]


@functools.cache
def _time_off_sql(kind: str, practitioners: int) -> str:
    start, end = _column(TimeOff, "start"), _column(TimeOff, "end")
    owned = "location_id = %s"
    if practitioners:
        owned = f"practitioner_id IN ({_placeholders(practitioners)}) OR {owned}"
    return (
        f"SELECT practitioner_id, {utc_text(start)}, {utc_text(end)} FROM {_table(TimeOff)} "
        f"WHERE ({owned}) AND {end} > %s AND {start} < %s"
    )


# -- rooms ------------------------------------------------------------------------------------


def rooms(location_id: int) -> list[tuple[int, bool, bool]]:
    """(room_id, is_overflow, the clinic allows overflow booking) of the location's active
    rooms: regular ones first, then by name."""
    return [
        (room_id, bool(overflow), bool(allowed))
        for room_id, overflow, allowed in run(_rooms_sql(dialect()), [location_id])
    ]


@functools.cache
def _rooms_sql(kind: str) -> str:
    overflow = _column(Room, "is_overflow")
    return (
        f"SELECT r.id, r.{overflow}, c.{_column(Clinic, 'allows_overflow_booking')} "
        f"FROM {_table(Room)} r JOIN {_table(Location)} l ON l.id = r.location_id "
        f"JOIN {_table(Clinic)} c ON c.id = l.clinic_id "
        f"WHERE r.location_id = %s AND r.{_column(Room, 'active')} "
        f"ORDER BY r.{overflow}, r.{_column(Room, 'name')}, r.id"
    )


# -- busy spans -------------------------------------------------------------------------------


def busy_spans(
    practitioner_ids: Sequence[int],
    room_ids: Sequence[int],
    after: datetime.datetime,
    ends_before: datetime.datetime,
    starts_before: datetime.datetime,
    exclude_appointment_id: int | None = None,
) -> list[BusySpan]:
    """(practitioner_id, room_id, start, end) of the busy spans of these practitioners or
    rooms ending after `after` and before `ends_before`, starting before `starts_before`:
    active appointments (their busy spans; overflow ones never count) and the time the PMS
    holds (DESIGN §8: its own appointments and blocks, counted like ours, without buffers),
    in one statement."""
    if not practitioner_ids and not room_ids:
        return []
    excluding = exclude_appointment_id is not None
    sql = _busy_spans_sql(dialect(), len(practitioner_ids), len(room_ids), excluding)
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(after), adapt(ends_before), adapt(starts_before)]
    owners = [*practitioner_ids, *room_ids]
    params = [*owners, *ACTIVE_STATUSES, *bounds]
    if excluding:
        params.append(exclude_appointment_id)
    rows = run(sql, [*params, *owners, *bounds])
    return [(pid, room, utc_instant(since), utc_instant(until)) for pid, room, since, until in rows]


@functools.cache
def _busy_spans_sql(kind: str, practitioners: int, rooms: int, excluding: bool) -> str:
    either = []
    if practitioners:
        either.append(f"practitioner_id IN ({_placeholders(practitioners)})")
    if rooms:
        either.append(f"room_id IN ({_placeholders(rooms)})")
    owned = f"({' OR '.join(either)})"
    busy_from, busy_until = _column(Appointment, "busy_from"), _column(Appointment, "busy_until")
    start, end = _column(PmsBusy, "start"), _column(PmsBusy, "end")
    return (
        f"SELECT practitioner_id, room_id, {utc_text(busy_from)}, {utc_text(busy_until)} "
        f"FROM {_table(Appointment)} WHERE {owned} "
        f"AND {_column(Appointment, 'status')} IN ({_placeholders(len(ACTIVE_STATUSES))}) "
        f"AND NOT {_column(Appointment, 'overflow')} "
        f"AND {busy_until} > %s AND {busy_until} < %s AND {busy_from} < %s"
        f"{' AND id <> %s' if excluding else ''} "
        f"UNION ALL SELECT practitioner_id, room_id, {utc_text(start)}, {utc_text(end)} "
        f"FROM {_table(PmsBusy)} WHERE {owned} "
        f"AND {end} > %s AND {end} < %s AND {start} < %s"
    )
