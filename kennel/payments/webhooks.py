"""Webhooks: verify, store, process, mark — the same for every provider.

A delivery is verified, then stored raw and its processing queued on the outbox in one
transaction (one statement on PostgreSQL), and answered at once: a provider whose API hangs
never holds a web thread. An event of a type the shop never acts on (the provider's
`acts_on`) is stored as ignored and queues nothing.
Duplicates are found by the unique (provider, event id). The worker's processing re-reads the
payment from the provider's API and settles it (payments/services.py), so arrival order and
repetition do not matter; it is retried with the outbox's backoff, then dead and visible.
"""

import hashlib
import json
import logging
import traceback
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from kennel.core.db import update_returning
from kennel.core.errors import Busy
from kennel.core.metrics import WEBHOOK_DELIVERIES
from kennel.core.models import SideEffect, audit
from kennel.core.outbox import (
    dedup_key,
    outbox_enqueue,
    outbox_insert_enqueue,
    side_effects_retry,
)
from kennel.payments.models import (
    PaymentWork,
    WebhookEvent,
    WebhookRejection,
    WebhookRejectionMinute,
    WebhookTransmission,
)
from kennel.payments.providers import BuyerActionRequired, VerifiedEvent, WebhookRejected
from kennel.payments.registry import get_provider
from kennel.payments.services import payment_settle

log = logging.getLogger(__name__)
E = WebhookEvent.Status

# Headers worth keeping with the raw body; anything carrying credentials is dropped.
_DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
MAX_ATTEMPTS = 10
# Processing re-reads the provider (a few calls of PROVIDER_TIMEOUT_SECONDS at most): a claim
# older than this was cut off (the worker was killed) and is taken over.
STUCK_AFTER = timedelta(seconds=60)
# A stored event the web request did not get to process (it stopped, or lost a lock).
NOT_PROCESSED_AFTER = timedelta(seconds=30)
REPROCESS = PaymentWork.WEBHOOK_PROCESS
# Refusals per minute are kept this long (health reports the last hour).
REJECTIONS_KEPT = timedelta(days=1)
# The header naming one signed delivery attempt, for providers that sign less than the body.
_TRANSMISSION_HEADERS = {"paypal": "paypal-transmission-id"}
TRANSMISSIONS_KEPT = timedelta(days=30)


