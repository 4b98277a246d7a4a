"""PayPal-style webhook signatures for the sandbox: an RSA key and a self-signed certificate,
SHA256withRSA over ``transmission_id|transmission_time|webhook_id|crc32(body)``.

The certificate is served at a URL on the sandbox (PayPal serves its own from
``api.paypal.com``); the app fetches it from there, checks it and verifies the signature, or
asks the sandbox's ``verify-webhook-signature`` endpoint to do so.  The key and certificate
are made the first time and kept in the sandbox's saved state, because the app caches the
certificate by its URL: a new key must come with a new cert id, never behind the old URL.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
import uuid
import zlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from sandbox.core import JSON

AUTH_ALGO = "SHA256withRSA"
#: Signatures made with ``stale=True`` are dated this many seconds in the past.
STALE_SECONDS = 600


def crc32(body: bytes) -> int:
    """CRC32 of the raw body as an unsigned decimal, as PayPal puts it in the signed string."""
    return zlib.crc32(body) & 0xFFFFFFFF


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs: ``transmission_id|transmission_time|webhook_id|crc32``."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(body)}".encode()


class WebhookSigner:
    """The sandbox's signing identity: one RSA key, one self-signed certificate, one cert id.

    ``WebhookSigner()`` makes a new identity; :meth:`restore` takes back a saved one.
    """

    def __init__(
        self,
        common_name: str = "messageverificationcerts.sandbox.kennel.invalid",
        *,
        saved: tuple[rsa.RSAPrivateKey, x509.Certificate, str] | None = None,
    ) -> None:
        if saved is None:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            saved = key, _self_signed(key, common_name), _new_cert_id()
        self._key, self.certificate, self.cert_id = saved
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)

    def snapshot(self) -> JSON:
        key = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "key": key.decode("ascii"),
            "certificate": self.pem.decode("ascii"),
            "cert_id": self.cert_id,
        }

    @classmethod
    def restore(cls, saved: JSON) -> WebhookSigner:
        """The identity of :meth:`snapshot`, or a new one (with a new cert id) when its
        certificate has expired or is about to: the app refuses an expired certificate."""
        certificate = x509.load_pem_x509_certificate(str(saved["certificate"]).encode("ascii"))
        if certificate.not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
            return cls()
        key = serialization.load_pem_private_key(str(saved["key"]).encode("ascii"), None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the saved PayPal signing key is not an RSA key")
        return cls(saved=(key, certificate, str(saved["cert_id"])))

    def sign(self, message: bytes) -> str:
        signature = self._key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode("ascii")

    def verify(self, signature_b64: str, message: bytes) -> bool:
        try:
            signature = base64.b64decode(signature_b64, validate=True)
            self._key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature):
            return False
        return True

    def headers(self, body: bytes, *, webhook_id: str, cert_url: str, at: float) -> dict[str, str]:
        """The headers of one delivery attempt, freshly signed."""
        transmission_id = str(uuid.uuid1())
        transmission_time = dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = self.sign(signed_message(transmission_id, transmission_time, webhook_id, body))
        return {
            "Content-Type": "application/json",
            "User-Agent": "PayPal/AUHD-214.0-58843155 (Kennel sandbox)",
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": transmission_time,
            "PAYPAL-TRANSMISSION-SIG": signature,
            "PAYPAL-CERT-URL": cert_url,
            "PAYPAL-AUTH-ALGO": AUTH_ALGO,
            "PAYPAL-AUTH-VERSION": "v2",
            "Correlation-Id": secrets.token_hex(7)[:13],
        }


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kennel payment sandbox (not PayPal)"),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def _new_cert_id() -> str:
    return f"CERT-{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def raw_member(text: str, key: str) -> str | None:
    """The exact source text of a top-level member of a JSON object, or None.

    The verify-webhook-signature endpoint checks the CRC of the event *as the caller sent it*,
    so it needs the event's bytes, not a re-serialisation of the parsed value.
    """
    decoder = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if text[i : i + 1] != "{":
        return None
    i = _skip_ws(text, i + 1)
    found: str | None = None
    while i < len(text) and text[i] != "}":
        name, i = decoder.raw_decode(text, i)
        i = _skip_ws(text, i)
        if text[i : i + 1] != ":":
            return None
        start = _skip_ws(text, i + 1)
        _, i = decoder.raw_decode(text, start)
        if name == key:
            found = text[start:i]
        i = _skip_ws(text, i)
        if text[i : i + 1] == ",":
            i = _skip_ws(text, i + 1)
    return found


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i
