"""`python -m kennel serve`: the web server, the worker and (in sandbox mode) the payment
sandbox, as one supervised group — what `make run` starts.

A child that dies is started again, after a pause that doubles from 0.5 s to 10 s; only a
child that keeps dying (restarted five times within a minute and dead again) stops the group,
with the reason as the exit message. Ctrl-C, SIGTERM or SIGHUP stop all of it; a second one
kills at once.

Each child runs in its own session, so the terminal's Ctrl-C reaches serve alone (granian's
workers used to get it too, and some outlived the rest, still holding the port); serve stops a
child by signalling its whole process group, workers included, and kills what is left after
10 s. Children get SIGTERM when serve itself dies, even by SIGKILL (Linux), and serve adopts
and reaps whatever they leave behind (it is a child subreaper).
"""

import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

log = logging.getLogger("kennel.serve")

BACKOFF_FIRST = 0.5  # seconds before the first restart; doubles each time, up to
BACKOFF_MAX = 10.0
CRASH_LOOP_RESTARTS = 5  # this many restarts of one child within
CRASH_LOOP_WINDOW = 60.0  # this many seconds, and it dies again: the group stops
STOP_GRACE = 10.0  # seconds between SIGTERM and SIGKILL
TICK = 0.1  # how often children are looked at

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


def granian_command(granian: str, *, host: str, port: int, workers: int) -> list[str]:
    """How Kennel is served (bench/serving.py measures exactly this command).

    Threads: a WSGI request holds one of its worker's blocking threads from the end of its
    headers until its response is written, also while its body trickles in, and granian has
    no body-read timeout. With 4 threads (the fastest for the catalogue: more only fight for
    the GIL) 10 clients sending a body byte by byte took every thread, and the shop did not
    answer at all until they gave up. 12 leave threads free even if all 10 land on one
    worker; measured under saturation (wrk -c32, 2 CPUs): the catalogue ~100 req/s against
    ~120 with 4, `/health/` the same. (granian logs a warning about "quite high" threads:
    that is this choice.) The header read timeout (5 s, not 30) cuts clients that trickle
    headers, and idle keep-alive connections, sooner: each holds one of the 32 connections
    a worker serves at once (`--backpressure`). A granian worker that dies is replaced by
    granian; if that keeps failing granian exits, and serve restarts it.
    """
    return [
        granian,
        *("--interface", "wsgi", "--host", host, "--port", str(port)),
        *("--workers", str(workers), "--blocking-threads", "12", "--backpressure", "32"),
        *("--http1-header-read-timeout", "5000"),
        # On SIGTERM granian waits for its workers to finish what they are serving; without
        # this it waits for ever. With it, a stuck worker is killed after the same grace that
        # serve gives its children, also when serve itself was killed (PDEATHSIG).
        *("--workers-kill-timeout", str(int(STOP_GRACE))),
        "--respawn-failed-workers",
        "--no-ws",
        "kennel.wsgi:application",
    ]


def _libc_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_prctl = _libc_prctl()


def _status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # nothing left in it
        os.killpg(pgid, signum)


@dataclass
class Child:
    """One supervised program, started again (as a new process) when it dies."""

    name: str
    command: list[str]
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    backoff: float = BACKOFF_FIRST
    restarts: deque[float] = field(default_factory=deque)  # when it was started again


