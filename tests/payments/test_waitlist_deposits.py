"""A waiting list's deposits through the real SDKs and the sandbox: families paying at once
with both providers get places 1…N in the order their deposits were confirmed; a failed
payment gets none; leaving the list refunds what the terms say, through the provider, once."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kennel.catalogue.models import Litter
from kennel.core.models import AuditLog
from kennel.payments.models import Refund
from kennel.payments.owner import waitlist_withdraw
from kennel.payments.stripe import client as stripe_client
from kennel.reservations import picking, waitlist
from kennel.reservations.models import WaitlistEntry
from kennel.reservations.services import reservations_expire_due
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments import paypal_helpers, stripe_helpers
from tests.payments.flow import process_webhooks, refund_at_dashboard, sandbox_refunds
from tests.reservations.waitlist_helpers import list_checkout, open_litter

pytestmark = pytest.mark.django_db(transaction=True)


def _pay(provider: str, checkout_url: str, outcome: str = "") -> None:
    """The family pays on the provider's page and its browser comes back to the shop."""
    if provider == "stripe":
        back = stripe_helpers.choose(checkout_url, outcome or "pay")
    else:
        back = paypal_helpers.approve(checkout_url, outcome or "approve")
    paypal_helpers.come_back(back)


def test_ten_families_joining_and_paying_at_once_get_places_one_to_ten_in_confirmation_order(
    sandbox, live_server, threads, settings
):
    # Eleven families in one process at once: a provider slot each (no PROVIDER_BUSY).
    settings.PROVIDER_CONCURRENCY = 11
    litter = open_litter()
    sandbox.switches.deliver_twice = True
    sandbox.switches.out_of_order = True
    providers = ["stripe" if n % 2 else "paypal" for n in range(11)]
    joined = threads(11, lambda n: list_checkout(litter, n, providers[n], live_server.url))
    assert not [j for j in joined if isinstance(j, BaseException)], joined
    # Family 10's card fails (an asynchronous payment that is declined a moment later).
    outcomes = [""] * 10 + ["async_fail" if providers[10] == "stripe" else "approve_declined"]

    results = threads(11, lambda i: _pay(providers[i], joined[i][1], outcomes[i]))
    assert not [r for r in results if isinstance(r, BaseException)], results
    process_webhooks(sandbox)

    entries = [WaitlistEntry.objects.select_related("reservation").get(pk=e.pk) for e, _ in joined]
    paid, failed = entries[:10], entries[10]
    assert sorted(e.position for e in paid) == list(range(1, 11))  # no gap, no two alike
    assert all(e.status == "waiting" for e in paid)
    assert all(e.reservation.status == "confirmed" for e in paid)
    assert failed.position is None
    assert failed.status == "unpaid"
    assert failed.reservation.status == "released"
    # In the order the deposits were confirmed: each place was given as its deposit was.
    placed = AuditLog.objects.filter(action="reservations.waitlist.placed").order_by("pk")
    assert [row.data["position"] for row in placed] == list(range(1, 11))
    by_confirmation = sorted(paid, key=lambda e: e.reservation.confirmed_at)
    assert [e.position for e in by_confirmation] == list(range(1, 11))
    # Duplicated and reordered deliveries changed nothing more: one place per family.
    assert AuditLog.objects.filter(action="reservations.reservation.confirmed").count() == 10
    assert {e.reservation.deposit_amount for e in paid} == {Decimal("400.00")}
    standing = waitlist.entry_standing(token=by_confirmation[-1].token)
    assert standing.ahead == 9


def test_a_closed_list_takes_no_family_and_a_late_deposit_is_refunded(sandbox, live_server):
    litter = open_litter()
    entry, url = list_checkout(litter, 1, "stripe", live_server.url)
    Litter.objects.filter(pk=litter.pk).update(waitlist_open=False)

    with pytest.raises(waitlist.WaitlistRefused) as refused:
        list_checkout(litter, 2, "stripe", live_server.url)
    assert refused.value.code == "WAITLIST_CLOSED"
    assert WaitlistEntry.objects.count() == 1

    # Family 1's hold ran out (the sweep closed it) and the list closed before its money
    # arrived: the money goes back.
    assert reservations_expire_due(now=timezone.now() + timedelta(days=1)) == 1
    _pay("stripe", url)
    process_webhooks(sandbox)
    run_worker_once()

    entry.refresh_from_db()
    assert entry.position is None
    [refund] = Refund.objects.filter(reservation_id=entry.reservation_id)
    assert refund.amount == Decimal("400.00")
    assert refund.status == "succeeded"


