"""Querysets whose SQL is compiled once per process (per database and shape), for the few
look-ups every API request makes.

Django builds and compiles a queryset again on every call; for a scoped look-up by ID that
costs about twice what running it costs. `Prepared` builds the queryset once with stand-in
values, keeps the SQL, and on each call binds the real values in their place and runs it
with `Model.objects.raw` (the same model instances, the same field conversions). A queryset
that cannot be prepared so (a stand-in not found once in the parameters, joined rows loaded
with select_related) is simply built and run by the ORM each time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model, QuerySet

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
        key = (connection.vendor, shape)
        text = self._texts.get(key)
        if text is None:
            with self._lock:
                text = self._texts.setdefault(key, self._prepare(len(values), shape))
        if text is _UNPREPARED:
            return list(self.build(*values, *shape))
        model, sql, slots = text
        params = [values[slot] if slot is not None else constant for slot, constant in slots]
        return list(model.objects.raw(sql, params))

    def _prepare(self, count: int, shape: tuple[Hashable, ...]) -> Any:
        stand_ins = [STAND_IN - index for index in range(count)]
        queryset = self.build(*stand_ins, *shape)
        if queryset.query.select_related:
            return _UNPREPARED
        sql, params = queryset.query.sql_with_params()
        slots = []
        for param in params:
            if isinstance(param, int) and param in stand_ins:
                slots.append((stand_ins.index(param), None))
            else:
                slots.append((None, param))
        bound = sorted(slot for slot, _ in slots if slot is not None)
        if bound != list(range(count)):  # each stand-in exactly once
            return _UNPREPARED
        return queryset.model, sql, slots