class Supervisor:
    def __init__(self, children: list[Child], *, env: dict[str, str], cwd: Path) -> None:
        self.children = children
        self.env = env
        self.cwd = cwd
        self.stop_signal: int | None = None
        self.hurry = False

    def run(self) -> str | None:
        """Start every child and keep them running until a signal (None) or a crash loop
        (the reason). Every child is stopped on the way out, whatever happens."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        if _prctl is not None:
            _prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        try:
            for child in self.children:
                self._start(child)
            while self.stop_signal is None:
                now = time.monotonic()
                for child in self._reap():
                    reason = self._exited(child, now)
                    if reason:
                        return reason
                for child in self.children:
                    due = child.restart_at
                    if child.process is None and due is not None and now >= due:
                        self._start(child)
                time.sleep(TICK)
            log.info("%s: stopping everything", signal.Signals(self.stop_signal).name)
            return None
        finally:
            self._stop_all()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_signal is None:
            self.stop_signal = signum
        else:
            self.hurry = True

    def _start(self, child: Child) -> None:
        parent = os.getpid()

        def in_child() -> None:  # after fork, before exec: no logging, no locks
            if _prctl is not None:
                _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            if os.getppid() != parent:  # serve died before the line above
                os._exit(1)

        child.process = subprocess.Popen(  # noqa: S603
            child.command,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
            preexec_fn=in_child,  # serve has no threads: fork is safe
        )
        child.started_at = time.monotonic()
        if child.restart_at is not None:
            child.restarts.append(child.started_at)
            log.warning("restarted the %s (pid %d)", child.name, child.process.pid)
        else:
            log.info("started the %s (pid %d)", child.name, child.process.pid)
        child.restart_at = None

    def _reap(self) -> list[Child]:
        """Collect every child process that ended: the supervised ones (returned, their
        leftovers killed) and processes they left behind, which serve adopted."""
        by_pid = {c.process.pid: c for c in self.children if c.process is not None}
        ended = []
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is None:
                break
            child = by_pid.pop(info.si_pid, None)
            if child is None:
                os.waitpid(info.si_pid, 0)  # an adopted orphan
                continue
            assert child.process is not None
            # Not reaped yet, so its pid (the group's id) cannot have been reused: what is
            # left of its group (granian's workers of a killed master) goes with it.
            _signal_group(child.process.pid, signal.SIGKILL)
            child.process.wait()
            ended.append(child)
        return ended

    def _exited(self, child: Child, now: float) -> str | None:
        assert child.process is not None
        status = _status(child.process.returncode)
        ran = now - child.started_at
        child.process = None
        if ran >= CRASH_LOOP_WINDOW:
            child.backoff = BACKOFF_FIRST  # it had been running fine
        while child.restarts and now - child.restarts[0] > CRASH_LOOP_WINDOW:
            child.restarts.popleft()
        if len(child.restarts) >= CRASH_LOOP_RESTARTS:
            return (
                f"the {child.name} is in a crash loop: it was restarted "
                f"{len(child.restarts)} times within {CRASH_LOOP_WINDOW:.0f} s and died again "
                f"({status}); everything is stopped"
            )
        log.warning(
            "the %s exited (%s) after %.1f s; restarting it in %.1f s",
            *(child.name, status, ran, child.backoff),
        )
        child.restart_at = now + child.backoff
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)
        return None

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None]
        for child in running:
            assert child.process is not None
            _signal_group(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        while any(c.process is not None for c in running):
            for child in self._reap():
                assert child.process is not None
                log.info("the %s stopped (%s)", child.name, _status(child.process.returncode))
                child.process = None
            if self.hurry or time.monotonic() > deadline:
                for child in running:
                    if child.process is not None:
                        log.warning("the %s did not stop: killing it", child.name)
                        _signal_group(child.process.pid, signal.SIGKILL)
                deadline = float("inf")  # killed: just collect them now
                self.hurry = False
            time.sleep(TICK)
        # Adopted grandchildren that were still exiting.
        collect_until = time.monotonic() + 2
        while self._has_children() and time.monotonic() < collect_until:
            self._reap()
            time.sleep(TICK)

    @staticmethod
    def _has_children() -> bool:
        try:
            os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return True


class Command(BaseCommand):
    help = "Run the web server (granian), the worker and the payment sandbox together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--web-workers", type=int, default=2)

    def handle(self, *args: Any, port: int, host: str, web_workers: int, **kw: Any) -> None:
        python = sys.executable
        granian = str(Path(python).with_name("granian"))
        web = granian_command(granian, host=host, port=port, workers=web_workers)
        children = [Child("web server", web)]
        workers = max(1, settings.WORKER_PROCESSES)
        for number in range(1, workers + 1):
            # Several take their tasks from the same queues (SELECT … FOR UPDATE SKIP LOCKED).
            name = "worker" if workers == 1 else f"worker {number}"
            children.append(Child(name, [python, "-m", "kennel", "worker"]))
        if settings.PAYMENTS_MODE == "sandbox":
            # It keeps the payments it took in var/sandbox-state.json (or SANDBOX_STATE_FILE),
            # so a restarted demo still knows them.
            children.append(Child("sandbox", [python, "-m", "kennel", "sandbox"]))
        # The children derive SITE_URL (return URLs, webhook target) from PORT, and start in the
        # repository root: the sandbox is a top-level package of the checkout (never in the
        # wheel), and var/ is there.
        env = {**os.environ, "PORT": str(port)}
        failure = Supervisor(children, env=env, cwd=settings.BASE_DIR).run()
        if failure:
            raise SystemExit(f"serve stopped: {failure}")
