"""A slow payment provider never takes every web thread: each process makes at most
PROVIDER_CONCURRENCY provider calls at once, the excess buyers are told at once to try again
(503 PROVIDER_BUSY, holding nothing), and the pages keep answering.

The sandbox's API is hung (`switches.api_delay`) for longer than these tests wait."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.errors import PROVIDER_BUSY_MESSAGE
from kennel.ops.management.commands.serve import granian_command
from kennel.payments.services import SLOT_GRACE_SECONDS
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservations_release_stranded
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.payments.flow import settled
from tests.payments.stripe_helpers import choose, reserve
from tests.resilience.servers import PROJECT_DIR, own_process_database_url

pytestmark = pytest.mark.django_db(transaction=True)
HUNG_FOR = 120  # the sandbox's API answers after this long: longer than any test here waits
PATIENCE = 4.0  # how long a buyer's request is given before the test calls it hung
FAST = 1.0  # "at once" / "well under a second"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _granian(port: int, workers: int) -> list[str]:
    """The production server command (serve.py)."""
    granian = str(Path(sys.executable).with_name("granian"))
    return granian_command(granian, host="127.0.0.1", port=port, workers=workers)


def _threads_per_worker(command: list[str]) -> int:
    return int(command[command.index("--blocking-threads") + 1])


def _start_granian(
    sandbox: Any, command: list[str], port: int, bound: int, log: Path
) -> subprocess.Popen[bytes]:
    """The server `command` on the test database and the sandbox, `bound` provider calls at
    once per process."""
    env = {
        **os.environ,
        "DATABASE_URL": own_process_database_url(),
        "PAYMENTS_MODE": "sandbox",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "STRIPE_API_BASE": sandbox.public_url,
        "STRIPE_SECRET_KEY": "sk_test_kennel",
        "PAYPAL_API_BASE": sandbox.public_url,
        # The provider calls must still be waiting when the test looks at the pages.
        "PROVIDER_TIMEOUT_SECONDS": str(HUNG_FOR),
        "PROVIDER_CONCURRENCY": str(bound),
        "HOLDS_PER_EMAIL": "0",
        "HOLDS_PER_CLIENT": "0",
        "HOLD_RATE": "0",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen(  # its own group: granian's workers are stopped with it
            command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def _wait_until_up(server: subprocess.Popen[bytes], http: httpx.Client, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            if http.get("/health/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("granian did not start:\n" + log.read_text())


def _warm_up(http: httpx.Client, threads: Any) -> None:
    """A worker's first requests import the URLconf, the API and the SDKs; the test is about
    a running shop, so every worker serves a few before it starts."""
    for _ in range(3):
        threads(8, lambda i: http.post("/api/reservations/", json={}, timeout=30))
        threads(8, lambda i: http.get(["/", "/health/"][i % 2], timeout=30))


def _lag(http: httpx.Client, threads: Any, count: int) -> float:
    """The slowest of `count` requests at once that need no provider slot (a reservation
    refused by its validation): how slowly this machine answers a burst right now, so the
    limits below hold on a loaded machine and still catch a buyer kept waiting."""
    took = threads(count, lambda i: _timed(http.post, "/api/reservations/", json={}, timeout=30))
    assert all(isinstance(a, httpx.Response) and a.status_code == 422 for _, a in took), took
    return float(max(elapsed for elapsed, _ in took))


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Stop the server and its workers (its process group), hung threads or not."""
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
    with contextlib.suppress(ProcessLookupError):  # a worker that outlived its parent
        os.killpg(server.pid, signal.SIGKILL)


