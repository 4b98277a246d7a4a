"""The live pick order: every change of a pick turn and of a litter's picking state.

At most one turn per litter is open (the partial unique index `one_open_turn_per_litter`). A
pick, a pass, the sweep's timeout and the breeder's skip and close all take the same locks in
one order — the entry's reservation, then the litter, then the puppy — and look at the turn
again under them, so a turn ends exactly one way. A pick turns the list deposit's reservation
into that puppy's confirmed reservation with the shop's own conditional UPDATE (`available` →
`reserved`) and its one-active-reservation index: a puppy is never promised twice, and a
deposit becomes at most one reservation. The list itself (joining, places, what a family
sees, leaving) is kennel/reservations/waitlist.py.
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext_noop

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import locked_transaction
from kennel.core.errors import PUPPY_NOT_OFFERED_MESSAGE, PuppyNotAvailable
from kennel.core.models import audit
from kennel.core.outbox import outbox_enqueue
from kennel.reservations.effects import CONFIRMED, Effect, TurnPassed
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.services import litter_holds_expire_overdue
from kennel.reservations.waitlist import (
    WaitlistRefused,
    entry_ids,
    entry_set,
    family_told,
    held_for,
    nothing_left_for,
    offered_to,
)

E = WaitlistEntry.Status
T = PickTurn.Outcome
S = Reservation.Status
P = Puppy.Status

# A family is reminded once when this share of its turn is left.
REMIND_AT_SHARE = Decimal("0.25")

NOT_YOUR_TURN_MESSAGE = gettext_noop("It is not your turn to choose a puppy.")
PICKING_REFUSED_MESSAGE = gettext_noop("Picking cannot be opened for this litter now.")
PUPPY_HELD_MESSAGE = gettext_noop(
    "A buyer in the shop is paying for this puppy right now, so it cannot be chosen yet. If "
    "they have not paid when their time runs out, you can choose it: your page shows until when."
)


def picking_open(*, litter_id: int, actor: str) -> PickTurn | None:
    """The breeder opens picking: the first family in position order whose wishes something
    matches gets the turn at once. Returns that turn (None when nobody could be offered a
    puppy: picking is then closed). Raises WaitlistRefused (PICKING_REFUSED) when picking was
    opened before."""
    now = timezone.now()
    with locked_transaction():
        litter = Litter.objects.select_for_update().get(pk=litter_id)
        if litter.picking != Litter.Picking.NOT_OPEN:
            raise WaitlistRefused("PICKING_REFUSED", PICKING_REFUSED_MESSAGE)
        litter.picking = Litter.Picking.OPEN
        litter.waitlist_open = False
        litter.save(update_fields=["picking", "waitlist_open", "updated_at"])
        audit("catalogue.litter.picking_opened", actor=actor, obj=litter)
        return _next_turn(litter, now=now, actor=actor)


def _next_turn(litter: Litter, *, now: datetime, actor: str) -> PickTurn | None:
    """Open the next family's turn (caller holds the litter's lock, no turn is open). A family
    whose wishes nothing left matches is skipped, keeping its deposit for a later litter per
    its terms; one whose only matches a shop buyer is paying for now gets its turn (they are
    offered to it if that hold runs out), its time counted from when the last of those holds
    ends. With no family or no puppy left, picking closes."""
    litter_holds_expire_overdue(litter_id=litter.pk, now=now)
    had_turn = PickTurn.objects.filter(litter=litter).values("entry_id")
    waiting = (
        WaitlistEntry.objects.filter(litter=litter, status=E.WAITING)
        .exclude(pk__in=had_turn)
        .order_by("position")
    )
    for entry in waiting:
        starts = now
        if not offered_to(entry, now=now).exists():
            held = held_for(entry, now=now)
            if not held:
                _turn_record(litter, entry, T.SKIPPED, now=now)
                _nothing_matched(entry, actor=actor, key=f"skipped:{litter.pk}")
                continue
            # Nothing to choose before those holds end: the family's time starts then.
            starts = max(h.until for h in held)
        turn = PickTurn.objects.create(
            litter=litter, entry=entry, ends_at=starts + timedelta(minutes=litter.pick_window)
        )
        entry_set(entry, E.CHOOSING, actor=actor, turn=turn.pk, ends_at=turn.ends_at.isoformat())
        family_told(entry, Effect.WAITLIST_TURN, key=f"turn:{turn.pk}")
        return turn
    litter.picking = Litter.Picking.CLOSED
    litter.save(update_fields=["picking", "updated_at"])
    audit("catalogue.litter.picking_closed", actor=actor, obj=litter, why="nobody left to choose")
    return None


def _nothing_matched(entry: WaitlistEntry, *, actor: str, key: str) -> None:
    entry_set(entry, E.PASSED, actor=actor, why="nothing left matches their wishes")
    family_told(entry, Effect.WAITLIST_PASSED, key=key, data={"why": TurnPassed.NOTHING_MATCHED})


def _turn_record(litter: Litter, entry: WaitlistEntry, outcome: str, *, now: datetime) -> None:
    PickTurn.objects.create(litter=litter, entry=entry, outcome=outcome, ends_at=now, closed_at=now)


def _turn_end(turn: PickTurn, outcome: str, *, now: datetime) -> None:
    turn.outcome = outcome
    turn.closed_at = now
    turn.save(update_fields=["outcome", "closed_at", "updated_at"])


def _entry_locked(token: str) -> tuple[WaitlistEntry, Litter]:
    """The entry at `token` with its reservation and litter locked, in the one order."""
    row = entry_ids(token)
    entry_id, reservation_id = row
    Reservation.objects.select_for_update().get(pk=reservation_id)
    entry = WaitlistEntry.objects.select_related("reservation").get(pk=entry_id)
    litter = Litter.objects.select_for_update().get(pk=entry.litter_id)
    return entry, litter


def _open_turn_of(entry: WaitlistEntry, now: datetime) -> PickTurn:
    """The entry's open turn, still in its time; else NOT_YOUR_TURN (a turn past its time
    ends here as the sweep would end it: passed automatically, the next family's opens)."""
    turn = PickTurn.objects.filter(entry=entry, outcome=T.OPEN).first()
    if turn is None:
        raise WaitlistRefused("NOT_YOUR_TURN", NOT_YOUR_TURN_MESSAGE)
    if turn.ends_at <= now:
        raise _TurnOver(turn)
    return turn


