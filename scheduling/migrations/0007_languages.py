import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0006_audit_trail"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="clinic",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("en", "English"), ("es", "Español"), ("fr", "Français")],
                help_text=(
                    "The desk's language for users who have not chosen their own "
                    "(blank: each browser's language)."
                ),
                max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="UserPreferences",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "language",
                    models.CharField(
                        blank=True,
                        choices=[("en", "English"), ("es", "Español"), ("fr", "Français")],
                        help_text="Blank: the clinic's language.",
                        max_length=8,
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        blank=True,
                        help_text=(
                            "The clinic the desk opens in after signing in (blank: the first)."
                        ),
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="scheduling.clinic",
                        verbose_name="home clinic",
                    ),
                ),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="preferences",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"verbose_name": "user preferences", "verbose_name_plural": "user preferences"},
        ),
    ]
