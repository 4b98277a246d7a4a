"""`python -m kennel serve`: the web server, the worker and (in sandbox mode) the payment
sandbox, as one supervised group — what `make run` starts. Ctrl-C (or SIGTERM) stops all of
them; if one of them dies, the others are stopped too, so nothing runs half-started."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


def granian_command(granian: str, *, host: str, port: int, workers: int) -> list[str]:
    """How Kennel is served (bench/serving.py measures exactly this command).

    Few Python threads per worker: pages are CPU-bound (templates) and threads only fight for
    the GIL — measured: 4 threads serve the catalogue ~1.5x faster than granian's default;
    but more than one, so a buyer's slow payment-provider call does not stall the shop.
    """
    return [
        granian,
        *("--interface", "wsgi", "--host", host, "--port", str(port)),
        *("--workers", str(workers), "--blocking-threads", "4", "--backpressure", "32"),
        "--no-ws",
        "kennel.wsgi:application",
    ]


class Command(BaseCommand):
    help = "Run the web server (granian), the worker and the payment sandbox together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, port: int, host: str, web_workers: int, **kw: Any) -> None:
        python = sys.executable
        granian = str(Path(python).with_name("granian"))
        commands = [
            granian_command(granian, host=host, port=port, workers=web_workers),
            [python, "-m", "kennel", "worker"],
        ]
        if settings.PAYMENTS_MODE == "sandbox":
            # It keeps the payments it took in var/, so a restarted demo still knows them.
            sandbox = [python, "-m", "kennel", "sandbox", "--state-file", "var/sandbox-state.json"]
            commands.append(sandbox)
        # The children derive SITE_URL (return URLs, webhook target) from PORT, and start in the
        # repository root: the sandbox is a top-level package of the checkout (never in the
        # wheel), and var/ is there.
        env = {**os.environ, "PORT": str(port)}
        children = [
            subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)  # noqa: S603
            for command in commands
        ]
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children):
                time.sleep(0.2)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [
            # `python -m kennel <name> ...` is named by its command, granian by its app.
            command[3] if command[1:3] == ["-m", "kennel"] else command[-1]
            for command, child in zip(commands, children, strict=True)
            if child.returncode not in (0, -signal.SIGTERM)
        ]
        if failed and not stopping:
            raise SystemExit(f"stopped because a process exited: {failed}")
