"""The reservation state machine. Every status change of a reservation or a puppy is here.

Locks are taken in one order everywhere: reservation rows, then the puppy row.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Q
from django.utils import timezone

from kennel.analytics.tracking import Tracking
from kennel.catalogue.models import Puppy
from kennel.core.db import locked_transaction
from kennel.core.errors import PuppyNotAvailable, PuppyNotFound, ValidationFailed
from kennel.core.models import audit
from kennel.notifications.models import SideEffect
from kennel.notifications.services import side_effects_enqueue
from kennel.reservations.models import Reservation

S = Reservation.Status
P = Puppy.Status
K = SideEffect.Kind

NAME_MAX, PHONE_MAX, EMAIL_MAX = 120, 32, 254
PHONE_ALLOWED = set("0123456789+-() ./")
SLUG_RE = re.compile(r"[-a-zA-Z0-9_]{1,80}")


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    phone: str


def buyer_validate(*, name: str, email: str, phone: str) -> Buyer:
    """Clean the buyer's details or raise ValidationFailed listing every bad field."""
    name, email, phone = (name or "").strip(), (email or "").strip(), (phone or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Please enter your name."]
    elif len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        errors["name"] = [f"Please enter a name of at most {NAME_MAX} plain characters."]
    if not email:
        errors["email"] = ["Please enter your email address."]
    else:
        try:
            if len(email) > EMAIL_MAX:
                raise ValidationError("too long")
            validate_email(email)
        except ValidationError:
            errors["email"] = ["Please enter a valid email address."]
    digits = sum(c.isdigit() for c in phone)
    if not phone:
        errors["phone"] = ["Please enter a phone number."]
    elif len(phone) > PHONE_MAX or not set(phone) <= PHONE_ALLOWED or digits < 6:
        errors["phone"] = ["Please enter a valid phone number (digits, spaces, + - ( ) only)."]
    if errors:
        raise ValidationFailed(errors)
    return Buyer(name=name, email=email.lower(), phone=phone)


def reservation_hold(
    *, puppy_slug: str, buyer: Buyer, provider: str, tracking: Tracking | None = None
) -> Reservation:
    """Hold a puppy for a buyer: one conditional UPDATE decides the winner.

    An expired pending hold on the same puppy is released first, in the same transaction, so
    an abandoned checkout never blocks the next buyer. `tracking` is the buyer's analytics
    context (kept only with their consent). Raises PuppyNotFound, PuppyNotAvailable.
    """
    tracking = tracking if tracking and tracking.consent else Tracking()
    if provider not in Reservation.Provider.values:
        raise ValidationFailed({"provider": ["Please choose Stripe or PayPal."]})
    if not SLUG_RE.fullmatch(puppy_slug or ""):
        raise PuppyNotFound()  # not a slug at all (a NUL byte would even upset PostgreSQL)
    puppy_id = (
        Puppy.objects.filter(slug=puppy_slug, is_published=True).values_list("id", flat=True)
    ).first()
    if puppy_id is None:
        raise PuppyNotFound()
    now = timezone.now()
    with locked_transaction():
        _release_expired_holds(puppy_id=puppy_id, now=now)
        won = Puppy.objects.filter(pk=puppy_id, status=P.AVAILABLE).update(
            status=P.HELD, updated_at=now
        )
        if not won:
            raise PuppyNotAvailable()
        puppy = Puppy.objects.get(pk=puppy_id)
        reservation = Reservation.objects.create(
            puppy=puppy,
            buyer_name=buyer.name,
            buyer_email=buyer.email,
            buyer_phone=buyer.phone,
            deposit_amount=puppy.deposit,
            currency=puppy.currency,
            provider=provider,
            status=S.PENDING,
            expires_at=now + timedelta(minutes=settings.HOLD_MINUTES),
            analytics_consent=tracking.consent,
            ga_client_id=tracking.ga_client_id,
            fbp=tracking.fbp,
            fbc=tracking.fbc,
            client_ip=tracking.client_ip,
            client_user_agent=tracking.user_agent,
            event_source_url=tracking.source_url,
        )
        audit("reservations.reservation.held", actor="buyer", obj=reservation, puppy=puppy.slug)
    return reservation


def _release_expired_holds(*, puppy_id: int, now: datetime, keep: uuid.UUID | None = None) -> int:
    """Expire the puppy's pending holds past their time (all but `keep`, which is locked too),
    in primary-key order: the order every path locks a puppy's reservations in."""
    due = Q(puppy_id=puppy_id, status=S.PENDING, expires_at__lte=now)
    locked = list(
        Reservation.objects.select_for_update()
        .filter(due | Q(pk=keep) if keep else due)
        .order_by("pk")
    )
    expired = [r for r in locked if r.pk != keep]
    for reservation in expired:
        _close(reservation, S.EXPIRED, actor="system:hold-expiry", reason="hold_expired")
    return len(expired)


def lock_for_payment(*, reservation_id: uuid.UUID | str) -> Reservation:
    """Lock a reservation a payment names, then its puppy, inside the caller's transaction.

    Other holds on the puppy that are past their time are released first, under the same
    locks, so a late payment is never refused for a hold the sweep has not reached yet.
    """
    keep = uuid.UUID(str(reservation_id))
    puppy_id = Reservation.objects.values_list("puppy_id", flat=True).get(pk=keep)
    _release_expired_holds(puppy_id=puppy_id, now=timezone.now(), keep=keep)
    reservation = Reservation.objects.select_for_update().get(pk=reservation_id)
    Puppy.objects.select_for_update().get(pk=puppy_id)
    return reservation


def _close(reservation: Reservation, status: str, *, actor: str, reason: str = "") -> None:
    """End an active reservation and free its puppy. Caller holds the reservation's lock."""
    was_active = reservation.status in Reservation.ACTIVE
    reservation.status = status
    reservation.status_reason = reason
    reservation.closed_at = timezone.now()
    reservation.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
    if was_active:
        Puppy.objects.filter(pk=reservation.puppy_id, status__in=[P.HELD, P.RESERVED]).update(
            status=P.AVAILABLE, updated_at=timezone.now()
        )
    audit(f"reservations.reservation.{status}", actor=actor, obj=reservation, reason=reason)
    if was_active and reservation.provider_reference and status != S.REFUNDED:
        _enqueue_checkout_cancel(reservation)
    _enqueue_close_side_effects(reservation, status, reason=reason)


def _enqueue_close_side_effects(reservation: Reservation, status: str, *, reason: str) -> None:
    """Tell the buyer (and for a refund the owner) why the reservation ended. A cancelled
    hold (the buyer left the checkout, or it could not open) needs no email: they saw it."""
    if status == S.EXPIRED:
        side_effects_enqueue(reservation=reservation, kinds=[K.BUYER_EXPIRED])
    elif status == S.RELEASED and reason == "payment_failed":
        side_effects_enqueue(reservation=reservation, kinds=[K.BUYER_FAILED])
    elif status == S.REFUNDED:
        # Keyed by the payment, like the automatic refunds of payments/fulfilment.py, so one
        # payment refunded by both paths is announced once.
        side_effects_enqueue(
            reservation=reservation,
            kinds=[K.BUYER_REFUND, K.OWNER_REFUND],
            discriminator=reservation.external_payment_id or "",
            data={
                "amount": str(reservation.deposit_amount),
                "currency": reservation.currency,
                "reason": "owner",
                "payment_id": reservation.external_payment_id or "",
            },
        )


def _enqueue_checkout_cancel(reservation: Reservation) -> None:
    from kennel.payments.tasks import checkout_cancel

    checkout_cancel.enqueue(str(reservation.pk))


def _lock(reservation_id: uuid.UUID | str) -> Reservation:
    return Reservation.objects.select_for_update().get(pk=reservation_id)


def reservation_release(
    *, reservation_id: uuid.UUID | str, status: str, actor: str, reason: str
) -> bool:
    """Close a pending (or processing) reservation: expired, cancelled or released.

    Returns False, changing nothing, when the reservation is no longer open to that change.
    """
    allowed = {
        S.EXPIRED: [S.PENDING],
        S.CANCELLED: [S.PENDING],
        S.RELEASED: [S.PENDING, S.PROCESSING],
    }
    with locked_transaction():
        reservation = _lock(reservation_id)
        if reservation.status not in allowed[S(status)]:
            return False
        _close(reservation, status, actor=actor, reason=reason)
    return True


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
                _close(reservation, S.EXPIRED, actor="system:expire_holds", reason="hold_expired")
                done += 1
    return done


def reservation_set_checkout(*, reservation: Reservation, reference: str) -> None:
    """Remember the provider's checkout reference on the reservation."""
    Reservation.objects.filter(pk=reservation.pk, provider_reference__isnull=True).update(
        provider_reference=reference, updated_at=timezone.now()
    )
    reservation.provider_reference = reference


# --- transitions driven by payments (called by payments/fulfilment.py under its lock) ---


def mark_processing(reservation: Reservation, *, actor: str) -> bool:
    if reservation.status != S.PENDING:
        return False
    reservation.status = S.PROCESSING
    reservation.save(update_fields=["status", "updated_at"])
    audit("reservations.reservation.processing", actor=actor, obj=reservation)
    side_effects_enqueue(reservation=reservation, kinds=[K.BUYER_PROCESSING])
    return True


def confirm(reservation: Reservation, *, payment_id: str, actor: str, late: bool = False) -> bool:
    """pending/processing (or, for a late payment, a closed hold whose puppy is still free)
    → confirmed. The puppy is marked reserved first: the database trigger checks it."""
    now = timezone.now()
    if reservation.status in (S.PENDING, S.PROCESSING):
        moved = Puppy.objects.filter(pk=reservation.puppy_id, status=P.HELD).update(
            status=P.RESERVED, updated_at=now
        )
    elif late:
        moved = Puppy.objects.filter(pk=reservation.puppy_id, status=P.AVAILABLE).update(
            status=P.RESERVED, updated_at=now
        )
    else:
        return False
    if not moved:
        return False
    reservation.status = S.CONFIRMED
    reservation.status_reason = "late_payment_accepted" if late else ""
    reservation.external_payment_id = payment_id
    reservation.confirmed_at = now
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
    # GA4 and Meta only with the buyer's consent and their settings (enqueue skips the rest).
    side_effects_enqueue(
        reservation=reservation,
        kinds=[K.OWNER_DEPOSIT, K.BUYER_CONFIRMATION, K.GA4_PURCHASE, K.META_PURCHASE],
    )
    return True


def close_for_payment(reservation: Reservation, status: str, *, actor: str, reason: str) -> None:
    """Close under a lock the caller already holds (failed payment, refund, amount mismatch)."""
    _close(reservation, status, actor=actor, reason=reason)
