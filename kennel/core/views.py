"""What every app's views share."""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods


def posted_or_back(
    page: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """For a form's address (POST): a GET or HEAD of it — the language switched under a form
    with errors or a refusal shown there, a reload, a pasted link — is a 303 to `page` (a
    URL name taking the same arguments: the puppy's page, the token's page…), never a blank
    405, and changes nothing."""

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @require_http_methods(["GET", "HEAD", "POST"])
        def posted(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method != "POST":
                return HttpResponseRedirect(reverse(page, kwargs=kwargs), status=303)
            return view(request, **kwargs)

        return posted

    return wrap


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form refused for its missing or stale token (cookies blocked or
    cleared, a page left open for days) is the shop's own page saying what to do, not
    Django's bare 403; nothing was written."""
    return render(request, "403_csrf.html", status=403)
