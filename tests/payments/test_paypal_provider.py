"""PayPalProvider and its client against the sandbox: orders, captures, refunds, errors."""

import json
import re
import socket
from collections.abc import Iterator
from decimal import Decimal

import pytest

from kennel.core.errors import PaymentProviderFailed
from kennel.payments.paypal.provider import PayPalProvider, paypal_value
from kennel.payments.providers import (
    BuyerActionRequired,
    CheckoutRequest,
    PaymentState,
    ProviderError,
    ProviderUnavailable,
    VerifiedEvent,
)
from kennel.payments.registry import available_providers, get_provider
from kennel.payments.services import checkout_start
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_hold
from sandbox import Sandbox, SandboxConfig
from tests.factories import PuppyFactory

SITE = "http://shop.test"


@pytest.fixture
def paypal_sandbox(settings) -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(paypal_client_id="provider-test", paypal_client_secret="s3cret"))
    server = sb.serve_in_thread(host="127.0.0.1", port=0)
    settings.PAYMENTS_MODE = "sandbox"
    settings.PAYPAL_API_BASE = server.url
    settings.PAYPAL_CLIENT_ID = "provider-test"
    settings.PAYPAL_CLIENT_SECRET = "s3cret"
    settings.PROVIDER_TIMEOUT_SECONDS = 5.0
    yield sb
    sb.close()


@pytest.fixture
def held(db, buyer) -> Reservation:
    puppy = PuppyFactory(name="Biscuit", price=Decimal("1500.00"), deposit=Decimal("300.00"))
    return reservation_hold(puppy_slug=str(puppy.slug), buyer=buyer, provider="paypal")


def checkout_request(reservation: Reservation) -> CheckoutRequest:
    return CheckoutRequest(
        reservation_id=str(reservation.pk),
        amount=reservation.deposit_amount,
        currency=reservation.currency,
        description=f"Deposit for {reservation.what}",
        buyer_email=reservation.buyer_email,
        expires_at=reservation.expires_at,
        success_url=f"{SITE}/payments/paypal/return/?reservation={reservation.token}",
        cancel_url=f"{SITE}/payments/paypal/cancel/?reservation={reservation.token}",
    )


def start(reservation: Reservation):
    return PayPalProvider().create_checkout(checkout_request(reservation))


def test_paypal_is_offered_once_its_credentials_are_set(settings):
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "id", "secret"
    assert available_providers() == ["stripe", "paypal"]
    assert isinstance(get_provider("paypal"), PayPalProvider)
    settings.PAYPAL_CLIENT_ID = ""
    assert available_providers() == ["stripe"]


@pytest.mark.parametrize(
    ("amount", "currency", "value"),
    [
        (Decimal("300"), "EUR", "300.00"),
        (Decimal("12.345"), "usd", "12.35"),
        (Decimal("30000"), "JPY", "30000"),
        (Decimal("1999.5"), "HUF", "2000"),
    ],
)
def test_amounts_become_paypal_decimal_strings(amount, currency, value):
    assert paypal_value(amount, currency) == value


def test_the_order_asks_for_the_deposit_of_the_reservation(paypal_sandbox, held):
    checkout = start(held)

    order = paypal_sandbox.paypal.state.get_order(checkout.reference)
    [unit] = order["purchase_units"]
    assert unit["amount"] == {"currency_code": "EUR", "value": "300.00"}
    assert unit["custom_id"] == unit["invoice_id"] == str(held.pk)
    assert unit["description"] == "Deposit for Biscuit"
    assert order["intent"] == "CAPTURE"
    assert checkout.redirect_url == f"{paypal_sandbox.public_url}/checkoutnow?token={order['id']}"
    spec = paypal_sandbox.paypal.state.specs[order["id"]]
    assert spec.return_url == f"{SITE}/payments/paypal/return/?reservation={held.token}"
    assert spec.cancel_url == f"{SITE}/payments/paypal/cancel/?reservation={held.token}"


def test_creating_the_checkout_again_returns_the_same_order(paypal_sandbox, held):
    assert start(held).reference == start(held).reference
    assert len(paypal_sandbox.paypal.state.orders) == 1


