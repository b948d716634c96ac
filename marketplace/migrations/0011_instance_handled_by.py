# The process carrying an instance through its current step (instantiating, terminating), so the worker can
# recover a step whose process died (config.steps); an index for the worker's look for such steps.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0010_provenance_seq_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="nsinstance",
            name="handled_by",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddIndex(
            model_name="nsinstance",
            index=models.Index(fields=["state", "updated_at"], name="instance_state"),
        ),
    ]
