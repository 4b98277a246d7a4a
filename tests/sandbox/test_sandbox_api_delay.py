"""The `api_delay` switch: a slow or frozen provider API, for the client's timeout to meet."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe

if TYPE_CHECKING:
    from tests.sandbox.conftest import Harness


def test_api_requests_wait_while_hosted_pages_answer_at_once(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.switches.api_delay = 30
    slow = stripe.StripeClient(
        "sk_test_sandbox_tests",
        base_addresses={"api": harness.server.url},
        http_client=stripe.RequestsClient(timeout=0.5),
        max_network_retries=0,
    )

    started = time.monotonic()
    with pytest.raises(stripe.APIConnectionError):
        slow.v1.checkout.sessions.retrieve(session.id)
    assert 0.4 < time.monotonic() - started < 5
    with pytest.raises(httpx.TimeoutException):  # PayPal's API too
        harness.http.post("/v1/oauth2/token", data={"grant_type": "x"}, timeout=0.5)

    started = time.monotonic()
    assert harness.http.get(f"/c/pay/{session.id}").status_code == 200
    assert harness.http.get("/").status_code == 200
    assert time.monotonic() - started < 5  # not held by the 30 s delay, loaded machine or not


def test_lowering_the_delay_lets_the_waiting_requests_go_on(harness: Harness) -> None:
    harness.sandbox.switches.api_delay = 30
    created: list[Any] = []
    caller = threading.Thread(target=lambda: created.append(harness.create_session()))
    caller.start()
    time.sleep(0.3)
    assert caller.is_alive()

    harness.sandbox.switches.api_delay = 0
    caller.join(5)

    assert not caller.is_alive()
    [session] = created
    assert session.id.startswith("cs_")
    assert session.id in harness.sandbox.stripe.state.sessions


def test_closing_the_sandbox_releases_the_waiting_requests(harness: Harness) -> None:
    harness.sandbox.switches.api_delay = 30
    answers: list[int] = []

    def call() -> None:
        with httpx.Client(base_url=harness.server.url, timeout=10) as http:
            try:
                answers.append(http.get("/v1/checkout/sessions/cs_missing").status_code)
            except httpx.HTTPError:
                answers.append(0)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.monotonic()
    harness.sandbox.close()
    caller.join(10)

    assert not caller.is_alive()
    assert time.monotonic() - started < 6
    assert len(answers) == 1
