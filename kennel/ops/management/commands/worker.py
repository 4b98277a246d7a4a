"""`python -m kennel worker`: runs queued tasks (the outbox) and the minute sweeps."""

import json
import logging
import os
import threading
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, OperationalError, close_old_connections, connection
from django.db.models import Case, F, When
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from kennel.core.db import close_broken_connection, is_database_unavailable
from kennel.core.outbox import (
    DEFAULT_QUEUE,
    MONEY_QUEUE,
    side_effects_take_back,
)
from kennel.core.wakeup import Wakeup, listen_for_work
from kennel.monitoring.integrations import integrations_log
from kennel.ops.periodic import holds_expire_due, next_hold_expiry_in, run_sweeps

log = logging.getLogger("kennel.worker")


class Command(BaseCommand):
    help = (
        "Run background work (refunds, checkout closes and webhooks on their own loop; emails "
        "and conversions), expire each hold when its time runs out and, every 30 s, queue "
        "unprocessed webhook events and recover work a stopped worker left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument("--sweep-every", type=float, default=30.0, help="Seconds.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Threads for the money queue (default: the WORKER_MONEY_THREADS setting).",
        )

    def handle(
        self,
        *args: Any,
        interval: float,
        sweep_every: float,
        batch: bool,
        threads: int | None,
        **kw: Any,
    ) -> None:
        if kw.get("verbosity", 1) > 0:
            integrations_log(log)  # what is off is said at start, once
        if batch:
            run_sweeps()
            _worker(MONEY_QUEUE, interval=interval, batch=True).run()
            _worker(DEFAULT_QUEUE, interval=interval, batch=True).run()
            return
        niceness = _lower_priority(settings.WORKER_NICE)
        # Money (refunds, checkout closes, webhooks) has its own threads: a mail server taking
        # 30 s a message must never hold up a refund. Its work waits on providers and on
        # PostgreSQL, not on the CPU, so several threads (each with its own connection; a task
        # is claimed with SELECT … FOR UPDATE SKIP LOCKED, the work under its own claims) run
        # a burst of webhooks side by side.
        money_threads = max(1, threads if threads is not None else settings.WORKER_MONEY_THREADS)
        wakeups = {MONEY_QUEUE: Wakeup(), DEFAULT_QUEUE: Wakeup()}
        money_first = MoneyFirst()
        default = _worker(
            DEFAULT_QUEUE, interval=interval, wakeup=wakeups[DEFAULT_QUEUE], gate=money_first
        )
        money = [
            _worker(
                MONEY_QUEUE,
                interval=interval,
                wakeup=wakeups[MONEY_QUEUE],
                number=n,
                gate=money_first,
            )
            for n in range(1, money_threads + 1)
        ]
        stop = threading.Event()
        helpers = [threading.Thread(target=_sweep_loop, args=(stop, sweep_every), daemon=True)]
        if connection.vendor == "postgresql":
            helpers.append(
                threading.Thread(target=listen_for_work, args=(wakeups, stop), daemon=True)
            )
        helpers += [threading.Thread(target=_run_surviving, args=(w,), daemon=True) for w in money]
        for thread in helpers:
            thread.start()
        self.stdout.write(
            f"worker running ({money_threads} money thread(s); tasks every {interval}s or at "
            f"once when enqueued, sweeps every {sweep_every}s; nice {niceness})"
        )
        default.configure_signals()
        try:
            _run_surviving(default)
        finally:
            stop.set()
            for worker in money:
                worker.running = False
            for wakeup in wakeups.values():
                wakeup.ring()
            deadline = time.monotonic() + 30
            for thread in helpers:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))


def _lower_priority(niceness: int) -> int:
    """Run at `niceness` (WORKER_NICE), before any thread starts (Linux sets it per thread;
    new threads inherit it); never raised back. Processing a burst of webhooks takes a core
    for a while: at a lower priority it takes what the web server leaves, so buyers' pages
    and the acknowledgements the providers wait for come first, and the worker catches up
    after the burst (bench/HISTORY.md). Returns the niceness it runs at."""
    current = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = min(max(niceness, 0), 19)
    if wanted > current:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, wanted)
        except OSError as exc:  # a sandbox that forbids it: run as we are
            log.warning("could not lower the worker's priority to nice %d: %s", wanted, exc)
            return current
        return wanted
    return current


