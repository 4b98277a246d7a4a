"""Reads of reservations that pages and the API share."""

import re
from datetime import datetime

from kennel.core.models import AuditLog, SideEffect
from kennel.reservations.effects import Effect
from kennel.reservations.models import PickTurn, Reservation

# The audit action of a payment approved on another checkout than the reservation's own, and
# not captured (services.reservation_other_approval_not_captured).
OTHER_APPROVAL_NOT_CAPTURED = "reservations.reservation.other_approval_not_captured"

# The alphabet of secrets.token_urlsafe() (see models.new_token), within the column's length.
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def reservation_by_token(token: str) -> Reservation | None:
    """The reservation behind a buyer's status-page token, with its puppy, or None.

    A value that cannot be a token is answered without a query (it could hold a NUL byte,
    which PostgreSQL refuses with an error).
    """
    if not TOKEN_RE.fullmatch(token or ""):
        return None
    return (
        Reservation.objects.select_related("puppy")
        .prefetch_related("puppy__photos")
        .filter(token=token)
        .first()
    )


def reservation_sold_at(reservation: Reservation) -> datetime | None:
    """When the puppy was sold to this reservation: its family's pick for a waiting-list
    deposit (confirmed_at stays the day the list deposit was paid, often weeks before),
    else the payment's confirmation; None while it is not confirmed."""
    if reservation._state.adding:  # not saved (a payload built for a preview): no pick
        return reservation.confirmed_at
    picked_at = (
        PickTurn.objects.filter(entry__reservation=reservation, outcome=PickTurn.Outcome.PICKED)
        .order_by("-closed_at")
        .values_list("closed_at", flat=True)
        .first()
    )
    return picked_at or reservation.confirmed_at


def confirmation_sent(reservation: Reservation) -> bool:
    """Whether the buyer's confirmation email has left (the worker sent it to the address
    the reservation now holds), so a page may say it is in their inbox."""
    return SideEffect.objects.filter(
        reservation_id=reservation.pk,
        kind=Effect.BUYER_CONFIRMATION,
        recipient__iexact=reservation.buyer_email,
        status=SideEffect.Status.SENT,
    ).exists()


def other_approvals_not_captured(reservation: Reservation) -> bool:
    """Whether a payment approved on another checkout than this reservation's own was left
    uncaptured (a second PayPal order for it): the buyer's page says nothing was charged."""
    return AuditLog.objects.filter(
        action=OTHER_APPROVAL_NOT_CAPTURED, object_id=str(reservation.pk)
    ).exists()
