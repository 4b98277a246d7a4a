"""The emails' outbox handlers: who receives each kind, and sending it (kennel/core/outbox.py)."""

from django.conf import settings

from kennel.core.models import SideEffect
from kennel.core.outbox import register
from kennel.notifications.emails import email_send
from kennel.reservations.effects import BUYER_EMAILS, OWNER_EMAILS
from kennel.reservations.models import Reservation


def owner_address(reservation: Reservation) -> str | None:
    """The owner's address; None (the owner's emails are off) without OWNER_EMAIL."""
    return settings.OWNER_EMAIL.strip() or None


def buyer_address(reservation: Reservation) -> str:
    return reservation.buyer_email


def email_run(effect: SideEffect) -> None:
    email_send(side_effect=effect)


def register_handlers() -> None:
    for kind in OWNER_EMAILS:
        register(kind, label=kind.label, run=email_run, recipient=owner_address)
    for kind in BUYER_EMAILS:
        register(kind, label=kind.label, run=email_run, recipient=buyer_address)
