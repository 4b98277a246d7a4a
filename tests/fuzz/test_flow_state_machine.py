"""The whole deposit flow under any interleaving: a hypothesis state machine.

Buyers hold puppies and pay at the sandbox (Stripe or PayPal, every outcome its hosted page
offers); the providers' events reach the shop whenever the machine likes — in any order, twice,
after the hold expired; the worker runs its due jobs; the breeder refunds, releases, and refunds
part of a deposit at the provider's dashboard; buyers cancel. After every step the books and
the catalogue must agree with each other and with the provider.

Each example has a sandbox of its own with its webhook URLs off: it records every event it
would send and the machine delivers them itself (signed as the sandbox signs them) through the
real webhook view. Everything runs in this thread on one connection (no live server, the
outbox jobs run as the worker's task runs them), so each example runs inside a savepoint of
the test's transaction and is rolled back at its end. The clock: a hold "runs out" by setting
its expiry in the past. A failure prints the steps to replay it (hypothesis' seed too).
"""

import contextlib
import os
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.core import mail
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.test import Client, override_settings
from django.utils import timezone
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kennel.catalogue.models import Puppy
from kennel.core.errors import ApplicationError
from kennel.core.models import SideEffect
from kennel.core.outbox import NOT_SENT, side_effect_run
from kennel.payments.models import Refund, WebhookEvent
from kennel.payments.owner import RefundRefused, reservation_keep_deposit, reservation_refund
from kennel.payments.providers import BuyerActionRequired
from kennel.payments.reconcile import payments_reconcile
from kennel.payments.selectors import reservation_money
from kennel.payments.services import checkout_start, payment_refresh
from kennel.reservations import services as reservations
from kennel.reservations.effects import EMAILS, Effect
from kennel.reservations.models import Reservation
from sandbox import CheckoutSessionNotOpen, OrderNotApprovable
from sandbox.paypal.state import OUTCOMES as PAYPAL_SANDBOX_OUTCOMES
from tests.conftest import sandbox_for
from tests.factories import PuppyFactory
from tests.payments.flow import refund_at_dashboard, sandbox_refunds
from tests.payments.paypal_helpers import captures_of

pytestmark = pytest.mark.django_db

S = Reservation.Status
P = Puppy.Status
BUYERS = [
    reservations.Buyer(name=f"Buyer {i}", email=f"buyer{i}@example.com", phone="+33 6 12 34 56 78")
    for i in range(3)
]
STRIPE_OUTCOMES = ["pay", "pay", "async_succeed", "async_fail", "decline", "cancel", "expire"]
PAYPAL_OUTCOMES = ["approve", *PAYPAL_SANDBOX_OUTCOMES]  # every outcome, approve twice as often
SITE = "http://testserver"
# No live server: the machine delivers the sandbox's events itself (its webhook URLs are off).
NOWHERE = SimpleNamespace(url=SITE)


