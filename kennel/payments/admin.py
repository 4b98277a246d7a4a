from django.contrib import admin

from kennel.core.admin import ReadOnlyAdmin
from kennel.payments.models import Refund, WebhookEvent, WebhookRejection


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Every refund Kennel sent or tried to send; a failed one carries the provider's reason."""

    list_display = ("created_at", "reservation", "amount", "currency", "reason", "status")
    list_filter = ("status", "reason", "provider")
    search_fields = ("external_payment_id", "provider_refund_id")
    readonly_fields = [field.name for field in Refund._meta.fields]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Provider deliveries as received; replay one with `python -m kennel replay_webhook`."""

    list_display = ("received_at", "provider", "type", "event_id", "status", "attempts")
    list_filter = ("provider", "status", "type")
    search_fields = ("event_id",)
    readonly_fields = [field.name for field in WebhookEvent._meta.fields]


@admin.register(WebhookRejection)
class WebhookRejectionAdmin(ReadOnlyAdmin):
    """Refused deliveries, counted by reason (nothing of their bodies is kept)."""

    list_display = ("provider", "reason", "count", "last_at")
