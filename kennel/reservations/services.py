"""The reservation state machine. Every status change of a reservation or a puppy is here.

`TRANSITIONS` states once which status may follow which; every service below moves a
reservation only through `_move`, which checks it. Each transition writes, in its own
transaction, its audit line and the outbox work it owes (emails, conversions, closing the
provider's checkout — kennel/reservations/effects.py); it imports nothing above it.

Locks are taken in one order everywhere: reservation rows, then the puppy row. A shop hold
of a litter's puppy first takes its litter's row (KEY SHARE), as the pick order takes it
before the litter's reservations and puppies (picking.py).
"""

import re
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import Q, Value
from django.db.models.functions import Replace
from django.utils import timezone
from django.utils.translation import gettext_noop

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import is_postgres, locked_transaction
from kennel.core.errors import (
    PUPPY_NOT_AVAILABLE_MESSAGE,
    Busy,
    HoldRefused,
    PuppyNotAvailable,
    PuppyNotFound,
    PuppyWentHome,
    ValidationFailed,
)
from kennel.core.metrics import HOLDS
from kennel.core.models import AuditLog, SideEffect, audit
from kennel.core.outbox import outbox_enqueue
from kennel.core.text import one_line_break
from kennel.reservations import waitlist
from kennel.reservations.buyers import Buyer, buyer_columns
from kennel.reservations.effects import CONFIRMED, Effect
from kennel.reservations.limits import HOLD_LIMIT_REACHED, hold_limits_check, hold_links_enqueue
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.selectors import OTHER_APPROVAL_NOT_CAPTURED
from kennel.reservations.tracking import Tracking

S = Reservation.Status
R = Reservation.Reason
P = Puppy.Status

# Which status may follow which: target <- the statuses it may come from.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PROCESSING: frozenset({S.PENDING}),
    S.CONFIRMED: frozenset({S.PENDING, S.PROCESSING}),
    S.EXPIRED: frozenset({S.PENDING}),
    # A buyer cancels only a pending hold (reservation_release); the breeder also a processing one.
    S.CANCELLED: frozenset({S.PENDING, S.PROCESSING}),
    S.RELEASED: frozenset({S.PENDING, S.PROCESSING}),
    S.COMPLETED: frozenset({S.CONFIRMED}),
    S.REFUNDED: frozenset({S.CONFIRMED, S.COMPLETED}),
}
# A payment that arrives after its hold ended confirms it all the same while the puppy is free.
LATE_CONFIRMABLE = frozenset({S.EXPIRED, S.CANCELLED, S.RELEASED})

SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")

FAMILY_CHOOSING_MESSAGE = gettext_noop(
    "A family on our waiting list is choosing its puppy now, and this one is among those "
    "offered to it: it cannot be reserved in the shop until that family has chosen."
)


# The tables by name, as the database triggers name them (reservations/migrations/0002).
_EARLY_REFUSAL_SQL = """
SELECT p.id, p.litter_id, p.status, EXISTS (
    SELECT 1 FROM reservations_reservation r
    WHERE r.puppy_id = p.id AND r.status = %s AND r.expires_at <= %s
)
FROM catalogue_puppy p
WHERE p.slug = %s AND p.is_published
"""


def _early_read(puppy_slug: str) -> tuple[int, int | None]:
    """hold_refused_early's read: (the puppy's id, its litter's id) or a refusal.

    Written out once: building the ORM's version of it (a correlated EXISTS, and the model's
    ordering joining the litter for .first()) cost more than the read itself, on the path
    every losing buyer of a flash sale takes (make bench). Whether the family choosing now
    could choose the puppy is asked only of a puppy that is free, in a second read: a taken
    puppy's many losers never pay for it (asked in this read, its planning alone cost
    PostgreSQL ~0.15 ms more for each of them)."""
    if not SLUG_RE.fullmatch(puppy_slug or ""):
        raise PuppyNotFound()
    with connection.cursor() as cursor:
        cursor.execute(_EARLY_REFUSAL_SQL, [S.PENDING, timezone.now(), puppy_slug])
        found = cursor.fetchone()
    if found is None:
        raise PuppyNotFound()
    puppy_id, litter_id, status, lapsed = found
    # Free, or held by a hold past its time that the hold releases.
    if status == P.AVAILABLE or (status == P.HELD and lapsed):
        if litter_id is None or not _family_could_choose(puppy_id):
            return int(puppy_id), litter_id
        HOLDS.labels("lost").inc()
        raise PuppyNotAvailable(FAMILY_CHOOSING_MESSAGE)
    HOLDS.labels("lost").inc()
    raise PuppyNotAvailable()


