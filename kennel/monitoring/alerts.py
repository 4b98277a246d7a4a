"""The owner's alerts: once when a health check starts failing, once when it passes again.

The worker's sweep evaluates the same checks as /health/webhooks/ (kennel/monitoring/checks.py).
A check that starts failing opens an `Incident` — at most one open per check, by a partial
unique index. Once it has failed for HEALTH_ALERT_AFTER_MINUTES, one conditional UPDATE marks
it alerted and its alert email is written to the outbox in the same transaction, with a dedup
key per incident (check + start time). A check that passes again closes the incident under
its row lock, and the recovery email goes with it (only if the owner heard of it). So however
many sweeps run, on however many workers, an incident makes one alert and one recovery.
"""

import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from kennel.core.models import SideEffect
from kennel.core.outbox import DeliveryRefused, outbox_enqueue, register
from kennel.monitoring.checks import Finding, findings_translated, health_evaluate
from kennel.monitoring.models import Incident, MonitoringWork
from kennel.notifications.emails import header_text, message_id, message_send

W = MonitoringWork
# What each check means, in the owner's words (their language: alert_message).
CHECK_TITLES = {
    "webhook_backlog": _("Payment notifications are not being processed"),
    "webhook_silence": _("No payment notifications are arriving"),
    "work_backlog": _("Refunds and emails are waiting to be sent"),
    "dead_work": _("Background work has been given up on"),
    "reconciliation": _("The payments do not reconcile"),
}
WHAT_TO_DO = {
    "webhook_backlog": _(
        "Check that the worker (python -m kennel worker) is running and can reach the "
        "payment provider; its log says why an event failed."
    ),
    "webhook_silence": _(
        "Check the webhook endpoint and its signing secret in the provider's dashboard; "
        "python -m kennel reconcile_payments settles paid checkouts meanwhile."
    ),
    "work_backlog": _(
        "Check that the worker (python -m kennel worker) is running and not stuck; its log "
        "says what it is doing."
    ),
    "dead_work": _("Open Background work in the back office, see its last error, and retry it."),
    "reconciliation": _(
        "Run python -m kennel reconcile_payments to see the details, and settle each line "
        "in the provider's dashboard or the back office."
    ),
}


def health_alerts_sweep(*, now: datetime | None = None) -> int:
    """The worker's sweep: open an incident for each check that started failing, alert the
    owner of each failing for HEALTH_ALERT_AFTER_MINUTES, close each that passes again (and
    say so, if the owner was told). Returns how many incidents were opened, alerted or closed."""
    now = now or timezone.now()
    health = health_evaluate(now=now)
    changed = 0
    open_checks = set(
        Incident.objects.filter(ended_at__isnull=True).values_list("check_name", flat=True)
    )
    for check, detail in health.problems.items():
        if check not in open_checks:
            findings = health.findings.get(check, [])
            changed += _incident_open(check, detail=detail, findings=findings, now=now)
    grace = timedelta(minutes=settings.HEALTH_ALERT_AFTER_MINUTES)
    for check in health.problems:
        changed += _incident_alert(check, due=now - grace, now=now)
    for check in open_checks - set(health.problems):
        changed += _incident_close(check, now=now)
    return changed


def _incident_open(check: str, *, detail: str, findings: list[Finding], now: datetime) -> int:
    try:
        with transaction.atomic():
            Incident.objects.create(
                check_name=check,
                started_at=now,
                detail=detail,
                findings=[finding.as_data() for finding in findings],
            )
    except IntegrityError:
        return 0  # another worker opened it first
    return 1


def _incident_alert(check: str, *, due: datetime, now: datetime) -> int:
    """Alert once: the conditional UPDATE lets one worker through, and the email is written
    in its transaction."""
    with transaction.atomic():
        incident = Incident.objects.filter(
            check_name=check, ended_at__isnull=True, alerted_at__isnull=True, started_at__lte=due
        )
        pk = incident.values_list("pk", flat=True).first()
        if pk is None or not incident.filter(pk=pk).update(alerted_at=now):
            return 0
        _enqueue(W.OWNER_ALERT, Incident.objects.get(pk=pk))
    return 1


def _incident_close(check: str, *, now: datetime) -> int:
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update().filter(check_name=check, ended_at__isnull=True)
        ).first()
        if incident is None:
            return 0  # another worker closed it first
        incident.ended_at = now
        incident.save(update_fields=["ended_at"])
        if incident.alerted_at is not None:
            _enqueue(W.OWNER_ALERT_RECOVERED, incident)
    return 1


def _enqueue(kind: str, incident: Incident) -> None:
    outbox_enqueue(
        kinds=[kind],
        key=f"incident:{incident.check_name}:{incident.started_at.isoformat()}",
        data={
            "check": incident.check_name,
            "started_at": incident.started_at.isoformat(),
            "ended_at": incident.ended_at.isoformat() if incident.ended_at else "",
            "detail": incident.detail,
            "findings": incident.findings,
        },
    )


SUBJECTS = {
    W.OWNER_ALERT: _("Attention needed: {title}"),
    W.OWNER_ALERT_RECOVERED: _("Resolved: {title}"),
}


def alert_message(*, side_effect: SideEffect) -> EmailMultiAlternatives:
    """The alert (or recovery) email a side effect stands for: text with an HTML alternative,
    in the shop's own language (LANGUAGE_CODE), as the owner's other emails are."""
    with translation.override(settings.LANGUAGE_CODE):
        return _alert_message(side_effect)


def _alert_message(side_effect: SideEffect) -> EmailMultiAlternatives:
    kind = W(side_effect.kind)
    data = side_effect.data
    check = str(data.get("check", ""))
    title = str(CHECK_TITLES.get(check, check))
    headline = str(SUBJECTS[kind]).format(title=title)
    subject = header_text(headline)
    site = settings.SITE_URL.rstrip("/")
    context: dict[str, Any] = {
        "subject": subject,
        "headline": headline,
        "title": title,
        "check": check,
        # Written now, in the shop's language; an alert written before findings were kept
        # has its English detail only.
        "detail": findings_translated(data["findings"])
        if data.get("findings")
        else data.get("detail", ""),
        "started_at": _when(data.get("started_at")),
        "ended_at": _when(data.get("ended_at")),
        "what_to_do": str(WHAT_TO_DO.get(check, "")),
        "health_url": f"{site}/health/webhooks/",
        "admin_url": f"{site}/admin/",
        "shop_name": settings.SHOP_NAME,
        "breeder_name": settings.BREEDER_NAME,
        "breeder_email": settings.BREEDER_EMAIL,
        "breeder_phone": settings.BREEDER_PHONE,
    }
    text = render_to_string(f"emails/{kind.value}.txt", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[side_effect.recipient],
        headers={"Message-ID": message_id(side_effect), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string(f"emails/{kind.value}.html", context), "text/html")
    return message


def alert_send(effect: SideEffect) -> None:
    if effect.kind not in W.values:
        raise DeliveryRefused(f"not an alert: {effect.kind}")
    message_send(alert_message(side_effect=effect))


def owner_alert_address(subject: Any) -> str | None:
    """The owner's address; None (alerts off) without OWNER_EMAIL."""
    return settings.OWNER_EMAIL.strip() or None


def register_handlers() -> None:
    for kind in W:
        register(kind, label=kind.label, run=alert_send, recipient=owner_alert_address)


def _when(value: Any) -> str:
    if not value:
        return ""
    moment = timezone.localtime(datetime.fromisoformat(str(value)))
    return f"{moment:%Y-%m-%d %H:%M %Z}"
