"""The provider contract speaks plain data, reading never moves money, and every path that
learns of a payment — the buyer's return URL, a webhook, reconciliation — settles it through
the one sequence in payments/services.py: read, capture if approved, apply."""

import dataclasses
from datetime import timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import pytest
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.errors import ValidationFailed
from kennel.payments.paypal.provider import PayPalProvider
from kennel.payments.providers import CheckoutRequest, PaymentState, VerifiedEvent
from kennel.payments.registry import get_provider
from kennel.payments.services import checkout_start
from kennel.payments.stripe.provider import MIN_SESSION_LIFETIME, StripeProvider
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold
from tests.factories import PuppyFactory
from tests.payments.paypal_helpers import captures_of, events_of
from tests.payments.stripe_helpers import reserve as reserve_with_stripe
from tests.payments.test_paypal_provider import checkout_request

pytestmark = pytest.mark.django_db(transaction=True)
SITE = "http://shop.test"


def request_for(reservation: Reservation, **changes: Any) -> CheckoutRequest:
    """The checkout request checkout_start would build for `reservation`, with `changes`."""
    return dataclasses.replace(checkout_request(reservation), **changes)


def hold(buyer: Buyer, provider: str) -> Reservation:
    """A fresh hold on a new puppy, its puppy loaded (so building a request needs no query)."""
    puppy = cast(Puppy, PuppyFactory(name="Biscuit", deposit=Decimal("300.00")))
    held = reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider=provider)
    return Reservation.objects.select_related("puppy").get(pk=held.pk)


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_a_provider_creates_the_checkout_from_plain_data_without_a_query(
    sandbox, buyer, django_assert_num_queries, provider
):
    request = request_for(hold(buyer, provider))

    with django_assert_num_queries(0):
        start = get_provider(provider).create_checkout(request)

    if provider == "stripe":
        session = sandbox.stripe.state.sessions[start.reference]
        assert session["metadata"] == {"reservation_id": request.reservation_id}
        assert (session["amount_total"], session["currency"]) == (30000, "eur")
        assert session["customer_email"] == request.buyer_email
    else:
        [unit] = sandbox.paypal.state.get_order(start.reference)["purchase_units"]
        assert unit["custom_id"] == request.reservation_id
        assert unit["amount"] == {"currency_code": "EUR", "value": "300.00"}
        assert unit["description"] == "Deposit for Biscuit"


def test_a_stripe_session_lives_at_least_thirty_and_a_half_minutes(sandbox, buyer):
    reservation = hold(buyer, "stripe")
    now = timezone.now()
    soon = request_for(reservation, expires_at=now + timedelta(minutes=5))
    later = request_for(reservation, expires_at=now + timedelta(hours=2), reservation_id="x")

    short = sandbox.stripe.state.sessions[StripeProvider().create_checkout(soon).reference]
    long = sandbox.stripe.state.sessions[StripeProvider().create_checkout(later).reference]

    assert short["expires_at"] >= int((now + MIN_SESSION_LIFETIME).timestamp())
    assert long["expires_at"] == int(later.expires_at.timestamp())


def test_reading_an_approved_paypal_order_never_captures_it(sandbox, buyer):
    provider = PayPalProvider()
    reference = provider.create_checkout(request_for(hold(buyer, "paypal"))).reference
    sandbox.switches.hold_webhooks = True
    sandbox.paypal.approve(reference, "approve")
    [approved] = events_of(sandbox, "CHECKOUT.ORDER.APPROVED")

    read = provider.read_payment(reference)
    from_event = provider.read_event(
        VerifiedEvent("paypal", approved["id"], approved["event_type"], approved, "")
    )

    assert from_event is not None
    assert read.state == from_event.state == PaymentState.APPROVED
    assert read.reservation_id == from_event.reservation_id
    assert sandbox.paypal.state.get_order(reference)["status"] == "APPROVED"
    assert not captures_of(sandbox, reference)

    captured = provider.capture_payment(reference)
    again = provider.capture_payment(reference)

    assert captured.state == again.state == PaymentState.PAID
    assert [c["id"] for c in captures_of(sandbox, reference)] == [captured.payment_id]


def test_a_paypal_checkout_in_a_currency_paypal_does_not_take_is_refused_before_the_hold(
    sandbox, buyer
):
    puppy = PuppyFactory(currency="KRW", price=Decimal("2000000"), deposit=Decimal("300000"))

    with pytest.raises(ValidationFailed) as exc:
        checkout_start(puppy_slug=puppy.slug, buyer=buyer, provider="paypal", site_url=SITE)

    refusal = "PayPal does not take payments in KRW. Please choose Card (Stripe)."
    assert exc.value.extra == {"fields": {"provider": [refusal]}}
    assert not Reservation.objects.exists()
    puppy.refresh_from_db()
    assert puppy.status == "available"
    assert not sandbox.paypal.api_calls
    # Card takes it.
    reservation, _ = checkout_start(
        puppy_slug=puppy.slug, buyer=buyer, provider="stripe", site_url=SITE
    )
    assert reservation.currency == "KRW"


def test_a_buyer_back_before_paying_is_sent_to_the_open_stripe_checkout(sandbox, live_server):
    puppy = PuppyFactory()
    body = reserve_with_stripe(live_server.url, puppy.slug).json()
    token = Reservation.objects.get(pk=body["id"]).token

    answer = httpx.get(f"{live_server.url}/payments/stripe/return/?reservation={token}", timeout=30)

    assert answer.status_code == 303
    assert answer.headers["location"] == body["checkout_url"]
    assert Reservation.objects.get(pk=body["id"]).status == "pending"
