"""A PayPal approval that comes after the hold ended: PayPal takes nothing until Kennel
captures, so an approval Kennel would only refund (the puppy taken, the list full or closed)
is never captured. The buyer reads that nothing was charged; the order lapses uncaptured.
A puppy still free takes the approval as a late payment; a family holding the puppy between
that answer and the capture gets the payment refunded, as any late payment."""

import threading
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.db import connection, transaction
from django.utils import timezone

from kennel.catalogue.models import Litter
from kennel.payments.models import Refund
from kennel.reservations.models import Reservation
from kennel.reservations.services import (
    reservation_hold,
    reservation_release,
    reservations_expire_due,
)
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments import stripe_helpers
from tests.payments.flow import hold_ran_out, no_refund_told, page_text, reconcile, settled
from tests.payments.paypal_helpers import approve, captures_of, come_back, reserve
from tests.reservations.waitlist_helpers import family, list_checkout, open_litter

pytestmark = pytest.mark.django_db(transaction=True)

NOTHING_CHARGED = "nothing was charged"
REFUND_WORDS = ("being refunded", "refunded to you")


def _order_of(sandbox: Any, body: dict[str, Any]) -> dict[str, Any]:
    return sandbox.paypal.state.get_order(body["provider_reference"])


def test_a_late_approval_for_a_puppy_another_family_holds_is_not_captured(sandbox, live_server):
    """Tried: the return URL captured the 400 EUR, the page said the payment "reached us
    after this reservation had ended. It is being refunded", and buyer and owner got refund
    emails."""
    puppy = PuppyFactory(name="Biscuit")
    late = reserve(live_server.url, puppy.slug, n=1).json()
    hold_ran_out(late)
    other = reserve(live_server.url, puppy.slug, n=2)
    assert other.status_code == 201

    page = page_text(come_back(approve(late["checkout_url"], "approve")))

    assert "Biscuit was taken by another family" in page
    assert NOTHING_CHARGED in page
    assert not any(words in page for words in REFUND_WORDS)
    reservation = settled(sandbox, late["id"])  # PayPal's CHECKOUT.ORDER.APPROVED too
    run_worker_once()
    assert not captures_of(sandbox, late["provider_reference"])
    assert _order_of(sandbox, late)["status"] == "APPROVED"  # it lapses there, uncaptured
    assert (reservation.status, reservation.status_reason) == ("expired", "approval_not_captured")
    no_refund_told(late["id"])
    assert Reservation.objects.get(pk=other.json()["id"]).status == "pending"
    assert reservation.puppy.status == "held"


def test_cancel_and_return_then_back_and_approve_after_another_family_held_is_not_captured(
    sandbox, live_server
):
    puppy = PuppyFactory(name="Biscuit")
    first = reserve(live_server.url, puppy.slug, n=1).json()
    cancelled = page_text(come_back(approve(first["checkout_url"], "cancel")))
    assert "cancelled" in cancelled.lower()
    other = reserve(live_server.url, puppy.slug, n=2)
    assert other.status_code == 201

    # Back in the browser: PayPal's page of the same order, and *Approve and pay*.
    page = page_text(come_back(approve(first["checkout_url"], "approve")))

    assert "Biscuit was taken by another family" in page
    assert NOTHING_CHARGED in page
    settled(sandbox, first["id"])
    assert not captures_of(sandbox, first["provider_reference"])
    no_refund_told(first["id"])
    assert Reservation.objects.get(pk=first["id"]).status == "cancelled"


def test_an_approval_not_taken_stays_uncaptured_and_out_of_the_books_after_the_puppy_is_free(
    sandbox, live_server
):
    """The buyer closed PayPal's tab after approving: only the webhook comes. Told nothing
    was charged, they are never charged later — not by reconciliation, not by coming back
    once the other family let the puppy go."""
    puppy = PuppyFactory(name="Biscuit")
    late = reserve(live_server.url, puppy.slug, n=1).json()
    hold_ran_out(late)
    other = reserve(live_server.url, puppy.slug, n=2).json()
    approve(late["checkout_url"], "approve")

    reservation = settled(sandbox, late["id"])
    assert reservation.status_reason == "approval_not_captured"
    code, out = reconcile()
    assert code == 0, out
    assert "unaccounted" not in out.lower()
    reservation_release(
        reservation_id=other["id"], status="cancelled", actor="buyer", reason="buyer_cancelled"
    )
    code, out = reconcile()
    page = page_text(
        httpx.get(f"{live_server.url}{reservation.get_absolute_url()}", follow_redirects=True)
    )

    assert code == 0, out
    assert not captures_of(sandbox, late["provider_reference"])
    assert Reservation.objects.get(pk=late["id"]).status == "expired"
    assert NOTHING_CHARGED in page
    assert "Biscuit is available again" in page
    no_refund_told(late["id"])


