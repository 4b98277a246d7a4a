from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from kennel.monitoring.integrations import integrations_status


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Process and database (200 when both answer, 503 otherwise), and which integrations
    (emails, GA4, Meta) are on."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = "ok"
    except Exception:
        database = "unavailable"
    ok = database == "ok"
    # Public page: say what is off and why, but not where the enabled ones point.
    integrations = {
        name: {"enabled": True} if state["enabled"] else state
        for name, state in integrations_status().items()
    }
    return JsonResponse(
        {"status": "ok" if ok else "degraded", "database": database, "integrations": integrations},
        status=200 if ok else 503,
    )
