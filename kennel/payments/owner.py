"""The breeder's money actions from the back office: cancel and refund, erase a buyer.

They run under the same locks as the providers' webhooks (reservations.lock_for_payment), so
a refund and a late event never cross; the money goes through the provider with a key the
database keeps unique, so however often the action is posted the deposit goes back once.
"""

import uuid
from decimal import Decimal, InvalidOperation

from django.db.models import Q
from django.utils.translation import gettext_noop

from kennel.core.db import locked_transaction
from kennel.core.errors import ApplicationError, Message
from kennel.core.models import audit
from kennel.core.money import quantize
from kennel.payments.fulfilment import refund_notices, refund_send_enqueue
from kennel.payments.models import Refund, WebhookEvent
from kennel.payments.selectors import reservation_money
from kennel.reservations import picking, waitlist
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation, WaitlistEntry

S = Reservation.Status

# English, as every service's refusal (core.errors); marked for kennel/locale, so that the back
# office says them in its reader's language (message_translated).
NOT_REFUNDABLE_MESSAGE = gettext_noop("This reservation holds no deposit to refund.")
LIST_KEPT_MESSAGE = gettext_noop(
    "A waiting list's deposit is kept by leaving the family on the list (or as its terms say "
    "when the family withdraws); cancelling and keeping it all is for a puppy's reservation."
)
HELD_CHANGED_MESSAGE = gettext_noop(
    "The deposit held is now %(held)s, not the amount you chose to keep: look at the amounts again."
)
AMOUNT_KEPT_MESSAGE = gettext_noop(
    "The amount to keep must be at least 0 and less than the deposit held (%(held)s); "
    "to keep all of it, the reservation is cancelled keeping the deposit."
)
RESERVATION_ACTIVE_MESSAGE = gettext_noop(
    "This reservation is still open: release the hold or refund the deposit before erasing "
    "the buyer's details."
)


class RefundRefused(ApplicationError):
    """The back office asked for something the reservation does not allow."""


def reservation_refund(
    *,
    reservation_id: uuid.UUID | str,
    actor: str,
    amount_kept: Decimal = Decimal(0),
    puppy_available: bool = True,
    reason: str = Refund.Reason.OWNER,
) -> Refund | None:
    """Cancel a confirmed (or completed) reservation and refund its deposit less `amount_kept`
    (e.g. an admin fee the terms allow) and less what was refunded already.

    In one transaction: a Refund row (key per reservation: the provider sees it too), its
    sending queued on the money queue, buyer and owner told, the reservation refunded and
    the puppy on sale again — or taken off sale when `puppy_available` is False. Returns None,
    changing nothing, when the reservation was refunded already (posted twice). Raises
    RefundRefused (NOT_REFUNDABLE, AMOUNT_INVALID).
    """
    with locked_transaction():
        reservation = reservations.lock_for_payment(reservation_id=reservation_id)
        return _refund_locked(
            reservation,
            actor=actor,
            amount_kept=amount_kept,
            puppy_available=puppy_available,
            reason=reason,
        )


def _refund_locked(
    reservation: Reservation,
    *,
    actor: str,
    amount_kept: Decimal,
    puppy_available: bool,
    reason: str,
) -> Refund | None:
    if reservation.status == S.REFUNDED:
        return None
    if reservation.status not in Reservation.STANDING or not reservation.external_payment_id:
        raise RefundRefused("NOT_REFUNDABLE", NOT_REFUNDABLE_MESSAGE, status=409)
    money = reservation_money(reservation)
    kept = _amount(amount_kept, reservation.currency)
    if kept is None or kept < 0 or kept >= money.refundable:
        raise RefundRefused(
            "AMOUNT_INVALID",
            Message(AMOUNT_KEPT_MESSAGE, held=f"{money.refundable} {reservation.currency}"),
            extra={"field": "amount_kept"},
            status=422,
        )
    refund = Refund.objects.create(
        reservation=reservation,
        provider=reservation.provider,
        external_payment_id=reservation.external_payment_id,
        amount=money.refundable - kept,
        currency=reservation.currency,
        reason=reason,
        idempotency_key=f"kennel-refund-owner-{reservation.pk}",
    )
    audit(
        "payments.refund.requested",
        actor=actor,
        obj=refund,
        reason=reason,
        kept=str(kept),
        reservation=str(reservation.pk),
    )
    refund_send_enqueue(refund)
    refund_notices(reservation, refund, key=f"owner:{refund.pk}")
    if reservation.puppy_id is None:  # a list deposit: a turn of its family ends here
        picking.turn_end_for_refund(reservation, actor=actor)
    reservations.reservation_owner_refunded(
        reservation, actor=actor, partial=kept > 0, puppy_available=puppy_available
    )
    return refund


