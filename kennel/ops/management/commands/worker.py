"""`python -m kennel worker`: runs queued tasks (the outbox) and the minute sweeps."""

import logging
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections, connection
from django_tasks_db.management.commands.db_worker import Worker

from kennel.core.db import close_broken_connection, is_database_unavailable
from kennel.core.outbox import DEFAULT_QUEUE, MONEY_QUEUE, side_effects_take_back
from kennel.monitoring.integrations import integrations_log
from kennel.ops.periodic import run_sweeps

log = logging.getLogger("kennel.worker")


class Command(BaseCommand):
    help = (
        "Run background work (refunds, checkout closes and webhooks on their own loop; emails "
        "and conversions) and, every 30 s, expire holds, queue unprocessed webhook events "
        "and recover work a stopped worker left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument("--sweep-every", type=float, default=30.0, help="Seconds.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(
        self, *args: Any, interval: float, sweep_every: float, batch: bool, **kw: Any
    ) -> None:
        # Money (refunds, checkout closes, webhooks) has its own loop: a mail server taking
        # 30 s a message must never hold up a refund.
        money = _worker(MONEY_QUEUE, interval=interval, batch=batch)
        default = _worker(DEFAULT_QUEUE, interval=interval, batch=batch)
        if kw.get("verbosity", 1) > 0:
            integrations_log(log)  # what is off is said at start, once
        if batch:
            run_sweeps()
            money.run()
            default.run()
            return
        stop = threading.Event()
        sweeper = threading.Thread(target=_sweep_loop, args=(stop, sweep_every), daemon=True)
        sweeper.start()
        money_thread = threading.Thread(target=_run_surviving, args=(money,), daemon=True)
        money_thread.start()
        self.stdout.write(f"worker running (tasks every {interval}s, sweeps every {sweep_every}s)")
        default.configure_signals()
        try:
            _run_surviving(default)
        finally:
            stop.set()
            money.running = False
            money_thread.join(timeout=30)


def _worker(queue: str, *, interval: float, batch: bool) -> Worker:
    return Worker(
        queue_names=[queue],
        interval=interval,
        batch=batch,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=f"kennel-{queue}-{threading.get_native_id()}",
        excluded_queue_names=[],
    )


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
    while not stop.is_set():
        try:
            run_sweeps()
        except Exception:  # a sweep thread that dies would stop expiring holds: never
            log.exception("the sweeps failed; trying again in %.0f s", every)
        try:
            close_old_connections()
            connection.close()
        except DatabaseError:
            close_broken_connection()
        stop.wait(every)
