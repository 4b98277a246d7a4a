"""What the back office's home page shows: what needs the breeder now, and where the money is.

`dashboard_figures()` reads it all in a handful of queries, summed in the database, money as
`Decimal` per currency (never added across currencies). Each figure carries the admin list
where it can be acted on, as a changelist and its filter; the admin site turns that into a
link, so this module knows the admin's URL names but imports nothing of the admin.
"""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Exists, F, Min, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from kennel.core.models import SideEffect
from kennel.core.money import format_money
from kennel.core.outbox import kind_label
from kennel.monitoring.checks import Finding
from kennel.monitoring.models import MonitoringWork, ReconciliationRun
from kennel.payments.models import Refund, WebhookEvent
from kennel.reservations.effects import EMAILS
from kennel.reservations.models import PickTurn, Reservation

S = Reservation.Status
R = Reservation.Reason
# A webhook event is normally processed within seconds of arriving; one still pending after
# this long is stuck (its processing died, or its retry is waiting in the outbox).
WEBHOOK_STUCK_AFTER = timedelta(minutes=5)
# The outbox work that is an email (to the owner or a buyer); the rest is provider calls and
# conversion reports.
EMAIL_KINDS = frozenset([*EMAILS, *MonitoringWork.values])
# Refund rows that take money out of a deposit: sent, or being sent.
REFUNDING = (Refund.Status.SUCCEEDED, Refund.Status.PENDING)
# Suspicious holds: one client (internet address) or email holding this many puppies at once,
# or having left this many checkouts within SUSPICIOUS_WINDOW — a family wants one puppy; a
# competitor or a bot keeps litters off the shop.
SUSPICIOUS_HOLDING = 2
SUSPICIOUS_CANCELLED = 3
SUSPICIOUS_WINDOW = timedelta(hours=1)
HELD = (S.PENDING, S.PROCESSING)


@dataclass(frozen=True)
class AdminList:
    """An admin changelist with a filter: where a figure's rows are, ready to act on."""

    model: str  # "app_label.model_name"
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        app_label, model_name = self.model.split(".")
        base = reverse(f"admin:{app_label}_{model_name}_changelist")
        return f"{base}?{urlencode(self.filters)}" if self.filters else base


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


@dataclass(frozen=True)
class Figure:
    """A count of rows that need something done, and where they are."""

    label: str
    count: int
    rows: AdminList


@dataclass(frozen=True)
class RunningHold:
    reservation_id: uuid.UUID
    puppy: str
    buyer: str
    ends_at: datetime

    @property
    def url(self) -> str:
        return reverse("admin:reservations_reservation_change", args=[self.reservation_id])


@dataclass(frozen=True)
class OpenTurn:
    """A family choosing a puppy from a litter now, and until when."""

    litter: str
    litter_id: int
    family: str
    entry_id: int
    ends_at: datetime

    @property
    def url(self) -> str:
        return reverse("admin:catalogue_litter_change", args=[self.litter_id])

    @property
    def family_url(self) -> str:
        return reverse("admin:reservations_waitlistentry_change", args=[self.entry_id])


@dataclass(frozen=True)
class CurrencyBooks:
    """One currency's confirmed deposits, the money held and the balances still to come."""

    currency: str
    confirmed: int  # reservations confirmed now
    deposits: Money  # their deposits
    held: Money  # deposits of confirmed and completed reservations, less their refunds, and
    # what refunded ones kept (a fee, or a refund the provider refused)
    to_collect: Money  # price less deposit of the confirmed ones, paid at pickup

    @property
    def confirmed_rows(self) -> AdminList:
        return _reservations(("status__exact", S.CONFIRMED), ("currency__exact", self.currency))

    @property
    def held_rows(self) -> AdminList:
        standing = ",".join(Reservation.STANDING)  # a deposit is held, also after pickup
        return _reservations(("status__in", standing), ("currency__exact", self.currency))


