from datetime import timedelta

from django.db import migrations, models


def keep_what_families_were_told(apps, schema_editor):
    """Families already on a list keep the refund cut-off their pages and emails gave."""
    WaitlistEntry = apps.get_model("reservations", "WaitlistEntry")
    on_list = WaitlistEntry.objects.filter(
        status__in=["waiting", "choosing", "passed"],
        terms="refundable",
        litter__go_home_on__isnull=False,
    ).select_related("litter")
    for entry in on_list:
        entry.refund_until = entry.litter.go_home_on - timedelta(days=entry.refund_days)
        entry.save(update_fields=["refund_until"])


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0013_owner_kept_reason"),
    ]

    operations = [
        migrations.AddField(
            model_name="waitlistentry",
            name="refund_until",
            field=models.DateField(
                blank=True, null=True, verbose_name="refundable until (as told)"
            ),
        ),
        migrations.RunPython(keep_what_families_were_told, migrations.RunPython.noop),
    ]
