"""GET /health/webhooks/: 200 on a quiet shop, 503 naming each check that fails, 200 again
once it is settled; HEAD answers like GET."""

import io
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from kennel.core.models import SideEffect
from kennel.core.outbox import side_effects_retry
from kennel.payments.models import WebhookEvent
from kennel.reservations.models import Reservation
from tests.conftest import unreachable_database
from tests.factories import ReservationFactory
from tests.monitoring.test_reconciliation import refused_refund
from tests.payments.test_stripe_webhooks import SECRET, event, post, sign

URL = "/health/webhooks/"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    settings.HEALTH_WEBHOOK_BACKLOG_MINUTES = 15
    settings.HEALTH_SILENCE_HOURS = 24


def stored_event(*, received_minutes_ago: float, status: str = "pending", provider="stripe"):
    stored = WebhookEvent.objects.create(
        provider=provider, event_id=f"evt_{WebhookEvent.objects.count()}", type="x", body="{}"
    )
    WebhookEvent.objects.filter(pk=stored.pk).update(
        received_at=timezone.now() - timedelta(minutes=received_minutes_ago), status=status
    )
    return stored


def dead_work() -> SideEffect:
    return SideEffect.objects.create(
        kind="owner_deposit",
        recipient="owner@kennel.example",
        dedup_key="test:dead",
        status=SideEffect.Status.DEAD,
        attempts=12,
        next_attempt_at=timezone.now(),
    )


def test_a_quiet_shop_is_healthy(client):
    answer = client.get(URL)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["failing"]) == ("ok", [])
    assert body["providers"]["stripe"] == {
        "last_event_at": None,
        "events": {"pending": 0, "processing": 0, "processed": 0, "ignored": 0, "failed": 0},
        "oldest_unprocessed_seconds": None,
        "rejected_last_hour": {},
        "holds_waiting": 0,
    }
    assert set(body["providers"]) == {"stripe", "paypal"}
    assert body["background_work"] == {
        "queued": 0,
        "failing": 0,
        "running": 0,
        "dead": 0,
        "oldest_due_seconds": None,
    }
    assert body["reconciliation"]["at"] is None
    assert set(body["integrations"]) >= {"owner_email", "buyer_email", "ga4", "meta"}


def test_an_event_unprocessed_past_the_threshold_is_a_webhook_backlog_until_processed(client):
    stored_event(received_minutes_ago=1, status="processed")
    late = stored_event(received_minutes_ago=20)
    answer = client.get(URL)
    assert answer.status_code == 503
    body = answer.json()
    assert (body["status"], body["failing"]) == ("attention", ["webhook_backlog"])
    stripe = body["providers"]["stripe"]
    assert stripe["events"]["pending"] == stripe["events"]["processed"] == 1
    assert 20 * 60 <= stripe["oldest_unprocessed_seconds"] < 21 * 60
    assert stripe["last_event_at"] is not None
    assert body["providers"]["paypal"]["oldest_unprocessed_seconds"] is None

    WebhookEvent.objects.filter(pk=late.pk).update(status="processed")
    assert client.get(URL).status_code == 200


def test_the_backlog_threshold_is_a_setting(client, settings):
    stored_event(received_minutes_ago=1, status="failed")
    assert client.get(URL).status_code == 200
    settings.HEALTH_WEBHOOK_BACKLOG_MINUTES = 0
    assert client.get(URL).json()["failing"] == ["webhook_backlog"]


def test_dead_background_work_fails_until_retried(client):
    effect = dead_work()
    answer = client.get(URL)
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["dead_work"]
    assert answer.json()["background_work"]["dead"] == 1

    assert side_effects_retry(side_effect_ids=[effect.pk], actor="test") == 1
    answer = client.get(URL)
    assert answer.status_code == 200
    work = answer.json()["background_work"]
    assert (work["queued"], work["failing"], work["running"], work["dead"]) == (1, 0, 0, 0)
    assert work["oldest_due_seconds"] < 60


