from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from kennel.core.admin import ReadOnlyAdmin
from kennel.notifications.models import SideEffect
from kennel.notifications.services import side_effects_retry


@admin.register(SideEffect)
class SideEffectAdmin(ReadOnlyAdmin):
    """The outbox, read-only. Dead rows (retries used up, or refused) are retried through the
    action, which calls the same service as any retry; nothing here edits a row by hand."""

    list_display = (
        "created_at",
        "kind",
        "recipient",
        "reservation_link",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_filter = ("status", "kind")
    list_select_related = ("reservation__puppy",)
    search_fields = ("recipient", "dedup_key", "reservation__buyer_name", "last_error")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in SideEffect._meta.fields]
    actions = ["retry_dead"]

    @admin.display(description="reservation")
    def reservation_link(self, effect: SideEffect) -> str:
        url = reverse("admin:reservations_reservation_change", args=[effect.reservation_id])
        return format_html('<a href="{}">{}</a>', url, effect.reservation)

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
        return request.user.has_perm("notifications.change_sideeffect")
