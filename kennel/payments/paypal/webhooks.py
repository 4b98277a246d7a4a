"""PayPal webhook verification, in our code: no PayPal SDK verifies webhooks.

Two ways, chosen by `PAYPAL_WEBHOOK_VERIFICATION`:

- ``offline``: SHA256withRSA over ``transmission_id|transmission_time|webhook_id|crc32(body)``
  (crc32 of the raw body as an unsigned decimal; webhook_id is ours, `PAYPAL_WEBHOOK_ID`),
  checked against the certificate named by the `PAYPAL-CERT-URL` header.  That certificate is
  fetched only from a URL of PayPal's documented shape — ``https://api.paypal.com/v1/
  notifications/certs/CERT-…`` in live mode, the same path on exactly the configured sandbox's
  origin in sandbox mode — never following redirects; it must be within its validity dates,
  and is cached.  A foreign URL is refused before any request is made, in either mode.
- ``api``: PayPal's `verify-webhook-signature` endpoint is asked instead.

Either way nothing is stored or processed unless the delivery checks out (WebhookRejected).

Before any call goes out, the cheap checks: the five headers present and well formed, the
algorithm ours, the transmission time recent, the certificate URL of PayPal's documented shape,
the body a JSON object.  Forged deliveries must not make the shop call out at their pace: the
certificate is cached, and the calls that do go out (certificate downloads, postbacks) are
bounded per process (`PAYPAL_WEBHOOK_VERIFY_PER_MINUTE`); beyond the bound a delivery is
refused `verification_rate_limited`, and PayPal, which retries any non-2xx, sends it again.

PayPal signs only a CRC32 of the body, which four chosen bytes can match: a genuine
transmission's headers could carry another body.  Storing (kennel/payments/webhooks.py)
remembers which body came under each transmission id and refuses any other.
"""

import base64
import binascii
import datetime as dt
import hashlib
import logging
import re
import threading
import time
import zlib
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.core.cache import cache

from kennel.payments.paypal import client
from kennel.payments.providers import ProviderError, WebhookRejected, parse_event

log = logging.getLogger(__name__)

AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
# PayPal's certificate hosts; the API base in use says which pair (live or PayPal's sandbox).
LIVE_CERT_HOSTS = frozenset({"api.paypal.com", "api-m.paypal.com"})
PAYPAL_SANDBOX_CERT_HOSTS = frozenset({"api.sandbox.paypal.com", "api-m.sandbox.paypal.com"})
CERT_PATH = re.compile(r"/v1/notifications/certs/CERT-[A-Za-z0-9-]{1,100}")
MAX_CERT_BYTES = 64 * 1024
CERT_CACHE_SECONDS = 24 * 3600
# The verify-webhook-signature request's own limits on these fields (sig: RSA-4096 fits).
TRANSMISSION_ID = re.compile(r"[A-Za-z0-9-]{1,50}")
MAX_SIGNATURE_CHARS = 1000
MAX_CERT_URL_CHARS = 500
MAX_TIME_CHARS = 40
# A transmission time this far ahead of our clock is refused: only clock skew explains one.
CLOCK_SKEW = dt.timedelta(hours=1)


