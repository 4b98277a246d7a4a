"""A real `python -m kennel serve` (web server, worker, sandbox) on free loopback ports and a
SQLite database of its own, stopped — children and all — in any case."""

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.ops.processes import (
    alive,
    children_of,
    command_line,
    descendants_of,
    free_port,
    process_group,
)

ROOT = Path(__file__).resolve().parents[2]
# How each of serve's children is recognised among its processes.
ROLES = {"web server": "/granian ", "worker": " kennel worker", "sandbox": " kennel sandbox"}


def shop_env(data: Path, *, port: int, sandbox_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{data}/shop.sqlite3",
        "MEDIA_ROOT": str(data / "media"),
        "SANDBOX_STATE_FILE": str(data / "sandbox-state.json"),
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "PAYMENTS_MODE": "sandbox",
    }


def prepare_database(data: Path, *, demo: bool) -> None:
    env = shop_env(data, port=free_port(), sandbox_port=free_port())
    python = sys.executable
    subprocess.run([python, "-m", "kennel", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    if demo:
        load = [python, "-m", "kennel", "load_demo"]
        subprocess.run(load, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


@dataclass
class Shop:
    """A running serve: its process, ports and log (serve's and its children's output)."""

    process: subprocess.Popen[bytes]
    port: int
    sandbox_port: int
    log: Path
    seen: set[int] = field(default_factory=set)  # every process of it ever looked at

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def sandbox_url(self) -> str:
        return f"http://127.0.0.1:{self.sandbox_port}/"

    def child(self, role: str) -> int | None:
        """The pid of serve's child in that role, if one is running."""
        for pid in children_of(self.process.pid):
            # Each leads its own process group; granian's workers left by a killed master are
            # briefly serve's children too (it adopts orphans), in their old master's group.
            if ROLES[role] in command_line(pid) and process_group(pid) == pid:
                self.seen.update([pid, *descendants_of(pid)])
                return pid
        return None

    def processes(self) -> list[int]:
        """Every process serve runs now (its children and theirs); remembered for stop_serve."""
        found = descendants_of(self.process.pid)
        self.seen.update(found)
        return found

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def start_serve(
    data: Path,
    *,
    sandbox_port: int | None = None,
    web_workers: int = 2,
    settings: dict[str, str] | None = None,
) -> Shop:
    port, sandbox_port = free_port(), sandbox_port or free_port()
    log = data / f"serve-{port}.log"
    command = [sys.executable, "-m", "kennel", "serve", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [*command, "--web-workers", str(web_workers)],
            cwd=ROOT,
            env=shop_env(data, port=port, sandbox_port=sandbox_port) | (settings or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # like a terminal's job: nothing here signals it by accident
        )
    return Shop(process, port, sandbox_port, log)


def stop_serve(shop: Shop) -> None:
    """SIGTERM serve and wait for it; whatever of it still runs after that is killed."""
    shop.processes()
    if shop.process.poll() is None:
        shop.process.send_signal(signal.SIGTERM)
        try:
            shop.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            shop.process.kill()
            shop.process.wait(timeout=10)
    for pid in shop.seen:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated database with the demo catalogue, shared by this module's shops."""
    data = tmp_path_factory.mktemp("shop")
    prepare_database(data, demo=True)
    return data


@pytest.fixture(scope="module")
def running_shop(demo_data: Path) -> Iterator[Shop]:
    shop = start_serve(demo_data)
    try:
        yield shop
    finally:
        stop_serve(shop)
