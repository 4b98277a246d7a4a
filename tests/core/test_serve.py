"""`python -m kennel serve` (what `make run` starts): everything comes up, Ctrl-C stops all."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = (
        Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "X"
    )
    return state != "Z"


def test_serve_starts_shop_worker_and_sandbox_and_ctrl_c_stops_them_all(tmp_path):
    port, sandbox_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/shop.sqlite3",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "PORT": str(port),
        "SANDBOX_PORT": str(sandbox_port),
        "PAYMENTS_MODE": "sandbox",
    }
    python = sys.executable
    subprocess.run([python, "-m", "kennel", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    serve = subprocess.Popen(
        [python, "-m", "kennel", "serve", "--port", str(port), "--web-workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for(f"http://127.0.0.1:{port}/health/").json()["database"] == "ok"
        assert wait_for(f"http://127.0.0.1:{sandbox_port}/").status_code == 200
        started = children_of(serve.pid)
        assert len(started) == 3  # web server, worker, sandbox

        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=20)

        time.sleep(0.5)
        assert [pid for pid in started if alive(pid)] == []
    finally:
        if serve.poll() is None:
            serve.kill()
