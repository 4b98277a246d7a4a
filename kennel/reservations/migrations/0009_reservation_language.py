"""The language the buyer reserved in (their emails are written in it). A plain ADD COLUMN
with a default on both databases, but wrapped like 0006-0008 all the same, for SQLite rebuilds
a table whenever it cannot simply add a column (see 0002)."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")


class Migration(migrations.Migration):
    dependencies = [("reservations", "0008_reservation_price_amount")]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AddField(
            model_name="reservation",
            name="language",
            field=models.CharField(blank=True, max_length=16, verbose_name="buyer's language"),
        ),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
