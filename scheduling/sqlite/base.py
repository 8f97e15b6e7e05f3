"""Django's SQLite backend, with inserts of one row remembered (scheduling/inserts.py)."""

from django.db.backends.sqlite3 import base, operations

from scheduling.inserts import InsertsRemembered


class DatabaseOperations(InsertsRemembered, operations.DatabaseOperations):
    pass


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
