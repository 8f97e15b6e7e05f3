"""The slot engine's reads (`availability.load_schedule`), as SQL written once per database
and shape (how many practitioners) and bound to new values on every search.

Four reads: working hours, time off and closures, rooms, busy spans; and, for an answer that
says how fresh the PMS's calendar is, a fifth: that calendar's last read. Every slot search
runs them as one statement (`schedule`, their `UNION ALL`): a round trip costs more than a
read.
Built through the ORM, each would be built and compiled again on every search, which costs
more than running it; and both drivers would parse each datetime in Python as Django
configures them. Here the instants come back as ISO text written by the database and parsed
in C, or as binary timestamps decoded in C (`dialect`). The ORM's equivalents are in the
tests (tests/scheduling/test_schedule_reads.py), which compare both on the same rows, and
the one statement with the four reads run alone.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import operator
from collections.abc import Callable, Sequence
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
from scheduling.prepared import Read
from vendors.models import CalendarPull, PmsBusy, VendorConnection

Row = tuple
# A read's columns and the rest of its statement (FROM ... WHERE ...).
Parts = tuple[list[str], str]
BusySpan = tuple[int | None, int | None, datetime.datetime, datetime.datetime]


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _column(model: type, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _select(columns: Sequence[str], tail: str) -> str:
    return f"SELECT {', '.join(columns)} {tail}"


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


def _working_hours_parts(kind: str, practitioners: int) -> Parts:
    hours, people = _table(WorkingHours), _table(Practitioner)
    fields = [f"h.{_column(WorkingHours, name)}" for name in WorkingHours.BLOCK_FIELDS]
    since, until = _column(WorkingHours, "valid_from"), _column(WorkingHours, "valid_until")
    return (
        ["h.practitioner_id", *fields],
        f"FROM {hours} h JOIN {people} p ON p.id = h.practitioner_id "
        f"WHERE h.location_id = %s AND h.practitioner_id IN ({_placeholders(practitioners)}) "
        f"AND p.{_column(Practitioner, 'active')} "
        f"AND (h.{since} IS NULL OR h.{since} <= %s) AND (h.{until} IS NULL OR h.{until} >= %s)",
    )


def _working_hours_params(
    location_id: int, practitioner_ids: Sequence[int], first_day: datetime.date,
    last_day: datetime.date,
) -> list:  # fmt: skip
    adapt = connection.ops.adapt_datefield_value
    return [location_id, *practitioner_ids, adapt(last_day), adapt(first_day)]


def _block(row: Row) -> tuple:
    pid, weekday, start, end, interval, offer, since, until = row
    return (pid, weekday, _time(start), _time(end), interval, offer, _date(since), _date(until))


# -- time off and closures --------------------------------------------------------------------


def time_off(
    location_id: int, practitioner_ids: Sequence[int], window_start: datetime.datetime,
    window_end: datetime.datetime,
) -> list[tuple[int | None, datetime.datetime, datetime.datetime]]:  # fmt: skip
    """(practitioner_id or None for a closure of the location, start, end) meeting the
    window."""
    read = time_off_read(location_id, practitioner_ids, window_start, window_end)
    return [read.make(row) for row in run(read.sql, read.params)]


def time_off_read(
    location_id: int, practitioner_ids: Sequence[int], window_start: datetime.datetime,
    window_end: datetime.datetime,
) -> Read:  # fmt: skip
    """`time_off` as a read `prepared.rows_of_each` can run with others."""
    kind = dialect()
    return Read(
        sql=_time_off_sql(kind, len(practitioner_ids)),
        params=_time_off_params(location_id, practitioner_ids, window_start, window_end),
        types=[_sql_type(kind, type_) for type_ in ("number", "instant", "instant")],
        make=_time_off_row,
    )


def _time_off_row(row: Sequence[Any]) -> tuple[int | None, datetime.datetime, datetime.datetime]:
    pid, start, end = row
    return pid, utc_instant(start), utc_instant(end)


def _time_off_params(
    location_id: int, practitioner_ids: Sequence[int], window_start: datetime.datetime,
    window_end: datetime.datetime,
) -> list:  # fmt: skip
    adapt = connection.ops.adapt_datetimefield_value
    return [*practitioner_ids, location_id, adapt(window_start), adapt(window_end)]


@functools.cache
def _time_off_sql(kind: str, practitioners: int) -> str:
    return _select(*_time_off_parts(kind, practitioners))


def _time_off_parts(kind: str, practitioners: int) -> Parts:
    start, end = _column(TimeOff, "start"), _column(TimeOff, "end")
    owned = "location_id = %s"
    if practitioners:
        owned = f"practitioner_id IN ({_placeholders(practitioners)}) OR {owned}"
    return (
        ["practitioner_id", utc_text(start), utc_text(end)],
        f"FROM {_table(TimeOff)} WHERE ({owned}) AND {end} > %s AND {start} < %s",
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
    columns, tail = _rooms_parts(kind)
    return _select(columns[:3], f"{tail} ORDER BY r.{overflow}, r.{_column(Room, 'name')}, r.id")


def _rooms_parts(kind: str) -> Parts:
    """(id, is_overflow, allowed, rank): the rank is the rooms' order, for a statement
    (`schedule`) that cannot sort them."""
    overflow = _column(Room, "is_overflow")
    order = f"r.{overflow}, r.{_column(Room, 'name')}, r.id"
    return (
        [
            "r.id",
            _as_number(f"r.{overflow}"),
            _as_number(f"c.{_column(Clinic, 'allows_overflow_booking')}"),
            f"ROW_NUMBER() OVER (ORDER BY {order})",
        ],
        f"FROM {_table(Room)} r JOIN {_table(Location)} l ON l.id = r.location_id "
        f"JOIN {_table(Clinic)} c ON c.id = l.clinic_id "
        f"WHERE r.location_id = %s AND r.{_column(Room, 'active')}",
    )


def _as_number(condition: str) -> str:
    return f"CASE WHEN {condition} THEN 1 ELSE 0 END"


# -- busy spans -------------------------------------------------------------------------------


def _location_busy_parts(kind: str, practitioners: int, excluding: bool) -> list[Parts]:
    """The busy spans of these practitioners and of the location's active regular rooms:
    our appointments' then the PMS's, each in two parts (the practitioners', then the rooms'
    not already theirs) so that each part can use its index, (practitioner_id, end) or
    (room_id, end)."""
    people = _placeholders(practitioners)
    room, appointment = _table(Room), _table(Appointment)
    in_room = (
        f"JOIN {room} r ON r.id = x.room_id WHERE r.location_id = %s "
        f"AND r.{_column(Room, 'active')} AND NOT r.{_column(Room, 'is_overflow')}"
    )
    busy_from, busy_until = _column(Appointment, "busy_from"), _column(Appointment, "busy_until")
    active = (
        f"AND x.{_column(Appointment, 'status')} IN ({_placeholders(len(ACTIVE_STATUSES))}) "
        f"AND NOT x.{_column(Appointment, 'overflow')} "
        f"AND x.{busy_until} > %s AND x.{busy_until} < %s AND x.{busy_from} < %s"
        f"{' AND x.id <> %s' if excluding else ''}"
    )
    start, end = _column(PmsBusy, "start"), _column(PmsBusy, "end")
    held = f"AND x.{end} > %s AND x.{end} < %s AND x.{start} < %s"
    ours = ["x.practitioner_id", "x.room_id", utc_text(f"x.{busy_from}"),
            utc_text(f"x.{busy_until}")]  # fmt: skip
    theirs = ["x.practitioner_id", "x.room_id", utc_text(f"x.{start}"), utc_text(f"x.{end}")]
    return [
        (ours, f"FROM {appointment} x WHERE x.practitioner_id IN ({people}) {active}"),
        (ours, f"FROM {appointment} x {in_room} AND x.practitioner_id NOT IN ({people}) {active}"),
        (theirs, f"FROM {_table(PmsBusy)} x WHERE x.practitioner_id IN ({people}) {held}"),
        (
            theirs,
            f"FROM {_table(PmsBusy)} x {in_room} "
            f"AND (x.practitioner_id IS NULL OR x.practitioner_id NOT IN ({people})) {held}",
        ),
    ]


def _location_busy_params(
    location_id: int, practitioner_ids: Sequence[int], after: datetime.datetime,
    ends_before: datetime.datetime, starts_before: datetime.datetime,
    exclude_appointment_id: int | None,
) -> list:  # fmt: skip
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(after), adapt(ends_before), adapt(starts_before)]
    ours = [*ACTIVE_STATUSES, *bounds]
    if exclude_appointment_id is not None:
        ours.append(exclude_appointment_id)
    return [
        *practitioner_ids, *ours,
        location_id, *practitioner_ids, *ours,
        *practitioner_ids, *bounds,
        location_id, *practitioner_ids, *bounds,
    ]  # fmt: skip


# -- the PMS's calendar -----------------------------------------------------------------------

PmsCalendar = tuple[str, datetime.datetime | None, str]


def pms_calendar_parts(kind: str) -> Parts:
    """(vendor, read_at, error) of the last read of the calendar of the PMS a location books
    into: the active connection of the location, else the clinic's (as
    `vendors.delivery.connection_serving` picks); no row without one. Parameters: the clinic,
    the location."""
    connections, pulls = _table(VendorConnection), _table(CalendarPull)
    read_at = _column(CalendarPull, "read_at")
    return (
        ["f.vendor", utc_text(f"f.{read_at}"), "f.error"],
        f"FROM (SELECT c.vendor, p.{read_at}, p.error FROM {connections} c "
        f"LEFT JOIN {pulls} p ON p.connection_id = c.id "
        "WHERE c.clinic_id = %s AND c.active AND (c.location_id = %s OR c.location_id IS NULL) "
        "ORDER BY c.location_id IS NULL, c.id LIMIT 1) f",
    )


def pms_calendar(clinic_id: int, location_id: int) -> PmsCalendar | None:
    """The PMS calendar's last read on its own (`schedule` reads it with the rest)."""
    rows = run(_pms_calendar_sql(dialect()), [clinic_id, location_id])
    return pms_calendar_row(rows[0]) if rows else None


