"""The catalogue's version: one counter that every committed change to what the public pages
show moves on, bumped by the database itself (kennel/catalogue/cache.py reads it).

Triggers rather than calls in the code: a puppy changes status in the reservation services'
conditional UPDATEs, in the admin, in load_demo, in raw SQL and in code not written yet; the
database sees them all. On PostgreSQL the bump is a DEFERRABLE INITIALLY DEFERRED constraint
trigger: it runs at COMMIT, so the counter's row is locked only for the instant of the commit
(concurrent holds on different puppies do not queue behind each other for their whole
transaction), once per transaction (a transaction-local flag), and never for an UPDATE that
matched no row (a lost race). SQLite serialises its writers anyway: a plain row trigger.

A table that SQLite rebuilds (AlterField and friends) loses its triggers: a later migration
that does so wraps itself in `drop_on_sqlite` / `create_on_sqlite`, as
reservations/migrations/0002 documents for its own.
"""

from django.db import migrations

# Everything the catalogue, the puppy pages, the parents and the breeder's pages read.
TABLES = (
    "catalogue_puppy",
    "catalogue_puppyphoto",
    "catalogue_litter",
    "catalogue_dog",
    "catalogue_dogphoto",
    "catalogue_page",
)

CREATE_TABLE = """
CREATE TABLE catalogue_version (
    id integer PRIMARY KEY CHECK (id = 1),
    value bigint NOT NULL
)
"""
INSERT_ROW = "INSERT INTO catalogue_version (id, value) VALUES (1, 1)"

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kennel_catalogue_version_bump() RETURNS trigger AS $$
BEGIN
    -- Once per transaction: its later rows would only bump the same commit again.
    IF TG_LEVEL = 'ROW' THEN
        IF current_setting('kennel.catalogue_version_bumped', true) = 'on' THEN
            RETURN NULL;
        END IF;
        PERFORM set_config('kennel.catalogue_version_bumped', 'on', true);
    END IF;
    UPDATE catalogue_version SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
"""


def _pg_triggers(table: str) -> str:
    return f"""
CREATE CONSTRAINT TRIGGER {table}_bumps_catalogue_version
    AFTER INSERT OR UPDATE OR DELETE ON {table}
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION kennel_catalogue_version_bump();
CREATE TRIGGER {table}_truncate_bumps_catalogue_version
    AFTER TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION kennel_catalogue_version_bump();
"""


_SQLITE_TRIGGER = (
    "CREATE TRIGGER {table}_{name}_bumps_catalogue_version AFTER {event} ON {table} "
    "BEGIN UPDATE catalogue_version SET value = value + 1 WHERE id = 1; END"
)


def _sqlite_triggers(table: str) -> list[str]:
    # The table names are this module's constants, never input.
    return [
        _SQLITE_TRIGGER.format(table=table, name=event.lower(), event=event)
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


def _sqlite_drops(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_{event}_bumps_catalogue_version"
        for event in ("insert", "update", "delete")
    ]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError("Kennel's triggers exist for PostgreSQL and SQLite only")
    schema_editor.execute(CREATE_TABLE)
    schema_editor.execute(INSERT_ROW)
    if vendor == "postgresql":
        # A plain cursor: the PL/pgSQL body is not a Django query with placeholders.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_FUNCTION)
            cursor.execute("".join(_pg_triggers(table) for table in TABLES))
    else:
        create_on_sqlite(apps, schema_editor)


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(
                    f"DROP TRIGGER IF EXISTS {table}_bumps_catalogue_version ON {table};"
                    f"DROP TRIGGER IF EXISTS {table}_truncate_bumps_catalogue_version ON {table};"
                )
            cursor.execute("DROP FUNCTION IF EXISTS kennel_catalogue_version_bump()")
    else:
        drop_on_sqlite(apps, schema_editor)
    schema_editor.execute("DROP TABLE catalogue_version")


def drop_on_sqlite(apps, schema_editor):
    """For a later migration that rebuilds a catalogue table on SQLite: drop the triggers
    first, then `create_on_sqlite` after. Nothing on PostgreSQL (its triggers survive)."""
    if schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for statement in _sqlite_drops(table):
                schema_editor.execute(statement)


def create_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for table in TABLES:
            for statement in _sqlite_triggers(table):
                schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0005_content_pages_and_parents"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
