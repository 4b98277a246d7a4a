"""The worker's hourly reconciliation, and the record of every reconciliation's result.

`reconciliation_sweep` claims the period with one conditional UPDATE on a `Schedule` row, so
of several workers side by side only one runs `payments_reconcile()` per period;
`reconciliation_record` keeps what it found (the `reconcile_payments` command records its
runs too), for /health/webhooks/ and the owner's alerts.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from kennel.core.db import is_database_unavailable
from kennel.monitoring.checks import Finding
from kennel.monitoring.models import ReconciliationRun, Schedule
from kennel.payments.reconcile import Reconciliation, payments_reconcile

log = logging.getLogger(__name__)
RECONCILE = "reconcile_payments"


def reconciliation_findings(result: Reconciliation) -> list[Finding]:
    """What needs attention in a result, one short line each (no provider error text), as
    messages and values: the owner's alert and the back office write them in the reader's
    language, /health/webhooks/ in English."""
    found = [Finding("reconcile_stopped", {"error": result.stopped})] if result.stopped else []
    found += [
        Finding("reconcile_busy", {"reservation": u.reservation})
        if u.busy
        # The provider's words as they came: its text is not ours to translate.
        else Finding("reconcile_provider_error", {"reservation": u.reservation, "error": u.error})
        for u in result.unreachable
    ]
    found += [
        Finding(
            "reconcile_unbalanced",
            {
                "currency": currency,
                "money_in": str(b.money_in),
                "held": str(b.held),
                "refunded": str(b.refunded),
                "refunding": str(b.refunding),
            },
        )
        for currency, b in sorted(result.books.items())
        if not b.balanced
    ]
    found += [
        Finding(
            "reconcile_refund_refused",
            {
                "provider": r.provider,
                "amount": str(r.amount),
                "currency": r.currency,
                "payment": r.external_payment_id,
            },
        )
        for r in result.failed_refunds
    ]
    found += [
        Finding(
            "reconcile_over_refunded" if u.over else "reconcile_not_held",
            {
                "provider": u.provider,
                "payment": u.payment,
                "amount": str(u.amount),
                "currency": u.currency,
            },
        )
        for u in result.unaccounted
    ]
    return found


def reconciliation_record(
    result: Reconciliation, *, source: str, started_at: datetime
) -> ReconciliationRun:
    """Keep a reconciliation's result; the latest is the one health reads."""
    now = timezone.now()
    findings = reconciliation_findings(result)
    with transaction.atomic():
        run = ReconciliationRun.objects.create(
            source=source,
            started_at=started_at,
            finished_at=now,
            balanced=all(b.balanced for b in result.books.values()),
            needs_attention=result.needs_attention,
            checked=result.checked,
            lines=[finding.english() for finding in findings],
            findings=[finding.as_data() for finding in findings],
        )
        # A run by hand counts as this period's: the worker waits a period from it.
        _schedule_row(clock_from=started_at)
        earlier = Q(last_started_at__isnull=True) | Q(last_started_at__lt=started_at)
        Schedule.objects.filter(earlier, name=RECONCILE).update(last_started_at=started_at)
    return run


def reconciliation_sweep(*, now: datetime | None = None) -> int:
    """The worker's sweep: reconcile when the last run started more than
    RECONCILE_EVERY_MINUTES ago (0: never; the first, a period after the first worker
    started). Returns 1 when this worker ran it, 0 otherwise."""
    every = settings.RECONCILE_EVERY_MINUTES
    if every <= 0:
        return 0
    now = now or timezone.now()
    _schedule_row(clock_from=now)
    due = Q(last_started_at__isnull=True) | Q(last_started_at__lte=now - timedelta(minutes=every))
    if not Schedule.objects.filter(due, name=RECONCILE).update(last_started_at=now):
        return 0  # not due, or another worker claimed it first
    try:
        result = payments_reconcile()
    except Exception as exc:
        if is_database_unavailable(exc):
            raise  # nothing can be recorded; the sweep's caller waits for the database
        log.exception("the hourly reconciliation failed")
        result = Reconciliation(stopped=type(exc).__name__)
    run = reconciliation_record(result, source=ReconciliationRun.Source.WORKER, started_at=now)
    if run.needs_attention:
        log.warning("reconciliation needs attention: %s", "; ".join(run.lines))
    return 1


def _schedule_row(*, clock_from: datetime) -> None:
    """The first worker ever starts the clock: the first run is a period later (a shop
    being set up, or a test, is not reconciled the moment a worker starts)."""
    if Schedule.objects.filter(name=RECONCILE).exists():
        return
    try:
        with transaction.atomic():
            Schedule.objects.create(name=RECONCILE, last_started_at=clock_from)
    except IntegrityError:
        pass  # another worker created it meanwhile
