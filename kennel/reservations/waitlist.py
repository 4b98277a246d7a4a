"""Waiting lists and the live pick order: every change of a list entry, a pick turn or a
litter's picking state is here.

A family's list deposit is a Reservation without a puppy, paid, confirmed, expired and
refunded by the same machinery as a puppy's deposit (payments/fulfilment.py and
reservations/services.py, which call `deposit_confirmed` / `deposit_closed` below). Its place
on the list is given when that deposit is confirmed, under the litter's row lock: 1, 2, 3…
in the order of confirmation, so no two families share one and an unpaid entry takes none.

Picking: at most one turn per litter is open (the partial unique index
`one_open_turn_per_litter`). A pick, a pass, the sweep's timeout and the breeder's actions
all take the same locks in one order — the entry's reservation, then the litter, then the
puppy — and look at the turn again under them, so a turn ends exactly one way. A pick turns
the deposit's reservation into that puppy's confirmed reservation with the shop's own
conditional UPDATE (`available` → `reserved`) and its one-active-reservation index: a puppy
is never promised twice, and a deposit becomes at most one reservation.

This module imports nothing above the models it changes; reservations/services.py calls it.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import locked_transaction
from kennel.core.errors import ApplicationError, PuppyNotAvailable, ValidationFailed
from kennel.core.models import audit
from kennel.core.outbox import outbox_enqueue
from kennel.reservations.buyers import Buyer, buyer_columns
from kennel.reservations.effects import CONFIRMED, Effect
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.selectors import TOKEN_RE
from kennel.reservations.tracking import Tracking

E = WaitlistEntry.Status
T = PickTurn.Outcome
S = Reservation.Status
P = Puppy.Status
Terms = Litter.DepositTerms

NOTES_MAX, COLOUR_MAX = 1000, 60
# A family is reminded once when this share of its turn is left.
REMIND_AT_SHARE = Decimal("0.25")

LITTER_NOT_FOUND_MESSAGE = gettext_noop("There is no litter at this address.")
WAITLIST_CLOSED_MESSAGE = gettext_noop("This litter's waiting list is not open.")
WAITLIST_FULL_MESSAGE = gettext_noop("This litter's waiting list is full.")
ENTRY_NOT_FOUND_MESSAGE = gettext_noop("There is no place on a waiting list at this address.")
NOT_YOUR_TURN_MESSAGE = gettext_noop("It is not your turn to choose a puppy.")
NOT_WITHDRAWABLE_MESSAGE = gettext_noop("This place on the list can no longer be withdrawn.")
PICKING_REFUSED_MESSAGE = gettext_noop("Picking cannot be opened for this litter now.")


class LitterNotFound(ApplicationError):
    def __init__(self) -> None:
        super().__init__("LITTER_NOT_FOUND", LITTER_NOT_FOUND_MESSAGE, status=404)


class EntryNotFound(ApplicationError):
    def __init__(self) -> None:
        super().__init__("WAITLIST_NOT_FOUND", ENTRY_NOT_FOUND_MESSAGE, status=404)


class WaitlistRefused(ApplicationError):
    """WAITLIST_CLOSED, WAITLIST_FULL, NOT_YOUR_TURN, NOT_WITHDRAWABLE, PICKING_REFUSED: 409."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=409)


@dataclass(frozen=True)
class Preferences:
    sex: str = WaitlistEntry.Sex.ANY
    colour: str = ""
    notes: str = ""


