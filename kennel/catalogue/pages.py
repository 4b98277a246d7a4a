"""The breeder's pages: about, the parents, FAQ, deposit terms, privacy notice, imprint."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from kennel.catalogue import content
from kennel.catalogue.models import Page

NOT_WRITTEN = "The breeder has not written this page yet."


@require_safe
def page(request: HttpRequest, kind: str) -> HttpResponse:
    found = content.page_get(kind)
    if found is None:
        raise Http404(NOT_WRITTEN)
    context = {"page": found, "body": content.markdown_render(found.body)}
    return render(request, "pages/page.html", context)


@require_safe
def parents(request: HttpRequest) -> HttpResponse:
    intro = content.page_get(Page.Kind.PARENTS)
    context = {
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
    return render(request, "pages/parents.html", context)
