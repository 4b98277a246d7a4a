"""The live pick order: only the family whose turn is open may pick; a pick or a pass opens
the next turn at once; a turn that runs out passes by itself; a family whose wishes nothing
left matches is skipped."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from kennel.catalogue.models import Litter, Puppy
from kennel.core.errors import PUPPY_NOT_OFFERED_MESSAGE, PuppyNotAvailable
from kennel.core.models import AuditLog, SideEffect
from kennel.payments.owner import reservation_refund
from kennel.reservations import picking, services, waitlist
from kennel.reservations.admin.waitlist import TransferForm
from kennel.reservations.buyers import Buyer
from kennel.reservations.effects import Effect
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.services import reservation_hold
from tests.factories import PuppyFactory
from tests.reservations.waitlist_helpers import on_list, open_litter

pytestmark = pytest.mark.django_db

BUYER = Buyer(name="Shop Buyer", email="shop@example.com", phone="+33 6 12 34 56 78")


def _litter_with_families(
    families: int = 3, puppies: int = 3
) -> tuple[Litter, list[WaitlistEntry]]:
    litter = open_litter()
    for i in range(puppies):
        PuppyFactory(litter=litter, slug=f"pup-{i}", name=f"Pup {i}", is_published=False)
    return litter, [on_list(litter, n) for n in range(1, families + 1)]


def _turn(litter: Litter) -> PickTurn | None:
    return PickTurn.objects.filter(litter=litter, outcome="open").first()


def test_only_the_first_family_may_pick_when_picking_opens():
    litter, (first, second, third) = _litter_with_families()

    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert turn is not None
    assert turn.entry == first
    for other in (second, third):
        with pytest.raises(waitlist.WaitlistRefused) as refused:
            picking.waitlist_pick(token=other.token, puppy_slug="pup-0")
        assert refused.value.code == "NOT_YOUR_TURN"
    assert Puppy.objects.filter(litter=litter, status="available").count() == 3
    assert waitlist.entry_standing(token=second.token).ahead == 1


def test_a_pick_confirms_the_deposit_as_the_puppys_reservation_and_opens_the_next_turn():
    litter, (first, second, _) = _litter_with_families()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    deposit = first.reservation.deposit_amount

    reservation = picking.waitlist_pick(token=first.token, puppy_slug="pup-1")

    assert reservation.pk == first.reservation_id  # the same deposit, no second payment
    assert reservation.status == Reservation.Status.CONFIRMED
    assert reservation.puppy is not None
    assert reservation.puppy.slug == "pup-1"
    assert reservation.deposit_amount == deposit
    assert reservation.price - reservation.deposit_amount == reservation.puppy.price - deposit
    assert Puppy.objects.get(slug="pup-1").status == "reserved"
    first.refresh_from_db()
    assert first.status == "picked"
    turn = _turn(litter)
    assert turn is not None
    assert turn.entry == second
    assert [p.slug for p in waitlist.entry_standing(token=second.token).choices] == [
        "pup-0",
        "pup-2",
    ]
    sent = set(
        SideEffect.objects.filter(reservation_id=reservation.pk).values_list("kind", flat=True)
    )
    assert {Effect.BUYER_CONFIRMATION, Effect.OWNER_DEPOSIT} <= sent
    assert SideEffect.objects.filter(
        reservation_id=second.reservation_id, kind=Effect.WAITLIST_TURN
    ).exists()


def test_picking_a_puppy_not_offered_changes_nothing():
    litter, (first, _, _) = _litter_with_families()
    kept = PuppyFactory(litter=litter, slug="kept", kept=True)
    other_litter = PuppyFactory(slug="elsewhere")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    for slug in (kept.slug, other_litter.slug, "no-such-puppy"):
        with pytest.raises(PuppyNotAvailable) as refused:
            picking.waitlist_pick(token=first.token, puppy_slug=slug)
        # Tried: a family picking outside its wish was told the puppy "has just been reserved
        # by someone else". The code stays the contract's; the words say what happened.
        assert refused.value.code == "PUPPY_NOT_AVAILABLE"
        assert refused.value.message == PUPPY_NOT_OFFERED_MESSAGE

    first.refresh_from_db()
    assert first.status == "choosing"
    assert first.reservation.puppy_id is None
    assert _turn(litter).entry == first


def test_a_pass_opens_the_next_turn_and_keeps_the_deposit():
    litter, (first, second, _) = _litter_with_families()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    picking.waitlist_pass(token=first.token)

    first.refresh_from_db()
    assert first.status == "passed"
    assert first.reservation.status == "confirmed"  # the deposit stays, per its terms
    assert _turn(litter).entry == second
    with pytest.raises(waitlist.WaitlistRefused):
        picking.waitlist_pass(token=first.token)  # passing twice: not their turn any more


def test_refunding_the_choosing_familys_deposit_ends_its_turn_and_opens_the_next():
    """Tried: the breeder refunded the deposit of the family choosing; its turn stayed open
    for the whole window, its page still said "your turn", and every family after it waited."""
    litter, (first, second, _) = _litter_with_families()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    refund = reservation_refund(reservation_id=first.reservation_id, actor="staff:breeder")

    assert refund is not None
    first.refresh_from_db()
    assert (first.status, first.reservation.status) == ("withdrawn", "refunded")
    assert PickTurn.objects.get(entry=first).outcome == "skipped"
    assert _turn(litter).entry == second
    second.refresh_from_db()
    assert second.status == "choosing"
    assert waitlist.entry_standing(token=first.token).turn is None


def test_a_shop_hold_past_its_time_never_gets_a_family_skipped_or_blocks_its_pick():
    """Invariant 7 in the pick order (found reading the code): an unpaid shop hold past its
    time, not yet swept, hid its puppy — the family whose wishes only it matched was skipped
    for good, and a pick of it was refused."""
    litter, (first,) = _litter_with_families(families=1, puppies=1)
    Puppy.objects.filter(litter=litter).update(is_published=True)
    shop = reservation_hold(puppy_slug="pup-0", buyer=BUYER, provider="stripe")
    Reservation.objects.filter(pk=shop.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert turn is not None
    assert turn.entry == first
    assert Reservation.objects.get(pk=shop.pk).status == "expired"
    reservation = picking.waitlist_pick(token=first.token, puppy_slug="pup-0")
    assert reservation.status == "confirmed"
    assert Puppy.objects.get(slug="pup-0").status == "reserved"


def test_a_turn_that_runs_out_passes_by_itself_at_the_sweep():
    litter, (first, second, _) = _litter_with_families()
    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    assert turn is not None
    window = turn.ends_at - turn.created_at
    assert abs(window - timedelta(minutes=litter.pick_window)) < timedelta(seconds=5)

    assert picking.turns_time_out(now=turn.ends_at - timedelta(seconds=1)) == 0
    assert picking.turns_time_out(now=turn.ends_at + timedelta(seconds=1)) == 1

    turn.refresh_from_db()
    assert turn.outcome == "timed_out"
    first.refresh_from_db()
    assert first.status == "passed"
    assert _turn(litter).entry == second


def test_a_late_pick_after_the_turn_ran_out_is_refused_and_passes_it():
    litter, (first, second, _) = _litter_with_families()
    litter.pick_window_minutes = 1
    litter.save()
    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    assert turn is not None
    PickTurn.objects.filter(pk=turn.pk).update(ends_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(waitlist.WaitlistRefused) as refused:
        picking.waitlist_pick(token=first.token, puppy_slug="pup-0")

    assert refused.value.code == "NOT_YOUR_TURN"
    turn.refresh_from_db()
    assert turn.outcome == "timed_out"
    assert Puppy.objects.get(slug="pup-0").status == "available"
    assert _turn(litter).entry == second
    assert picking.turns_time_out() == 0  # ended once: the sweep finds nothing left


def test_a_family_whose_wishes_nothing_left_matches_is_skipped():
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", sex="female", is_published=False)
    PuppyFactory(litter=litter, slug="boy", sex="male", is_published=False)
    first = on_list(litter, 1, sex="male")
    second = on_list(litter, 2, sex="male")
    third = on_list(litter, 3, sex="female")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    picking.waitlist_pick(token=first.token, puppy_slug="boy")

    second.refresh_from_db()
    assert second.status == "passed"  # no male left: skipped, keeping its deposit
    assert second.reservation.status == "confirmed"
    assert PickTurn.objects.get(entry=second).outcome == "skipped"
    assert _turn(litter).entry == third
    picking.waitlist_pick(token=third.token, puppy_slug="girl")
    litter.refresh_from_db()
    assert litter.picking == Litter.Picking.CLOSED  # nobody and nothing left
    assert _turn(litter) is None


def test_the_breeder_skips_and_closes_with_an_audit_line_each():
    litter, (_first, second, third) = _litter_with_families()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert picking.waitlist_skip(litter_id=litter.pk, actor="admin:breeder")
    assert _turn(litter).entry == second
    assert picking.picking_close(litter_id=litter.pk, actor="admin:breeder")

    second.refresh_from_db()
    assert second.status == "waiting"  # back on the list, nobody choosing
    assert _turn(litter) is None
    litter.refresh_from_db()
    assert litter.picking == Litter.Picking.CLOSED
    with pytest.raises(waitlist.WaitlistRefused):
        picking.waitlist_pick(token=second.token, puppy_slug="pup-0")
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"catalogue.litter.picking_opened", "catalogue.litter.picking_closed"} <= actions
    assert AuditLog.objects.filter(
        action="reservations.waitlist.passed", actor="admin:breeder"
    ).exists()
    third.refresh_from_db()
    assert third.status == "waiting"
    assert not PickTurn.objects.filter(entry=third).exists()


def test_the_breeder_moves_a_family_and_the_others_shift():
    litter, (first, second, third) = _litter_with_families()

    assert waitlist.waitlist_move(entry_id=third.pk, position=1, actor="admin:breeder")

    positions = {
        e.reservation.buyer_name: e.position
        for e in WaitlistEntry.objects.filter(litter=litter).select_related("reservation")
    }
    assert positions == {"Family 3": 1, "Family 1": 2, "Family 2": 3}
    told = SideEffect.objects.filter(kind=Effect.WAITLIST_MOVED)
    assert set(told.values_list("reservation_id", flat=True)) == {
        first.reservation_id,
        second.reservation_id,
        third.reservation_id,
    }
    assert not waitlist.waitlist_move(entry_id=third.pk, position=1, actor="admin:breeder")


def test_a_family_that_passed_is_carried_over_to_a_later_litter_with_its_deposit():
    litter, (first, _, _) = _litter_with_families()
    later = open_litter()
    already = on_list(later, 9)
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    picking.waitlist_pass(token=first.token)

    assert waitlist.waitlist_transfer(entry_id=first.pk, litter_id=later.pk, actor="admin:b")

    first.refresh_from_db()
    assert first.litter_id == later.pk
    assert (first.position, first.status) == (2, "waiting")
    assert already.position == 1
    assert first.reservation.status == "confirmed"
    assert waitlist.entry_standing(token=first.token).ahead == 1
    assert SideEffect.objects.filter(
        reservation_id=first.reservation_id, kind=Effect.WAITLIST_MOVED
    ).exists()
    assert not waitlist.waitlist_transfer(entry_id=first.pk, litter_id=later.pk, actor="admin:b")


def test_a_family_is_never_carried_over_to_a_litter_whose_picking_closed_for_good():
    """Tried: the breeder moved a family to a litter whose picking had closed; it was told its
    new place and then waited for a turn that could never come."""
    litter, (first, _, _) = _litter_with_families()
    closed = open_litter(picking=Litter.Picking.CLOSED)
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    picking.waitlist_pass(token=first.token)

    assert not waitlist.waitlist_transfer(entry_id=first.pk, litter_id=closed.pk, actor="admin:b")

    first.refresh_from_db()
    assert (first.litter_id, first.status) == (litter.pk, "passed")
    assert closed not in TransferForm().fields["litter"].queryset


def test_a_family_is_never_carried_over_to_a_litter_priced_in_another_currency():
    """Its EUR deposit would be offered none of a GBP litter's puppies (each is priced in the
    deposit's currency): it would wait, then be skipped, with nothing ever to choose."""
    litter, (first, _, _) = _litter_with_families()
    pounds = open_litter(currency="GBP")
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    picking.waitlist_pass(token=first.token)

    assert not waitlist.waitlist_transfer(entry_id=first.pk, litter_id=pounds.pk, actor="admin:b")

    first.refresh_from_db()
    assert (first.litter_id, first.status) == (litter.pk, "passed")