def preferences_validate(*, sex: str, colour: str = "", notes: str = "") -> Preferences:
    """Clean a family's wishes or raise ValidationFailed."""
    sex = (sex or WaitlistEntry.Sex.ANY).strip().lower()
    colour, notes = (colour or "").strip(), (notes or "").replace("\r\n", "\n").strip()
    errors: dict[str, list[str]] = {}
    if sex not in WaitlistEntry.Sex.values:
        errors["sex"] = [gettext_noop("Please choose any, female or male.")]
    if len(colour) > COLOUR_MAX or any(ord(c) < 32 for c in colour):
        errors["colour"] = [f"Please keep the colour to {COLOUR_MAX} plain characters."]
    if len(notes) > NOTES_MAX or "\x00" in notes:
        errors["notes"] = [f"Please keep the notes to {NOTES_MAX} characters."]
    if errors:
        raise ValidationFailed(errors)
    return Preferences(sex=sex, colour=colour, notes=notes)


# --- joining: the list deposit's reservation and the entry, before payment ---


def waitlist_join(
    *,
    litter_slug: str,
    buyer: Buyer,
    provider: str,
    preferences: Preferences,
    tracking: Tracking | None = None,
    client: str = "",
) -> WaitlistEntry:
    """Put a family on a litter's waiting list, waiting for its deposit (pending): the
    reservation carries the deposit the litter asks now and the terms they accepted. Its
    place is given when the deposit is confirmed (deposit_confirmed). Raises LitterNotFound,
    WaitlistRefused (WAITLIST_CLOSED, WAITLIST_FULL), ValidationFailed."""
    tracking = tracking if tracking and tracking.consent else Tracking()
    if provider not in Reservation.Provider.values:
        raise ValidationFailed({"provider": ["Please choose Stripe or PayPal."]})
    now = timezone.now()
    with locked_transaction():
        litter = _litter_locked(slug=litter_slug)
        deposit = litter.list_deposit
        if not litter.waitlist_open or deposit is None or litter.picking != litter.Picking.NOT_OPEN:
            raise WaitlistRefused("WAITLIST_CLOSED", WAITLIST_CLOSED_MESSAGE)
        if litter.waitlist_cap is not None and _places_taken(litter, now) >= litter.waitlist_cap:
            raise WaitlistRefused("WAITLIST_FULL", WAITLIST_FULL_MESSAGE)
        reservation = Reservation.objects.create(
            puppy=None,
            deposit_amount=deposit,
            currency=litter.currency,
            provider=provider,
            status=S.PENDING,
            expires_at=now + timedelta(minutes=settings.HOLD_MINUTES),
            **buyer_columns(buyer=buyer, tracking=tracking, client=client),
        )
        entry = WaitlistEntry.objects.create(
            litter=litter,
            reservation=reservation,
            sex=preferences.sex,
            colour=preferences.colour,
            notes=preferences.notes,
            terms=litter.deposit_terms,
            refund_days=litter.refund_days,
        )
        audit("reservations.waitlist.joined", actor="buyer", obj=entry, litter=litter.slug)
    return entry


def _litter_locked(*, slug: str) -> Litter:
    if not slug or len(slug) > 80 or not all(c.isalnum() or c in "-_" for c in slug):
        raise LitterNotFound()
    litter_id = Litter.objects.filter(slug=slug).values_list("pk", flat=True).first()
    if litter_id is None:
        raise LitterNotFound()
    return Litter.objects.select_for_update().get(pk=litter_id)


def _places_taken(litter: Litter, now: datetime) -> int:
    """Families on the list, and those whose deposit may still arrive, against the cap."""
    on_list = Q(status__in=WaitlistEntry.ON_LIST)
    paying = Q(
        status=E.PENDING,
        reservation__status__in=[S.PENDING, S.PROCESSING],
        reservation__expires_at__gt=now,
    )
    return WaitlistEntry.objects.filter(on_list | paying, litter=litter).count()


# --- the deposit's fate, called by reservations/services.py under the reservation's lock ---


