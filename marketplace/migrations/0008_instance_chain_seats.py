# Seats held on chain per instance and those to close, the notice shown when the chain says the licence no longer covers an
# instance, and seat counters keyed by licence alone (a renewal kept the old key's agreement hash part
# and so started a fresh count): existing keys lose that part and the counters are rebuilt from the
# live instances' units.

from django.db import migrations, models

LIVE = ("instantiating", "running", "terminating")


def key_by_licence(apps, schema_editor):
    NsInstance = apps.get_model("marketplace", "NsInstance")
    taken = {}
    for instance in NsInstance.objects.exclude(seat_key=""):
        parts = instance.seat_key.split(":")
        if len(parts) > 2:
            instance.seat_key = ":".join(parts[:2])
            instance.save(update_fields=["seat_key"])
        if instance.state in LIVE:
            taken[instance.seat_key] = taken.get(instance.seat_key, 0) + max(int(instance.units or 1), 1)
    counters = schema_editor.connection.database["licence_seats"]
    counters.delete_many({})
    for key, used in taken.items():
        counters.insert_one({"_id": key, "used": used})


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
            name="seats_to_close",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="nsinstance",
            name="licence_notice",
            field=models.TextField(blank=True),
        ),
        migrations.RunPython(key_by_licence, migrations.RunPython.noop),
    ]
