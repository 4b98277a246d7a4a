"""What a payment means for a reservation: the one fulfilment shared by webhooks and return URLs.

Fulfilment decides what a payment means; the reservation services (the state machine) make
every change, each guarded by the reservation's current state under a row lock, so running
it again — a duplicate event, the return URL after the webhook — changes nothing and sends
nothing. Every captured payment ends as a confirmed reservation or a refund (invariant 3),
and an approved one that could only be refunded — an orphan, a second order, a late one whose
puppy is gone — is not captured at all (payment_approval_refuse).
"""

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kennel.core.db import locked_transaction
from kennel.core.models import audit
from kennel.core.outbox import outbox_enqueue
from kennel.payments.models import PaymentWork, Refund
from kennel.payments.providers import PaymentSnapshot, PaymentState, reservation_id_or_none
from kennel.reservations import picking
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
S = Reservation.Status
R = Reservation.Reason


def payment_apply(*, snapshot: PaymentSnapshot, actor: str) -> Reservation | None:
    """Apply the provider's current view of a payment to its reservation.

    Returns the reservation (after the change), or None when the payment names no
    reservation of ours (an orphan payment is refunded when it was captured).
    """
    reservation_id = reservation_id_or_none(snapshot.reservation_id)
    with locked_transaction():
        reservation = _lock_named(reservation_id)
        if reservation is None:
            refunds_record(None, snapshot, actor=actor)
            if snapshot.state == PaymentState.PAID:
                _refund(None, snapshot, Refund.Reason.DUPLICATE_PAYMENT, actor=actor)
            return None
        foreign = _another_checkout(reservation, snapshot)
        refunds_record(reservation, snapshot, actor=actor)
        if snapshot.state == PaymentState.PAID:
            _apply_paid(reservation, snapshot, actor=actor, foreign=foreign)
        elif foreign:
            pass  # another checkout naming this reservation: only its money matters
        elif snapshot.state == PaymentState.PROCESSING:
            reservations.reservation_mark_processing(reservation, actor=actor)
        elif snapshot.state == PaymentState.FAILED:
            reservations.reservation_payment_failed(
                reservation, actor=actor, reason=R.PAYMENT_FAILED
            )
        elif snapshot.state == PaymentState.EXPIRED:
            reservations.reservation_checkout_expired(reservation, actor=actor)
        elif snapshot.state == PaymentState.REFUNDED:
            _apply_refunded(reservation, snapshot, actor=actor)
    return reservation


@dataclass(frozen=True)
class ApprovalRefused:
    """An approved payment left uncaptured (payment_approval_refuse): `reservation` as it
    now stands, None when the payment names none of ours."""

    reservation: Reservation | None


def payment_approval_refuse(*, snapshot: PaymentSnapshot, actor: str) -> ApprovalRefused | None:
    """Before an approved payment is captured (PayPal takes nothing until then): when
    payment_apply would only refund it, it is not captured, and its order lapses at the
    provider. That is when it names no reservation of ours (an orphan); when it is another
    checkout than its reservation's own (a second order naming it: a duplicate payment) or
    for another amount or currency than its deposit (made outside the shop, or changed); or
    when what it pays for is gone — the hold ended and its puppy is someone else's, the
    waiting list has no place left. Returns ApprovalRefused then; None when the payment is
    to be captured.

    A second order leaves its reservation as it is — its own payment, paid or not, is what
    it says — with an audit line the buyer's page reads
    (reservation_other_approval_not_captured). A gone place is said on the reservation for
    good (reservation_approval_not_captured): the buyer was told nothing was charged, so
    its approval is never captured later, even once the puppy is free again.

    An early answer only: a puppy taken between it and the capture still ends as any late
    payment, refunded by payment_apply.
    """
    reservation_id = reservation_id_or_none(snapshot.reservation_id)
    with locked_transaction():
        reservation = _lock_named(reservation_id)
        if reservation is None:
            log.info("approval of %s not captured: it names no reservation", snapshot.reference)
            return ApprovalRefused(None)
        if not _as_asked(reservation, snapshot) or _another_checkout(reservation, snapshot):
            reservations.reservation_other_approval_not_captured(
                reservation, reference=snapshot.reference, actor=actor
            )
            return ApprovalRefused(reservation)
        if reservation.status_reason == R.APPROVAL_NOT_CAPTURED:
            return ApprovalRefused(reservation)
        if reservation.status_reason == R.LATE_PAYMENT_REFUNDED:
            # Captured meanwhile by another path (the race above): its capture is replayed
            # under the same key and payment_apply finds it refunded already.
            return None
        if not reservations.reservation_place_gone(reservation):
            return None
        reservations.reservation_approval_not_captured(reservation, actor=actor)
    log.info("approval of %s not captured: its puppy or place is gone", reservation.pk)
    return ApprovalRefused(reservation)


