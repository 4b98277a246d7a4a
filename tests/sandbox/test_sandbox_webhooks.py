"""Webhook delivery: signatures, retries and the misbehaviour switches."""

from __future__ import annotations

import socket
import time
from typing import TYPE_CHECKING, Any

import pytest
import stripe

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sandbox.conftest import Harness, Received

PAY_EVENTS = ["payment_intent.succeeded", "charge.succeeded", "checkout.session.completed"]


def _secret(harness: Harness) -> str:
    return harness.sandbox.config.stripe_webhook_secret


def _timestamp(signature: str) -> int:
    return int(dict(part.split("=", 1) for part in signature.split(","))["t"])


def test_signed_delivery_builds_what_stripe_would_post(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "expire")
    event = harness.sandbox.stripe.events[-1]

    body, headers = harness.sandbox.stripe.signed_delivery(event)

    verified = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], _secret(harness))
    assert verified.id == event["id"]
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    stale_body, stale_headers = harness.sandbox.stripe.signed_delivery(event, stale=True)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            stale_body, stale_headers["Stripe-Signature"], _secret(harness)
        )


def test_a_wrong_secret_does_not_verify(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "expire")
    harness.settle()
    [received] = harness.receiver.received

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(received.body, received.signature, "whsec_other")


def test_deliver_twice_sends_each_event_twice(harness: Harness) -> None:
    harness.sandbox.switches.deliver_twice = True
    session = harness.create_session()

    harness.press(session.id, "pay")
    harness.settle()

    ids = [r.event["id"] for r in harness.receiver.received]
    assert len(ids) == 6
    assert all(ids.count(event_id) == 2 for event_id in ids)
    for received in harness.receiver.received:
        stripe.Webhook.construct_event(received.body, received.signature, _secret(harness))


def test_out_of_order_reverses_the_events_of_one_action(harness: Harness) -> None:
    harness.sandbox.switches.out_of_order = True
    session = harness.create_session()

    harness.press(session.id, "pay")
    harness.settle()

    assert harness.receiver.types() == list(reversed(PAY_EVENTS))


def test_stale_timestamp_is_correctly_signed_but_too_old_to_accept(harness: Harness) -> None:
    harness.sandbox.switches.stale_timestamp = True
    session = harness.create_session()

    harness.press(session.id, "expire")
    harness.settle()

    [received] = harness.receiver.received
    assert time.time() - _timestamp(received.signature) >= 595
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(received.body, received.signature, _secret(harness))
    # Without the age check the HMAC itself is valid.
    stripe.WebhookSignature.verify_header(
        received.body.decode(), received.signature, _secret(harness), tolerance=None
    )


def test_delay_seconds_holds_back_the_first_attempt(harness: Harness) -> None:
    harness.sandbox.switches.delay_seconds = 0.4
    session = harness.create_session()
    pressed_at = time.time()

    harness.press(session.id, "expire")
    time.sleep(0.1)
    assert harness.receiver.received == []

    harness.settle()
    [record] = harness.sandbox.deliveries
    assert record.ok
    assert record.at - pressed_at >= 0.35


def test_hold_webhooks_queues_deliveries_until_released(harness: Harness) -> None:
    harness.sandbox.switches.hold_webhooks = True
    session = harness.create_session()

    harness.press(session.id, "pay")
    assert harness.sandbox.wait_for_deliveries(1.0)  # held deliveries are not pending
    assert harness.receiver.received == []

    assert harness.sandbox.release_webhooks() == 3
    harness.settle()
    assert harness.receiver.types() == PAY_EVENTS


def test_a_failed_delivery_is_retried_with_backoff_until_it_succeeds(harness: Harness) -> None:
    harness.receiver.fail_next(2, status=500)
    session = harness.create_session()

    harness.press(session.id, "expire")
    harness.settle()

    records = harness.sandbox.deliveries
    assert [(r.attempt, r.status) for r in records] == [(1, 500), (2, 500), (3, 200)]
    assert len({r.event_id for r in records}) == 1
    base = harness.sandbox.config.retry_base_delay
    assert records[1].at - records[0].at >= base * 0.9
    assert records[2].at - records[1].at >= 2 * base * 0.9
    # Every attempt is freshly signed and verifies.
    for received in harness.receiver.received:
        stripe.Webhook.construct_event(received.body, received.signature, _secret(harness))


def test_delivery_gives_up_after_max_attempts(make_harness: Callable[..., Harness]) -> None:
    harness = make_harness(max_attempts=3)
    harness.receiver.fail_next(10, status=503)
    session = harness.create_session()

    harness.press(session.id, "expire")
    harness.settle()

    assert [(r.attempt, r.status) for r in harness.sandbox.deliveries] == [
        (1, 503),
        (2, 503),
        (3, 503),
    ]


def test_an_unreachable_receiver_is_recorded_as_an_error_and_retried(
    make_harness: Callable[..., Harness],
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    harness = make_harness(
        stripe_webhook_url=f"http://127.0.0.1:{closed_port}/webhooks/stripe/", max_attempts=2
    )
    session = harness.create_session()

    harness.press(session.id, "expire")
    harness.settle()

    records = harness.sandbox.deliveries
    assert [r.attempt for r in records] == [1, 2]
    assert all(r.status is None and r.error for r in records)


def test_a_receiver_calling_back_into_the_sandbox_does_not_deadlock(harness: Harness) -> None:
    seen: list[tuple[str, Any]] = []

    def reread(received: Received) -> None:
        # What the app does: re-read the session from the API while handling the webhook.
        obj = received.event["data"]["object"]
        if obj["object"] == "checkout.session":
            fresh = harness.new_client().v1.checkout.sessions.retrieve(obj["id"])
            seen.append((received.event["type"], fresh.payment_status))

    harness.receiver.on_request = reread
    session = harness.create_session()

    harness.press(session.id, "pay")
    harness.settle(timeout=10)

    assert seen == [("checkout.session.completed", "paid")]


def test_without_a_webhook_url_events_are_recorded_but_not_delivered(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(stripe_webhook_url=None)
    session = harness.create_session()

    harness.press(session.id, "pay")
    harness.settle()

    events = harness.sandbox.stripe.events
    assert [e["type"] for e in events] == PAY_EVENTS
    assert all(e["pending_webhooks"] == 0 for e in events)
    assert harness.sandbox.deliveries == []
    assert harness.receiver.received == []
