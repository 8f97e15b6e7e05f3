from django.db import migrations

from scheduling import database_cache


def unlogged(apps, schema_editor):
    database_cache.set_unlogged(schema_editor)


def logged(apps, schema_editor):
    database_cache.set_unlogged(schema_editor, unlogged=False)


class Migration(migrations.Migration):
    """On PostgreSQL the database cache's tables are UNLOGGED: see scheduling/database_cache.py."""

    dependencies = [("scheduling", "0010_translatable_labels")]

    operations = [migrations.RunPython(unlogged, logged, elidable=False)]
