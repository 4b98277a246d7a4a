"""Which payment providers exist, which are offered, and the one to use by name."""

from django.conf import settings

from kennel.payments.paypal.provider import PAYPAL, PayPalProvider
from kennel.payments.providers import PaymentProvider, ProviderUnavailable
from kennel.payments.stripe.provider import STRIPE, StripeProvider


def available_providers() -> list[str]:
    """The providers a buyer can choose. PayPal is offered once its REST app credentials are
    set (always in sandbox mode, where they are placeholders)."""
    providers = [STRIPE]
    if settings.PAYPAL_CLIENT_ID and settings.PAYPAL_CLIENT_SECRET:
        providers.append(PAYPAL)
    return providers


def get_provider(name: str) -> PaymentProvider:
    """The configured provider by name (`Reservation.provider`). Raises ProviderUnavailable
    for any other name."""
    if name == STRIPE:
        return StripeProvider.from_settings()
    if name == PAYPAL:
        return PayPalProvider.from_settings()
    raise ProviderUnavailable(f"payment provider {name!r} is not available")
