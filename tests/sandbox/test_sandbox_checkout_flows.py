"""The hosted Checkout page and the payment outcomes its buttons choose."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest
import stripe

from sandbox import CheckoutSessionNotOpen

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.sandbox.conftest import Harness, Received


def _verified(harness: Harness) -> list[stripe.Event]:
    """Every received webhook, verified exactly as the app verifies it."""
    secret = harness.sandbox.config.stripe_webhook_secret
    return [
        stripe.Webhook.construct_event(r.body, r.signature, secret)
        for r in harness.receiver.received
    ]


def test_hosted_page_shows_the_item_amount_and_the_outcome_buttons(harness: Harness) -> None:
    session = harness.create_session()

    page = harness.http.get(f"/c/pay/{session.id}")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Deposit for Biscuit (Beagle)" in html
    assert "€50.00" in html
    assert html.count("<form") == 1
    assert '<form method="post"' in html
    for outcome in ("pay", "async_succeed", "async_fail", "cancel", "expire"):
        assert f'<button type="submit" name="outcome" value="{outcome}">' in html
    assert "<script" not in html
    assert not re.search(r"(src|href)=\"https?://", html), "no external assets"


def test_pay_redirects_to_the_success_url_and_sends_signed_events_in_order(
    harness: Harness,
) -> None:
    session = harness.create_session()

    response = harness.press(session.id, "pay")

    assert response.status_code == 303
    assert response.headers["location"] == (f"http://shop.test/return/?session_id={session.id}")
    harness.settle()
    events = _verified(harness)
    assert [e.type for e in events] == [
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.completed",
    ]
    completed = events[-1].data.object
    assert (completed.id, completed.status, completed.payment_status) == (
        session.id,
        "complete",
        "paid",
    )
    assert completed.customer_details.email == "ada@example.com"
    assert all(r.headers["Content-Type"] == "application/json; charset=utf-8"
               for r in harness.receiver.received)  # fmt: skip
    assert [d.status for d in harness.sandbox.deliveries] == [200, 200, 200]

    assert harness.intent_of(session.id).status == "succeeded"
    charge = harness.charge_of(session.id)
    assert (charge.paid, charge.captured, charge.amount) == (True, True, 5000)
    assert harness.client.v1.checkout.sessions.retrieve(session.id).url is None


def test_events_carry_stripes_envelope(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "pay")
    harness.settle()

    event = harness.receiver.received[-1].event
    assert event["object"] == "event"
    assert event["id"].startswith("evt_")
    assert event["livemode"] is False
    assert event["api_version"] == harness.sandbox.config.stripe_api_version
    assert event["pending_webhooks"] == 1
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["object"]["object"] == "checkout.session"
    assert event == harness.sandbox.stripe.events[-1]


def test_async_succeed_sends_completed_unpaid_then_async_payment_succeeded(
    make_harness: Callable[..., Harness],
) -> None:
    harness = make_harness(async_settle_delay=0.3)
    session = harness.create_session()
    seen_while_handling: list[tuple[str, str]] = []

    def reread(received: Received) -> None:
        # The app re-reads the session while handling each webhook: on the first one the
        # payment must still be processing.
        if received.event["type"].startswith("checkout.session."):
            fresh = harness.new_client().v1.checkout.sessions.retrieve(session.id)
            seen_while_handling.append((received.event["type"], fresh.payment_status))

    harness.receiver.on_request = reread

    assert harness.press(session.id, "async_succeed").status_code == 303
    meanwhile = harness.client.v1.checkout.sessions.retrieve(session.id)
    assert (meanwhile.status, meanwhile.payment_status) == ("complete", "unpaid")
    assert harness.intent_of(session.id).status == "processing"

    harness.settle()
    events = _verified(harness)
    assert [e.type for e in events] == [
        "checkout.session.completed",
        "payment_intent.succeeded",
        "charge.succeeded",
        "checkout.session.async_payment_succeeded",
    ]
    assert events[0].data.object.payment_status == "unpaid"
    assert events[-1].data.object.payment_status == "paid"
    assert seen_while_handling == [
        ("checkout.session.completed", "unpaid"),
        ("checkout.session.async_payment_succeeded", "paid"),
    ]
    settled = harness.client.v1.checkout.sessions.retrieve(session.id)
    assert settled.payment_status == "paid"


def test_out_of_order_async_payment_delivers_the_outcome_before_completed(
    harness: Harness,
) -> None:
    harness.sandbox.switches.out_of_order = True
    session = harness.create_session()

    harness.press(session.id, "async_succeed")
    harness.settle()

    assert harness.receiver.types() == [
        "checkout.session.async_payment_succeeded",
        "charge.succeeded",
        "payment_intent.succeeded",
        "checkout.session.completed",
    ]


def test_async_fail_sends_completed_unpaid_then_async_payment_failed(harness: Harness) -> None:
    session = harness.create_session()

    assert harness.press(session.id, "async_fail").status_code == 303
    harness.settle()

    types = [e.type for e in _verified(harness)]
    assert types[0] == "checkout.session.completed"
    assert types[-1] == "checkout.session.async_payment_failed"
    assert "payment_intent.payment_failed" in types
    failed = harness.client.v1.checkout.sessions.retrieve(session.id)
    assert (failed.status, failed.payment_status) == ("complete", "unpaid")
    intent = harness.intent_of(session.id)
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error is not None
    assert intent.last_payment_error.code == "insufficient_funds"


def test_cancel_leaves_the_session_open_and_returns_to_the_cancel_url(harness: Harness) -> None:
    session = harness.create_session()

    response = harness.press(session.id, "cancel")

    assert response.status_code == 303
    assert response.headers["location"] == "http://shop.test/cancelled/"
    assert harness.client.v1.checkout.sessions.retrieve(session.id).status == "open"
    harness.settle()
    assert harness.sandbox.stripe.events == []


def test_expire_button_expires_the_session_and_sends_checkout_session_expired(
    harness: Harness,
) -> None:
    session = harness.create_session()

    response = harness.press(session.id, "expire")

    assert response.status_code == 303
    assert response.headers["location"] == "http://shop.test/cancelled/"
    harness.settle()
    assert [e.type for e in _verified(harness)] == ["checkout.session.expired"]
    assert harness.client.v1.checkout.sessions.retrieve(session.id).status == "expired"


def test_expire_api_expires_an_open_session_once(harness: Harness) -> None:
    session = harness.create_session()

    expired = harness.client.v1.checkout.sessions.expire(session.id)

    assert (expired.status, expired.url) == ("expired", None)
    harness.settle()
    [event] = _verified(harness)
    assert event.type == "checkout.session.expired"
    assert event.request is not None
    assert event.request.id is not None  # caused by an API request, unlike a hosted-page action
    with pytest.raises(stripe.InvalidRequestError):
        harness.client.v1.checkout.sessions.expire(session.id)


def test_a_closed_session_page_says_it_is_no_longer_available(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "pay")

    page = harness.http.get(f"/c/pay/{session.id}")
    assert "no longer available" in page.text
    assert 'name="outcome"' not in page.text

    again = harness.press(session.id, "pay")
    assert again.status_code == 409
    assert "no longer available" in again.text
    with pytest.raises(CheckoutSessionNotOpen):
        harness.sandbox.stripe.complete_session(session.id, "pay")


def test_a_declined_card_keeps_the_session_open_and_shows_the_error(harness: Harness) -> None:
    session = harness.create_session()

    response = harness.press(session.id, "decline")

    assert response.status_code == 303
    page = harness.http.get(response.headers["location"])
    assert "declined" in page.text
    assert 'value="pay"' in page.text
    assert harness.client.v1.checkout.sessions.retrieve(session.id).status == "open"
    # The buyer can still pay with another card; the same PaymentIntent then succeeds.
    harness.sandbox.stripe.complete_session(session.id, "pay")
    assert harness.intent_of(session.id).status == "succeeded"


def test_a_session_past_expires_at_expires_by_itself(
    make_harness: Callable[..., Harness],
) -> None:
    now = [time.time()]
    harness = make_harness(clock=lambda: now[0])
    session = harness.create_session(expires_at=int(now[0]) + 3600)

    now[0] += 3601

    assert harness.client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    harness.settle()
    assert [e.type for e in _verified(harness)] == ["checkout.session.expired"]
    assert "no longer available" in harness.http.get(f"/c/pay/{session.id}").text


def test_unknown_session_page_is_404(harness: Harness) -> None:
    assert harness.http.get("/c/pay/cs_test_nope").status_code == 404
    assert harness.press("cs_test_nope", "pay").status_code == 404
