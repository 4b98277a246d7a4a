"""Fixtures for the payment sandbox tests.

No Django: the sandbox is plain WSGI, so these tests need neither settings nor a database.
They drive the real ``stripe`` SDK against ``Sandbox.serve_in_thread(port=0)`` and catch
webhooks with a tiny stdlib HTTP server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import httpx
import pytest
import stripe

from sandbox import Sandbox, SandboxConfig, ServerHandle

WEBHOOK_SECRET = "whsec_sandbox_tests"
API_KEY = "sk_test_sandbox_tests"


@dataclass
class Received:
    """One webhook POST as the receiver saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event

    @property
    def signature(self) -> str:
        return self.headers["Stripe-Signature"]


class Receiver:
    """Collects webhook POSTs; can answer errors first and run a hook before answering."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.received: list[Received] = []
        self._statuses: list[int] = []
        self.on_request: Callable[[Received], None] | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/stripe/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._cond:
            status = self._statuses.pop(0) if self._statuses else 200
        item = Received(path, headers, body, status)
        if self.on_request is not None:
            self.on_request(item)
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()
        return status

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._cond:
            self._statuses.extend([status] * count)

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout)

    def types(self, *, ok_only: bool = True) -> list[str]:
        with self._cond:
            return [r.event["type"] for r in self.received if not ok_only or 200 <= r.status < 300]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@dataclass
class Harness:
    """A running sandbox with an SDK client pointed at it and a webhook receiver."""

    sandbox: Sandbox
    server: ServerHandle
    client: stripe.StripeClient
    receiver: Receiver
    http: httpx.Client

    def new_client(self, api_key: str = API_KEY) -> stripe.StripeClient:
        return stripe.StripeClient(
            api_key, base_addresses={"api": self.server.url}, max_network_retries=0
        )

    def create_session(self, **overrides: Any) -> Any:
        """A Checkout Session like Kennel's deposit session; ``overrides`` replace params."""
        options = overrides.pop("options", None)
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 5000,
                        "product_data": {"name": "Deposit for Biscuit (Beagle)"},
                    },
                    "quantity": 1,
                }
            ],
            "success_url": "http://shop.test/return/?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://shop.test/cancelled/",
            "expires_at": int(time.time()) + 31 * 60,
            "metadata": {"reservation_id": "41"},
            "client_reference_id": "41",
            "customer_email": "ada@example.com",
            "payment_intent_data": {"metadata": {"reservation_id": "41"}},
        }
        params.update(overrides)
        return self.client.v1.checkout.sessions.create(params=cast(Any, params), options=options)

    def intent_of(self, session_id: str) -> stripe.PaymentIntent:
        """The session's PaymentIntent, read with ``expand[]=payment_intent.latest_charge``."""
        session = self.client.v1.checkout.sessions.retrieve(
            session_id, params={"expand": ["payment_intent.latest_charge"]}
        )
        assert isinstance(session.payment_intent, stripe.PaymentIntent)
        return session.payment_intent

    def charge_of(self, session_id: str) -> stripe.Charge:
        charge = self.intent_of(session_id).latest_charge
        assert isinstance(charge, stripe.Charge)
        return charge

    def press(self, session_id: str, outcome: str) -> httpx.Response:
        """Press a hosted-page button through HTTP, as a browser would."""
        return self.http.post(f"/c/pay/{session_id}", data={"outcome": outcome})

    def settle(self, timeout: float = 5.0) -> None:
        assert self.sandbox.wait_for_deliveries(timeout), "deliveries did not settle"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.close()


@pytest.fixture
def make_harness(receiver: Receiver) -> Iterator[Callable[..., Harness]]:
    """Factory: ``make_harness(**SandboxConfig overrides)``; everything is torn down after."""
    made: list[Harness] = []

    def make(**overrides: Any) -> Harness:
        settings: dict[str, Any] = {
            "stripe_webhook_url": receiver.url,
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "retry_base_delay": 0.02,
            "max_attempts": 4,
            "async_settle_delay": 0.05,
            "delivery_timeout": 5.0,
        }
        settings.update(overrides)
        sandbox = Sandbox(SandboxConfig(**settings))
        server = sandbox.serve_in_thread(host="127.0.0.1", port=0)
        client = stripe.StripeClient(
            API_KEY, base_addresses={"api": server.url}, max_network_retries=0
        )
        http = httpx.Client(base_url=server.url, follow_redirects=False, timeout=10)
        harness = Harness(sandbox, server, client, receiver, http)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.http.close()
        harness.sandbox.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
