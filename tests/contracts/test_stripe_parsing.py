"""Kennel's Stripe parsing, fed Stripe's own published example objects.

Every case starts from an object in tests/fixtures/stripe/fixtures.json and changes only
values of keys it has (`with_values` refuses any other key); `payment_intent` and
`latest_charge` are expanded with the fixture's own PaymentIntent and Charge. So a wrong belief
about Stripe's JSON fails here even when the sandbox shares it.
"""

import hashlib
import hmac
import json
import time
import typing
from decimal import Decimal
from typing import Any

import pytest
import stripe

from kennel.payments.providers import PaymentState
from kennel.payments.stripe.provider import (
    REFUND_EVENTS,
    SESSION_EVENTS,
    StripeProvider,
    refund_snapshot,
    session_snapshot,
)
from tests.contracts.fixtures import missing_paths, stripe_example, with_values

# Every key path Kennel's Stripe code reads, by the object it reads it from (provider.py:
# create_checkout, session_snapshot, refund_snapshot, verify_webhook, read_event,
# refund). `metadata.reservation_id` is not listed: the key is ours, set at creation.
KENNEL_READS: dict[str, tuple[str, ...]] = {
    "checkout.session": (
        "id", "url", "status", "payment_status", "currency", "amount_total", "metadata",
        "payment_intent",
    ),
    "payment_intent": ("id", "status", "currency", "metadata", "latest_charge"),
    "charge": ("refunded", "amount_refunded", "payment_intent"),
    "refund": ("id",),
    "event": ("id", "type", "data.object", "data.object.id"),
}  # fmt: skip

# The values Kennel compares those keys with.
KENNEL_COMPARES: dict[tuple[type, str], frozenset[str]] = {
    (stripe.checkout.Session, "status"): frozenset({"open", "complete", "expired"}),
    (stripe.checkout.Session, "payment_status"): frozenset({"paid"}),
    (stripe.PaymentIntent, "status"): frozenset(
        {"processing", "requires_payment_method", "canceled"}
    ),
}

RESERVATION_ID = "0b5c3f9e-7a51-4c8e-9d2a-3f6e1b7c9a10"
OURS = {"reservation_id": RESERVATION_ID}
WEBHOOK_SECRET = "whsec_contract_tests"


def literal_values(annotation: Any) -> frozenset[str]:
    """The string literals in a stripe SDK type annotation (``Union[Literal[...], str]``)."""
    if typing.get_origin(annotation) is typing.Literal:
        return frozenset(str(v) for v in typing.get_args(annotation))
    values: frozenset[str] = frozenset()
    for arg in typing.get_args(annotation):
        values |= literal_values(arg)
    return values


def intent(**values: Any) -> dict[str, Any]:
    """Stripe's example PaymentIntent, for a deposit of 300.00 EUR paid for our reservation."""
    deposit = {"amount": 30000, "currency": "eur", "metadata": dict(OURS)}
    return with_values(stripe_example("payment_intent"), **{**deposit, **values})


def session(**values: Any) -> dict[str, Any]:
    """Stripe's example Checkout Session, for a deposit of 300.00 EUR for our reservation."""
    deposit = {"amount_total": 30000, "currency": "eur", "metadata": dict(OURS)}
    return with_values(stripe_example("checkout.session"), **{**deposit, **values})


