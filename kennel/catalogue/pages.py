"""The breeder's pages: about, the parents, FAQ, deposit terms, privacy notice, imprint."""

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from kennel.catalogue import content
from kennel.catalogue.cache import fragment_key
from kennel.catalogue.models import Page
from kennel.catalogue.views import shared_page, shared_visitor

NOT_WRITTEN = "The breeder has not written this page yet."


@require_safe
def page(request: HttpRequest, kind: str) -> HttpResponse:
    key = fragment_key("page", kind) if shared_visitor(request) else None
    return shared_page(request, key, "pages/page.html", lambda: _page_context(kind))


def _page_context(kind: str) -> dict[str, Any]:
    found = content.page_get(kind)
    if found is None:
        raise Http404(NOT_WRITTEN)
    return {"page": found, "body": content.markdown_render(found.body)}


@require_safe
def parents(request: HttpRequest) -> HttpResponse:
    key = fragment_key("parents") if shared_visitor(request) else None
    return shared_page(request, key, "pages/parents.html", _parents_context)


def _parents_context() -> dict[str, Any]:
    intro = content.page_get(Page.Kind.PARENTS)
    return {
        "page": intro,
        "body": content.markdown_render(intro.body) if intro else "",
        "parents": [
            {
                "dog": p.dog,
                "photos": p.photos,
                "litters": p.litters,
                "description": content.markdown_render(p.dog.description),
                "health_tests": content.markdown_render(p.dog.health_tests),
            }
            for p in content.parent_list()
        ],
    }