@dataclass(frozen=True)
class SuspiciousClient:
    """A client (by its address's key) or an email holding several puppies now, or cancelling
    holds over and over; its holds, where the release action releases them."""

    by_address: bool  # one internet address (client_key); else one email
    email: str  # the email it used (the first, alphabetically, for an address)
    emails: int  # how many emails it used
    holding: int  # pending and processing holds now
    cancelled: int  # holds it cancelled (left the checkout) in the last SUSPICIOUS_WINDOW
    rows: AdminList  # the holds it has now
    cancelled_rows: AdminList

    @property
    def who(self) -> str:
        if not self.by_address:
            return self.email
        others = self.emails - 1
        if not others:
            return gettext("%(email)s, from one internet address") % {"email": self.email}
        return ngettext(
            "%(email)s and %(count)s other email, from one internet address",
            "%(email)s and %(count)s other emails, from one internet address",
            others,
        ) % {"email": self.email, "count": others}


@dataclass(frozen=True)
class LastReconciliation:
    finished_at: datetime
    source: str
    balanced: bool
    needs_attention: bool
    checked: int
    lines: list[str]
    # What a reconciliation flags (a refused refund, books off) is acted on among the refunds.
    rows: AdminList = AdminList("payments.refund")


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    holds: list[RunningHold]  # running now, the soonest to end first
    holds_rows: AdminList
    processing: Figure
    books: list[CurrencyBooks]  # by currency code
    # What needs the breeder, each with the list to act on; only the non-zero ones.
    attention: list[Figure] = field(default_factory=list)
    reconciliation: LastReconciliation | None = None
    suspicious: list[SuspiciousClient] = field(default_factory=list)
    turns: list[OpenTurn] = field(default_factory=list)  # pick turns open now, soonest end first

    @property
    def all_clear(self) -> bool:
        """Nothing failing, stuck or dead, no suspicious holds, and the books balanced at the
        last look."""
        return (
            not self.attention
            and not self.suspicious
            and not (self.reconciliation and self.reconciliation.needs_attention)
        )


def dashboard_figures(*, now: datetime | None = None) -> Dashboard:
    """Everything the back office's home shows, read in nine queries."""
    now = now or timezone.now()
    holds = [
        RunningHold(reservation_id=r.pk, puppy=r.what, buyer=r.buyer_name, ends_at=r.expires_at)
        for r in Reservation.objects.filter(status=S.PENDING, expires_at__gt=now)
        .select_related("puppy", "waitlist_entry__litter")
        .order_by("expires_at", "pk")
    ]
    refunds, refunded = _refunds()
    processing, books = _reservation_books(refunded)
    return Dashboard(
        now=now,
        holds=holds,
        # A pending hold past its time is not running (the next hold releases it), so the
        # list is cut at this instant, as the count is.
        holds_rows=_reservations(("status__exact", S.PENDING), ("expires_at__gt", _timestamp(now))),
        processing=Figure(
            gettext("Payments in progress"),
            processing,
            _reservations(("status__exact", S.PROCESSING)),
        ),
        books=books,
        attention=[f for f in [*refunds, *_webhooks(now), *_dead_work()] if f.count],
        reconciliation=_last_reconciliation(),
        suspicious=_suspicious(now),
        turns=_open_turns(),
    )


def _open_turns() -> list[OpenTurn]:
    """Every litter's open pick turn: who is choosing, and until when (one query)."""
    return [
        OpenTurn(
            litter=t.litter.name,
            litter_id=t.litter_id,
            family=t.entry.reservation.buyer_name,
            entry_id=t.entry_id,
            ends_at=t.ends_at,
        )
        for t in PickTurn.objects.filter(outcome=PickTurn.Outcome.OPEN)
        .select_related("litter", "entry__reservation")
        .order_by("ends_at", "pk")
    ]