def _timed(call: Any, *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """How long call(*args, **kwargs) took, and its answer (or the client's timeout)."""
    started = time.monotonic()
    try:
        result = call(*args, **kwargs)
    except httpx.TimeoutException as exc:
        result = exc
    return time.monotonic() - started, result


def test_with_the_provider_hung_excess_buyers_are_refused_at_once_and_pages_keep_answering(
    sandbox, threads, settings, tmp_path
):
    port, workers = _free_port(), 2
    command = _granian(port, workers)
    per_worker = _threads_per_worker(command)
    bound = settings.PROVIDER_CONCURRENCY  # its default, unless the environment says otherwise
    assert 0 < bound * 2 <= per_worker, "the bound should leave half of the threads to pages"
    # More buyers than all the workers' threads: unbounded, they would take every one.
    buyers = workers * per_worker + 4
    puppies = [PuppyFactory() for _ in range(buyers + 1)]  # the last one for a latecomer
    log = tmp_path / "granian.log"
    server = _start_granian(sandbox, command, port, bound, log)
    # One client for every thread (building one per request costs more than the answers);
    # a new connection per request, so the requests spread over the workers.
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Connection": "close"},
        limits=httpx.Limits(max_connections=64),
    )
    try:
        _wait_until_up(server, http, log)
        _warm_up(http, threads)
        # "At once" on this machine now: FAST, plus how slowly a burst of the same size that
        # needs no provider slot is answered (its work and its queueing for threads).
        at_once = FAST + _lag(http, threads, buyers)
        sandbox.switches.api_delay = HUNG_FOR

        def buy(i: int) -> tuple[float, Any]:
            payload = {
                "puppy": puppies[i].slug,
                "name": f"Buyer {i}",
                "email": f"buyer{i}@example.com",
                "phone": "+33 6 12 34 56 78",
                "provider": "stripe",
                "accept_terms": True,
            }
            return _timed(http.post, "/api/reservations/", json=payload, timeout=PATIENCE)

        answers = threads(buyers, buy)

        refused = [i for i, (_, a) in enumerate(answers) if isinstance(a, httpx.Response)]
        hung = [i for i, (_, a) in enumerate(answers) if isinstance(a, httpx.TimeoutException)]
        assert sorted(refused + hung) == list(range(buyers)), answers
        # Each process lets `bound` calls wait on the provider; nobody got a checkout.
        assert 1 <= len(hung) <= bound * workers, answers
        for i in refused:
            elapsed, answer = answers[i]
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == {
                "code": "PROVIDER_BUSY",
                "message": PROVIDER_BUSY_MESSAGE,
            }
            assert int(answer.headers["Retry-After"]) > 0
            # Answered long before any provider call could have ended. The burst has more
            # buyers than threads: one queued behind the others waits for a thread (one
            # SLOT_GRACE_SECONDS), then its own grace; plus the burst's work on two cores.
            limit = 2 * SLOT_GRACE_SECONDS + FAST + at_once
            assert elapsed < limit, f"refused after {elapsed:.2f}s (limit {limit:.2f}s)"
            # ... and holds nothing: the puppy is still there for them.
            assert Puppy.objects.get(pk=puppies[i].pk).status == Puppy.Status.AVAILABLE
            assert not Reservation.objects.filter(puppy=puppies[i]).exists()
        # The hung buyers hold their puppies while their calls wait (none has a checkout yet).
        waiting = Reservation.objects.filter(status="pending", provider_reference__isnull=True)
        assert sorted(r.puppy_id for r in waiting) == sorted(puppies[i].pk for i in hung)

        # A buyer arriving now is refused at once too.
        elapsed, late = buy(buyers)
        assert late.status_code == 503, late
        assert late.json()["error"]["code"] == "PROVIDER_BUSY"
        assert elapsed < at_once, f"refused after {elapsed:.2f}s (limit {at_once:.2f}s)"

        # Meanwhile the shop answers: health and the catalogue, one after another, then a
        # few at once.
        pages = ["/health/", "/"]
        took = [_timed(http.get, pages[i % 2], timeout=10) for i in range(20)]
        took += threads(6, lambda i: _timed(http.get, pages[i % 2], timeout=10))
        assert all(isinstance(a, httpx.Response) and a.status_code == 200 for _, a in took), took
        slowest = max(elapsed for elapsed, _ in took)
        assert slowest < at_once, f"slowest page {slowest:.2f}s (limit {at_once:.2f}s)"
        # The hung calls were waiting on the provider all this while.
        assert waiting.count() == len(hung)
    finally:
        http.close()
        _stop(server)
        sandbox.switches.api_delay = 0

    # A server killed with holds whose checkout never started: the sweep frees their puppies.
    later = timezone.now() + timedelta(minutes=3)
    assert reservations_release_stranded(now=later) == len(hung)
    assert not Reservation.objects.filter(status="pending").exists()
    assert set(Puppy.objects.values_list("status", flat=True)) == {Puppy.Status.AVAILABLE}


