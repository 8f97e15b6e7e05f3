import django.db.models.deletion
from django.db import migrations, models

from scheduling.cancel_reasons import POSITION_STEP, default_labels


def add_default_reasons(apps, schema_editor):
    """Every existing clinic starts with the default reasons, in its language
    (scheduling.cancel_reasons.ensure_default_reasons does the same for new clinics)."""
    Clinic = apps.get_model("scheduling", "Clinic")
    CancelReason = apps.get_model("scheduling", "CancelReason")
    reasons = []
    for clinic in Clinic.objects.iterator():
        labels = default_labels(kind=clinic.kind, language=clinic.language)
        reasons += [
            CancelReason(clinic=clinic, label=label, position=POSITION_STEP * number)
            for number, label in enumerate(labels, start=1)
        ]
    CancelReason.objects.bulk_create(reasons, batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0008_patient_search_keys")]

    operations = [
        migrations.CreateModel(
            name="CancelReason",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("label", models.CharField(max_length=120, verbose_name="label")),
                (
                    "active",
                    models.BooleanField(
                        default=True,
                        help_text="Only active reasons are offered when cancelling.",
                        verbose_name="active",
                    ),
                ),
                (
                    "position",
                    models.PositiveSmallIntegerField(
                        default=0,
                        help_text="Reasons are offered from the lowest number up.",
                        verbose_name="position",
                    ),
                ),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cancel_reasons",
                        to="scheduling.clinic",
                        verbose_name="clinic",
                    ),
                ),
            ],
            options={
                "verbose_name": "cancellation reason",
                "verbose_name_plural": "cancellation reasons",
                "ordering": ["position", "label"],
                "indexes": [
                    models.Index(
                        fields=["clinic", "position"], name="cancel_reason_clinic_position"
                    )
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("clinic", "label"),
                        name="cancel_reason_label_unique_per_clinic",
                        violation_error_message="This clinic already has a cancellation "
                        "reason with this label.",
                    )
                ],
            },
        ),
        migrations.RunPython(add_default_reasons, migrations.RunPython.noop),
    ]