def _reservation_books(refunded: dict[str, Decimal]) -> tuple[int, list[CurrencyBooks]]:
    """Payments in progress, and each currency's deposits, held money (less `refunded`, the
    deposits' refunds by currency) and balances."""
    confirmed = Q(status=S.CONFIRMED)
    # A refunded reservation still holds what its refunds did not give back (a fee the breeder
    # kept, a refund the provider refused) — when its refunds are in the books at all — and
    # one cancelled keeping its whole deposit holds all of it.
    kept = Q(
        Exists(
            Refund.objects.filter(
                reservation=OuterRef("pk"), external_payment_id=OuterRef("external_payment_id")
            )
        ),
        status=S.REFUNDED,
    ) | Q(status=S.REFUNDED, status_reason=Reservation.Reason.OWNER_KEPT)
    holding = Q(status__in=Reservation.STANDING) | kept
    rows = (
        Reservation.objects.filter(Q(status__in=[S.PROCESSING, *Reservation.STANDING]) | kept)
        .values("currency")
        .annotate(
            processing=Count("pk", filter=Q(status=S.PROCESSING)),
            confirmed=Count("pk", filter=confirmed),
            deposits=Sum("deposit_amount", filter=confirmed, default=Decimal(0)),
            holding=Sum("deposit_amount", filter=holding, default=Decimal(0)),
            to_collect=Sum(
                Coalesce("price_amount", "puppy__price") - F("deposit_amount"),
                filter=confirmed,
                default=Decimal(0),
            ),
        )
        .order_by("currency")
    )
    books = []
    for row in rows:
        if not row["confirmed"] and not row["holding"]:
            continue  # only payments in progress in this currency
        currency = row["currency"]
        books.append(
            CurrencyBooks(
                currency=currency,
                confirmed=row["confirmed"],
                deposits=Money(row["deposits"], currency),
                held=Money(row["holding"] - refunded.get(currency, Decimal(0)), currency),
                to_collect=Money(row["to_collect"], currency),
            )
        )
    return sum(row["processing"] for row in rows), books


def _refunds() -> tuple[list[Figure], dict[str, Decimal]]:
    """Refunds failed and pending, and what the deposits held have been refunded, by currency
    (one query)."""
    St = Refund.Status
    # Refunds of a held deposit itself: a refunded second payment for the same reservation
    # (another payment id) never was part of what is held.
    of_held_deposit = Q(
        reservation__status__in=[*Reservation.STANDING, S.REFUNDED],
        status__in=REFUNDING,
        provider=F("reservation__provider"),
        external_payment_id=F("reservation__external_payment_id"),
    )
    by_currency = (
        Refund.objects.values("reservation__currency")
        .annotate(
            failed=Count("pk", filter=Q(status=St.FAILED)),
            pending=Count("pk", filter=Q(status=St.PENDING)),
            refunded=Sum("amount", filter=of_held_deposit, default=Decimal(0)),
        )
        .order_by()
    )
    counts = {"failed": 0, "pending": 0}
    refunded: dict[str, Decimal] = {}
    for row in by_currency:
        counts["failed"] += row["failed"]
        counts["pending"] += row["pending"]
        if row["reservation__currency"] is not None:
            refunded[row["reservation__currency"]] = row["refunded"]
    rows = "payments.refund"
    return [
        Figure(
            gettext("Refunds that failed"),
            counts["failed"],
            AdminList(rows, (("status__exact", St.FAILED),)),
        ),
        Figure(
            gettext("Refunds not yet confirmed by the provider"),
            counts["pending"],
            AdminList(rows, (("status__exact", St.PENDING),)),
        ),
    ], refunded


