"""The worker reconciles hourly: once per period however many workers race for it, its result
recorded, and a discrepancy failing the health check (and so alerting the owner)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from kennel.monitoring.models import Incident, ReconciliationRun
from kennel.monitoring.reconciliation import reconciliation_sweep
from kennel.payments.models import Refund
from tests.conftest import run_worker_once

pytestmark = pytest.mark.django_db(transaction=True)


def refused_refund() -> Refund:
    return Refund.objects.create(
        provider="stripe",
        external_payment_id="pi_refused",
        amount="150.00",
        currency="EUR",
        reason=Refund.Reason.LATE_PAYMENT,
        status=Refund.Status.FAILED,
        idempotency_key="refund:test:refused",
    )


def test_two_workers_racing_reconcile_once_per_hour(threads, settings):
    settings.RECONCILE_EVERY_MINUTES = 60
    start = timezone.now()
    assert threads(2, lambda i: reconciliation_sweep(now=start)) == [0, 0]  # the clock starts
    assert not ReconciliationRun.objects.exists()
    an_hour_on = start + timedelta(minutes=61)
    assert sorted(threads(2, lambda i: reconciliation_sweep(now=an_hour_on))) == [0, 1]
    run = ReconciliationRun.objects.get()
    assert (run.source, run.balanced, run.needs_attention, run.lines) == (
        "worker",
        True,
        False,
        [],
    )
    assert reconciliation_sweep(now=an_hour_on + timedelta(minutes=30)) == 0  # not due yet
    two_hours_on = start + timedelta(minutes=122)
    assert sorted(threads(4, lambda i: reconciliation_sweep(now=two_hours_on))) == [0, 0, 0, 1]
    assert ReconciliationRun.objects.count() == 2


def test_a_run_by_hand_counts_for_the_hour(settings):
    settings.RECONCILE_EVERY_MINUTES = 60
    call_command("reconcile_payments", stdout=StringIO())
    assert ReconciliationRun.objects.get().source == "command"
    assert reconciliation_sweep() == 0
    assert reconciliation_sweep(now=timezone.now() + timedelta(minutes=61)) == 1


def test_a_discrepancy_is_recorded_fails_the_check_and_alerts_the_owner(
    client, admin_client, settings
):
    settings.RECONCILE_EVERY_MINUTES = 60
    settings.HEALTH_ALERT_AFTER_MINUTES = 0
    settings.OWNER_EMAIL = "owner@kennel.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    refused_refund()
    assert reconciliation_sweep() == 0
    assert reconciliation_sweep(now=timezone.now() + timedelta(minutes=61)) == 1
    run = ReconciliationRun.objects.get()
    assert (run.needs_attention, run.balanced) == (True, False)
    assert "refund refused by stripe: 150.00 EUR for payment pi_refused" in run.lines
    answer = client.get("/health/webhooks/")
    assert answer.status_code == 503
    assert answer.json()["failing"] == ["reconciliation"]
    assert answer.json()["reconciliation"]["findings"] == len(run.lines)
    assert admin_client.get("/health/webhooks/").json()["reconciliation"]["lines"] == run.lines

    run_worker_once()  # its sweep opens the incident and alerts; then the outbox sends it
    run_worker_once()
    assert Incident.objects.get().check_name == "reconciliation"
    [alert] = mail.outbox
    assert alert.subject == "Attention needed: The payments do not reconcile"
    assert "pi_refused" in alert.body

    Refund.objects.filter(external_payment_id="pi_refused").update(status="succeeded")
    call_command("reconcile_payments", stdout=StringIO())  # settled: the books balance
    run_worker_once()
    run_worker_once()
    assert client.get("/health/webhooks/").status_code == 200
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["Attention needed", "Resolved"]


def test_switched_off_the_worker_never_reconciles(settings):
    settings.RECONCILE_EVERY_MINUTES = 0
    assert reconciliation_sweep(now=timezone.now() + timedelta(days=1)) == 0
    assert not ReconciliationRun.objects.exists()
