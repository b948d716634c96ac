# Seats held on chain per instance, and the notice shown when the chain says the licence no longer covers it.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0007_unique_version_per_uploader"),
    ]

    operations = [
        migrations.AddField(
            model_name="nsinstance",
            name="chain_seats",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="nsinstance",
            name="licence_notice",
            field=models.TextField(blank=True),
        ),
    ]
