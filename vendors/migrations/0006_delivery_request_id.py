from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("vendors", "0005_translatable_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="request_id",
            field=models.CharField(
                blank=True, editable=False, max_length=64, verbose_name="request ID"
            ),
        ),
    ]
