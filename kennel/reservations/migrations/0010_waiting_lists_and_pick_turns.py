"""Waiting lists: a deposit may have no puppy yet (a family on a litter's list), the
families (WaitlistEntry) and their pick turns (PickTurn, at most one open per litter).

The trigger that requires an active reservation's puppy to be held or reserved (0002) now
lets a reservation without a puppy be; once a family picks, the same check applies. SQLite
rebuilds the reservation table here: its triggers are dropped first and made again after."""

import importlib

import django.db.models.deletion
import kennel.reservations.models
from django.db import migrations, models

triggers = importlib.import_module("kennel.reservations.migrations.0002_puppy_reservation_triggers")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION kennel_reservation_requires_taken_puppy() RETURNS trigger AS $$
DECLARE puppy_status text;
BEGIN
    IF NEW.status IN ('pending', 'processing', 'confirmed') AND NEW.puppy_id IS NOT NULL THEN
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
"""


def pg_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_FUNCTION)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0007_litter_waiting_list"),
        ("reservations", "0009_reservation_language"),
    ]

    operations = [
        migrations.RunPython(triggers.drop_on_sqlite, triggers.create_on_sqlite),
        migrations.AlterField(
            model_name="reservation",
            name="puppy",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="reservations",
                to="catalogue.puppy",
            ),
        ),
        migrations.CreateModel(
            name="WaitlistEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "token",
                    models.CharField(
                        default=kennel.reservations.models.new_token,
                        editable=False,
                        max_length=64,
                        unique=True,
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Waiting for payment"),
                            ("waiting", "On the list"),
                            ("choosing", "Choosing now"),
                            ("picked", "Picked a puppy"),
                            ("passed", "Passed"),
                            ("withdrawn", "Withdrawn"),
                            ("unpaid", "Payment not completed"),
                        ],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("position", models.PositiveIntegerField(blank=True, null=True)),
                (
                    "sex",
                    models.CharField(
                        choices=[("any", "Any"), ("female", "Female"), ("male", "Male")],
                        default="any",
                        max_length=6,
                        verbose_name="sex wanted",
                    ),
                ),
                (
                    "colour",
                    models.CharField(blank=True, max_length=60, verbose_name="colour wanted"),
                ),
                (
                    "notes",
                    models.TextField(blank=True, max_length=1000, verbose_name="family's notes"),
                ),
                (
                    "terms",
                    models.CharField(
                        choices=[
                            (
                                "refundable",
                                "Refundable in full until a number of days before go-home",
                            ),
                            ("non_refundable", "Non-refundable"),
                            ("transferable", "Transferable to a later litter"),
                        ],
                        max_length=16,
                    ),
                ),
                ("refund_days", models.PositiveSmallIntegerField(default=0)),
                ("joined_at", models.DateTimeField(blank=True, null=True)),
                (
                    "litter",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="waitlist",
                        to="catalogue.litter",
                    ),
                ),
                (
                    "reservation",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="waitlist_entry",
                        to="reservations.reservation",
                    ),
                ),
            ],
            options={
                "verbose_name": "waiting list family",
                "verbose_name_plural": "waiting list families",
                "ordering": ["litter", "position", "created_at"],
            },
        ),
        migrations.CreateModel(
            name="PickTurn",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("open", "Choosing"),
                            ("picked", "Picked"),
                            ("passed", "Passed"),
                            ("timed_out", "Timed out (passed automatically)"),
                            ("skipped", "Skipped"),
                            ("closed", "Picking closed"),
                        ],
                        default="open",
                        max_length=10,
                    ),
                ),
                ("ends_at", models.DateTimeField(db_index=True)),
                ("reminded_at", models.DateTimeField(blank=True, null=True)),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "litter",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="pick_turns",
                        to="catalogue.litter",
                    ),
                ),
                (
                    "entry",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="turns",
                        to="reservations.waitlistentry",
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at"],
            },
        ),
        migrations.AddConstraint(
            model_name="waitlistentry",
            constraint=models.UniqueConstraint(
                condition=models.Q(("position__isnull", False)),
                fields=("litter", "position"),
                name="one_family_per_waitlist_position",
            ),
        ),
        migrations.AddConstraint(
            model_name="waitlistentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("position__isnull", True), ("position__gte", 1), _connector="OR"
                ),
                name="waitlist_position_from_one",
            ),
        ),
        migrations.AddConstraint(
            model_name="waitlistentry",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "status__in",
                        [
                            "pending",
                            "waiting",
                            "choosing",
                            "picked",
                            "passed",
                            "withdrawn",
                            "unpaid",
                        ],
                    )
                ),
                name="waitlist_status_known",
            ),
        ),
        migrations.AddConstraint(
            model_name="pickturn",
            constraint=models.UniqueConstraint(
                condition=models.Q(("outcome", "open")),
                fields=("litter",),
                name="one_open_turn_per_litter",
            ),
        ),
        migrations.AddConstraint(
            model_name="pickturn",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("closed_at__isnull", True), ("outcome", "open")),
                    models.Q(
                        models.Q(("outcome", "open"), _negated=True), ("closed_at__isnull", False)
                    ),
                    _connector="OR",
                ),
                name="turn_closed_when_not_open",
            ),
        ),
        migrations.RunPython(pg_function, migrations.RunPython.noop),
        migrations.RunPython(triggers.create_on_sqlite, triggers.drop_on_sqlite),
    ]
