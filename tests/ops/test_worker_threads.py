"""The worker's money queue on several threads, woken by PostgreSQL NOTIFY: a burst of paid
checkouts is confirmed side by side, each exactly once; new work starts at once, not at the
next poll."""

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from kennel.core.db import is_postgres
from kennel.core.models import SideEffect
from kennel.core.outbox import DEFAULT_QUEUE, MONEY_QUEUE
from kennel.core.wakeup import Wakeup, listen_for_work
from kennel.ops.management.commands.worker import MoneyFirst, _run_surviving, _worker
from kennel.payments.models import PaymentWork, WebhookEvent
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.payments.flow import confirmations
from tests.payments.stripe_helpers import choose, reserve

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgres_only() -> None:
    if not is_postgres():
        pytest.skip("several worker threads and NOTIFY are PostgreSQL's")


@contextmanager
def money_threads(
    count: int,
    *,
    interval: float,
    listen: bool = False,
    emails: bool = False,
    gate: MoneyFirst | None = None,
) -> Iterator[list[str]]:
    """`count` money-queue worker threads (as `python -m kennel worker --threads N` runs
    them) for the block, and with `emails` the loop of the default queue beside them, both
    sharing `gate` as the worker does; yields the money threads' worker ids."""
    wakeups = {MONEY_QUEUE: Wakeup(), DEFAULT_QUEUE: Wakeup()}
    workers = [
        _worker(MONEY_QUEUE, interval=interval, wakeup=wakeups[MONEY_QUEUE], number=n, gate=gate)
        for n in range(1, count + 1)
    ]
    money_ids = [w.worker_id for w in workers]
    if emails:
        workers.append(
            _worker(DEFAULT_QUEUE, interval=interval, wakeup=wakeups[DEFAULT_QUEUE], gate=gate)
        )
    stop = threading.Event()

    def run(target: Callable[[], None]) -> None:
        try:
            target()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(lambda w=w: _run_surviving(w),)) for w in workers]
    if listen:
        threads.append(threading.Thread(target=listen_for_work, args=(wakeups, stop)))
    for thread in threads:
        thread.start()
    try:
        yield money_ids
    finally:
        stop.set()
        for worker in workers:
            worker.running = False
        for wakeup in wakeups.values():
            wakeup.ring()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(t.is_alive() for t in threads), "a worker thread did not stop"


def wait_until(done: Callable[[], bool], timeout: float) -> float:
    """Seconds until `done()`; fails after `timeout`."""
    started = time.monotonic()
    while not done():
        assert time.monotonic() - started < timeout, "the worker did not get there in time"
        time.sleep(0.02)
    return time.monotonic() - started


def webhook_jobs_left() -> int:
    return (
        SideEffect.objects.filter(kind=PaymentWork.WEBHOOK_PROCESS).exclude(status="sent").count()
    )


def test_four_money_threads_confirm_a_burst_of_paid_checkouts_each_exactly_once(
    sandbox, live_server
):
    puppies = PuppyFactory.create_batch(12)
    reservations = []
    for n, puppy in enumerate(puppies):
        body = reserve(live_server.url, puppy.slug, n=n).json()
        choose(body["checkout_url"], "pay")
        reservations.append(body["id"])
    assert sandbox.wait_for_deliveries(timeout=30)
    assert WebhookEvent.objects.filter(type="checkout.session.completed").count() == 12
    sandbox.switches.api_delay = 0.05  # each read of the provider takes a moment

    with money_threads(4, interval=0.2) as worker_ids:
        wait_until(lambda: webhook_jobs_left() == 0, timeout=60)

    for reservation_id in reservations:
        assert Reservation.objects.get(pk=reservation_id).status == "confirmed"
        assert confirmations(reservation_id) == 1
        emails = SideEffect.objects.filter(reservation_id=reservation_id, kind="buyer_confirmation")
        assert emails.count() == 1
    jobs = SideEffect.objects.filter(kind=PaymentWork.WEBHOOK_PROCESS)
    assert set(jobs.values_list("status", "attempts")) == {("sent", 1)}
    events = WebhookEvent.objects.values_list("type", "status", "attempts")
    # Each checkout's event processed once; the rest (payment_intent.succeeded, charge.
    # succeeded) are types the shop never acts on: ignored at once, never queued.
    assert {(t, a) for t, s, a in events if s == "processed"} == {("checkout.session.completed", 1)}
    assert {a for t, s, a in events if s == "ignored"} == {0}
    ran = DBTaskResult.objects.filter(queue_name=MONEY_QUEUE)
    assert set(ran.values_list("status", flat=True)) == {"SUCCESSFUL"}
    claimed_by = [tuple(ids) for ids in ran.values_list("worker_ids", flat=True)]
    assert all(len(ids) == 1 for ids in claimed_by)  # every task claimed once
    assert len({ids[0] for ids in claimed_by} & set(worker_ids)) >= 2  # side by side


