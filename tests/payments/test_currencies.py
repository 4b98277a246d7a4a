"""Deposits in currencies whose rules differ per provider, end to end with the real SDKs.

A forint or New Taiwan dollar deposit with cents used to be sent to PayPal rounded (PayPal
takes them without decimals) and then refunded as an amount mismatch; a dinar deposit was
sent to Stripe in hundredths although Stripe counts three-decimal currencies in thousandths.
The shop now keeps every deposit at the places every provider can charge exactly.
"""

from decimal import Decimal

import pytest

from kennel.payments.models import Refund
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.payments import stripe_helpers
from tests.payments.flow import settled
from tests.payments.paypal_helpers import approve, captures_of, come_back, reserve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("currency", ["HUF", "TWD"])
def test_a_paypal_deposit_typed_with_cents_is_charged_in_whole_units_and_confirmed(
    sandbox, live_server, currency
):
    puppy = PuppyFactory(currency=currency, price=Decimal("61727.50"), deposit=Decimal("12345.50"))
    assert puppy.deposit == Decimal("12346")  # no cents: PayPal could not charge them

    body = reserve(live_server.url, puppy.slug).json()
    come_back(approve(body["checkout_url"], "approve"))
    reservation = settled(sandbox, body["id"])

    assert reservation.status == Reservation.Status.CONFIRMED
    assert reservation.deposit_amount == Decimal("12346")
    [capture] = captures_of(sandbox, body["provider_reference"])
    assert capture["amount"] == {"currency_code": currency, "value": "12346"}
    assert not Refund.objects.exists()


def test_a_stripe_deposit_in_kuwaiti_dinar_is_counted_in_thousandths(sandbox, live_server):
    puppy = PuppyFactory(currency="KWD", price=Decimal("500.000"), deposit=Decimal("12.345"))
    assert puppy.deposit == Decimal("12.35")  # Stripe wants the last of three digits at 0

    body = stripe_helpers.reserve(live_server.url, puppy.slug).json()
    stripe_helpers.choose(body["checkout_url"], "pay")
    reservation = settled(sandbox, body["id"])

    session = sandbox.stripe.state.sessions[body["provider_reference"]]
    assert session["amount_total"] == 12350  # 12.350 KWD in fils, not 1235 (a tenth)
    assert reservation.status == Reservation.Status.CONFIRMED
    assert not Refund.objects.exists()
