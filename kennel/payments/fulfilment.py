"""What a payment means for a reservation: the one fulfilment shared by webhooks and return URLs.

Every step is guarded by the reservation's current state under a row lock, so running it
again — a duplicate event, the return URL after the webhook — changes nothing and sends
nothing. Every captured payment ends as a confirmed reservation or a refund (invariant 3).
"""

import logging

from django.utils import timezone

from kennel.core.db import locked_transaction
from kennel.core.models import audit
from kennel.notifications.models import SideEffect
from kennel.notifications.services import side_effects_enqueue
from kennel.payments.models import Refund
from kennel.payments.providers import PaymentSnapshot, PaymentState, reservation_id_or_none
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
S = Reservation.Status


def payment_apply(*, snapshot: PaymentSnapshot, actor: str) -> Reservation | None:
    """Apply the provider's current view of a payment to its reservation.

    Returns the reservation (after the change), or None when the payment names no
    reservation of ours (an orphan payment is refunded when it was captured).
    """
    reservation_id = reservation_id_or_none(snapshot.reservation_id)
    if reservation_id is None or not Reservation.objects.filter(pk=reservation_id).exists():
        if snapshot.state == PaymentState.PAID:
            with locked_transaction():
                _refund(None, snapshot, Refund.Reason.DUPLICATE_PAYMENT, actor=actor)
        return None
    with locked_transaction():
        reservation = reservations.lock_for_payment(reservation_id=reservation_id)
        if reservation.provider_reference is None and snapshot.reference:
            reservation.provider_reference = snapshot.reference
            reservation.save(update_fields=["provider_reference", "updated_at"])
        foreign = bool(snapshot.reference) and snapshot.reference != reservation.provider_reference
        if snapshot.state == PaymentState.PAID:
            _apply_paid(reservation, snapshot, actor=actor, foreign=foreign)
        elif foreign:
            pass  # another checkout naming this reservation: only its money matters
        elif snapshot.state == PaymentState.PROCESSING:
            reservations.mark_processing(reservation, actor=actor)
        elif snapshot.state == PaymentState.FAILED and reservation.status in (
            S.PENDING,
            S.PROCESSING,
        ):
            reservations.close_for_payment(
                reservation, S.RELEASED, actor=actor, reason="payment_failed"
            )
        elif snapshot.state == PaymentState.EXPIRED and reservation.status == S.PENDING:
            reservations.close_for_payment(
                reservation, S.EXPIRED, actor=actor, reason="checkout_expired"
            )
        elif snapshot.state == PaymentState.REFUNDED:
            _apply_refunded(reservation, snapshot, actor=actor)
    return reservation


def _apply_paid(
    reservation: Reservation, snapshot: PaymentSnapshot, *, actor: str, foreign: bool
) -> None:
    payment_id = snapshot.payment_id or snapshot.reference
    if reservation.external_payment_id == payment_id or _refund_exists(snapshot):
        return  # this payment already took effect (confirmed, or being refunded)
    if foreign or reservation.status in (S.CONFIRMED, S.COMPLETED, S.REFUNDED):
        _refund(reservation, snapshot, Refund.Reason.DUPLICATE_PAYMENT, actor=actor)
        return
    paid = (snapshot.amount, (snapshot.currency or "").upper())
    if paid != (reservation.deposit_amount, reservation.currency.upper()):
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
        if reservation.status in (S.PENDING, S.PROCESSING):
            reservations.close_for_payment(
                reservation, S.RELEASED, actor=actor, reason="amount_mismatch"
            )
        return
    if reservation.status in (S.PENDING, S.PROCESSING):
        reservations.confirm(reservation, payment_id=payment_id, actor=actor)
        return
    # Late payment: the hold ended before the money arrived.
    if not reservations.confirm(reservation, payment_id=payment_id, actor=actor, late=True):
        _refund(reservation, snapshot, Refund.Reason.LATE_PAYMENT, actor=actor)
        reservation.status_reason = "late_payment_refunded"
        reservation.save(update_fields=["status_reason", "updated_at"])


def _apply_refunded(reservation: Reservation, snapshot: PaymentSnapshot, *, actor: str) -> None:
    Refund.objects.filter(
        provider=snapshot.provider, external_payment_id=snapshot.payment_id
    ).exclude(status=Refund.Status.SUCCEEDED).update(
        status=Refund.Status.SUCCEEDED, updated_at=timezone.now()
    )
    if reservation.external_payment_id == snapshot.payment_id and reservation.status in (
        S.CONFIRMED,
        S.COMPLETED,
    ):
        reservations.close_for_payment(reservation, S.REFUNDED, actor=actor, reason="refunded")


def _refund(
    reservation: Reservation | None, snapshot: PaymentSnapshot, reason: str, *, actor: str
) -> Refund:
    """Record a refund of a captured payment and enqueue its execution, in this transaction.

    One automatic refund per provider payment: the idempotency key is unique in the
    database and is the key the provider sees, so a repeat can never send money twice.
    """
    from kennel.payments.tasks import refund_execute

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
        refund_execute.enqueue(refund.pk)
        if reservation is not None:
            _enqueue_refund_side_effects(reservation, refund)
    return refund


def _enqueue_refund_side_effects(reservation: Reservation, refund: Refund) -> None:
    """Tell buyer and owner, in this transaction. Keyed by the refunded payment: a second
    refund on one reservation (another payment) is news, a replay of the same one is not."""
    side_effects_enqueue(
        reservation=reservation,
        kinds=[SideEffect.Kind.BUYER_REFUND, SideEffect.Kind.OWNER_REFUND],
        discriminator=refund.external_payment_id,
        data={
            "amount": str(refund.amount),
            "currency": refund.currency,
            "reason": refund.reason,
            "payment_id": refund.external_payment_id,
        },
    )


def _refund_key(snapshot: PaymentSnapshot) -> str:
    return f"kennel-refund-{snapshot.provider}-{snapshot.payment_id or snapshot.reference}"


def _refund_exists(snapshot: PaymentSnapshot) -> bool:
    return Refund.objects.filter(idempotency_key=_refund_key(snapshot)).exists()