@functools.cache
def _pms_calendar_sql(kind: str) -> str:
    return _select(*pms_calendar_parts(kind))


def pms_calendar_row(row: Row) -> PmsCalendar:
    vendor, read_at, error = row
    return (vendor, utc_instant(read_at) if read_at else None, error or "")


# -- the four in one statement ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class ScheduleRows:
    """The four reads' rows: working hours (practitioner_id, *WorkingHours.BLOCK_FIELDS) of
    the active practitioners' blocks at the location that may apply between the two days;
    time off and closures meeting the window (practitioner_id, or None for a closure of the
    location, start, end), as `time_off`; the location's active rooms, as `rooms`; the busy
    spans (practitioner_id, room_id, start, end) of these practitioners and of the location's
    active regular rooms ending after `after` and before `ends_before`, starting before
    `starts_before`: active appointments' (overflow ones never count) and the time the PMS
    holds (DESIGN §8: its own appointments and blocks, counted like ours, without buffers);
    when asked for, the last read of the PMS's calendar (`pms_calendar_parts`), None without
    a PMS."""

    working_hours: list[tuple]
    time_off: list[tuple[int | None, datetime.datetime, datetime.datetime]]
    rooms: list[tuple[int, bool, bool]]
    busy_spans: list[BusySpan]
    pms_calendar: PmsCalendar | None = None


