"""Querysets whose SQL is compiled once per process (per database and shape), for the few
look-ups every API request makes.

Django builds and compiles a queryset again on every call; for a scoped look-up by ID that
costs about twice what running it costs. `Prepared` builds the queryset once with stand-in
values, keeps the SQL, the columns it selects and the database's conversions of them, and on
each call binds the real values in their place, runs it and makes the model instances as the
ORM makes them (`Model.from_db`, the same conversions). Joined rows loaded with
select_related are made as the ORM makes them too, with its own populators: a delivery
worker's claim reads a delivery with five related records, whose SQL took 2.2 ms to compile.
A queryset that cannot be prepared so (a stand-in not found once in the parameters, an
annotation, a column that is not one of the model's own fields) is simply built and run by
the ORM each time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators

# Stand-ins for the values bound on each call: whole numbers no row has as an ID.
STAND_IN = -7_345_000_000
_UNPREPARED = object()


class Prepared:
    """`build(*values, *shape) -> QuerySet`; `values` are whole numbers (IDs) that change
    from call to call, `shape` anything that changes the SQL itself (e.g. whether the user
    is a superuser): one SQL text is kept per database vendor and shape."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._texts: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, values: Sequence[int], shape: tuple[Hashable, ...] = ()) -> list[Model]:
        text = self.text(len(values), shape)
        if text is _UNPREPARED:
            return list(self.build(*values, *shape))
        with connection.cursor() as cursor:
            cursor.execute(text.sql, text.params(values))
            rows = cursor.fetchall()
        return [text.instance(row) for row in rows]

    def read(self, values: Sequence[int], shape: tuple[Hashable, ...] = ()) -> Read | None:
        """This look-up as one read of `rows_of_each` (its rows made into instances), or
        None where it is not prepared or loads related records (run it on its own)."""
        text = self.text(len(values), shape)
        if type(text) is not _Text:
            return None
        fields = [text.model._meta.get_field(attname) for attname in text.attnames]
        types = [field.cast_db_type(connection) for field in fields]
        return Read(text.sql, text.params(values), types, text.instance)

    def text(self, count: int, shape: tuple[Hashable, ...]) -> Any:
        """The compiled look-up for this database and shape, or _UNPREPARED."""
        key = (connection.vendor, shape)
        text = self._texts.get(key)
        if text is None:
            with self._lock:
                text = self._texts.setdefault(key, self._prepare(count, shape))
        return text

    def _prepare(self, count: int, shape: tuple[Hashable, ...]) -> Any:
        stand_ins = [STAND_IN - index for index in range(count)]
        queryset = self.build(*stand_ins, *shape)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = []
        for param in params:
            if isinstance(param, int) and param in stand_ins:
                slots.append((stand_ins.index(param), None))
            else:
                slots.append((None, param))
        bound = sorted(slot for slot, _ in slots if slot is not None)
        if bound != list(range(count)):  # each stand-in exactly once
            return _UNPREPARED
        columns = [expression for expression, _, _ in compiler.select]
        converters = [
            (index, [*converters], expression)
            for index, (converters, expression) in compiler.get_converters(columns).items()
        ]
        if queryset.query.select_related:
            return _joined(queryset, compiler, sql, slots, converters)
        fields = [getattr(column, "target", None) for column in columns]
        own = {field.attname for field in queryset.model._meta.concrete_fields}
        if any(field is None or field.attname not in own for field in fields):
            return _UNPREPARED
        if queryset.model._meta.pk.attname not in {field.attname for field in fields}:
            return _UNPREPARED
        return _Text(
            model=queryset.model,
            sql=sql,
            slots=slots,
            attnames=[field.attname for field in fields],
            converters=converters,
        )


def _joined(queryset: QuerySet, compiler: Any, sql: str, slots: list, converters: list) -> Any:
    """A look-up with select_related, its instances made as Django's ModelIterable makes
    them: the model's columns, then each related record by its populator (which keeps no
    state of a row: one set serves every call)."""
    if compiler.annotation_col_map or queryset._known_related_objects:
        return _UNPREPARED
    klass_info, select = compiler.klass_info, compiler.select
    own = klass_info["select_fields"]
    return _JoinedText(
        model=klass_info["model"],
        sql=sql,
        slots=slots,
        attnames=[column[0].target.attname for column in select[own[0] : own[-1] + 1]],
        converters=converters,
        own=slice(own[0], own[-1] + 1),
        populators=get_related_populators(klass_info, select, connection.alias),
    )


@dataclasses.dataclass(frozen=True)
class _Text:
    """A prepared look-up: its SQL, where each bound value goes, and how a row becomes an
    instance (the model's field names, in the SELECT's order, and their conversions)."""

    model: type[Model]
    sql: str
    slots: list[tuple[int | None, Any]]
    attnames: list[str]
    converters: list[tuple[int, list[Callable], Any]]

    def params(self, values: Sequence[int]) -> list[Any]:
        return [values[slot] if slot is not None else constant for slot, constant in self.slots]

    def instance(self, row: Sequence[Any]) -> Model:
        return self.model.from_db(connection.alias, self.attnames, self.converted(row))

    def converted(self, row: Sequence[Any]) -> list[Any]:
        """The row's values as the database's and the fields' conversions leave them."""
        values = list(row)
        for index, converters, expression in self.converters:
            value = values[index]
            for convert in converters:
                value = convert(value, expression, connection)
            values[index] = value
        return values


