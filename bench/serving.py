"""Which WSGI server `make run` uses, by measurement: granian against gunicorn (sync workers).

Serves Kennel (SQLite, demo data) with each server in turn, 2 workers each (granian exactly
as `python -m kennel serve` runs it), and drives
`/health/` and the catalogue `/` with wrk from this machine. Prints requests/s and
granian's ratio to gunicorn measured in the same run.
"""

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kennel.ops.management.commands.serve import granian_command

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DURATION = os.environ.get("BENCH_SECONDS", "5")
PATHS = ["/health/", "/"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def wrk(url: str) -> float:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{DURATION}s", url], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match or re.search(r"Non-2xx", out):
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(match.group(1))


def measure(name: str, command: list[str], port: int, env: dict[str, str]) -> dict[str, float]:
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_until_up(port)
        for path in PATHS:  # warm up connections and template caches
            wrk_url = f"http://127.0.0.1:{port}{path}"
            subprocess.run(["wrk", "-t1", "-c4", "-d1s", wrk_url], capture_output=True, check=True)
        return {path: wrk(f"http://127.0.0.1:{port}{path}") for path in PATHS}
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    if not shutil.which("wrk"):
        sys.exit("bench/serving.py needs wrk (Debian package 'wrk'): make bench installs it")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "MEDIA_ROOT": f"{tmp}/media",
            "LOG_LEVEL": "WARNING",
        }
        python = str(VENV_BIN / "python")
        subprocess.run([python, "-m", "kennel", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [python, "-m", "kennel", "load_demo"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        port = free_port()
        granian = measure(
            "granian",
            granian_command(str(VENV_BIN / "granian"), host="127.0.0.1", port=port, workers=2),
            port,
            env,
        )
        port = free_port()
        gunicorn = measure(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "kennel.wsgi:application",
            ],
            port,
            env,
        )
    print(f"{'path':<10} {'granian req/s':>14} {'gunicorn req/s':>15} {'ratio':>6}")
    for path in PATHS:
        ratio = granian[path] / gunicorn[path]
        print(f"{path:<10} {granian[path]:>14.0f} {gunicorn[path]:>15.0f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
