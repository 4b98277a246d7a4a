"""A request that meets an unreachable database answers 503 with Retry-After, never 500.

Views' exceptions arrive through `process_exception`; anything raised before the view (the
session or the user, loaded from the database) reaches `handler500` (kennel/urls.py), which
answers the same way. Nothing is half-written: every change runs in a transaction that the
failure rolled back. The broken connection is closed, so the next request opens a new one.
"""

import sys
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from kennel.core.context_processors import shop
from kennel.core.db import close_broken_connection, is_database_unavailable
from kennel.core.errors import DATABASE_UNAVAILABLE_MESSAGE

CODE = "DATABASE_UNAVAILABLE"
JSON_PREFIXES = ("/api/", "/webhooks/", "/health/")


def database_unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 + Retry-After: JSON for the API, webhooks and health; a short page for people."""
    close_broken_connection()
    response: HttpResponse
    if request.path.startswith(JSON_PREFIXES):
        body = {"error": {"code": CODE, "message": DATABASE_UNAVAILABLE_MESSAGE}}
        response = JsonResponse(body, status=503)
    else:
        context = {**shop(request), "code": CODE, "message": DATABASE_UNAVAILABLE_MESSAGE}
        response = HttpResponse(render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(settings.DATABASE_RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return database_unavailable_response(request)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database raised before any view (session, user) is a 503 too."""
    exception = sys.exc_info()[1]
    if exception is not None and is_database_unavailable(exception):
        return database_unavailable_response(request)
    return HttpResponse(render_to_string("500.html", shop(request)), status=500)
