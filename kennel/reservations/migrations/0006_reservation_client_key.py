"""Who asked for a hold, as a keyed hash (reservations/limits.py), for the hold limits. On
SQLite adding the column rebuilds the table: the triggers naming it are made again (0002)."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")


class Migration(migrations.Migration):
    dependencies = [("reservations", "0005_reservation_notes_erasure_owner_reasons")]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AddField(
            model_name="reservation",
            name="client_key",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