class DepositFlow(RuleBasedStateMachine):
    """One shop, three puppies, three buyers, both providers, a sandbox per example."""

    def __init__(self) -> None:
        super().__init__()
        self.savepoint = transaction.savepoint()
        # A sandbox of its own per example: nothing of another example's payments is left.
        self.stack = contextlib.ExitStack()
        # Its settings are applied for the example and undone after (pytest-django's `settings`
        # would stack one more override per example, and per setting).
        wanted = SimpleNamespace()
        self.sandbox = self.stack.enter_context(
            sandbox_for(NOWHERE, wanted, stripe_webhook_url=None, paypal_webhook_url=None)
        )
        self.stack.enter_context(override_settings(**vars(wanted)))
        self.client = Client()
        self.puppies: list[Puppy] = [
            cast(Puppy, PuppyFactory(deposit=Decimal("400.00"))) for _ in range(3)
        ]
        self.reservation_ids: list[str] = []
        self.mails_before = len(mail.outbox)

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)
        self.stack.close()

    # ------------------------------------------------------------------ helpers

    def _events(self, provider: str) -> list[dict[str, Any]]:
        return list(getattr(self.sandbox, provider).events)

    def _reservation(self, i: int) -> Reservation:
        return Reservation.objects.get(pk=self.reservation_ids[i % len(self.reservation_ids)])

    def _deliver(self, provider: str, event: dict[str, Any]) -> None:
        body, headers = getattr(self.sandbox, provider).signed_delivery(event)
        headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        answer = self.client.post(
            f"/webhooks/{provider}/", data=body, content_type="application/json", headers=headers
        )
        assert answer.status_code == 200, answer.content

    def _settle_sandbox(self) -> None:
        """Let the sandbox finish what happens "a moment later" (an async payment clearing)."""
        assert self.sandbox.wait_for_deliveries(timeout=15)

    # ------------------------------------------------------------------ buyers

    @initialize(provider=st.sampled_from(["stripe", "paypal"]))
    def first_hold(self, provider: str) -> None:
        self.hold(0, 0, provider)

    @rule(
        puppy=st.integers(0, 2),
        buyer=st.integers(0, 2),
        provider=st.sampled_from(["stripe", "paypal"]),
    )
    def hold(self, puppy: int, buyer: int, provider: str) -> None:
        slug = self.puppies[puppy].slug
        had_active = (
            Reservation.objects.filter(
                puppy__slug=slug, status__in=Reservation.ACTIVE, expires_at__gt=timezone.now()
            ).exists()
            or Reservation.objects.filter(puppy__slug=slug, status=S.CONFIRMED).exists()
        )
        try:
            reservation, url = checkout_start(
                puppy_slug=slug, buyer=BUYERS[buyer], provider=provider, site_url=SITE
            )
        except ApplicationError as exc:
            refusal = exc.code
        else:
            refusal = ""
        if not Puppy.objects.get(slug=slug).is_published:
            # The breeder refunded a deposit and took the puppy off sale.
            assert refusal == "PUPPY_NOT_FOUND"
            return
        if refusal:
            assert refusal == "PUPPY_NOT_AVAILABLE"
            assert had_active, "refused a hold on a free puppy"
            return
        assert not had_active, "held a puppy someone else holds"
        assert url
        assert reservation.provider_reference
        self.reservation_ids.append(str(reservation.pk))

    @precondition(lambda self: self.reservation_ids)
    @rule(
        i=st.integers(0, 50),
        stripe=st.sampled_from(STRIPE_OUTCOMES),
        paypal=st.sampled_from(PAYPAL_OUTCOMES),
        prompt=st.booleans(),
    )
    def pay_at_provider(self, i: int, stripe: str, paypal: str, prompt: bool) -> None:
        """The buyer presses a button on the provider's hosted page (if it is still open);
        `prompt`: its events reach the shop at once and the worker processes them."""
        reservation = self._reservation(i)
        before = {p: len(self._events(p)) for p in ("stripe", "paypal")}
        try:
            if reservation.provider == "stripe":
                self.sandbox.stripe.complete_session(reservation.provider_reference, stripe)
            else:
                self.sandbox.paypal.approve(reservation.provider_reference, paypal)
        except (CheckoutSessionNotOpen, OrderNotApprovable):
            return
        self._settle_sandbox()
        for _ in range(3 if prompt else 0):  # PayPal: approved -> captured -> completed
            for provider in ("stripe", "paypal"):
                events = self._events(provider)
                for event in events[before[provider] :]:
                    self._deliver(provider, event)
                before[provider] = len(events)
            self.worker_runs_due_jobs()

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50))
    def buyer_comes_back(self, i: int) -> None:
        """The return URL: the shop reads the payment now, as the webhook would."""
        reservation = self._reservation(i)
        with contextlib.suppress(BuyerActionRequired):  # PayPal asks the buyer again
            payment_refresh(reservation=reservation, actor="buyer:return")
        self._settle_sandbox()

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50))
    def buyer_cancels(self, i: int) -> None:
        reservation = self._reservation(i)
        done = reservations.reservation_release(
            reservation_id=reservation.pk,
            status=S.CANCELLED,
            actor="buyer",
            reason=Reservation.Reason.BUYER_CANCELLED,
        )
        assert done == (reservation.status == S.PENDING)

    # ------------------------------------------------------------------ providers' events

    @rule(
        provider=st.sampled_from(["stripe", "paypal"]),
        pick=st.integers(0, 200),
        twice=st.booleans(),
    )
    def deliver_one(self, provider: str, pick: int, twice: bool) -> None:
        """Any event of this example — new, old (a duplicate), out of order, late."""
        events = self._events(provider)
        if not events:
            return
        event = events[pick % len(events)]
        for _ in range(2 if twice else 1):
            self._deliver(provider, event)

    @rule(provider=st.sampled_from(["stripe", "paypal"]), reverse=st.booleans())
    def deliver_all(self, provider: str, reverse: bool) -> None:
        events = self._events(provider)
        for event in reversed(events) if reverse else events:
            self._deliver(provider, event)

    # ------------------------------------------------------------------ time and the worker

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50), sweep=st.booleans())
    def hold_runs_out(self, i: int, sweep: bool) -> None:
        """The clock passes a hold's end (its expiry set in the past), then maybe the sweep."""
        reservation = self._reservation(i)
        Reservation.objects.filter(pk=reservation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        if sweep:
            reservations.reservations_expire_due()

    @rule()
    def worker_runs_due_jobs(self) -> None:
        """What the worker's task loops do: every due outbox job, once each."""
        due = SideEffect.objects.filter(status=SideEffect.Status.PENDING)
        due.update(next_attempt_at=timezone.now())  # a retry's backoff passes, too
        for pk in list(due.order_by("pk").values_list("pk", flat=True)):
            side_effect_run(side_effect_id=pk)
        self._settle_sandbox()

    @rule()
    def reconciliation(self) -> None:
        """The periodic reconciliation: unsettled checkouts read again from their provider."""
        payments_reconcile(days=1)
        self._settle_sandbox()

    # ------------------------------------------------------------------ the breeder

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50), kept=st.sampled_from(["0", "0", "50.00"]), available=st.booleans())
    def owner_refunds(self, i: int, kept: str, available: bool) -> None:
        reservation = self._reservation(i)
        try:
            refund = reservation_refund(
                reservation_id=reservation.pk,
                actor="admin:owner",
                amount_kept=Decimal(kept),
                puppy_available=available,
            )
        except RefundRefused as exc:
            refusal = exc.code
        else:
            refusal = ""
        if refusal:
            assert refusal in ("NOT_REFUNDABLE", "AMOUNT_INVALID")
            if refusal == "NOT_REFUNDABLE":
                assert reservation.status not in (S.CONFIRMED, S.COMPLETED)
            return
        if refund is None:
            assert reservation.status == S.REFUNDED
        else:
            assert reservation.status in (S.CONFIRMED, S.COMPLETED)

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50), available=st.booleans())
    def owner_keeps_the_whole_deposit(self, i: int, available: bool) -> None:
        """Cancelled keeping all of the deposit held (non-refundable terms): nothing is sent."""
        reservation = self._reservation(i)
        try:
            kept = reservation_keep_deposit(
                reservation_id=reservation.pk,
                actor="admin:owner",
                amount_held=reservation_money(reservation).held,
                puppy_available=available,
            )
        except RefundRefused as exc:
            refusal = exc.code
        else:
            assert kept == (reservation.status in (S.CONFIRMED, S.COMPLETED))
            return
        # Refused only for what holds no deposit of its own (or nothing any more).
        assert refusal in ("NOT_REFUNDABLE", "AMOUNT_INVALID"), refusal
        assert reservation.status not in (S.CONFIRMED, S.COMPLETED) or not (
            reservation_money(reservation).held
        ), reservation.status

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50))
    def owner_releases_hold(self, i: int) -> None:
        reservation = self._reservation(i)
        done = reservations.reservation_release_hold(
            reservation_id=reservation.pk, actor="admin:owner"
        )
        assert done == (reservation.status in (S.PENDING, S.PROCESSING))

    @precondition(lambda self: self.reservation_ids)
    @rule(i=st.integers(0, 50), amount=st.sampled_from(["25.00", "40.00"]))
    def owner_refunds_part_at_dashboard(self, i: int, amount: str) -> None:
        """A partial refund made in the provider's dashboard; its event tells the shop."""
        reservation = self._reservation(i)
        if not reservation.external_payment_id:
            return
        left = reservation.deposit_amount - self._refunded_at_provider(reservation)
        if left < Decimal(amount):
            return
        refund_at_dashboard(reservation, amount)
        self._settle_sandbox()

    # ------------------------------------------------------------------ what must always hold

    @invariant()
    def one_active_reservation_per_puppy(self) -> None:
        for puppy in self.puppies:
            active = Reservation.objects.filter(puppy=puppy, status__in=Reservation.ACTIVE)
            assert active.count() <= 1, list(active.values_list("status", flat=True))

    @invariant()
    def puppy_status_agrees_with_its_reservations(self) -> None:
        for puppy in Puppy.objects.filter(pk__in=[p.pk for p in self.puppies]):
            active = Reservation.objects.filter(puppy=puppy, status__in=Reservation.ACTIVE).first()
            expected = {
                "": str(P.AVAILABLE),
                S.PENDING: P.HELD,
                S.PROCESSING: P.HELD,
                S.CONFIRMED: P.RESERVED,
            }[str(active.status) if active else ""]
            assert puppy.status == expected, (puppy.slug, puppy.status, active)

    @invariant()
    def every_payment_confirms_one_reservation_or_is_refunded(self) -> None:
        taken = Counter(
            Reservation.objects.exclude(external_payment_id__isnull=True).values_list(
                "provider", "external_payment_id"
            )
        )
        assert all(n == 1 for n in taken.values()), taken
        for r in Reservation.objects.exclude(external_payment_id__isnull=True):
            assert r.status in (S.CONFIRMED, S.COMPLETED, S.REFUNDED), (r.pk, r.status)
        if self._quiet():
            # Nothing left to hear from the providers: every payment they captured is known.
            for provider, payment_id, amount in self._captured_at_provider():
                ours = (provider, payment_id) in taken
                refunds = Refund.objects.filter(provider=provider, external_payment_id=payment_id)
                assert ours or refunds.exists(), (provider, payment_id, amount)

    @invariant()
    def money_in_is_held_plus_refunded(self) -> None:
        books = payments_reconcile(days=0)  # no unsettled checkout is that young: books only
        assert not books.unaccounted, books.unaccounted
        for currency, b in books.books.items():
            assert b.balanced, (currency, b)
        # Held: each deposit less what went back of it — the whole of one the breeder kept.
        held: dict[str, Decimal] = {}
        for r in Reservation.objects.filter(
            status__in=(S.CONFIRMED, S.COMPLETED, S.REFUNDED), external_payment_id__isnull=False
        ):
            back = Refund.objects.filter(
                provider=r.provider, external_payment_id=r.external_payment_id
            ).exclude(status=Refund.Status.FAILED)
            kept_all = r.status_reason == Reservation.Reason.OWNER_KEPT
            if r.status == S.REFUNDED and not back.exists() and not kept_all:
                continue  # refunded in full at the provider before refunds had rows
            total = back.aggregate(t=Sum("amount"))["t"] or Decimal(0)
            held[r.currency] = held.get(r.currency, Decimal(0)) + r.deposit_amount - total
        for currency, amount in held.items():
            assert books.books[currency].held == amount, (currency, books.books[currency], amount)
        for r in Reservation.objects.exclude(external_payment_id__isnull=True):
            refunds = Refund.objects.filter(
                provider=r.provider, external_payment_id=r.external_payment_id
            ).exclude(status=Refund.Status.FAILED)
            total = refunds.aggregate(t=Sum("amount"))["t"] or Decimal(0)
            assert total <= r.deposit_amount, (r.pk, total)
        if self._quiet():
            # Every refund the provider made is in the books, and no more was sent than asked.
            for r in Reservation.objects.exclude(external_payment_id__isnull=True):
                at_provider = self._refunded_at_provider(r)
                ours = Refund.objects.filter(
                    provider=r.provider, external_payment_id=r.external_payment_id
                ).exclude(status=Refund.Status.FAILED)
                assert at_provider == (ours.aggregate(t=Sum("amount"))["t"] or 0), r.pk

    @invariant()
    def no_side_effect_doubled(self) -> None:
        confirmations = (
            SideEffect.objects.filter(kind=Effect.BUYER_CONFIRMATION)
            .values("reservation_id")
            .annotate(n=Count("pk"))
        )
        assert all(row["n"] == 1 for row in confirmations), list(confirmations)
        # Each email job, once done, sent exactly one message — but one no longer true when
        # its turn came (NoLongerTrue: a confirmation of a deposit refunded meanwhile), which
        # sent none; nothing else sent any.
        done = SideEffect.objects.filter(kind__in=EMAILS, status=SideEffect.Status.SENT)
        sent = done.exclude(last_error__startswith=NOT_SENT).count()
        for skipped in done.filter(last_error__startswith=NOT_SENT):  # and only such a one
            status = Reservation.objects.get(pk=str(skipped.reservation_id)).status
            assert status not in ("confirmed", "completed") or skipped.kind not in (
                Effect.BUYER_CONFIRMATION,
                Effect.OWNER_DEPOSIT,
            ), (skipped.kind, status)
        assert len(mail.outbox) - self.mails_before == sent
        # One refund request per Kennel refund reached the provider.
        for refund in Refund.objects.exclude(Q(provider_refund_id="") | Q(reason="provider")):
            assert (
                Refund.objects.filter(
                    provider=refund.provider, provider_refund_id=refund.provider_refund_id
                ).count()
                == 1
            )

    # ------------------------------------------------------------------ reading the provider

    def _quiet(self) -> bool:
        """Every event delivered and processed, no money work waiting."""
        work = SideEffect.objects.filter(
            status__in=[SideEffect.Status.PENDING, SideEffect.Status.SENDING]
        ).exclude(kind__in=[*EMAILS, Effect.GA4_PURCHASE, Effect.META_PURCHASE])
        return not work.exists() and self._all_delivered()

    def _all_delivered(self) -> bool:
        for provider in ("stripe", "paypal"):
            ids = {str(e["id"]) for e in self._events(provider)}
            stored = set(
                WebhookEvent.objects.filter(provider=provider, event_id__in=ids)
                .exclude(status__in=[WebhookEvent.Status.PENDING, WebhookEvent.Status.FAILED])
                .values_list("event_id", flat=True)
            )
            if ids - stored:
                return False
        return True

    def _captured_at_provider(self) -> list[tuple[str, str, Decimal]]:
        captured = []
        for r in Reservation.objects.filter(pk__in=self.reservation_ids):
            reference = str(r.provider_reference)
            if r.provider == "stripe":
                state = self.sandbox.stripe.state
                with state.lock:
                    session = state.sessions[reference]
                    intent = state.intents.get(session["payment_intent"] or "")
                    if intent and intent["status"] == "succeeded":
                        captured.append(("stripe", intent["id"], Decimal(intent["amount"]) / 100))
            else:
                for c in captures_of(self.sandbox, reference):
                    if c["status"] in ("COMPLETED", "PARTIALLY_REFUNDED", "REFUNDED"):
                        captured.append(("paypal", c["id"], Decimal(c["amount"]["value"])))
        return captured

    def _refunded_at_provider(self, reservation: Reservation) -> Decimal:
        amounts = sandbox_refunds(self.sandbox, reservation)
        if reservation.provider == "stripe":
            return sum((Decimal(a) / 100 for a in amounts), Decimal(0))
        return sum((Decimal(a) for a in amounts), Decimal(0))


def test_the_deposit_flow_keeps_its_invariants_under_any_interleaving(settings):
    settings.OWNER_EMAIL = "owner@example.com"
    run_state_machine_as_test(
        DepositFlow,
        settings=hypothesis_settings(
            # KENNEL_FUZZ_EXAMPLES: a longer hunt by hand; `make test` runs the bounded one.
            max_examples=int(os.environ.get("KENNEL_FUZZ_EXAMPLES", "15")),
            stateful_step_count=40,
            deadline=None,
            database=None,
        ),
    )
