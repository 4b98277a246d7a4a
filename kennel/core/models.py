from typing import Any

from django.db import models


class BaseModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AuditLog(models.Model):
    """Every state change: a dotted action name, who did it, on what."""

    action = models.CharField(max_length=100, db_index=True)
    actor = models.CharField(max_length=200)
    object_type = models.CharField(max_length=50)
    object_id = models.CharField(max_length=64, db_index=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
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
