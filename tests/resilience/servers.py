"""Kennel's real processes for the resilience tests: the web server (granian, as `serve`
starts it) and the worker, each with its own environment, stopped in any case."""

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
from django.db import connection

from kennel.ops.management.commands.serve import granian_command
from tests.notifications.servers import free_port

PROJECT_DIR = Path(__file__).resolve().parents[2]


def own_process_database_url() -> str:
    """The test database (pytest-django's `test_…`), for processes of their own."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def kennel_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATABASE_URL": database_url,
        "PAYMENTS_MODE": "sandbox",
        "LOG_LEVEL": "WARNING",
        # Every family of these tests comes from 127.0.0.1: no per-client hold limits.
        "HOLDS_PER_CLIENT": "0",
        "HOLD_RATE": "0",
        **extra,
    }


@contextmanager
def web_server(env: dict[str, str], *, port: int | None = None, workers: int = 1) -> Iterator[str]:
    """granian with Kennel's production options; yields its base URL."""
    port = port or free_port()
    command = granian_command(
        str(Path(sys.executable).with_name("granian")),
        host="127.0.0.1",
        port=port,
        workers=workers,
    )
    process = subprocess.Popen(
        command, cwd=PROJECT_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, process)
        yield url
    finally:
        stop(process)


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m kennel worker` writing to `log`; yields once it says it is running. Its start
    takes 1 s on a quiet machine and over 10 s on a loaded one: a test that acted after a fixed
    sleep ran its scene before the worker was there to see it."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "kennel", "worker", "--interval", "0.05", "--sweep-every", "1"],
            cwd=PROJECT_DIR,
            # Unbuffered, as the Dockerfile runs it: "worker running" reaches the log at once.
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "worker running" in log.read_text(), "the worker to start", process, log)
        yield process
    finally:
        stop(process)


def wait_until(
    condition: Callable[[], bool],
    what: str,
    process: subprocess.Popen[bytes],
    log: Path,
    timeout: float = 60,
) -> None:
    """Until `condition()` holds, while `process` runs; its log tells why not."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"exited while waiting for {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"still waiting for {what}:\n{log.read_text()}"
        time.sleep(0.05)


def wait_until_answering(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web server exited"
        try:
            httpx.get(f"{url}/health/", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never answered")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
