"""Refunds and checkout closes go through the one outbox: retried with backoff, dead and visible
when the provider keeps failing, sent by the admin's retry, and never queued behind emails."""

import subprocess
import sys
import time
from decimal import Decimal
from typing import cast

import httpx
import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.models import SideEffect
from kennel.core.outbox import side_effect_run
from kennel.payments.fulfilment import refund_send_enqueue
from kennel.payments.models import Refund, WebhookEvent
from kennel.payments.webhooks import webhooks_sweep
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_release
from tests.factories import PuppyFactory
from tests.notifications.test_worker_killed import _stop
from tests.payments.flow import run_webhook_jobs, settled
from tests.payments.stripe_helpers import choose, events_of, reserve
from tests.resilience.servers import PROJECT_DIR, own_process_database_url

pytestmark = pytest.mark.django_db(transaction=True)
CLOSED_PORT = "http://127.0.0.1:9"  # discard: nothing listens, the connection is refused


def _paid(sandbox, live_server) -> Reservation:
    puppy = cast(Puppy, PuppyFactory())
    body = reserve(live_server.url, puppy.slug).json()
    choose(body["checkout_url"], "pay")
    return settled(sandbox, body["id"])


def _owner_refund(reservation: Reservation, amount: Decimal | None = None) -> SideEffect:
    with transaction.atomic():
        refund = Refund.objects.create(
            reservation=reservation,
            provider="stripe",
            external_payment_id=str(reservation.external_payment_id),
            amount=amount or reservation.deposit_amount,
            currency=reservation.currency,
            reason=Refund.Reason.OWNER,
            idempotency_key=f"test-refund-{reservation.pk}",
        )
        refund_send_enqueue(refund)
    return SideEffect.objects.get(kind="refund_send", reservation_id=reservation.pk)


def _run_now(job: SideEffect) -> str:
    """The job's next try, without waiting out its backoff."""
    SideEffect.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    return side_effect_run(side_effect_id=job.pk)


def test_a_refund_the_provider_keeps_failing_ends_dead_and_the_admin_retry_sends_it(
    sandbox, live_server, settings, admin_client
):
    reservation = _paid(sandbox, live_server)
    settings.SIDE_EFFECT_MAX_ATTEMPTS = 3
    job = _owner_refund(reservation)
    settings.STRIPE_API_BASE = CLOSED_PORT  # Stripe unreachable

    assert [_run_now(job) for _ in range(3)] == ["pending", "pending", "dead"]

    job.refresh_from_db()
    assert (job.status, job.attempts) == ("dead", 3)
    assert "unavailable" in job.last_error
    refund = Refund.objects.get(reservation=reservation)
    assert refund.status == "pending"  # not sent: the books count it as still refunding
    changelist = reverse("admin:core_sideeffect_changelist")
    page = admin_client.get(changelist, {"status": "dead"}).content.decode()
    assert "Provider: send a refund" in page

    settings.STRIPE_API_BASE = sandbox.public_url
    answer = admin_client.post(
        changelist,
        {"action": "retry_dead", "post": "yes", "_selected_action": [job.pk]},
        follow=True,
    )
    assert "1 side effect queued again." in answer.content.decode()
    assert side_effect_run(side_effect_id=job.pk) == "sent"

    refund.refresh_from_db()
    assert refund.status == "succeeded"
    assert refund.provider_refund_id.startswith("re_")
    with sandbox.stripe.state.lock:
        refunded = [
            r
            for r in sandbox.stripe.state.refunds.values()
            if r["payment_intent"] == reservation.external_payment_id
        ]
    assert len(refunded) == 1


def test_a_checkout_close_that_fails_is_retried_until_the_session_is_expired(
    sandbox, live_server, settings
):
    body = reserve(live_server.url, PuppyFactory().slug).json()
    settings.STRIPE_API_BASE = CLOSED_PORT

    reservation_release(
        reservation_id=body["id"], status="cancelled", actor="test", reason="buyer_cancelled"
    )
    job = SideEffect.objects.get(kind="checkout_close", reservation_id=body["id"])
    assert side_effect_run(side_effect_id=job.pk) == "pending"

    job.refresh_from_db()
    assert job.attempts == 1
    assert job.next_attempt_at > timezone.now()  # backing off, not given up
    session_id = body["provider_reference"]
    assert sandbox.stripe.state.sessions[session_id]["status"] == "open"

    settings.STRIPE_API_BASE = sandbox.public_url
    assert _run_now(job) == "sent"
    assert sandbox.stripe.state.sessions[session_id]["status"] == "expired"


