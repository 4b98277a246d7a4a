"""The health of payments and background work: one evaluation, read by /health/webhooks/ and
by the worker's alert sweep (kennel/monitoring/alerts.py), so both always agree.

Checks (each names itself in `failing` when it fails):

- `webhook_backlog`: a webhook event still unprocessed (pending, processing or failed)
  HEALTH_WEBHOOK_BACKLOG_MINUTES after it arrived.
- `webhook_silence`: a provider has sent no event for HEALTH_SILENCE_HOURS while one of its
  holds (a checkout started, not settled) has been waiting at least as long: its webhooks
  may not be reaching the shop.
- `work_backlog`: background work due HEALTH_WEBHOOK_BACKLOG_MINUTES ago and not done (a
  refund, an email…): the worker is stopped, stuck or far behind. The worker sends the alerts,
  so a stopped worker is seen here, by whatever watches this page.
- `dead_work`: background work (an email, a refund, a webhook's processing) was given up on.
- `reconciliation`: the last reconciliation found something that needs attention.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Sum
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy, ngettext_lazy

from kennel.core.models import SideEffect
from kennel.monitoring.models import ReconciliationRun
from kennel.payments.models import WebhookEvent, WebhookRejectionMinute
from kennel.reservations.models import Reservation

PROVIDERS = tuple(Reservation.Provider.values)
UNPROCESSED = (
    WebhookEvent.Status.PENDING,
    WebhookEvent.Status.PROCESSING,
    WebhookEvent.Status.FAILED,
)
WAITING = (Reservation.Status.PENDING, Reservation.Status.PROCESSING)
CHECKS = ("webhook_backlog", "webhook_silence", "work_backlog", "dead_work", "reconciliation")


# What a check finds, as the owner's alert says it (in the shop's language) and
# /health/webhooks/ (in English, for operators). Counted ones by their "count".
FINDINGS = {
    "event_unprocessed": gettext_lazy("%(provider)s: an event unprocessed for %(seconds)s s"),
    "provider_silent": gettext_lazy("%(provider)s: no event for %(hours)s h while a hold waits"),
    "work_overdue": gettext_lazy(
        "background work due %(seconds)s s ago is not done: is the worker running?"
    ),
    "work_dead": ngettext_lazy(
        "%(count)s piece of background work given up on",
        "%(count)s pieces of background work given up on",
        "count",
    ),
    "reconciliation": gettext_lazy("needs attention"),
    # A reconciliation's own lines (kennel/monitoring/reconciliation.py): ids and amounts as
    # reconcile_payments prints them, in the reader's words around them; a provider's error
    # in its own words.
    "reconcile_stopped": gettext_lazy("the reconciliation stopped: %(error)s"),
    "reconcile_provider_error": gettext_lazy(
        "could not ask the provider about reservation %(reservation)s: %(error)s"
    ),
    "reconcile_busy": gettext_lazy(
        "reservation %(reservation)s: it was busy, the next reconciliation asks again"
    ),
    "reconcile_unbalanced": gettext_lazy(
        "%(currency)s not balanced: money in %(money_in)s != held %(held)s + refunded "
        "%(refunded)s + refunding %(refunding)s"
    ),
    "reconcile_refund_refused": gettext_lazy(
        "refund refused by %(provider)s: %(amount)s %(currency)s for payment %(payment)s"
    ),
    "reconcile_not_held": gettext_lazy(
        "neither held nor refunded: %(provider)s %(payment)s %(amount)s %(currency)s"
    ),
    "reconcile_over_refunded": gettext_lazy(
        "refunded too much: %(provider)s %(payment)s, %(amount)s %(currency)s more than the payment"
    ),
    # Runs recorded before their lines were split into values: the line as it was written.
    "reconcile_unreachable": gettext_lazy("could not ask the provider: %(line)s"),
    "reconcile_unaccounted": gettext_lazy("neither held nor refunded: %(line)s"),
}


@dataclass(frozen=True)
class Finding:
    """One thing a check found: a message of FINDINGS and its values, kept as data (on the
    incident, in the alert's outbox row) so it is written in the reader's language when shown.
    `text` is the finding itself, for what has no message (a reconciliation recorded before
    its lines were kept as findings)."""

    key: str
    params: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    def translated(self) -> str:
        """In the active language."""
        message = FINDINGS.get(self.key)
        if message is None:
            return self.text
        return str(message % self.params)

    def english(self) -> str:
        with translation.override(None):
            return self.translated()

    def as_data(self) -> dict[str, Any]:
        # With its English words: what is shown should a later version drop its message.
        return {"key": self.key, "params": self.params, "text": self.text or self.english()}

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "Finding":
        return cls(
            str(data.get("key", "")), dict(data.get("params") or {}), str(data.get("text", ""))
        )


def findings_translated(findings: list[dict[str, Any]]) -> str:
    """Stored findings (Finding.as_data) as one line, in the active language."""
    return "; ".join(Finding.from_data(f).translated() for f in findings)


@dataclass
class Health:
    """The checks' verdicts (`problems`: check → what is wrong, in English; `findings`:
    check → the same as messages to translate) and the figures behind them."""

    problems: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)

    def found(self, check: str, findings: list[Finding]) -> None:
        if findings:
            self.findings[check] = findings
            self.problems[check] = "; ".join(f.english() for f in findings)

    @property
    def failing(self) -> list[str]:
        return [name for name in CHECKS if name in self.problems]

    @property
    def ok(self) -> bool:
        return not self.problems


def health_evaluate(*, now: datetime | None = None) -> Health:
    """Evaluate every check, with a handful of aggregate queries (cheap enough for a probe)."""
    now = now or timezone.now()
    health = Health()
    providers = _providers(now)
    health.report["providers"] = providers
    health.report["background_work"] = _background_work()
    health.report["reconciliation"] = _reconciliation()

    backlog = timedelta(minutes=settings.HEALTH_WEBHOOK_BACKLOG_MINUTES)
    late = [
        Finding(
            "event_unprocessed",
            {"provider": name, "seconds": p["oldest_unprocessed_seconds"]},
        )
        for name, p in providers.items()
        if p["oldest_unprocessed_seconds"] is not None
        and p["oldest_unprocessed_seconds"] >= backlog.total_seconds()
    ]
    health.found("webhook_backlog", late)

    silence = settings.HEALTH_SILENCE_HOURS
    if silence > 0:
        quiet = [
            Finding("provider_silent", {"provider": name, "hours": f"{silence:g}"})
            for name, p in providers.items()
            if p["_silent_since"] is not None
            and p["_silent_since"] <= now - timedelta(hours=silence)
        ]
        health.found("webhook_silence", quiet)
    for p in providers.values():
        del p["_silent_since"]

    work = health.report["background_work"]
    overdue = work.pop("_oldest_due")
    work["oldest_due_seconds"] = int((now - overdue).total_seconds()) if overdue else None
    if overdue is not None and overdue <= now - backlog:
        seconds = work["oldest_due_seconds"]
        health.found("work_backlog", [Finding("work_overdue", {"seconds": seconds})])

    dead = health.report["background_work"]["dead"]
    if dead:
        health.found("dead_work", [Finding("work_dead", {"count": dead})])

    last = health.report["reconciliation"]
    findings = last.pop("_findings")
    if last["needs_attention"]:
        # Its lines as findings, so that the alert writes them in the shop's language; a run
        # recorded before they were kept has its English lines only.
        lines = [Finding.from_data(f) for f in findings] or [
            Finding("", text=line) for line in last["lines"]
        ]
        health.found("reconciliation", lines or [Finding("reconciliation")])
    return health


def _providers(now: datetime) -> dict[str, dict[str, Any]]:
    providers: dict[str, dict[str, Any]] = {
        name: {
            "last_event_at": None,
            "events": dict.fromkeys(WebhookEvent.Status.values, 0),
            "oldest_unprocessed_seconds": None,
            "rejected_last_hour": {},
            "holds_waiting": 0,
        }
        for name in PROVIDERS
    }
    events = WebhookEvent.objects.values("provider", "status").annotate(
        n=Count("id"), last=Max("received_at"), oldest=Min("received_at")
    )
    for row in events:
        p = providers.get(row["provider"])
        if p is None:
            continue
        p["events"][row["status"]] = row["n"]
        if p["last_event_at"] is None or row["last"] > p["last_event_at"]:
            p["last_event_at"] = row["last"]
        if row["status"] in UNPROCESSED:
            age = int((now - row["oldest"]).total_seconds())
            if p["oldest_unprocessed_seconds"] is None or age > p["oldest_unprocessed_seconds"]:
                p["oldest_unprocessed_seconds"] = age
    rejected = (
        WebhookRejectionMinute.objects.filter(minute__gt=now - timedelta(hours=1))
        .values("provider", "reason")
        .annotate(n=Sum("count"))
        .order_by("provider", "reason")
    )
    for refused in rejected:
        if refused["provider"] in providers:
            providers[refused["provider"]]["rejected_last_hour"][refused["reason"]] = refused["n"]
    holds = (
        Reservation.objects.filter(status__in=WAITING, provider_reference__isnull=False)
        .values("provider")
        .annotate(n=Count("id"), oldest=Min("created_at"))
    )
    waiting_since = {row["provider"]: row for row in holds}
    for name, p in providers.items():
        hold = waiting_since.get(name)
        p["holds_waiting"] = hold["n"] if hold else 0
        # Silent since the later of its last event and its oldest waiting hold.
        p["_silent_since"] = (
            max(filter(None, [p["last_event_at"], hold["oldest"]])) if hold else None
        )
        if p["last_event_at"] is not None:
            p["last_event_at"] = p["last_event_at"].isoformat()
    return providers


def _background_work() -> dict[str, Any]:
    St = SideEffect.Status
    return SideEffect.objects.exclude(status=St.SENT).aggregate(
        queued=Count("id", filter=Q(status=St.PENDING, attempts=0)),
        failing=Count("id", filter=Q(status=St.PENDING, attempts__gt=0)),
        running=Count("id", filter=Q(status=St.SENDING)),
        dead=Count("id", filter=Q(status=St.DEAD)),
        # When the longest-waiting work was due (sending work counts from its claim).
        _oldest_due=Min("next_attempt_at", filter=Q(status__in=[St.PENDING, St.SENDING])),
    )


def _reconciliation() -> dict[str, Any]:
    last = ReconciliationRun.objects.order_by("-finished_at", "-id").first()
    if last is None:
        return {
            "at": None,
            "source": None,
            "balanced": None,
            "needs_attention": False,
            "lines": [],
            "_findings": [],
        }
    return {
        "at": last.finished_at.isoformat(),
        "source": last.source,
        "balanced": last.balanced,
        "needs_attention": last.needs_attention,
        "lines": last.lines,
        "_findings": last.findings,
    }
