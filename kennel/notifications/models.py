from django.db import models

from kennel.core.models import BaseModel
from kennel.reservations.models import Reservation


class SideEffect(BaseModel):
    """One email or conversion report that a reservation's state change owes someone.

    Written in the transaction of that change, with the task that delivers it. `dedup_key`
    (reservation + kind + recipient, + the payment for refunds) is unique, so however often
    a change is replayed the side effect exists — and is delivered — once.
    """

    class Kind(models.TextChoices):
        OWNER_DEPOSIT = "owner_deposit", "Owner: deposit received"
        BUYER_CONFIRMATION = "buyer_confirmation", "Buyer: deposit confirmed"
        BUYER_PROCESSING = "buyer_processing", "Buyer: payment processing"
        BUYER_FAILED = "buyer_failed", "Buyer: payment failed"
        BUYER_EXPIRED = "buyer_expired", "Buyer: hold expired"
        BUYER_REFUND = "buyer_refund", "Buyer: refund issued"
        OWNER_REFUND = "owner_refund", "Owner: refund issued"
        GA4_PURCHASE = "ga4_purchase", "GA4: purchase"
        META_PURCHASE = "meta_purchase", "Meta: Purchase"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DEAD = "dead", "Dead (gave up; retry from the admin)"

    OWNER_KINDS = (Kind.OWNER_DEPOSIT, Kind.OWNER_REFUND)
    BUYER_KINDS = (
        Kind.BUYER_CONFIRMATION,
        Kind.BUYER_PROCESSING,
        Kind.BUYER_FAILED,
        Kind.BUYER_EXPIRED,
        Kind.BUYER_REFUND,
    )
    ANALYTICS_KINDS = (Kind.GA4_PURCHASE, Kind.META_PURCHASE)

    reservation = models.ForeignKey(
        Reservation, on_delete=models.PROTECT, related_name="side_effects"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # An email address, or "ga4:<measurement id>" / "meta:<pixel id>".
    recipient = models.CharField(max_length=254)
    dedup_key = models.CharField(max_length=600)
    # What the message needs beyond the reservation (a refund's amount and reason).
    data = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=8, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The django-tasks-db task due to deliver it next (the sweep re-enqueues a lost one).
    task_id = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], name="one_side_effect_per_dedup_key"),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "sending", "sent", "dead"]),
                name="side_effect_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient} ({self.status})"
