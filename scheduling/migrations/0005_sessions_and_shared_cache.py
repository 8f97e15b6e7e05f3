import django.db.models.deletion
from django.conf import settings
from django.core.management import call_command
from django.db import migrations, models

from scheduling import database_cache


def create_cache_tables(apps, schema_editor):
    """The database cache's table (CACHE_URL's default, dbcache://django_cache) and any other
    configured one, so that `migrate` stays the only set-up step; existing tables are kept."""
    call_command(
        "createcachetable",
        *sorted(database_cache.tables()),
        database=schema_editor.connection.alias,
        verbosity=0,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0004_practitioner_locations_help"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UserSession",
            fields=[
                (
                    "session_key",
                    models.CharField(
                        max_length=40, primary_key=True, serialize=False, verbose_name="session key"
                    ),
                ),
                ("session_data", models.TextField(verbose_name="session data")),
                ("expire_date", models.DateTimeField(db_index=True, verbose_name="expire date")),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty until someone signs in.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "session"},
        ),
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop, elidable=False),
    ]
