from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class BaseModel(models.Model):
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """Every state change: a dotted action name, who did it, on what."""

    action = models.CharField(max_length=100, db_index=True, verbose_name=_("action"))
    actor = models.CharField(max_length=200, verbose_name=_("actor"))
    object_type = models.CharField(max_length=50, verbose_name=_("object type"))
    object_id = models.CharField(max_length=64, db_index=True, verbose_name=_("object id"))
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )

    class Meta:
        verbose_name = _("audit log")
        verbose_name_plural = _("audit logs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor}"


def audit(action: str, *, actor: str, obj: models.Model, **data: Any) -> AuditLog:
    """Record a state change; call it inside the transaction that makes the change."""
    return AuditLog.objects.create(
        action=action,
        actor=actor,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        data=data,
    )


class SideEffect(BaseModel):
    """One piece of background work a state change owes: an email, a conversion report, a
    refund to send, a checkout to close, a webhook event to process again.

    Written in the transaction of that change (kennel/core/outbox.py), with the task that runs
    it. `dedup_key` is unique, so however often a change is replayed the work exists — and is
    done — once. `kind` names the handler an upper layer registered for it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Running")
        SENT = "sent", _("Done")
        DEAD = "dead", _("Dead (gave up; retry from the admin)")

    kind = models.CharField(max_length=40, db_index=True, verbose_name=_("kind"))
    # The reservation the work is about, when there is one (no foreign key: core sits below
    # the reservations app; the admin links it by id).
    reservation_id = models.UUIDField(
        null=True, blank=True, db_index=True, verbose_name=_("reservation id")
    )
    # An email address, "ga4:<measurement id>", "meta:<pixel id>", or a provider's name.
    recipient = models.CharField(max_length=254, verbose_name=_("recipient"))
    dedup_key = models.CharField(max_length=600, verbose_name=_("dedup key"))
    # What the work needs beyond the reservation (a refund's id, amount and reason).
    data = models.JSONField(default=dict, blank=True, verbose_name=_("data"))
    queue = models.CharField(max_length=20, default="default", verbose_name=_("queue"))
    status = models.CharField(
        max_length=8,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(db_index=True, verbose_name=_("next attempt at"))
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    # The django-tasks-db task due to run it next (the sweep re-enqueues a lost one).
    task_id = models.CharField(max_length=64, blank=True, verbose_name=_("task id"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("background work")
        verbose_name_plural = _("background work")
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], name="one_outbox_row_per_dedup_key"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "dead"]),
                name="outbox_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.recipient} ({self.status})"
