"""The one interface every payment provider implements.

A provider turns our reservation into the provider's checkout, and the provider's view of a
payment back into a provider-neutral `PaymentSnapshot`. It never changes our database: the
shared fulfilment (payments/fulfilment.py) decides what a snapshot means.
"""

import enum
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from django.conf import settings

from kennel.reservations.models import Reservation


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


class PaymentState(enum.StrEnum):
    OPEN = "open"  # nothing paid yet; nothing to do
    PROCESSING = "processing"  # an async method started; money not there yet
    PAID = "paid"  # captured: money is ours
    FAILED = "failed"  # the payment attempt failed; the checkout is over
    EXPIRED = "expired"  # the checkout expired or was cancelled unpaid
    REFUNDED = "refunded"  # the captured payment was fully refunded at the provider


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


@dataclass(frozen=True)
class CheckoutStart:
    reference: str
    redirect_url: str


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
    name: str

    def create_checkout(
        self, reservation: Reservation, *, success_url: str, cancel_url: str
    ) -> CheckoutStart:
        """Create the hosted checkout for the reservation's deposit.

        Uses an idempotency key derived from the reservation, so a retry returns the same
        checkout. Must not touch the database. Raises ProviderError / ProviderUnavailable.
        """
        ...

    def fetch_payment(self, reference: str, *, buyer_returned: bool = False) -> PaymentSnapshot:
        """Re-read the checkout and its payment from the provider's API (the truth).

        Raises BuyerActionRequired when the buyer must go back to the provider's page (for
        PayPal: the capture was refused with INSTRUMENT_DECLINED; or, with `buyer_returned` —
        the buyer has just come back to our return URL — the order awaits their approval).
        """
        ...

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> VerifiedEvent:
        """Check the signature and parse the delivery. Raises WebhookRejected. No side effects
        besides (cached) certificate fetches."""
        ...

    def snapshot_for_event(self, event: VerifiedEvent) -> PaymentSnapshot | None:
        """Re-read from the API the payment an event is about; None for events we ignore.

        May capture an approved order (PayPal) — with an idempotency key. Must not touch the
        database.
        """
        ...

    def refund(
        self, *, payment_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> str:
        """Refund a captured payment; returns the provider's refund id. Idempotent by key."""
        ...

    def cancel_checkout(self, reference: str) -> None:
        """Make an unpaid checkout unusable (expire the session). Already closed is fine."""
        ...


def reservation_id_or_none(value: object) -> str | None:
    """A reservation id as a provider hands it back (metadata, custom_id), normalised; None
    when the value is not one of ours at all."""
    try:
        return str(uuid.UUID(value)) if isinstance(value, str) and value else None
    except ValueError:
        return None


def available_providers() -> list[str]:
    """The providers a buyer can choose. PayPal is offered once its REST app credentials are
    set (always in sandbox mode, where they are placeholders)."""
    providers: list[str] = [Reservation.Provider.STRIPE]
    if settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET:
        providers.append(Reservation.Provider.PAYPAL)
    return providers


def get_provider(name: str) -> PaymentProvider:
    """The configured provider by name. Imported lazily: each SDK loads only when used."""
    if name == Reservation.Provider.STRIPE:
        from kennel.payments.stripe.provider import StripeProvider

        return StripeProvider.from_settings()
    if name == Reservation.Provider.PAYPAL:
        from kennel.payments.paypal.provider import PayPalProvider

        return PayPalProvider.from_settings()
    raise ProviderUnavailable(f"payment provider {name!r} is not available")