def deposit_confirmable(reservation: Reservation) -> bool:
    """Whether a list deposit paid now may still take a place (a late payment may not when the
    list has closed or filled meanwhile: fulfilment refunds it)."""
    entry = WaitlistEntry.objects.select_related("litter").get(reservation=reservation)
    litter = entry.litter
    if entry.status != E.PENDING and entry.status != E.UNPAID:
        return False
    if not litter.waitlist_open or litter.picking != litter.Picking.NOT_OPEN:
        return False
    on_list = WaitlistEntry.objects.filter(litter=litter, status__in=WaitlistEntry.ON_LIST)
    return litter.waitlist_cap is None or on_list.count() < litter.waitlist_cap


def litter_lock_of(reservation: Reservation) -> Litter:
    """Lock the litter whose list the deposit is for (the caller holds the reservation's)."""
    litter_id = WaitlistEntry.objects.values_list("litter_id", flat=True).get(
        reservation=reservation
    )
    return Litter.objects.select_for_update().get(pk=litter_id)


def deposit_confirmed(reservation: Reservation, *, actor: str) -> WaitlistEntry:
    """The list deposit is paid: give the family the next place, under the litter's lock (the
    caller holds the reservation's), and tell family and breeder."""
    entry = WaitlistEntry.objects.get(reservation=reservation)
    Litter.objects.select_for_update().get(pk=entry.litter_id)
    last = WaitlistEntry.objects.filter(litter_id=entry.litter_id).aggregate(n=Max("position"))
    entry.position = (last["n"] or 0) + 1
    entry.status = E.WAITING
    entry.joined_at = timezone.now()
    entry.save(update_fields=["position", "status", "joined_at", "updated_at"])
    audit("reservations.waitlist.placed", actor=actor, obj=entry, position=entry.position)
    outbox_enqueue(
        kinds=[Effect.WAITLIST_JOINED, Effect.OWNER_WAITLIST_JOINED],
        subject=reservation,
        reservation_id=reservation.pk,
    )
    return entry


def deposit_closed(reservation: Reservation, *, actor: str) -> None:
    """The list deposit's reservation closed (unpaid, failed, expired, or refunded): a family
    still waiting for its payment has no place; one on the list leaves it."""
    entry = WaitlistEntry.objects.filter(reservation=reservation).first()
    if entry is None:
        return
    if entry.status == E.PENDING:
        _entry_set(entry, E.UNPAID, actor=actor)
    elif entry.status in (E.WAITING, E.PASSED) and reservation.status == S.REFUNDED:
        _entry_set(entry, E.WITHDRAWN, actor=actor)


def _entry_set(entry: WaitlistEntry, status: str, *, actor: str, **data: object) -> None:
    entry.status = status
    entry.save(update_fields=["status", "updated_at"])
    audit(f"reservations.waitlist.{status}", actor=actor, obj=entry, **data)


# --- what a family sees ---


@dataclass(frozen=True)
class Standing:
    entry: WaitlistEntry
    ahead: int  # families still on the list before this one
    turn: PickTurn | None  # their open turn
    choices: list[Puppy]  # what they may choose now (during their turn)


def entry_standing(*, token: str) -> Standing:
    """A family's place: position, families ahead, their open turn and its choices. Raises
    EntryNotFound."""
    entry = (
        WaitlistEntry.objects.select_related("litter", "reservation", "reservation__puppy")
        .filter(token=_token(token))
        .first()
    )
    if entry is None:
        raise EntryNotFound()
    ahead = 0
    if entry.position is not None and entry.status in WaitlistEntry.ON_LIST:
        ahead = WaitlistEntry.objects.filter(
            litter_id=entry.litter_id,
            status__in=WaitlistEntry.ON_LIST,
            position__lt=entry.position,
        ).count()
    turn = PickTurn.objects.filter(entry=entry, outcome=T.OPEN).first()
    choices = choices_for(entry) if turn is not None else []
    return Standing(entry=entry, ahead=ahead, turn=turn, choices=choices)


