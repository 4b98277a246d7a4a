"""Picking under real concurrency (threads, each with its own connection): never two open
turns, never a puppy promised twice, every deposit one reservation or still waiting, and a
turn that runs out while its family clicks ends exactly one way. Runs on PostgreSQL and on
SQLite (`-m race`)."""

import random
from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.errors import ApplicationError
from kennel.reservations import picking, services
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.services import FAMILY_CHOOSING_MESSAGE, reservation_hold
from tests.factories import PuppyFactory
from tests.reservations.waitlist_helpers import on_list, open_litter

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]

SHOP_BUYER = Buyer(name="Shop Buyer", email="shop@example.com", phone="+33 6 12 34 56 78")


def _assert_books(litter_id: int) -> None:
    """The invariants of a litter's picking, read back from the database."""
    open_turns = PickTurn.objects.filter(litter_id=litter_id, outcome="open").count()
    assert open_turns <= 1
    promised = (
        Reservation.objects.filter(puppy__litter_id=litter_id, status="confirmed")
        .values("puppy_id")
        .annotate(n=Count("pk"))
    )
    assert all(row["n"] == 1 for row in promised), "a puppy promised twice"
    for entry in WaitlistEntry.objects.filter(litter_id=litter_id).select_related("reservation"):
        reservation = entry.reservation
        if entry.status == "picked":
            assert reservation.puppy is not None
            assert reservation.puppy.status == "reserved"
        else:
            assert reservation.puppy_id is None  # still waiting (or passed, or left): no puppy
        # A family that left has its deposit back (refundable terms) or the breeder keeps it.
        left = entry.status == "withdrawn"
        assert reservation.status in (("refunded", "confirmed") if left else ("confirmed",))
    reserved = set(
        Reservation.objects.filter(puppy__litter_id=litter_id).values_list("puppy__slug", flat=True)
    )
    assert reserved == set(
        Puppy.objects.filter(litter_id=litter_id, status="reserved").values_list("slug", flat=True)
    )


def test_twenty_threads_of_two_families_hammering_pick_and_pass_while_the_sweep_runs(threads):
    litter = open_litter(pick_window_minutes=1)
    for i in range(4):
        PuppyFactory(litter=litter, slug=f"pup-{i}", is_published=False)
    families = [on_list(litter, n) for n in (1, 2)]
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    def hammer(i: int) -> list[str]:
        outcomes: list[str] = []
        rng = random.Random(i)
        for _ in range(6):
            family = families[i % 2]
            try:
                if i % 5 == 4:
                    # The sweep, with a clock that has run past every turn now and then.
                    later = timezone.now() + timedelta(minutes=rng.choice([0, 2]))
                    picking.turns_time_out(now=later)
                    outcomes.append("swept")
                elif rng.random() < 0.7:
                    picking.waitlist_pick(token=family.token, puppy_slug=f"pup-{rng.randrange(4)}")
                    outcomes.append("picked")
                else:
                    picking.waitlist_pass(token=family.token)
                    outcomes.append("passed")
            except ApplicationError as exc:
                outcomes.append(exc.code)
        return outcomes

    results = threads(20, hammer)

    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    codes = {code for r in results for code in r}
    assert codes <= {
        "picked",
        "passed",
        "swept",
        "NOT_YOUR_TURN",
        "PUPPY_NOT_AVAILABLE",
        "LOCK_TIMEOUT",
    }
    assert "picked" in codes or "passed" in codes
    _assert_books(litter.pk)
    # Each family ended at most one way, and at most one picked puppy each.
    for family in families:
        family.refresh_from_db()
        assert family.status in ("choosing", "picked", "passed")
        assert Reservation.objects.filter(pk=family.reservation_id).count() == 1


