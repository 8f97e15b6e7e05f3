import django.db.models.deletion
from django.db import migrations, models

from scheduling import patient_search

BATCH = 2000

# Text columns compared code point by code point on PostgreSQL, as SQLite's BINARY does:
# a word's prefix range and the order of results are then the same on both databases,
# whatever the database's own collation (en_US and the like skip spaces when comparing).
# An AlterField of these columns must keep COLLATE "C".
BINARY_COLUMNS = [
    ("scheduling_patientsearchterm", "value", 80),
    ("scheduling_patientsearchterm", "sort_name", 100),
    ("scheduling_patient", "family_name_folded", 160),
    ("scheduling_patient", "given_name_folded", 160),
]


def collate_binary(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    quote = schema_editor.quote_name
    for table, column, length in BINARY_COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} "
            f'TYPE varchar({length}) COLLATE "C"'
        )


def index_patients(apps, schema_editor) -> None:
    """Every existing patient's folded names and search terms, a batch at a time."""
    Patient = apps.get_model("scheduling", "Patient")
    PatientSearchTerm = apps.get_model("scheduling", "PatientSearchTerm")
    patients = Patient.objects.using(schema_editor.connection.alias).order_by("pk")
    terms = PatientSearchTerm.objects.using(schema_editor.connection.alias)
    last = 0
    while batch := list(patients.filter(pk__gt=last)[:BATCH]):
        for patient in batch:
            family, given = patient_search.folded_names(patient)
            patient.family_name_folded, patient.given_name_folded = family, given
        patients.bulk_update(batch, ["family_name_folded", "given_name_folded"])
        terms.bulk_create(
            PatientSearchTerm(
                clinic_id=patient.clinic_id,
                patient_id=patient.pk,
                kind=kind,
                value=value,
                sort_name=patient_search.sort_name(
                    patient.family_name_folded, patient.given_name_folded
                ),
            )
            for patient in batch
            for kind, value in sorted(patient_search.patient_terms(patient))
        )
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0007_languages")]

    operations = [
        migrations.CreateModel(
            name="PatientSearchTerm",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.PositiveSmallIntegerField(
                        choices=[
                            (1, "word of the patient's name"),
                            (2, "national ID"),
                            (3, "phone digits, last first"),
                            (4, "word of the guardian's name"),
                            (5, "guardian's phone digits, last first"),
                        ]
                    ),
                ),
                ("value", models.CharField(max_length=80)),
                ("sort_name", models.CharField(max_length=100)),
                (
                    "clinic",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="scheduling.clinic",
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="search_terms",
                        to="scheduling.patient",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="patient",
            name="family_name_folded",
            field=models.CharField(default="", editable=False, max_length=160),
        ),
        migrations.AddField(
            model_name="patient",
            name="given_name_folded",
            field=models.CharField(default="", editable=False, max_length=160),
        ),
        migrations.RunPython(collate_binary, migrations.RunPython.noop),
        # Filled before the indexes exist: one index build instead of a row-by-row update.
        migrations.RunPython(index_patients, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(
                fields=["clinic", "birth_date", "family_name_folded"],
                name="patient_same_birth_date",
            ),
        ),
        migrations.AddIndex(
            model_name="patientsearchterm",
            index=models.Index(
                fields=["clinic", "kind", "value", "patient", "sort_name"],
                name="patient_search_term",
            ),
        ),
    ]
