"""Webhooks: verify, store, process, mark — the same for every provider.

A delivery is verified and stored raw before anything else; duplicates are found by the
unique (provider, event id). Processing re-reads the payment from the provider's API and
hands it to the shared fulfilment, so arrival order and repetition do not matter.
"""

import json
import logging
import traceback
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from kennel.core.errors import Busy
from kennel.core.models import SideEffect
from kennel.core.outbox import dedup_key, outbox_enqueue
from kennel.payments.models import PaymentWork, WebhookEvent, WebhookRejection
from kennel.payments.providers import BuyerActionRequired, VerifiedEvent, WebhookRejected
from kennel.payments.registry import get_provider
from kennel.payments.services import payment_settle

log = logging.getLogger(__name__)
E = WebhookEvent.Status

# Headers worth keeping with the raw body; anything carrying credentials is dropped.
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
MAX_ATTEMPTS = 10
STUCK_AFTER = timedelta(minutes=5)
# A stored event the web request did not get to process (it stopped, or lost a lock).
NOT_PROCESSED_AFTER = timedelta(seconds=30)
REPROCESS = PaymentWork.WEBHOOK_PROCESS


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
    one processes it. On failure the traceback is kept and the event stays retryable: the
    minute sweep (webhooks_sweep) queues its processing on the outbox, which backs off and
    in the end leaves it dead and visible for the admin's retry. A fresh delivery by the
    provider and that outbox job (`delivered`) always try again, so a payment is never
    stranded while the provider still retries; other callers stop after MAX_ATTEMPTS.
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
        snapshot = get_provider(stored.provider).read_event(event)
        if snapshot is None:
            status = E.IGNORED
        else:
            try:
                payment_settle(snapshot=snapshot, actor=f"{stored.provider}:{stored.event_id}")
            except BuyerActionRequired as exc:
                # The capture was refused in a way only the buyer can fix: nothing was taken
                # and the checkout awaits them again (the return URL sends them back).
                log.info("webhook event %s: %r", stored.event_id, exc)
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


def webhooks_sweep(*, now: datetime | None = None) -> int:
    """The worker's sweep: every event that is not processed gets its processing queued on
    the outbox (which retries it with backoff, then leaves it dead and visible): events whose
    processing failed, events stored but never processed (the web process stopped), and
    events stuck "processing" (reclaimed). Returns how many were queued now."""
    now = now or timezone.now()
    WebhookEvent.objects.filter(status=E.PROCESSING, claimed_at__lt=now - STUCK_AFTER).update(
        status=E.FAILED, last_error="reclaimed: processing did not finish"
    )
    unsettled = list(
        WebhookEvent.objects.filter(
            Q(status=E.FAILED) | Q(status=E.PENDING, received_at__lt=now - NOT_PROCESSED_AFTER)
        )
        .order_by("received_at")
        .values_list("pk", "provider")[:500]
    )
    keys = {pk: dedup_key(key=f"webhook:{pk}", kind=REPROCESS, recipient=p) for pk, p in unsettled}
    queued = set(
        SideEffect.objects.filter(dedup_key__in=keys.values()).values_list("dedup_key", flat=True)
    )
    enqueued = 0
    for pk, provider in unsettled:
        if keys[pk] in queued:
            continue
        with transaction.atomic():
            enqueued += len(
                outbox_enqueue(
                    kinds=[REPROCESS],
                    key=f"webhook:{pk}",
                    recipient=provider,
                    data={"event": pk},
                )
            )
    return enqueued
