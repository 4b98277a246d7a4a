"""PayPal webhook verification, in our code: no PayPal SDK verifies webhooks.

Two ways, chosen by `PAYPAL_WEBHOOK_VERIFICATION`:

- ``offline``: SHA256withRSA over ``transmission_id|transmission_time|webhook_id|crc32(body)``
  (crc32 of the raw body as an unsigned decimal; webhook_id is ours, `PAYPAL_WEBHOOK_ID`),
  checked against the certificate named by the `PAYPAL-CERT-URL` header.  That certificate is
  fetched only over an allowed URL — https on a ``*.paypal.com`` host in live mode, exactly the
  configured sandbox's origin in sandbox mode — never following redirects; it must be within
  its validity dates, and is cached.  A foreign URL is refused before any request is made.
- ``api``: PayPal's `verify-webhook-signature` endpoint is asked instead.

Either way nothing is stored or processed unless the delivery checks out (WebhookRejected).
"""

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import zlib
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
from kennel.payments.providers import ProviderError, WebhookRejected

log = logging.getLogger(__name__)

AUTH_ALGO = "SHA256withRSA"
HEADERS = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
LIVE_CERT_HOST_SUFFIX = ".paypal.com"
MAX_CERT_BYTES = 64 * 1024
CERT_CACHE_SECONDS = 24 * 3600


def verify(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Verify a delivery and return its parsed event. Raises WebhookRejected."""
    if not settings.PAYPAL_WEBHOOK_ID:
        raise WebhookRejected("not_configured", "PAYPAL_WEBHOOK_ID is not set")
    values = {name: (headers.get(name) or "").strip() for name in HEADERS}
    if not all(values.values()):
        raise WebhookRejected("missing_signature")
    if values["paypal-auth-algo"] != AUTH_ALGO:
        raise WebhookRejected("bad_signature", "unsupported PAYPAL-AUTH-ALGO")
    event = _parse(body)
    if settings.PAYPAL_WEBHOOK_VERIFICATION == "api":
        _verify_by_postback(body, values)
    else:
        _verify_offline(body, values)
    return event


def _parse(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise WebhookRejected("malformed_body") from exc
    if not isinstance(event, dict):
        raise WebhookRejected("malformed_body")
    return event


def signed_message(values: dict[str, str], body: bytes) -> bytes:
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return (
        f"{values['paypal-transmission-id']}|{values['paypal-transmission-time']}|"
        f"{settings.PAYPAL_WEBHOOK_ID}|{crc}"
    ).encode()


# --------------------------------------------------------------------------- offline


def _verify_offline(body: bytes, values: dict[str, str]) -> None:
    cert_url = values["paypal-cert-url"]
    if not cert_url_allowed(cert_url):
        raise WebhookRejected("foreign_cert_url", f"certificate URL not allowed: {cert_url!r}")
    public_key = _public_key(cert_url)
    try:
        signature = base64.b64decode(values["paypal-transmission-sig"], validate=True)
        public_key.verify(
            signature, signed_message(values, body), padding.PKCS1v15(), hashes.SHA256()
        )
    except (binascii.Error, ValueError, InvalidSignature) as exc:
        raise WebhookRejected("bad_signature") from exc


def cert_url_allowed(url: str) -> bool:
    """Live: https on a ``*.paypal.com`` host (default port). Sandbox: the sandbox's origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    if parts.username is not None or parts.password is not None:
        return False
    host = (parts.hostname or "").lower()
    if settings.PAYMENTS_MODE == "live":
        return (
            parts.scheme == "https" and host.endswith(LIVE_CERT_HOST_SUFFIX) and port in (None, 443)
        )
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
    try:
        genuine = client.verify_webhook_signature(fields, body.decode("utf-8"))
    except ProviderError as exc:
        # Not a verdict on the delivery: PayPal retries (any non-2xx), by then we may reach it.
        log.warning("PayPal webhook verification could not be asked: %r", exc)
        raise WebhookRejected("verification_unavailable") from exc
    if not genuine:
        raise WebhookRejected("bad_signature")