def pay_checkouts(live_server: Any, sandbox: Any, count: int) -> list[str]:
    """`count` holds paid at the sandbox, their webhooks received (not yet processed)."""
    reservations = []
    for n, puppy in enumerate(PuppyFactory.create_batch(count)):
        body = reserve(live_server.url, puppy.slug, n=n).json()
        choose(body["checkout_url"], "pay")
        reservations.append(body["id"])
    assert sandbox.wait_for_deliveries(timeout=30)
    assert WebhookEvent.objects.filter(type="checkout.session.completed").count() == count
    return reservations


def sent_at(queue: str) -> list[Any]:
    """When each side effect of `queue` was done, in order (the money queue's are webhook
    jobs here; the default queue's the confirmations' emails)."""
    return sorted(SideEffect.objects.filter(queue=queue).values_list("sent_at", flat=True))


def emails_left() -> int:
    return SideEffect.objects.filter(queue=DEFAULT_QUEUE).exclude(status="sent").count()


def test_during_a_burst_of_payments_every_one_is_confirmed_before_the_emails_go(
    sandbox, live_server, mailoutbox
):
    """The emails and conversions share the worker's process (one GIL) with the money
    threads: while payments are waiting to be confirmed, their emails wait instead."""
    reservations = pay_checkouts(live_server, sandbox, 10)
    sandbox.switches.api_delay = 0.1  # each read of the provider takes a moment

    with money_threads(1, interval=0.2, emails=True, gate=MoneyFirst()):
        wait_until(lambda: webhook_jobs_left() == 0 and emails_left() == 0, timeout=60)

    for reservation_id in reservations:
        assert Reservation.objects.get(pk=reservation_id).status == "confirmed"
    confirmed, emails = sent_at(MONEY_QUEUE), sent_at(DEFAULT_QUEUE)
    assert len(confirmed) == 10
    assert len(emails) >= 10  # the buyer's (and the owner's)
    assert len(mailoutbox) == len(emails)
    # The first confirmation queued its emails about a second before the last payment was
    # confirmed; none of them went before it.
    assert emails[0] > confirmed[-1]


def test_emails_are_slowed_by_a_busy_money_queue_never_stopped(sandbox, live_server, mailoutbox):
    """A provider answering slowly keeps the money threads working: the emails queued
    meanwhile still go, one each `patience`, not only once every payment is through."""
    reservations = pay_checkouts(live_server, sandbox, 4)
    sandbox.switches.api_delay = 2.0  # four payments: 8 s on the money thread

    with money_threads(1, interval=0.2, emails=True, gate=MoneyFirst(patience=0.5)):
        wait_until(lambda: len(mailoutbox) >= 1, timeout=30)
        payments_left = webhook_jobs_left()
        wait_until(lambda: webhook_jobs_left() == 0 and emails_left() == 0, timeout=60)

    assert payments_left >= 2, "the first email waited until the payments were through"
    assert all(Reservation.objects.get(pk=r).status == "confirmed" for r in reservations)


def test_a_new_webhook_job_wakes_an_idle_worker_at_once_not_at_its_next_poll(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_wake"
    body = json.dumps(
        {
            "id": "evt_wake_1",
            "object": "event",
            # A type the shop acts on (so it is queued), naming no payment: no provider call.
            "type": "charge.refunded",
            "created": int(time.time()),
            "data": {"object": {"id": "ch_1", "object": "charge"}},
        }
    ).encode()
    with money_threads(2, interval=30.0, listen=True):
        time.sleep(1.0)  # both threads looked, found nothing, and wait (up to 30 s)
        answer = client.post(
            "/webhooks/stripe/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, settings.STRIPE_WEBHOOK_SECRET),
        )
        assert answer.status_code == 200
        waited = wait_until(lambda: webhook_jobs_left() == 0, timeout=10)
    assert waited < 5
    assert WebhookEvent.objects.get().status == "ignored"


def sign(body: bytes, secret: str) -> str:
    at = int(time.time())
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"
