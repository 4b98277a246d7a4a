"""The sandbox keeps its state in a file: a restarted sandbox still knows the payments it took
(so the app's ``reconcile_payments`` can still read them), replays what it answered, and signs
with the same PayPal certificate."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sandbox import Sandbox, SandboxConfig, StateFileError
from sandbox.__main__ import build_parser
from sandbox.paypal.signing import WebhookSigner, signed_message
from tests.sandbox import test_sandbox_paypal_api as paypal_api
from tests.sandbox.test_sandbox_cli import REPO_ROOT, _free_port
from tests.sandbox.test_sandbox_paypal_api import PayPal

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sandbox.conftest import Harness


def _started(make_harness: Callable[..., Harness], path: Path, **overrides: Any) -> Harness:
    """A sandbox keeping its state in ``path``, serving Stripe and PayPal."""
    return make_harness(
        state_path=str(path),
        paypal_client_id=paypal_api.CLIENT_ID,
        paypal_client_secret=paypal_api.SECRET,
        **overrides,
    )


def _paypal(harness: Harness) -> PayPal:
    """The harness's sandbox seen through the real PayPal SDK."""
    sdk = paypal_api.sdk_client(harness.server.url)
    return PayPal(harness.sandbox, harness.server, sdk, harness.http)


def _order(paypal: PayPal, order_id: str) -> dict[str, Any]:
    return dict(json.loads(paypal.sdk.orders.get_order({"id": order_id}).text))


def _usd(amount: int) -> list[dict[str, Any]]:
    price = {"currency": "usd", "unit_amount": amount, "product_data": {"name": "Deposit"}}
    return [{"price_data": price, "quantity": 1}]


