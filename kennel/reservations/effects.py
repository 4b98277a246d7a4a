"""What a reservation's state change owes someone: the kinds of outbox work it writes.

The reservation services write these (kennel/core/outbox.py) in the transaction of the change;
the apps above plug in what each kind does — notifications the emails, analytics the
conversion reports, payments the closing of a checkout.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Effect(models.TextChoices):
    OWNER_DEPOSIT = "owner_deposit", _("Owner: deposit received")
    BUYER_CONFIRMATION = "buyer_confirmation", _("Buyer: deposit confirmed")
    BUYER_PROCESSING = "buyer_processing", _("Buyer: payment processing")
    BUYER_FAILED = "buyer_failed", _("Buyer: payment failed")
    BUYER_EXPIRED = "buyer_expired", _("Buyer: hold expired")
    BUYER_RELEASED = "buyer_released", _("Buyer: hold released by the breeder")
    BUYER_REFUND = "buyer_refund", _("Buyer: refund issued")
    BUYER_KEPT = "buyer_kept", _("Buyer: cancelled, deposit kept")
    OWNER_REFUND = "owner_refund", _("Owner: refund issued")
    # Another hold refused for this email's active one (HOLD_LIMIT_REACHED): the link to it,
    # so a family that started it on another device can pay or cancel it.
    BUYER_HOLD_LINK = "buyer_hold_link", _("Buyer: the link to their hold (another refused)")
    GA4_PURCHASE = "ga4_purchase", _("GA4: purchase")
    META_PURCHASE = "meta_purchase", _("Meta: Purchase")
    CHECKOUT_CLOSE = "checkout_close", _("Provider: close the checkout")
    # A waiting list's family (kennel/reservations/waitlist.py): each email is about their
    # deposit's reservation, with the list entry beside it.
    WAITLIST_JOINED = "waitlist_joined", _("Family: on the waiting list, with its position")
    WAITLIST_MOVED = "waitlist_moved", _("Family: position changed")
    WAITLIST_BORN = "waitlist_born", _("Family: the litter is born")
    WAITLIST_TURN = "waitlist_turn", _("Family: your turn to choose")
    WAITLIST_REMINDER = "waitlist_reminder", _("Family: your turn ends soon")
    WAITLIST_PASSED = "waitlist_passed", _("Family: turn passed")
    WAITLIST_CLOSED = "waitlist_closed", _("Family: picking closed before they chose")
    OWNER_WAITLIST_JOINED = "owner_waitlist_joined", _("Owner: a family joined the waiting list")


class TurnPassed(models.TextChoices):
    """Why a family's turn passed without a pick (the "turn passed" email says which)."""

    PASSED = "passed", "The family passed"
    TIMED_OUT = "timed_out", "The time ran out"
    SKIPPED = "skipped", "The breeder moved on"
    NOTHING_MATCHED = "nothing_matched", "No puppy left matched the family's wishes"


# What a confirmed deposit of a puppy owes (a puppy's hold paid, or a family's pick):
# GA4 and Meta only with the buyer's consent and their settings (their handlers say).
CONFIRMED = (
    Effect.OWNER_DEPOSIT,
    Effect.BUYER_CONFIRMATION,
    Effect.GA4_PURCHASE,
    Effect.META_PURCHASE,
)
OWNER_EMAILS = (Effect.OWNER_DEPOSIT, Effect.OWNER_REFUND, Effect.OWNER_WAITLIST_JOINED)
WAITLIST_EMAILS = (
    Effect.WAITLIST_JOINED,
    Effect.WAITLIST_MOVED,
    Effect.WAITLIST_BORN,
    Effect.WAITLIST_TURN,
    Effect.WAITLIST_REMINDER,
    Effect.WAITLIST_PASSED,
    Effect.WAITLIST_CLOSED,
)
BUYER_EMAILS = (
    Effect.BUYER_CONFIRMATION,
    Effect.BUYER_PROCESSING,
    Effect.BUYER_FAILED,
    Effect.BUYER_EXPIRED,
    Effect.BUYER_RELEASED,
    Effect.BUYER_REFUND,
    Effect.BUYER_KEPT,
    Effect.BUYER_HOLD_LINK,
    *WAITLIST_EMAILS,
)
EMAILS = OWNER_EMAILS + BUYER_EMAILS
CONVERSIONS = (Effect.GA4_PURCHASE, Effect.META_PURCHASE)
