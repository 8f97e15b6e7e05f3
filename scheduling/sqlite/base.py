"""Django's SQLite backend, with inserts of one row remembered (scheduling/inserts.py)."""

from django.db.backends.sqlite3 import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    compiler_module = "scheduling.sqlite.compiler"


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
