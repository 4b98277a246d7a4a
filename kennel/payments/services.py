"""Starting a checkout: hold the puppy, then open the provider's hosted payment page."""

import logging
from urllib.parse import urlencode

from django.urls import reverse

from kennel.analytics.tracking import Tracking
from kennel.core.errors import PaymentProviderFailed, ValidationFailed
from kennel.payments.providers import ProviderError, available_providers, get_provider
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation

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
    PaymentProviderFailed tells the buyer nothing was charged.
    """
    if provider not in available_providers():
        raise ValidationFailed({"provider": ["Please choose one of the offered payment methods."]})
    reservation = reservations.reservation_hold(
        puppy_slug=puppy_slug, buyer=buyer, provider=provider, tracking=tracking
    )
    try:
        start = get_provider(provider).create_checkout(
            reservation,
            success_url=_buyer_url(site_url, "payments:return", provider, reservation),
            cancel_url=_buyer_url(site_url, "payments:cancel", provider, reservation),
        )
    except Exception as exc:
        # Whatever went wrong, the hold must not outlive the failed checkout.
        log.warning("checkout creation failed for reservation %s: %r", reservation.pk, exc)
        reservations.reservation_release(
            reservation_id=reservation.pk,
            status=Reservation.Status.CANCELLED,
            actor="system:checkout",
            reason="provider_error",
        )
        if isinstance(exc, ProviderError):
            raise PaymentProviderFailed() from exc
        raise
    reservations.reservation_set_checkout(reservation=reservation, reference=start.reference)
    return reservation, start.redirect_url


def _buyer_url(site_url: str, name: str, provider: str, reservation: Reservation) -> str:
    path = reverse(name, kwargs={"provider": provider})
    return f"{site_url}{path}?{urlencode({'reservation': reservation.token})}"