def test_a_deposit_paid_in_time_after_picking_closed_for_good_is_refunded(sandbox, live_server):
    """Tried: a family paid within its hold after every turn was over and picking had closed;
    it was placed on the list, told "we will email you when it is your turn", and its
    (non-refundable) deposit kept, though no turn could ever come."""
    litter = open_litter()
    entry, url = list_checkout(litter, 1, "stripe", live_server.url)
    Litter.objects.filter(pk=litter.pk).update(waitlist_open=False, picking=Litter.Picking.CLOSED)

    _pay("stripe", url)
    process_webhooks(sandbox)
    run_worker_once()
    process_webhooks(sandbox)

    entry.refresh_from_db()
    reservation = entry.reservation
    assert (entry.status, entry.position) == ("unpaid", None)
    assert (reservation.status, reservation.status_reason) == ("released", "late_payment_refunded")
    [refund] = Refund.objects.filter(reservation_id=entry.reservation_id)
    assert (refund.amount, refund.reason, refund.status) == (
        Decimal("400.00"),
        "late_payment",
        "succeeded",
    )
    [at_provider] = stripe_client.list_refunds(refund.external_payment_id)
    assert at_provider["amount"] == 40000


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_withdrawing_before_the_cut_off_refunds_in_full_through_the_provider_once(
    sandbox, live_server, provider
):
    litter = open_litter(go_home_on=timezone.localdate() + timedelta(days=30), refund_days=14)
    entry, url = list_checkout(litter, 1, provider, live_server.url)
    _pay(provider, url)
    process_webhooks(sandbox)
    entry.refresh_from_db()
    assert entry.status == "waiting"

    refund = waitlist_withdraw(token=entry.token)
    with pytest.raises(waitlist.WaitlistRefused) as refused:
        waitlist_withdraw(token=entry.token)  # posted twice: nothing more
    assert refused.value.code == "NOT_WITHDRAWABLE"
    run_worker_once()
    process_webhooks(sandbox)

    assert refund is not None
    refund.refresh_from_db()
    assert refund.amount == Decimal("400.00")
    assert refund.reason == Refund.Reason.WITHDRAWN
    assert refund.status == "succeeded"
    assert Refund.objects.filter(reservation_id=entry.reservation_id).count() == 1
    entry.refresh_from_db()
    assert entry.status == "withdrawn"
    assert entry.reservation.status == "refunded"
    assert sandbox_refunds(sandbox, entry.reservation) in ([40000], [Decimal("400.00")])


def test_withdrawing_after_the_cut_off_keeps_the_deposit(sandbox, live_server):
    litter = open_litter(go_home_on=timezone.localdate() + timedelta(days=3), refund_days=14)
    entry, url = list_checkout(litter, 1, "stripe", live_server.url)
    _pay("stripe", url)
    process_webhooks(sandbox)

    assert waitlist_withdraw(token=entry.token) is None
    run_worker_once()

    entry.refresh_from_db()
    assert entry.status == "withdrawn"
    assert entry.reservation.status == "confirmed"  # the breeder keeps it, per the terms
    assert not Refund.objects.exists()


def test_non_refundable_terms_keep_the_deposit_whenever_the_family_leaves(sandbox, live_server):
    litter = open_litter(deposit_terms=Litter.DepositTerms.NON_REFUNDABLE)
    entry, url = list_checkout(litter, 1, "paypal", live_server.url)
    _pay("paypal", url)
    process_webhooks(sandbox)

    assert waitlist_withdraw(token=entry.token) is None

    entry.refresh_from_db()
    assert entry.terms == "non_refundable"
    assert entry.status == "withdrawn"
    assert not Refund.objects.exists()


def test_a_full_refund_at_the_provider_of_the_choosing_familys_deposit_opens_the_next_turn(
    sandbox, live_server
):
    """Tried: refunded in the provider's dashboard while its family was choosing, the turn
    stayed open for its whole window and every family after it waited."""
    litter = open_litter()
    PuppyFactory(litter=litter, is_published=False)
    first, first_url = list_checkout(litter, 1, "stripe", live_server.url)
    second, second_url = list_checkout(litter, 2, "stripe", live_server.url)
    for url in (first_url, second_url):
        _pay("stripe", url)
    process_webhooks(sandbox)
    picking.picking_open(litter_id=litter.pk, actor="staff:breeder")
    first.refresh_from_db()
    assert first.status == "choosing"

    refund_at_dashboard(first.reservation, str(first.reservation.deposit_amount))
    process_webhooks(sandbox)
    run_worker_once()

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.reservation.status) == ("withdrawn", "refunded")
    assert second.status == "choosing"
