"""One family, one hold: who is asking (a client key), and how fast they may ask.

The active-hold limits per email and per client are counted exactly by the hold service
(services.reservation_hold, under an advisory lock); the rate of holds per client and period
is django-ratelimit's (HOLD_RATE), in the shared cache. A client is its address — behind
TRUSTED_PROXIES the forwarded one, an IPv6 address by its /64 (one home's whole prefix) — kept
only as a keyed hash, which nothing can turn back into the address.
"""

import hashlib
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from kennel.core.errors import HOLD_RATE_MESSAGE, HoldRefused
from kennel.reservations.tracking import client_ip


def client_key(request: HttpRequest) -> str:
    """A stable, non-reversible key for the client's address ("" when there is none)."""
    address = client_ip(request)
    if address is None:
        return ""
    ip = ipaddress.ip_address(address)
    network = str(ipaddress.ip_network(f"{ip}/64", strict=False)) if ip.version == 6 else str(ip)
    digest = hmac.new(settings.SECRET_KEY.encode(), f"client:{network}".encode(), hashlib.sha256)
    return digest.hexdigest()[:32]


def hold_rate_check(request: HttpRequest, *, client: str) -> None:
    """Count one hold attempt for `client`; raise HoldRefused (TOO_MANY_HOLDS, 429 with
    Retry-After) past HOLD_RATE. Off when HOLD_RATE is "0" or the client has no address."""
    rate = settings.HOLD_RATE.strip()
    if not client or rate in ("", "0"):
        return
    usage = get_usage(
        request,
        group="kennel.holds",
        key=lambda _group, _request: client,
        rate=rate,
        increment=True,
    )
    if usage is not None and usage["should_limit"]:
        raise HoldRefused(
            "TOO_MANY_HOLDS", HOLD_RATE_MESSAGE, retry_after=max(1, int(usage["time_left"]))
        )
