"""The PayPal webhook endpoint refuses anything PayPal did not sign, and stores the rest.

Offline verification is checked with real RSA signatures over PayPal's signed string and a
certificate served over HTTP; the postback mode asks the sandbox's verify-webhook-signature.
"""

import base64
import datetime as dt
import json
import socket
import threading
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from django.core.cache import cache

from kennel.payments.models import WebhookEvent, WebhookRejection
from kennel.payments.paypal.webhooks import cert_url_allowed
from sandbox import Sandbox, SandboxConfig
from sandbox.paypal.signing import WebhookSigner
from tests.payments.flow import run_webhook_jobs

URL = "/webhooks/paypal/"
WEBHOOK_ID = "WH-TEST-4RC60193EX0811234"


@dataclass
class Identity:
    """A signing key and its self-signed certificate, as PayPal holds and publishes them."""

    key: rsa.RSAPrivateKey
    pem: bytes

    @classmethod
    def make(cls, *, valid_days: tuple[int, int] = (-1, 365)) -> "Identity":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = dt.datetime.now(dt.UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.test")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=valid_days[0]))
            .not_valid_after(now + dt.timedelta(days=valid_days[1]))
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert.public_bytes(serialization.Encoding.PEM))

    def sign(self, message: str) -> str:
        raw = self.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(raw).decode()


