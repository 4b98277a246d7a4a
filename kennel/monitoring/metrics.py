"""GET /metrics: Prometheus text format, for every process at once.

The counters (kennel/core/metrics.py) come from the files each process writes in
PROMETHEUS_MULTIPROC_DIR, summed; the gauges are read from the database now
(kennel/monitoring/collector.py). When METRICS_TOKEN is set the scraper must present it.
"""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from kennel.monitoring.collector import DatabaseCollector


@require_safe
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Every kennel_ metric; 401 without the token (when one is set), 403 with a wrong one."""
    refused = _refused(request)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # reads PROMETHEUS_MULTIPROC_DIR (settings.py sets it)
    registry.register(DatabaseCollector())
    # The classic text format (0.0.4), or what the scraper's Accept asks for (OpenMetrics).
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encode(registry), content_type=content_type)


def _refused(request: HttpRequest) -> HttpResponse | None:
    token = settings.METRICS_TOKEN
    if not token:
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given:
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return HttpResponse("Wrong token.\n", status=403)
    return None
