"""The payments' outbox handlers (kennel/core/outbox.py), all on the money queue: send a
recorded refund, close a checkout nobody may pay any more, process a webhook event again.

Each takes the SideEffect row, reads what it needs by id and is safe to run twice. A provider
that cannot be reached is retried with the outbox's backoff; a provider's final "no" makes
the row dead at once, visible with its attempts in the admin, where "retry" runs it again.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from kennel.core.errors import Busy
from kennel.core.models import SideEffect, audit
from kennel.core.outbox import (
    MONEY_QUEUE,
    DeliveryFailed,
    DeliveryRefused,
    register,
    subject_id,
)
from kennel.payments.models import PaymentWork, Refund, WebhookEvent
from kennel.payments.providers import ProviderError, ProviderUnavailable
from kennel.payments.registry import get_provider
from kennel.payments.webhooks import STUCK_AFTER, webhook_process
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
ERROR_MAX = 2000


def refund_send(effect: SideEffect) -> None:
    """Send a recorded refund to its provider, with the same idempotency key on every try."""
    refund = Refund.objects.get(pk=effect.data["refund"])
    if refund.status == Refund.Status.SUCCEEDED:
        return
    try:
        sent = get_provider(refund.provider).refund(
            payment_id=refund.external_payment_id,
            amount=refund.amount,
            currency=refund.currency,
            idempotency_key=refund.idempotency_key,
        )
    except ProviderUnavailable as exc:
        Refund.objects.filter(pk=refund.pk).update(
            last_error=str(exc)[:ERROR_MAX], updated_at=timezone.now()
        )
        raise DeliveryFailed(f"{refund.provider} unavailable: {exc}") from exc
    except ProviderError as exc:
        # Refused for good (e.g. already refunded by hand at the provider): stop and leave it
        # visible for the owner, with the provider's reason; the admin may retry it later.
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk).exclude(status=Refund.Status.SUCCEEDED).update(
                status=Refund.Status.FAILED,
                last_error=str(exc)[:ERROR_MAX],
                updated_at=timezone.now(),
            )
            refund.refresh_from_db()
            audit("payments.refund.failed", actor="system:worker", obj=refund, error=str(exc))
        log.error("refund %s refused by %s: %s", refund.pk, refund.provider, exc)
        raise DeliveryRefused(f"{refund.provider} refused the refund: {exc}") from exc
    # The provider took it: succeeded at once (cards, mostly) or pending until its event says
    # how it ended (payments/fulfilment.py refunds_record). A failed one is a refusal.
    status = {"succeeded": Refund.Status.SUCCEEDED, "failed": Refund.Status.FAILED}.get(
        sent.status, Refund.Status.PENDING
    )
    with transaction.atomic():
        updated = (
            Refund.objects.filter(pk=refund.pk)
            .exclude(status=Refund.Status.SUCCEEDED)
            .update(
                status=status,
                provider_refund_id=sent.refund_id,
                last_error="",
                updated_at=timezone.now(),
            )
        )
        if updated:
            refund.refresh_from_db()
            audit(f"payments.refund.{refund.status}", actor="system:worker", obj=refund)


def checkout_close(effect: SideEffect) -> None:
    """Make the provider checkout of a hold that ended unusable (Stripe: expire the session)."""
    reservation = Reservation.objects.get(pk=subject_id(effect))
    if not reservation.provider_reference or reservation.status in Reservation.ACTIVE:
        return  # paid or re-held meanwhile: the checkout is the reservation's again
    try:
        get_provider(reservation.provider).cancel_checkout(reservation.provider_reference)
    except ProviderUnavailable as exc:
        raise DeliveryFailed(f"{reservation.provider} unavailable: {exc}") from exc
    except ProviderError as exc:
        raise DeliveryRefused(f"{reservation.provider} refused to close it: {exc}") from exc


def webhook_process_again(effect: SideEffect) -> None:
    """Process a stored webhook event whose processing failed or never ran."""
    try:
        # The outbox runs an event's one job one at a time: an event found "processing" was
        # left so by this job's own earlier run, cut off; take it over at once.
        status = webhook_process(
            event_pk=effect.data["event"], delivered=True, stale_after=timedelta(0)
        )
    except Busy as exc:
        raise DeliveryFailed("a row lock could not be had in time") from exc
    if status == WebhookEvent.Status.FAILED:
        error = WebhookEvent.objects.values_list("last_error", flat=True).get(
            pk=effect.data["event"]
        )
        raise DeliveryFailed(error.strip().rpartition("\n")[2][:500] or "processing failed")


def register_handlers() -> None:
    register(
        PaymentWork.REFUND_SEND,
        label=PaymentWork.REFUND_SEND.label,
        run=refund_send,
        queue=MONEY_QUEUE,
    )
    register(
        Effect.CHECKOUT_CLOSE,
        label=Effect.CHECKOUT_CLOSE.label,
        run=checkout_close,
        queue=MONEY_QUEUE,
    )
    register(
        PaymentWork.WEBHOOK_PROCESS,
        label=PaymentWork.WEBHOOK_PROCESS.label,
        run=webhook_process_again,
        queue=MONEY_QUEUE,
        # A worker killed mid-way: picked up again within a minute or so, not five.
        lease_seconds=STUCK_AFTER.total_seconds(),
    )
