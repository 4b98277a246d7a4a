"""A PayPal approval Kennel could only refund is never captured, whoever hears of it first —
the buyer's return, CHECKOUT.ORDER.APPROVED, reconciliation: a second order for a reservation
already paid, an order that is not the reservation's checkout, one naming no reservation of
ours, and a late one whose puppy the same buyer has reserved again since. Nothing is charged,
the order lapses at PayPal, the reservation stands as it was, and the buyer reads that this
payment was not taken. (Late approvals of a puppy another family took:
test_paypal_late_approval.)"""

import uuid
from typing import Any

import httpx
import pytest

from kennel.payments.models import Refund, WebhookEvent
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments import stripe_helpers
from tests.payments.flow import (
    hold_ran_out,
    no_refund_told,
    page_text,
    process_webhooks,
    reconcile,
    settled,
)
from tests.payments.paypal_helpers import approve, captures_of, come_back, other_order, reserve
from tests.reservations.waitlist_helpers import list_checkout, open_litter

pytestmark = pytest.mark.django_db(transaction=True)

NOTHING_CHARGED = "nothing was charged"
ALREADY_PAID = (
    "You had already paid the deposit for this reservation, so the second payment you "
    "approved was not taken: nothing was charged for it."
)
ALREADY_PAID_FR = "Vous aviez déjà payé l\u2019acompte de cette réservation"
OTHER_PAGE = "A payment you approved on another payment page for this reservation was not taken"
REFUND_WORDS = ("being refunded", "refunded to you", "A second payment of")


def _second_order(base_url: str, body: dict[str, Any], *, n: int = 2) -> tuple[str, str]:
    """Another order for the reservation `body`, for its deposit: as a second tab opens."""
    reservation = Reservation.objects.get(pk=body["id"])
    return other_order(
        base_url,
        reservation_id=body["id"],
        token=reservation.token,
        value=str(reservation.deposit_amount),
        request_id=f"another-tab-{n}",
    )


def _page(base_url: str, reservation: Reservation, language: str = "en") -> str:
    url = f"{base_url}{reservation.get_absolute_url()}"
    headers = {"Accept-Language": language}
    return page_text(httpx.get(url, headers=headers, follow_redirects=True, timeout=30))


def _nothing_failed() -> None:
    """Every PayPal event was processed: none is failing, to be retried until dead."""
    assert not WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).exists()


def test_a_second_order_approved_after_the_deposit_was_paid_is_not_captured(sandbox, live_server):
    """Tried: the buyer paid, then approved a second order from another tab; coming back
    they read only "confirmed", and CHECKOUT.ORDER.APPROVED captured the second order for a
    refund as a duplicate (or, with PayPal refusing a second payment of one invoice id,
    failed again and again)."""
    puppy = PuppyFactory(name="Biscuit")
    body = reserve(live_server.url, puppy.slug).json()
    second, second_url = _second_order(live_server.url, body)
    come_back(approve(body["checkout_url"], "approve"))
    paid = settled(sandbox, body["id"])
    assert paid.status == "confirmed"
    sandbox.switches.hold_webhooks = True  # the buyer is back before PayPal's webhook

    page = page_text(come_back(approve(second_url, "approve")))

    assert "Reserved for you!" in page
    assert ALREADY_PAID in page
    assert not any(words in page for words in REFUND_WORDS)
    sandbox.switches.hold_webhooks = False
    sandbox.release_webhooks()
    reservation = settled(sandbox, body["id"])
    run_worker_once()
    code, out = reconcile()
    assert code == 0, out
    assert not captures_of(sandbox, second)
    assert sandbox.paypal.state.get_order(second)["status"] == "APPROVED"  # it lapses there
    assert (reservation.status, reservation.status_reason) == ("confirmed", "")
    assert reservation.external_payment_id == paid.external_payment_id
    assert reservation.puppy.status == "reserved"
    no_refund_told(body["id"])
    _nothing_failed()
    again = _page(live_server.url, reservation)
    assert "Reserved for you!" in again
    assert "Biscuit is reserved for you" in again
    assert ALREADY_PAID in again
    assert ALREADY_PAID_FR in _page(live_server.url, reservation, "fr")