@dataclasses.dataclass(frozen=True)
class _JoinedText(_Text):
    """A prepared look-up with select_related: the row holds the related records' columns
    after the model's own (`own`); run on its own, never joined by `first_of_each`."""

    own: slice
    populators: list[Any]

    def instance(self, row: Sequence[Any]) -> Model:
        values = self.converted(row)
        instance = self.model.from_db(connection.alias, self.attnames, values[self.own])
        for populator in self.populators:
            populator.populate(values, instance)
        return instance


# --- Several look-ups of one row each, in one statement ------------------------------------

Call = tuple[Prepared, Sequence[int], tuple[Hashable, ...]]
_TOGETHER: dict[tuple, str] = {}


def first_of_each(calls: Sequence[Call]) -> list[Model | None]:
    """The first row of each look-up (or None), all of them in one statement: each look-up's
    SQL is a derived table LEFT JOINed to one row, so the statement answers one row holding
    every look-up's columns, in their own types. An API request names its location,
    practitioner, appointment type and patient by ID: one round trip instead of four.
    A look-up that is not prepared runs on its own, as `Prepared.__call__` runs it."""
    texts = [prepared.text(len(values), shape) for prepared, values, shape in calls]
    joined = [index for index, text in enumerate(texts) if type(text) is _Text]
    found: list[Model | None] = [None] * len(calls)
    for index, (prepared, values, shape) in enumerate(calls):
        if type(texts[index]) is not _Text:
            rows = prepared(values, shape)
            found[index] = rows[0] if rows else None
    if len(joined) < 2:  # nothing to join: the look-up's own statement
        for index in joined:
            rows = calls[index][0](calls[index][1], calls[index][2])
            found[index] = rows[0] if rows else None
        return found
    key = (connection.vendor, *(id(texts[index]) for index in joined))
    sql = _TOGETHER.get(key)
    if sql is None:
        parts = " ".join(
            f"LEFT JOIN ({texts[index].sql}) AS part{index} ON 1 = 1" for index in joined
        )
        sql = _TOGETHER.setdefault(key, f"SELECT * FROM (SELECT 1 AS one) AS one_row {parts}")
    params = [param for index in joined for param in texts[index].params(calls[index][1])]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    start = 1  # after `one`
    for index in joined:
        text = texts[index]
        columns = row[start : start + len(text.attnames)]
        start += len(text.attnames)
        if columns[text.attnames.index(text.model._meta.pk.attname)] is not None:
            found[index] = text.instance(columns)
    return found


# --- Several reads of any number of rows, in one statement ---------------------------------


@dataclasses.dataclass(frozen=True)
class Read:
    """One read of `rows_of_each`: its SQL and parameters, the database type of each column
    it selects, and what each of its rows becomes."""

    sql: str
    params: Sequence[Any]
    types: Sequence[str]
    make: Callable[[Sequence[Any]], Any]

    @property
    def width(self) -> int:
        return len(self.types)


_UNIONS: dict[tuple, str] = {}


def rows_of_each(reads: Sequence[Read]) -> list[list[Any]]:
    """Every row of each read (made), all the reads in one statement: their UNION ALL, each
    read a derived table whose columns have places of their own in the row (NULL in the
    other reads' rows), after a first column that says which read the row is of. A
    booking's working hours, time off and PMS connection: one round trip instead of three.
    A read's rows come back in no particular order. PostgreSQL unites the branches two by
    two, so each NULL is cast to its column's type."""
    key = (connection.vendor, *((read.sql, *read.types) for read in reads))
    sql = _UNIONS.get(key)
    if sql is None:
        cast = connection.vendor == "postgresql"
        nulls = [
            f"CAST(NULL AS {type_})" if cast else "NULL" for read in reads for type_ in read.types
        ]
        branches, before = [], 0
        for index, read in enumerate(reads):
            columns = [str(index), *nulls[:before], f"part{index}.*", *nulls[before + read.width :]]
            branches.append(f"SELECT {', '.join(columns)} FROM ({read.sql}) AS part{index}")
            before += read.width
        sql = _UNIONS.setdefault(key, " UNION ALL ".join(branches))
    starts, start = [], 1  # after the read's number
    for read in reads:
        starts.append(start)
        start += read.width
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for read in reads for param in read.params])
        rows = cursor.fetchall()
    found: list[list[Any]] = [[] for _ in reads]
    for row in rows:
        index = row[0]
        read, first = reads[index], starts[index]
        found[index].append(read.make(row[first : first + read.width]))
    return found
