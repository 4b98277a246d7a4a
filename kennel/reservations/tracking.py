"""What a hold remembers for the conversion reports, read from the buyer's request.

Only with the buyer's consent: without it nothing but the "no" itself is kept, and neither
GA4 nor Meta ever hears of the purchase. Every value is checked against the shape its
platform gives it, so a crafted cookie or header is dropped rather than forwarded.
"""

import ipaddress
import re
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

USER_AGENT_MAX = 512
SOURCE_URL_MAX = 500
# _ga is "GA1.<n>.<random>.<seconds>": the client id is its last two numbers.
_GA_COOKIE_RE = re.compile(r"GA\d\.\d+\.(\d{1,20})\.(\d{1,20})")
# _fbp is "fb.<subdomain index>.<ms>.<random>"; _fbc is "fb.<index>.<ms>.<fbclid>".
_FBP_RE = re.compile(r"fb\.\d\.\d{1,20}\.\d{1,30}")
_FBC_RE = re.compile(r"fb\.\d\.\d{1,20}\.[A-Za-z0-9_-]{1,200}")


@dataclass(frozen=True)
class Tracking:
    """Analytics context of a hold. The default is "no consent": nothing is kept."""

    consent: bool = False
    ga_client_id: str = ""
    fbp: str = ""
    fbc: str = ""
    client_ip: str | None = None
    user_agent: str = ""
    source_url: str = ""


def tracking_from_request(request: HttpRequest, *, consent: bool, source_url: str) -> Tracking:
    """The buyer's analytics context, or an empty one when they did not consent.

    `source_url` is the page the purchase started on (Meta's `event_source_url`).
    """
    if not consent:
        return Tracking()
    return Tracking(
        consent=True,
        ga_client_id=ga_client_id(request.COOKIES.get("_ga", "")),
        fbp=_matching(_FBP_RE, request.COOKIES.get("_fbp", "")),
        fbc=_matching(_FBC_RE, request.COOKIES.get("_fbc", "")),
        client_ip=client_ip(request),
        user_agent=_printable(request.headers.get("User-Agent", ""))[:USER_AGENT_MAX],
        source_url=source_url[:SOURCE_URL_MAX],
    )


def ga_client_id(cookie: str) -> str:
    """The GA4 client id from a `_ga` cookie, or a new one in GA's own "random.seconds" form."""
    found = _GA_COOKIE_RE.fullmatch(cookie.strip())
    if found:
        return f"{found[1]}.{found[2]}"
    return f"{secrets.randbelow(2**31 - 1) + 1}.{int(time.time())}"


def client_ip(request: HttpRequest) -> str | None:
    """The buyer's address: REMOTE_ADDR, or X-Forwarded-For when TRUSTED_PROXIES says how many
    proxies of ours sit in front (each appends the address it saw; earlier ones are the
    client's own claims and are not believed)."""
    candidate = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXIES
    if hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def _matching(pattern: re.Pattern[str], value: str) -> str:
    value = value.strip()
    return value if pattern.fullmatch(value) else ""


def _printable(value: str) -> str:
    return "".join(c for c in value if c.isprintable())