def test_an_unapproved_order_is_open_and_nothing_is_captured(paypal_sandbox, held):
    snapshot = PayPalProvider().read_payment(start(held).reference)

    assert snapshot.state == PaymentState.OPEN
    assert snapshot.reservation_id == str(held.pk)
    assert not paypal_sandbox.paypal.state.captures


def test_a_declined_funding_source_asks_the_buyer_to_approve_again(paypal_sandbox, held):
    checkout = start(held)
    paypal_sandbox.paypal.approve(checkout.reference, "approve_instrument_declined")

    assert PayPalProvider().read_payment(checkout.reference).state == PaymentState.APPROVED
    with pytest.raises(BuyerActionRequired) as exc:
        PayPalProvider().capture_payment(checkout.reference)

    assert exc.value.code == "INSTRUMENT_DECLINED"
    assert exc.value.redirect_url == checkout.redirect_url  # the order's own approve link
    assert not paypal_sandbox.paypal.state.captures
    # Read again, the order is open and awaits the buyer at its own approve link (the return
    # URL sends a pending reservation's buyer there).
    again = PayPalProvider().read_payment(checkout.reference)
    assert again.state == PaymentState.OPEN
    assert again.buyer_action_url == checkout.redirect_url
    paypal_sandbox.paypal.approve(checkout.reference, "approve")
    assert PayPalProvider().capture_payment(checkout.reference).state == PaymentState.PAID


def test_capturing_an_approved_order_twice_captures_it_once(paypal_sandbox, held):
    reference = start(held).reference
    paypal_sandbox.paypal.approve(reference, "approve")

    first = PayPalProvider().capture_payment(reference)
    again = PayPalProvider().capture_payment(reference)

    assert first == again
    assert (first.state, first.amount, first.currency) == (PaymentState.PAID, Decimal("300"), "EUR")
    assert first.reference == reference
    assert list(paypal_sandbox.paypal.state.captures) == [first.payment_id]


def test_an_approved_order_that_is_not_kennels_is_never_captured(paypal_sandbox):
    from kennel.payments.paypal import client

    theirs = client.create_order(
        client.NewOrder(
            reservation_id="order-of-another-shop-42",
            currency="EUR",
            value="20.00",
            description="Something else",
            return_url=f"{SITE}/elsewhere/",
            cancel_url=f"{SITE}/elsewhere/",
            brand_name="Another shop",
        ),
        request_id="theirs-1",
    )
    paypal_sandbox.paypal.approve(theirs["id"], "approve")

    snapshot = PayPalProvider().capture_payment(theirs["id"])

    assert snapshot.state == PaymentState.OPEN
    assert PayPalProvider().read_payment(theirs["id"]) == snapshot
    assert not paypal_sandbox.paypal.state.captures


def test_a_refund_repeated_with_its_key_refunds_once(paypal_sandbox, held):
    reference = start(held).reference
    paypal_sandbox.paypal.approve(reference, "approve")
    paid = PayPalProvider().capture_payment(reference)
    assert paid.payment_id is not None
    provider = PayPalProvider()

    ids = {
        provider.refund(
            payment_id=paid.payment_id,
            amount=Decimal("300.00"),
            currency="EUR",
            idempotency_key=f"kennel-refund-paypal-{paid.payment_id}",
        ).refund_id
        for _ in range(3)
    }

    assert len(ids) == 1
    assert list(paypal_sandbox.paypal.state.refunds) == list(ids)
    refunded = provider.read_payment(reference)
    assert (refunded.state, refunded.payment_id) == (PaymentState.REFUNDED, paid.payment_id)


def test_a_partial_refund_event_leaves_the_deposit_standing_and_names_the_refund(
    paypal_sandbox, held
):
    reference = start(held).reference
    paypal_sandbox.paypal.approve(reference, "approve")
    paid = PayPalProvider().capture_payment(reference)
    sent = PayPalProvider().refund(
        payment_id=str(paid.payment_id),
        amount=Decimal("100.00"),
        currency="EUR",
        idempotency_key="kennel-refund-partial-1",
    )
    refund_id = sent.refund_id
    assert (sent.amount, sent.status) == (Decimal("100.00"), "succeeded")
    [event] = [e for e in paypal_sandbox.paypal.events if e["event_type"].endswith("REFUNDED")]

    snapshot = PayPalProvider().read_event(_verified(event))

    assert snapshot is not None
    assert (snapshot.state, snapshot.payment_id) == (PaymentState.PAID, paid.payment_id)
    [refund] = snapshot.refunds
    assert (refund.refund_id, refund.amount, refund.currency) == (
        refund_id,
        Decimal("100.00"),
        "EUR",
    )
    assert (refund.status, refund.kennel_key) == ("succeeded", "kennel-refund-partial-1")
    assert PayPalProvider().read_payment(reference).state == PaymentState.PAID