def test_a_restarted_sandbox_still_knows_its_checkout_sessions_and_orders(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "var" / "sandbox-state.json"
    first = _started(make_harness, path)
    paid = first.create_session()
    assert first.press(paid.id, "pay").status_code == 303
    still_open = first.create_session(line_items=_usd(7000))
    paypal = _paypal(first)
    order = paypal.create()
    paypal.approve(order["id"])
    captured = paypal.capture(order["id"])
    awaiting = paypal.create()
    first.settle()
    events = [event["id"] for event in first.sandbox.stripe.events]
    first.sandbox.close()

    second = _started(make_harness, path)

    session = second.client.v1.checkout.sessions.retrieve(paid.id)
    assert (session.status, session.payment_status) == ("complete", "paid")
    assert (session.amount_total, session.currency) == (5000, "eur")
    charge = second.charge_of(paid.id)
    assert (charge.status, charge.amount, charge.currency) == ("succeeded", 5000, "eur")
    reopened = second.client.v1.checkout.sessions.retrieve(still_open.id)
    assert (reopened.status, reopened.amount_total, reopened.currency) == ("open", 7000, "usd")
    assert [event["id"] for event in second.sandbox.stripe.events] == events
    again = _order(_paypal(second), order["id"])
    assert again["status"] == "COMPLETED"
    assert again["purchase_units"][0]["amount"] == {"currency_code": "EUR", "value": "300.00"}
    assert again["purchase_units"][0]["payments"] == captured["purchase_units"][0]["payments"]
    waiting = _order(_paypal(second), awaiting["id"])
    assert (waiting["status"], waiting["purchase_units"][0]["amount"]["value"]) == (
        "PAYER_ACTION_REQUIRED",
        "300.00",
    )


def test_a_change_is_on_disk_before_the_client_hears_of_it(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-state.json"
    harness = _started(make_harness, path)

    session = harness.create_session()
    order = _paypal(harness).create()

    saved = json.loads(path.read_text())
    assert session.id in saved["stripe"]["sessions"]
    assert order["id"] in saved["paypal"]["orders"]
    assert path.stat().st_mode & 0o077 == 0, "it holds the PayPal signing key"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "no temporary file left"


def test_after_a_restart_a_retried_request_is_replayed_not_made_twice(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-state.json"
    first = _started(make_harness, path)
    session = first.create_session()
    first.sandbox.stripe.complete_session(session.id, "pay")
    intent = first.intent_of(session.id).id
    refund = first.client.v1.refunds.create(
        params={"payment_intent": intent, "amount": 2000}, options={"idempotency_key": "re-1"}
    )
    paypal = _paypal(first)
    order = paypal.create()
    paypal.approve(order["id"])
    captured = paypal.capture(order["id"], "cap-1")
    first.sandbox.close()

    second = _started(make_harness, path)
    again = second.client.v1.refunds.create(
        params={"payment_intent": intent, "amount": 2000}, options={"idempotency_key": "re-1"}
    )
    recaptured = _paypal(second).capture(order["id"], "cap-1")

    assert again.id == refund.id
    assert again.last_response is not None
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.charge_of(session.id).amount_refunded == 2000
    assert recaptured == captured
    assert [call.replayed for call in second.sandbox.paypal.api_calls] == [True]


def test_after_a_restart_a_refund_still_shows_on_its_order(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-state.json"
    first = _started(make_harness, path)
    paypal = _paypal(first)
    order = paypal.create()
    paypal.approve(order["id"])
    capture_id = paypal.capture(order["id"])["purchase_units"][0]["payments"]["captures"][0]["id"]
    first.sandbox.close()

    second = _paypal(_started(make_harness, path))
    paypal_api.refund(second, capture_id, "refund-1", "100.00")

    payments = _order(second, order["id"])["purchase_units"][0]["payments"]
    assert payments["captures"][0]["status"] == "PARTIALLY_REFUNDED"
    assert [r["amount"]["value"] for r in payments["refunds"]] == ["100.00"]


def test_a_payment_still_settling_when_the_sandbox_stopped_settles_after_the_restart(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-state.json"
    first = _started(make_harness, path, async_settle_delay=60)  # not before the stop
    session = first.create_session()
    first.sandbox.stripe.complete_session(session.id, "async_succeed")
    paypal = _paypal(first)
    order = paypal.create()
    paypal.approve(order["id"], "approve_pending")
    capture_id = paypal.capture(order["id"])["purchase_units"][0]["payments"]["captures"][0]["id"]
    assert first.intent_of(session.id).status == "processing"
    first.sandbox.close()

    second = _started(make_harness, path, async_settle_delay=0.05)
    second.settle()

    assert second.intent_of(session.id).status == "succeeded"
    assert second.client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"
    capture = _order(_paypal(second), order["id"])["purchase_units"][0]["payments"]["captures"][0]
    assert (capture["id"], capture["status"]) == (capture_id, "COMPLETED")


def test_a_restarted_sandbox_signs_paypal_webhooks_with_the_same_certificate(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    path = tmp_path / "sandbox-state.json"
    first = _started(make_harness, path)
    signer = first.sandbox.paypal.signer
    first.sandbox.close()

    second = _started(make_harness, path)
    body, headers = second.sandbox.paypal.signed_delivery({"id": "WH-1", "event_type": "X"})

    assert second.sandbox.paypal.signer.cert_id == signer.cert_id
    assert httpx.get(headers["PAYPAL-CERT-URL"]).content == signer.pem
    message = signed_message(
        headers["PAYPAL-TRANSMISSION-ID"],
        headers["PAYPAL-TRANSMISSION-TIME"],
        second.sandbox.config.paypal_webhook_id,
        body,
    )
    assert signer.verify(headers["PAYPAL-TRANSMISSION-SIG"], message)


def test_an_expired_signing_certificate_is_replaced_under_a_new_cert_id() -> None:
    saved = WebhookSigner().snapshot()
    key = serialization.load_pem_private_key(saved["key"].encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired.sandbox.invalid")])
    now = dt.datetime.now(dt.UTC)
    expired = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=400))
        .not_valid_after(now - dt.timedelta(days=35))
        .sign(key, hashes.SHA256())
    )
    saved["certificate"] = expired.public_bytes(serialization.Encoding.PEM).decode()

    renewed = WebhookSigner.restore(saved)

    assert renewed.cert_id != saved["cert_id"]  # a client's cached certificate is not reused
    assert renewed.certificate.not_valid_after_utc > now + dt.timedelta(days=300)
    assert WebhookSigner.restore(renewed.snapshot()).cert_id == renewed.cert_id


def test_a_file_that_is_not_sandbox_state_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "sandbox-state.json"
    path.write_text('{"orders": []}')

    with pytest.raises(StateFileError, match="move it away"):
        Sandbox(SandboxConfig(state_path=str(path)))
    assert path.read_text() == '{"orders": []}'


def test_cli_state_file_defaults_to_var_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_STATE_FILE", raising=False)
    assert build_parser().parse_args([]).state_file == "var/sandbox-state.json"

    monkeypatch.setenv("SANDBOX_STATE_FILE", "/srv/sandbox.json")
    assert build_parser().parse_args([]).state_file == "/srv/sandbox.json"


def _serve(cwd: Path, port: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SANDBOX_PORT": str(port),
        "SANDBOX_STRIPE_WEBHOOK_URL": "none",
        "SANDBOX_PAYPAL_WEBHOOK_URL": "none",
    }
    env.pop("SANDBOX_STATE_FILE", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--state-file", "var/state.json"],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/").status_code == 200:
                return process
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "sandbox did not start"
        time.sleep(0.05)


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    return stderr


def test_cli_keeps_its_state_across_a_stop_in_a_file_relative_to_its_directory(
    tmp_path: Path,
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    client = stripe.StripeClient("sk_test_cli", base_addresses={"api": base}, max_network_retries=0)
    process = _serve(tmp_path, port)
    try:
        params: Any = {"mode": "payment", "line_items": _usd(10000)}
        session = client.v1.checkout.sessions.create(params=params)
        assert httpx.post(f"{base}/c/pay/{session.id}", data={"outcome": "pay"}).is_redirect
    finally:
        stderr = _stop(process)
    assert "state kept in var/state.json" in stderr

    process = _serve(tmp_path, port)
    try:
        again = client.v1.checkout.sessions.retrieve(session.id)
    finally:
        _stop(process)

    assert (again.status, again.payment_status, again.amount_total) == ("complete", "paid", 10000)
    assert (tmp_path / "var" / "state.json").is_file()
