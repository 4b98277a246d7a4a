"""The outbox: the one way background work is done, retried, given up on and retried by hand.

Every piece of work that follows a state change — an email, a GA4/Meta conversion, a refund
to send, a checkout to close, a webhook event to process again — is a `SideEffect` row:

- `outbox_enqueue` runs inside the state change's transaction: the row and its django-tasks-db
  task commit (or vanish) with the change itself, so a crash after COMMIT loses nothing. The
  unique dedup key turns a replayed change into "already there". On PostgreSQL the rows, their
  tasks and the wake-up are one statement; `outbox_insert_enqueue` writes them in the very
  statement of a change that is one INSERT (webhook ingest).
- `side_effect_run` (the task) claims the row with one conditional UPDATE, so two workers
  never run it together; success marks it done, a failure schedules a retry with exponential
  backoff and jitter, and after SIDE_EFFECT_MAX_ATTEMPTS (or a refusal) the row is `dead`.
- `side_effects_recover` (a worker sweep) takes back what a killed worker left behind.
- `side_effects_retry` (the admin's action) gives dead rows a fresh start.

What a kind does is a handler an upper layer registers at start-up (`register`, from its
AppConfig.ready): core knows no email, provider or endpoint. Each handler names its queue:
money (refunds, checkouts, webhooks) runs on its own worker thread, so a mail server taking
30 s a message never holds up a refund.

Delivery is at least once: a worker killed after the work was done but before the row says
so does it again after SIDE_EFFECT_LEASE_SECONDS. Handlers are idempotent (emails keep one
Message-ID, providers get the same idempotency key, GA4/Meta deduplicate on their ids).
"""

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import Promise
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max

from kennel.core.db import close_broken_connection, is_database_unavailable, update_returning
from kennel.core.metrics import SIDE_EFFECT_RUNS
from kennel.core.models import SideEffect, audit
from kennel.core.wakeup import WAKE_CHANNEL

log = logging.getLogger(__name__)
St = SideEffect.Status
ERROR_MAX = 4000
MARK_DONE_TRIES = 8  # about 8 s in all
DEFAULT_QUEUE = "default"
MONEY_QUEUE = "money"
QUEUES = (DEFAULT_QUEUE, MONEY_QUEUE)


class DeliveryFailed(Exception):
    """The work could not be done now (down, timeout, 5xx, 429): try again later.

    `status` and `body` are the HTTP answer, when there was one.
    """

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class DeliveryRefused(DeliveryFailed):
    """Retrying the same work cannot help (invalid payload, refused recipient, a 4xx, a
    provider's final no): the side effect goes straight to `dead`, visible in the admin."""


# The note of a row done without doing its work (NoLongerTrue), at the start of last_error.
NOT_SENT = "not sent: "


class NoLongerTrue(Exception):
    """The work would tell something that stopped being true before it ran (a "deposit
    confirmed" email for a reservation refunded meanwhile, a mail server being down): it is
    done without being done, and the row says why."""


@dataclass(frozen=True)
class Handler:
    """What one kind of work does. `recipient(subject)` says who or what receives it for the
    subject passed to `outbox_enqueue` (None: switched off, nothing is written)."""

    kind: str
    label: str | Promise  # lazy: read in the reader's language (kind_label)
    run: Callable[[SideEffect], None]
    queue: str = DEFAULT_QUEUE
    recipient: Callable[[Any], str | None] | None = None
    # How long a run may take before the sweep believes its worker died (default: the
    # SIDE_EFFECT_LEASE_SECONDS setting); short for work someone is waiting on.
    lease_seconds: float | None = None

    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds or settings.SIDE_EFFECT_LEASE_SECONDS)


_handlers: dict[str, Handler] = {}


