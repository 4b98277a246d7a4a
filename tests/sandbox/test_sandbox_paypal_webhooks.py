"""The sandbox's PayPal webhooks: envelopes, RSA signatures, the certificate, verify-webhook-
signature, retries and the misbehaviour switches; and its CLI's PayPal flags."""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sandbox.__main__ import build_parser
from tests.contracts.fixtures import paypal_webhooks
from tests.sandbox import test_sandbox_paypal_api as paypal_api
from tests.sandbox.test_sandbox_paypal_api import PayPal

if TYPE_CHECKING:
    from tests.sandbox.conftest import Receiver

WEBHOOK_ID = "WH-SANDBOX-TESTS-1"
make_paypal = paypal_api.make_paypal  # the same harness as the API tests
# The Webhooks v1 event envelope (tests/fixtures/paypal/webhook_examples.json).
ENVELOPE_KEYS = frozenset(paypal_webhooks()["spec_event_schema"]["properties"])
SIGNATURE_HEADERS = {
    "paypal-transmission-id", "paypal-transmission-time", "paypal-transmission-sig",
    "paypal-cert-url", "paypal-auth-algo",
}  # fmt: skip


@pytest.fixture
def paypal(make_paypal: Callable[..., PayPal], receiver: Receiver) -> PayPal:
    return make_paypal(
        paypal_webhook_url=receiver.url,
        paypal_webhook_id=WEBHOOK_ID,
        retry_base_delay=0.02,
        max_attempts=4,
    )


def headers_of(received: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in received.headers.items()}


def ok_types(receiver: Receiver) -> list[str]:
    return [r.event["event_type"] for r in receiver.received if 200 <= r.status < 300]


