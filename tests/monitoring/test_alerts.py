"""The owner hears of an incident once when a check starts failing and once when it is over,
through the real outbox and mail backend, however often and on however many workers the sweep
runs."""

from datetime import timedelta
from decimal import Decimal
from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from django.core import mail
from django.utils import timezone

from kennel.core.models import SideEffect
from kennel.monitoring.alerts import health_alerts_sweep
from kennel.monitoring.models import Incident
from kennel.monitoring.reconciliation import reconciliation_record
from kennel.payments.reconcile import Books, Reconciliation, Unaccounted
from tests.conftest import run_worker_once

OWNER = "owner@kennel.example"
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.OWNER_EMAIL = OWNER
    settings.SITE_URL = "https://shop.example"
    settings.RECONCILE_EVERY_MINUTES = 0  # not what these tests are about
    settings.HEALTH_ALERT_AFTER_MINUTES = 0
    mail.outbox = []


def dead_work() -> SideEffect:
    return SideEffect.objects.create(
        kind="owner_deposit",
        recipient=OWNER,
        dedup_key="test:dead",
        status=SideEffect.Status.DEAD,
        attempts=12,
        next_attempt_at=timezone.now(),
    )


def sweeps_racing(threads, *, workers: int = 2, rounds: int = 3) -> None:
    for _ in range(rounds):
        results = threads(workers, lambda i: health_alerts_sweep())
        assert not [r for r in results if isinstance(r, BaseException)], results


def test_one_alert_per_incident_and_one_when_it_is_over(threads):
    effect = dead_work()
    sweeps_racing(threads)
    for _ in range(3):
        run_worker_once()  # the worker's own sweep runs too
    [alert] = mail.outbox
    assert alert.to == [OWNER]
    assert alert.subject == "Attention needed: Background work has been given up on"
    assert "dead_work" in alert.body
    assert "1 piece of background work given up on" in alert.body
    assert "piece(s)" not in alert.body
    assert "https://shop.example/health/webhooks/" in alert.body
    [(html, mimetype)] = alert.alternatives
    assert mimetype == "text/html"
    assert "dead_work" in str(html)
    incident = Incident.objects.get()
    assert (incident.check_name, incident.ended_at) == ("dead_work", None)

    SideEffect.objects.filter(pk=effect.pk).update(status=SideEffect.Status.SENT)  # dealt with
    sweeps_racing(threads)
    for _ in range(3):
        run_worker_once()
    assert [m.subject for m in mail.outbox] == [
        "Attention needed: Background work has been given up on",
        "Resolved: Background work has been given up on",
    ]
    assert Incident.objects.get().ended_at is not None
    recovered = mail.outbox[1]
    assert recovered.to == [OWNER]
    assert "passing again" in recovered.body


def test_the_same_check_failing_again_later_is_a_new_incident(threads):
    effect = dead_work()
    health_alerts_sweep()
    SideEffect.objects.filter(pk=effect.pk).update(status=SideEffect.Status.SENT)
    health_alerts_sweep()
    SideEffect.objects.filter(pk=effect.pk).update(status=SideEffect.Status.DEAD)
    sweeps_racing(threads, workers=4, rounds=2)
    run_worker_once()
    assert [m.subject.split(":")[0] for m in mail.outbox] == [
        "Attention needed",
        "Resolved",
        "Attention needed",
    ]
    assert Incident.objects.filter(ended_at__isnull=True).count() == 1


def test_without_owner_email_the_incident_is_kept_and_no_email_written(settings):
    settings.OWNER_EMAIL = ""
    dead_work()
    assert health_alerts_sweep() == 2  # opened, and alerted (nobody to email)
    assert Incident.objects.filter(check_name="dead_work", ended_at__isnull=True).exists()
    assert not SideEffect.objects.filter(kind__startswith="owner_alert").exists()
    run_worker_once()
    assert mail.outbox == []


def test_a_blip_shorter_than_the_grace_is_recorded_but_never_emailed(settings):
    settings.HEALTH_ALERT_AFTER_MINUTES = 5
    effect = dead_work()
    assert health_alerts_sweep() == 1  # opened, not alerted
    SideEffect.objects.filter(pk=effect.pk).update(status=SideEffect.Status.SENT)
    assert health_alerts_sweep() == 1  # closed
    run_worker_once()
    assert mail.outbox == []
    incident = Incident.objects.get()
    assert incident.alerted_at is None
    assert incident.ended_at is not None


def test_a_check_failing_past_the_grace_is_emailed_once(settings, threads):
    settings.HEALTH_ALERT_AFTER_MINUTES = 5
    dead_work()
    health_alerts_sweep()
    later = timezone.now() + timedelta(minutes=6)
    results = threads(3, lambda i: health_alerts_sweep(now=later))
    assert sorted(results) == [0, 0, 1]
    run_worker_once()
    assert [m.subject for m in mail.outbox] == [
        "Attention needed: Background work has been given up on"
    ]


