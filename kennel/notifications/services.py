"""The outbox: side effects written with the state change they follow, delivered by the worker.

- `side_effects_enqueue` runs inside the state change's transaction: the SideEffect row and its
  django-tasks-db task commit (or vanish) with the change itself, so a crash after COMMIT loses
  nothing. The unique dedup key turns a replayed change into "already there".
- `side_effect_send` (the task) claims the row with one conditional UPDATE, so two workers
  never send it together; success marks it sent, a failure schedules a retry with exponential
  backoff and jitter, and after SIDE_EFFECT_MAX_ATTEMPTS (or a refusal) the row is `dead`.
- `side_effects_recover` (a worker sweep) re-enqueues what a killed worker left behind.
- `side_effects_retry` (the admin's action) gives dead rows a fresh start.

Delivery is at least once: a worker killed after the mail server accepted a message but
before the row says so sends it again after SIDE_EFFECT_LEASE_SECONDS. Each email keeps one
Message-ID for all its tries, and GA4/Meta deduplicate on transaction_id/event_id.
"""

import logging
import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from kennel.core.models import audit
from kennel.notifications.errors import DeliveryRefused
from kennel.notifications.models import SideEffect
from kennel.reservations.models import Reservation

log = logging.getLogger(__name__)
K = SideEffect.Kind
St = SideEffect.Status
ERROR_MAX = 4000


