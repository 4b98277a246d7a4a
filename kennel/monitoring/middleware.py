"""Request latency for /metrics: one histogram observation per request, no query."""

import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from kennel.core.metrics import REQUEST_SECONDS

_REDIRECTS = frozenset({301, 302, 307, 308})
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
        route = route_name(request, response)
        REQUEST_SECONDS.labels(route, method, str(response.status_code)).observe(
            time.perf_counter() - started
        )
        return response


def route_name(request: HttpRequest, response: HttpResponse) -> str:
    """`catalogue:puppy` for a named pattern (a view's dotted path for an unnamed one);
    `static` for WhiteNoise's files; for APPEND_SLASH's redirect of a path without its
    slash, the route it leads to (its status, 301, tells them apart); `unmatched` for what
    no pattern took (404s)."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path_info.startswith(settings.STATIC_URL):
        return "static"
    if response.status_code in _REDIRECTS and not request.path_info.endswith("/"):
        # Only redirects no view answered (CommonMiddleware's): one resolve, no query.
        try:
            return resolve(request.path_info + "/").view_name
        except Resolver404:
            pass
    return "unmatched"
