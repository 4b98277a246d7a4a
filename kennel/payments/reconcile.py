"""Reconciliation: every captured payment is a held deposit or a refund (invariant 3).

Two steps. First, the provider is asked again about every recent checkout whose reservation
is not settled — a payment whose webhook never came and whose buyer never returned is found
here and goes through the same fulfilment as a webhook. Then the books: per currency, money
in = deposits held + refunded, with refunds still in flight or refused listed by name.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from kennel.core.errors import Busy
from kennel.payments.models import Refund
from kennel.payments.providers import ProviderError
from kennel.payments.services import payment_refresh
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
S = Reservation.Status
UNSETTLED = (S.PENDING, S.PROCESSING, S.EXPIRED, S.CANCELLED, S.RELEASED)


@dataclass
class Books:
    money_in: Decimal = Decimal(0)
    held: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)  # succeeded, or refunded at the provider by the owner
    refunding: Decimal = Decimal(0)  # recorded, not yet confirmed by the provider

    @property
    def balanced(self) -> bool:
        return self.money_in == self.held + self.refunded + self.refunding


@dataclass(frozen=True)
class Unreachable:
    """A checkout its provider could not be asked about: `error` in the provider's own words,
    or, `busy`, the reservation was locked by other work (the next run asks again)."""

    reservation: str
    error: str = ""
    busy: bool = False

    def __str__(self) -> str:
        return f"{self.reservation}: {'busy, asked again next run' if self.busy else self.error}"


@dataclass(frozen=True)
class Unaccounted:
    """A captured payment with `amount` neither held nor refunded; `over`: refunded `amount`
    more than came in."""

    provider: str
    payment: str
    amount: Decimal
    currency: str
    over: bool = False

    def __str__(self) -> str:
        money = f"{self.amount} {self.currency}"
        if self.over:
            return f"{self.provider} {self.payment} refunded {money} too much"
        return f"{self.provider} {self.payment} {money}"


@dataclass
class Reconciliation:
    checked: int = 0
    changed: list[str] = field(default_factory=list)  # "reservation: before -> after"
    unreachable: list[Unreachable] = field(default_factory=list)
    books: dict[str, Books] = field(default_factory=lambda: defaultdict(Books))
    failed_refunds: list[Refund] = field(default_factory=list)
    unaccounted: list[Unaccounted] = field(default_factory=list)
    stopped: str = ""  # the error that stopped the worker's run (its type's name)

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.stopped
            or self.unreachable
            or self.failed_refunds
            or self.unaccounted
            or not all(b.balanced for b in self.books.values())
        )


def payments_reconcile(*, days: int = 7) -> Reconciliation:
    """Re-read unsettled checkouts of the last `days` days from their provider, then check
    the books. Safe to run any time, as often as wanted: every step is idempotent."""
    result = Reconciliation()
    since = timezone.now() - timedelta(days=days)
    unsettled = Reservation.objects.filter(
        created_at__gte=since, status__in=UNSETTLED, provider_reference__isnull=False
    ).order_by("created_at")
    for reservation in unsettled:
        result.checked += 1
        try:
            after = payment_refresh(reservation=reservation, actor="system:reconcile_payments")
        except Busy:
            result.unreachable.append(Unreachable(str(reservation.pk), busy=True))
            continue
        except ProviderError as exc:
            result.unreachable.append(Unreachable(str(reservation.pk), str(exc)))
            continue
        if after is not None and after.status != reservation.status:
            result.changed.append(f"{reservation.pk}: {reservation.status} -> {after.status}")
    _check_books(result)
    return result


def _check_books(result: Reconciliation) -> None:
    """Money in is every payment we know was captured: the ones that made (or make) a
    reservation, and the ones we refund. Each, to the cent, is held (less its partial
    refunds) or refunded: refunds confirmed, refunds on their way, and never more than came in.
    """
    payments: dict[tuple[str, str], tuple[str, Decimal]] = {}
    status_of: dict[tuple[str, str], str] = {}
    kept_whole: set[tuple[str, str]] = set()  # cancelled by the breeder, the deposit kept
    for r in Reservation.objects.exclude(external_payment_id__isnull=True):
        key = (r.provider, str(r.external_payment_id))
        payments[key] = (r.currency, r.deposit_amount)
        status_of[key] = r.status
        if r.status_reason == Reservation.Reason.OWNER_KEPT:
            kept_whole.add(key)
    out: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    has_rows: set[tuple[str, str]] = set()
    for refund in Refund.objects.all():
        key = (refund.provider, refund.external_payment_id)
        payments.setdefault(key, (refund.currency, refund.amount))
        has_rows.add(key)
        if refund.status == Refund.Status.FAILED:
            result.failed_refunds.append(refund)
        else:
            out[key][refund.status] += refund.amount
    refused = {(f.provider, f.external_payment_id) for f in result.failed_refunds}
    for key, (currency, amount) in payments.items():
        books = result.books[currency]
        books.money_in += amount
        refunded = out[key][Refund.Status.SUCCEEDED]
        refunding = out[key][Refund.Status.PENDING]
        status = status_of.get(key)
        if status == S.REFUNDED and key not in has_rows and key not in kept_whole:
            refunded = amount  # refunded in full at the provider before refunds had rows
        books.refunded += refunded
        books.refunding += refunding
        rest = amount - refunded - refunding
        if rest < 0:
            result.unaccounted.append(Unaccounted(*key, -rest, currency, over=True))
        elif status in Reservation.STANDING or status == S.REFUNDED:
            books.held += rest  # the deposit, or the part the breeder kept when refunding
        elif rest and key not in refused:
            result.unaccounted.append(Unaccounted(*key, rest, currency))