# --- a shop buyer paying for the one puppy a family's wishes match ---


def _girl_held_by_a_shop_buyer() -> tuple[Litter, WaitlistEntry, WaitlistEntry, Reservation]:
    """A litter of a girl and a boy; family 1 wants a girl, family 2 anything; a shop buyer
    holds the girl (pending payment, within its time)."""
    litter = open_litter()
    PuppyFactory(litter=litter, slug="girl", name="Girl", sex="female")
    PuppyFactory(litter=litter, slug="boy", name="Boy", sex="male")
    first = on_list(litter, 1, sex="female")
    second = on_list(litter, 2)
    shop = reservation_hold(puppy_slug="girl", buyer=BUYER, provider="stripe")
    return litter, first, second, shop


def test_a_family_whose_only_match_a_shop_buyer_is_paying_for_gets_its_turn():
    """Tried: the family's turn came while a shop buyer was paying for the only girl; it was
    skipped for good ("nothing left matches") — and the girl was free again when the buyer
    never paid."""
    litter, first, _second, shop = _girl_held_by_a_shop_buyer()

    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert turn is not None
    assert turn.entry == first
    first.refresh_from_db()
    assert first.status == "choosing"
    assert not SideEffect.objects.filter(
        reservation_id=first.reservation_id, kind=Effect.WAITLIST_PASSED
    ).exists()
    standing = waitlist.entry_standing(token=first.token)
    assert standing.choices == []
    assert [(h.puppy.slug, h.until) for h in standing.held] == [("girl", shop.expires_at)]
    # Its turn's clock starts when the girl could be free: the hold's end, then its window.
    assert turn.ends_at == shop.expires_at + timedelta(minutes=litter.pick_window)