def signed(event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """`event` as Stripe delivers it: the body and its `Stripe-Signature` (v1 HMAC-SHA256)."""
    body = json.dumps(event).encode()
    timestamp = int(time.time())
    digest = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return body, {"stripe-signature": f"t={timestamp},v1={digest.hexdigest()}"}


# --------------------------------------------------------------------------- Kennel's beliefs


@pytest.mark.parametrize("name", sorted(KENNEL_READS))
def test_every_key_kennel_reads_is_in_stripes_example_object(name):
    assert missing_paths(stripe_example(name), KENNEL_READS[name]) == []


@pytest.mark.parametrize(("cls", "key"), sorted(KENNEL_COMPARES, key=str))
def test_every_value_kennel_compares_with_is_one_stripe_defines(cls, key):
    # The SDK's types are generated from Stripe's OpenAPI spec, like fixtures.json.
    assert KENNEL_COMPARES[cls, key] - literal_values(cls.__annotations__[key]) == set()


def test_the_event_types_kennel_handles_are_stripe_event_types():
    stripe_types = literal_values(stripe.Event.__annotations__["type"])
    assert (SESSION_EVENTS | REFUND_EVENTS) - stripe_types == set()


# --------------------------------------------------------------------------- Checkout Sessions


def test_stripes_example_session_as_published_is_open_with_nothing_of_ours():
    example = stripe_example("checkout.session")

    snapshot = session_snapshot(example)

    assert snapshot.state == PaymentState.OPEN
    assert snapshot.reference == example["id"]
    assert snapshot.payment_id == example["payment_intent"]  # an unexpanded id
    assert (snapshot.amount, snapshot.currency, snapshot.reservation_id) == (None, None, None)


def test_an_open_unpaid_session_is_open_with_its_deposit_and_reservation():
    open_session = session(status="open", payment_status="unpaid")

    snapshot = session_snapshot(open_session)

    assert snapshot.state == PaymentState.OPEN
    assert snapshot.buyer_action_url == open_session["url"]  # the hosted page goes on
    assert snapshot.reservation_id == RESERVATION_ID
    assert (snapshot.amount, snapshot.currency) == (Decimal("300.00"), "EUR")
    assert str(snapshot.amount) == "300.00"


def test_a_complete_paid_session_is_paid_by_its_payment_intent():
    paid_intent = intent(status="succeeded", amount_received=30000)
    paid = session(status="complete", payment_status="paid", payment_intent=paid_intent)

    snapshot = session_snapshot(paid)

    assert snapshot.state == PaymentState.PAID
    assert snapshot.buyer_action_url is None
    assert snapshot.provider == "stripe"
    assert snapshot.reference == paid["id"]
    assert snapshot.payment_id == paid_intent["id"]
    assert snapshot.reservation_id == RESERVATION_ID
    assert (snapshot.amount, snapshot.currency) == (Decimal("300.00"), "EUR")


def test_a_paid_session_whose_intent_is_not_expanded_is_paid_by_that_intent_id():
    paid = session(status="complete", payment_status="paid")

    snapshot = session_snapshot(paid)

    assert snapshot.state == PaymentState.PAID
    assert snapshot.payment_id == stripe_example("payment_intent")["id"]


def test_an_expired_session_is_expired():
    snapshot = session_snapshot(session(status="expired", payment_status="unpaid"))

    assert snapshot.state == PaymentState.EXPIRED
    assert snapshot.reservation_id == RESERVATION_ID


def test_a_complete_unpaid_session_with_a_processing_intent_is_processing():
    async_payment = session(
        status="complete", payment_status="unpaid", payment_intent=intent(status="processing")
    )

    snapshot = session_snapshot(async_payment)

    assert snapshot.state == PaymentState.PROCESSING
    assert snapshot.payment_id == stripe_example("payment_intent")["id"]


@pytest.mark.parametrize("intent_status", ["requires_payment_method", "canceled"])
def test_a_complete_unpaid_session_whose_async_payment_failed_is_failed(intent_status):
    failed = session(
        status="complete", payment_status="unpaid", payment_intent=intent(status=intent_status)
    )

    assert session_snapshot(failed).state == PaymentState.FAILED


def test_a_complete_unpaid_session_with_an_unexpanded_intent_is_taken_as_processing():
    assert session_snapshot(session(status="complete", payment_status="unpaid")).state == (
        PaymentState.PROCESSING
    )


@pytest.mark.parametrize(
    ("currency", "amount_total", "amount"),
    [("jpy", 30000, Decimal("30000")), ("gbp", 12345, Decimal("123.45"))],
)
def test_the_amount_is_exact_in_the_currencys_minor_unit(currency, amount_total, amount):
    paid = session(
        status="complete", payment_status="paid", currency=currency, amount_total=amount_total
    )

    snapshot = session_snapshot(paid)

    assert (snapshot.amount, snapshot.currency) == (amount, currency.upper())
    assert str(snapshot.amount) == str(amount)


# --------------------------------------------------------------------------- refunds


def refunded_charge(amount_refunded: int) -> dict[str, Any]:
    """Stripe's example Charge, captured for 300.00 EUR, with `amount_refunded` given back."""
    return with_values(
        stripe_example("charge"),
        amount=30000,
        amount_captured=30000,
        captured=True,
        amount_refunded=amount_refunded,
        refunded=amount_refunded == 30000,
        currency="eur",
        metadata=dict(OURS),
        payment_intent=stripe_example("payment_intent")["id"],
    )


def stripe_refund(amount: int, **values: Any) -> dict[str, Any]:
    """Stripe's example Refund of `amount` cents of the example payment, succeeded."""
    return with_values(
        stripe_example("refund"),
        amount=amount,
        currency="eur",
        status=values.pop("status", "succeeded"),
        metadata=values.pop("metadata", {}),
        **values,
    )


def test_a_fully_refunded_charge_makes_the_payment_refunded():
    refunded = intent(status="succeeded", latest_charge=refunded_charge(30000))

    snapshot = refund_snapshot(refunded, [stripe_refund(30000)])

    assert snapshot is not None
    assert snapshot.state == PaymentState.REFUNDED
    assert snapshot.payment_id == refunded["id"]
    assert snapshot.reservation_id == RESERVATION_ID
    assert (snapshot.amount, snapshot.currency) == (Decimal("300.00"), "EUR")
    assert snapshot.reference == ""
    [refund] = snapshot.refunds
    assert (refund.amount, refund.status, refund.kennel_key) == (
        Decimal("300.00"),
        "succeeded",
        None,
    )


def test_a_partly_refunded_charge_leaves_the_payment_standing_with_its_refunds():
    ours = stripe_refund(3000, id="re_ours", metadata={"kennel_refund": "kennel-refund-owner-1"})
    theirs = stripe_refund(2000, id="re_dashboard", status="pending")

    snapshot = refund_snapshot(
        intent(status="succeeded", latest_charge=refunded_charge(5000)), [ours, theirs]
    )

    assert snapshot is not None
    assert (snapshot.state, snapshot.amount) == (PaymentState.PAID, Decimal("300.00"))
    assert [(r.refund_id, r.amount, r.status, r.kennel_key) for r in snapshot.refunds] == [
        ("re_ours", Decimal("30.00"), "succeeded", "kennel-refund-owner-1"),
        ("re_dashboard", Decimal("20.00"), "pending", None),
    ]


def test_stripes_example_intent_without_a_charge_has_nothing_refunded():
    assert refund_snapshot(stripe_example("payment_intent"), []) is None


# --------------------------------------------------------------------------- webhooks


def test_stripes_example_event_is_verified_and_read_by_its_envelope(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    example = stripe_example("event")
    body, headers = signed(example)

    event = StripeProvider().verify_webhook(body, headers)

    assert (event.event_id, event.type) == (example["id"], example["type"])
    assert event.payload == example
    assert event.body == body.decode()
    assert StripeProvider().read_event(event) is None  # plan.created: not ours


def test_a_session_event_built_from_the_examples_is_verified_with_its_session(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    completed = session(status="complete", payment_status="paid")
    example = with_values(
        stripe_example("event"), type="checkout.session.completed", data={"object": completed}
    )
    body, headers = signed(example)

    event = StripeProvider().verify_webhook(body, headers)

    assert event.type == "checkout.session.completed"
    assert event.payload["data"]["object"]["id"] == completed["id"]
    assert session_snapshot(event.payload["data"]["object"]).state == PaymentState.PAID
