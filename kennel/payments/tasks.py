"""Side effects of payments, run by the worker. Each takes ids and is safe to run twice."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from kennel.core.models import audit
from kennel.payments.models import Refund
from kennel.payments.providers import ProviderError, ProviderUnavailable, get_provider
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)


@task()
def refund_execute(refund_id: int) -> str:
    """Send a recorded refund to the provider (same idempotency key on every try)."""
    refund = Refund.objects.get(pk=refund_id)
    if refund.status != Refund.Status.PENDING:
        return refund.status
    try:
        provider_refund_id = get_provider(refund.provider).refund(
            payment_id=refund.external_payment_id,
            amount=refund.amount,
            currency=refund.currency,
            idempotency_key=refund.idempotency_key,
        )
    except ProviderUnavailable as exc:
        # Worth another try: the minute sweep re-runs pending refunds.
        Refund.objects.filter(pk=refund.pk).update(last_error=str(exc)[:2000])
        raise
    except ProviderError as exc:
        # Refused for good (e.g. already refunded by hand at the provider): stop retrying and
        # leave it visible for the owner, with the provider's reason.
        with transaction.atomic():
            Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
                status=Refund.Status.FAILED, last_error=str(exc)[:2000], updated_at=timezone.now()
            )
            refund.refresh_from_db()
            audit("payments.refund.failed", actor="system:worker", obj=refund, error=str(exc))
        log.error("refund %s refused by %s: %s", refund.pk, refund.provider, exc)
        return Refund.Status.FAILED
    with transaction.atomic():
        updated = Refund.objects.filter(pk=refund.pk, status=Refund.Status.PENDING).update(
            status=Refund.Status.SUCCEEDED,
            provider_refund_id=provider_refund_id,
            updated_at=timezone.now(),
        )
        if updated:
            refund.refresh_from_db()
            audit("payments.refund.succeeded", actor="system:worker", obj=refund)
    return Refund.Status.SUCCEEDED


@task()
def checkout_cancel(reservation_id: str) -> None:
    """Close the provider checkout of a hold that ended, so it can no longer be paid."""
    reservation = Reservation.objects.get(pk=reservation_id)
    if reservation.provider_reference and reservation.status not in Reservation.ACTIVE:
        get_provider(reservation.provider).cancel_checkout(reservation.provider_reference)


def refunds_retry_due(*, older_than_seconds: int = 60) -> int:
    """The worker's sweep: re-run refunds still pending (their task failed or was lost)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    due = list(
        Refund.objects.filter(status=Refund.Status.PENDING, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )[:50]
    )
    for refund_id in due:
        try:
            refund_execute.call(refund_id)
        except Exception:
            log.exception("refund %s failed again; will retry", refund_id)
            Refund.objects.filter(pk=refund_id).update(updated_at=timezone.now())
    return len(due)