def _webhooks(now: datetime) -> list[Figure]:
    St = WebhookEvent.Status
    stuck_since = now - WEBHOOK_STUCK_AFTER
    counts = WebhookEvent.objects.aggregate(
        failed=Count("pk", filter=Q(status=St.FAILED)),
        stuck=Count("pk", filter=Q(status=St.PENDING, received_at__lt=stuck_since)),
    )
    rows = "payments.webhookevent"
    minutes = int(WEBHOOK_STUCK_AFTER.total_seconds() // 60)
    return [
        Figure(
            gettext("Webhook events failed"),
            counts["failed"],
            AdminList(rows, (("status__exact", St.FAILED),)),
        ),
        Figure(
            gettext("Webhook events unprocessed for over %(minutes)s minutes")
            % {"minutes": minutes},
            counts["stuck"],
            AdminList(
                rows, (("status__exact", St.PENDING), ("received_at__lt", _timestamp(stuck_since)))
            ),
        ),
    ]


def _dead_work() -> list[Figure]:
    """Dead emails as one figure, then the other dead work by kind."""
    dead = dict(
        SideEffect.objects.filter(status=SideEffect.Status.DEAD)
        .values("kind")
        .annotate(n=Count("pk"))
        .order_by("kind")
        .values_list("kind", "n")
    )
    rows = "core.sideeffect"
    dead_filter = ("status__exact", SideEffect.Status.DEAD)
    emails = sorted(kind for kind in dead if kind in EMAIL_KINDS)
    figures = [
        Figure(
            gettext("Emails that could not be sent"),
            sum(dead[kind] for kind in emails),
            AdminList(rows, (dead_filter, ("kind__in", ",".join(emails)))),
        )
    ]
    figures += [
        Figure(
            gettext("Background work given up (%(kind)s)") % {"kind": kind_label(kind)},
            n,
            AdminList(rows, (dead_filter, ("kind__exact", kind))),
        )
        for kind, n in dead.items()
        if kind not in EMAIL_KINDS
    ]
    return figures


def _suspicious(now: datetime) -> list[SuspiciousClient]:
    """Addresses, then emails, holding SUSPICIOUS_HOLDING puppies or more now, or having
    cancelled SUSPICIOUS_CANCELLED holds or more in the last SUSPICIOUS_WINDOW (one query
    each); the most holds first. An email whose rows all come from one address listed
    already is not listed again."""
    since = now - SUSPICIOUS_WINDOW
    holding = Q(status__in=HELD)
    cancelled = Q(status=S.CANCELLED, status_reason=R.BUYER_CANCELLED, closed_at__gte=since)
    found: list[SuspiciousClient] = []
    listed: set[str] = set()  # the addresses listed
    for key in ("client_key", "buyer_email"):
        groups = (
            Reservation.objects.filter(holding | cancelled)
            .exclude(**{key: ""})
            .values(key)
            .annotate(
                holding=Count("pk", filter=holding),
                cancelled=Count("pk", filter=cancelled),
                email=Min("buyer_email"),
                emails=Count("buyer_email", distinct=True),
                address=Min("client_key"),
                addresses=Count("client_key", distinct=True),
            )
            .filter(Q(holding__gte=SUSPICIOUS_HOLDING) | Q(cancelled__gte=SUSPICIOUS_CANCELLED))
            .order_by("-holding", "-cancelled", key)
        )
        for row in groups:
            by_address = key == "client_key"
            if by_address:
                listed.add(row[key])
            elif row["addresses"] == 1 and row["address"] in listed:
                continue
            who = (f"{key}__exact", row[key])
            found.append(
                SuspiciousClient(
                    by_address=by_address,
                    email=row["email"],
                    emails=row["emails"],
                    holding=row["holding"],
                    cancelled=row["cancelled"],
                    rows=_reservations(who, ("status__in", ",".join(HELD))),
                    cancelled_rows=_reservations(
                        who,
                        ("status__exact", S.CANCELLED),
                        ("status_reason__exact", R.BUYER_CANCELLED),
                        ("closed_at__gte", _timestamp(since)),
                    ),
                )
            )
    return found


def _last_reconciliation() -> LastReconciliation | None:
    run = ReconciliationRun.objects.order_by("-finished_at", "-id").first()
    if run is None:
        return None
    return LastReconciliation(
        finished_at=run.finished_at,
        source=run.get_source_display(),
        balanced=run.balanced,
        needs_attention=run.needs_attention,
        checked=run.checked,
        # In the reader's language; a run recorded before findings were kept: its lines.
        lines=[Finding.from_data(f).translated() for f in run.findings] or list(run.lines),
    )


def _reservations(*filters: tuple[str, str]) -> AdminList:
    return AdminList("reservations.reservation", filters)


def _timestamp(moment: datetime) -> str:
    """An instant as an admin filter value (ISO 8601 in UTC, to the microsecond)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