def test_a_turn_running_out_while_its_family_clicks_pick_ends_one_way(threads):
    for _ in range(5):
        litter = open_litter()
        PuppyFactory(litter=litter, is_published=False)
        first = on_list(litter, 1)
        on_list(litter, 2)
        turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
        assert turn is not None
        ends_at = timezone.now() + timedelta(milliseconds=30)
        PickTurn.objects.filter(pk=turn.pk).update(ends_at=ends_at)

        slug = litter.puppies.get().slug

        def race(i: int, token: str = first.token, slug: str = slug, ends=ends_at) -> str:
            try:
                if i == 0:
                    return f"swept {picking.turns_time_out(now=ends + timedelta(seconds=1))}"
                picking.waitlist_pick(token=token, puppy_slug=slug)
                return "picked"
            except ApplicationError as exc:
                return exc.code

        sweep, pick = threads(2, race)

        turn.refresh_from_db()
        first.refresh_from_db()
        # Exactly one outcome: the pick won (the sweep found the turn ended) or the turn
        # timed out (the pick is refused); never both, never neither.
        if pick == "picked":
            assert turn.outcome == "picked"
            assert first.status == "picked"
            assert sweep == "swept 0"
        else:
            assert pick == "NOT_YOUR_TURN"
            assert turn.outcome == "timed_out"
            assert first.status == "passed"
            assert first.reservation.puppy_id is None
        _assert_books(litter.pk)


def test_ten_threads_opening_picking_at_once_open_one_turn(threads):
    litter = open_litter()
    PuppyFactory(litter=litter, is_published=False)
    on_list(litter, 1)
    on_list(litter, 2)

    def open_it(i: int) -> str:
        try:
            picking.picking_open(litter_id=litter.pk, actor=f"admin:{i}")
            return "opened"
        except ApplicationError as exc:
            return exc.code

    results = threads(10, open_it)

    assert results.count("opened") == 1
    assert set(results) <= {"opened", "PICKING_REFUSED", "LOCK_TIMEOUT"}
    assert PickTurn.objects.filter(litter=litter).count() == 1


def test_a_family_leaving_while_the_turn_before_it_ends_is_never_handed_a_turn(threads):
    from kennel.payments.owner import waitlist_withdraw

    for _ in range(5):
        litter = open_litter()
        PuppyFactory(litter=litter, is_published=False)
        first, second, third = (on_list(litter, n) for n in (1, 2, 3))
        picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

        def race(i: int, first=first, second=second) -> str:
            try:
                if i == 0:
                    picking.waitlist_pass(token=first.token)
                    return "passed"
                waitlist_withdraw(token=second.token)
                return "withdrawn"
            except ApplicationError as exc:
                return exc.code

        passed, left = threads(2, race)

        assert passed == "passed"
        second.refresh_from_db()
        turn = PickTurn.objects.get(litter=litter, outcome="open")
        if left == "withdrawn":  # it left first: the turn skips it
            assert second.status == "withdrawn"
            assert turn.entry_id == third.pk
        else:  # its turn opened first: a family choosing passes before it leaves
            assert left == "NOT_WITHDRAWABLE"
            assert second.status == "choosing"
            assert turn.entry_id == second.pk
        _assert_books(litter.pk)


def test_a_shop_hold_running_out_while_the_family_picks_its_buyer_pays_and_the_sweep_runs(
    threads,
):
    """A family waits for the girl a shop buyer holds; the hold's time runs out just as the
    family chooses her, the buyer's payment lands and the sweep looks for turns with nothing
    left: the girl is promised once — to the family, or to the buyer (the family then
    skipped, once) — and nothing deadlocks."""
    for _ in range(5):
        litter = open_litter()
        PuppyFactory(litter=litter, slug=f"girl-{litter.pk}", sex="female")
        PuppyFactory(litter=litter, sex="male", is_published=False)
        first = on_list(litter, 1, sex="female")
        on_list(litter, 2)
        slug = f"girl-{litter.pk}"
        shop = reservation_hold(puppy_slug=slug, buyer=SHOP_BUYER, provider="stripe")
        picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
        Reservation.objects.filter(pk=shop.pk).update(
            expires_at=timezone.now() - timedelta(milliseconds=1)
        )

        def race(i: int, token: str = first.token, slug: str = slug, shop_id=shop.pk) -> str:
            try:
                if i == 0:
                    picking.waitlist_pick(token=token, puppy_slug=slug)
                    return "picked"
                if i == 1:
                    with transaction.atomic():
                        paying = services.lock_for_payment(reservation_id=shop_id)
                        if paying.status == "pending":
                            paid = services.reservation_confirm(
                                paying, payment_id=f"pi_{shop_id}", actor="t"
                            )
                        else:
                            paid = services.reservation_confirm_late(
                                paying, payment_id=f"pi_{shop_id}", actor="t"
                            )
                    return "paid" if paid else "refused"
                return f"swept {picking.turns_nothing_left()}"
            except ApplicationError as exc:
                return exc.code

        picked, paid, _swept = threads(3, race)
        picking.turns_nothing_left()  # the next sweep, whatever came first

        first.refresh_from_db()
        promised = Reservation.objects.filter(puppy__slug=slug, status="confirmed")
        assert promised.count() == 1
        if picked == "picked":
            assert paid == "refused"  # paid too late: refunded by fulfilment
            assert first.status == "picked"
        else:
            assert (picked, paid) == ("PUPPY_NOT_AVAILABLE", "paid")
            assert first.status == "passed"
            assert PickTurn.objects.get(entry=first).outcome == "skipped"
        _assert_books(litter.pk)


