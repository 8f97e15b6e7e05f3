"""Django's compilers, with inserts of one row remembered (scheduling/inserts.py)."""

from django.db.models.sql import compiler
from django.db.models.sql.compiler import (
    SQLAggregateCompiler,
    SQLCompiler,
    SQLDeleteCompiler,
    SQLUpdateCompiler,
)

from scheduling.inserts import RememberedInsert

__all__ = [
    "SQLAggregateCompiler",
    "SQLCompiler",
    "SQLDeleteCompiler",
    "SQLInsertCompiler",
    "SQLUpdateCompiler",
]


class SQLInsertCompiler(RememberedInsert, compiler.SQLInsertCompiler):
    pass
