"""The JSON API: parse, call one service, serialise. Errors always carry a stable code."""

import functools
import json
from collections.abc import Callable
from typing import Any

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError

from kennel.api.guards import refuse_unreadable_write
from kennel.api.litters import router as litters_router
from kennel.api.middleware import CODES
from kennel.api.puppies import router as puppies_router
from kennel.api.reservations import router as reservations_router
from kennel.api.waitlist import router as waitlist_router
from kennel.core.db import is_database_unavailable
from kennel.core.errors import ApplicationError
from kennel.core.middleware import database_unavailable_response
from kennel.reservations.buyers import name_problem, phone_problem

PATTERN_MESSAGE = "This is not in the expected format (see the API's schema)."
# The buyer's fields the schema refuses are explained as the reserve form explains them (tried:
# "String should have at least 6 characters" for the phone "12", whose rule is 6 digits).
BUYER_FIELD_PROBLEMS = {"name": name_problem, "phone": phone_problem}

api = NinjaAPI(
    title="Kennel API",
    version="1",
    description=(
        "Puppies, deposit reservations and litters' waiting lists. "
        "Errors: {'error': {'code', 'message'}}."
    ),
    urls_namespace="api",
)
api.add_router("/puppies/", puppies_router)
api.add_router("/reservations/", reservations_router)
api.add_router("/litters/", litters_router)
api.add_router("/waitlist/", waitlist_router)


def writes_checked_first(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Each operation, wrapped before django-ninja reads its parameters: a write that is not
    JSON, comes from another site or is too large is answered in the error contract at once,
    and its body is never parsed (api/guards.py)."""

    @functools.wraps(run)
    def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST":
            try:
                refuse_unreadable_write(request)
            except ApplicationError as exc:
                return application_error(request, exc)
        return run(request, *args, **kwargs)

    return checked


api.add_decorator(writes_checked_first, mode="view")


@api.exception_handler(ApplicationError)
def application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    response = api.create_response(request, exc.as_dict(), status=exc.status)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(DatabaseError)
def database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    """A lost database is a 503 with Retry-After (as on every page), in DEBUG too."""
    if is_database_unavailable(exc):
        return database_unavailable_response(request)
    raise exc


def _posted(request: HttpRequest) -> dict[str, Any]:
    """The JSON object posted, when it is one (django-ninja's errors drop the input)."""
    try:
        body = json.loads(request.body) if request.method == "POST" else None
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "payload")]
        # A pattern's message would quote the pattern (control characters and all).
        message = PATTERN_MESSAGE if error.get("type") == "string_pattern_mismatch" else None
        problem = BUYER_FIELD_PROBLEMS.get(".".join(loc))
        value = _posted(request).get(".".join(loc))
        if problem is not None and isinstance(value, str):
            message = problem(value.strip()) or message
        fields.setdefault(".".join(loc) or "body", []).append(
            message or str(error.get("msg", "invalid"))
        )
    body = {
        "error": {
            "code": "VALIDATION_ERROR",
            "message": "Some fields are missing or invalid.",
            "details": {"fields": fields},
        }
    }
    return api.create_response(request, body, status=422)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(
        exc.status_code, "HTTP_ERROR"
    )
    body = {"error": {"code": code, "message": str(exc)}}
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    code, message = CODES[404]  # as for an address the API does not have (api/middleware.py)
    return api.create_response(request, {"error": {"code": code, "message": message}}, status=404)
