"""A litter's page says how many families wait on its list and whether the list is full: every
change to a waiting-list entry moves the catalogue's version on (catalogue 0006), so the
litter pages served from the cache are never stale.

The same triggers as 0006's tables. A later migration that rebuilds this table on SQLite
drops them: it calls `drop_on_sqlite` first and `create_on_sqlite` after, as 0006 says."""

import importlib

from django.db import migrations

version = importlib.import_module("kennel.catalogue.migrations.0006_catalogue_version_triggers")

TABLE = "reservations_waitlistentry"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(version._pg_triggers(TABLE))
    else:
        create_on_sqlite(apps, schema_editor)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                f"DROP TRIGGER IF EXISTS {TABLE}_bumps_catalogue_version ON {TABLE};"
                f"DROP TRIGGER IF EXISTS {TABLE}_truncate_bumps_catalogue_version ON {TABLE};"
            )
    else:
        drop_on_sqlite(apps, schema_editor)


def drop_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in version._sqlite_drops(TABLE):
            schema_editor.execute(statement)


def create_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in version._sqlite_triggers(TABLE):
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0007_litter_waiting_list"),
        ("reservations", "0010_waiting_lists_and_pick_turns"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