def webhook_receive(*, provider: str, body: bytes | None, headers: dict[str, str]) -> WebhookEvent:
    """Verify a delivery, then store it and queue its processing in one transaction.
    Raises WebhookRejected (counted, nothing stored); `body` None: too large to be read."""
    headers = {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
    try:
        if body is None:
            raise WebhookRejected("body_too_large")
        payments = get_provider(provider)
        event = payments.verify_webhook(body, headers)
        # An event the shop never acts on (most of what a provider sends) is stored as
        # ignored, for the record, and costs the worker nothing.
        acted_on = payments.acts_on(event)
        stored_now = _store_in_one_statement(event) if acted_on else None
        if stored_now is not None and stored_now[1]:
            stored, created = stored_now  # stored with its job
        else:
            with transaction.atomic():
                # A duplicate that statement found; else the ORM path, which refuses a
                # replayed transmission id, too.
                stored, created = stored_now or _store(event, ignored=not acted_on)
                if created and acted_on:  # a new event has no job yet: no need to look
                    _queue_new(stored)
                elif stored.status in (E.PENDING, E.FAILED):
                    # A redelivery of an event whose processing failed: try again now.
                    webhook_queue(stored, actor=f"{stored.provider}:delivery")
    except WebhookRejected as exc:
        WEBHOOK_DELIVERIES.labels(provider, "unknown", f"rejected:{exc.reason}").inc()
        _count_rejection(provider, exc.reason)
        raise
    WEBHOOK_DELIVERIES.labels(provider, event.type, "stored" if created else "duplicate").inc()
    return stored


def webhook_queue(event: WebhookEvent, *, actor: str) -> None:
    """Queue the event's processing on the outbox (money queue), once: a job already waiting
    is left alone, one that ended (done before, or dead) is started again."""
    dedup = dedup_key(key=_job_key(event), kind=REPROCESS, recipient=event.provider)
    job = SideEffect.objects.filter(dedup_key=dedup).values_list("pk", "status").first()
    if job is None:
        _queue_new(event)
    elif job[1] in (SideEffect.Status.SENT, SideEffect.Status.DEAD):
        side_effects_retry(side_effect_ids=[job[0]], actor=actor, ended=True)


def _queue_new(event: WebhookEvent) -> None:
    outbox_enqueue(
        kinds=[REPROCESS], key=_job_key(event), recipient=event.provider, data={"event": event.pk}
    )


JOB_KEY_PREFIX = "webhook:"


def _job_key(event: WebhookEvent) -> str:
    """The outbox key of the event's processing job (its dedup key is built from it)."""
    return f"{JOB_KEY_PREFIX}{event.pk}"


def webhook_events_replay(*, event_ids: Iterable[int], actor: str) -> int:
    """Process stored events once more, on the worker (the back office's "replay"): each is
    reopened and its job queued, whatever it ended as. Safe: processing re-reads the payment
    from the provider and changes only what is not yet so. Returns how many were queued."""
    done = 0
    for event_id in sorted(set(event_ids)):
        with transaction.atomic():
            event = WebhookEvent.objects.select_for_update().filter(pk=event_id).first()
            if event is None or event.status == E.PROCESSING:
                continue  # gone, or running right now (it re-reads the provider anyway)
            WebhookEvent.objects.filter(pk=event.pk).update(status=E.PENDING, attempts=0)
            webhook_queue(event, actor=actor)
            audit("payments.webhook_event.replayed", actor=actor, obj=event)
            done += 1
    return done


def _store_in_one_statement(event: VerifiedEvent) -> tuple[WebhookEvent, bool] | None:
    """The hot path on PostgreSQL: a new event stored and its job queued in one statement
    (outbox_insert_enqueue), as `_store` + `_queue_new` would; like `_store`, the event and
    whether this delivery stored it (False: a duplicate, found without a second INSERT).
    None when that path does not apply — another engine, inside a transaction, a provider
    whose transmissions are recorded (`_record_transmission`): the caller takes the ORM
    path."""
    if (
        connection.vendor != "postgresql"
        or connection.in_atomic_block
        or event.provider in _TRANSMISSION_HEADERS
    ):
        return None
    now = timezone.now()
    insert = f"""
        INSERT INTO {WebhookEvent._meta.db_table} (
            provider, event_id, type, body, headers, signature_valid, status, attempts,
            last_error, received_at, claimed_at, processed_at
        )
        VALUES (%s, %s, %s, %s, %s::jsonb, true, %s, 0, '', %s, NULL, NULL)
        ON CONFLICT (provider, event_id) DO NOTHING
        RETURNING id
    """  # noqa: S608 (the table name from the model; every value is a parameter)
    params: list[Any] = [event.provider, event.event_id, event.type, event.body]
    params += [json.dumps(event.headers), E.PENDING, now]
    pk = outbox_insert_enqueue(
        insert,
        params,
        kind=REPROCESS,
        key_prefix=JOB_KEY_PREFIX,
        data_name="event",
        recipient=event.provider,
    )
    if pk is None:  # ON CONFLICT: stored already (a concurrent insert was waited for)
        return WebhookEvent.objects.get(provider=event.provider, event_id=event.event_id), False
    stored = WebhookEvent(
        pk=pk,
        provider=event.provider,
        event_id=event.event_id,
        type=event.type,
        body=event.body,
        headers=event.headers,
        status=E.PENDING,
        received_at=now,
    )
    return stored, True


def _store(event: VerifiedEvent, *, ignored: bool = False) -> tuple[WebhookEvent, bool]:
    """The stored event, and whether this delivery stored it (False: a duplicate).
    `ignored`: stored as processed and ignored (a type the shop never acts on)."""
    _record_transmission(event)
    try:
        with transaction.atomic():
            stored = WebhookEvent.objects.create(
                provider=event.provider,
                event_id=event.event_id,
                type=event.type,
                body=event.body,
                headers=event.headers,
                status=E.IGNORED if ignored else E.PENDING,
                processed_at=timezone.now() if ignored else None,
            )
    except IntegrityError:
        return WebhookEvent.objects.get(provider=event.provider, event_id=event.event_id), False
    return stored, True


def _record_transmission(event: VerifiedEvent) -> None:
    """Remember the body that came under a signed transmission id; refuse another body under
    it (WebhookRejected `transmission_replayed`). The same body again is a harmless repeat.

    PayPal signs `id|time|webhook id|crc32(body)`, and four chosen bytes match any CRC32: a
    genuine transmission's headers could otherwise carry a forged body. PayPal's redelivery
    of an event comes under a new id with the same body, so it is never refused here. Ids are
    kept longer than PAYPAL_WEBHOOK_MAX_AGE_HOURS admits a transmission time."""
    header = _TRANSMISSION_HEADERS.get(event.provider)
    transmission_id = str(event.headers.get(header) or "").strip() if header else ""
    if not transmission_id:
        return
    digest = hashlib.sha256(event.body.encode("utf-8")).hexdigest()
    seen = WebhookTransmission.objects.filter(provider=event.provider)
    try:
        with transaction.atomic():
            seen.create(
                provider=event.provider, transmission_id=transmission_id, body_sha256=digest
            )
    except IntegrityError:
        first = seen.filter(transmission_id=transmission_id).values_list("body_sha256", flat=True)
        if first.first() != digest:
            raise WebhookRejected("transmission_replayed") from None
        return
    seen.filter(received_at__lt=timezone.now() - TRANSMISSIONS_KEPT).delete()


def _count_rejection(provider: str, reason: str) -> None:
    log.warning("refused a %s webhook delivery: %s", provider, reason)
    with transaction.atomic():
        counter, _ = WebhookRejection.objects.get_or_create(provider=provider, reason=reason)
        now = timezone.now()
        WebhookRejection.objects.filter(pk=counter.pk).update(count=F("count") + 1, last_at=now)
        minute, created = WebhookRejectionMinute.objects.get_or_create(
            provider=provider, reason=reason, minute=now.replace(second=0, microsecond=0)
        )
        WebhookRejectionMinute.objects.filter(pk=minute.pk).update(count=F("count") + 1)
        if created:
            WebhookRejectionMinute.objects.filter(minute__lt=now - REJECTIONS_KEPT).delete()


def webhook_process(
    *, event_pk: int, delivered: bool = False, stale_after: timedelta = STUCK_AFTER
) -> str:
    """Process a stored event once; returns its status afterwards.

    The claim is one conditional UPDATE, so of many concurrent callers only one processes it;
    a claim older than `stale_after` belongs to a process that stopped mid-way and is taken
    over. On failure the traceback is kept and the event stays retryable: its outbox job
    backs off and in the end is dead and visible for the admin's retry. That job and a fresh
    delivery by the provider (`delivered`) always try again, so a payment is never stranded
    while the provider still retries; other callers stop after MAX_ATTEMPTS.
    Raises Busy when a row lock could not be had.
    """
    now = timezone.now()
    retryable = Q(status__in=[E.PENDING, E.FAILED]) | Q(
        status=E.PROCESSING, claimed_at__lt=now - stale_after
    )
    if not delivered:
        retryable &= Q(attempts__lt=MAX_ATTEMPTS)
    claimed = update_returning(
        WebhookEvent.objects.filter(retryable, pk=event_pk),
        status=E.PROCESSING,
        attempts=F("attempts") + 1,
        claimed_at=now,
    )
    if not claimed:
        return str(WebhookEvent.objects.values_list("status", flat=True).get(pk=event_pk))
    stored = claimed[0]
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
    """The worker's sweep, a safety net: every event that is neither processed nor waiting in
    the outbox gets its processing queued — events stored before their job could be written
    (older data), failed ones whose job ended, and ones stuck "processing" (reclaimed).
    Returns how many were queued now."""
    now = now or timezone.now()
    WebhookEvent.objects.filter(status=E.PROCESSING, claimed_at__lt=now - STUCK_AFTER).update(
        status=E.FAILED, last_error="reclaimed: processing did not finish"
    )
    unsettled = list(
        WebhookEvent.objects.filter(
            Q(status=E.FAILED) | Q(status=E.PENDING, received_at__lt=now - NOT_PROCESSED_AFTER)
        ).order_by("received_at")[:500]
    )
    keys = {
        e.pk: dedup_key(key=_job_key(e), kind=REPROCESS, recipient=e.provider) for e in unsettled
    }
    waiting = set(
        SideEffect.objects.filter(
            dedup_key__in=keys.values(),
            status__in=[SideEffect.Status.PENDING, SideEffect.Status.SENDING],
        ).values_list("dedup_key", flat=True)
    )
    dead = set(
        SideEffect.objects.filter(
            dedup_key__in=keys.values(), status=SideEffect.Status.DEAD
        ).values_list("dedup_key", flat=True)
    )
    queued = 0
    for event in unsettled:
        if keys[event.pk] in waiting or keys[event.pk] in dead:
            continue  # on its way, or given up on: the admin (or a redelivery) retries it
        with transaction.atomic():
            webhook_queue(event, actor="system:webhooks_sweep")
        queued += 1
    return queued