def choices_for(entry: WaitlistEntry) -> list[Puppy]:
    """The litter's puppies offered to this family now: available, not kept by the breeder,
    of the sex they asked for."""
    offered = Puppy.objects.filter(litter_id=entry.litter_id, status=P.AVAILABLE, kept=False)
    if entry.sex != WaitlistEntry.Sex.ANY:
        offered = offered.filter(sex=entry.sex)
    return list(offered.prefetch_related("photos").order_by("name"))


# --- picking ---


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
    its terms. With no family or no puppy left, picking closes."""
    had_turn = PickTurn.objects.filter(litter=litter).values("entry_id")
    waiting = (
        WaitlistEntry.objects.filter(litter=litter, status=E.WAITING)
        .exclude(pk__in=had_turn)
        .order_by("position")
    )
    for entry in waiting:
        if not choices_for(entry):
            _turn_record(litter, entry, T.SKIPPED, now=now)
            _entry_set(entry, E.PASSED, actor=actor, why="nothing left matches their wishes")
            _family_told(entry, Effect.WAITLIST_PASSED, key=f"skipped:{litter.pk}")
            continue
        turn = PickTurn.objects.create(
            litter=litter, entry=entry, ends_at=now + timedelta(minutes=litter.pick_window)
        )
        _entry_set(entry, E.CHOOSING, actor=actor, turn=turn.pk, ends_at=turn.ends_at.isoformat())
        _family_told(entry, Effect.WAITLIST_TURN, key=f"turn:{turn.pk}")
        return turn
    litter.picking = Litter.Picking.CLOSED
    litter.save(update_fields=["picking", "updated_at"])
    audit("catalogue.litter.picking_closed", actor=actor, obj=litter, why="nobody left to choose")
    return None


def _turn_record(litter: Litter, entry: WaitlistEntry, outcome: str, *, now: datetime) -> None:
    PickTurn.objects.create(litter=litter, entry=entry, outcome=outcome, ends_at=now, closed_at=now)


def _turn_end(turn: PickTurn, outcome: str, *, now: datetime) -> None:
    turn.outcome = outcome
    turn.closed_at = now
    turn.save(update_fields=["outcome", "closed_at", "updated_at"])


def _family_told(entry: WaitlistEntry, kind: str, *, key: str) -> None:
    outbox_enqueue(
        kinds=[kind],
        subject=entry.reservation,
        reservation_id=entry.reservation_id,
        discriminator=key,
    )


def _token(token: str) -> str:
    """`token` when it may be one (else what matches nothing): a NUL byte or a megabyte of
    text never reaches the database."""
    return token if TOKEN_RE.fullmatch(token or "") else "-"


def entry_ids(token: str) -> tuple[int, uuid.UUID]:
    """The entry at `token` and its deposit's reservation, as ids; raises EntryNotFound."""
    row = (
        WaitlistEntry.objects.filter(token=_token(token))
        .values_list("pk", "reservation_id")
        .first()
    )
    if row is None:
        raise EntryNotFound()
    return row


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
    offered = Puppy.objects.filter(
        slug=puppy_slug or "-", litter=litter, status=P.AVAILABLE, kept=False
    )
    if entry.sex != WaitlistEntry.Sex.ANY:
        offered = offered.filter(sex=entry.sex)
    puppy_id = offered.values_list("pk", flat=True).first()
    # The shop's own conditional UPDATE: whoever else wants this puppy (a buyer in the shop)
    # loses to whichever commits first; one-active-reservation-per-puppy stands behind it.
    if puppy_id is None or not Puppy.objects.filter(pk=puppy_id, status=P.AVAILABLE).update(
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
    _entry_set(entry, E.PICKED, actor=actor, puppy=puppy.slug)
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
        _turn_end(turn, T.PASSED if turn.ends_at > now else T.TIMED_OUT, now=now)
        _entry_set(entry, E.PASSED, actor=actor)
        _family_told(entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}")
        _next_turn(litter, now=now, actor="system:pick-order")
    return entry


def _time_out(turn: PickTurn, entry: WaitlistEntry, litter: Litter, *, now: datetime) -> None:
    _turn_end(turn, T.TIMED_OUT, now=now)
    _entry_set(entry, E.PASSED, actor="system:pick-window", why="turn timed out")
    _family_told(entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}")
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
                    _family_told(entry, Effect.WAITLIST_REMINDER, key=f"turn:{turn.pk}")
    return done


# --- the breeder's actions (admin, open_picking): each locked and audited ---


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
        _entry_set(entry, E.PASSED, actor=actor, why="skipped by the breeder")
        _family_told(entry, Effect.WAITLIST_PASSED, key=f"turn:{turn.pk}")
        _next_turn(litter, now=now, actor=actor)
    return True


def picking_close(*, litter_id: int, actor: str) -> bool:
    """Close picking: the open turn ends (its family back to waiting, deposit kept), nobody
    else is offered a turn. False when picking was not open."""
    now = timezone.now()
    token = (
        PickTurn.objects.filter(litter_id=litter_id, outcome=T.OPEN)
        .values_list("entry__token", flat=True)
        .first()
    )
    with locked_transaction():
        if token is not None:
            entry, litter = _entry_locked(token)
        else:
            entry, litter = None, Litter.objects.select_for_update().get(pk=litter_id)
        if litter.picking != Litter.Picking.OPEN:
            return False
        turn = PickTurn.objects.filter(litter=litter, outcome=T.OPEN).first()
        if turn is not None and entry is not None and turn.entry_id == entry.pk:
            _turn_end(turn, T.CLOSED, now=now)
            _entry_set(entry, E.WAITING, actor=actor, why="picking closed")
        elif turn is not None:
            return picking_close(litter_id=litter_id, actor=actor)  # the turn moved on: again
        litter.picking = Litter.Picking.CLOSED
        litter.save(update_fields=["picking", "updated_at"])
        audit("catalogue.litter.picking_closed", actor=actor, obj=litter)
    return True


def waitlist_move(*, entry_id: int, position: int, actor: str) -> bool:
    """Move a family to `position` on its litter's list; the families between shift by one.
    Each family whose position changed is told. False when nothing changed."""
    reservation_id = WaitlistEntry.objects.values_list("reservation_id", flat=True).get(pk=entry_id)
    with locked_transaction():
        Reservation.objects.select_for_update().get(pk=reservation_id)
        entry = WaitlistEntry.objects.get(pk=entry_id)
        Litter.objects.select_for_update().get(pk=entry.litter_id)
        placed = list(
            WaitlistEntry.objects.filter(litter_id=entry.litter_id, position__isnull=False)
            .select_related("reservation")
            .order_by("position")
        )
        if entry.position is None or entry.status not in WaitlistEntry.ON_LIST:
            return False
        slots = [e.position for e in placed]
        others = [e for e in placed if e.pk != entry.pk]
        index = min(max(position, 1), len(placed)) - 1
        order = [*others[:index], entry, *others[index:]]
        changed = [(e, slots[i]) for i, e in enumerate(order) if e.position != slots[i]]
        if not changed:
            return False
        # Free the moved positions first: the unique index holds at every statement.
        WaitlistEntry.objects.filter(pk__in=[e.pk for e, _ in changed]).update(position=None)
        for moved, new in changed:
            old, moved.position = moved.position, new
            moved.save(update_fields=["position", "updated_at"])
            audit(
                "reservations.waitlist.moved",
                actor=actor,
                obj=moved,
                position=new,
                was=old,
            )
            if moved.status in WaitlistEntry.ON_LIST:
                key = f"moved:{old}:{new}:{timezone.now().timestamp()}"
                _family_told(moved, Effect.WAITLIST_MOVED, key=key)
    return True


def waitlist_transfer(*, entry_id: int, litter_id: int, actor: str) -> bool:
    """Carry a family's deposit over to another litter's list (the breeder, e.g. for a family
    that passed or was skipped under transferable terms): it joins that list at the end and
    is told its new place. False when the family is not on (or passed from) a list, or it is
    the same litter."""
    reservation_id = WaitlistEntry.objects.values_list("reservation_id", flat=True).get(pk=entry_id)
    with locked_transaction():
        Reservation.objects.select_for_update().get(pk=reservation_id)
        entry = WaitlistEntry.objects.select_related("reservation").get(pk=entry_id)
        if entry.status not in (E.WAITING, E.PASSED) or entry.litter_id == litter_id:
            return False
        if entry.reservation.status != S.CONFIRMED or entry.reservation.puppy_id is not None:
            return False
        # Both litters, in primary-key order: two transfers the other way round never deadlock.
        locked = {
            litter.pk: litter
            for litter in Litter.objects.select_for_update()
            .filter(pk__in=[entry.litter_id, litter_id])
            .order_by("pk")
        }
        if litter_id not in locked:
            return False
        was = entry.litter_id
        last = WaitlistEntry.objects.filter(litter_id=litter_id).aggregate(n=Max("position"))
        entry.litter_id = litter_id
        entry.position = (last["n"] or 0) + 1
        entry.status = E.WAITING
        entry.save(update_fields=["litter", "position", "status", "updated_at"])
        audit(
            "reservations.waitlist.transferred",
            actor=actor,
            obj=entry,
            was_litter=was,
            litter=litter_id,
            position=entry.position,
        )
        _family_told(entry, Effect.WAITLIST_MOVED, key=f"transfer:{litter_id}")
    return True


def litter_stage_set(*, litter_id: int, stage: str, born_on: date | None, actor: str) -> bool:
    """Move a litter to its next stage (the breeder, in the back office). When it is born,
    every family on its list is told. False when unchanged."""
    if stage not in Litter.Stage.values:
        raise ValidationFailed({"stage": ["Unknown stage."]})
    with locked_transaction():
        litter = Litter.objects.select_for_update().get(pk=litter_id)
        if litter.stage == stage and (born_on is None or litter.born_on == born_on):
            return False
        was = litter.stage
        litter.stage = stage
        if born_on is not None:
            litter.born_on = born_on
        litter.save(update_fields=["stage", "born_on", "updated_at"])
        audit("catalogue.litter.stage", actor=actor, obj=litter, stage=stage, was=was)
        if stage == Litter.Stage.BORN and was != stage:
            for entry in WaitlistEntry.objects.filter(
                litter=litter, status__in=WaitlistEntry.ON_LIST
            ).select_related("reservation"):
                _family_told(entry, Effect.WAITLIST_BORN, key=f"born:{litter.pk}")
    return True


def withdrawal_refundable(entry: WaitlistEntry, *, today: date | None = None) -> bool:
    """Whether the terms the family accepted give their deposit back if they leave now: in
    full until `refund_days` before go-home (refundable terms), never otherwise."""
    if entry.terms != Terms.REFUNDABLE:
        return False
    go_home = entry.litter.go_home_on
    if go_home is None:
        return True
    today = today or timezone.localdate()
    return today <= go_home - timedelta(days=entry.refund_days)


def withdrawal_check(entry: WaitlistEntry) -> None:
    """Raise WaitlistRefused (NOT_WITHDRAWABLE) unless the family may leave the list now: on
    it (waiting, or passed) and not choosing. Caller holds the locks."""
    if entry.status not in (E.WAITING, E.PASSED):
        raise WaitlistRefused("NOT_WITHDRAWABLE", NOT_WITHDRAWABLE_MESSAGE)


def withdrawn_keeping_deposit(entry: WaitlistEntry, *, actor: str) -> None:
    """The family leaves the list and the terms keep their deposit (caller holds the locks):
    the deposit's reservation stays confirmed, with no puppy, as the breeder's."""
    _entry_set(entry, E.WITHDRAWN, actor=actor, refunded=False)