def schedule(
    location_id: int,
    practitioner_ids: Sequence[int],
    *,
    first_day: datetime.date,
    last_day: datetime.date,
    window_start: datetime.datetime,
    window_end: datetime.datetime,
    after: datetime.datetime,
    ends_before: datetime.datetime,
    starts_before: datetime.datetime,
    exclude_appointment_id: int | None = None,
    pms_calendar_of_clinic: int | None = None,
) -> ScheduleRows:
    """The four reads in one statement, their `UNION ALL`: each row says which read it
    belongs to, in columns wide enough for all (`_LAYOUT`). With `pms_calendar_of_clinic`
    (the location's clinic), the PMS calendar's last read too."""
    calendar = pms_calendar_of_clinic is not None
    if not practitioner_ids:
        found = ScheduleRows([], [], rooms(location_id), [])
        if calendar:
            found = dataclasses.replace(
                found, pms_calendar=pms_calendar(pms_calendar_of_clinic, location_id)
            )
        return found
    excluding = exclude_appointment_id is not None
    sql = _schedule_sql(dialect(), len(practitioner_ids), excluding, calendar)
    params = [
        *_working_hours_params(location_id, practitioner_ids, first_day, last_day),
        *_time_off_params(location_id, practitioner_ids, window_start, window_end),
        location_id,
        *_location_busy_params(
            location_id, practitioner_ids, after, ends_before, starts_before,
            exclude_appointment_id,
        ),
        *([pms_calendar_of_clinic, location_id] if calendar else []),
    ]  # fmt: skip
    found = ScheduleRows([], [], [], [])
    busy_spans, time_off = found.busy_spans, found.time_off
    ranked: list[tuple[int, tuple[int, bool, bool]]] = []
    calendar_read: PmsCalendar | None = None
    # Where results are binary the instants are datetimes already; else ISO text.
    instant = utc_instant if dialect() != "postgresql-binary" else None
    # A busy day returns hundreds of rows: each is read with its read's C item getter.
    for row in run(sql, params):
        read = row[0]
        if read == _BUSY:
            span = _BUSY_OF(row)
            if instant is not None:
                span = (span[0], span[1], instant(span[2]), instant(span[3]))
            busy_spans.append(span)
        elif read == _HOURS:
            found.working_hours.append(_block(_HOURS_OF(row)))
        elif read == _TIME_OFF:
            pid, start, end = _TIME_OFF_OF(row)
            time_off.append((pid, utc_instant(start), utc_instant(end)))
        elif read == _ROOMS:
            room_id, overflow, allowed, rank = _ROOMS_OF(row)
            ranked.append((rank, (room_id, bool(overflow), bool(allowed))))
        else:
            calendar_read = pms_calendar_row(_PMS_CALENDAR_OF(row))
    found.rooms.extend(room for _, room in sorted(ranked))
    return dataclasses.replace(found, pms_calendar=calendar_read) if calendar else found


