from django.db import models
from django.utils.translation import gettext_lazy as _

from kennel.core.models import BaseModel
from kennel.reservations.models import Reservation


class PaymentWork(models.TextChoices):
    """The payments' kinds of outbox work (kennel/core/outbox.py), run on the money queue."""

    REFUND_SEND = "refund_send", _("Provider: send a refund")
    WEBHOOK_PROCESS = "webhook_process", _("Process a webhook event again")


class WebhookEvent(models.Model):
    """A verified provider delivery, stored raw before anything is done with it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    provider = models.CharField(
        max_length=10, choices=Reservation.Provider.choices, verbose_name=_("provider")
    )
    event_id = models.CharField(max_length=255, verbose_name=_("event id"))
    type = models.CharField(max_length=100, db_index=True, verbose_name=_("type"))
    body = models.TextField(verbose_name=_("body"))
    headers = models.JSONField(default=dict, verbose_name=_("headers"))
    signature_valid = models.BooleanField(default=True, verbose_name=_("signature valid"))
    status = models.CharField(
        max_length=10,
        choices=Status.choices,
        default=Status.PENDING,
        db_index=True,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    received_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("received at")
    )
    claimed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed at"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processed at"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"], name="one_webhook_event_per_provider_event_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"


class WebhookTransmission(models.Model):
    """One accepted delivery attempt of a provider that signs less than the whole body (PayPal
    signs a CRC32 of it, which a forger can match): the body that came under its id, so a
    second body under the same signature is refused. A row per attempt, duplicates included:
    a redelivery comes under a new id."""

    provider = models.CharField(max_length=10, choices=Reservation.Provider.choices)
    transmission_id = models.CharField(max_length=100)
    body_sha256 = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "transmission_id"], name="one_body_per_webhook_transmission"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} transmission {self.transmission_id}"


class WebhookRejection(models.Model):
    """A counter of refused deliveries: nothing of a refused body is kept."""

    provider = models.CharField(
        max_length=10, choices=Reservation.Provider.choices, verbose_name=_("provider")
    )
    reason = models.CharField(max_length=40, verbose_name=_("reason"))
    count = models.PositiveIntegerField(default=0, verbose_name=_("count"))
    last_at = models.DateTimeField(auto_now=True, verbose_name=_("last at"))

    class Meta:
        verbose_name = _("webhook rejection")
        verbose_name_plural = _("webhook rejections")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reason"], name="one_rejection_counter_per_reason"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.reason}: {self.count}"


class WebhookRejectionMinute(models.Model):
    """Refused deliveries per provider, reason and minute: what /health/webhooks/ sums for
    "rejected in the last hour" (the counters above only know their last time). Rows older
    than a day are dropped as new minutes begin."""

    provider = models.CharField(max_length=10, choices=Reservation.Provider.choices)
    reason = models.CharField(max_length=40)
    minute = models.DateTimeField(db_index=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "reason", "minute"], name="one_rejection_tally_per_minute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.reason} at {self.minute:%Y-%m-%d %H:%M}: {self.count}"


class Refund(BaseModel):
    """Money sent back: for a reservation, or for a payment no reservation could take."""

    class Reason(models.TextChoices):
        """Why money went back; the labels are what the back office and the owner's refund
        email show (in the shop's or the browser's language)."""

        LATE_PAYMENT = "late_payment", _("Paid after the puppy was taken")
        AMOUNT_MISMATCH = "amount_mismatch", _("Paid amount differs from the deposit")
        DUPLICATE_PAYMENT = "duplicate_payment", _("A second payment for one reservation")
        OWNER = "owner", _("Refunded by the breeder (back office)")
        PROVIDER = "provider", _("Refunded at the provider (dashboard)")
        WITHDRAWN = "withdrawn", _("The family left the waiting list (refundable terms)")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    reservation = models.ForeignKey(
        Reservation,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds",
        verbose_name=_("reservation"),
    )
    provider = models.CharField(
        max_length=10, choices=Reservation.Provider.choices, verbose_name=_("provider")
    )
    external_payment_id = models.CharField(max_length=255, verbose_name=_("external payment id"))
    amount = models.DecimalField(max_digits=10, decimal_places=2, verbose_name=_("amount"))
    currency = models.CharField(max_length=3, verbose_name=_("currency"))
    reason = models.CharField(max_length=20, choices=Reason.choices, verbose_name=_("reason"))
    provider_refund_id = models.CharField(
        max_length=255, blank=True, verbose_name=_("provider refund id")
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, verbose_name=_("status")
    )
    idempotency_key = models.CharField(
        max_length=255, unique=True, verbose_name=_("idempotency key")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
            # A provider's refund is in the books once, whoever reported it first.
            models.UniqueConstraint(
                fields=["provider", "provider_refund_id"],
                condition=~models.Q(provider_refund_id=""),
                name="one_row_per_provider_refund",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.amount} {self.currency} ({self.reason})"
