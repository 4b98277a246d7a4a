from django.contrib import admin
from django.http import HttpRequest

from kennel.core.models import AuditLog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services write: the admin shows them and offers no add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """The audit trail is append-only: readable here, never edited or deleted."""

    list_display = ("created_at", "action", "actor", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("action", "actor", "object_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditLog._meta.fields]