_HOURS, _TIME_OFF, _ROOMS, _BUSY, _PMS_CALENDAR = range(5)
# The statement's columns after the read's number, and what type each holds: a NULL in one
# must still have that type for PostgreSQL to unite them.
_LAYOUT = (
    ("owner", "number"), ("other", "number"), ("weekday", "number"), ("interval", "number"),
    ("opens", "time"), ("closes", "time"), ("offer", "text"), ("valid_from", "date"),
    ("valid_until", "date"), ("since", "instant"), ("until", "instant"), ("note", "text"),
)  # fmt: skip
_SLOT = {name: index for index, (name, _) in enumerate(_LAYOUT)}
_HOURS_SLOTS = ("owner", "weekday", "opens", "closes", "interval", "offer", "valid_from",
                "valid_until")  # fmt: skip
_TIME_OFF_SLOTS = ("owner", "since", "until")
_ROOMS_SLOTS = ("owner", "weekday", "interval", "other")
_BUSY_SLOTS = ("owner", "other", "since", "until")
_PMS_CALENDAR_SLOTS = ("offer", "since", "note")


def _columns_of(slots: Sequence[str]) -> Callable[[Row], tuple]:
    """The read's values from a row of the statement (after the read's number)."""
    return operator.itemgetter(*(1 + _SLOT[name] for name in slots))


_HOURS_OF = _columns_of(_HOURS_SLOTS)
_TIME_OFF_OF = _columns_of(_TIME_OFF_SLOTS)
_ROOMS_OF = _columns_of(_ROOMS_SLOTS)
_BUSY_OF = _columns_of(_BUSY_SLOTS)
_PMS_CALENDAR_OF = _columns_of(_PMS_CALENDAR_SLOTS)


def _sql_type(kind: str, type_: str) -> str:
    sql_type = {"number": "bigint", "time": "time", "text": "text", "date": "date",
                "instant": "timestamptz" if kind == "postgresql-binary" else "text"}  # fmt: skip
    return sql_type[type_]


def _null(kind: str, type_: str) -> str:
    if kind == "sqlite":
        return "NULL"
    return f"CAST(NULL AS {_sql_type(kind, type_)})"


def _laid_out(kind: str, read: int, slots: Sequence[str], parts: Parts) -> str:
    columns, tail = parts
    placed = dict(zip(slots, columns, strict=True))
    values = [placed.get(name) or _null(kind, type_) for name, type_ in _LAYOUT]
    return f"SELECT {read}, {', '.join(values)} {tail}"


@functools.cache
def _schedule_sql(kind: str, practitioners: int, excluding: bool, calendar: bool) -> str:
    busy = _location_busy_parts(kind, practitioners, excluding)
    parts = [
        _laid_out(kind, _HOURS, _HOURS_SLOTS, _working_hours_parts(kind, practitioners)),
        _laid_out(kind, _TIME_OFF, _TIME_OFF_SLOTS, _time_off_parts(kind, practitioners)),
        _laid_out(kind, _ROOMS, _ROOMS_SLOTS, _rooms_parts(kind)),
        *(_laid_out(kind, _BUSY, _BUSY_SLOTS, part) for part in busy),
    ]
    if calendar:
        parts.append(_laid_out(kind, _PMS_CALENDAR, _PMS_CALENDAR_SLOTS, pms_calendar_parts(kind)))
    return " UNION ALL ".join(parts)
