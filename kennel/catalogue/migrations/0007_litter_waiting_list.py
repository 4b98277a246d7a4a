"""Litters people can wait for: a slug (the litter page), a stage and its dates, the waiting
list's settings and deposit terms, the picking state; puppies the breeder keeps.

Existing litters get a slug from their name (made unique) and stay "born". SQLite rebuilds
the litter and puppy tables here, which drops their triggers: the catalogue's version
triggers (0006) and the reservations' (reservations 0002) are dropped first and made again
after, as those migrations document."""

import importlib

from django.db import migrations, models
from django.utils.text import slugify

import kennel.catalogue.models

version = importlib.import_module("kennel.catalogue.migrations.0006_catalogue_version_triggers")
reservation_triggers = importlib.import_module(
    "kennel.reservations.migrations.0002_puppy_reservation_triggers"
)


def drop_triggers(apps, schema_editor):
    version.drop_on_sqlite(apps, schema_editor)
    reservation_triggers.drop_on_sqlite(apps, schema_editor)


def create_triggers(apps, schema_editor):
    version.create_on_sqlite(apps, schema_editor)
    reservation_triggers.create_on_sqlite(apps, schema_editor)


def litter_slugs(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # The version trigger (0006) is deferred to COMMIT; PostgreSQL refuses to ALTER a
        # table with trigger events pending, so they run as the rows change.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Litter = apps.get_model("catalogue", "Litter")
    taken: set[str] = set()
    for litter in Litter.objects.order_by("pk"):
        base = slugify(litter.name)[:70] or "litter"
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
        taken.add(slug)
        Litter.objects.filter(pk=litter.pk).update(slug=slug)


class Migration(migrations.Migration):
    dependencies = [
        ("catalogue", "0006_catalogue_version_triggers"),
        # Its triggers on catalogue_puppy are dropped and made again here on SQLite.
        ("reservations", "0009_reservation_language"),
    ]

    operations = [
        migrations.RunPython(drop_triggers, create_triggers),
        migrations.AddField(
            model_name="litter",
            name="currency",
            field=models.CharField(
                default="EUR", max_length=3, validators=[kennel.catalogue.models.validate_currency]
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="deposit_terms",
            field=models.CharField(
                choices=[
                    ("refundable", "Refundable in full until a number of days before go-home"),
                    ("non_refundable", "Non-refundable"),
                    ("transferable", "Transferable to a later litter"),
                ],
                default="refundable",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="expected_on",
            field=models.DateField(blank=True, null=True, verbose_name="expected birth"),
        ),
        migrations.AddField(
            model_name="litter",
            name="go_home_on",
            field=models.DateField(blank=True, null=True, verbose_name="ready to go home"),
        ),
        migrations.AddField(
            model_name="litter",
            name="pick_window_minutes",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Leave empty for the shop's PICK_WINDOW_MINUTES.",
                null=True,
                verbose_name="minutes per pick turn",
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="picking",
            field=models.CharField(
                choices=[
                    ("not_open", "Not open"),
                    ("open", "Families are choosing"),
                    ("closed", "Closed"),
                ],
                default="not_open",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="refund_days",
            field=models.PositiveSmallIntegerField(
                default=14,
                help_text="For refundable terms: a withdrawal refunds in full until this many days before the go-home date.",
                verbose_name="refundable until days before go-home",
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="slug",
            field=models.SlugField(
                help_text="The litter page's address.", max_length=80, null=True, unique=True
            ),
        ),
        migrations.RunPython(litter_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="litter",
            name="slug",
            field=models.SlugField(
                help_text="The litter page's address.", max_length=80, unique=True
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="stage",
            field=models.CharField(
                choices=[
                    ("planned", "Planned"),
                    ("expected", "Expected"),
                    ("born", "Born"),
                    ("ready", "Ready to go home"),
                ],
                default="born",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="usual_price",
            field=models.DecimalField(blank=True, decimal_places=2, max_digits=10, null=True),
        ),
        migrations.AddField(
            model_name="litter",
            name="waitlist_cap",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Leave empty for no limit.",
                null=True,
                verbose_name="most families",
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="waitlist_deposit",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="Leave empty to use the configured share of the usual price.",
                max_digits=10,
                null=True,
                verbose_name="waiting list deposit",
            ),
        ),
        migrations.AddField(
            model_name="litter",
            name="waitlist_open",
            field=models.BooleanField(default=False, verbose_name="waiting list open"),
        ),
        migrations.AddField(
            model_name="puppy",
            name="kept",
            field=models.BooleanField(
                default=False,
                help_text="Not offered when families pick.",
                verbose_name="kept by the breeder",
            ),
        ),
        migrations.AlterField(
            model_name="litter",
            name="born_on",
            field=models.DateField(
                blank=True, help_text="Empty until the litter is born.", null=True
            ),
        ),
        migrations.AddConstraint(
            model_name="litter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("waitlist_deposit__isnull", True), ("waitlist_deposit__gt", 0), _connector="OR"
                ),
                name="litter_waitlist_deposit_positive",
            ),
        ),
        migrations.AddConstraint(
            model_name="litter",
            constraint=models.CheckConstraint(
                condition=models.Q(("picking__in", ["not_open", "open", "closed"])),
                name="litter_picking_known",
            ),
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
