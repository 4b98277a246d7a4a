from django.db import models
from django.utils.translation import gettext_lazy as _


class MonitoringWork(models.TextChoices):
    """Monitoring's kinds of outbox work (kennel/core/outbox.py): the owner's alert emails."""

    OWNER_ALERT = "owner_alert", _("Email: alert to the owner")
    OWNER_ALERT_RECOVERED = "owner_alert_recovered", _("Email: alert over, to the owner")


class Incident(models.Model):
    """A health check that started failing (kennel/monitoring/checks.py) and, once it passes
    again, ended. At most one is open per check, so workers side by side open it — and alert
    the owner — once."""

    check_name = models.CharField(max_length=40)
    started_at = models.DateTimeField(db_index=True)
    # When the owner was emailed: once it has failed HEALTH_ALERT_AFTER_MINUTES (a blip
    # shorter than that is recorded but never emailed, nor its recovery).
    alerted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)  # what the check said when it started failing
    # The same as messages and values (checks.Finding.as_data): the alert writes it in the
    # shop's language. Empty on incidents opened before it was kept: `detail` then.
    findings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_name"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_incident_per_check",
            )
        ]

    def __str__(self) -> str:
        state = f"ended {self.ended_at:%Y-%m-%d %H:%M}" if self.ended_at else "open"
        return f"{self.check_name} since {self.started_at:%Y-%m-%d %H:%M} ({state})"


class ReconciliationRun(models.Model):
    """The result of one `payments_reconcile()`: by the worker's hourly sweep or by the
    `reconcile_payments` command. /health/webhooks/ reads the latest."""

    class Source(models.TextChoices):
        WORKER = "worker", _("Worker (hourly)")
        COMMAND = "command", "reconcile_payments"

    source = models.CharField(max_length=10, choices=Source.choices)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(db_index=True)
    balanced = models.BooleanField()
    needs_attention = models.BooleanField()
    checked = models.PositiveIntegerField(default=0)
    lines = models.JSONField(default=list, blank=True)  # what needs attention, one per line
    # The same as messages and values (checks.Finding.as_data), written in the reader's
    # language by the owner's alert and the back office; empty on runs recorded before.
    findings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-finished_at", "-id"]

    def __str__(self) -> str:
        verdict = "needs attention" if self.needs_attention else "balanced"
        return f"reconciliation {self.finished_at:%Y-%m-%d %H:%M}: {verdict}"


class Schedule(models.Model):
    """When a periodic job last started, claimed with one conditional UPDATE, so of several
    workers only one runs it per period."""

    name = models.CharField(max_length=40, primary_key=True)
    last_started_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: last started {self.last_started_at}"
