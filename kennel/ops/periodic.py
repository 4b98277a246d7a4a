"""The periodic sweeps the worker runs every 30 seconds. Each is safe to run anywhere, any time."""

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, close_old_connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kennel.core.db import close_broken_connection, is_database_unavailable
from kennel.core.outbox import side_effects_recover
from kennel.monitoring.alerts import health_alerts_sweep
from kennel.monitoring.reconciliation import reconciliation_sweep
from kennel.payments.webhooks import webhooks_sweep
from kennel.reservations.models import Reservation
from kennel.reservations.picking import turns_nothing_left, turns_time_out
from kennel.reservations.services import reservations_expire_due, reservations_release_stranded

log = logging.getLogger(__name__)

# No task of ours runs for long (every outside call has a timeout); one still "running" after
# this was claimed by a worker that died (SIGKILL, OOM, power) and will never finish.
LOST_TASK_AFTER = timedelta(hours=1)
# A task row is the worker's bookkeeping; what the work was and how it ended stays on its
# SideEffect (status, attempts, last error). Finished rows older than this are deleted, at most
# PRUNE_BATCH a sweep, so a busy shop's task table stays the size of its last two weeks.
FINISHED_TASKS_KEPT = timedelta(days=14)
PRUNE_BATCH = 5000
# A pending hold past its time longer than this was expired by a full round already (every
# 30 s); the next expiry is looked for after it.
HOLD_EXPIRY_LOOKBACK = timedelta(minutes=5)


def _sweeps() -> list[tuple[str, Callable[[], int]]]:
    return [
        ("expired holds", lambda: reservations_expire_due()),
        ("stranded holds released", lambda: reservations_release_stranded()),
        ("pick turns timed out", lambda: turns_time_out()),
        ("pick turns skipped, nothing left", lambda: turns_nothing_left()),
        ("webhook events queued for processing", lambda: webhooks_sweep()),
        ("side effects recovered", lambda: side_effects_recover()),
        ("lost tasks marked failed", tasks_mark_lost),
        ("finished tasks pruned", tasks_prune),
        ("reconciliations run", lambda: reconciliation_sweep()),
        ("health incidents opened or closed", lambda: health_alerts_sweep()),
    ]


def next_hold_expiry_in() -> float:
    """Seconds until the next pending hold's time runs out (inf when none is pending)."""
    now = timezone.now()
    # From a little in the past only: the index on expires_at is read from there, not from the
    # shop's first hold (the rows before it are ended holds, never pending).
    soonest = (
        Reservation.objects.filter(
            status=Reservation.Status.PENDING, expires_at__gte=now - HOLD_EXPIRY_LOOKBACK
        )
        .order_by("expires_at")
        .values_list("expires_at", flat=True)
        .first()
    )
    return math.inf if soonest is None else (soonest - now).total_seconds()


def holds_expire_due() -> int:
    """The holds whose time has run out, between two rounds of every sweep."""
    expired = reservations_expire_due()
    if expired:
        log.info("sweep: expired holds: %d", expired)
    return expired


def run_sweeps() -> dict[str, int]:
    """Run every sweep; one failing does not stop the others."""
    results: dict[str, int] = {}
    for name, sweep in _sweeps():
        try:
            results[name] = sweep()
            if results[name]:
                log.info("sweep: %s: %d", name, results[name])
        except Exception as exc:
            if is_database_unavailable(exc):
                log.warning("sweep %s: database unavailable; next round will try again", name)
                close_broken_connection()
            else:
                log.exception("sweep %s failed", name)
    try:
        close_old_connections()
    except DatabaseError:
        close_broken_connection()
    return results


def tasks_mark_lost() -> int:
    """Mark FAILED the task rows a dead worker left RUNNING, so they show as failed rather
    than forever in progress. What they were doing is recovered by the outbox's own sweep;
    this only tidies the task table."""
    now = timezone.now()
    return DBTaskResult.objects.filter(
        status="RUNNING", started_at__lt=now - LOST_TASK_AFTER
    ).update(
        status="FAILED",
        finished_at=now,
        exception_class_path="kennel.ops.periodic.WorkerLost",
        traceback="The worker running this task stopped before it finished (killed?).",
    )


def tasks_prune(*, now: datetime | None = None) -> int:
    """Delete the task rows that finished (successful or failed) more than
    FINISHED_TASKS_KEPT ago, the oldest first, at most PRUNE_BATCH; how many."""
    cutoff = (now or timezone.now()) - FINISHED_TASKS_KEPT
    oldest = (
        DBTaskResult.objects.finished()
        .filter(finished_at__lt=cutoff)
        .order_by("finished_at")
        .values_list("pk", flat=True)[:PRUNE_BATCH]
    )
    deleted, _ = DBTaskResult.objects.filter(pk__in=list(oldest)).delete()
    return deleted
