"""Offline payment sandbox: simulates the parts of Stripe's and PayPal's HTTP APIs that Kennel
calls, so the real SDKs can run against it with no network.

A top-level package beside ``kennel`` and never part of its wheel: it imports nothing from
Django, and from Kennel only the currency table (``kennel.core.money``).  ``python -m sandbox``
serves it from the repository root; tests use
``Sandbox(SandboxConfig(...)).serve_in_thread(port=0)``.
"""

from sandbox.app import (
    DEFAULT_PAYPAL_CLIENT_ID,
    DEFAULT_PAYPAL_CLIENT_SECRET,
    DEFAULT_PAYPAL_WEBHOOK_ID,
    DEFAULT_STRIPE_WEBHOOK_SECRET,
    Sandbox,
    SandboxConfig,
)
from sandbox.paypal.api import PayPalSandbox
from sandbox.paypal.state import OUTCOMES as PAYPAL_OUTCOMES
from sandbox.paypal.state import OrderNotApprovable
from sandbox.persistence import StateFileError
from sandbox.server import ServerHandle
from sandbox.stripe.api import StripeSandbox
from sandbox.stripe.payments import OUTCOMES, CheckoutSessionNotOpen
from sandbox.webhooks import DeliveryRecord, Switches

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
    "StateFileError",
    "StripeSandbox",
    "Switches",
]
