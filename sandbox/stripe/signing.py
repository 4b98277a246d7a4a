"""Stripe's webhook signature: the ``Stripe-Signature`` header of each delivery attempt.

Stripe signs ``"<timestamp>.<raw body>"`` with HMAC-SHA256 keyed by the endpoint's secret and
sends ``t=<timestamp>,v1=<hex digest>``, with a fresh timestamp on every attempt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from sandbox.core import JSON

#: Signatures made with ``stale=True`` are dated this many seconds in the past; Stripe's SDKs
#: refuse timestamps older than 300 s by default.
STALE_SECONDS = 600


def encode(event: JSON) -> bytes:
    """An event's body as Stripe delivers it (pretty-printed JSON)."""
    return json.dumps(event, indent=2).encode("utf-8")


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header's value for ``body`` signed at ``timestamp``."""
    key = secret.encode("utf-8")
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signed_headers(secret: str, body: bytes, stale: bool) -> dict[str, str]:
    """The headers of one delivery attempt of ``body``."""
    timestamp = int(time.time()) - (STALE_SECONDS if stale else 0)
    return {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": signature(secret, body, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Accept": "*/*; q=0.5, application/xml",
        "Cache-Control": "no-cache",
    }
