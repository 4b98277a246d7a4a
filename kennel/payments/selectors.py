"""Reads about money that several places need: the back office, the dashboard, the books."""

import uuid
from collections import defaultdict
from collections.abc import Iterable
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
    return reservations_money([reservation])[reservation.pk]


def reservations_money(reservations: Iterable[Reservation]) -> dict[uuid.UUID, ReservationMoney]:
    """Each reservation's money (by its id), with one query for all of them: the refunds of
    the payment that confirmed it, by status."""
    reservations = list(reservations)
    rows = (
        Refund.objects.filter(reservation__in=[r.pk for r in reservations])
        .values("reservation_id", "provider", "external_payment_id", "status")
        .annotate(total=Sum("amount"))
    )
    sums: dict[tuple[uuid.UUID, str, str], dict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    for row in rows:
        payment = (row["reservation_id"], row["provider"], row["external_payment_id"])
        sums[payment][row["status"]] += row["total"] or Decimal(0)
    return {
        r.pk: _money(r, sums[(r.pk, r.provider, r.external_payment_id or "")]) for r in reservations
    }


def _money(reservation: Reservation, sums: dict[str, Decimal]) -> ReservationMoney:
    paid = reservation.deposit_amount if reservation.external_payment_id else Decimal(0)
    if (
        reservation.status == S.REFUNDED
        and reservation.status_reason != Reservation.Reason.OWNER_KEPT
        and not any(sums.values())
    ):
        # Refunded in full at the provider before refunds were kept one by one. (A refund the
        # provider refused is a row too: then nothing went back, and the deposit is held.)
        sums = {Refund.Status.SUCCEEDED: paid}
    return ReservationMoney(
        currency=reservation.currency,
        status=reservation.status,
        deposit_paid=paid,
        refunded=sums.get(Refund.Status.SUCCEEDED, Decimal(0)),
        refunding=sums.get(Refund.Status.PENDING, Decimal(0)),
        price=reservation.price,
    )


# The refunds the shop makes on its own of a payment that is not the reservation's deposit
# (payments/fulfilment.py): outside the deposit's money above, told apart to buyer and breeder.
SENT_BACK = (
    Refund.Reason.LATE_PAYMENT,
    Refund.Reason.DUPLICATE_PAYMENT,
    Refund.Reason.AMOUNT_MISMATCH,
)


@dataclass(frozen=True)
class PaymentSentBack:
    """A payment made for a reservation apart from its deposit — after the hold ended or the
    puppy was taken, a second one, a wrong amount — refunded whole, and where that stands."""

    amount: Decimal
    currency: str
    reason: str  # Refund.Reason
    status: str  # Refund.Status


def payments_sent_back(reservation: Reservation) -> list[PaymentSentBack]:
    refunds = Refund.objects.filter(reservation=reservation, reason__in=SENT_BACK)
    return [
        PaymentSentBack(amount=r.amount, currency=r.currency, reason=r.reason, status=r.status)
        for r in refunds.order_by("created_at", "pk")
    ]
