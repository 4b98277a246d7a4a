"""Starting a checkout: hold the puppy, then open the provider's hosted payment page."""

import logging

from django.urls import reverse

from kennel.core.errors import PaymentProviderFailed
from kennel.payments.providers import ProviderError, get_provider
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)


def checkout_start(
    *, puppy_slug: str, buyer: reservations.Buyer, provider: str, site_url: str
) -> tuple[Reservation, str]:
    """Hold the puppy and create the provider checkout; returns the reservation and the URL
    to send the buyer to.

    The provider call happens after the hold has committed, so no lock is held while waiting
    on the network. If the provider fails, the hold is released at once and
    PaymentProviderFailed tells the buyer nothing was charged.
    """
    reservation = reservations.reservation_hold(
        puppy_slug=puppy_slug, buyer=buyer, provider=provider
    )
    try:
        start = get_provider(provider).create_checkout(
            reservation,
            success_url=site_url + reverse("payments:return", kwargs={"provider": provider}),
            cancel_url=site_url
            + reverse("payments:cancel", kwargs={"provider": provider})
            + f"?reservation={reservation.token}",
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
