"""Payments' services: starting a checkout, and settling a payment the provider reports.

Starting: hold the puppy, then open the provider's hosted payment page. Settling: whoever
learns about a payment — the buyer's return URL, a webhook, reconciliation — reads it from
the provider (the truth), takes the money of an approved one, and hands it to the shared
fulfilment (payments/fulfilment.py). That sequence is written once, here.
"""

import logging
from urllib.parse import urlencode

from django.urls import reverse

from kennel.catalogue.models import Puppy
from kennel.core.errors import PaymentProviderFailed, ValidationFailed
from kennel.core.money import paypal_accepts
from kennel.payments.fulfilment import payment_apply
from kennel.payments.providers import (
    CheckoutRequest,
    PaymentSnapshot,
    PaymentState,
    ProviderError,
)
from kennel.payments.registry import available_providers, get_provider
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation
from kennel.reservations.tracking import Tracking

log = logging.getLogger(__name__)


def checkout_start(
    *,
    puppy_slug: str,
    buyer: reservations.Buyer,
    provider: str,
    site_url: str,
    tracking: Tracking | None = None,
) -> tuple[Reservation, str]:
    """Hold the puppy and create the provider checkout; returns the reservation and the URL
    to send the buyer to. `tracking` is the buyer's analytics context (see reservation_hold).

    The provider call happens after the hold has committed, so no lock is held while waiting
    on the network. If the provider fails, the hold is released at once and
    PaymentProviderFailed tells the buyer nothing was charged. A PayPal checkout in a
    currency PayPal does not take is refused (ValidationFailed) before anything is held.
    """
    if provider not in available_providers():
        raise ValidationFailed({"provider": ["Please choose one of the offered payment methods."]})
    if provider == Reservation.Provider.PAYPAL:
        currency = _puppy_currency(puppy_slug)
        if currency is not None and not paypal_accepts(currency):
            raise ValidationFailed(
                {"provider": [f"PayPal does not take {currency.upper()}; please choose card."]}
            )
    reservation = reservations.reservation_hold(
        puppy_slug=puppy_slug, buyer=buyer, provider=provider, tracking=tracking
    )
    try:
        start = get_provider(provider).create_checkout(_checkout_request(reservation, site_url))
    except Exception as exc:
        # Whatever went wrong, the hold must not outlive the failed checkout.
        log.warning("checkout creation failed for reservation %s: %r", reservation.pk, exc)
        reservations.reservation_release(
            reservation_id=reservation.pk,
            status=Reservation.Status.CANCELLED,
            actor="system:checkout",
            reason=Reservation.Reason.PROVIDER_ERROR,
        )
        if isinstance(exc, ProviderError):
            raise PaymentProviderFailed() from exc
        raise
    reservations.reservation_set_checkout(reservation=reservation, reference=start.reference)
    return reservation, start.redirect_url


def payment_read(*, reservation: Reservation) -> PaymentSnapshot:
    """The reservation's checkout as its provider has it now. Never moves money.

    Raises ValueError when the reservation has no checkout; ProviderError when the provider
    cannot be asked.
    """
    if not reservation.provider_reference:
        raise ValueError(f"reservation {reservation.pk} has no checkout to read")
    return get_provider(reservation.provider).read_payment(reservation.provider_reference)


def payment_settle(*, snapshot: PaymentSnapshot, actor: str) -> Reservation | None:
    """Settle a payment as its provider reported it: capture it if the buyer approved it
    (PayPal takes nothing until then), then apply it to its reservation (payment_apply).

    Returns what payment_apply returns. Raises BuyerActionRequired when the capture was
    refused in a way the buyer can fix (nothing was taken, nothing applied), ProviderError
    when the provider cannot be asked, Busy when the reservation could not be locked.
    """
    if snapshot.state == PaymentState.APPROVED:
        snapshot = get_provider(snapshot.provider).capture_payment(snapshot.reference)
    return payment_apply(snapshot=snapshot, actor=actor)


def payment_refresh(*, reservation: Reservation, actor: str) -> Reservation | None:
    """Re-read the reservation's checkout from its provider and settle it (payment_settle)."""
    return payment_settle(snapshot=payment_read(reservation=reservation), actor=actor)


def _puppy_currency(puppy_slug: str) -> str | None:
    """The currency of the puppy at `puppy_slug`; None when there is none (the hold says so)."""
    if not reservations.SLUG_RE.fullmatch(puppy_slug or ""):
        return None
    return Puppy.objects.filter(slug=puppy_slug).values_list("currency", flat=True).first()


def _checkout_request(reservation: Reservation, site_url: str) -> CheckoutRequest:
    return CheckoutRequest(
        reservation_id=str(reservation.pk),
        amount=reservation.deposit_amount,
        currency=reservation.currency,
        description=f"Deposit for {reservation.puppy.name}",
        buyer_email=reservation.buyer_email,
        expires_at=reservation.expires_at,
        success_url=_buyer_url(site_url, "payments:return", reservation),
        cancel_url=_buyer_url(site_url, "payments:cancel", reservation),
    )


def _buyer_url(site_url: str, name: str, reservation: Reservation) -> str:
    path = reverse(name, kwargs={"provider": reservation.provider})
    return f"{site_url}{path}?{urlencode({'reservation': reservation.token})}"