def test_a_family_holding_the_puppy_between_the_check_and_the_capture_gets_it_refunded_once(
    sandbox, live_server
):
    """The answer before the capture is only an early one: the late payment is captured
    while the puppy is free, another family holds it before the capture lands, and the
    payment is refunded once, as any late payment."""
    puppy = PuppyFactory()
    late = reserve(live_server.url, puppy.slug, n=1).json()
    hold_ran_out(late)
    back = approve(late["checkout_url"], "approve")
    sandbox.switches.deliver_twice = True
    pages: list[httpx.Response] = []

    with transaction.atomic():
        # The buyer's return waits for the reservation's lock, then finds the puppy free...
        Reservation.objects.select_for_update().get(pk=late["id"])
        returning = threading.Thread(target=lambda: pages.append(come_back(back)))
        returning.start()
        waiting = _backend_waiting_for_a_lock()
        sandbox.switches.api_delay = 3.0  # ...and PayPal is slow to capture
    _until_idle(waiting)  # the answer is given: the return URL is capturing
    other = reserve_in_the_meantime(puppy.slug)
    returning.join(timeout=30)
    sandbox.switches.api_delay = 0.0

    [page] = pages
    assert "reached us after this reservation had ended" in page_text(page)
    reservation = settled(sandbox, late["id"])
    run_worker_once()
    run_worker_once()
    reservation = settled(sandbox, late["id"])
    assert (reservation.status, reservation.status_reason) == ("expired", "late_payment_refunded")
    [capture] = captures_of(sandbox, late["provider_reference"])
    refund = Refund.objects.get()
    assert (refund.reason, refund.status) == ("late_payment", "succeeded")
    assert refund.external_payment_id == capture["id"]
    assert refund.amount == reservation.deposit_amount
    assert len(sandbox.paypal.state.refunds) == 1
    assert sandbox.paypal.state.captures[capture["id"]]["status"] == "REFUNDED"
    refund_posts = [c for c in sandbox.paypal.api_calls if c.path.endswith("/refund")]
    assert {c.request_id for c in refund_posts} == {refund.idempotency_key}
    assert Reservation.objects.get(pk=other.pk).status == "pending"


def reserve_in_the_meantime(slug: str) -> Reservation:
    return reservation_hold(puppy_slug=slug, buyer=family(2), provider="stripe")


def _backend_waiting_for_a_lock(timeout: float = 15.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look in a transaction
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            row = cursor.fetchone()
        if row:
            return int(row[0])
        time.sleep(0.02)
    raise AssertionError("the buyer's return never waited for the reservation")


def backend_activity(pid: int) -> tuple[str, str] | None:
    """Backend `pid`'s state and what it waits for ("Lock", …), looked at afresh."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look in a transaction
        cursor.execute(
            "SELECT state, coalesce(wait_event_type, '') FROM pg_stat_activity WHERE pid = %s",
            [pid],
        )
        row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def _until_idle(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        activity = backend_activity(pid)
        if activity and activity[0] == "idle":
            return
        time.sleep(0.02)
    raise AssertionError("the buyer's return never left its transaction")


# --- a waiting list's deposit ---------------------------------------------------------------


def test_a_late_list_deposit_approved_after_the_list_filled_is_not_captured(sandbox, live_server):
    litter = open_litter(waitlist_cap=1)
    late, late_url = list_checkout(litter, 1, "paypal", live_server.url)
    assert reservations_expire_due(now=timezone.now() + timedelta(days=1)) == 1
    _, url = list_checkout(litter, 2, "stripe", live_server.url)
    come_back_from_stripe = come_back(stripe_helpers.choose(url, "pay"))
    assert come_back_from_stripe.status_code == 200

    page = page_text(come_back(approve(late_url, "approve")))

    assert "the waiting list had no place left" in page
    assert NOTHING_CHARGED in page
    late.refresh_from_db()
    settled(sandbox, str(late.reservation_id))
    assert (late.status, late.position) == ("unpaid", None)
    assert not captures_of(sandbox, late.reservation.provider_reference)
    no_refund_told(str(late.reservation_id))


def test_a_list_deposit_approved_in_time_after_picking_closed_for_good_is_not_captured(
    sandbox, live_server
):
    """As a late one: paid in time, but no turn can ever come (it used to be captured and
    refunded, test_waitlist_deposits)."""
    litter = open_litter()
    entry, url = list_checkout(litter, 1, "paypal", live_server.url)
    Litter.objects.filter(pk=litter.pk).update(waitlist_open=False, picking=Litter.Picking.CLOSED)

    page = page_text(come_back(approve(url, "approve")))

    assert "the waiting list had no place left" in page
    assert NOTHING_CHARGED in page
    entry.refresh_from_db()
    reservation = settled(sandbox, str(entry.reservation_id))
    assert (entry.status, entry.position) == ("unpaid", None)
    assert (reservation.status, reservation.status_reason) == ("released", "approval_not_captured")
    assert not captures_of(sandbox, reservation.provider_reference)
    no_refund_told(str(entry.reservation_id))
    assert reservation.deposit_amount == Decimal("400.00")