def test_an_order_that_is_not_the_reservations_checkout_is_not_captured_and_its_own_still_pays(
    sandbox, live_server
):
    """The buyer approves an order of the reservation that is not its checkout (an older
    tab's) and closes the tab: only PayPal's webhook comes. It used to be captured and
    refunded as a duplicate; the reservation's own checkout then still pays the deposit."""
    puppy = PuppyFactory(name="Biscuit")
    body = reserve(live_server.url, puppy.slug).json()
    other, other_url = _second_order(live_server.url, body)

    approve(other_url, "approve")
    reservation = settled(sandbox, body["id"])
    run_worker_once()

    assert not captures_of(sandbox, other)
    assert reservation.status == "pending"
    page = _page(live_server.url, reservation)
    assert OTHER_PAGE in page
    assert "Continue to payment" in page
    code, out = reconcile()
    assert code == 0, out

    page = page_text(come_back(approve(body["checkout_url"], "approve")))

    assert "Reserved for you!" in page
    reservation = settled(sandbox, body["id"])
    [capture] = captures_of(sandbox, body["provider_reference"])
    assert (reservation.status, reservation.external_payment_id) == ("confirmed", capture["id"])
    assert not captures_of(sandbox, other)
    assert ALREADY_PAID in _page(live_server.url, reservation)
    no_refund_told(body["id"])
    _nothing_failed()


def test_coming_back_from_an_order_that_is_not_the_checkout_tells_the_buyer_and_keeps_the_hold(
    sandbox, live_server
):
    """Back from PayPal with that other order (before its webhook): the buyer is not sent to
    PayPal's page for the reservation's own order, but to their page, which says the payment
    was not taken and still offers to continue."""
    body = reserve(live_server.url, PuppyFactory().slug).json()
    other, other_url = _second_order(live_server.url, body)
    sandbox.switches.hold_webhooks = True

    page = page_text(come_back(approve(other_url, "approve")))

    assert OTHER_PAGE in page
    assert "Continue to payment" in page
    assert not captures_of(sandbox, other)
    sandbox.switches.hold_webhooks = False
    sandbox.release_webhooks()
    assert settled(sandbox, body["id"]).status == "pending"
    assert not captures_of(sandbox, other)
    _nothing_failed()


def test_an_approved_order_naming_no_reservation_of_ours_is_not_captured(sandbox, live_server):
    """An order whose reservation is not ours (gone from the admin, or another shop's on the
    same PayPal app): it used to be captured by CHECKOUT.ORDER.APPROVED, then refunded."""
    ghost, url = other_order(
        live_server.url,
        reservation_id=str(uuid.uuid4()),
        token="no-such-reservation",
        value="400.00",
        request_id="ghost-order",
    )

    approve(url, "approve")
    process_webhooks(sandbox)
    run_worker_once()

    assert not captures_of(sandbox, ghost)
    assert sandbox.paypal.state.get_order(ghost)["status"] == "APPROVED"
    assert not Refund.objects.exists()
    assert WebhookEvent.objects.filter(type="CHECKOUT.ORDER.APPROVED").exists()
    _nothing_failed()


def test_a_late_approval_after_the_same_buyer_paid_by_card_is_not_captured_nor_told_as_lost(
    sandbox, live_server
):
    """Their PayPal hold ran out; they reserved the puppy again and paid by card; then they
    approved the old PayPal order. Not captured — and not "taken by another family": it is
    theirs."""
    puppy = PuppyFactory(name="Biscuit")
    late = reserve(live_server.url, puppy.slug, n=1).json()
    hold_ran_out(late)
    by_card = stripe_helpers.reserve(live_server.url, puppy.slug, n=1).json()
    come_back(stripe_helpers.choose(by_card["checkout_url"], "pay"))
    assert settled(sandbox, by_card["id"]).status == "confirmed"

    page = page_text(come_back(approve(late["checkout_url"], "approve")))

    assert "Nothing was charged" in page
    assert "you have reserved Biscuit again since" in page
    assert "another family" not in page
    assert "see that reservation" in page
    reservation = settled(sandbox, late["id"])
    assert not captures_of(sandbox, late["provider_reference"])
    assert (reservation.status, reservation.status_reason) == ("expired", "approval_not_captured")
    assert Reservation.objects.get(pk=by_card["id"]).status == "confirmed"
    no_refund_told(late["id"])


def test_a_second_order_for_a_paid_list_deposit_is_not_captured(sandbox, live_server):
    litter = open_litter()
    entry, url = list_checkout(litter, 1, "paypal", live_server.url)
    come_back(approve(url, "approve"))
    reservation = settled(sandbox, str(entry.reservation_id))
    assert reservation.status == "confirmed"
    body = {"id": str(reservation.pk)}
    second, second_url = _second_order(live_server.url, body)

    page = page_text(come_back(approve(second_url, "approve")))

    assert "You are on the list" in page
    assert ALREADY_PAID in page
    settled(sandbox, str(reservation.pk))
    run_worker_once()
    entry.refresh_from_db()
    assert (entry.status, entry.position) == ("waiting", 1)
    assert not captures_of(sandbox, second)
    no_refund_told(str(reservation.pk))
    _nothing_failed()
