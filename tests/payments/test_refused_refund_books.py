"""A refund the provider refused gave nothing back: every figure keeps the deposit as held."""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from kennel.monitoring.dashboard import dashboard_figures
from kennel.payments.models import Refund
from kennel.payments.selectors import reservation_money
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db


def test_a_refused_refund_leaves_the_deposit_held_everywhere():
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))
    reservation = ReservationFactory(
        puppy=puppy,
        status="refunded",
        status_reason="owner_refunded_part",
        deposit_amount=Decimal("400.00"),
        external_payment_id="pi_unknown",
    )
    Refund.objects.create(
        reservation=reservation,
        provider=reservation.provider,
        external_payment_id="pi_unknown",
        amount=Decimal("380.00"),
        currency="EUR",
        reason=Refund.Reason.OWNER,
        status=Refund.Status.FAILED,
        idempotency_key=f"kennel-refund-owner-{reservation.pk}",
    )

    money = reservation_money(reservation)
    assert (money.refunded, money.held) == (Decimal("0"), Decimal("400.00"))
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("reconcile_payments", stdout=out)
    assert "money in 400.00 = held 400.00 + refunded 0 + refunding 0" in out.getvalue()
    [books] = dashboard_figures().books
    assert str(books.held) == "400.00 EUR"


def test_a_fee_kept_when_refunding_is_money_held_on_the_dashboard_as_in_the_books():
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))
    reservation = ReservationFactory(
        puppy=puppy,
        status="refunded",
        status_reason="owner_refunded_part",
        deposit_amount=Decimal("400.00"),
        external_payment_id="pi_fee",
    )
    Refund.objects.create(
        reservation=reservation,
        provider=reservation.provider,
        external_payment_id="pi_fee",
        amount=Decimal("350.00"),
        currency="EUR",
        reason=Refund.Reason.OWNER,
        status=Refund.Status.SUCCEEDED,
        idempotency_key=f"kennel-refund-owner-{reservation.pk}",
    )

    assert reservation_money(reservation).held == Decimal("50.00")
    [books] = dashboard_figures().books
    assert str(books.held) == "50.00 EUR"
