"""The public catalogue: the list and the puppy page (its reserve form posts to payments)."""

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.catalogue import selectors
from kennel.catalogue.forms import CatalogueFilterForm
from kennel.catalogue.models import Puppy
from kennel.core.errors import ApplicationError, PuppyNotFound
from kennel.payments.forms import ANALYTICS_CONSENT_LABEL, ReserveForm
from kennel.payments.registry import available_providers
from kennel.reservations.views import browser_hold, continue_url, resumable_reservation

# What a buyer reads instead of the form when a puppy cannot be reserved.
UNAVAILABLE_TEXT = {
    Puppy.Status.HELD: (
        "{name} is on hold: another family is paying the deposit right now. If their payment "
        "does not go through, {name} will be offered here again."
    ),
    Puppy.Status.RESERVED: "{name} is reserved: a family has paid the deposit.",
    Puppy.Status.SOLD: "{name} is sold and has found a home.",
}

# The page a reserve form that lost the race lands on (POST -> 303 -> GET ?taken=1): what
# happened, in words that fit the puppy's status now, and the other puppies to choose from.
TAKEN_HEADLINE = "{name} has just been reserved by another family"
TAKEN_TEXT = {
    Puppy.Status.HELD: (
        "Another family started reserving {name} a moment before you and is paying the "
        "deposit now. Nothing was charged to you. If their payment does not go through, "
        "{name} will be offered here again."
    ),
    Puppy.Status.RESERVED: "Another family has paid the deposit. Nothing was charged to you.",
    Puppy.Status.SOLD: "{name} has found a home. Nothing was charged to you.",
}
TAKEN_PARAM = "taken"
OTHER_PUPPIES_SHOWN = 6


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    filters = CatalogueFilterForm(request.GET).filters()
    puppies = list(selectors.puppy_list(**filters))
    context = {
        "puppies": puppies,
        "breeds": selectors.breed_list(),
        "sexes": Puppy.Sex.choices,
        "filters": filters,
        "is_filtered": any(filters.values()),
        "filter_count": sum(1 for value in filters.values() if value),
    }
    return render(request, "catalogue/index.html", context)


# Never from the browser's cache: pressing Back from the payment page must show the puppy as
# it is now (held, and by this browser: *Continue to payment*), not the form as it was.
@never_cache
@require_safe
def puppy_detail(request: HttpRequest, slug: str) -> HttpResponse:
    puppy = selectors.puppy_by_slug(slug)
    if puppy is None:
        raise Http404(PuppyNotFound().message)
    taken = request.GET.get(TAKEN_PARAM) and not puppy.is_available
    if taken and resumable_reservation(request, puppy) is None:
        return taken_page(request, puppy)
    providers = available_providers()
    form = ReserveForm(initial={"provider": providers[0]}, providers=providers)
    return puppy_page(request, puppy, form)


def puppy_page(
    request: HttpRequest,
    puppy: Puppy,
    form: ReserveForm,
    *,
    error: ApplicationError | None = None,
) -> HttpResponse:
    unavailable = UNAVAILABLE_TEXT.get(Puppy.Status(puppy.status), "")
    # This browser's own hold on the puppy: continue to its payment or cancel it.
    resume = resumable_reservation(request, puppy) if puppy.status == Puppy.Status.HELD else None
    # Refused for holding a puppy already: point this browser to its own hold.
    own_hold = browser_hold(request) if error and error.code == "HOLD_LIMIT_REACHED" else None
    context: dict[str, Any] = {
        "own_hold": own_hold,
        "resume": resume,
        "resume_continue_url": continue_url(resume) if resume else "",
        "puppy": puppy,
        "photos": list(puppy.photos.all()),
        "form": form,
        "error": error,
        "providers": form.fields["provider"].choices,  # type: ignore[attr-defined]
        "unavailable_text": unavailable.format(name=puppy.name),
        "hold_minutes": settings.HOLD_MINUTES,
        "analytics_consent_label": ANALYTICS_CONSENT_LABEL,
    }
    status = error.status if error else 200
    return render(request, "catalogue/puppy.html", context, status=status)


def taken_page(request: HttpRequest, puppy: Puppy) -> HttpResponse:
    """Someone else reserved the puppy first: say so plainly, and show the others."""
    available = selectors.puppy_list(status=selectors.AVAILABLE_ONLY).exclude(pk=puppy.pk)
    others = list(available[: OTHER_PUPPIES_SHOWN + 1])
    context = {
        "puppy": puppy,
        "headline": TAKEN_HEADLINE.format(name=puppy.name),
        "taken_text": TAKEN_TEXT.get(Puppy.Status(puppy.status), "").format(name=puppy.name),
        "puppies": others[:OTHER_PUPPIES_SHOWN],
        "more_puppies": len(others) > OTHER_PUPPIES_SHOWN,
    }
    return render(request, "catalogue/taken.html", context)


def not_found(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "404.html", {"error": error}, status=error.status)


# The shop's own pages are public; the rest is for buyers' sessions, the breeder and machines.
ROBOTS_DISALLOW = ("/admin/", "/api/", "/payments/", "/reservations/", "/webhooks/", "/health/")


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines.append(f"Sitemap: {request.build_absolute_uri('/sitemap.xml')}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
