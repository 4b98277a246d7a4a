"""The processes a bench starts: Kennel's production stack (`python -m kennel serve`: granian,
the worker, the sandbox — what `make run` starts) and the reference servers, each served by
granian with the options `serve` uses. Everything started here is stopped by `close()`, also
after a failure or Ctrl-C (the callers use `contextlib.ExitStack`)."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, cmdline, descendants, free_port, rss_mb
from kennel.ops.management.commands.serve import granian_command

VENV_BIN = Path(sys.executable).parent
WEB_WORKERS = int(os.environ.get("WEB_WORKERS") or 2)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited ({process.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} never answered")


class Processes:
    """Started processes (each its own session) and every descendant seen: all stopped."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []
        self.seen: dict[int, str] = {}  # pid -> command line, to kill leftovers safely

    def start(
        self, command: list[str], *, env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def remember(self) -> None:
        for process in self.started:
            if process.poll() is None:
                for pid in descendants(process.pid):
                    self.seen.setdefault(pid, cmdline(pid))

    def stop(self, process: subprocess.Popen[bytes], grace: float = 15) -> None:
        self.remember()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def close(self) -> None:
        for process in reversed(self.started):
            self.stop(process)
        time.sleep(0.3)
        for pid, line in self.seen.items():  # anything left behind (same pid, same command)
            if line and cmdline(pid) == line:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


class Kennel:
    """`python -m kennel serve` on its own ports, database and sandbox state file."""

    def __init__(self, processes: Processes, tmp: Path, database_url: str, **extra: str) -> None:
        self.processes = processes
        self.tmp = tmp
        self.port = free_port()
        self.sandbox_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.sandbox_url = f"http://127.0.0.1:{self.sandbox_port}"
        for folder in ("media", "static", "prometheus"):
            (tmp / folder).mkdir(exist_ok=True)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp)),
            "DATABASE_URL": database_url,
            "PAYMENTS_MODE": "sandbox",
            "PORT": str(self.port),
            "SANDBOX_PORT": str(self.sandbox_port),
            # The sandbox stands in for Stripe and PayPal; what is measured is Kennel. Its
            # state file (rewritten whole, with fsync, before every answer, so that `make run`
            # keeps its payments across restarts) would make the stand-in slower by the
            # minute as sessions pile up: held in memory here.
            "SANDBOX_STATE_FILE": "none",
            "MEDIA_ROOT": str(tmp / "media"),
            "STATIC_ROOT": str(tmp / "static"),
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
            "LOG_LEVEL": "WARNING",
            **extra,
        }
        self.log = tmp / "kennel.log"
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "kennel", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def start(self) -> None:
        command = [sys.executable, "-m", "kennel", "serve", "--port", str(self.port)]
        command += ["--web-workers", str(WEB_WORKERS)]
        self.process = self.processes.start(command, env=self.env, log=self.log)
        wait_until_answering(f"{self.url}/health/", self.process)
        wait_until_answering(f"{self.sandbox_url}/", self.process)
        time.sleep(0.5)
        self.processes.remember()

    def stop(self) -> None:
        if self.process is not None:
            self.processes.stop(self.process)

    def pids(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        return [self.process.pid, *descendants(self.process.pid)]

    def web_workers(self) -> list[int]:
        """granian's worker processes: the children of the granian that serve started."""
        if self.process is None or self.process.poll() is not None:
            return []
        table = [p for p in descendants(self.process.pid) if "granian" in cmdline(p)]
        masters = [p for p in table if _parent(p) == self.process.pid]
        return [p for p in table if _parent(p) in masters]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


class Memory:
    """Samples the RSS (from /proc) of Kennel's web workers and of its whole stack."""

    def __init__(self, kennel: Kennel, every: float = 0.5) -> None:
        self.kennel = kennel
        self.every = every
        self.worker_peak = 0.0
        self.stack_peak = 0.0
        self.phase = ""  # what the bench is measuring now (set by bench/run.py's log)
        self.worker_peak_phase = ""
        self.samples: list[tuple[float, float, float]] = []  # (time, max worker, stack)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "Memory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                workers = [rss_mb(p) for p in self.kennel.web_workers()]
                stack = sum(rss_mb(p) for p in self.kennel.pids())
            except Exception:
                continue
            worker = max(workers, default=0.0)
            if worker > self.worker_peak:
                self.worker_peak, self.worker_peak_phase = worker, self.phase
            self.stack_peak = max(self.stack_peak, stack)
            self.samples.append((time.monotonic(), worker, stack))


def reference_server(
    processes: Processes,
    tmp: Path,
    *,
    app: str,
    env: dict[str, str],
    python_bin: Path = VENV_BIN,
    cwd: Path = ROOT,
    log_name: str = "reference.log",
) -> tuple[str, subprocess.Popen[bytes]]:
    """granian with Kennel's production options serving another WSGI `app`."""
    port = free_port()
    command = granian_command(
        str(python_bin / "granian"), host="127.0.0.1", port=port, workers=WEB_WORKERS
    )
    command[-1] = app
    with (tmp / log_name).open("ab") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    processes.started.append(process)
    return f"http://127.0.0.1:{port}", process