def register(
    kind: str,
    *,
    label: str | Promise,
    run: Callable[[SideEffect], None],
    queue: str = DEFAULT_QUEUE,
    recipient: Callable[[Any], str | None] | None = None,
    lease_seconds: float | None = None,
) -> None:
    """Plug in the handler of `kind` (from an AppConfig.ready). Registering again replaces it."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue!r}")
    _handlers[kind] = Handler(
        kind=kind,
        label=label,
        run=run,
        queue=queue,
        recipient=recipient,
        lease_seconds=lease_seconds,
    )


def handler_for(kind: str) -> Handler:
    try:
        return _handlers[kind]
    except KeyError:
        raise LookupError(f"no handler is registered for side effects of kind {kind!r}") from None


def kind_label(kind: str) -> str:
    registered = _handlers.get(kind)
    return str(registered.label) if registered else kind


def outbox_enqueue(
    *,
    kinds: Iterable[str],
    subject: Any = None,
    reservation_id: uuid.UUID | str | None = None,
    key: str = "",
    recipient: str | None = None,
    discriminator: str = "",
    data: dict[str, Any] | None = None,
) -> list[SideEffect]:
    """Write the work `kinds` of a state change, each with the task that runs it.

    Must run inside the transaction of the state change. A kind whose handler finds no
    recipient for `subject` is off and skipped (an owner email without OWNER_EMAIL, GA4
    without consent or settings). The dedup key is `key` (default: the reservation id) +
    kind + recipient (+ `discriminator`, e.g. the refunded payment's id). Returns the rows
    created now; those already there are left alone.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("side effects must be enqueued in the state change's transaction")
    now = timezone.now()
    wanted: list[SideEffect] = []
    for kind in kinds:
        handler = handler_for(kind)
        to = recipient
        if to is None and handler.recipient is not None:
            to = handler.recipient(subject)
        if to is None:
            continue
        dedup = dedup_key(
            key=key or str(reservation_id or ""),
            kind=kind,
            recipient=to,
            discriminator=discriminator,
        )
        wanted.append(
            SideEffect(
                kind=kind,
                reservation_id=reservation_id,
                recipient=to,
                dedup_key=dedup,
                data=data or {},
                queue=handler.queue,
                next_attempt_at=now,
                task_id=str(uuid.uuid4()),  # the task written below, if the row is new
            )
        )
    if not wanted:
        return []
    if connection.vendor == "postgresql":
        return _enqueue_in_one_statement(wanted)
    # One INSERT for every kind. A key already there (a replayed change, or a concurrent
    # transaction that wrote it first: the database waits for it) is skipped by the database,
    # so a lost race never aborts the caller's transaction and needs no savepoint. The rows
    # this call wrote are those carrying its own task ids.
    SideEffect.objects.bulk_create(wanted, ignore_conflicts=True)
    created = list(
        SideEffect.objects.filter(
            dedup_key__in=[w.dedup_key for w in wanted], task_id__in=[w.task_id for w in wanted]
        ).order_by("pk")
    )
    _tasks_write([(effect, effect.task_id) for effect in created])
    return created


def outbox_insert_enqueue(
    insert_sql: str,
    params: Sequence[Any],
    *,
    kind: str,
    key_prefix: str,
    data_name: str,
    recipient: str,
) -> int | None:
    """PostgreSQL: run `insert_sql` — an `INSERT … ON CONFLICT DO NOTHING RETURNING id` — and,
    in the same statement, write the side effect `kind` for the row it wrote, exactly as
    `outbox_enqueue(kinds=[kind], key=f"{key_prefix}{id}", recipient=recipient,
    data={data_name: id})` would, with its task and the wake-up. Returns the new row's id, or
    None when the INSERT wrote nothing (then nothing else was written either).

    One round trip where the ORM makes ten: on two cores, under granian's threads, each round
    trip is a GIL hand-off, and webhook ingest is bound by those (bench/, README
    "Performance"). Autocommit or not, the statement is all or nothing."""
    if connection.vendor != "postgresql":
        raise RuntimeError("outbox_insert_enqueue needs PostgreSQL")
    handler = handler_for(kind)
    now = timezone.now()
    task_id = uuid.uuid4()
    effects = SideEffect._meta.db_table
    sql = f"""
        WITH new_row AS ({insert_sql}),
        effect AS (
            INSERT INTO {effects} (
                created_at, updated_at, kind, reservation_id, recipient, dedup_key, data,
                queue, status, attempts, next_attempt_at, claimed_at, task_id, last_error,
                sent_at
            )
            SELECT %s, %s, %s, NULL, %s, %s || new_row.id || %s, jsonb_build_object(%s, new_row.id),
                %s, %s, 0, %s, NULL, %s, '', NULL
            FROM new_row
            RETURNING id, task_id, queue
        ),
        task AS ({_TASKS_OF_EFFECT})
        SELECT new_row.id, pg_notify(%s, %s) FROM new_row
    """  # noqa: S608 (table names from the models; every value is a parameter)
    suffix = dedup_key(key="", kind=kind, recipient=recipient)  # ":<kind>:<recipient>"
    ours: list[Any] = [
        *(now, now, kind, recipient, key_prefix, suffix, data_name),
        *(handler.queue, St.PENDING, now, str(task_id)),
        *_tasks_of_effect_params(now),
        *(WAKE_CHANNEL, handler.queue),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ours])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _enqueue_in_one_statement(wanted: list[SideEffect]) -> list[SideEffect]:
    """PostgreSQL: what outbox_enqueue writes — the rows whose dedup key is new, each with its
    task, and the wake-up of their queues — in one statement instead of four built by the
    ORM (the rows, reading back which were written, their tasks, the NOTIFY): the worker
    enqueues the emails of every payment it confirms (bench/HISTORY.md). Returns the
    rows written. A NOTIFY repeated within a transaction is delivered once."""
    fields = [f for f in SideEffect._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    row = f"({', '.join(['%s'] * len(fields))})"
    values: list[Any] = [
        f.get_db_prep_save(f.pre_save(effect, add=True), connection)
        for effect in wanted
        for f in fields
    ]
    sql = f"""
        WITH effect AS (
            INSERT INTO {SideEffect._meta.db_table} ({columns})
            VALUES {", ".join([row] * len(wanted))}
            ON CONFLICT DO NOTHING
            RETURNING *
        ),
        task AS ({_TASKS_OF_EFFECT})
        SELECT effect.*, pg_notify(%s, effect.queue) AS woken FROM effect ORDER BY effect.id
    """  # noqa: S608 (table and column names from the model; every value is a parameter)
    params = [*values, *_tasks_of_effect_params(timezone.now()), WAKE_CHANNEL]
    return list(SideEffect.objects.raw(sql, params))


# The task of each row of a CTE `effect` (id, task_id, queue): the row django-tasks-db's own
# enqueue would write, run_after "never" standing for "now" as its pre_save handler sets it.
_TASKS_OF_EFFECT = f"""
    INSERT INTO {DBTaskResult._meta.db_table} (
        id, status, args_kwargs, priority, task_path, queue_name, backend_name,
        run_after, enqueued_at, started_at, finished_at, return_value,
        exception_class_path, traceback, worker_ids
    )
    SELECT effect.task_id::uuid, %s,
        jsonb_build_object('args', jsonb_build_array(effect.id), 'kwargs', '{{}}'::jsonb),
        %s, %s, effect.queue, %s, %s, %s, NULL, NULL, NULL, '', '', '[]'::jsonb
    FROM effect
"""  # noqa: S608 (the table name is the model's; every value is a parameter)


def _tasks_of_effect_params(now: datetime) -> list[Any]:
    task = side_effect_deliver
    return [
        TaskResultStatus.READY,
        *(task.priority, task.module_path, task.backend, get_date_max(), now),
    ]


def subject_id(effect: SideEffect) -> uuid.UUID:
    """The reservation a handler's work is about (its kinds are always written with one)."""
    if effect.reservation_id is None:
        raise LookupError(f"side effect {effect.pk} ({effect.kind}) names no reservation")
    return effect.reservation_id


def dedup_key(*, key: str, kind: str, recipient: str, discriminator: str = "") -> str:
    dedup = f"{key}:{kind}:{recipient.strip().lower()}"
    return f"{dedup}:{discriminator}" if discriminator else dedup


@task(queue_name=DEFAULT_QUEUE)
def side_effect_deliver(side_effect_id: int) -> str:
    """Run one side effect; failures are recorded on the row and retried."""
    return side_effect_run(side_effect_id=side_effect_id)


def _schedule(effect: SideEffect, *, run_after: datetime | None = None) -> str:
    """Write a new task running `effect` (in the caller's transaction); its id."""
    task_id = str(uuid.uuid4())
    _tasks_write([(effect, task_id)], run_after=run_after)
    return task_id


def _tasks_write(tasks: list[tuple[SideEffect, str]], *, run_after: datetime | None = None) -> None:
    """The django-tasks-db tasks running these side effects, under these task ids, written
    in one INSERT: the rows django-tasks-db's own enqueue would write (run_after "never"
    stands for "now", as its pre_save handler sets it), without a query per task.

    On PostgreSQL a NOTIFY on WAKE_CHANNEL goes with them, one per queue: delivered at COMMIT
    (never for a rolled-back change), it wakes the queue's idle worker threads at once
    (listen_for_work) instead of at their next poll."""
    if not tasks:
        return
    task = side_effect_deliver
    DBTaskResult.objects.bulk_create(
        DBTaskResult(
            id=uuid.UUID(task_id),
            args_kwargs={"args": [effect.pk], "kwargs": {}},
            priority=task.priority,
            task_path=task.module_path,
            queue_name=effect.queue,
            backend_name=task.backend,
            run_after=run_after or get_date_max(),
        )
        for effect, task_id in tasks
    )
    if run_after is None and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for queue in sorted({effect.queue for effect, _ in tasks}):
                cursor.execute("SELECT pg_notify(%s, %s)", [WAKE_CHANNEL, queue])


def side_effect_run(*, side_effect_id: int) -> str:
    """Run one side effect if it is due and nobody else is on it; its status after.

    Whatever the handler's outside party does, the state change that wrote the row stands.
    """
    now = timezone.now()
    claimed = update_returning(
        SideEffect.objects.filter(pk=side_effect_id, status=St.PENDING, next_attempt_at__lte=now),
        status=St.SENDING,
        attempts=F("attempts") + 1,
        claimed_at=now,
        updated_at=now,
    )
    if not claimed:
        current = SideEffect.objects.filter(pk=side_effect_id).values_list("status", flat=True)
        return current.first() or "missing"
    effect = claimed[0]
    try:
        handler_for(effect.kind).run(effect)
    except NoLongerTrue as exc:
        _mark_done(effect.pk, note=f"{NOT_SENT}{exc}"[:ERROR_MAX])
        SIDE_EFFECT_RUNS.labels(effect.kind, "skipped").inc()
        return St.SENT
    except Exception as exc:
        return _record_failure(effect, exc)
    _mark_done(effect.pk)
    SIDE_EFFECT_RUNS.labels(effect.kind, "sent").inc()
    return St.SENT


def _mark_done(effect_id: int, *, note: str = "") -> None:
    """Record that the work was done. The work cannot be undone, so this insists: a database
    that drops the connection now (restart, failover) is given a few seconds to come back
    before the row is left for the lease to run it again (a second email, an idempotent
    provider call). Done is the truth even if a sweep meanwhile took the row back."""
    for attempt in range(MARK_DONE_TRIES):
        try:
            SideEffect.objects.filter(pk=effect_id).exclude(status=St.SENT).update(
                status=St.SENT, sent_at=timezone.now(), last_error=note, updated_at=timezone.now()
            )
            return
        except DatabaseError as exc:
            if not is_database_unavailable(exc) or attempt == MARK_DONE_TRIES - 1:
                raise
            close_broken_connection()
            time.sleep(min(0.1 * 2**attempt, 2.0))


def _record_failure(effect: SideEffect, exc: Exception) -> str:
    error = f"attempt {effect.attempts}: {type(exc).__name__}: {exc}"[:ERROR_MAX]
    now = timezone.now()
    still_ours = SideEffect.objects.filter(pk=effect.pk, status=St.SENDING)
    if isinstance(exc, DeliveryRefused) or effect.attempts >= settings.SIDE_EFFECT_MAX_ATTEMPTS:
        with transaction.atomic():
            if still_ours.update(status=St.DEAD, last_error=error, claimed_at=None, updated_at=now):
                audit(
                    "core.side_effect.dead",
                    actor="system:worker",
                    obj=effect,
                    kind=effect.kind,
                    reservation=str(effect.reservation_id or ""),
                    error=error[:500],
                )
                SIDE_EFFECT_RUNS.labels(effect.kind, "dead").inc()
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
            SideEffect.objects.filter(pk=effect.pk).update(
                task_id=_schedule(effect, run_after=next_at)
            )
            SIDE_EFFECT_RUNS.labels(effect.kind, "retry").inc()
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

    - `sending` for longer than the lease: the worker died mid-run; try again (or `dead`
      when it has used up its attempts).
    - `pending` and overdue by more than the lease, while its task is neither queued nor
      running: the task was lost (its worker was killed after claiming it); enqueue anew.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SIDE_EFFECT_LEASE_SECONDS)
    shortest = min([now - cutoff, *(h.lease() for h in _handlers.values())])
    recovered = 0
    stuck = SideEffect.objects.filter(status=St.SENDING, claimed_at__lt=now - shortest)
    for effect in stuck[:200]:
        lease_ended = now - _lease(effect.kind)
        if effect.claimed_at is None or effect.claimed_at >= lease_ended:
            continue  # a longer lease: still within it
        mine = SideEffect.objects.filter(
            pk=effect.pk, status=St.SENDING, claimed_at__lt=lease_ended
        )
        note = f"attempt {effect.attempts}: cut off (the worker stopped while running it)"
        with transaction.atomic():
            if effect.attempts >= settings.SIDE_EFFECT_MAX_ATTEMPTS:
                recovered += mine.update(status=St.DEAD, last_error=note, updated_at=now)
            elif mine.update(
                status=St.PENDING, next_attempt_at=now, claimed_at=None, last_error=note
            ):
                SideEffect.objects.filter(pk=effect.pk).update(
                    task_id=_schedule(effect), updated_at=now
                )
                recovered += 1
    overdue = list(SideEffect.objects.filter(status=St.PENDING, next_attempt_at__lt=cutoff)[:500])
    live = {
        str(task_id)
        for task_id in DBTaskResult.objects.filter(id__in=[e.task_id for e in overdue if e.task_id])
        .filter(Q(status="READY") | Q(status="RUNNING", started_at__gte=cutoff))
        .values_list("id", flat=True)
    }
    for effect in overdue:
        if effect.task_id in live:
            continue  # queued behind others, or running right now
        with transaction.atomic():
            if SideEffect.objects.filter(
                pk=effect.pk, status=St.PENDING, task_id=effect.task_id
            ).update(task_id=_schedule(effect), updated_at=now):
                recovered += 1
    if recovered:
        log.warning("re-enqueued %d side effects left behind by a stopped worker", recovered)
    return recovered


