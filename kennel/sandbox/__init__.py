"""Offline payment sandbox: simulates the parts of Stripe's and PayPal's HTTP APIs that Kennel
calls, so the real SDKs can run against it with no network.

It imports nothing from Django.  ``python -m kennel.sandbox`` serves it; tests use
``Sandbox(SandboxConfig(...)).serve_in_thread(port=0)``.
"""

from kennel.sandbox.app import (
    DEFAULT_PAYPAL_CLIENT_ID,
    DEFAULT_PAYPAL_CLIENT_SECRET,
    DEFAULT_PAYPAL_WEBHOOK_ID,
    DEFAULT_STRIPE_WEBHOOK_SECRET,
    Sandbox,
    SandboxConfig,
)
from kennel.sandbox.paypal_api import OrderNotApprovable, PayPalSandbox
from kennel.sandbox.paypal_state import OUTCOMES as PAYPAL_OUTCOMES
from kennel.sandbox.server import ServerHandle
from kennel.sandbox.stripe_api import OUTCOMES, CheckoutSessionNotOpen, StripeSandbox
from kennel.sandbox.webhooks import DeliveryRecord, Switches

__all__ = [
    "DEFAULT_PAYPAL_CLIENT_ID",
    "DEFAULT_PAYPAL_CLIENT_SECRET",
    "DEFAULT_PAYPAL_WEBHOOK_ID",
    "DEFAULT_STRIPE_WEBHOOK_SECRET",
    "OUTCOMES",
    "PAYPAL_OUTCOMES",
    "CheckoutSessionNotOpen",
    "DeliveryRecord",
    "OrderNotApprovable",
    "PayPalSandbox",
    "Sandbox",
    "SandboxConfig",
    "ServerHandle",
    "StripeSandbox",
    "Switches",
]