def verify_offline(body: bytes, headers: dict[str, str], webhook_id: str = WEBHOOK_ID) -> bool:
    """Check a delivery as a PayPal merchant would: fetch the certificate, verify SHA256withRSA."""
    pem = httpx.get(headers["paypal-cert-url"]).content
    key = x509.load_pem_x509_certificate(pem).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    message = (
        f"{headers['paypal-transmission-id']}|{headers['paypal-transmission-time']}|"
        f"{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}"
    ).encode()
    try:
        key.verify(
            base64.b64decode(headers["paypal-transmission-sig"]),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except Exception:
        return False
    return True


def paid_order(paypal: PayPal, outcome: str = "approve") -> tuple[str, str]:
    order = paypal.create()
    paypal.approve(order["id"], outcome)
    paypal.settle()  # the approval's event goes out once the redirect is sent: keep the order
    captured = paypal.capture(order["id"], f"cap-{order['id']}")
    return order["id"], captured["purchase_units"][0]["payments"]["captures"][0]["id"]


def test_approving_and_capturing_send_signed_paypal_events(
    paypal: PayPal, receiver: Receiver
) -> None:
    order_id, capture_id = paid_order(paypal)
    paypal.settle()

    assert ok_types(receiver) == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"]
    approved, completed = (r.event for r in receiver.received)
    for received in receiver.received:
        headers = headers_of(received)
        assert set(received.event) == ENVELOPE_KEYS
        assert set(headers) >= SIGNATURE_HEADERS
        assert headers["paypal-auth-algo"] == "SHA256withRSA"
        assert verify_offline(received.body, headers)
        assert received.event["id"].startswith("WH-")
        assert (received.event["event_version"], received.event["resource_version"]) == (
            "1.0",
            "2.0",
        )
        assert {link["rel"] for link in received.event["links"]} == {"self", "resend"}
    assert (approved["resource_type"], approved["resource"]["id"]) == ("checkout-order", order_id)
    assert approved["resource"]["status"] == "APPROVED"
    assert approved["summary"] == "An order has been approved by buyer"
    assert (completed["resource_type"], completed["resource"]["id"]) == ("capture", capture_id)
    assert completed["resource"]["supplementary_data"]["related_ids"]["order_id"] == order_id
    assert completed["summary"] == "Payment completed for 300.00 EUR"


def test_a_signature_does_not_survive_a_change_of_body_or_webhook_id(
    paypal: PayPal, receiver: Receiver
) -> None:
    paid_order(paypal)
    paypal.settle()
    received = receiver.received[0]
    headers = headers_of(received)

    assert verify_offline(received.body, headers)
    assert not verify_offline(received.body + b" ", headers)
    assert not verify_offline(received.body, headers, webhook_id="WH-OTHER")


def test_a_pending_capture_that_settles_sends_pending_then_completed(
    paypal: PayPal, receiver: Receiver
) -> None:
    paid_order(paypal, "approve_pending")
    paypal.settle()

    assert ok_types(receiver) == [
        "CHECKOUT.ORDER.APPROVED",
        "PAYMENT.CAPTURE.PENDING",
        "PAYMENT.CAPTURE.COMPLETED",
    ]


def test_a_denied_and_a_declined_capture_have_their_events(
    paypal: PayPal, receiver: Receiver
) -> None:
    paid_order(paypal, "approve_pending_denied")
    paid_order(paypal, "approve_declined")
    paypal.settle()

    types = ok_types(receiver)
    assert "PAYMENT.CAPTURE.DENIED" in types
    assert "PAYMENT.CAPTURE.DECLINED" in types


def test_a_refund_event_carries_the_refund_and_a_link_up_to_its_capture(
    paypal: PayPal, receiver: Receiver
) -> None:
    _, capture_id = paid_order(paypal)
    paypal.sdk.payments.refund_captured_payment(
        {"capture_id": capture_id, "paypal_request_id": "refund-1"}
    )
    paypal.settle()

    [refunded] = [
        r.event for r in receiver.received if r.event["event_type"] == "PAYMENT.CAPTURE.REFUNDED"
    ]
    assert refunded["resource_type"] == "refund"
    up = [link["href"] for link in refunded["resource"]["links"] if link["rel"] == "up"]
    assert up == [f"{paypal.server.url}/v2/payments/captures/{capture_id}"]


def test_a_reversed_approval_voids_the_order_and_says_so(
    paypal: PayPal, receiver: Receiver
) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.settle()  # the approval's event is sent once the redirect is; let it go first
    paypal.sandbox.paypal.reverse_approval(order["id"])
    paypal.settle()

    assert ok_types(receiver)[-1] == "CHECKOUT.PAYMENT-APPROVAL.REVERSED"
    assert json.loads(paypal.sdk.orders.get_order({"id": order["id"]}).text)["status"] == "VOIDED"


def test_a_failed_delivery_is_retried_and_each_attempt_signed_afresh(
    paypal: PayPal, receiver: Receiver
) -> None:
    receiver.fail_next(2, status=503)
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.settle()

    assert [r.status for r in receiver.received] == [503, 503, 200]
    ids = {headers_of(r)["paypal-transmission-id"] for r in receiver.received}
    assert len(ids) == 3
    assert all(verify_offline(r.body, headers_of(r)) for r in receiver.received)
    assert [d.attempt for d in paypal.sandbox.deliveries] == [1, 2, 3]


def test_the_switches_apply_to_paypal_deliveries(paypal: PayPal, receiver: Receiver) -> None:
    switches = paypal.sandbox.switches
    switches.deliver_twice = True
    switches.stale_timestamp = True
    switches.hold_webhooks = True
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.settle()  # the submission happens once the redirect is sent

    assert paypal.sandbox.dispatcher.held == 2
    switches.hold_webhooks = False
    paypal.sandbox.release_webhooks()
    paypal.settle()

    first, second = receiver.received
    assert first.event["id"] == second.event["id"]
    sent_at = headers_of(first)["paypal-transmission-time"]
    assert sent_at < first.event["create_time"]  # dated ten minutes back, still validly signed
    assert verify_offline(first.body, headers_of(first))


def test_the_certificate_is_served_and_is_valid_now(paypal: PayPal) -> None:
    url = paypal.sandbox.paypal.cert_url
    answer = httpx.get(url)

    assert answer.status_code == 200
    cert = x509.load_pem_x509_certificate(answer.content)
    assert cert.not_valid_before_utc < cert.not_valid_after_utc
    assert httpx.get(url.replace("CERT-", "CERT-0")).status_code == 404


def _verify_request(paypal: PayPal, raw_event: str, **fields: str) -> httpx.Response:
    body = json.dumps(fields)[:-1] + f', "webhook_event": {raw_event}}}'
    return paypal.http.post(
        "/v1/notifications/verify-webhook-signature",
        content=body.encode(),
        headers={"Authorization": f"Bearer {paypal.token()}", "Content-Type": "application/json"},
    )


def _fields(received: Any, **changes: str) -> dict[str, str]:
    headers = headers_of(received)
    fields = {
        "auth_algo": headers["paypal-auth-algo"],
        "cert_url": headers["paypal-cert-url"],
        "transmission_id": headers["paypal-transmission-id"],
        "transmission_sig": headers["paypal-transmission-sig"],
        "transmission_time": headers["paypal-transmission-time"],
        "webhook_id": WEBHOOK_ID,
    }
    fields.update(changes)
    return fields


@pytest.mark.parametrize(
    ("changes", "tamper_body", "verdict"),
    [
        ({}, False, "SUCCESS"),
        ({}, True, "FAILURE"),
        ({"webhook_id": "WH-OTHER"}, False, "FAILURE"),
        ({"transmission_time": "2020-01-01T00:00:00Z"}, False, "FAILURE"),
        ({"cert_url": "https://evil.test/certs/CERT-1"}, False, "FAILURE"),
        ({"auth_algo": "SHA1withRSA"}, False, "FAILURE"),
    ],
    ids=["genuine", "body", "webhook-id", "time", "cert-url", "algo"],
)
def test_verify_webhook_signature_checks_what_was_signed(
    paypal: PayPal, receiver: Receiver, changes: dict[str, str], tamper_body: bool, verdict: str
) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.settle()
    received = receiver.received[0]
    raw = received.body.decode()
    if tamper_body:
        raw = raw.replace('"APPROVED"', '"COMPLETED"')

    answer = _verify_request(paypal, raw, **_fields(received, **changes))

    assert answer.status_code == 200
    assert answer.json() == {"verification_status": verdict}


def test_verify_webhook_signature_needs_every_field_and_a_token(
    paypal: PayPal, receiver: Receiver
) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.settle()
    received = receiver.received[0]
    fields = _fields(received)
    del fields["transmission_sig"]

    answer = _verify_request(paypal, received.body.decode(), **fields)
    assert answer.status_code == 400
    assert answer.json()["details"] == [
        {"field": "transmission_sig", "issue": "Required field cannot be blank"}
    ]
    anonymous = httpx.post(
        f"{paypal.server.url}/v1/notifications/verify-webhook-signature", json={}
    )
    assert anonymous.status_code == 401


def test_cli_paypal_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_PAYPAL_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("PAYPAL_WEBHOOK_ID", "WH-FROM-ENV")

    args = build_parser().parse_args([])

    assert args.paypal_webhook_url == "http://127.0.0.1:8765/webhooks/paypal/"
    assert args.paypal_webhook_id == "WH-FROM-ENV"


def test_cli_serves_paypal_with_the_configured_app_and_never_logs_its_secret(
    receiver: Receiver,
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.sandbox.test_sandbox_cli import REPO_ROOT, _free_port

    port, secret = _free_port(), "cli-paypal-secret-value"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SANDBOX_PORT": str(port),
        "SANDBOX_PAYPAL_WEBHOOK_URL": receiver.url,
        "SANDBOX_STRIPE_WEBHOOK_URL": "none",
        "PAYPAL_CLIENT_ID": paypal_api.CLIENT_ID,
        "PAYPAL_CLIENT_SECRET": secret,
        "PAYPAL_WEBHOOK_ID": WEBHOOK_ID,
        "SANDBOX_STATE_FILE": "none",  # not the checkout's var/
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"{base}/").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.05)
        sdk = paypal_api.sdk_client(base, secret=secret)
        body = paypal_api.order_body(invoice_id="cli-1")
        order = json.loads(sdk.orders.create_order({"body": body}).text)
        answer = httpx.post(f"{base}/checkoutnow?token={order['id']}", data={"outcome": "approve"})
        assert answer.status_code == 303
        assert receiver.wait_for(1)
        received = receiver.received[0]
        assert received.event["event_type"] == "CHECKOUT.ORDER.APPROVED"
        assert verify_offline(received.body, headers_of(received))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "POST /v2/checkout/orders -> 201" in stderr
    assert "webhook paypal CHECKOUT.ORDER.APPROVED" in stderr
    assert secret not in stderr