def _reserve_on_the_page(base_url: str, slug: str) -> tuple[float, httpx.Response]:
    """A buyer's browser: the puppy page (CSRF cookie and token), then the reserve form."""
    with httpx.Client(base_url=base_url, timeout=PATIENCE) as browser:
        page = browser.get(f"/puppies/{slug}/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, page.text
        form = {
            "csrfmiddlewaretoken": token.group(1),
            "name": "Jane Doe",
            "email": "jane@example.com",
            "phone": "+33 6 12 34 56 78",
            "provider": "stripe",
            "accept_terms": "on",
        }
        headers = {"Referer": f"{base_url}/puppies/{slug}/"}
        return _timed(browser.post, f"/puppies/{slug}/reserve/", data=form, headers=headers)


def _hang_one_checkout(base_url: str, puppy: Any) -> tuple[threading.Thread, list[Any]]:
    """Another buyer's checkout, waiting on the hung provider in the only slot."""
    answers: list[Any] = []
    caller = threading.Thread(target=lambda: answers.append(reserve(base_url, puppy.slug, n=9)))
    caller.start()
    deadline = time.monotonic() + 10
    while not Reservation.objects.filter(puppy=puppy).exists():
        assert time.monotonic() < deadline, "the other buyer never got their hold"
        time.sleep(0.02)
    return caller, answers


def test_the_reserve_form_with_no_provider_slot_free_says_try_again_and_holds_nothing(
    sandbox, live_server, settings
):
    settings.PROVIDER_CONCURRENCY = 1
    settings.PROVIDER_TIMEOUT_SECONDS = HUNG_FOR
    other, puppy = PuppyFactory(), PuppyFactory()
    sandbox.switches.api_delay = HUNG_FOR
    caller, answers = _hang_one_checkout(live_server.url, other)
    try:
        elapsed, page = _reserve_on_the_page(live_server.url, puppy.slug)

        assert page.status_code == 503
        # Its grace for a slot, then at once (a buyer kept waiting on the provider would
        # time out at PATIENCE).
        assert elapsed < SLOT_GRACE_SECONDS + FAST, f"refused after {elapsed:.2f}s"
        assert int(page.headers["Retry-After"]) > 0
        assert 'data-error-code="PROVIDER_BUSY"' in page.text
        assert PROVIDER_BUSY_MESSAGE in page.text
        puppy.refresh_from_db()
        assert puppy.status == Puppy.Status.AVAILABLE
        assert not Reservation.objects.filter(puppy=puppy).exists()
    finally:
        sandbox.switches.api_delay = 0
        caller.join(30)
    assert answers[0].status_code == 201, answers[0].text

    # Once the provider answers again, the buyer who was refused gets their puppy.
    _, again = _reserve_on_the_page(live_server.url, puppy.slug)
    assert again.status_code == 303
    assert again.headers["location"].startswith(sandbox.public_url)
    assert Reservation.objects.get(puppy=puppy).status == "pending"


def test_the_return_url_with_no_provider_slot_free_sends_the_buyer_to_their_status_page_at_once(
    sandbox, live_server, settings
):
    settings.PROVIDER_CONCURRENCY = 1
    settings.PROVIDER_TIMEOUT_SECONDS = HUNG_FOR
    paid_for, other = PuppyFactory(), PuppyFactory()
    body = reserve(live_server.url, paid_for.slug).json()
    sandbox.switches.hold_webhooks = True
    back_to = choose(body["checkout_url"], "pay")
    sandbox.switches.api_delay = HUNG_FOR
    caller, answers = _hang_one_checkout(live_server.url, other)
    try:
        elapsed, back = _timed(httpx.get, back_to, timeout=PATIENCE)

        assert back.status_code == 303
        assert elapsed < SLOT_GRACE_SECONDS + FAST, f"answered after {elapsed:.2f}s"
        reservation = Reservation.objects.get(pk=body["id"])
        assert back.headers["location"] == reservation.get_absolute_url()
        assert reservation.status == "pending"  # not settled here: the webhook will
    finally:
        sandbox.switches.api_delay = 0
        caller.join(30)
    assert answers[0].status_code == 201, answers[0].text

    sandbox.switches.hold_webhooks = False
    sandbox.release_webhooks()
    settled(sandbox, body["id"])
    run_worker_once()  # where the webhook's processing is queued
    assert Reservation.objects.get(pk=body["id"]).status == "confirmed"
