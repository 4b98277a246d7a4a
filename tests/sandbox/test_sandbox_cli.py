"""``python -m sandbox``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import stripe

from sandbox.__main__ import build_parser

if TYPE_CHECKING:
    from tests.sandbox.conftest import Receiver

REPO_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_cli_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SANDBOX_STRIPE_WEBHOOK_URL", raising=False)
    monkeypatch.setenv("SANDBOX_PORT", "9123")
    monkeypatch.setenv("PORT", "8765")

    args = build_parser().parse_args([])

    assert (args.host, args.port, args.public_url) == ("127.0.0.1", 9123, None)
    assert args.stripe_webhook_url == "http://127.0.0.1:8765/webhooks/stripe/"


def test_cli_serves_the_sandbox_and_logs_without_the_secret(receiver: Receiver) -> None:
    port = _free_port()
    secret = "whsec_cli_test_secret_value"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "SANDBOX_PORT": str(port),
        "SANDBOX_STRIPE_WEBHOOK_URL": receiver.url,
        "STRIPE_WEBHOOK_SECRET": secret,
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
        client = stripe.StripeClient(
            "sk_test_cli", base_addresses={"api": base}, max_network_retries=0
        )
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "usd",
                            "unit_amount": 10000,
                            "product_data": {"name": "Deposit"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "http://shop.test/ok",
            }
        )
        assert session.url == f"{base}/c/pay/{session.id}"
        response = httpx.post(f"{base}/c/pay/{session.id}", data={"outcome": "pay"})
        assert response.status_code == 303
        assert receiver.wait_for(3)
        for received in receiver.received:
            stripe.Webhook.construct_event(received.body, received.signature, secret)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)

    assert process.returncode == 0
    assert "POST /v1/checkout/sessions -> 200" in stderr
    assert "webhook stripe checkout.session.completed" in stderr
    assert secret not in stderr
    assert "v1=" not in stderr
