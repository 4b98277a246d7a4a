from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from bench.reference.models import Puppy


def bare(request: HttpRequest) -> JsonResponse:
    """The floor: Django's request/response cycle and nothing else."""
    return JsonResponse({"ok": True})


def plain_catalogue(request: HttpRequest) -> HttpResponse:
    """The typical Django shop's catalogue: one ORM query, one simple template, no cache."""
    puppies = Puppy.objects.filter(is_published=True).order_by("-born_on", "name")[:24]
    return render(request, "reference/catalogue.html", {"puppies": puppies})