def test_choosing_the_puppy_a_shop_buyer_is_paying_for_is_refused_saying_so():
    litter, first, _second, shop = _girl_held_by_a_shop_buyer()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    with pytest.raises(PuppyNotAvailable) as refused:
        picking.waitlist_pick(token=first.token, puppy_slug="girl")

    assert refused.value.code == "PUPPY_NOT_AVAILABLE"
    assert refused.value.message == picking.PUPPY_HELD_MESSAGE
    assert refused.value.extra == {"held_until": shop.expires_at.isoformat()}
    assert Reservation.objects.get(pk=shop.pk).status == "pending"
    first.refresh_from_db()
    assert first.status == "choosing"


def test_when_the_shop_buyers_hold_runs_out_the_family_chooses_that_puppy():
    litter, first, second, shop = _girl_held_by_a_shop_buyer()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    Reservation.objects.filter(pk=shop.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert picking.turns_nothing_left() == 0  # a hold run out is no reason to skip them
    standing = waitlist.entry_standing(token=first.token)
    assert [p.slug for p in standing.choices] == ["girl"]  # free, even before the sweep
    assert standing.held == []
    reservation = picking.waitlist_pick(token=first.token, puppy_slug="girl")

    assert Reservation.objects.get(pk=shop.pk).status == "expired"
    assert (reservation.status, reservation.puppy.slug) == ("confirmed", "girl")
    assert _turn(litter).entry == second


def test_when_the_shop_buyer_cancels_the_family_may_choose_that_puppy_at_once():
    litter, first, _second, shop = _girl_held_by_a_shop_buyer()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    services.reservation_release(
        reservation_id=shop.pk, status="cancelled", actor="buyer", reason="buyer_cancelled"
    )

    assert [p.slug for p in waitlist.entry_standing(token=first.token).choices] == ["girl"]
    assert picking.waitlist_pick(token=first.token, puppy_slug="girl").status == "confirmed"


def test_when_the_shop_buyer_pays_the_family_is_skipped_at_the_sweep_and_told_why():
    litter, first, second, shop = _girl_held_by_a_shop_buyer()
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    assert picking.turns_nothing_left() == 0  # still held: the family waits

    with transaction.atomic():
        paying = services.lock_for_payment(reservation_id=shop.pk)
        assert services.reservation_confirm(paying, payment_id="pi_shop", actor="test")
    assert picking.turns_nothing_left() == 1
    assert picking.turns_nothing_left() == 0

    first.refresh_from_db()
    assert first.status == "passed"
    assert first.reservation.status == "confirmed"  # its deposit kept, per its terms
    assert PickTurn.objects.get(entry=first).outcome == "skipped"
    told = SideEffect.objects.get(reservation_id=first.reservation_id, kind=Effect.WAITLIST_PASSED)
    assert told.data == {"why": "nothing_matched"}
    assert _turn(litter).entry == second
    assert [p.slug for p in waitlist.entry_standing(token=second.token).choices] == ["boy"]


def test_a_family_with_a_free_match_besides_a_held_one_keeps_the_usual_clock():
    litter, first, _second, _shop = _girl_held_by_a_shop_buyer()
    PuppyFactory(litter=litter, slug="girl-2", name="Girl 2", sex="female")

    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert turn is not None
    assert turn.entry == first
    window = turn.ends_at - turn.created_at
    assert abs(window - timedelta(minutes=litter.pick_window)) < timedelta(seconds=5)
    standing = waitlist.entry_standing(token=first.token)
    assert [p.slug for p in standing.choices] == ["girl-2"]
    assert [h.puppy.slug for h in standing.held] == ["girl"]


def test_a_shop_buyer_whose_payment_is_under_way_does_not_keep_a_family_waiting():
    """A payment under way (processing: a bank transfer may take days) is not a hold that
    runs out: the family is skipped as before, rather than every family after it waiting."""
    litter, first, second, shop = _girl_held_by_a_shop_buyer()
    with transaction.atomic():
        paying = services.lock_for_payment(reservation_id=shop.pk)
        services.reservation_mark_processing(paying, actor="test")

    turn = picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert turn is not None
    assert turn.entry == second
    assert PickTurn.objects.get(entry=first).outcome == "skipped"


def test_a_family_is_offered_only_puppies_priced_in_its_deposits_currency():
    """Tried: a litter's list deposits in EUR, one of its puppies priced in JPY by the breeder.
    The family picked it, and its page, its email and the back office said "Total price
    450,000.00 EUR, balance due at pickup 449,440.00 EUR": the JPY price less the EUR deposit."""
    litter = open_litter()
    PuppyFactory(litter=litter, slug="pup-eur", name="Pup EUR", is_published=False)
    PuppyFactory(
        litter=litter,
        slug="pup-jpy",
        name="Pup JPY",
        is_published=False,
        price=Decimal("450000"),
        currency="JPY",
    )
    first = on_list(litter, 1)
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    assert [p.slug for p in waitlist.entry_standing(token=first.token).choices] == ["pup-eur"]
    with pytest.raises(PuppyNotAvailable) as refused:
        picking.waitlist_pick(token=first.token, puppy_slug="pup-jpy")

    assert refused.value.message == PUPPY_NOT_OFFERED_MESSAGE
    assert Puppy.objects.get(slug="pup-jpy").status == "available"
    deposit = Reservation.objects.get(pk=first.reservation_id)
    assert (deposit.puppy_id, deposit.currency) == (None, "EUR")


def test_a_family_is_never_carried_over_to_a_litter_whose_list_is_full():
    """Tried: the breeder carried a family over to a litter whose list was capped at one
    family and had it: the list held two, past the cap the join form and API keep."""
    litter, (first, _, _) = _litter_with_families()
    full = open_litter(waitlist_cap=1)
    on_list(full, 9)
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")
    picking.waitlist_pass(token=first.token)

    assert not waitlist.waitlist_transfer(entry_id=first.pk, litter_id=full.pk, actor="admin:b")

    first.refresh_from_db()
    assert (first.litter_id, first.status) == (litter.pk, "passed")
    assert WaitlistEntry.objects.filter(litter=full).count() == 1
