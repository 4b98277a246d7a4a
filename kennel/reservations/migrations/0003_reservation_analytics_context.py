"""The conversion reports' context on a reservation (issue 4).

SQLite adds these NOT NULL columns by rebuilding the table, which its triggers (0002) refuse:
they name the table. So on SQLite the triggers are dropped around the change and made again,
with the very statements of 0002; on PostgreSQL those two steps do nothing.
"""

import importlib

from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0002_puppy_reservation_triggers"),
    ]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AddField(
            model_name="reservation",
            name="analytics_consent",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="reservation",
            name="ga_client_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="reservation",
            name="fbp",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="reservation",
            name="fbc",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="reservation",
            name="client_ip",
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="reservation",
            name="client_user_agent",
            field=models.CharField(blank=True, max_length=512),
        ),
        migrations.AddField(
            model_name="reservation",
            name="event_source_url",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