def side_effects_enqueue(
    *,
    reservation: Reservation,
    kinds: Iterable[str],
    discriminator: str = "",
    data: dict[str, Any] | None = None,
) -> list[SideEffect]:
    """Write the side effects `kinds` of a state change, each with its delivery task.

    Must run inside the transaction of the state change. Kinds that are off are skipped: an
    owner email without OWNER_EMAIL, GA4/Meta without the buyer's consent or their settings.
    `discriminator` tells apart two side effects of one kind (the refunded payment's id).
    Returns the side effects created now; those already there are left alone.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("side effects must be enqueued in the state change's transaction")
    created: list[SideEffect] = []
    now = timezone.now()
    for kind in kinds:
        recipient = _recipient(K(kind), reservation)
        if recipient is None:
            continue
        key = dedup_key(
            reservation_id=str(reservation.pk),
            kind=kind,
            recipient=recipient,
            discriminator=discriminator,
        )
        if SideEffect.objects.filter(dedup_key=key).exists():
            continue
        try:
            with transaction.atomic():  # a savepoint: a lost race leaves the outer work intact
                effect = SideEffect.objects.create(
                    reservation=reservation,
                    kind=kind,
                    recipient=recipient,
                    dedup_key=key,
                    data=data or {},
                    next_attempt_at=now,
                )
                effect.task_id = _schedule(effect.pk)
                effect.save(update_fields=["task_id"])
        except IntegrityError:
            continue  # a concurrent transaction wrote the same key first
        created.append(effect)
    return created


def dedup_key(*, reservation_id: str, kind: str, recipient: str, discriminator: str = "") -> str:
    key = f"{reservation_id}:{kind}:{recipient.strip().lower()}"
    return f"{key}:{discriminator}" if discriminator else key


def _recipient(kind: K, reservation: Reservation) -> str | None:
    from kennel.analytics.ga4 import ga4_config
    from kennel.analytics.meta import meta_config

    if kind in SideEffect.OWNER_KINDS:
        return settings.OWNER_EMAIL.strip() or None
    if kind in SideEffect.BUYER_KINDS:
        return reservation.buyer_email
    if not reservation.analytics_consent:
        return None
    if kind == K.GA4_PURCHASE:
        ga4 = ga4_config()
        return f"ga4:{ga4.measurement_id}" if ga4 else None
    meta = meta_config()
    return f"meta:{meta.pixel_id}" if meta else None


def _schedule(effect_id: int, *, run_after: datetime | None = None) -> str:
    """Enqueue the delivery task (in the caller's transaction); returns the task's id."""
    from kennel.notifications.tasks import side_effect_deliver

    task = side_effect_deliver.using(run_after=run_after) if run_after else side_effect_deliver
    return str(task.enqueue(effect_id).id)


def side_effect_send(*, side_effect_id: int) -> str:
    """Deliver one side effect if it is due and nobody else is on it; returns its status after.

    Never touches the reservation: whatever the mail server or an endpoint does, the
    reservation's state is the same afterwards.
    """
    now = timezone.now()
    claimed = SideEffect.objects.filter(
        pk=side_effect_id, status=St.PENDING, next_attempt_at__lte=now
    ).update(status=St.SENDING, attempts=F("attempts") + 1, claimed_at=now, updated_at=now)
    if not claimed:
        current = SideEffect.objects.filter(pk=side_effect_id).values_list("status", flat=True)
        return current.first() or "missing"
    effect = SideEffect.objects.select_related("reservation__puppy").get(pk=side_effect_id)
    try:
        _sender(effect)(effect)
    except Exception as exc:
        return _record_failure(effect, exc)
    # Sent is the truth even if a sweep meanwhile took the row back after a long send.
    SideEffect.objects.filter(pk=effect.pk).exclude(status=St.SENT).update(
        status=St.SENT, sent_at=timezone.now(), last_error="", updated_at=timezone.now()
    )
    return St.SENT


def _sender(effect: SideEffect) -> Callable[[SideEffect], None]:
    from kennel.analytics.ga4 import ga4_send_purchase
    from kennel.analytics.meta import meta_send_purchase
    from kennel.notifications.emails import email_send

    if effect.kind == K.GA4_PURCHASE:
        return lambda e: ga4_send_purchase(reservation=e.reservation)
    if effect.kind == K.META_PURCHASE:
        return lambda e: meta_send_purchase(reservation=e.reservation)
    return lambda e: email_send(side_effect=e)


def _record_failure(effect: SideEffect, exc: Exception) -> str:
    error = f"attempt {effect.attempts}: {type(exc).__name__}: {exc}"[:ERROR_MAX]
    now = timezone.now()
    still_ours = SideEffect.objects.filter(pk=effect.pk, status=St.SENDING)
    if isinstance(exc, DeliveryRefused) or effect.attempts >= settings.SIDE_EFFECT_MAX_ATTEMPTS:
        with transaction.atomic():
            if still_ours.update(status=St.DEAD, last_error=error, claimed_at=None, updated_at=now):
                audit(
                    "notifications.side_effect.dead",
                    actor="system:worker",
                    obj=effect,
                    kind=effect.kind,
                    reservation=str(effect.reservation_id),
                    error=error[:500],
                )
        log.error("side effect %s (%s) is dead: %s", effect.pk, effect.kind, error)
        return St.DEAD
    next_at = now + retry_delay(effect.attempts)
    with transaction.atomic():
        if still_ours.update(
            status=St.PENDING,
            next_attempt_at=next_at,
            claimed_at=None,
            last_error=error,
            updated_at=now,
        ):
            task_id = _schedule(effect.pk, run_after=next_at)
            SideEffect.objects.filter(pk=effect.pk).update(task_id=task_id)
    log.warning(
        "side effect %s (%s) failed, retry at %s: %s", effect.pk, effect.kind, next_at, error
    )
    return St.PENDING


def retry_delay(attempt: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """The wait after failed attempt number `attempt` (1, 2, …): exponential from
    SIDE_EFFECT_RETRY_BASE_SECONDS, capped at SIDE_EFFECT_RETRY_MAX_SECONDS, with "equal
    jitter" (between half and all of it) so that a burst of failures does not retry in step."""
    base = settings.SIDE_EFFECT_RETRY_BASE_SECONDS
    ceiling = min(settings.SIDE_EFFECT_RETRY_MAX_SECONDS, base * 2 ** min(attempt - 1, 40))
    return timedelta(seconds=ceiling / 2 + rng() * ceiling / 2)


def side_effects_recover(*, now: datetime | None = None) -> int:
    """The worker's sweep: take back what a killed worker left. Returns how many rows.

    - `sending` for longer than the lease: the worker died mid-send; try again (or `dead`
      when it has used up its attempts).
    - `pending` and overdue by more than the lease, while its task is neither queued nor
      running: the task was lost (its worker was killed after claiming it); enqueue anew.
    """
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SIDE_EFFECT_LEASE_SECONDS)
    recovered = 0
    stuck = SideEffect.objects.filter(status=St.SENDING, claimed_at__lt=cutoff)
    for pk, attempts in stuck.values_list("pk", "attempts")[:200]:
        mine = SideEffect.objects.filter(pk=pk, status=St.SENDING, claimed_at__lt=cutoff)
        note = f"attempt {attempts}: cut off (the worker stopped while sending)"
        with transaction.atomic():
            if attempts >= settings.SIDE_EFFECT_MAX_ATTEMPTS:
                recovered += mine.update(status=St.DEAD, last_error=note, updated_at=now)
            elif mine.update(
                status=St.PENDING, next_attempt_at=now, claimed_at=None, last_error=note
            ):
                SideEffect.objects.filter(pk=pk).update(task_id=_schedule(pk), updated_at=now)
                recovered += 1
    overdue = list(
        SideEffect.objects.filter(status=St.PENDING, next_attempt_at__lt=cutoff).values_list(
            "pk", "task_id"
        )[:500]
    )
    live = {
        str(task_id)
        for task_id in DBTaskResult.objects.filter(id__in=[t for _, t in overdue if t])
        .filter(Q(status="READY") | Q(status="RUNNING", started_at__gte=cutoff))
        .values_list("id", flat=True)
    }
    for pk, task_id in overdue:
        if task_id in live:
            continue  # queued behind others, or running right now
        with transaction.atomic():
            if SideEffect.objects.filter(pk=pk, status=St.PENDING, task_id=task_id).update(
                task_id=_schedule(pk), updated_at=now
            ):
                recovered += 1
    if recovered:
        log.warning("re-enqueued %d side effects left behind by a stopped worker", recovered)
    return recovered


def side_effects_retry(*, side_effect_ids: Iterable[int], actor: str) -> int:
    """Give dead side effects a fresh start (attempts from zero, due now); returns how many.

    Rows that are not dead are left alone, so a double click sends nothing twice.
    """
    now = timezone.now()
    retried = 0
    for pk in side_effect_ids:
        with transaction.atomic():
            if not SideEffect.objects.filter(pk=pk, status=St.DEAD).update(
                status=St.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, updated_at=now
            ):
                continue
            effect = SideEffect.objects.get(pk=pk)
            effect.task_id = _schedule(pk)
            effect.save(update_fields=["task_id"])
            audit(
                "notifications.side_effect.retried",
                actor=actor,
                obj=effect,
                kind=effect.kind,
                reservation=str(effect.reservation_id),
            )
            retried += 1
    return retried