def test_a_shop_hold_and_a_turn_opening_at_once_never_both_win(threads):
    """A family wants the only girl; the breeder opens picking while shop buyers press
    Reserve on her. Either a hold came first — the turn opens seeing it (the family waits for
    it: its time counts from the hold's end) — or the turn did, and every shop buyer is told a
    family is choosing. Never a hold taken during the family's turn."""
    for _ in range(6):
        litter = open_litter(pick_window_minutes=1)
        slug = f"girl-{litter.pk}"
        PuppyFactory(litter=litter, slug=slug, sex="female")
        first = on_list(litter, 1, sex="female")

        def race(i: int, litter_id: int = litter.pk, slug: str = slug) -> str:
            try:
                if i == 0:
                    picking.picking_open(litter_id=litter_id, actor="admin:breeder")
                    return "opened"
                buyer = Buyer(name=f"Buyer {i}", email=f"b{i}@example.com", phone="+33 600000000")
                reservation_hold(puppy_slug=slug, buyer=buyer, provider="stripe")
                return "held"
            except ApplicationError as exc:
                return f"{exc.code}: {exc.message}"

        opened, *holds = threads(4, race)

        assert opened == "opened"
        turn = PickTurn.objects.get(entry=first, outcome="open")
        held = Reservation.objects.filter(puppy__slug=slug, status="pending").first()
        if held is not None:  # the hold came first: the turn saw it
            assert holds.count("held") == 1
            assert turn.ends_at == held.expires_at + timedelta(minutes=1)
        else:  # the turn came first: every buyer was told a family is choosing (also one
            # who read the puppy free just before the turn opened and lost at the UPDATE)
            assert set(holds) == {f"PUPPY_NOT_AVAILABLE: {FAMILY_CHOOSING_MESSAGE}"}
            assert Puppy.objects.get(slug=slug).status == "available"
            _assert_books(litter.pk)


def test_a_late_payment_and_a_turn_opening_at_once_never_both_win(threads):
    """A shop buyer's hold on the only girl ran out; the breeder opens picking (a family wants
    a girl) as the buyer's payment lands. Either the payment came first — the girl is the
    buyer's and the family, with nothing left, is skipped — or the turn did, and the payment
    is refused (refunded) and the girl offered to the family. Never both."""
    for _ in range(6):
        litter = open_litter()
        slug = f"girl-{litter.pk}"
        PuppyFactory(litter=litter, slug=slug, sex="female")
        first = on_list(litter, 1, sex="female")
        shop = reservation_hold(puppy_slug=slug, buyer=SHOP_BUYER, provider="stripe")
        Reservation.objects.filter(pk=shop.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        services.reservations_expire_due()

        def race(i: int, litter_id: int = litter.pk, shop_id=shop.pk) -> str:
            try:
                if i == 0:
                    picking.picking_open(litter_id=litter_id, actor="admin:breeder")
                    return "opened"
                with transaction.atomic():
                    paying = services.lock_for_payment(reservation_id=shop_id)
                    late = services.reservation_confirm_late(
                        paying, payment_id=f"pi_{shop_id}", actor="t"
                    )
                return "paid" if late else "refused"
            except ApplicationError as exc:
                return exc.code

        opened, paid = threads(2, race)

        assert opened == "opened"
        first.refresh_from_db()
        if paid == "paid":  # the payment came first: the turn saw the girl taken
            assert Puppy.objects.get(slug=slug).status == "reserved"
            assert first.status == "passed"
            assert PickTurn.objects.get(entry=first).outcome == "skipped"
        else:  # the turn came first: the girl is the family's
            assert paid == "refused"
            assert first.status == "choosing"
            assert Puppy.objects.get(slug=slug).status == "available"
