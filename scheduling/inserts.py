"""Inserts of one row whose SQL is written once per process (per database, model, columns).

`Model.save()` and `QuerySet.create()` have Django compile an INSERT on every call: quote
the table and every column, build a placeholder per value, assemble the clauses. For the
rows a booking writes (the appointment, its event, its delivery and task, the audit row)
that text is the same every time; only the values differ. `RememberedInsert` lets Django
compile it the first time, keeps the text, and from then on only takes each field's value
(`Field.pre_save`, so auto_now still stamps) and converts it for the database
(`Field.get_db_prep_save`), exactly as Django's compiler does for a plain value.

An insert of one row that updates on conflict (`bulk_create([row], update_conflicts=True)`)
is remembered with its conflict clause. Everything else is left to Django: several rows, no
fields, raw saves, a field with its own placeholder (`get_placeholder`, e.g. BinaryField)
and a value that is an expression (F(), Now(), a subquery). The database backends
(scheduling/postgresql, scheduling/sqlite) use it through `InsertsRemembered`.
"""

from __future__ import annotations

import functools
from collections.abc import Hashable
from typing import Any, ClassVar


class InsertsRemembered:
    """Mixin for a backend's DatabaseOperations: its insert compiler is Django's with
    `RememberedInsert`; its other compilers are Django's."""

    def compiler(self, compiler_name: str) -> type:
        found = super().compiler(compiler_name)
        return _remembering(found) if compiler_name == "SQLInsertCompiler" else found


@functools.cache
def _remembering(compiler: type) -> type:
    return type(compiler.__name__, (RememberedInsert, compiler), {"__module__": __name__})


class RememberedInsert:
    """Mixin for a backend's SQLInsertCompiler."""

    _texts: ClassVar[dict[Hashable, tuple[str, tuple[Any, ...]]]] = {}

    def as_sql(self) -> list[tuple[str, tuple[Any, ...]]]:
        query = self.query
        if len(query.objs) != 1 or not query.fields or query.raw:
            return super().as_sql()
        fields = tuple(query.fields)
        obj = query.objs[0]
        key = (
            self.connection.vendor,
            query.model,
            fields,
            tuple(self.returning_fields or ()),
            query.on_conflict,
            tuple(query.update_fields or ()),
            tuple(query.unique_fields or ()),
        )
        remembered = self._texts.get(key)
        if remembered is None or any(_is_expression(getattr(obj, f.attname)) for f in fields):
            return self._compile_and_remember(key, fields, obj)
        values = [field.pre_save(obj, add=True) for field in fields]
        if any(_is_expression(value) for value in values):
            return super().as_sql()
        sql, self.returning_params = remembered
        params = [
            field.get_db_prep_save(value, connection=self.connection)
            for field, value in zip(fields, values, strict=True)
        ]
        return [(sql, (*params, *self.returning_params))]

    def _compile_and_remember(
        self, key: Hashable, fields: tuple, obj: Any
    ) -> list[tuple[str, tuple[Any, ...]]]:
        compiled = super().as_sql()
        plain = len(compiled) == 1 and not any(
            hasattr(field, "get_placeholder") or _is_expression(getattr(obj, field.attname))
            for field in fields
        )
        if plain:
            self._texts[key] = (compiled[0][0], tuple(self.returning_params))
        return compiled


def _is_expression(value: object) -> bool:
    return hasattr(value, "resolve_expression")
