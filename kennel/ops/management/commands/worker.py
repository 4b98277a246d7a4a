"""`python -m kennel worker`: runs queued tasks (the outbox) and the minute sweeps."""

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker

from kennel.core.outbox import DEFAULT_QUEUE, MONEY_QUEUE
from kennel.monitoring.integrations import integrations_log
from kennel.ops.periodic import run_sweeps

log = logging.getLogger("kennel.worker")


class Command(BaseCommand):
    help = (
        "Run background work (refunds, checkout closes and webhooks on their own loop; emails "
        "and conversions) and, every minute, expire holds, queue unprocessed webhook events "
        "and recover work a stopped worker left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument("--sweep-every", type=float, default=60.0, help="Seconds.")
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
        money_thread = threading.Thread(target=_run_closing, args=(money,), daemon=True)
        money_thread.start()
        self.stdout.write(f"worker running (tasks every {interval}s, sweeps every {sweep_every}s)")
        default.configure_signals()
        try:
            default.run()
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


def _run_closing(worker: Worker) -> None:
    try:
        worker.run()
    finally:
        connection.close()


def _sweep_loop(stop: threading.Event, every: float) -> None:
    while not stop.is_set():
        run_sweeps()
        connection.close()
        stop.wait(every)