class _TurnOver(Exception):
    def __init__(self, turn: PickTurn) -> None:
        self.turn = turn


def waitlist_pick(*, token: str, puppy_slug: str, actor: str = "buyer") -> Reservation:
    """The family whose turn is open chooses a puppy: their deposit's reservation becomes
    that puppy's confirmed reservation (no second payment; the balance is due at pickup) and
    the next family's turn opens at once. Raises EntryNotFound, WaitlistRefused
    (NOT_YOUR_TURN: not their turn, or it ran out), PuppyNotAvailable (not offered to them,
    or taken)."""
    now = timezone.now()
    timed_out = False
    with locked_transaction():
        entry, litter = _entry_locked(token)
        try:
            turn = _open_turn_of(entry, now)
        except _TurnOver as over:
            _time_out(over.turn, entry, litter, now=now)
            timed_out = True
        else:
            return _pick(entry, litter, turn, puppy_slug=puppy_slug, now=now, actor=actor)
    if timed_out:
        raise WaitlistRefused("NOT_YOUR_TURN", NOT_YOUR_TURN_MESSAGE)
    raise AssertionError("unreachable")


def _pick(
    entry: WaitlistEntry,
    litter: Litter,
    turn: PickTurn,
    *,
    puppy_slug: str,
    now: datetime,
    actor: str,
) -> Reservation:
    litter_holds_expire_overdue(litter_id=litter.pk, now=now)
    offered = offered_to(entry, now=now).filter(slug=puppy_slug or "-")
    puppy_id = offered.values_list("pk", flat=True).first()
    if puppy_id is None:
        for held in held_for(entry, now=now):
            if held.puppy.slug == puppy_slug:  # a shop buyer is paying for it: not yet
                until = {"held_until": held.until.isoformat()}
                raise PuppyNotAvailable(PUPPY_HELD_MESSAGE, extra=until)
        # Not one of theirs to pick (their wish, kept, another litter).
        raise PuppyNotAvailable(PUPPY_NOT_OFFERED_MESSAGE)
    # The shop's own conditional UPDATE: whoever else wants this puppy (a buyer in the shop)
    # loses to whichever commits first; one-active-reservation-per-puppy stands behind it.
    if not Puppy.objects.filter(pk=puppy_id, status=P.AVAILABLE).update(
        status=P.RESERVED, updated_at=now
    ):
        raise PuppyNotAvailable()
    puppy = Puppy.objects.get(pk=puppy_id)
    reservation = entry.reservation
    if reservation.status != S.CONFIRMED or reservation.puppy_id is not None:
        raise WaitlistRefused("NOT_YOUR_TURN", NOT_YOUR_TURN_MESSAGE)
    reservation.puppy = puppy
    reservation.price_amount = puppy.price
    reservation.save(update_fields=["puppy", "price_amount", "updated_at"])
    _turn_end(turn, T.PICKED, now=now)
    entry_set(entry, E.PICKED, actor=actor, puppy=puppy.slug)
    audit(
        "reservations.reservation.picked",
        actor=actor,
        obj=reservation,
        puppy=puppy.slug,
        litter=litter.slug,
    )
    # The usual confirmation (now of the puppy) and conversions; keyed apart from the joining.
    outbox_enqueue(
        kinds=CONFIRMED,
        subject=reservation,
        reservation_id=reservation.pk,
        discriminator=f"picked:{puppy.pk}",
    )
    _next_turn(litter, now=now, actor="system:pick-order")
    return reservation