def _as_asked(reservation: Reservation, snapshot: PaymentSnapshot) -> bool:
    """Whether the payment is for the reservation's deposit, in its currency (invariant 4:
    the server's amount or nothing); anything else payment_apply would only refund."""
    paid = (snapshot.amount, (snapshot.currency or "").upper())
    return paid == (reservation.deposit_amount, reservation.currency.upper())


def _another_checkout(reservation: Reservation, snapshot: PaymentSnapshot) -> bool:
    """Whether the payment is another checkout than the reservation's own (a second order
    naming it), whose money payment_apply refunds as a duplicate. A reservation whose
    checkout reference we never stored (the provider answered, our write was lost) adopts
    this one first. Caller holds the reservation's lock."""
    reservations.reservation_adopt_checkout(reservation, reference=snapshot.reference)
    return bool(snapshot.reference) and snapshot.reference != reservation.provider_reference


def _lock_named(reservation_id: str | None) -> Reservation | None:
    """The reservation a payment names, locked with its puppy (lock_for_payment); None when
    it names none of ours. One read fewer than asking first whether it exists."""
    if reservation_id is None:
        return None
    try:
        return reservations.lock_for_payment(reservation_id=reservation_id)
    except Reservation.DoesNotExist:
        return None


def _apply_paid(
    reservation: Reservation, snapshot: PaymentSnapshot, *, actor: str, foreign: bool
) -> None:
    payment_id = snapshot.payment_id or snapshot.reference
    if reservation.external_payment_id == payment_id or _refund_exists(snapshot):
        return  # this payment already took effect (confirmed, or being refunded)
    if foreign or reservation.status in (S.CONFIRMED, S.COMPLETED, S.REFUNDED):
        _refund(reservation, snapshot, Refund.Reason.DUPLICATE_PAYMENT, actor=actor)
        return
    if not _as_asked(reservation, snapshot):
        # Invariant 4: the server's amount or nothing. Never confirm; give the money back.
        log.warning(
            "amount mismatch on reservation %s: paid %s %s, expected %s %s",
            reservation.pk,
            snapshot.amount,
            snapshot.currency,
            reservation.deposit_amount,
            reservation.currency,
        )
        _refund(reservation, snapshot, Refund.Reason.AMOUNT_MISMATCH, actor=actor)
        reservations.reservation_payment_failed(reservation, actor=actor, reason=R.AMOUNT_MISMATCH)
        return
    if reservation.status in (S.PENDING, S.PROCESSING):
        if not reservations.reservation_confirm(reservation, payment_id=payment_id, actor=actor):
            # Its list's picking closed for good meanwhile: no place to give, the money back.
            _refund(reservation, snapshot, Refund.Reason.LATE_PAYMENT, actor=actor)
            reservations.reservation_paid_too_late(reservation, actor=actor)
        return
    # Late payment: the hold ended before the money arrived.
    if not reservations.reservation_confirm_late(reservation, payment_id=payment_id, actor=actor):
        _refund(reservation, snapshot, Refund.Reason.LATE_PAYMENT, actor=actor)
        reservations.reservation_late_payment_refunded(reservation, actor=actor)


def _apply_refunded(reservation: Reservation, snapshot: PaymentSnapshot, *, actor: str) -> None:
    if snapshot.refunds:
        if reservation.external_payment_id == snapshot.payment_id:
            _refunded_at_provider(reservation, actor=actor)
        return
    # Fully refunded, by refunds we were not shown one by one: ours of this payment went
    # through, and whatever else did is told as one refund of the payment.
    Refund.objects.filter(
        provider=snapshot.provider, external_payment_id=snapshot.payment_id
    ).exclude(status=Refund.Status.SUCCEEDED).update(
        status=Refund.Status.SUCCEEDED, updated_at=timezone.now()
    )
    ours = reservation.external_payment_id == snapshot.payment_id
    if ours and _refunded_at_provider(reservation, actor=actor):
        reservations.refund_notices_enqueue(
            reservation=reservation,
            payment_id=snapshot.payment_id or "",
            amount=reservation.deposit_amount,
            currency=reservation.currency,
            reason=Refund.Reason.PROVIDER,
        )


def _refunded_at_provider(reservation: Reservation, *, actor: str) -> bool:
    """The deposit was refunded in full at the provider: the reservation is refunded — and,
    for a waiting list's deposit whose family is choosing, its turn ends first and the next
    family's opens (as when the breeder refunds it from the back office)."""
    if reservation.puppy_id is None and reservation.status == S.CONFIRMED:
        picking.turn_end_for_refund(reservation, actor=actor)
    return reservations.reservation_refunded(reservation, actor=actor)


REFUND_STATUS = {
    "pending": Refund.Status.PENDING,
    "succeeded": Refund.Status.SUCCEEDED,
    "failed": Refund.Status.FAILED,
}