class MoneyFirst:
    """Money before emails, within one worker process. While a money thread is working
    through its queue (from the task it claims until it finds the queue empty), the emails
    and conversions loop waits before it claims its next task — at most PATIENCE seconds at
    a time, then it runs one anyway, so a money queue that never empties (or a provider that
    takes its time) slows emails down but never stops them.

    The process's threads share one GIL: during a burst of payments every email sent is CPU
    taken from the confirmations. So buyers and the owner see each payment confirmed (the
    status page, the back office) sooner, and the emails follow the burst (README,
    "Performance")."""

    PATIENCE = 5.0  # seconds

    def __init__(self, *, patience: float = PATIENCE) -> None:
        self.patience = patience
        self._changed = threading.Condition()
        self._working: set[str] = set()

    def working(self, worker_id: str, busy: bool) -> None:
        with self._changed:
            if busy:
                self._working.add(worker_id)
            else:
                self._working.discard(worker_id)
                self._changed.notify_all()

    def wait(self) -> None:
        """Until no money thread is working, at most `patience` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: not self._working, self.patience)


class WakingWorker(Worker):
    """django-tasks-db's worker loop, which between polls waits on a Wakeup (rung when work
    is enqueued) instead of sleeping the whole interval, and on PostgreSQL claims a task in
    one statement (`claim`). Running a task is django-tasks-db's own. With a `gate`
    (MoneyFirst), a money loop says when it is working and the other loop gives way to it.
    With `batch`, it stops at the first poll that finds nothing (`worker --batch`)."""

    def __init__(self, *, wakeup: Wakeup, gate: MoneyFirst | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wakeup = wakeup
        self.gate = gate
        self.money = MONEY_QUEUE in self.queue_names

    def run(self) -> None:
        try:
            self._run()
        finally:
            if self.gate is not None and self.money:
                self.gate.working(self.worker_id, False)

    def _run(self) -> None:
        log.debug("starting worker %s on %s", self.worker_id, ",".join(self.queue_names))
        gate = self.gate
        while self.running:
            if gate is not None and not self.money:
                gate.wait()
            close_old_connections()
            seen = self.wakeup.seen()
            task_result, looked = self.claim()
            if gate is not None and self.money:
                gate.working(self.worker_id, task_result is not None)
            if task_result is not None:
                self.run_task(task_result)
                continue
            if self.batch and looked:
                return  # --batch: everything queued has run
            close_old_connections()
            if self.running:
                self.wakeup.wait(seen, self.interval)

    def claim(self) -> tuple[DBTaskResult | None, bool]:
        """The next task due on this loop's queues, marked RUNNING by this worker; and whether
        the queue could be looked at (SQLite: not while another writer holds the database).

        What django-tasks-db's loop does (the highest priority, locked with SKIP LOCKED so two
        threads never take one task) but oldest due first (_due_at), on PostgreSQL in one
        autocommitted statement instead of a transaction of four, and one instead of three for
        a poll that finds nothing: every task and every poll pays it (bench/HISTORY.md)."""
        if connection.vendor == "postgresql":
            now = timezone.now()
            claimed = DBTaskResult.objects.raw(
                CLAIM_SQL,
                [
                    now,
                    json.dumps([self.worker_id]),
                    get_date_max(),
                    now,
                    self.backend_name,
                    self.queue_names,
                ],
            )
            return next(iter(claimed), None), True
        tasks = (
            DBTaskResult.objects.ready()
            .filter(backend_name=self.backend_name, queue_name__in=self.queue_names)
            .order_by(F("priority").desc(), _due_at().asc(), F("enqueued_at").asc())
        )
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
            except OperationalError as exc:
                if not is_locked_database_exception(exc):
                    raise
                return None, False
        return task_result, True


def _due_at() -> Case:
    """When a task fell due: a task for "now" is written with run_after = get_date_max()
    (django-tasks-db's "never"), so it is due from its enqueued_at; a retry from its run_after.

    django-tasks-db orders by run_after alone, which puts every due retry ahead of every fresh
    task: during an analytics outage the buyers' emails waited behind all the conversions'
    retries (minutes, at a 10 s timeout each)."""
    return Case(When(run_after=get_date_max(), then=F("enqueued_at")), default=F("run_after"))


_TASKS = DBTaskResult._meta.db_table
DUE_AT = (  # _due_at() in SQL; get_date_max() is 9999-01-01 UTC
    "CASE WHEN run_after = TIMESTAMPTZ '9999-01-01 00:00:00+00' THEN enqueued_at ELSE run_after END"
)
# DBTaskResult.objects.ready() ordered oldest due first (_due_at), then claim(). The status
# literal and the CASE written exactly as in the index kennel_ready_tasks_by_due (core
# migration 0004; the date as a literal, not a parameter) let PostgreSQL read the first due
# task from that index instead of sorting every READY row.
CLAIM_SQL = f"""
    UPDATE {_TASKS} SET status = 'RUNNING', started_at = %s, worker_ids = worker_ids || %s::jsonb
    WHERE id = (
        SELECT id FROM {_TASKS}
        WHERE status = 'READY' AND (run_after = %s OR run_after <= %s)
            AND backend_name = %s AND queue_name = ANY(%s)
        ORDER BY priority DESC, ({DUE_AT}) ASC, enqueued_at ASC
        LIMIT 1 FOR UPDATE SKIP LOCKED
    )
    RETURNING *
"""  # noqa: S608 (the table name is the model's; every value is a parameter)


def _worker(
    queue: str,
    *,
    interval: float,
    batch: bool = False,
    wakeup: Wakeup | None = None,
    number: int = 0,
    gate: MoneyFirst | None = None,
) -> WakingWorker:
    options: dict[str, Any] = {
        "queue_names": [queue],
        "interval": interval,
        "batch": batch,
        "backend_name": "default",
        "startup_delay": False,
        "max_tasks": None,
        # Unique per thread: side_effects_take_back finds a thread's own tasks by it.
        "worker_id": f"kennel-{queue}{number or ''}-{threading.get_native_id()}",
        "excluded_queue_names": [],
    }
    return WakingWorker(wakeup=wakeup or Wakeup(), gate=gate, **options)


RETRY_FIRST, RETRY_MAX = 1.0, 30.0


def _run_surviving(worker: Worker) -> None:
    """Run a task loop until it is stopped. When the database goes away (restart, dropped
    connections) the loop closes its connection, waits — 1 s doubling to 30 s — and goes on;
    the tasks it had in hand are run again (side_effects_take_back), never left RUNNING."""
    delay = RETRY_FIRST
    try:
        while worker.running:
            started = time.monotonic()
            try:
                side_effects_take_back(worker_id=worker.worker_id)
                worker.run()
                return
            except DatabaseError as exc:
                if not is_database_unavailable(exc):
                    raise
                if time.monotonic() - started > 60:
                    delay = RETRY_FIRST  # it had been working: a new outage starts afresh
                log.warning(
                    "%s: database unavailable (%s); trying again in %.0f s",
                    worker.worker_id,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    delay,
                )
                close_broken_connection()
                _sleep_while_running(worker, delay)
                delay = min(delay * 2, RETRY_MAX)
    finally:
        close_broken_connection()


def _sleep_while_running(worker: Worker, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while worker.running and time.monotonic() < deadline:
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def _sweep_loop(stop: threading.Event, every: float) -> None:
    """Every sweep each `every` seconds; between them, a hold is expired the moment its time
    runs out (invariant 7: its puppy is offered again then, not up to `every` later)."""
    next_round = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_round:
                next_round = time.monotonic() + every
                run_sweeps()
            else:
                holds_expire_due()
        except Exception:  # a sweep thread that dies would stop expiring holds: never
            log.exception("the sweeps failed; trying again in %.0f s", every)
        wait = next_round - time.monotonic()
        try:
            until = next_hold_expiry_in()  # past already (not expired yet): again in a second
            wait = min(wait, until + 0.05 if until > 0 else 1.0)
            close_old_connections()
            connection.close()
        except DatabaseError:
            close_broken_connection()
        stop.wait(max(wait, 0.0))