def test_events_of_other_types_are_ignored_without_asking_paypal(paypal_sandbox):
    event = {"id": "WH-X", "event_type": "BILLING.SUBSCRIPTION.CREATED", "resource": {"id": "I-1"}}

    assert PayPalProvider().read_event(_verified(event)) is None
    assert not paypal_sandbox.paypal.api_calls


def test_a_capture_event_is_read_back_from_the_api(paypal_sandbox, held):
    reference = start(held).reference
    paypal_sandbox.paypal.approve(reference, "approve_pending")
    PayPalProvider().capture_payment(reference)
    [pending] = [e for e in paypal_sandbox.paypal.events if e["event_type"].endswith("PENDING")]
    assert paypal_sandbox.wait_for_deliveries(5)  # the capture has completed since

    snapshot = PayPalProvider().read_event(_verified(pending))

    assert snapshot is not None
    assert (snapshot.state, snapshot.reference) == (PaymentState.PAID, reference)
    assert snapshot.reservation_id == str(held.pk)


def test_wrong_credentials_fail_the_checkout_and_release_the_hold(paypal_sandbox, settings, db):
    settings.PAYPAL_CLIENT_SECRET = "not-the-secret"
    puppy = PuppyFactory()

    with pytest.raises(PaymentProviderFailed) as exc:
        checkout_start(puppy_slug=puppy.slug, buyer=_buyer(), provider="paypal", site_url=SITE)

    cause = exc.value.__cause__
    assert isinstance(cause, ProviderError)
    assert not isinstance(cause, ProviderUnavailable)
    assert (cause.code, cause.status) == ("invalid_client", 401)
    reservation = Reservation.objects.select_related("puppy").get()
    assert (reservation.status, reservation.status_reason) == ("cancelled", "provider_error")
    assert reservation.puppy.status == "available"


def test_an_unreachable_paypal_is_unavailable(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PAYPAL_API_BASE = f"http://127.0.0.1:{port}"
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "id", "secret"

    with pytest.raises(ProviderUnavailable) as exc:
        PayPalProvider().read_payment("5O190127TN364715T")
    assert exc.value.code == "connection"


def test_an_unknown_order_is_a_provider_error_with_paypals_code(paypal_sandbox):
    with pytest.raises(ProviderError) as exc:
        PayPalProvider().read_payment("NOSUCHORDER00000")

    assert (exc.value.code, exc.value.status) == ("INVALID_RESOURCE_ID", 404)


def test_an_id_that_is_not_a_paypal_id_is_never_sent(paypal_sandbox):
    with pytest.raises(ProviderError):
        PayPalProvider().read_payment("../../v1/oauth2/token")
    assert not paypal_sandbox.paypal.api_calls


def test_the_puppy_page_offers_paypal_as_a_plain_radio_choice(client, db, settings):
    settings.PAYPAL_CLIENT_ID, settings.PAYPAL_CLIENT_SECRET = "id", "secret"
    puppy = PuppyFactory()

    html = client.get(f"/puppies/{puppy.slug}/").content.decode()

    match = re.search(
        r'<input type="radio" id="(id_provider_\d)" name="provider" value="paypal"', html
    )
    assert match is not None
    assert f'<label for="{match.group(1)}">PayPal</label>' in html


def _verified(event: dict) -> VerifiedEvent:
    body = json.dumps(event)
    return VerifiedEvent(
        provider="paypal",
        event_id=event["id"],
        type=event["event_type"],
        payload=event,
        body=body,
    )


def _buyer():
    from kennel.reservations.buyers import Buyer

    return Buyer(name="Jane Doe", email="jane@example.com", phone="+33 6 12 34 56 78")
