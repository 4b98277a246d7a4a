"""The deposit terms' version each buyer accepted. On SQLite adding the column rebuilds the
table: the triggers naming it are made again (0002), as in 0006."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")


class Migration(migrations.Migration):
    dependencies = [("reservations", "0006_reservation_client_key")]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AddField(
            model_name="reservation",
            name="terms_version",
            field=models.CharField(
                blank=True, max_length=40, verbose_name="deposit terms accepted"
            ),
        ),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