def _family_could_choose(puppy_id: int, *, free: bool = False) -> bool:
    """Whether the family choosing now on the puppy's litter could choose it (its turn
    comes first); with `free`, and the puppy is available now."""
    puppies = Puppy.objects.filter(waitlist.choosing_could_choose(), pk=puppy_id)
    return (puppies.filter(status=P.AVAILABLE) if free else puppies).exists()


def hold_refused_early(*, puppy_slug: str) -> int:
    """Refuse at once a hold that cannot win — one indexed read, no lock, no write — so that
    in a flash sale the many who lose cost little: raise PuppyNotFound (no such published
    puppy) or PuppyNotAvailable (reserved, sold, held by a hold still in its time, or one
    the family choosing now on its litter could choose: FAMILY_CHOOSING_MESSAGE). Returns
    the puppy's id otherwise.

    It may only refuse, never grant: a puppy that is available, or held by a hold past its
    time (the next hold releases it), goes on to reservation_hold, whose conditional UPDATE
    alone decides. A hold that ends just after this read is refused as if asked a moment
    earlier."""
    return _early_read(puppy_slug)[0]


def reservation_hold(
    *,
    puppy_slug: str,
    buyer: Buyer,
    provider: str,
    tracking: Tracking | None = None,
    client: str = "",
) -> Reservation:
    """Hold a puppy for a buyer: one conditional UPDATE decides the winner.

    An expired pending hold on the same puppy is released first, in the same transaction, so
    an abandoned checkout never blocks the next buyer. `tracking` is the buyer's analytics
    context (kept only with their consent); `client` the asking client's key (limits.py), for
    the hold limits. Raises PuppyNotFound, PuppyNotAvailable, HoldRefused (refused for the
    email's own holds, it first emails their links: limits.hold_links_enqueue).
    """
    tracking = tracking if tracking and tracking.consent else Tracking()
    if provider not in Reservation.Provider.values:
        raise ValidationFailed({"provider": [gettext_noop("Please choose Stripe or PayPal.")]})
    # The puppy looked up by the early read, though the callers read before: in a flash sale
    # the buyers who passed theirs while another's hold was being written, then waited for a
    # provider slot (checkout_start), mostly find the puppy taken by now and lose here for one
    # read, not the limits, the expiry and the UPDATE (500 buyers on 10 puppies: p99 -15 %).
    # So a taken puppy is answered PuppyNotAvailable before any hold limit is counted.
    puppy_id, litter_id = _early_read(puppy_slug)
    now = timezone.now()
    try:
        with locked_transaction():
            hold_limits_check(email=buyer.email, client=client, puppy_id=puppy_id, now=now)
            if litter_id is not None:
                _litter_share_lock(litter_id)
            _expire_overdue_holds(puppy_id=puppy_id, now=now)
            # Not a puppy the family choosing now could choose: its turn comes first.
            free = Puppy.objects.filter(pk=puppy_id, status=P.AVAILABLE).exclude(
                waitlist.choosing_could_choose()
            )
            won = free.update(status=P.HELD, updated_at=now)
            if not won:
                HOLDS.labels("lost").inc()
                raise PuppyNotAvailable(_lost_because(puppy_id, litter_id))
            puppy = Puppy.objects.get(pk=puppy_id)
            reservation = Reservation.objects.create(
                puppy=puppy,
                deposit_amount=puppy.deposit,
                price_amount=puppy.price,
                currency=puppy.currency,
                provider=provider,
                status=S.PENDING,
                expires_at=now + timedelta(minutes=settings.HOLD_MINUTES),
                **buyer_columns(buyer=buyer, tracking=tracking, client=client),
            )
            audit("reservations.reservation.held", actor="buyer", obj=reservation, puppy=puppy.slug)
    except HoldRefused as refused:
        if refused.code == HOLD_LIMIT_REACHED:
            # The refusal says the link was emailed: written now the refused hold is undone.
            hold_links_enqueue(email=buyer.email, now=now)
        raise
    HOLDS.labels("won").inc()
    return reservation


def _lost_because(puppy_id: int, litter_id: int | None) -> str:
    """Why a hold that passed the early read lost at its UPDATE: a family's turn opened
    meanwhile (the puppy still free, the family could choose it), or someone else took it."""
    if litter_id is not None and _family_could_choose(puppy_id, free=True):
        return FAMILY_CHOOSING_MESSAGE
    return PUPPY_NOT_AVAILABLE_MESSAGE


