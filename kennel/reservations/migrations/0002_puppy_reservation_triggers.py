"""Database triggers that keep a puppy and its active reservation in step, per vendor.

An active reservation (pending/processing → puppy held; confirmed → puppy reserved) is refused
when the puppy is not in that state, and a puppy cannot be made available while an active
reservation holds it. With the partial unique index `one_active_reservation_per_puppy`, this
is invariant 1 of DESIGN.md, enforced by the database whatever code (or SQL) writes the rows.
"""

from django.db import migrations

PG_FORWARD = """
CREATE OR REPLACE FUNCTION kennel_reservation_requires_taken_puppy() RETURNS trigger AS $$
DECLARE puppy_status text;
BEGIN
    IF NEW.status IN ('pending', 'processing', 'confirmed') THEN
        SELECT status INTO puppy_status FROM catalogue_puppy WHERE id = NEW.puppy_id;
        IF puppy_status IS DISTINCT FROM
           (CASE WHEN NEW.status = 'confirmed' THEN 'reserved' ELSE 'held' END) THEN
            RAISE EXCEPTION 'active reservation refused: puppy % is %', NEW.puppy_id, puppy_status
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reservation_requires_taken_puppy
    BEFORE INSERT OR UPDATE OF status, puppy_id ON reservations_reservation
    FOR EACH ROW EXECUTE FUNCTION kennel_reservation_requires_taken_puppy();

CREATE OR REPLACE FUNCTION kennel_puppy_free_only_without_reservation() RETURNS trigger AS $$
BEGIN
    IF NEW.status = 'available' AND EXISTS (
        SELECT 1 FROM reservations_reservation
        WHERE puppy_id = NEW.id AND status IN ('pending', 'processing', 'confirmed')
    ) THEN
        RAISE EXCEPTION 'puppy % has an active reservation', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER puppy_free_only_without_reservation
    BEFORE UPDATE OF status ON catalogue_puppy
    FOR EACH ROW EXECUTE FUNCTION kennel_puppy_free_only_without_reservation();
"""

PG_REVERSE = """
DROP TRIGGER IF EXISTS reservation_requires_taken_puppy ON reservations_reservation;
DROP FUNCTION IF EXISTS kennel_reservation_requires_taken_puppy();
DROP TRIGGER IF EXISTS puppy_free_only_without_reservation ON catalogue_puppy;
DROP FUNCTION IF EXISTS kennel_puppy_free_only_without_reservation();
"""

# A waiting list's deposit has no puppy until its family picks (0010): nothing to check then.
# Later migrations make these triggers again through create_on_sqlite, so this is their
# current form; 0010 replaced the PostgreSQL function the same way.
_SQLITE_RESERVATION_CHECK = """
    WHEN NEW.status IN ('pending', 'processing', 'confirmed') AND NEW.puppy_id IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'active reservation refused: puppy is not held for it')
    WHERE (SELECT status FROM catalogue_puppy WHERE id = NEW.puppy_id) IS NOT
          (CASE WHEN NEW.status = 'confirmed' THEN 'reserved' ELSE 'held' END);
END;
"""

SQLITE_FORWARD = [
    "CREATE TRIGGER reservation_requires_taken_puppy_insert "
    "BEFORE INSERT ON reservations_reservation" + _SQLITE_RESERVATION_CHECK,
    "CREATE TRIGGER reservation_requires_taken_puppy_update "
    "BEFORE UPDATE OF status, puppy_id ON reservations_reservation" + _SQLITE_RESERVATION_CHECK,
    """
CREATE TRIGGER puppy_free_only_without_reservation
    BEFORE UPDATE OF status ON catalogue_puppy
    WHEN NEW.status = 'available'
BEGIN
    SELECT RAISE(ABORT, 'puppy has an active reservation')
    WHERE EXISTS (
        SELECT 1 FROM reservations_reservation
        WHERE puppy_id = NEW.id AND status IN ('pending', 'processing', 'confirmed')
    );
END;
""",
]

SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS reservation_requires_taken_puppy_insert",
    "DROP TRIGGER IF EXISTS reservation_requires_taken_puppy_update",
    "DROP TRIGGER IF EXISTS puppy_free_only_without_reservation",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # A plain cursor: the PL/pgSQL bodies contain '%' placeholders of their own.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_FORWARD)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise NotImplementedError("Kennel's triggers exist for PostgreSQL and SQLite only")


def reverse(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_REVERSE)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


def drop_on_sqlite(apps, schema_editor):
    """For later migrations that rebuild one of the two tables on SQLite: drop the triggers
    first (they name the tables), then `create_on_sqlite` after. Nothing on PostgreSQL."""
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_REVERSE:
            schema_editor.execute(statement)


def create_on_sqlite(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0001_initial"),
        ("catalogue", "0001_initial"),
    ]

    operations = [migrations.RunPython(forward, reverse)]
