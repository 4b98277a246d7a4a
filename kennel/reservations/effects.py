"""What a reservation's state change owes someone: the kinds of outbox work it writes.

The reservation services write these (kennel/core/outbox.py) in the transaction of the change;
the apps above plug in what each kind does — notifications the emails, analytics the
conversion reports, payments the closing of a checkout.
"""

from django.db import models


class Effect(models.TextChoices):
    OWNER_DEPOSIT = "owner_deposit", "Owner: deposit received"
    BUYER_CONFIRMATION = "buyer_confirmation", "Buyer: deposit confirmed"
    BUYER_PROCESSING = "buyer_processing", "Buyer: payment processing"
    BUYER_FAILED = "buyer_failed", "Buyer: payment failed"
    BUYER_EXPIRED = "buyer_expired", "Buyer: hold expired"
    BUYER_RELEASED = "buyer_released", "Buyer: hold released by the breeder"
    BUYER_REFUND = "buyer_refund", "Buyer: refund issued"
    OWNER_REFUND = "owner_refund", "Owner: refund issued"
    GA4_PURCHASE = "ga4_purchase", "GA4: purchase"
    META_PURCHASE = "meta_purchase", "Meta: Purchase"
    CHECKOUT_CLOSE = "checkout_close", "Provider: close the checkout"


OWNER_EMAILS = (Effect.OWNER_DEPOSIT, Effect.OWNER_REFUND)
BUYER_EMAILS = (
    Effect.BUYER_CONFIRMATION,
    Effect.BUYER_PROCESSING,
    Effect.BUYER_FAILED,
    Effect.BUYER_EXPIRED,
    Effect.BUYER_RELEASED,
    Effect.BUYER_REFUND,
)
EMAILS = OWNER_EMAILS + BUYER_EMAILS
CONVERSIONS = (Effect.GA4_PURCHASE, Effect.META_PURCHASE)