def _lease(kind: str) -> timedelta:
    registered = _handlers.get(kind)
    return (
        registered.lease() if registered else timedelta(seconds=settings.SIDE_EFFECT_LEASE_SECONDS)
    )


def side_effects_take_back(*, worker_id: str, now: datetime | None = None) -> int:
    """After a worker lost its database mid-task: the task rows it had claimed are marked
    failed (never left RUNNING), and the side effects they were running are due again at
    once, with a new task (or, already done meanwhile, left alone). Returns how many."""
    now = now or timezone.now()
    mine = [
        result
        for result in DBTaskResult.objects.filter(status="RUNNING")
        if worker_id in (result.worker_ids or [])
    ]
    for result in mine:
        with transaction.atomic():
            DBTaskResult.objects.filter(pk=result.pk, status="RUNNING").update(
                status="FAILED",
                finished_at=now,
                exception_class_path="kennel.core.outbox.DatabaseLost",
                traceback="The worker lost its database connection while running this task.",
            )
            args = (result.args_kwargs or {}).get("args") or []
            if result.task_path.endswith(".side_effect_deliver") and args:
                effect = SideEffect.objects.filter(pk=args[0]).first()
                if effect is not None and effect.status in (St.PENDING, St.SENDING):
                    SideEffect.objects.filter(pk=effect.pk, status=effect.status).update(
                        status=St.PENDING,
                        next_attempt_at=now,
                        claimed_at=None,
                        task_id=_schedule(effect),
                        updated_at=now,
                    )
    if mine:
        log.warning("took back %d task(s) cut off by a lost database connection", len(mine))
    return len(mine)


def side_effects_retry(*, side_effect_ids: Iterable[int], actor: str, ended: bool = False) -> int:
    """Give dead side effects a fresh start (attempts from zero, due now); returns how many.

    Rows that are not dead are left alone, so a double click runs nothing twice. `ended`
    also restarts rows that are done, for work that is worth doing again (a webhook event a
    provider delivers anew).
    """
    now = timezone.now()
    retried = 0
    statuses = [St.DEAD, St.SENT] if ended else [St.DEAD]
    for pk in side_effect_ids:
        with transaction.atomic():
            if not SideEffect.objects.filter(pk=pk, status__in=statuses).update(
                status=St.PENDING, attempts=0, next_attempt_at=now, claimed_at=None, updated_at=now
            ):
                continue
            effect = SideEffect.objects.get(pk=pk)
            effect.task_id = _schedule(effect)
            effect.save(update_fields=["task_id"])
            audit(
                "core.side_effect.retried",
                actor=actor,
                obj=effect,
                kind=effect.kind,
                reservation=str(effect.reservation_id or ""),
            )
            retried += 1
    return retried