def refunds_record(
    reservation: Reservation | None, snapshot: PaymentSnapshot, *, actor: str
) -> None:
    """Put every refund the provider reported into the books, once, whoever made it.

    A refund Kennel sent is found by the key it carries (or its provider id) and only takes
    the provider's status; one made elsewhere (the provider's dashboard, e.g. a deposit less
    an admin fee) becomes a new Refund row, and buyer and owner are told of it. Run under the
    reservation's lock, in the caller's transaction.
    """
    payment_id = snapshot.payment_id or snapshot.reference
    for seen in snapshot.refunds:
        if not seen.refund_id or seen.amount <= 0:
            continue
        status = REFUND_STATUS[seen.status]
        known = Refund.objects.filter(
            Q(provider=snapshot.provider, provider_refund_id=seen.refund_id)
            | Q(idempotency_key=seen.kennel_key or "-")
        ).first()
        if known is not None:
            _refund_update(known, status=status, refund_id=seen.refund_id, actor=actor)
            continue
        try:
            with transaction.atomic():  # two events of one orphan payment may race here
                refund = Refund.objects.create(
                    reservation=reservation,
                    provider=snapshot.provider,
                    external_payment_id=payment_id,
                    amount=seen.amount,
                    currency=seen.currency or snapshot.currency or "",
                    reason=Refund.Reason.PROVIDER,
                    provider_refund_id=seen.refund_id,
                    status=status,
                    idempotency_key=f"kennel-found-{snapshot.provider}-{seen.refund_id}",
                )
        except IntegrityError:
            continue  # recorded by the other one
        audit(
            "payments.refund.recorded",
            actor=actor,
            obj=refund,
            amount=str(refund.amount),
            currency=refund.currency,
            reservation=str(reservation.pk) if reservation else None,
        )
        if reservation is not None and status != Refund.Status.FAILED:
            refund_notices(reservation, refund, key=f"refund:{seen.refund_id}")


def _refund_update(refund: Refund, *, status: str, refund_id: str, actor: str) -> None:
    """The provider's word on a refund we know: its id and its status (a late "pending"
    event never undoes "succeeded"; a refund that failed after all says so)."""
    changes: dict[str, object] = {}
    if not refund.provider_refund_id:
        changes["provider_refund_id"] = refund_id
    late = refund.status == Refund.Status.SUCCEEDED and status == Refund.Status.PENDING
    if refund.status != status and not late:
        changes["status"] = status
    if not changes:
        return
    Refund.objects.filter(pk=refund.pk).update(**changes, updated_at=timezone.now())
    if "status" in changes:
        refund.refresh_from_db()
        audit(f"payments.refund.{refund.status}", actor=actor, obj=refund)


def _refund(
    reservation: Reservation | None, snapshot: PaymentSnapshot, reason: str, *, actor: str
) -> Refund:
    """Record a refund of a captured payment and enqueue sending it, in this transaction.

    One automatic refund per provider payment: the idempotency key is unique in the
    database and is the key the provider sees, so a repeat can never send money twice.
    """
    payment_id = snapshot.payment_id or snapshot.reference
    if snapshot.amount is None:
        raise ValueError(f"captured payment {payment_id} has no amount")
    refund, created = Refund.objects.get_or_create(
        idempotency_key=_refund_key(snapshot),
        defaults={
            "reservation": reservation,
            "provider": snapshot.provider,
            "external_payment_id": payment_id,
            "amount": snapshot.amount,
            "currency": snapshot.currency or "",
            "reason": reason,
        },
    )
    if created:
        audit(
            "payments.refund.requested",
            actor=actor,
            obj=refund,
            reason=reason,
            reservation=str(reservation.pk) if reservation else None,
        )
        refund_send_enqueue(refund)
        if reservation is not None:
            refund_notices(reservation, refund, key=refund.external_payment_id)
    return refund


def refund_notices(reservation: Reservation, refund: Refund, *, key: str) -> None:
    """Tell buyer and owner of `refund`, once per `key` (see refund_notices_enqueue)."""
    reservations.refund_notices_enqueue(
        reservation=reservation,
        payment_id=refund.external_payment_id,
        amount=refund.amount,
        currency=refund.currency,
        reason=refund.reason,
        key=key,
    )


def refund_send_enqueue(refund: Refund) -> None:
    """Queue sending a recorded refund to its provider (the money queue), in this transaction."""
    outbox_enqueue(
        kinds=[PaymentWork.REFUND_SEND],
        key=f"refund:{refund.pk}",
        reservation_id=refund.reservation_id,
        recipient=refund.provider,
        data={"refund": refund.pk},
    )


def _refund_key(snapshot: PaymentSnapshot) -> str:
    return f"kennel-refund-{snapshot.provider}-{snapshot.payment_id or snapshot.reference}"


def _refund_exists(snapshot: PaymentSnapshot) -> bool:
    return Refund.objects.filter(idempotency_key=_refund_key(snapshot)).exists()