def waitlist_pass(*, token: str, actor: str = "buyer") -> WaitlistEntry:
    """The family whose turn is open passes: their deposit stays with the list per its terms
    (they may withdraw separately), and the next family's turn opens at once. Raises
    EntryNotFound, WaitlistRefused (NOT_YOUR_TURN)."""
    now = timezone.now()
    with locked_transaction():
        entry, litter = _entry_locked(token)
        try:
            turn = _open_turn_of(entry, now)
        except _TurnOver as over:
            turn = over.turn  # passing a turn that just ran out: the same end, said once
        passed = T.PASSED if turn.ends_at > now else T.TIMED_OUT
        _turn_end(turn, passed, now=now)
        entry_set(entry, E.PASSED, actor=actor)
        why = {"why": TurnPassed(passed)}
        family_told(entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}", data=why)
        _next_turn(litter, now=now, actor="system:pick-order")
    return entry


def _time_out(turn: PickTurn, entry: WaitlistEntry, litter: Litter, *, now: datetime) -> None:
    _turn_end(turn, T.TIMED_OUT, now=now)
    entry_set(entry, E.PASSED, actor="system:pick-window", why="turn timed out")
    family_told(
        entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}", data={"why": TurnPassed.TIMED_OUT}
    )
    _next_turn(litter, now=now, actor="system:pick-order")


def turns_time_out(*, now: datetime | None = None) -> int:
    """The periodic sweep: end every open turn past its time as an automatic pass, opening
    the next family's; remind once the families whose time is running short. Returns how
    many turns it ended."""
    now = now or timezone.now()
    done = 0
    for turn_id, token in PickTurn.objects.filter(outcome=T.OPEN, ends_at__lte=now).values_list(
        "pk", "entry__token"
    )[:200]:
        with locked_transaction():
            entry, litter = _entry_locked(token)
            turn = PickTurn.objects.get(pk=turn_id)
            if turn.outcome == T.OPEN and turn.ends_at <= now:
                _time_out(turn, entry, litter, now=now)
                done += 1
    for turn in PickTurn.objects.filter(outcome=T.OPEN, reminded_at__isnull=True, ends_at__gt=now):
        window = turn.ends_at - turn.created_at
        if turn.ends_at - now <= window * float(REMIND_AT_SHARE):
            with locked_transaction():
                still_open = PickTurn.objects.filter(
                    pk=turn.pk, outcome=T.OPEN, ends_at__gt=now, reminded_at__isnull=True
                )
                if still_open.update(reminded_at=now):
                    entry = WaitlistEntry.objects.select_related("reservation").get(
                        pk=turn.entry_id
                    )
                    family_told(entry, Effect.WAITLIST_REMINDER, key=f"turn:{turn.pk}")
    return done


