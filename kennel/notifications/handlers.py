"""The emails' outbox handlers: who receives each kind, and sending it (kennel/core/outbox.py)."""

from django.conf import settings

from kennel.core.models import SideEffect
from kennel.core.outbox import NoLongerTrue, register, subject_id
from kennel.notifications.emails import email_send
from kennel.reservations.effects import BUYER_EMAILS, OWNER_EMAILS, Effect
from kennel.reservations.models import Reservation, WaitlistEntry


def owner_address(reservation: Reservation) -> str | None:
    """The owner's address; None (the owner's emails are off) without OWNER_EMAIL."""
    return settings.OWNER_EMAIL.strip() or None


def buyer_address(reservation: Reservation) -> str:
    return reservation.buyer_email


# An email that says the reservation stands (or is on its way), sent only while it does: after
# a mail outage the emails go out late, and "your deposit is confirmed" must not follow "your
# payment is being refunded".
STILL_TRUE_WHILE: dict[str, tuple[str, ...]] = {
    Effect.BUYER_CONFIRMATION: Reservation.STANDING,
    Effect.OWNER_DEPOSIT: Reservation.STANDING,
    Effect.BUYER_PROCESSING: (Reservation.Status.PROCESSING,),
    # "Here is your hold": not once it was paid, cancelled or ran out.
    Effect.BUYER_HOLD_LINK: (Reservation.Status.PENDING, Reservation.Status.PROCESSING),
}

# A waiting list's emails that give the family its place ("You are number 2 on the list"),
# sent only while it still has one (WaitlistEntry.in_line: waiting or choosing, its deposit
# not refunded), and those that say what becomes of its deposit, not once it was refunded.
IN_LINE_EMAILS = (Effect.WAITLIST_JOINED, Effect.WAITLIST_MOVED, Effect.WAITLIST_BORN)
DEPOSIT_KEPT_EMAILS = (Effect.WAITLIST_PASSED, Effect.WAITLIST_CLOSED)


def email_run(effect: SideEffect) -> None:
    statuses = STILL_TRUE_WHILE.get(effect.kind)
    if statuses is not None:
        status = Reservation.objects.filter(pk=subject_id(effect)).values_list("status").first()
        if status is not None and status[0] not in statuses:
            raise NoLongerTrue(f"the reservation is {status[0]} now")
    if effect.kind in IN_LINE_EMAILS or effect.kind in DEPOSIT_KEPT_EMAILS:
        list_still_true(effect)
    email_send(side_effect=effect)


def list_still_true(effect: SideEffect) -> None:
    """Raise NoLongerTrue for a list email its family's standing has made untrue meanwhile."""
    entry = (
        WaitlistEntry.objects.select_related("reservation")
        .filter(reservation_id=subject_id(effect))
        .first()
    )
    if entry is None:
        return  # the email itself refuses a list email without its entry
    refunded = entry.reservation.status == Reservation.Status.REFUNDED
    if effect.kind in IN_LINE_EMAILS and not entry.in_line:
        why = "its deposit was refunded" if refunded else f"it is {entry.status} now"
        raise NoLongerTrue(f"the family is no longer on the list: {why}")
    if effect.kind in DEPOSIT_KEPT_EMAILS and refunded:
        raise NoLongerTrue("the family's list deposit was refunded meanwhile")


def register_handlers() -> None:
    for kind in OWNER_EMAILS:
        register(kind, label=kind.label, run=email_run, recipient=owner_address)
    for kind in BUYER_EMAILS:
        register(kind, label=kind.label, run=email_run, recipient=buyer_address)
