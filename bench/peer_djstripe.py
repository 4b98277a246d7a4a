"""The peer: dj-stripe 2.11 (PyPI) in its own virtualenv, bench/peers/djstripe/venv (created
here on first use, gitignored), a minimal project (bench/peers/djstripe_project) with
DJSTRIPE_WEBHOOK_VALIDATION="verify_signature", served by granian with Kennel's options, its
Stripe API pointed at Kennel's sandbox. It receives the same signed `checkout.session.completed`
deliveries (20 % duplicates) and processes each synchronously (its ingest rate is its
confirmation rate)."""

import importlib.metadata
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench.common import (
    PG,
    Figure,
    database_reset,
    psql,
    stripe_signature,
    wrk,
    wrk_posts_script,
)
from bench.loads import deliveries_with_duplicates
from bench.stack import Processes, reference_server

PEERS = Path(__file__).resolve().parent / "peers"
VENV = PEERS / "djstripe" / "venv"
DB = "kennel_bench_djstripe"


class PeerUnavailable(Exception):
    pass


def _python() -> Path:
    return VENV / "bin" / "python"


def ensure_venv() -> None:
    """dj-stripe 2.11 and the granian Kennel runs, from PyPI, once."""
    marker = VENV / ".installed-2.11"
    if marker.exists():
        return
    granian = importlib.metadata.version("granian")
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run(
            [
                *(str(_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check"),
                *("dj-stripe==2.11.*", f"granian=={granian}", "psycopg[binary]", "django-environ"),
            ],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise PeerUnavailable(f"could not install dj-stripe 2.11 from PyPI: {exc}") from exc
    marker.touch()


def measure(
    processes: Processes,
    tmp: Path,
    *,
    sandbox_url: str,
    stripe_key: str,
    bodies: list[bytes],
    secret: str,
    duration: float,
    connections: int,
) -> Figure:
    ensure_venv()
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": _database(),
        "STRIPE_SECRET_KEY": stripe_key,
        "STRIPE_API_HOST": sandbox_url,
        "PYTHONPATH": str(PEERS),
        "DJANGO_SETTINGS_MODULE": "djstripe_project.settings",
    }
    python = str(_python())

    def run(*args: str) -> str:
        done = subprocess.run([python, *args], cwd=PEERS, env=env, capture_output=True, text=True)
        if done.returncode:
            raise PeerUnavailable(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout.strip()

    run("-m", "django", "migrate", "--noinput", "-v0")
    url, process = reference_server(
        processes,
        tmp,
        app="djstripe_project.wsgi:application",
        env=env,
        python_bin=VENV / "bin",
        cwd=PEERS,
        log_name="djstripe.log",
    )
    try:
        _wait(url, process)
        uuid = run("-m", "djstripe_project.endpoint", secret, f"{url}/stripe/webhook/")
        path = f"/stripe/webhook/{uuid}/"
        script = wrk_posts_script(
            tmp / "djstripe.lua",
            (
                (path, body, {"Stripe-Signature": stripe_signature(body, secret)})
                for body in deliveries_with_duplicates(bodies)
            ),
        )
        wrk(f"{url}{path}", duration=1, connections=4, script=script, allow_non_2xx=True)  # warm up
        figure = wrk(
            f"{url}{path}",
            duration=duration,
            connections=connections,
            script=script,
            allow_non_2xx=True,
        )
        if figure.errors > figure.requests // 100:
            tail = (tmp / "djstripe.log").read_text()[-3000:]
            raise PeerUnavailable(
                f"dj-stripe answered {figure.errors} errors of {figure.requests}:\n{tail}"
            )
        return figure
    finally:
        processes.stop(process)


def _database() -> str:
    """The peer's database, kept between runs (its ~100 migrations are slow to replay; each
    run's events have new ids, and the endpoint row is updated in place)."""
    if not psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB}'"):
        return database_reset(DB)
    return f"{PG}/{DB}"


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    """Up once it answers anything (its only URL is the webhook: / is a 404)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise PeerUnavailable("dj-stripe's server exited")
        try:
            urllib.request.urlopen(f"{url}/", timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise PeerUnavailable("dj-stripe's server never answered")
