"""The price agreed when the puppy was reserved (the balance at pickup is counted from it).
Nullable: a plain ADD COLUMN on both databases, but wrapped like 0006 all the same, for SQLite
rebuilds a table whenever it cannot simply add a column (see 0002)."""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")


class Migration(migrations.Migration):
    dependencies = [("reservations", "0007_reservation_terms_version")]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AddField(
            model_name="reservation",
            name="price_amount",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True),
        ),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
