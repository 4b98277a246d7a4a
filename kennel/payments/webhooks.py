"""Webhooks: verify, store, process, mark — the same for every provider.

A delivery is verified and stored raw before anything else; duplicates are found by the
unique (provider, event id). Processing re-reads the payment from the provider's API and
hands it to the shared fulfilment, so arrival order and repetition do not matter.
"""

import json
import logging
import traceback
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from kennel.core.errors import Busy
from kennel.payments.fulfilment import payment_apply
from kennel.payments.models import WebhookEvent, WebhookRejection
from kennel.payments.providers import VerifiedEvent, WebhookRejected, get_provider

log = logging.getLogger(__name__)
E = WebhookEvent.Status

# Headers worth keeping with the raw body; anything carrying credentials is dropped.
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
MAX_ATTEMPTS = 10
STUCK_AFTER = timedelta(minutes=5)


def webhook_receive(*, provider: str, body: bytes, headers: dict[str, str]) -> WebhookEvent:
    """Verify and store a delivery. Raises WebhookRejected (counted, nothing stored)."""
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
    try:
        event = get_provider(provider).verify_webhook(body, headers)
    except WebhookRejected as exc:
        _count_rejection(provider, exc.reason)
        raise
    return _store(event)


def _store(event: VerifiedEvent) -> WebhookEvent:
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(
                provider=event.provider,
                event_id=event.event_id,
                type=event.type,
                body=event.body,
                headers=event.headers,
            )
    except IntegrityError:
        return WebhookEvent.objects.get(provider=event.provider, event_id=event.event_id)


def _count_rejection(provider: str, reason: str) -> None:
    log.warning("refused a %s webhook delivery: %s", provider, reason)
    with transaction.atomic():
        counter, _ = WebhookRejection.objects.get_or_create(provider=provider, reason=reason)
        WebhookRejection.objects.filter(pk=counter.pk).update(
            count=F("count") + 1, last_at=timezone.now()
        )


def webhook_process(*, event_pk: int, delivered: bool = False) -> str:
    """Process a stored event once; returns its status afterwards.

    The claim is one conditional UPDATE, so of many concurrent deliveries of one event only
    one processes it. On failure the traceback is kept and the event stays retryable: our
    sweep gives up after MAX_ATTEMPTS, but a fresh delivery by the provider (`delivered`)
    always tries again, so a payment is never stranded while the provider still retries.
    Raises Busy when a row lock could not be had (the view answers 503: the provider retries).
    """
    retryable = Q(status__in=[E.PENDING, E.FAILED])
    if not delivered:
        retryable &= Q(attempts__lt=MAX_ATTEMPTS)
    claimed = WebhookEvent.objects.filter(retryable, pk=event_pk).update(
        status=E.PROCESSING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return str(WebhookEvent.objects.values_list("status", flat=True).get(pk=event_pk))
    stored = WebhookEvent.objects.get(pk=event_pk)
    try:
        event = VerifiedEvent(
            provider=stored.provider,
            event_id=stored.event_id,
            type=stored.type,
            payload=json.loads(stored.body),
            body=stored.body,
            headers=stored.headers,
        )
        snapshot = get_provider(stored.provider).snapshot_for_event(event)
        if snapshot is None:
            status = E.IGNORED
        else:
            payment_apply(snapshot=snapshot, actor=f"{stored.provider}:{stored.event_id}")
            status = E.PROCESSED
    except Exception as exc:
        log.exception("webhook event %s failed", stored.event_id)
        WebhookEvent.objects.filter(pk=event_pk).update(
            status=E.FAILED, last_error=traceback.format_exc()[-4000:]
        )
        if isinstance(exc, Busy):
            raise
        return E.FAILED
    WebhookEvent.objects.filter(pk=event_pk).update(
        status=status, processed_at=timezone.now(), last_error=""
    )
    return status


def webhooks_retry_due() -> int:
    """The worker's sweep: retry failed events (with backoff) and reclaim stuck ones."""
    now_ = timezone.now()
    WebhookEvent.objects.filter(status=E.PROCESSING, claimed_at__lt=now_ - STUCK_AFTER).update(
        status=E.FAILED, last_error="reclaimed: processing did not finish"
    )
    due = 0
    for event in WebhookEvent.objects.filter(
        status__in=[E.PENDING, E.FAILED], attempts__lt=MAX_ATTEMPTS
    ).order_by("received_at")[:100]:
        backoff = timedelta(seconds=min(2**event.attempts * 15, 3600))
        last_try = event.claimed_at or event.received_at
        if (event.status == E.PENDING and last_try + timedelta(seconds=30) <= now_) or (
            event.status == E.FAILED and last_try + backoff <= now_
        ):
            try:
                webhook_process(event_pk=event.pk)
            except Busy:
                continue
            due += 1
    return due
