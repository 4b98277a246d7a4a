"""`python -m kennel worker` runs below the web server's CPU priority (WORKER_NICE): a burst of
webhooks being processed takes what the web server leaves, so pages and acknowledgements stay
fast. An operator sees it in `top` (NI 10) on every one of the worker's threads."""

import os
from pathlib import Path

import pytest

from tests.resilience.servers import own_process_database_url, worker

pytestmark = pytest.mark.django_db(transaction=True)


def _thread_niceness(pid: int) -> dict[int, int]:
    """Each thread's nice value, from /proc (field 19 of its stat line)."""
    niceness = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        stat = (task / "stat").read_text()
        niceness[int(task.name)] = int(stat.rsplit(")", 1)[1].split()[16])
    return niceness


def _worker_niceness(tmp_path: Path, **env: str) -> tuple[dict[int, int], str]:
    log = tmp_path / f"worker-{len(list(tmp_path.iterdir()))}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if k != "WORKER_NICE"},
        "DATABASE_URL": own_process_database_url(),
        "CONN_MAX_AGE": "0",
        "LOG_LEVEL": "WARNING",
        "WORKER_MONEY_THREADS": "3",
        **env,
    }
    with worker(environment, log) as process:  # once it says "worker running"
        return _thread_niceness(process.pid), log.read_text()


def test_the_worker_and_all_its_threads_run_at_nice_10(tmp_path):
    niceness, log = _worker_niceness(tmp_path)

    # The main loop, three money threads, the sweep and the NOTIFY listener (at least).
    assert len(niceness) >= 6, niceness
    assert set(niceness.values()) == {10}, niceness
    assert "nice 10" in log
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # the test itself is untouched


def test_worker_nice_0_leaves_the_worker_at_the_normal_priority(tmp_path):
    niceness, log = _worker_niceness(tmp_path, WORKER_NICE="0")

    assert set(niceness.values()) == {0}, niceness
    assert "nice 0" in log


def test_a_worker_nice_beyond_19_is_held_to_19(tmp_path):
    niceness, _ = _worker_niceness(tmp_path, WORKER_NICE="40")

    assert set(niceness.values()) == {19}, niceness