class CertServer:
    """Serves certificates at /certs/<name> and counts the requests it gets."""

    def __init__(self) -> None:
        self.pems: dict[str, bytes] = {}
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                pem = server.pems.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if pem else 404)
                self.send_header("Content-Length", str(len(pem or b"")))
                self.end_headers()
                self.wfile.write(pem or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def publish(self, name: str, identity: Identity) -> str:
        """Serves the certificate at a URL of PayPal's shape; returns that URL."""
        self.pems[f"CERT-{name}"] = identity.pem
        return paypal_cert_url(self.url, name)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class Listener:
    """A bare TCP listener that records every connection made to it (it must see none)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.1)
        self.port = self._sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sock.close()


@pytest.fixture
def certs(settings) -> Iterator[CertServer]:
    server = CertServer()
    settings.PAYMENTS_MODE = "sandbox"
    settings.PAYPAL_API_BASE = server.url  # the sandbox's origin is the allowed cert origin
    settings.PAYPAL_WEBHOOK_ID = WEBHOOK_ID
    settings.PAYPAL_WEBHOOK_VERIFICATION = "offline"
    cache.clear()
    yield server
    server.close()
    cache.clear()


@pytest.fixture
def listener() -> Iterator[Listener]:
    rec = Listener()
    yield rec
    rec.close()


@pytest.fixture(scope="module")
def paypal_identity() -> Identity:
    return Identity.make()


def paypal_cert_url(origin: str, name: str) -> str:
    return f"{origin}/v1/notifications/certs/CERT-{name}"


def paypal_time(at: dt.datetime | None = None) -> str:
    return (at or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(event_type: str = "CUSTOMER.DISPUTE.CREATED", event_id: str = "WH-1AB-2CD") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "event_version": "1.0",
            "create_time": "2026-01-30T20:18:51.123Z",
            "resource_type": "dispute",
            "event_type": event_type,
            "summary": "A new dispute opened",
            "resource": {"dispute_id": "PP-D-1"},
        }
    ).encode()


def signed(
    body: bytes,
    identity: Identity,
    cert_url: str,
    *,
    webhook_id: str = WEBHOOK_ID,
    transmission_time: str | None = None,
    transmission_id: str | None = None,
) -> dict[str, str]:
    transmission_id = transmission_id or str(uuid.uuid1())
    transmission_time = transmission_time or paypal_time()
    crc = zlib.crc32(body) & 0xFFFFFFFF
    message = f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}"
    return {
        "PAYPAL-TRANSMISSION-ID": transmission_id,
        "PAYPAL-TRANSMISSION-TIME": transmission_time,
        "PAYPAL-TRANSMISSION-SIG": identity.sign(message),
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


def post(client, body: bytes, headers: dict[str, str]):
    return client.post(URL, data=body, content_type="application/json", headers=headers)


def rejected(reason: str) -> int:
    row = WebhookRejection.objects.filter(provider="paypal", reason=reason).first()
    return row.count if row else 0


def assert_refused(answer: Any, reason: str) -> None:
    assert answer.status_code == 400, answer.content
    assert answer.json() == {"error": {"code": "WEBHOOK_REJECTED", "message": reason}}
    assert not WebhookEvent.objects.exists()
    assert rejected(reason) == 1


# --------------------------------------------------------------------------- offline


@pytest.mark.django_db
def test_a_genuine_delivery_is_stored_acknowledged_and_an_unknown_type_ignored(
    client, certs, paypal_identity
):
    body = event()
    answer = post(client, body, signed(body, paypal_identity, certs.publish("a", paypal_identity)))

    assert answer.status_code == 200
    run_webhook_jobs()  # the worker's part
    stored = WebhookEvent.objects.get()
    assert (stored.provider, stored.event_id, stored.type, stored.status) == (
        "paypal",
        "WH-1AB-2CD",
        "CUSTOMER.DISPUTE.CREATED",
        "ignored",
    )
    assert stored.body == body.decode()
    assert stored.headers["paypal-transmission-sig"]


@pytest.mark.django_db
def test_a_duplicate_delivery_is_acknowledged_and_stored_once(client, certs, paypal_identity):
    body = event()
    cert_url = certs.publish("a", paypal_identity)
    for _ in range(3):
        assert post(client, body, signed(body, paypal_identity, cert_url)).status_code == 200
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_the_certificate_is_fetched_once_and_then_cached(client, certs, paypal_identity):
    cert_url = certs.publish("a", paypal_identity)
    for n in range(4):
        body = event(event_id=f"WH-{n}")
        assert post(client, body, signed(body, paypal_identity, cert_url)).status_code == 200

    assert certs.hits == ["/v1/notifications/certs/CERT-a"]
    assert WebhookEvent.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    ["other_key", "body_changed", "wrong_webhook_id", "time_changed", "id_changed", "garbled"],
)
def test_a_badly_signed_delivery_is_refused_and_only_counted(
    client, certs, paypal_identity, tamper
):
    body = event("PAYMENT.CAPTURE.COMPLETED")
    cert_url = certs.publish("a", paypal_identity)
    headers = signed(body, paypal_identity, cert_url)
    if tamper == "other_key":
        headers = signed(body, Identity.make(), cert_url)  # someone else's key, PayPal's cert
    elif tamper == "body_changed":
        body = body.replace(b"WH-1AB-2CD", b"WH-1AB-2CE")
    elif tamper == "wrong_webhook_id":
        headers = signed(body, paypal_identity, cert_url, webhook_id="WH-SOMEONE-ELSE")
    elif tamper == "time_changed":
        headers["PAYPAL-TRANSMISSION-TIME"] = paypal_time(
            dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
        )
    elif tamper == "id_changed":
        headers["PAYPAL-TRANSMISSION-ID"] = str(uuid.uuid1())
    else:
        headers["PAYPAL-TRANSMISSION-SIG"] = "not base64 at all!"

    assert_refused(post(client, body, headers), "bad_signature")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    [
        "PAYPAL-TRANSMISSION-ID",
        "PAYPAL-TRANSMISSION-TIME",
        "PAYPAL-TRANSMISSION-SIG",
        "PAYPAL-CERT-URL",
        "PAYPAL-AUTH-ALGO",
    ],
)
def test_a_delivery_missing_a_signature_header_is_refused(client, certs, paypal_identity, header):
    body = event()
    headers = signed(body, paypal_identity, certs.publish("a", paypal_identity))
    del headers[header]

    assert_refused(post(client, body, headers), "missing_signature")
    assert certs.hits == []


@pytest.mark.django_db
def test_an_unsupported_signature_algorithm_is_refused(client, certs, paypal_identity):
    body = event()
    headers = signed(body, paypal_identity, certs.publish("a", paypal_identity))
    headers["PAYPAL-AUTH-ALGO"] = "SHA1withRSA"

    assert_refused(post(client, body, headers), "bad_signature")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b"\xff\xfe",
        b'{"event_type": "PAYMENT.CAPTURE.COMPLETED"}',
        b'{"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": "x"}',
    ],
    ids=["not-json", "not-an-object", "not-utf8", "no-event-id", "resource-not-an-object"],
)
def test_a_signed_but_malformed_body_is_refused(client, certs, paypal_identity, body):
    headers = signed(body, paypal_identity, certs.publish("a", paypal_identity))

    assert_refused(post(client, body, headers), "malformed_body")


@pytest.mark.django_db
def test_an_expired_certificate_is_refused(client, certs):
    expired = Identity.make(valid_days=(-30, -1))
    body = event()

    answer = post(client, body, signed(body, expired, certs.publish("old", expired)))

    assert_refused(answer, "expired_certificate")


@pytest.mark.django_db
def test_a_certificate_that_cannot_be_fetched_is_refused(client, certs, paypal_identity):
    body = event()
    headers = signed(body, paypal_identity, paypal_cert_url(certs.url, "missing"))

    assert_refused(post(client, body, headers), "certificate_unavailable")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_url",
    [
        lambda certs, port: paypal_cert_url(f"http://127.0.0.1:{port}", "a"),  # another port
        lambda certs, port: paypal_cert_url(f"http://localhost:{port}", "a"),  # another host
        lambda certs, port: paypal_cert_url(f"https://127.0.0.1:{port}", "a"),  # another scheme
        lambda certs, port: paypal_cert_url(f"{certs.url}@127.0.0.1:{port}", "a"),  # userinfo trick
        lambda certs, port: paypal_cert_url(f"ftp://127.0.0.1:{port}", "a"),
        lambda certs, port: f"{certs.url}/certs/CERT-a",  # the right origin, another path
        lambda certs, port: paypal_cert_url(certs.url, "a") + "?x=1",  # the right URL with a query
    ],
    ids=["port", "host", "scheme", "userinfo", "ftp", "path", "query"],
)
def test_a_certificate_url_on_a_foreign_host_is_refused_without_any_request(
    client, certs, paypal_identity, listener, make_url
):
    body = event()
    cert_url = make_url(certs, listener.port)
    certs.publish("a", paypal_identity)

    answer = post(client, body, signed(body, paypal_identity, cert_url))

    assert_refused(answer, "foreign_cert_url")
    assert listener.connections == 0
    assert certs.hits == []


@pytest.mark.django_db
def test_in_live_mode_only_https_paypal_hosts_may_serve_the_certificate(
    client, certs, paypal_identity, listener, settings
):
    settings.PAYMENTS_MODE = "live"
    body = event()
    local = certs.publish("a", paypal_identity)  # fine in sandbox mode, not in live mode

    for url in (local, paypal_cert_url(f"http://127.0.0.1:{listener.port}", "a")):
        answer = post(client, body, signed(body, paypal_identity, url))
        assert answer.status_code == 400
        assert answer.json()["error"]["message"] == "foreign_cert_url"

    assert listener.connections == 0
    assert certs.hits == []
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77", True),
        ("https://api-m.paypal.com:443/v1/notifications/certs/CERT-1", True),
        ("https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1", False),  # not live
        ("https://api.paypal.com/v1/notifications/certs/CERT-1?x=1", False),
        ("https://api.paypal.com/v1/notifications/certs/CERT-1#x", False),
        ("https://api.paypal.com/v1/notifications/certs/../../oauth2/token", False),
        ("https://api.paypal.com/v1/notifications/certs/", False),
        ("https://www.paypal.com/v1/notifications/certs/CERT-1", False),
        ("https://api.paypal.com/cert", False),
        ("http://api.paypal.com/v1/notifications/certs/CERT-1", False),
        ("https://paypal.com/v1/notifications/certs/CERT-1", False),
        ("https://evilpaypal.com/cert", False),
        ("https://api.paypal.com.evil.test/cert", False),
        ("https://api.paypal.com@evil.test/cert", False),
        ("https://evil.test/cert?host=.paypal.com", False),
        ("https://evil.test/#.paypal.com", False),
        ("https://api.paypal.com:8443/cert", False),
        ("https://api.paypal.com:99999/cert", False),
        ("ftp://api.paypal.com/cert", False),
        ("", False),
        ("not a url", False),
    ],
)
def test_the_live_certificate_allow_list(settings, url, allowed):
    settings.PAYMENTS_MODE = "live"
    settings.PAYPAL_API_BASE = ""  # PayPal's live API
    assert cert_url_allowed(url) is allowed


def test_against_paypals_own_sandbox_only_its_sandbox_hosts_serve_certificates(settings):
    settings.PAYMENTS_MODE = "live"
    settings.PAYPAL_API_BASE = "https://api-m.sandbox.paypal.com"
    assert cert_url_allowed("https://api.sandbox.paypal.com/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("https://api.paypal.com/v1/notifications/certs/CERT-1")


def test_the_sandbox_certificate_allow_list_is_exactly_the_sandbox_origin(settings):
    settings.PAYMENTS_MODE = "sandbox"
    settings.PAYPAL_API_BASE = "http://127.0.0.1:8111"
    assert cert_url_allowed("http://127.0.0.1:8111/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("http://127.0.0.1:8112/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("http://localhost:8111/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("https://127.0.0.1:8111/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("https://api.paypal.com/v1/notifications/certs/CERT-1")
    assert not cert_url_allowed("http://127.0.0.1:8111/v1/oauth2/token")
    assert not cert_url_allowed("http://127.0.0.1:8111/v1/notifications/certs/CERT-1?a=b")


@pytest.mark.django_db
def test_without_a_webhook_id_nothing_is_accepted(client, certs, paypal_identity, settings):
    settings.PAYPAL_WEBHOOK_ID = ""
    body = event()

    answer = post(client, body, signed(body, paypal_identity, certs.publish("a", paypal_identity)))

    assert_refused(answer, "not_configured")


# --------------------------------------------------------------------------- the sandbox


@pytest.fixture
def paypal_sandbox(settings) -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(paypal_webhook_id=WEBHOOK_ID))
    server = sb.serve_in_thread(host="127.0.0.1", port=0)
    settings.PAYMENTS_MODE = "sandbox"
    settings.PAYPAL_API_BASE = server.url
    settings.PAYPAL_CLIENT_ID = sb.config.paypal_client_id
    settings.PAYPAL_CLIENT_SECRET = sb.config.paypal_client_secret
    settings.PAYPAL_WEBHOOK_ID = WEBHOOK_ID
    cache.clear()
    yield sb
    sb.close()
    cache.clear()


def sandbox_event(sb: Sandbox, event_id: str = "WH-SANDBOX-1") -> dict[str, Any]:
    return {
        "id": event_id,
        "event_version": "1.0",
        "create_time": "2026-01-30T20:18:51.123Z",
        "resource_type": "dispute",
        "resource_version": "2.0",
        "event_type": "CUSTOMER.DISPUTE.CREATED",
        "summary": "A new dispute opened",
        "resource": {"dispute_id": "PP-D-1", "note": "caf\u00e9 \u2013 \U0001f436"},
    }


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["offline", "api"])
def test_the_sandbox_signature_verifies_both_ways(client, paypal_sandbox, settings, mode):
    settings.PAYPAL_WEBHOOK_VERIFICATION = mode
    body, headers = paypal_sandbox.paypal.signed_delivery(sandbox_event(paypal_sandbox))

    answer = post(client, body, headers)

    assert answer.status_code == 200
    assert WebhookEvent.objects.get().event_id == "WH-SANDBOX-1"
    postbacks = [
        c for c in paypal_sandbox.paypal.api_calls if c.path.endswith("/verify-webhook-signature")
    ]
    assert len(postbacks) == (1 if mode == "api" else 0)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tamper",
    ["other_key", "body_changed", "wrong_webhook_id", "time_changed"],
)
def test_the_postback_refuses_what_paypal_did_not_sign(client, paypal_sandbox, settings, tamper):
    settings.PAYPAL_WEBHOOK_VERIFICATION = "api"
    body, headers = paypal_sandbox.paypal.signed_delivery(sandbox_event(paypal_sandbox))
    if tamper == "other_key":
        impostor = WebhookSigner()
        headers = impostor.headers(
            body, webhook_id=WEBHOOK_ID, cert_url=paypal_sandbox.paypal.cert_url, at=time.time()
        )
    elif tamper == "body_changed":
        body = body.replace(b"PP-D-1", b"PP-D-2")
    elif tamper == "wrong_webhook_id":
        body, headers = paypal_sandbox.paypal.signed_delivery(
            sandbox_event(paypal_sandbox), webhook_id="WH-SOMEONE-ELSE"
        )
    else:
        headers["PAYPAL-TRANSMISSION-TIME"] = paypal_time(
            dt.datetime.now(dt.UTC) - dt.timedelta(seconds=61)
        )

    assert_refused(post(client, body, headers), "bad_signature")
    assert any(
        c.path.endswith("/verify-webhook-signature") for c in paypal_sandbox.paypal.api_calls
    )


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["offline", "api"])
def test_a_foreign_certificate_url_is_refused_before_anyone_is_asked(
    client, paypal_sandbox, settings, listener, mode
):
    settings.PAYPAL_WEBHOOK_VERIFICATION = mode
    body, headers = paypal_sandbox.paypal.signed_delivery(sandbox_event(paypal_sandbox))
    headers["PAYPAL-CERT-URL"] = paypal_cert_url(f"http://127.0.0.1:{listener.port}", "x")

    assert_refused(post(client, body, headers), "foreign_cert_url")
    assert listener.connections == 0
    assert not paypal_sandbox.paypal.api_calls


@pytest.mark.django_db
def test_when_paypal_cannot_be_asked_the_delivery_is_refused_for_a_retry(
    client, paypal_sandbox, settings, listener
):
    settings.PAYPAL_WEBHOOK_VERIFICATION = "api"
    body, headers = paypal_sandbox.paypal.signed_delivery(sandbox_event(paypal_sandbox))
    settings.PAYPAL_API_BASE = f"http://127.0.0.1:{_closed_port()}"
    settings.PROVIDER_TIMEOUT_SECONDS = 2.0
    headers["PAYPAL-CERT-URL"] = paypal_cert_url(settings.PAYPAL_API_BASE, "x")  # same origin

    assert_refused(post(client, body, headers), "verification_unavailable")


@pytest.mark.django_db
def test_a_malformed_body_is_refused_before_paypal_is_asked(client, paypal_sandbox, settings):
    settings.PAYPAL_WEBHOOK_VERIFICATION = "api"
    body = b'{"id": "WH-1", "event_type": '
    _, headers = paypal_sandbox.paypal.signed_delivery({"id": "WH-1"})

    assert_refused(post(client, body, headers), "malformed_body")
    assert not paypal_sandbox.paypal.api_calls


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
