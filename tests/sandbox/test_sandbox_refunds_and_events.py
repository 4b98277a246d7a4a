"""Refunds and the events API."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import stripe

if TYPE_CHECKING:
    from tests.sandbox.conftest import Harness


def _paid_intent(harness: Harness) -> stripe.PaymentIntent:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "pay")
    return harness.intent_of(session.id)


def _charge_id(intent: stripe.PaymentIntent) -> str:
    charge = intent.latest_charge
    return charge if isinstance(charge, str) else charge.id if charge is not None else ""


def test_refund_through_the_sdk_updates_the_charge_and_sends_charge_refunded(
    harness: Harness,
) -> None:
    intent = _paid_intent(harness)
    harness.settle()
    already = len(harness.receiver.received)

    refund = harness.client.v1.refunds.create(
        params={
            "payment_intent": intent.id,
            "amount": 2000,
            "reason": "requested_by_customer",
            "metadata": {"reason": "late_payment"},
        },
        options={"idempotency_key": "refund-41"},
    )

    assert refund.id.startswith("re_")
    assert (refund.status, refund.amount, refund.currency) == ("succeeded", 2000, "eur")
    charge_id = _charge_id(intent)
    assert (refund.payment_intent, refund.charge) == (intent.id, charge_id)
    assert refund.metadata is not None
    assert refund.metadata.to_dict() == {"reason": "late_payment"}
    charge = harness.client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (2000, False)
    assert harness.client.v1.refunds.retrieve(refund.id).amount == 2000

    harness.settle()
    events = [r.event for r in harness.receiver.received[already:]]
    assert [e["type"] for e in events] == ["charge.refunded", "refund.created"]
    assert events[0]["data"]["object"]["amount_refunded"] == 2000
    assert events[0]["data"]["previous_attributes"] == {"amount_refunded": 0, "refunded": False}
    assert events[0]["request"]["idempotency_key"] == "refund-41"

    rest = harness.client.v1.refunds.create(params={"charge": charge_id})
    assert rest.amount == 3000
    charge = harness.client.v1.charges.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (5000, True)


def test_refund_of_more_than_was_paid_is_refused(harness: Harness) -> None:
    intent = _paid_intent(harness)

    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.refunds.create(params={"payment_intent": intent.id, "amount": 5001})

    assert (caught.value.http_status, caught.value.param, caught.value.code) == (
        400,
        "amount",
        "amount_too_large",
    )
    charge = harness.client.v1.charges.retrieve(_charge_id(intent))
    assert charge.amount_refunded == 0


def test_refund_of_a_fully_refunded_charge_is_refused(harness: Harness) -> None:
    intent = _paid_intent(harness)
    harness.client.v1.refunds.create(params={"payment_intent": intent.id})

    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.refunds.create(params={"payment_intent": intent.id})
    assert caught.value.code == "charge_already_refunded"


def test_refund_of_an_unpaid_or_unknown_payment_is_refused(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "decline")
    declined = harness.intent_of(session.id).id

    with pytest.raises(stripe.InvalidRequestError):
        harness.client.v1.refunds.create(params={"payment_intent": declined})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.refunds.create(params={"payment_intent": "pi_unknown"})
    assert (caught.value.http_status, caught.value.code) == (404, "resource_missing")


def test_events_are_listed_newest_first_with_limit_and_type_filter(harness: Harness) -> None:
    for _ in range(3):
        session = harness.create_session()
        harness.sandbox.stripe.complete_session(session.id, "pay")
    created = harness.sandbox.stripe.events  # oldest first
    assert len(created) == 9

    page = harness.client.v1.events.list(params={"limit": 4})
    assert [e.id for e in page.data] == [e["id"] for e in reversed(created)][:4]
    assert page.has_more is True

    following = harness.client.v1.events.list(
        params={"limit": 4, "starting_after": page.data[-1].id}
    )
    assert [e.id for e in following.data] == [e["id"] for e in reversed(created)][4:8]

    completed = harness.client.v1.events.list(params={"type": "checkout.session.completed"})
    assert len(completed.data) == 3
    assert {e.type for e in completed.data} == {"checkout.session.completed"}
    wildcard = harness.client.v1.events.list(params={"type": "charge.*", "limit": 100})
    assert len(wildcard.data) == 3

    one = harness.client.v1.events.retrieve(created[0]["id"])
    assert one.to_dict() == created[0]


def test_event_list_limit_above_100_is_refused(harness: Harness) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.events.list(params={"limit": 101})
    assert caught.value.param == "limit"