def test_a_refund_is_sent_while_the_mail_server_hangs(sandbox, live_server, smtp_server, tmp_path):
    reservation = _paid(sandbox, live_server)  # its buyer email is waiting in the outbox
    # Part of the deposit: the reservation stands, so its "confirmed" email stays true and is
    # sent (a full refund would end it first, and the email would rightly not go at all).
    job = _owner_refund(reservation, amount=reservation.deposit_amount / 2)
    smtp_server.stall_on_rcpt = 0  # the first email hangs until released
    log = tmp_path / "worker.log"
    env = {
        "DATABASE_URL": own_process_database_url(),
        "PATH": "/usr/bin:/bin",
        "CONN_MAX_AGE": "0",
        "PAYMENTS_MODE": "sandbox",
        "STRIPE_API_BASE": sandbox.public_url,
        "STRIPE_SECRET_KEY": "sk_test_kennel",
        "EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "EMAIL_TIMEOUT": "60",
        "LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "kennel", "worker", "--interval", "0.05"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        assert smtp_server.stalled.wait(30), log.read_text()
        deadline = time.monotonic() + 20

        def refunded() -> tuple[str, str]:  # the refund, and its job (marked done just after)
            refund = Refund.objects.get(reservation=reservation).status
            return refund, SideEffect.objects.get(pk=job.pk).status

        while time.monotonic() < deadline and refunded() != ("succeeded", "sent"):
            time.sleep(0.1)
        assert refunded() == ("succeeded", "sent"), log.read_text()
        assert not smtp_server.release.is_set()  # the email is still hanging meanwhile
    finally:
        smtp_server.release.set()
        _stop(worker)


def test_a_webhook_is_processed_by_the_outbox_and_retried_while_the_provider_is_down(
    sandbox, live_server, settings
):
    body = reserve(live_server.url, cast(Puppy, PuppyFactory()).slug).json()
    choose(body["checkout_url"], "pay")
    sandbox.wait_for_deliveries(timeout=10)
    event = WebhookEvent.objects.get(type="checkout.session.completed")
    assert event.status == "pending"  # stored and acknowledged; the worker processes it
    job = SideEffect.objects.get(kind="webhook_process", data__event=event.pk)
    settings.STRIPE_API_BASE = CLOSED_PORT  # Stripe cannot be re-read for now

    assert side_effect_run(side_effect_id=job.pk) == "pending"  # backing off
    event.refresh_from_db()
    assert event.status == "failed"
    assert Reservation.objects.get(pk=body["id"]).status == "pending"
    assert webhooks_sweep() == 0  # its job is waiting: nothing queued twice

    settings.STRIPE_API_BASE = sandbox.public_url
    assert _run_now(job) == "sent"

    event.refresh_from_db()
    assert event.status == "processed"
    assert Reservation.objects.get(pk=body["id"]).status == "confirmed"


def test_a_webhook_is_answered_at_once_while_the_providers_api_hangs(
    sandbox, live_server, settings
):
    body = reserve(live_server.url, cast(Puppy, PuppyFactory()).slug).json()
    sandbox.switches.hold_webhooks = True
    choose(body["checkout_url"], "pay")
    [event] = events_of(sandbox, "checkout.session.completed", body["provider_reference"])
    raw, headers = sandbox.stripe.signed_delivery(event)
    sandbox.switches.api_delay = 30.0  # Stripe's API hangs

    started = time.monotonic()
    answer = httpx.post(
        f"{live_server.url}/webhooks/stripe/", content=raw, headers=headers, timeout=30
    )
    elapsed = time.monotonic() - started

    assert answer.status_code == 200
    # Re-read inline, it would wait for the provider's timeout (the API hangs longer); a
    # loaded machine may take its time, not that long.
    assert elapsed < settings.PROVIDER_TIMEOUT_SECONDS / 3, f"answered after {elapsed:.2f}s"
    assert Reservation.objects.get(pk=body["id"]).status == "pending"  # not yet re-read

    sandbox.switches.api_delay = 0.0  # the API answers again; the worker re-reads and confirms
    run_webhook_jobs()
    assert Reservation.objects.get(pk=body["id"]).status == "confirmed"
