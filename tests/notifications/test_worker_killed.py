"""A real `python -m kennel worker` process, SIGKILLed in the middle of a batch, then started
again: every side effect arrives, and exactly once."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django_tasks_db.models import DBTaskResult

from kennel.core.models import SideEffect
from kennel.notifications.emails import message_id
from tests.factories import PuppyFactory
from tests.notifications.conftest import OWNER
from tests.notifications.helpers import confirm, hold
from tests.resilience.servers import PROJECT_DIR, own_process_database_url

pytestmark = pytest.mark.django_db(transaction=True)
DEPOSITS = 4  # each: owner email, buyer email, GA4, Meta = 16 side effects


def _worker_env(smtp_port: int, ga4_url: str, meta_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": own_process_database_url(),
        "CONN_MAX_AGE": "0",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_port}",
        "EMAIL_TIMEOUT": "30",
        "OWNER_EMAIL": OWNER,
        "DEFAULT_FROM_EMAIL": "Maple Hill <shop@maplehill.example>",
        "GA4_MEASUREMENT_ID": "G-TEST12345",
        "GA4_API_SECRET": "ga4-test-secret",
        "GA4_ENDPOINT": f"{ga4_url}/mp/collect",
        "META_PIXEL_ID": "1234567890123",
        "META_ACCESS_TOKEN": "meta-test-token",
        "META_ENDPOINT": meta_url,
        # A send unfinished after 1 s was cut off: the restarted worker takes it back fast.
        "SIDE_EFFECT_LEASE_SECONDS": "1",
        "LOG_LEVEL": "WARNING",
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kennel",
                "worker",
                "--interval",
                "0.05",
                "--sweep-every",
                "0.2",
            ],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_until_all_sent(worker: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not SideEffect.objects.exclude(status="sent").exists():
            return
        assert worker.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(
        f"not all sent: {list(SideEffect.objects.values_list('kind', 'status'))}\n"
        + log.read_text()
    )


def _stop(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        worker.terminate()  # a graceful stop for the survivor
        try:
            worker.wait(10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def _confirmed_deposits(settings) -> list[str]:
    """Deposits confirmed here, with the worker process's settings (the Message-IDs match)."""
    settings.OWNER_EMAIL = OWNER
    settings.DEFAULT_FROM_EMAIL = "Maple Hill <shop@maplehill.example>"
    settings.GA4_MEASUREMENT_ID, settings.GA4_API_SECRET = "G-TEST12345", "ga4-test-secret"
    settings.META_PIXEL_ID, settings.META_ACCESS_TOKEN = "1234567890123", "meta-test-token"
    ids = [
        str(confirm(hold(PuppyFactory(), email=f"buyer{i}@example.com"), payment_id=f"pi_{i}").pk)
        for i in range(DEPOSITS)
    ]
    assert SideEffect.objects.filter(status="pending").count() == 4 * DEPOSITS
    return ids


def _kill_while_stalled(smtp_server, env: dict[str, str], log: Path) -> None:
    worker = _start_worker(env, log)
    try:
        assert smtp_server.stalled.wait(60), log.read_text()
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(10) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)
    smtp_server.release.set()


def test_a_worker_killed_mid_batch_then_restarted_sends_every_side_effect_exactly_once(
    settings, smtp_server, ga4_endpoint, meta_endpoint, tmp_path
):
    reservation_ids = _confirmed_deposits(settings)
    smtp_server.stall_on_rcpt = 3  # the 4th email hangs before the server takes it
    env = _worker_env(smtp_server.port, ga4_endpoint.url, meta_endpoint.url)
    log = tmp_path / "worker.log"

    _kill_while_stalled(smtp_server, env, log)

    # Killed in the middle: some sent, one cut off mid-send, the rest still queued, and the
    # task the dead worker had claimed left RUNNING for good.
    left = Counter(SideEffect.objects.values_list("status", flat=True))
    assert left["sending"] == 1
    assert 0 < left["sent"] < 4 * DEPOSITS - 1
    assert left["pending"] == 4 * DEPOSITS - 1 - left["sent"]
    assert DBTaskResult.objects.filter(status="RUNNING").count() == 1

    survivor = _start_worker(env, log)
    try:
        _wait_until_all_sent(survivor, log)
    finally:
        _stop(survivor)

    time.sleep(0.3)  # a duplicate, if any, would have arrived by now
    emails = [m.message["Message-ID"].strip() for m in smtp_server.messages]
    expected = [
        message_id(e)
        for e in SideEffect.objects.exclude(kind__in=["ga4_purchase", "meta_purchase"])
    ]
    assert sorted(emails) == sorted(expected)
    assert len(emails) == 2 * DEPOSITS
    ga4_ids = [h.body["events"][0]["params"]["transaction_id"] for h in ga4_endpoint.hits]
    meta_ids = [h.body["data"][0]["event_id"] for h in meta_endpoint.hits]
    assert sorted(ga4_ids) == sorted(meta_ids) == sorted(reservation_ids)
    cut_off = SideEffect.objects.get(attempts=2)
    assert "cut off" in cut_off.last_error or cut_off.last_error == ""


def test_a_worker_killed_after_the_server_took_a_message_resends_it_with_the_same_message_id(
    settings, smtp_server, ga4_endpoint, meta_endpoint, tmp_path
):
    # SMTP's own window: the server has the message, the client dies before the final 250.
    # Delivery is at least once; the resend carries the same Message-ID, so it is recognisable.
    _confirmed_deposits(settings)
    smtp_server.stall_after_data = 3
    env = _worker_env(smtp_server.port, ga4_endpoint.url, meta_endpoint.url)
    log = tmp_path / "worker.log"

    _kill_while_stalled(smtp_server, env, log)
    survivor = _start_worker(env, log)
    try:
        _wait_until_all_sent(survivor, log)
    finally:
        _stop(survivor)

    counts = Counter(m.message["Message-ID"].strip() for m in smtp_server.messages)
    assert len(counts) == 2 * DEPOSITS
    assert sorted(counts.values()) == [1] * (2 * DEPOSITS - 1) + [2]
    [twice] = [mid for mid, n in counts.items() if n == 2]
    resent = SideEffect.objects.get(attempts=2)
    assert message_id(resent) == twice
    assert len(ga4_endpoint.hits) == len(meta_endpoint.hits) == DEPOSITS
