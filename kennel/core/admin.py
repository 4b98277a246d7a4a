from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from kennel.core.models import AuditLog, SideEffect
from kennel.core.outbox import kind_label, side_effects_retry


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


@admin.register(SideEffect)
class SideEffectAdmin(ReadOnlyAdmin):
    """The outbox, read-only: every email, conversion, refund, checkout close and webhook
    reprocessing with its attempts. Dead rows (retries used up, or refused) are retried
    through the action, which calls the same service as any retry."""

    list_display = (
        "created_at",
        "kind_display",
        "recipient",
        "reservation_link",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_filter = ("status", "kind", "queue")
    search_fields = ("recipient", "dedup_key", "reservation_id", "last_error")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in SideEffect._meta.fields]
    actions = ["retry_dead"]

    @admin.display(description="kind", ordering="kind")
    def kind_display(self, effect: SideEffect) -> str:
        return kind_label(effect.kind)

    @admin.display(description="reservation")
    def reservation_link(self, effect: SideEffect) -> str:
        if effect.reservation_id is None:
            return "—"
        url = reverse("admin:reservations_reservation_change", args=[effect.reservation_id])
        return format_html('<a href="{}">{}</a>', url, str(effect.reservation_id)[:8])

    @admin.display(description="last error")
    def error(self, effect: SideEffect) -> str:
        return effect.last_error[:120]

    @admin.action(description="Retry the selected dead side effects", permissions=["retry"])
    def retry_dead(self, request: HttpRequest, queryset: QuerySet[SideEffect]) -> None:
        ids = list(queryset.filter(status=SideEffect.Status.DEAD).values_list("pk", flat=True))
        retried = side_effects_retry(side_effect_ids=ids, actor=f"staff:{request.user}")
        skipped = queryset.count() - retried
        self.message_user(request, f"{retried} side effect(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} selected row(s) were not dead and were left alone."
            )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.change_sideeffect")