def _litter_share_lock(litter_id: int, *, nowait: bool = False) -> None:
    """Wait for a turn being opened or ended on the litter (the pick order holds its row
    locked) and keep one from starting until this hold commits, so the hold's UPDATE and the
    turn each see the other (a hold and a turn opening never both win). KEY SHARE: holds on
    the litter's puppies do not wait for one another. SQLite serialises its writers anyway.
    `nowait`: a turn being changed now raises Busy at once instead of being waited for."""
    if is_postgres():
        sql = "SELECT 1 FROM catalogue_litter WHERE id = %s FOR KEY SHARE"
        with connection.cursor() as cursor:
            try:
                cursor.execute(f"{sql} NOWAIT" if nowait else sql, [litter_id])
            except OperationalError as exc:
                if nowait:  # the transaction is spoilt: the caller's retry starts afresh
                    raise Busy() from exc
                raise


def _expire_overdue_holds(
    *, puppy_id: int, now: datetime, keep: uuid.UUID | None = None
) -> Reservation | None:
    """Expire the puppy's pending holds past their time (all but `keep`, which is locked too,
    by the same statement), in primary-key order: the order every path locks a puppy's
    reservations in. Returns `keep`'s reservation, locked (None without `keep`)."""
    due = Q(puppy_id=puppy_id, status=S.PENDING, expires_at__lte=now)
    locked = list(
        Reservation.objects.select_for_update()
        .filter(due | Q(pk=keep) if keep else due)
        .order_by("pk")
    )
    for reservation in locked:
        if reservation.pk != keep:
            _move(reservation, S.EXPIRED, actor="system:hold-expiry", reason=R.HOLD_EXPIRED)
    return next((r for r in locked if r.pk == keep), None)


def litter_holds_expire_overdue(*, litter_id: int, now: datetime) -> None:
    """Invariant 7 for a litter's pick order: the shop holds on its puppies past their time
    are expired (in this transaction) before a family is offered or picks one, so a hold
    nobody paid never hides a puppy from a family or gets it skipped."""
    due = Reservation.objects.filter(
        puppy__litter_id=litter_id, status=S.PENDING, expires_at__lte=now
    ).values_list("puppy_id", flat=True)
    for puppy_id in sorted({p for p in due if p is not None}):
        _expire_overdue_holds(puppy_id=puppy_id, now=now)


