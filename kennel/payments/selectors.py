"""Reads about money that several places need: the back office, the dashboard, the books."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from kennel.payments.models import Refund
from kennel.reservations.models import Reservation

S = Reservation.Status


@dataclass(frozen=True)
class ReservationMoney:
    """A reservation's money in its currency: what was paid, what went back, what remains."""

    currency: str
    status: str
    deposit_paid: Decimal  # the captured deposit (0 while nothing was paid)
    refunded: Decimal  # refunds the provider confirmed
    refunding: Decimal  # refunds sent or being sent, not yet confirmed
    price: Decimal

    @property
    def held(self) -> Decimal:
        """The part of the deposit the breeder keeps now."""
        return max(self.deposit_paid - self.refunded - self.refunding, Decimal(0))

    @property
    def refundable(self) -> Decimal:
        return self.held

    @property
    def balance_due(self) -> Decimal:
        """What the buyer still pays at pickup: the price less the deposit (while it stands)."""
        standing = self.status == S.CONFIRMED and self.deposit_paid
        return self.price - self.deposit_paid if standing else Decimal(0)


def reservation_money(reservation: Reservation) -> ReservationMoney:
    paid = reservation.deposit_amount if reservation.external_payment_id else Decimal(0)
    sums: dict[str, Decimal] = defaultdict(Decimal)
    rows = (
        Refund.objects.filter(
            reservation=reservation,
            external_payment_id=reservation.external_payment_id or "",
            provider=reservation.provider,
        )
        .values("status")
        .annotate(total=Sum("amount"))
    )
    for row in rows:
        sums[row["status"]] += row["total"] or Decimal(0)
    if reservation.status == S.REFUNDED and not any(sums.values()):
        # Refunded in full at the provider before refunds were kept one by one. (A refund the
        # provider refused is a row too: then nothing went back, and the deposit is held.)
        sums[Refund.Status.SUCCEEDED] = paid
    return ReservationMoney(
        currency=reservation.currency,
        status=reservation.status,
        deposit_paid=paid,
        refunded=sums[Refund.Status.SUCCEEDED],
        refunding=sums[Refund.Status.PENDING],
        price=reservation.price,
    )
