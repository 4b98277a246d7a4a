"""Kennel's Prometheus counters, defined at the bottom of the layers so that reservations,
payments and the outbox can count what they do; kennel/monitoring serves them at /metrics,
with the gauges it reads from the database at scrape time.

Multiprocess mode: granian runs several web workers and the worker is a process of its own,
so every process writes its samples to small files in PROMETHEUS_MULTIPROC_DIR and a scrape
sums them. prometheus_client decides the mode when it is first imported, so settings.py sets
the variable (default: var/prometheus/) before any app is loaded. An increment is a write to a
memory-mapped file: cheap enough for every request.

The directory must be emptied between runs (a counter left by the previous run would be added
to this one) but never during one: each process holds a shared lock on `.lock` in it for its
whole life, and only a process that finds no other holder empties it.
"""

import fcntl
import os
from pathlib import Path

from prometheus_client import Counter, Histogram

_lock_fd: int | None = None


def metrics_directory_claim(path: Path) -> None:
    """Create the directory, empty it if no live process uses it, and hold it for this one."""
    global _lock_fd
    if _lock_fd is not None:
        return
    path.mkdir(parents=True, exist_ok=True)
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another process of this run has it: its counters stay
    else:
        for stale in path.glob("*.db"):
            stale.unlink(missing_ok=True)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _lock_fd = fd


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    metrics_directory_claim(Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]))

# Label values are bounded: a URL pattern's name (never the raw path), a known method, a
# status code, a provider's event type (signed by the provider), a rejection reason, a kind.
REQUEST_SECONDS = Histogram(
    "kennel_http_request_duration_seconds",
    "Time to answer a request, by URL pattern name, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
WEBHOOK_DELIVERIES = Counter(
    "kennel_webhook_deliveries",
    "Webhook deliveries received: stored, duplicate, or rejected:<reason> (nothing stored).",
    ["provider", "type", "outcome"],
)
HOLDS = Counter(
    "kennel_reservation_holds",
    "Attempts to hold a puppy: won, or lost (PUPPY_NOT_AVAILABLE).",
    ["outcome"],
)
SIDE_EFFECT_RUNS = Counter(
    "kennel_side_effect_runs",
    "Runs of background work, by kind: sent (done), skipped (no longer true, not sent), retry "
    "(failed, tried again later), dead.",
    ["kind", "outcome"],
)
