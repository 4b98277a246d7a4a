from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.core.db import is_database_unavailable
from kennel.core.middleware import database_unavailable_response
from kennel.monitoring.checks import health_evaluate
from kennel.monitoring.integrations import integrations_status


def probe(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A health page's 503 is its answer (something needs attention), not a failure of the
    request: Django's request logger would log it as an ERROR ("Service Unavailable") at
    every poll of every probe, and the shop's real errors would drown among those lines. It
    is left out of the log; /metrics still counts it (route, status), and the owner's alerts
    and the page itself say what is wrong. A database out of reach is answered here too
    (the same 503 as everywhere else), for it is what the probe asks about."""

    @wraps(view)
    def answer(request: HttpRequest) -> HttpResponse:
        try:
            response = view(request)
        except Exception as exc:
            if not is_database_unavailable(exc):
                raise
            response = database_unavailable_response(request)
        if response.status_code == 503:
            # django.utils.log.log_response skips a response marked so.
            response._has_been_logged = True  # type: ignore[attr-defined]
        return response

    return answer


@require_safe
@never_cache
@probe
def health(request: HttpRequest) -> HttpResponse:
    """Process and database (200 when both answer and every migration of this code is
    applied, 503 otherwise), and which integrations (emails, GA4, Meta) are on. The cheap
    liveness probe: one statement once the database was found migrated."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception:
        database = "unavailable"
    if database == "ok" and not database_migrated():
        database = "not migrated"  # every page would fail: run `python -m kennel migrate`
    ok = database == "ok"
    response = JsonResponse(
        {"status": "ok" if ok else "degraded", "database": database, "integrations": _public()},
        status=200 if ok else 503,
    )
    if database == "unavailable":
        response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    return response


_migrated = False


def database_migrated() -> bool:
    """Whether every migration this code ships is applied (once true, it stays true for the
    process: migrations are not taken back under a running shop)."""
    global _migrated
    if not _migrated:
        try:
            executor = MigrationExecutor(connection)
            _migrated = not executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError:
            return False  # no migrations table yet
    return _migrated


@require_safe
@never_cache
@probe
def health_webhooks(request: HttpRequest) -> HttpResponse:
    """Payments and background work (kennel/monitoring/checks.py): 200 when every check
    passes, 503 naming each failing one — the same verdict the owner's alerts follow."""
    health = health_evaluate()
    problems, report = health.problems, health.report
    if not (request.user.is_authenticated and request.user.is_staff):
        # Public: the reconciliation's findings name payments and amounts (the shop's
        # takings); anyone else sees how many, the back office (or a staff login) which.
        reconciliation = dict(report["reconciliation"])
        lines = reconciliation.pop("lines")
        reconciliation["findings"] = len(lines)
        report = {**report, "reconciliation": reconciliation}
        if "reconciliation" in problems:
            problems = {
                **problems,
                "reconciliation": f"needs attention: {len(lines)} finding(s), named in the "
                "back office (reconcile_payments)",
            }
    body = {
        "status": "ok" if health.ok else "attention",
        "failing": health.failing,
        "problems": problems,
        **report,
        "integrations": _public(),
    }
    return JsonResponse(body, status=200 if health.ok else 503)


def _public() -> dict[str, Any]:
    # Public pages: say what is off and why, but not where the enabled ones point.
    return {
        name: {"enabled": True} if state["enabled"] else state
        for name, state in integrations_status().items()
    }
