"""A refund the provider refused gave nothing back: every figure keeps the deposit as held."""

from decimal import Decimal
from io import StringIO
from typing import cast

import pytest
from django.core.management import call_command

from kennel.monitoring.dashboard import dashboard_figures
from kennel.payments.models import Refund
from kennel.payments.selectors import reservation_money
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db


def refunded_by_the_breeder(payment_id: str, refund: str, status: str) -> Reservation:
    """A 400.00 EUR deposit the breeder refunded `refund` of; the provider said `status`."""
    puppy = PuppyFactory(price=Decimal("2000.00"), deposit=Decimal("400.00"))
    reservation = cast(
        Reservation,
        ReservationFactory(
            puppy=puppy,
            status="refunded",
            status_reason="owner_refunded_part",
            deposit_amount=Decimal("400.00"),
            external_payment_id=payment_id,
        ),
    )
    Refund.objects.create(
        reservation=reservation,
        provider=reservation.provider,
        external_payment_id=payment_id,
        amount=Decimal(refund),
        currency="EUR",
        reason=Refund.Reason.OWNER,
        status=status,
        idempotency_key=f"kennel-refund-owner-{reservation.pk}",
    )
    return reservation


def test_a_refused_refund_leaves_the_deposit_held_everywhere():
    reservation = refunded_by_the_breeder("pi_unknown", "380.00", Refund.Status.FAILED)

    money = reservation_money(reservation)
    assert (money.refunded, money.held) == (Decimal("0"), Decimal("400.00"))
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("reconcile_payments", stdout=out)
    assert "money in 400.00 = held 400.00 + refunded 0 + refunding 0" in out.getvalue()
    [books] = dashboard_figures().books
    assert str(books.held) == "400.00 EUR"


def test_a_fee_kept_when_refunding_is_money_held_on_the_dashboard_as_in_the_books():
    reservation = refunded_by_the_breeder("pi_fee", "350.00", Refund.Status.SUCCEEDED)

    assert reservation_money(reservation).held == Decimal("50.00")
    [books] = dashboard_figures().books
    assert str(books.held) == "50.00 EUR"
