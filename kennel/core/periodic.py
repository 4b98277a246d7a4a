"""The periodic sweeps the worker runs every minute. Each is safe to run anywhere, any time."""

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _sweeps() -> list[tuple[str, Callable[[], int]]]:
    from kennel.payments.tasks import refunds_retry_due
    from kennel.payments.webhooks import webhooks_retry_due
    from kennel.reservations.services import reservations_expire_due

    return [
        ("expired holds", lambda: reservations_expire_due()),
        ("webhook events retried", webhooks_retry_due),
        ("refunds retried", refunds_retry_due),
    ]


def run_sweeps() -> dict[str, int]:
    """Run every sweep; one failing does not stop the others."""
    results: dict[str, int] = {}
    for name, sweep in _sweeps():
        try:
            results[name] = sweep()
            if results[name]:
                log.info("sweep: %s: %d", name, results[name])
        except Exception:
            log.exception("sweep %s failed", name)
    return results