def turns_nothing_left(*, now: datetime | None = None) -> int:
    """The periodic sweep's other half: end as skipped every open turn whose family nothing
    left matches any more (the puppy it waited for was paid for by a shop buyer, or taken
    otherwise), telling the family why, and open the next family's turn. A turn past its
    time is turns_time_out's. Returns how many turns it ended."""
    now = now or timezone.now()
    done = 0
    open_turns = PickTurn.objects.filter(outcome=T.OPEN, ends_at__gt=now).select_related("entry")
    for turn in open_turns[:200]:
        if not nothing_left_for(turn.entry, now=now):  # the common case, read without locks
            continue
        with locked_transaction():
            entry, litter = _entry_locked(turn.entry.token)
            turn.refresh_from_db()
            if turn.outcome != T.OPEN or turn.ends_at <= now:
                continue
            litter_holds_expire_overdue(litter_id=litter.pk, now=now)
            if not nothing_left_for(entry, now=now):
                continue
            _turn_end(turn, T.SKIPPED, now=now)
            _nothing_matched(entry, actor="system:pick-order", key=f"turn:{turn.pk}")
            _next_turn(litter, now=now, actor="system:pick-order")
            done += 1
    return done


# --- the breeder's actions (admin, open_picking): each locked and audited ---


def turn_end_for_refund(reservation: Reservation, *, actor: str) -> None:
    """The list deposit of the family whose turn is open is refunded (by the breeder, or in
    full at the provider): that turn ends (skipped) and the next family's opens, in the
    caller's transaction, which holds the deposit's reservation lock (the litter's is taken
    here, in the one order). The refund's move to "refunded" then takes the family off the
    list."""
    entry = WaitlistEntry.objects.filter(reservation=reservation, status=E.CHOOSING).first()
    if entry is None:
        return
    litter = Litter.objects.select_for_update().get(pk=entry.litter_id)
    turn = PickTurn.objects.filter(entry=entry, outcome=T.OPEN).first()
    if turn is None:
        return
    now = timezone.now()
    _turn_end(turn, T.SKIPPED, now=now)
    entry_set(entry, E.PASSED, actor=actor, why="deposit refunded")
    _next_turn(litter, now=now, actor=actor)


def waitlist_skip(*, litter_id: int, actor: str) -> bool:
    """End the open turn as skipped (the family keeps its deposit, per its terms) and open the
    next. False when no turn is open."""
    now = timezone.now()
    turn_row = PickTurn.objects.filter(litter_id=litter_id, outcome=T.OPEN).values_list(
        "entry__token", flat=True
    )
    token = turn_row.first()
    if token is None:
        return False
    with locked_transaction():
        entry, litter = _entry_locked(token)
        turn = PickTurn.objects.filter(entry=entry, outcome=T.OPEN).first()
        if turn is None:
            return False
        _turn_end(turn, T.SKIPPED, now=now)
        entry_set(entry, E.PASSED, actor=actor, why="skipped by the breeder")
        family_told(
            entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}", data={"why": TurnPassed.SKIPPED}
        )
        _next_turn(litter, now=now, actor=actor)
    return True


def picking_close(*, litter_id: int, actor: str) -> bool:
    """Close picking: the open turn ends (its family back to waiting, deposit kept), nobody
    else is offered a turn, and every family still waiting is told. False when picking was
    not open."""
    # The choosing family's reservation is locked before the litter (the one order); should
    # the turn move on meanwhile, the transaction ends and it starts again with the new one.
    while True:
        token = (
            PickTurn.objects.filter(litter_id=litter_id, outcome=T.OPEN)
            .values_list("entry__token", flat=True)
            .first()
        )
        closed = _picking_close_once(litter_id=litter_id, token=token, actor=actor)
        if closed is not None:
            return closed


def _picking_close_once(*, litter_id: int, token: str | None, actor: str) -> bool | None:
    """One try of picking_close with the turn of `token` open; None when it moved on."""
    now = timezone.now()
    with locked_transaction():
        if token is not None:
            entry, litter = _entry_locked(token)
        else:
            entry, litter = None, Litter.objects.select_for_update().get(pk=litter_id)
        if litter.picking != Litter.Picking.OPEN:
            return False
        turn = PickTurn.objects.filter(litter=litter, outcome=T.OPEN).first()
        if turn is not None and (entry is None or turn.entry_id != entry.pk):
            return None
        if turn is not None and entry is not None:
            _turn_end(turn, T.CLOSED, now=now)
            entry_set(entry, E.WAITING, actor=actor, why="picking closed")
        litter.picking = Litter.Picking.CLOSED
        litter.save(update_fields=["picking", "updated_at"])
        audit("catalogue.litter.picking_closed", actor=actor, obj=litter)
        # Every family still waiting (the one choosing among them) will not be offered a turn.
        for waiting in WaitlistEntry.objects.filter(litter=litter, status=E.WAITING):
            family_told(waiting, Effect.WAITLIST_CLOSED, key=f"closed:{litter.pk}")
    return True
