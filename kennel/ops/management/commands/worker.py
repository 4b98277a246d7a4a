"""`python -m kennel worker`: runs queued tasks (the outbox) and the minute sweeps."""

import logging
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django_tasks_db.management.commands.db_worker import Worker

from kennel.core.periodic import run_sweeps
from kennel.notifications.integrations import integrations_log

log = logging.getLogger("kennel.worker")


class Command(BaseCommand):
    help = (
        "Run background tasks (emails, conversions, refunds) and, every minute, expire holds, "
        "retry webhooks/refunds and recover side effects a stopped worker left behind."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds between polls.")
        parser.add_argument("--sweep-every", type=float, default=60.0, help="Seconds.")
        parser.add_argument("--batch", action="store_true", help="Run what is queued, then exit.")

    def handle(
        self, *args: Any, interval: float, sweep_every: float, batch: bool, **kw: Any
    ) -> None:
        worker = Worker(
            queue_names=["*"],
            interval=interval,
            batch=batch,
            backend_name="default",
            startup_delay=False,
            max_tasks=None,
            worker_id=f"kennel-{threading.get_native_id()}",
            excluded_queue_names=[],
        )
        if kw.get("verbosity", 1) > 0:
            integrations_log(log)  # what is off is said at start, once
        if batch:
            run_sweeps()
            worker.run()
            return
        stop = threading.Event()
        sweeper = threading.Thread(target=_sweep_loop, args=(stop, sweep_every), daemon=True)
        sweeper.start()
        self.stdout.write(f"worker running (tasks every {interval}s, sweeps every {sweep_every}s)")
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()


def _sweep_loop(stop: threading.Event, every: float) -> None:
    while not stop.is_set():
        run_sweeps()
        connection.close()
        stop.wait(every)