def reservation_keep_deposit(
    *,
    reservation_id: uuid.UUID | str,
    actor: str,
    amount_held: Decimal,
    puppy_available: bool = True,
) -> bool:
    """Cancel a puppy's confirmed (or completed) reservation and keep the whole deposit it
    holds, as deposit terms that make it non-refundable allow: no money moves. Like a refund,
    the reservation ends as refunded (reason owner_kept: the books count the deposit as held),
    the buyer is told by email, and the puppy is on sale again — or taken off sale when
    `puppy_available` is False (a puppy that went home stays sold until put on sale).

    `amount_held` is the deposit held as the breeder saw it when choosing; it is refused
    (AMOUNT_INVALID) when that changed meanwhile (a refund at the provider), as is a waiting
    list's deposit. Returns False, changing nothing, when the reservation ended already
    (posted twice). Raises RefundRefused (NOT_REFUNDABLE, AMOUNT_INVALID)."""
    with locked_transaction():
        reservation = reservations.lock_for_payment(reservation_id=reservation_id)
        if reservation.status == S.REFUNDED:
            return False
        if reservation.status not in Reservation.STANDING or not reservation.external_payment_id:
            raise RefundRefused("NOT_REFUNDABLE", NOT_REFUNDABLE_MESSAGE, status=409)
        if reservation.puppy_id is None:
            raise RefundRefused(
                "AMOUNT_INVALID", LIST_KEPT_MESSAGE, extra={"field": "amount_kept"}, status=422
            )
        held = reservation_money(reservation).held
        if held <= 0 or held != amount_held:
            raise RefundRefused(
                "AMOUNT_INVALID",
                Message(HELD_CHANGED_MESSAGE, held=f"{held} {reservation.currency}"),
                extra={"field": "amount_kept"},
                status=422,
            )
        audit("payments.deposit.kept", actor=actor, obj=reservation, kept=str(held))
        return reservations.reservation_owner_refunded(
            reservation,
            actor=actor,
            partial=True,
            puppy_available=puppy_available,
            kept_all=True,
        )


def waitlist_withdraw(*, token: str, actor: str = "buyer") -> Refund | None:
    """A family leaves a litter's waiting list. Their deposit goes back in full, through the
    provider and once (the same refund as the breeder's), when the terms they accepted allow
    it now (waitlist.withdrawal_refundable); otherwise the breeder keeps it. Returns the
    refund, or None when nothing is refunded. Raises EntryNotFound, WaitlistRefused
    (NOT_WITHDRAWABLE: not on the list, or choosing now — they pass first)."""
    entry_id, reservation_id = waitlist.entry_ids(token)
    with locked_transaction():
        reservation = reservations.lock_for_payment(reservation_id=reservation_id)
        # Its litter too (the one order): a turn being opened never goes to a family leaving.
        waitlist.litter_lock_of(reservation)
        entry = WaitlistEntry.objects.select_related("litter").get(pk=entry_id)
        waitlist.withdrawal_check(entry)
        if reservation.status != S.CONFIRMED or not waitlist.withdrawal_refundable(entry):
            waitlist.withdrawn_keeping_deposit(entry, actor=actor)
            return None
        # Refunded in full: the reservation's move to "refunded" takes the entry off the list.
        return _refund_locked(
            reservation,
            actor=actor,
            amount_kept=Decimal(0),
            puppy_available=True,
            reason=Refund.Reason.WITHDRAWN,
        )


def reservation_erase_buyer(*, reservation_id: uuid.UUID | str, actor: str) -> bool:
    """Erase the buyer's personal data (GDPR) from a closed reservation and from the
    provider events stored with it; amounts, statuses and the audit trail are kept. Raises
    RefundRefused (RESERVATION_ACTIVE) while it is open. False when already erased."""
    with locked_transaction():
        reservation = reservations.lock_for_payment(reservation_id=reservation_id)
        if reservation.is_active:
            raise RefundRefused("RESERVATION_ACTIVE", RESERVATION_ACTIVE_MESSAGE, status=409)
        personal = [reservation.buyer_email, reservation.buyer_name, reservation.buyer_phone]
        if not reservations.reservation_erase_buyer(reservation, actor=actor):
            return False
        _erase_from_events(reservation, [p for p in personal if len(p) >= 3])
    return True


def _erase_from_events(reservation: Reservation, personal: list[str]) -> None:
    """Provider events keep the raw body (the buyer's email and name are in it): blank them
    out in the events that name this reservation's checkout or payment."""
    ids = [i for i in (reservation.provider_reference, reservation.external_payment_id) if i]
    ids.append(str(reservation.pk))
    naming = Q()
    for i in ids:
        naming |= Q(body__contains=i)
    for event in WebhookEvent.objects.filter(naming, provider=reservation.provider).only("body"):
        body = event.body
        for value in personal:
            body = body.replace(value, "erased")
        if body != event.body:
            WebhookEvent.objects.filter(pk=event.pk).update(body=body)


def _amount(value: object, currency: str) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 9:
        return None
    return quantize(amount, currency)