def test_background_work_left_undone_past_the_threshold_fails_until_done(client):
    """Tried: with the worker stopped, a refund and two emails sat queued; /health/webhooks/
    stayed ok (and the worker, which sends the alerts, could not say so)."""
    refund = SideEffect.objects.create(
        kind="refund_send",
        recipient="stripe",
        dedup_key="test:stuck",
        next_attempt_at=timezone.now() - timedelta(minutes=20),
    )
    SideEffect.objects.create(
        kind="owner_deposit",
        recipient="owner@kennel.example",
        dedup_key="test:fresh",
        next_attempt_at=timezone.now(),
    )

    answer = client.get(URL)

    assert answer.status_code == 503
    assert answer.json()["failing"] == ["work_backlog"]
    assert "is the worker running?" in answer.json()["problems"]["work_backlog"]
    assert answer.json()["background_work"]["oldest_due_seconds"] >= 20 * 60
    SideEffect.objects.filter(pk=refund.pk).update(status=SideEffect.Status.SENT)
    assert client.get(URL).status_code == 200


def test_several_failing_checks_are_all_named(client):
    stored_event(received_minutes_ago=30)
    dead_work()
    assert client.get(URL).json()["failing"] == ["webhook_backlog", "dead_work"]


def test_head_answers_like_get(client):
    assert client.head(URL).status_code == 200
    assert client.head("/health/").status_code == 200
    dead_work()
    answer = client.head(URL)
    assert answer.status_code == 503
    assert answer.content == b""
    assert client.post(URL).status_code == 405


def test_refused_deliveries_of_the_last_hour_are_counted_by_reason(client):
    body = event()
    assert post(client, body, "t=1,v1=bad").status_code == 400
    assert post(client, body, None).status_code == 400
    assert post(client, body, sign(body, secret="whsec_wrong")).status_code == 400
    rejected = client.get(URL).json()["providers"]["stripe"]["rejected_last_hour"]
    assert sum(rejected.values()) == 3
    assert len(rejected) >= 2  # a missing signature is not a stale or a wrong one


def test_no_event_for_hours_while_a_hold_waits_is_webhook_silence(client):
    hold = ReservationFactory(provider_reference="cs_test_waiting")
    Reservation.objects.filter(pk=hold.pk).update(created_at=timezone.now() - timedelta(hours=25))
    stored_event(received_minutes_ago=26 * 60, status="processed")
    answer = client.get(URL)
    assert answer.json()["failing"] == ["webhook_silence"]
    assert answer.json()["providers"]["stripe"]["holds_waiting"] == 1

    stored_event(received_minutes_ago=1, status="processed")  # the provider speaks again
    assert client.get(URL).status_code == 200


def test_a_fresh_hold_after_a_quiet_day_is_not_silence(client):
    stored_event(received_minutes_ago=48 * 60, status="processed")
    ReservationFactory(provider_reference="cs_test_new")
    assert client.get(URL).status_code == 200


def test_a_reconciliation_that_needs_attention_fails_the_check(client, admin_client):
    from django.core.management import call_command

    call_command("reconcile_payments", stdout=io.StringIO())
    body = client.get(URL).json()
    assert body["reconciliation"]["balanced"] is True
    assert body["reconciliation"]["source"] == "command"

    refused_refund()
    with pytest.raises(SystemExit):
        call_command("reconcile_payments", stdout=io.StringIO())
    answer = client.get(URL)
    assert answer.status_code == 503
    body = answer.json()
    assert body["failing"] == ["reconciliation"]
    assert body["reconciliation"]["needs_attention"] is True
    # Tried: the public page named the payment and its amount; it says how many findings,
    # a staff login which.
    assert "pi_refused" not in answer.content.decode()
    assert "150.00" not in answer.content.decode()
    assert body["reconciliation"]["findings"] >= 1
    assert "finding(s), named in the back office" in body["problems"]["reconciliation"]
    staff = admin_client.get(URL).json()
    assert any("pi_refused" in line for line in staff["reconciliation"]["lines"])


def test_a_failing_check_answers_503_without_an_error_in_the_log(client, caplog):
    """Tried: every poll of an uptime monitor while a check failed logged "ERROR django.request
    Service Unavailable: /health/webhooks/"; the 503 is the page doing its job (the owner's
    alert and /metrics say it), and real errors drowned among those lines."""
    dead_work()
    with caplog.at_level(logging.INFO):
        answer = client.get(URL)
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["dead_work"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_database_out_of_reach_is_a_503_to_retry_and_no_error_in_the_log(client, caplog):
    with caplog.at_level(logging.INFO), unreachable_database():
        answer = client.get(URL)
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
    assert answer["Retry-After"] == "5"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