def lock_for_payment(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Lock a reservation a payment names, then its puppy, inside the caller's transaction.
    Raises Reservation.DoesNotExist when there is no such reservation.

    Other holds on the puppy that are past their time are released first, under the same
    locks, so a late payment is never refused for a hold the sweep has not reached yet.
    """
    keep = uuid.UUID(str(reservation_id))
    row = Reservation.objects.values_list("puppy_id", "puppy__litter_id", "status").get(pk=keep)
    puppy_id, litter_id, status = row
    if puppy_id is None:  # a waiting list's deposit: its litter is locked when it is placed
        return _lock(keep)
    if litter_id is not None and status not in Reservation.ACTIVE:
        # A late payment (reservation_confirm_late) and a turn opening see each other, as a
        # hold and a turn do. Not for a payment in time: its puppy is its own already (and
        # a hold closed between this read and the lock is seen to below).
        _litter_share_lock(litter_id)
    reservation = _expire_overdue_holds(puppy_id=puppy_id, now=timezone.now(), keep=keep)
    if reservation is None:  # deleted since the read above (the admin): as if never there
        raise Reservation.DoesNotExist(f"reservation {keep} is gone")
    closed_since = status in Reservation.ACTIVE and reservation.status not in Reservation.ACTIVE
    if litter_id is not None and closed_since:
        # Closed between the read and its lock (the sweep, a cancel): a late payment after
        # all, which must see a turn as above. The litter's lock comes before the
        # reservation's, so it is only taken if free now; else Busy, and the retry takes it
        # first (a turn being changed waits for this reservation: never both wait).
        _litter_share_lock(litter_id, nowait=True)
    Puppy.objects.select_for_update().get(pk=puppy_id)
    return reservation


def _lock(reservation_id: uuid.UUID | str) -> Reservation:
    return Reservation.objects.select_for_update().get(pk=reservation_id)


def _move(reservation: Reservation, to: str, *, actor: str, reason: str = R.NONE) -> bool:
    """The one place a reservation's status changes: checked against TRANSITIONS, closed
    reservations free their puppy, audited, and the outbox work written. Caller holds the
    reservation's lock. Returns False, changing nothing, when `to` may not follow."""
    if reservation.status not in TRANSITIONS[to]:
        return False
    was_active = reservation.status in Reservation.ACTIVE
    now = timezone.now()
    reservation.status = to
    reservation.status_reason = reason
    fields = ["status", "status_reason", "updated_at"]
    if to not in Reservation.ACTIVE:
        reservation.closed_at = now
        fields.append("closed_at")
    reservation.save(update_fields=fields)
    if was_active and to not in Reservation.ACTIVE and reservation.puppy_id is not None:
        # Picked up: the puppy is sold. Any other end of an active reservation frees it.
        Puppy.objects.filter(pk=reservation.puppy_id, status__in=[P.HELD, P.RESERVED]).update(
            status=P.SOLD if to == S.COMPLETED else P.AVAILABLE, updated_at=now
        )
    audit(f"reservations.reservation.{to}", actor=actor, obj=reservation, reason=reason)
    if reservation.puppy_id is None and to not in Reservation.ACTIVE:
        waitlist.deposit_closed(reservation, actor=actor)
    _enqueue_effects(reservation, was_active=was_active)
    return True


def _enqueue_effects(reservation: Reservation, *, was_active: bool) -> None:
    """What the change to the reservation's current status owes. A hold cancelled by the
    buyer (or that could not open) needs no email: they saw it."""
    status, reason = reservation.status, reservation.status_reason
    kinds: list[str] = []
    if status == S.PROCESSING:
        kinds = [Effect.BUYER_PROCESSING]
    elif status == S.EXPIRED:
        kinds = [Effect.BUYER_EXPIRED]
    elif status == S.RELEASED and reason == R.PAYMENT_FAILED:
        kinds = [Effect.BUYER_FAILED]
    elif status == S.CANCELLED and reason == R.OWNER_RELEASED:
        kinds = [Effect.BUYER_RELEASED]
    elif status == S.REFUNDED and reason == R.OWNER_KEPT:
        kinds = [Effect.BUYER_KEPT]  # no refund, so none of a refund's emails
    # A refund's emails go with its Refund row (payments), one per refund, whoever made it.
    if kinds:
        outbox_enqueue(kinds=kinds, subject=reservation, reservation_id=reservation.pk)
    closed = was_active and status not in Reservation.ACTIVE
    if closed and reservation.provider_reference and status != S.REFUNDED:
        # Nobody may pay this checkout any more (a payment after this is a late payment).
        outbox_enqueue(
            kinds=[Effect.CHECKOUT_CLOSE],
            subject=reservation,
            reservation_id=reservation.pk,
            recipient=reservation.provider,
        )


def refund_notices_enqueue(
    *,
    reservation: Reservation,
    payment_id: str,
    amount: Decimal,
    currency: str,
    reason: str,
    key: str = "",
) -> None:
    """Tell buyer and owner of a refund, in the transaction that records it. Keyed by `key`
    (default: the refunded `payment_id`) — the payment for an automatic refund (told once
    however it is reached), the refund itself for one the breeder made (each partial refund
    is news)."""
    outbox_enqueue(
        kinds=[Effect.BUYER_REFUND, Effect.OWNER_REFUND],
        subject=reservation,
        reservation_id=reservation.pk,
        discriminator=key or payment_id,
        data={
            "amount": str(amount),
            "currency": currency,
            "reason": reason,
            "payment_id": payment_id,
        },
    )


def reservation_release(
    *, reservation_id: uuid.UUID | str, status: str, actor: str, reason: str
) -> bool:
    """Close a pending (or processing) reservation: expired, cancelled or released.

    Returns False, changing nothing, when the reservation is no longer open to that change.
    """
    if status not in (S.EXPIRED, S.CANCELLED, S.RELEASED):
        raise ValueError(f"reservation_release cannot move a reservation to {status!r}")
    with locked_transaction():
        reservation = _lock(reservation_id)
        if status == S.CANCELLED and reservation.status != S.PENDING:
            return False  # a started payment is the breeder's to release, not the buyer's
        return _move(reservation, status, actor=actor, reason=R(reason))


def reservations_expire_due(*, now: datetime | None = None) -> int:
    """The periodic sweep: expire every pending hold past its time. Returns how many."""
    now = now or timezone.now()
    ids = list(
        Reservation.objects.filter(status=S.PENDING, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    done = 0
    for reservation_id in ids:
        with locked_transaction():
            reservation = _lock(reservation_id)
            if reservation.status == S.PENDING and reservation.expires_at <= now:
                done += _move(
                    reservation, S.EXPIRED, actor="system:expire_holds", reason=R.HOLD_EXPIRED
                )
    return done


# Starting a checkout takes at most a few provider timeouts (PROVIDER_TIMEOUT_SECONDS, 15 s by
# default, and the clients' retries: under ~1.5 minutes). A pending hold still without a
# checkout reference after this was abandoned half-way, not slow.
STRANDED_AFTER = timedelta(minutes=2)


def reservations_release_stranded(
    *, now: datetime | None = None, older_than: timedelta = STRANDED_AFTER
) -> int:
    """The periodic sweep for holds whose checkout start died half-way (the process killed,
    or the database gone even for the release that follows a failure): cancel every pending
    hold with no checkout reference older than `older_than`, freeing its puppy. Returns how
    many.

    Such a hold may still have a checkout at the provider whose reference we never stored
    (created, then our write was lost). Nobody was ever sent to it; a payment made on it all
    the same names this reservation and takes the late-payment path: confirmed if the puppy is
    still free, refunded otherwise.
    """
    now = now or timezone.now()
    ids = list(
        Reservation.objects.filter(
            status=S.PENDING, provider_reference__isnull=True, created_at__lte=now - older_than
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    done = 0
    for reservation_id in ids:
        with locked_transaction():
            reservation = _lock(reservation_id)
            if reservation.status == S.PENDING and reservation.provider_reference is None:
                done += _move(
                    reservation,
                    S.CANCELLED,
                    actor="system:release_stranded",
                    reason=R.CHECKOUT_NOT_STARTED,
                )
    return done


def reservation_set_checkout(*, reservation: Reservation, reference: str, url: str = "") -> None:
    """Remember the provider's checkout reference and page on the reservation (first one
    wins): the buyer who left the page can go back to it while the hold lasts."""
    Reservation.objects.filter(pk=reservation.pk, provider_reference__isnull=True).update(
        provider_reference=reference, checkout_url=url, updated_at=timezone.now()
    )
    if reservation.provider_reference is None:
        reservation.provider_reference = reference
        reservation.checkout_url = url


# --- transitions driven by payments: payments/fulfilment.py decides, under lock_for_payment ---


def reservation_mark_processing(reservation: Reservation, *, actor: str) -> bool:
    """pending -> processing: an asynchronous payment method started."""
    return _move(reservation, S.PROCESSING, actor=actor)


def reservation_confirm(reservation: Reservation, *, payment_id: str, actor: str) -> bool:
    """pending/processing -> confirmed: the deposit is paid. The puppy is marked reserved
    first (the database trigger checks it). False when it cannot be (a list deposit whose
    litter closed its picking meanwhile): the caller refunds the payment."""
    if reservation.status not in TRANSITIONS[S.CONFIRMED]:
        return False
    if reservation.puppy_id is None:
        return _confirm_list_deposit(reservation, payment_id=payment_id, actor=actor, late=False)
    return _confirm(reservation, payment_id=payment_id, actor=actor, puppy_from=P.HELD)


def reservation_confirm_late(reservation: Reservation, *, payment_id: str, actor: str) -> bool:
    """expired/cancelled/released -> confirmed: the payment came after the hold ended and
    the puppy is still free. False (nothing changed) when someone else has it now, or the
    family choosing now on the waiting list could choose it (its turn comes first)."""
    if reservation.status not in LATE_CONFIRMABLE:
        return False
    if reservation.puppy_id is None:
        # The litter locked first, so two late deposits cannot both take the last place.
        waitlist.litter_lock_of(reservation)
        if not waitlist.deposit_confirmable(reservation):
            return False  # the list closed or filled meanwhile: refunded by the caller
        return _confirm_list_deposit(reservation, payment_id=payment_id, actor=actor, late=True)
    return _confirm(reservation, payment_id=payment_id, actor=actor, puppy_from=P.AVAILABLE)


def _confirm_list_deposit(
    reservation: Reservation, *, payment_id: str, actor: str, late: bool
) -> bool:
    """A waiting list's deposit is paid: confirmed without a puppy, and the family placed on
    the list (waitlist.deposit_confirmed, under the litter's lock). False, changing nothing,
    when the litter's picking has closed for good: no turn could ever come (refunded by the
    caller)."""
    # The litter first: the places are given, and confirmed_at stamped, in one order.
    litter = waitlist.litter_lock_of(reservation)
    if litter.picking == litter.Picking.CLOSED:
        return False
    _mark_confirmed(reservation, payment_id=payment_id, actor=actor, late=late)
    waitlist.deposit_confirmed(reservation, actor=actor)
    return True


def _mark_confirmed(reservation: Reservation, *, payment_id: str, actor: str, late: bool) -> None:
    reservation.status = S.CONFIRMED
    reservation.status_reason = R.LATE_PAYMENT_ACCEPTED if late else R.NONE
    reservation.external_payment_id = payment_id
    reservation.confirmed_at = timezone.now()
    reservation.closed_at = None
    reservation.save(
        update_fields=[
            "status",
            "status_reason",
            "external_payment_id",
            "confirmed_at",
            "closed_at",
            "updated_at",
        ]
    )
    audit("reservations.reservation.confirmed", actor=actor, obj=reservation, late=late)


def _confirm(reservation: Reservation, *, payment_id: str, actor: str, puppy_from: str) -> bool:
    now = timezone.now()
    if reservation.puppy_id is None:
        return False  # a list deposit: _confirm_list_deposit
    takes = Puppy.objects.filter(pk=reservation.puppy_id, status=puppy_from)
    if puppy_from == P.AVAILABLE:  # a late payment: the family choosing now comes first
        takes = takes.exclude(waitlist.choosing_could_choose())
    moved = takes.update(status=P.RESERVED, updated_at=now)
    if not moved:
        return False
    _mark_confirmed(reservation, payment_id=payment_id, actor=actor, late=puppy_from == P.AVAILABLE)
    outbox_enqueue(
        kinds=CONFIRMED,
        subject=reservation,
        reservation_id=reservation.pk,
    )
    return True


def reservation_payment_failed(reservation: Reservation, *, actor: str, reason: str) -> bool:
    """pending/processing -> released: the payment failed (`payment_failed`) or was not the
    deposit (`amount_mismatch`, refunded by payments)."""
    return _move(reservation, S.RELEASED, actor=actor, reason=R(reason))


def reservation_checkout_expired(reservation: Reservation, *, actor: str) -> bool:
    """pending -> expired: the provider's checkout expired unpaid."""
    return _move(reservation, S.EXPIRED, actor=actor, reason=R.CHECKOUT_EXPIRED)


def reservation_refunded(reservation: Reservation, *, actor: str) -> bool:
    """confirmed/completed -> refunded: the deposit went back (at the provider, in full)."""
    return _move(reservation, S.REFUNDED, actor=actor, reason=R.REFUNDED)


def reservation_paid_too_late(reservation: Reservation, *, actor: str) -> bool:
    """pending/processing -> released: paid in time, but what it was for is gone (a list
    whose picking closed for good meanwhile); its payment is being refunded."""
    return _move(reservation, S.RELEASED, actor=actor, reason=R.LATE_PAYMENT_REFUNDED)


def reservation_late_payment_refunded(reservation: Reservation, *, actor: str) -> None:
    """A closed hold's late payment is being refunded (the puppy was taken): say so on it."""
    reservation.status_reason = R.LATE_PAYMENT_REFUNDED
    reservation.save(update_fields=["status_reason", "updated_at"])
    audit("reservations.reservation.late_payment_refunded", actor=actor, obj=reservation)


def reservation_place_gone(reservation: Reservation) -> bool:
    """Whether a payment of this deposit arriving now would only be refunded because what it
    pays for is gone — as reservation_confirm and reservation_confirm_late would answer it:
    a closed hold's puppy held, reserved or sold by someone else, or one the family choosing
    now on the waiting list could choose; a closed list deposit's
    list full or closed; a list deposit's picking closed for good. Caller holds
    lock_for_payment's locks (the litter's is taken here, as confirming takes it). Changes
    nothing; any other reservation (paid already, or its puppy held for it) is False."""
    if reservation.puppy_id is None:
        if reservation.status in TRANSITIONS[S.CONFIRMED]:
            return waitlist.litter_lock_of(reservation).picking == Litter.Picking.CLOSED
        if reservation.status in LATE_CONFIRMABLE:
            waitlist.litter_lock_of(reservation)
            return not waitlist.deposit_confirmable(reservation)
        return False
    if reservation.status not in LATE_CONFIRMABLE:
        return False
    free = Puppy.objects.filter(pk=reservation.puppy_id, status=P.AVAILABLE)
    return not free.exclude(waitlist.choosing_could_choose()).exists()


def reservation_approval_not_captured(reservation: Reservation, *, actor: str) -> bool:
    """A payment approved when what it pays for was gone (reservation_place_gone) is not
    captured: say so on the reservation — a list deposit still waiting for it is released —
    and its approval lapses at the provider. Nothing was charged, so no email is owed: the
    buyer who comes back reads it on their page. False when it was said already."""
    if reservation.status_reason == R.APPROVAL_NOT_CAPTURED:
        return False
    if reservation.status in Reservation.ACTIVE:
        return _move(reservation, S.RELEASED, actor=actor, reason=R.APPROVAL_NOT_CAPTURED)
    reservation.status_reason = R.APPROVAL_NOT_CAPTURED
    reservation.save(update_fields=["status_reason", "updated_at"])
    audit("reservations.reservation.approval_not_captured", actor=actor, obj=reservation)
    return True


def reservation_other_approval_not_captured(
    reservation: Reservation, *, reference: str, actor: str
) -> bool:
    """A payment approved on another checkout than this reservation's own (`reference`: a
    second PayPal order naming it, or an older one) is not captured: it could only be
    refunded as a duplicate. The reservation stays as it is — its own payment, paid or not,
    is what its page and the back office say — and an audit line, once per checkout, lets
    the buyer's page say that this payment was not taken. Nothing was charged, so no email
    is owed. False when it was said already. Caller holds the lock."""
    said = AuditLog.objects.filter(
        action=OTHER_APPROVAL_NOT_CAPTURED, object_id=str(reservation.pk), data__reference=reference
    )
    if said.exists():
        return False
    audit(OTHER_APPROVAL_NOT_CAPTURED, actor=actor, obj=reservation, reference=reference)
    return True


def reservation_adopt_checkout(reservation: Reservation, *, reference: str) -> None:
    """A payment names this reservation's checkout before we stored its reference (the
    provider answered, then our write was lost): keep it. Caller holds the lock."""
    if reservation.provider_reference is None and reference:
        reservation.provider_reference = reference
        reservation.save(update_fields=["provider_reference", "updated_at"])


# --- the breeder's actions from the back office: each guarded, locked, audited by name ---


def reservation_mark_picked_up(*, reservation_id: uuid.UUID | str, actor: str) -> bool:
    """confirmed -> completed: the puppy went home with its family and is sold. False,
    changing nothing, when the reservation is not (or no longer) confirmed."""
    with locked_transaction():
        reservation = _lock(reservation_id)
        if reservation.puppy_id is None:
            return False  # a waiting list's deposit: its family has not picked a puppy yet
        Puppy.objects.select_for_update().get(pk=reservation.puppy_id)
        return _move(reservation, S.COMPLETED, actor=actor, reason=R.PICKED_UP)


def reservation_release_hold(*, reservation_id: uuid.UUID | str, actor: str) -> bool:
    """pending/processing -> cancelled by the breeder: the puppy is free at once, the
    provider's checkout is closed by the worker and the buyer is told. A payment that still
    arrives takes the late-payment path (confirmed if the puppy is free, else refunded)."""
    with locked_transaction():
        reservation = _lock(reservation_id)
        if reservation.puppy_id is not None:
            Puppy.objects.select_for_update().get(pk=reservation.puppy_id)
        return _move(reservation, S.CANCELLED, actor=actor, reason=R.OWNER_RELEASED)


def reservation_owner_refunded(
    reservation: Reservation,
    *,
    actor: str,
    partial: bool,
    puppy_available: bool,
    kept_all: bool = False,
) -> bool:
    """confirmed/completed -> refunded by the breeder (payments/owner.py sends the money,
    under this reservation's lock), or ended with the whole deposit kept (`kept_all`: the
    buyer is told). The puppy is on sale again, or taken off sale."""
    reason = R.OWNER_KEPT if kept_all else R.OWNER_REFUNDED_PART if partial else R.OWNER_REFUNDED
    if not _move(reservation, S.REFUNDED, actor=actor, reason=reason):
        return False
    if not puppy_available and reservation.puppy_id is not None:
        _puppy_publish(reservation.puppy_id, published=False, actor=actor)
    return True


def reservation_resend_confirmation(
    *, reservation_id: uuid.UUID | str, actor: str, request_key: str
) -> bool:
    """Send the buyer's confirmation email again. One `request_key` (the confirmation form's
    token) sends once, however often it is posted. False when the reservation holds no
    confirmed deposit, or this request was already sent."""
    with locked_transaction():
        reservation = _lock(reservation_id)
        if reservation.status != S.CONFIRMED or reservation.erased_at:
            return False
        created = outbox_enqueue(
            kinds=[Effect.BUYER_CONFIRMATION],
            subject=reservation,
            reservation_id=reservation.pk,
            discriminator=f"resend:{request_key}",
        )
        if created:
            audit("reservations.reservation.confirmation_resent", actor=actor, obj=reservation)
        return bool(created)


def reservation_set_notes(*, reservation_id: uuid.UUID | str, notes: str, actor: str) -> bool:
    """Keep the breeder's internal notes on a reservation (never shown to the buyer). Only
    that column is written, so a status changed meanwhile stands. False when unchanged."""
    notes = one_line_break(notes).strip()
    with locked_transaction():
        reservation = _lock(reservation_id)
        if reservation.notes == notes:
            return False
        reservation.notes = notes
        reservation.save(update_fields=["notes", "updated_at"])
        audit("reservations.reservation.notes_changed", actor=actor, obj=reservation)
    return True


def puppy_take_off_sale(*, puppy_id: int, actor: str) -> bool:
    """Hide a puppy from the shop (its page and the catalogue). A hold or deposit on it
    stands. False when it was already off sale."""
    with locked_transaction():
        Puppy.objects.select_for_update().get(pk=puppy_id)
        return _puppy_publish(puppy_id, published=False, actor=actor)


def puppy_put_on_sale(*, puppy_id: int, actor: str) -> bool:
    """Show a puppy in the shop again; a sold puppy whose sale was refunded becomes available.
    A hold or deposit on it stands (it is only shown again). Raises PuppyWentHome while a
    reservation of it is completed: its family has it, and a puppy is never sold twice (a
    puppy that came back goes on sale once that sale is refunded). False when it was already
    on sale and available."""
    with locked_transaction():
        puppy = Puppy.objects.select_for_update().get(pk=puppy_id)
        if Reservation.objects.filter(puppy_id=puppy_id, status=S.COMPLETED).exists():
            raise PuppyWentHome()
        if Reservation.objects.filter(puppy_id=puppy_id, status__in=Reservation.ACTIVE).exists():
            if puppy.is_published:
                return False
            return _puppy_publish(puppy_id, published=True, actor=actor)
        changed = False
        if puppy.status != P.AVAILABLE:
            Puppy.objects.filter(pk=puppy_id).update(status=P.AVAILABLE, updated_at=timezone.now())
            audit("catalogue.puppy.available", actor=actor, obj=puppy, was=puppy.status)
            changed = True
        return _puppy_publish(puppy_id, published=True, actor=actor) or changed


def _puppy_publish(puppy_id: int, *, published: bool, actor: str) -> bool:
    changed = Puppy.objects.filter(pk=puppy_id, is_published=not published).update(
        is_published=published, updated_at=timezone.now()
    )
    if changed:
        puppy = Puppy.objects.get(pk=puppy_id)
        action = "on_sale" if published else "off_sale"
        audit(f"catalogue.puppy.{action}", actor=actor, obj=puppy)
    return bool(changed)


ERASED = "erased"


def reservation_erase_buyer(reservation: Reservation, *, actor: str) -> bool:
    """Replace the buyer's personal data on a closed reservation (GDPR erasure); amounts,
    statuses and the audit trail stay. Caller holds the lock and checks it is closed. The
    outbox rows addressed to the buyer lose their address too. False when already erased."""
    if reservation.erased_at is not None:
        return False
    email = reservation.buyer_email
    reservation.buyer_name = "Erased buyer"
    reservation.buyer_email = f"{ERASED}-{reservation.pk.hex[:12]}@invalid.example"
    reservation.buyer_phone = ERASED
    reservation.client_ip = None
    reservation.client_user_agent = ""
    reservation.ga_client_id = reservation.fbp = reservation.fbc = ""
    reservation.event_source_url = ""
    reservation.erased_at = timezone.now()
    reservation.save()
    # A waiting list family's own words (its wishes' notes) may name and locate them.
    WaitlistEntry.objects.filter(reservation=reservation).exclude(notes="").update(
        notes="", updated_at=reservation.erased_at
    )
    SideEffect.objects.filter(reservation_id=reservation.pk, recipient__iexact=email).update(
        recipient=reservation.buyer_email,
        dedup_key=Replace("dedup_key", Value(email.strip().lower()), Value(ERASED)),
        updated_at=timezone.now(),
    )
    audit("reservations.reservation.buyer_erased", actor=actor, obj=reservation)
    return True
