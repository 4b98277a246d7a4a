"""The one interface every payment provider implements, and the plain data it speaks.

A provider turns a `CheckoutRequest` (plain data built from our reservation) into the
provider's checkout, and the provider's view of a payment back into a provider-neutral
`PaymentSnapshot`. It never receives a model instance and never touches the database: the
shared fulfilment (payments/fulfilment.py) decides what a snapshot means. Which provider
answers to which name is the registry's business (payments/registry.py).
"""

import enum
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


class ProviderError(Exception):
    """The provider refused the request (validation, state): retrying the same call won't help."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or failed (timeout, 5xx): a retry may succeed."""


class BuyerActionRequired(ProviderError):
    """The buyer must act again on the provider's page, at `redirect_url` (e.g. choose another
    funding source after PayPal's INSTRUMENT_DECLINED). Nothing was taken; the checkout goes on.

    `redirect_url` always comes from the provider's API (its own approve link), never from
    the buyer's request.
    """

    def __init__(self, message: str, *, redirect_url: str, code: str = "") -> None:
        super().__init__(message, code=code)
        self.redirect_url = redirect_url


class WebhookRejected(Exception):
    """A delivery that must be answered with 400 and not stored. `reason` is a counter key."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason


def parse_event(body: bytes | str) -> dict[str, Any]:
    """A delivery's body (as received, or already decoded from UTF-8) as its JSON object, or
    WebhookRejected("malformed_body")."""
    try:
        event = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise WebhookRejected("malformed_body") from exc
    except RecursionError as exc:  # nested deeper than the parser goes: [[[[...]]]]
        raise WebhookRejected("malformed_body", "nested too deeply") from exc
    if not isinstance(event, dict):
        raise WebhookRejected("malformed_body")
    return event


class PaymentState(enum.StrEnum):
    OPEN = "open"  # nothing paid yet; nothing to do
    APPROVED = "approved"  # the buyer approved; nothing is taken until we capture
    PROCESSING = "processing"  # an async method started; money not there yet
    PAID = "paid"  # captured: money is ours
    FAILED = "failed"  # the payment attempt failed; the checkout is over
    EXPIRED = "expired"  # the checkout expired or was cancelled unpaid
    REFUNDED = "refunded"  # the captured payment was fully refunded at the provider


@dataclass(frozen=True)
class CheckoutRequest:
    """What a checkout is for: one reservation's deposit, as plain data."""

    reservation_id: str  # goes back to us in the checkout's metadata / custom_id
    amount: Decimal
    currency: str
    description: str  # shown to the buyer on the provider's page
    buyer_email: str
    expires_at: datetime  # the hold's end: the checkout should not outlive it (where possible)
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutStart:
    reference: str
    redirect_url: str


@dataclass(frozen=True)
class RefundSnapshot:
    """One refund of a captured payment as the provider's API has it, whoever made it."""

    refund_id: str
    amount: Decimal
    currency: str
    status: str  # "pending", "succeeded" or "failed" (Refund.Status values)
    # The idempotency key Kennel sent it with (Stripe metadata, PayPal custom_id); None for a
    # refund made elsewhere (the provider's dashboard).
    kennel_key: str | None = None


@dataclass(frozen=True)
class PaymentSnapshot:
    """What the provider's API says about one checkout, re-read at the moment of processing."""

    provider: str
    reference: str  # checkout session id / PayPal order id
    state: PaymentState
    reservation_id: str | None  # from the metadata we set when creating the checkout
    payment_id: str | None = None  # payment intent / capture id, once there is one
    amount: Decimal | None = None
    currency: str | None = None
    # Where the buyer can go on with an OPEN checkout (the provider's own page, as its API
    # gave it; never a URL from a request); None when there is nothing for them to do there.
    buyer_action_url: str | None = None
    # Refunds of the payment that the reading brought along (refund events); not a full list
    # unless the provider gives one (Stripe: all of them; PayPal: the event's refund).
    refunds: tuple[RefundSnapshot, ...] = ()


@dataclass(frozen=True)
class VerifiedEvent:
    """A delivery whose signature checked out. `body` and `headers` are stored as received."""

    provider: str
    event_id: str
    type: str
    payload: dict[str, Any]
    body: str
    headers: dict[str, str] = field(default_factory=dict)


class PaymentProvider(Protocol):
    """A payment provider. No method receives a model instance or touches the database."""

    name: str

    def create_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        """Create the hosted checkout for `request` (one reservation's deposit).

        Uses an idempotency key derived from the reservation id, so a retry returns the same
        checkout. Must not touch the database. Raises ProviderError / ProviderUnavailable.
        """
        ...

    def read_payment(self, reference: str) -> PaymentSnapshot:
        """Re-read the checkout and its payment from the provider's API (the truth).

        Must never move money: an order the buyer approved but we have not captured is
        reported as APPROVED, not captured. Must not touch the database.
        """
        ...

    def capture_payment(self, reference: str) -> PaymentSnapshot:
        """Take the money of an approved checkout of ours, then report it as read_payment does.

        Captures only a checkout Kennel created (its reservation id is ours) and only once:
        the idempotency key comes from the reservation and the checkout, so every caller
        and every retry captures under one key. A checkout that captures by itself (Stripe)
        is only read. Raises BuyerActionRequired when the capture is refused in a way the
        buyer can fix on the provider's page (nothing was taken). Must not touch the database.
        """
        ...

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> VerifiedEvent:
        """Check the signature and parse the delivery. Raises WebhookRejected. No side effects
        besides (cached) certificate fetches."""
        ...

    def acts_on(self, event: VerifiedEvent) -> bool:
        """Whether `read_event` may find a payment in this event (by its type). An event the
        shop never acts on is stored as ignored at once, and no job is queued for it."""
        ...

    def read_event(self, event: VerifiedEvent) -> PaymentSnapshot | None:
        """Re-read from the API the payment an event is about; None for events we ignore.

        The event is only a trigger. Must never move money (an approved order comes back
        APPROVED, for the caller to capture) and must not touch the database.
        """
        ...

    def refund(
        self, *, payment_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundSnapshot:
        """Refund (part of) a captured payment; returns the refund as the provider has it
        (its id and status: a refund may stay pending for days). Idempotent by key, and the
        key travels with the refund (metadata / custom_id) so a later read of it knows it
        for Kennel's own. Must not touch the database."""
        ...

    def cancel_checkout(self, reference: str) -> None:
        """Make an unpaid checkout unusable (expire the session). Already closed is fine.
        Must not touch the database."""
        ...


def reservation_id_or_none(value: object) -> str | None:
    """A reservation id as a provider hands it back (metadata, custom_id), normalised; None
    when the value is not one of ours at all."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None
