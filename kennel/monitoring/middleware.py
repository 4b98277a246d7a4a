"""Request latency for /metrics: one histogram observation per request, no query."""

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from kennel.core.metrics import REQUEST_SECONDS

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestMetricsMiddleware:
    """Times each request and counts it by route (the URL pattern's name, never the raw path,
    so the label values stay few), method and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        method = request.method if request.method in _METHODS else "other"
        response = self.get_response(request)
        REQUEST_SECONDS.labels(route_name(request), method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


def route_name(request: HttpRequest) -> str:
    """`catalogue:puppy` for a named pattern (a view's dotted path for an unnamed one);
    `static` for WhiteNoise's files, `unmatched` for what no pattern took (404s, redirects)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path_info.startswith(settings.STATIC_URL):
        return "static"
    return "unmatched"
