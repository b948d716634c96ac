from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0008_instance_chain_seats")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="label",
            field=models.CharField(blank=True, default="", help_text="what its holder named it (portal)", max_length=64),
        ),
    ]
