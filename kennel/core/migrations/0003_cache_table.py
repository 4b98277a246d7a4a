"""The database cache's table (CACHES, default `dbcache://kennel_cache`): django-ratelimit's
counters live there, shared by every web process. Made by migrate, so it exists wherever the
database does; nothing is made for a cache server (CACHE_URL=redis://…)."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("core", "0002_sideeffect")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