def test_a_french_shop_owner_reads_the_alert_and_its_recovery_in_french_words(settings, threads):
    """Tried on a French shop: the alert and the recovery came in English, and named the
    failing check by its code ("dead_work") where the owner should read what is wrong."""
    settings.LANGUAGE_CODE = "fr"
    effect = dead_work()
    sweeps_racing(threads)
    run_worker_once()
    [alert] = mail.outbox
    title = "Des tâches de fond ont été abandonnées"
    # The subject keeps the no-break space before the colon, as its body does, and the
    # message sent says so once encoded (RFC 2047) and read back.
    assert alert.subject == f"Attention requise\u00a0: {title}"
    raw = message_from_bytes(alert.message().as_bytes())["Subject"]
    assert "\u00a0" not in raw  # encoded, not sent raw
    assert str(make_header(decode_header(raw))) == f"Attention requise\u00a0: {title}"
    [(html, _mimetype)] = alert.alternatives
    for body in (alert.body, str(html)):
        assert f"Attention requise\u00a0: {title}" in body
        assert "Que faire\u00a0:" in body
        assert "Attention needed" not in body
        assert "What to do" not in body
        # The code only as the operator's reference, never what the owner reads first.
        assert "(contrôle\u00a0: dead_work)" in body
        assert body.count("dead_work") == 1
        # What the check found too (tried: "1 piece(s) of background work given up on").
        assert "1 tâche de fond abandonnée" in body
        assert "background work" not in body
    headline = alert.body.splitlines()[2]
    assert headline == f"Attention requise\u00a0: {title}"

    SideEffect.objects.filter(pk=effect.pk).update(status=SideEffect.Status.SENT)
    sweeps_racing(threads)
    run_worker_once()
    recovered = mail.outbox[1]
    assert recovered.subject == f"Résolu\u00a0: {title}"
    assert "fonctionne de nouveau depuis" in recovered.body
    assert "passing again" not in recovered.body
    assert "1 tâche de fond abandonnée" in recovered.body
    assert "background work" not in recovered.body
    assert recovered.body.count("dead_work") == 1


def test_an_english_shop_owner_reads_what_is_wrong_in_words_first(threads):
    dead_work()
    sweeps_racing(threads)
    run_worker_once()
    [alert] = mail.outbox
    assert alert.body.splitlines()[2] == ("Attention needed: Background work has been given up on")
    assert "What to do: Open Background work in the back office" in alert.body
    assert "(check: dead_work)" in alert.body
    assert alert.body.count("dead_work") == 1


def test_what_a_check_found_is_counted_in_words_in_either_language(settings, threads):
    """The detail is kept with the incident as a message and its values, and written in the
    shop's language when the email is: a plural form, not "piece(s)"."""
    settings.LANGUAGE_CODE = "fr"
    for n in range(3):
        SideEffect.objects.create(
            kind="owner_deposit",
            recipient=OWNER,
            dedup_key=f"test:dead:{n}",
            status=SideEffect.Status.DEAD,
            next_attempt_at=timezone.now(),
        )
    sweeps_racing(threads)
    run_worker_once()
    [alert] = mail.outbox
    assert "3 tâches de fond abandonnées" in alert.body
    # Kept in English on the incident (/health/webhooks/ and the operators read English).
    assert Incident.objects.get().detail == "3 pieces of background work given up on"


def test_a_french_owner_reads_an_unbalanced_reconciliation_in_french(settings, threads):
    """Tried on a French shop: the alert quoted "EUR not balanced: money in 400.00 != held
    300.00 + refunded 0 + refunding 0" and "refund refused by stripe: …" in English."""
    settings.LANGUAGE_CODE = "fr"
    result = Reconciliation()
    result.books["EUR"] = Books(money_in=Decimal("400.00"), held=Decimal("300.00"))
    result.unaccounted.append(Unaccounted("paypal", "CAPTURE-9", Decimal("100.00"), "EUR"))
    reconciliation_record(result, source="worker", started_at=timezone.now())

    sweeps_racing(threads)
    run_worker_once()

    [alert] = mail.outbox
    assert (
        "EUR non équilibré\u00a0: encaissé 400.00 ≠ acomptes conservés 300.00 + remboursé 0 "
        "+ en cours de remboursement 0"
    ) in alert.body
    assert "ni conservé ni remboursé\u00a0: paypal CAPTURE-9 100.00 EUR" in alert.body
    assert "not balanced" not in alert.body
    assert "neither held nor refunded" not in alert.body
    # /health/webhooks/ and reconcile_payments stay English, for operators.
    assert Incident.objects.get().detail.startswith("EUR not balanced: money in 400.00")