def verify(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Verify a delivery and return its parsed event. Raises WebhookRejected."""
    if not settings.PAYPAL_WEBHOOK_ID:
        raise WebhookRejected("not_configured", "PAYPAL_WEBHOOK_ID is not set")
    values = _signature_headers(headers)
    _check_time(values["paypal-transmission-time"])
    if not cert_url_allowed(values["paypal-cert-url"]):
        raise WebhookRejected(
            "foreign_cert_url", f"certificate URL not allowed: {values['paypal-cert-url']!r}"
        )
    event = parse_event(body)
    if settings.PAYPAL_WEBHOOK_VERIFICATION == "api":
        _verify_by_postback(body, values)
    else:
        _verify_offline(body, values)
    return event


def _signature_headers(headers: dict[str, str]) -> dict[str, str]:
    """The five signature headers, present and well formed (nothing is asked of anyone yet).

    PayPal's headers name no webhook id: ours is only inside the signed string."""
    values = {name: (headers.get(name) or "").strip() for name in HEADERS}
    if not all(values.values()):
        raise WebhookRejected("missing_signature")
    if values["paypal-auth-algo"] != AUTH_ALGO:
        raise WebhookRejected("bad_signature", "unsupported PAYPAL-AUTH-ALGO")
    signature = values["paypal-transmission-sig"]
    if (
        not TRANSMISSION_ID.fullmatch(values["paypal-transmission-id"])
        or len(signature) > MAX_SIGNATURE_CHARS
        or len(values["paypal-cert-url"]) > MAX_CERT_URL_CHARS
    ):
        raise WebhookRejected("bad_signature", "malformed signature headers")
    try:
        base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRejected("bad_signature", "PAYPAL-TRANSMISSION-SIG is not base64") from exc
    return values


def _check_time(value: str) -> None:
    """Refuse a transmission dated far from now (it is signed: a captured delivery cannot be
    re-dated).  PayPal retries a failed delivery 25 times over three days and does not
    document whether a retry is dated anew, so the window reaches back over all of them:
    `PAYPAL_WEBHOOK_MAX_AGE_HOURS` (96: three days and one of margin).  Inside it, a replayed
    transmission is caught by its id when stored, so the width costs no safety."""
    try:
        at = dt.datetime.fromisoformat(value) if len(value) <= MAX_TIME_CHARS else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise WebhookRejected("bad_signature", "malformed PAYPAL-TRANSMISSION-TIME")
    now = dt.datetime.now(dt.UTC)
    if at < now - dt.timedelta(hours=settings.PAYPAL_WEBHOOK_MAX_AGE_HOURS):
        raise WebhookRejected("stale_timestamp", f"transmitted at {value}, too long ago")
    if at > now + CLOCK_SKEW:
        raise WebhookRejected("stale_timestamp", f"transmitted at {value}, in the future")


def signed_message(values: dict[str, str], body: bytes) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return (
        f"{values['paypal-transmission-id']}|{values['paypal-transmission-time']}|"
        f"{settings.PAYPAL_WEBHOOK_ID}|{crc}"
    ).encode()


# --------------------------------------------------------------------------- offline


def _verify_offline(body: bytes, values: dict[str, str]) -> None:
    cert_url = values["paypal-cert-url"]
    public_key = _public_key(cert_url)
    try:
        signature = base64.b64decode(values["paypal-transmission-sig"], validate=True)
        public_key.verify(
            signature, signed_message(values, body), padding.PKCS1v15(), hashes.SHA256()
        )
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise WebhookRejected("bad_signature") from exc


def cert_url_allowed(url: str) -> bool:
    """A URL of PayPal's documented shape, ``https://api.paypal.com/v1/notifications/certs/
    CERT-…`` (api-m too; PayPal's own sandbox hosts when the API base is one of them), no query;
    in sandbox mode the same path on exactly the sandbox's origin.  Anything else is never
    fetched, nor sent to the postback: PayPal sends no other."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if (
        parts.username is not None
        or parts.password is not None
        or parts.query
        or parts.fragment
        or not CERT_PATH.fullmatch(parts.path)
    ):
        return False
    host = (parts.hostname or "").lower()
    if settings.PAYMENTS_MODE == "live":
        api_base = settings.PAYPAL_API_BASE or client.LIVE_API_BASE
        api_host = (urlsplit(api_base).hostname or "").lower()
        hosts = (
            PAYPAL_SANDBOX_CERT_HOSTS if api_host in PAYPAL_SANDBOX_CERT_HOSTS else LIVE_CERT_HOSTS
        )
        return parts.scheme == "https" and host in hosts and port in (None, 443)
    return _origin(url) == _origin(settings.PAYPAL_API_BASE or settings.SANDBOX_URL)


def _origin(url: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, parts.hostname.lower(), port or default


def _public_key(cert_url: str) -> rsa.RSAPublicKey:
    """The certificate's RSA key, from the cache or fetched once; refused when expired."""
    key = "kennel:paypal:cert:" + hashlib.sha256(cert_url.encode()).hexdigest()
    now = dt.datetime.now(dt.UTC)
    pem = cache.get(key)
    cert = _load(pem) if isinstance(pem, bytes) else None
    if cert is None or not _valid_at(cert, now):
        pem = _fetch(cert_url)
        cert = _load(pem)
        if cert is None:
            raise WebhookRejected("bad_certificate", "the certificate could not be read")
        if not _valid_at(cert, now):
            cache.delete(key)
            raise WebhookRejected("expired_certificate")
    lifetime = int((cert.not_valid_after_utc - now).total_seconds())
    cache.set(key, pem, timeout=max(1, min(CERT_CACHE_SECONDS, lifetime)))
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise WebhookRejected("bad_certificate", "the certificate's key is not RSA")
    return public_key


def _valid_at(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _fetch(cert_url: str) -> bytes:
    spend_outbound_call()
    try:
        with (
            httpx.Client(timeout=settings.PROVIDER_TIMEOUT_SECONDS, follow_redirects=False) as http,
            http.stream("GET", cert_url) as response,
        ):
            if response.status_code != 200:
                raise WebhookRejected("certificate_unavailable", f"HTTP {response.status_code}")
            pem = b""
            for chunk in response.iter_bytes():
                pem += chunk
                if len(pem) > MAX_CERT_BYTES:
                    raise WebhookRejected("bad_certificate", "the certificate is too large")
            return pem
    except httpx.HTTPError as exc:
        log.warning("PayPal certificate %s could not be fetched: %r", cert_url, exc)
        raise WebhookRejected("certificate_unavailable") from exc


def _load(pem: bytes) -> x509.Certificate | None:
    """The first certificate of a PEM chain (PayPal serves the leaf first)."""
    try:
        return x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- postback


def _verify_by_postback(body: bytes, values: dict[str, str]) -> None:
    fields = {
        "auth_algo": values["paypal-auth-algo"],
        "cert_url": values["paypal-cert-url"],
        "transmission_id": values["paypal-transmission-id"],
        "transmission_sig": values["paypal-transmission-sig"],
        "transmission_time": values["paypal-transmission-time"],
        "webhook_id": settings.PAYPAL_WEBHOOK_ID,
    }
    spend_outbound_call()
    try:
        genuine = client.verify_webhook_signature(fields, body.decode("utf-8"))
    except ProviderError as exc:
        # Not a verdict on the delivery: PayPal retries (any non-2xx), by then we may reach it.
        log.warning("PayPal webhook verification could not be asked: %r", exc)
        raise WebhookRejected("verification_unavailable") from exc
    if not genuine:
        raise WebhookRejected("bad_signature")


# --------------------------------------------------------------------------- the bound


class OutboundBudget:
    """A token bucket: `per_minute` calls, refilled evenly, shared by a process's threads."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._tokens = float(per_minute)
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = time.monotonic()
            refill = (now - self._at) * self.per_minute / 60
            self._tokens = min(float(self.per_minute), self._tokens + refill)
            self._at = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


@lru_cache(maxsize=1)
def outbound_budget(per_minute: int) -> OutboundBudget:
    return OutboundBudget(per_minute)  # a new rate (settings changed) starts a new bucket


def spend_outbound_call() -> None:
    """Take one outbound verification call from this process's budget, or refuse the delivery.

    Refused with 400, not 503: every refusal is a counted 400 (the webhook contract), and
    PayPal retries any non-2xx alike, for three days, so a genuine delivery caught in a flood
    comes again.  A cached certificate costs nothing: genuine deliveries verified offline
    are not held up by a flood."""
    per_minute = settings.PAYPAL_WEBHOOK_VERIFY_PER_MINUTE
    if per_minute > 0 and not outbound_budget(per_minute).take():
        raise WebhookRejected("verification_rate_limited")
