"""Database guards against overlapping active appointments (DESIGN §4 rule 1).

PostgreSQL: exclusion constraints over time ranges (btree_gist). SQLite: triggers, which run
inside the IMMEDIATE write transaction every booking takes. Both abort with the guard's
name, which the booking service turns into a conflict answer.
"""

from django.db import migrations

TABLE = "scheduling_appointment"
# No busy span is longer than this (a visit lies in one day's hours, buffers are capped): the
# triggers' look-up becomes a bounded range scan of the (resource, end) indexes.
MAX_SPAN_DAYS = 2
ACTIVE = "('unconfirmed', 'confirmed', 'arrived', 'completed')"

# name, column, range start, range end, extra row condition
GUARDS = [
    ("appointment_no_practitioner_overlap", "practitioner_id", "busy_from", "busy_until",
     "NOT {row}.overflow"),
    ("appointment_no_room_overlap", "room_id", "busy_from", "busy_until",
     "NOT {row}.overflow AND {row}.room_id IS NOT NULL"),
    ("appointment_no_patient_overlap", "patient_id", "start", '"end"', "TRUE"),
]  # fmt: skip


def postgres_sql() -> list[tuple[str, str]]:
    statements = [("CREATE EXTENSION IF NOT EXISTS btree_gist", "")]
    for name, column, lower, upper, condition in GUARDS:
        where = condition.format(row=TABLE)
        statements.append(
            (
                f"ALTER TABLE {TABLE} ADD CONSTRAINT {name} EXCLUDE USING gist "
                f"({column} WITH =, tstzrange({lower}, {upper}, '[)') WITH &&) "
                f"WHERE (status IN {ACTIVE} AND {where})",
                f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {name}",
            )
        )
    return statements


def sqlite_sql() -> list[tuple[str, str]]:
    statements = []
    for name, column, lower, upper, condition in GUARDS:
        for event, same_row in (("INSERT", ""), ("UPDATE", "AND other.id != NEW.id")):
            trigger = f"{name}_{event.lower()}"
            statements.append(
                (
                    f"""
                    CREATE TRIGGER {trigger} BEFORE {event} ON {TABLE}
                    WHEN NEW.status IN {ACTIVE} AND {condition.format(row="NEW")}
                    BEGIN
                        SELECT RAISE(ABORT, '{name}') WHERE EXISTS (
                            SELECT 1 FROM {TABLE} AS other
                            WHERE other.{column} = NEW.{column}
                              AND other.status IN {ACTIVE}
                              AND {condition.format(row="other")}
                              AND other.{upper} > NEW.{lower}
                              AND other.{upper} < datetime(NEW.{upper}, '+{MAX_SPAN_DAYS} days')
                              AND other.{lower} < NEW.{upper}
                              {same_row}
                        );
                    END
                    """,
                    f"DROP TRIGGER IF EXISTS {trigger}",
                )
            )
    return statements


def statements_for(vendor: str) -> list[tuple[str, str]]:
    return {"postgresql": postgres_sql, "sqlite": sqlite_sql}.get(vendor, list)()


def install(apps, schema_editor):
    for forward, _ in statements_for(schema_editor.connection.vendor):
        schema_editor.execute(forward)


def uninstall(apps, schema_editor):
    for _, backward in reversed(statements_for(schema_editor.connection.vendor)):
        if backward:
            schema_editor.execute(backward)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
