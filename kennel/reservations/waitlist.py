"""Waiting lists: every change of a family's entry on a litter's list.

A family's list deposit is a Reservation without a puppy, paid, confirmed, expired and
refunded by the same machinery as a puppy's deposit (payments/fulfilment.py and
reservations/services.py, which call `deposit_confirmed` / `deposit_closed` below). Its place
on the list is given when that deposit is confirmed, under the litter's row lock: 1, 2, 3…
in the order of confirmation, so no two families share one and an unpaid entry takes none.
Here too: what a family sees, leaving the list, and the breeder's moves, carry-overs and
stages. The pick order (turns) is kennel/reservations/picking.py.

Locks, everywhere: the entry's reservation, then the litter, then a puppy. This module
imports nothing above the models it changes; reservations/services.py calls it.
"""

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypedDict

from django.conf import settings
from django.db.models import (
    BooleanField,
    Exists,
    ExpressionWrapper,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.utils import timezone
from django.utils.translation import gettext_noop

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import locked_transaction
from kennel.core.errors import ApplicationError, Message, ValidationFailed
from kennel.core.models import audit
from kennel.core.outbox import outbox_enqueue
from kennel.core.text import one_line_break
from kennel.reservations.buyers import Buyer, buyer_columns
from kennel.reservations.effects import Effect
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.selectors import TOKEN_RE
from kennel.reservations.tracking import Tracking

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

E = WaitlistEntry.Status
T = PickTurn.Outcome
S = Reservation.Status
P = Puppy.Status
Terms = Litter.DepositTerms

NOTES_MAX, COLOUR_MAX = 1000, 60

LITTER_NOT_FOUND_MESSAGE = gettext_noop("There is no litter at this address.")
WAITLIST_CLOSED_MESSAGE = gettext_noop("This litter's waiting list is not open.")
WAITLIST_FULL_MESSAGE = gettext_noop("This litter's waiting list is full.")
ENTRY_NOT_FOUND_MESSAGE = gettext_noop("There is no place on a waiting list at this address.")
NOT_WITHDRAWABLE_MESSAGE = gettext_noop("This place on the list can no longer be withdrawn.")


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
    colour, notes = (colour or "").strip(), one_line_break(notes or "").strip()
    errors: dict[str, list[str]] = {}
    if sex not in WaitlistEntry.Sex.values:
        errors["sex"] = [gettext_noop("Please choose any, female or male.")]
    if len(colour) > COLOUR_MAX or any(ord(c) < 32 for c in colour):
        errors["colour"] = [
            Message(
                gettext_noop("Please keep the colour to %(max)s characters, on one line."),
                max=COLOUR_MAX,
            )
        ]
    if len(notes) > NOTES_MAX or "\x00" in notes:
        errors["notes"] = [
            Message(gettext_noop("Please keep the notes to %(max)s characters."), max=NOTES_MAX)
        ]
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
        raise ValidationFailed({"provider": [gettext_noop("Please choose Stripe or PayPal.")]})
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
    _cutoff_as_told(entry)  # the date its joining email gives
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
    # The litter too (after the reservation, the one order): a turn being opened for this
    # family at the same moment sees it gone, never hands it a turn after it left.
    Litter.objects.select_for_update().get(pk=entry.litter_id)
    entry.refresh_from_db()
    if entry.status == E.PENDING:
        entry_set(entry, E.UNPAID, actor=actor)
    elif entry.status in (E.WAITING, E.PASSED) and reservation.status == S.REFUNDED:
        entry_set(entry, E.WITHDRAWN, actor=actor)


def entry_set(entry: WaitlistEntry, status: str, *, actor: str, **data: object) -> None:
    entry.status = status
    entry.save(update_fields=["status", "updated_at"])
    audit(f"reservations.waitlist.{status}", actor=actor, obj=entry, **data)


def family_told(
    entry: WaitlistEntry, kind: str, *, key: str, data: dict[str, Any] | None = None
) -> None:
    outbox_enqueue(
        kinds=[kind],
        subject=entry.reservation,
        reservation_id=entry.reservation_id,
        discriminator=key,
        data=data,
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


# --- what a family sees ---


class _HeldUntil(TypedDict):
    held_until: datetime


@dataclass(frozen=True)
class Held:
    """A puppy the family's wishes match that a buyer in the shop is paying for now: not
    theirs to choose yet, offered to them should that hold run out (`until`) unpaid."""

    puppy: Puppy
    until: datetime


@dataclass(frozen=True)
class Standing:
    entry: WaitlistEntry
    ahead: int  # families still on the list before this one
    turn: PickTurn | None  # their open turn
    choices: list[Puppy]  # what they may choose now (during their turn)
    held: list[Held]  # what they may choose should a shop buyer not pay (during their turn)


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
    if turn is None:
        return Standing(entry=entry, ahead=ahead, turn=None, choices=[], held=[])
    now = timezone.now()
    return Standing(
        entry=entry,
        ahead=ahead,
        turn=turn,
        choices=choices_for(entry, now=now),
        held=held_for(entry, now=now),
    )


def list_deposit_currencies(*, litter_id: int) -> set[str]:
    """The currencies of the deposits on a litter's list that may still become a puppy's (paid
    or being paid, no puppy chosen yet): a puppy of the litter in any other is offered to none
    of those families (_wished)."""
    deposits = Reservation.objects.filter(
        waitlist_entry__litter_id=litter_id,
        puppy__isnull=True,
        status__in=(S.PENDING, S.PROCESSING, S.CONFIRMED),
    )
    return set(deposits.values_list("currency", flat=True).distinct())


def _wished_by(families: QuerySet[WaitlistEntry]) -> Q:
    """A filter on puppies: those the wishes of one of `families` match — of its litter, not
    kept by the breeder, of the sex it asked for, priced in the currency of its deposit (which
    becomes the puppy's: one in another currency would make a balance of two currencies). The
    one statement of a family's wishes: its own choices (offered_to) and the shop's hold
    (choosing_could_choose) both ask it."""
    wishing = families.filter(
        litter_id=OuterRef("litter_id"), reservation__currency=OuterRef("currency")
    ).filter(Q(sex=WaitlistEntry.Sex.ANY) | Q(sex=OuterRef("sex")))
    return Q(Exists(wishing), kept=False)


def _wished(entry: WaitlistEntry) -> QuerySet[Puppy]:
    """The litter's puppies this family's wishes match."""
    family = WaitlistEntry.objects.filter(pk=entry.pk)
    return Puppy.objects.filter(_wished_by(family), litter_id=entry.litter_id)


def choosing_could_choose() -> Q:
    """A filter on puppies: those the family choosing now on their litter could choose, were
    they free (offered_to's puppies, whatever their status). The shop leaves them to it while
    its turn is open (services.reservation_hold); the pages say so."""
    return _wished_by(WaitlistEntry.objects.filter(status=E.CHOOSING))


def family_choosing() -> dict[str, ExpressionWrapper]:
    """The pages' annotation of each puppy, `family_choosing`: whether the family choosing
    now could choose it, were it free (choosing_could_choose). An available one is not for
    the shop meanwhile: the pages say why instead of offering *Reserve*."""
    return {"family_choosing": ExpressionWrapper(choosing_could_choose(), BooleanField())}


def family_comes_first(puppy: Puppy) -> bool:
    """An available puppy (annotated with family_choosing) that the family choosing now could
    choose: the shop refuses it until that family has chosen (the pages, the API list)."""
    return puppy.is_available and bool(getattr(puppy, "family_choosing", False))


def _shop_holds(*, lapsed: bool, now: datetime) -> QuerySet[Reservation]:
    """The pending shop holds on the outer query's puppy: past their time (`lapsed`, released
    by the next hold, pick or sweep: invariant 7) or still within it."""
    holds = Reservation.objects.filter(puppy_id=OuterRef("pk"), status=S.PENDING)
    return holds.filter(expires_at__lte=now) if lapsed else holds.filter(expires_at__gt=now)


def offered_to(entry: WaitlistEntry, *, now: datetime) -> QuerySet[Puppy]:
    """The litter's puppies offered to this family now: those its wishes match that are
    available, or held by a shop hold past its time (the pick expires it first)."""
    lapsed = Exists(_shop_holds(lapsed=True, now=now))
    return _wished(entry).filter(Q(status=P.AVAILABLE) | Q(lapsed, status=P.HELD))


def held_for(entry: WaitlistEntry, *, now: datetime) -> list[Held]:
    """The puppies this family's wishes match that a buyer in the shop is paying for now
    (a pending hold within its time): offered to the family if that hold runs out unpaid.
    A payment under way (processing) is not counted: it may take days, and does not run out
    by the clock."""
    held = _held(entry, now=now).prefetch_related("photos").order_by("name")
    return [Held(puppy=puppy, until=puppy.held_until) for puppy in held]


def _held(entry: WaitlistEntry, *, now: datetime) -> "QuerySet[WithAnnotations[Puppy, _HeldUntil]]":
    """held_for's puppies, each with its hold's end (`held_until`)."""
    until = Subquery(_shop_holds(lapsed=False, now=now).values("expires_at")[:1])
    return (
        _wished(entry)
        .filter(status=P.HELD)
        .annotate(held_until=until)
        .filter(held_until__isnull=False)
    )


def nothing_left_for(entry: WaitlistEntry, *, now: datetime) -> bool:
    """Whether nothing left matches the family's wishes: no puppy offered now, and none a
    shop buyer is paying for that could still come free (held_for). Two EXISTS queries: the
    minute sweep asks it of every open turn."""
    return not offered_to(entry, now=now).exists() and not _held(entry, now=now).exists()


def choices_for(entry: WaitlistEntry, *, now: datetime) -> list[Puppy]:
    """What the family sees to choose from (offered_to), with their photos."""
    return list(offered_to(entry, now=now).prefetch_related("photos").order_by("name"))


# --- the breeder's actions on the list (admin): each locked and audited ---


def waitlist_move(*, entry_id: int, position: int, actor: str) -> bool:
    """Move a family to `position` on its litter's list; the families between shift by one.
    Each family whose position changed is told. False when nothing changed."""
    reservation_id = WaitlistEntry.objects.values_list("reservation_id", flat=True).get(pk=entry_id)
    with locked_transaction():
        Reservation.objects.select_for_update().get(pk=reservation_id)
        entry = WaitlistEntry.objects.get(pk=entry_id)
        Litter.objects.select_for_update().get(pk=entry.litter_id)
        placed = list(
            WaitlistEntry.objects.filter(
                litter_id=entry.litter_id, status__in=WaitlistEntry.ON_LIST
            )
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
                family_told(moved, Effect.WAITLIST_MOVED, key=key)
    return True


def waitlist_transfer(*, entry_id: int, litter_id: int, actor: str) -> bool:
    """Carry a family's deposit over to another litter's list (the breeder, e.g. for a family
    that passed or was skipped under transferable terms): it joins that list at the end and
    is told its new place. False when the family is not on (or passed from) a list, it is the
    same litter, that litter's picking has closed for good (no turn could ever come), its list
    is full (its cap, as for a family joining), or it is priced in another currency than the
    deposit (none of its puppies could be offered)."""
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
        if litter_id not in locked or locked[litter_id].picking == Litter.Picking.CLOSED:
            return False
        if locked[litter_id].currency != entry.reservation.currency:
            return False
        target = locked[litter_id]
        if target.waitlist_cap is not None and (
            _places_taken(target, timezone.now()) >= target.waitlist_cap
        ):
            return False
        was = entry.litter_id
        _cutoff_as_told(entry)  # the cut-off it was told on its first list stays its own
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
        family_told(entry, Effect.WAITLIST_MOVED, key=f"transfer:{litter_id}")
    return True


def litter_stage_set(*, litter_id: int, stage: str, born_on: date | None, actor: str) -> bool:
    """Move a litter to its next stage (the breeder, in the back office). When it is born,
    every family on its list is told. False when unchanged."""
    if stage not in Litter.Stage.values:
        raise ValidationFailed({"stage": [gettext_noop("Unknown stage.")]})
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
                family_told(entry, Effect.WAITLIST_BORN, key=f"born:{litter.pk}")
    return True


def refund_cutoff(entry: WaitlistEntry) -> date | None:
    """Refundable terms: the last day a withdrawal is refunded in full — `refund_days` before
    its litter's go-home day, or the day the family was told when they paid
    (`entry.refund_until`), whichever is later. None: not refundable terms, or no go-home day
    yet (refundable until there is one)."""
    go_home = entry.litter.go_home_on
    if entry.terms != Terms.REFUNDABLE or go_home is None:
        return None
    counted = go_home - timedelta(days=entry.refund_days)
    return max(counted, entry.refund_until) if entry.refund_until else counted


def _cutoff_as_told(entry: WaitlistEntry) -> None:
    """Keep the refund cut-off the family is told now, if there is one (see refund_cutoff)."""
    cutoff = refund_cutoff(entry)
    if cutoff is not None and cutoff != entry.refund_until:
        entry.refund_until = cutoff
        entry.save(update_fields=["refund_until", "updated_at"])


def refund_cutoffs_keep(*, litter_id: int) -> None:
    """Before the litter's go-home day changes: each family on its list keeps the refund
    cut-off it has been told (refund_cutoff), should the new day count an earlier one."""
    on_list = WaitlistEntry.objects.filter(
        litter_id=litter_id, status__in=(*WaitlistEntry.ON_LIST, E.PASSED), terms=Terms.REFUNDABLE
    ).select_related("litter")
    for entry in on_list:
        _cutoff_as_told(entry)


def withdrawal_refundable(entry: WaitlistEntry, *, today: date | None = None) -> bool:
    """Whether the terms the family accepted give their deposit back if they leave now: in
    full until the refund cut-off (refund_cutoff; refundable terms), never otherwise."""
    if entry.terms != Terms.REFUNDABLE:
        return False
    cutoff = refund_cutoff(entry)
    return cutoff is None or (today or timezone.localdate()) <= cutoff


def withdrawal_check(entry: WaitlistEntry) -> None:
    """Raise WaitlistRefused (NOT_WITHDRAWABLE) unless the family may leave the list now: on
    it (waiting, or passed) and not choosing. Caller holds the locks."""
    if entry.status not in (E.WAITING, E.PASSED):
        raise WaitlistRefused("NOT_WITHDRAWABLE", NOT_WITHDRAWABLE_MESSAGE)


def withdrawn_keeping_deposit(entry: WaitlistEntry, *, actor: str) -> None:
    """The family leaves the list and the terms keep their deposit (caller holds the locks):
    the deposit's reservation stays confirmed, with no puppy, as the breeder's."""
    entry_set(entry, E.WITHDRAWN, actor=actor, refunded=False)
