"""The public catalogue: list, puppy page, and the reserve form's POST."""

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from kennel.analytics.tracking import tracking_from_request
from kennel.catalogue import selectors
from kennel.catalogue.forms import ANALYTICS_CONSENT_LABEL, CatalogueFilterForm, ReserveForm
from kennel.catalogue.models import Puppy
from kennel.core.errors import ApplicationError, PuppyNotFound, ValidationFailed
from kennel.payments.providers import available_providers
from kennel.payments.services import checkout_start

# What a buyer reads instead of the form when a puppy cannot be reserved.
UNAVAILABLE_TEXT = {
    Puppy.Status.HELD: (
        "{name} is on hold: another family is paying the deposit right now. If their payment "
        "does not go through, {name} will be available again shortly."
    ),
    Puppy.Status.RESERVED: "{name} is reserved: a family has paid the deposit.",
    Puppy.Status.SOLD: "{name} is sold and has found a home.",
}


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: the browser follows it with a GET, never re-posting the form."""

    status_code = 303


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    filters = CatalogueFilterForm(request.GET).filters()
    puppies = list(selectors.puppy_list(**filters))
    context = {
        "puppies": puppies,
        "breeds": selectors.breed_list(),
        "sexes": Puppy.Sex.choices,
        "filters": filters,
        "is_filtered": any(filters.values()),
    }
    return render(request, "catalogue/index.html", context)


@require_GET
def puppy_detail(request: HttpRequest, slug: str) -> HttpResponse:
    puppy = selectors.puppy_by_slug(slug)
    if puppy is None:
        raise Http404(PuppyNotFound().message)
    providers = available_providers()
    form = ReserveForm(initial={"provider": providers[0]}, providers=providers)
    return _puppy_page(request, puppy, form)


@require_POST
def reserve(request: HttpRequest, slug: str) -> HttpResponse:
    """Parse the reserve form, then hand over to checkout_start, which holds the puppy and
    opens the provider's checkout; the buyer is sent there with a 303."""
    puppy = selectors.puppy_by_slug(slug)
    if puppy is None:
        return _not_found(request, PuppyNotFound())
    form = ReserveForm(request.POST, providers=available_providers())
    if not form.is_valid() or form.buyer is None:
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        error = ValidationFailed(fields)
        return _puppy_page(request, puppy, form, error=error)
    tracking = tracking_from_request(
        request,
        consent=form.cleaned_data["analytics_consent"],
        source_url=settings.SITE_URL + puppy.get_absolute_url(),
    )
    try:
        _reservation, checkout_url = checkout_start(
            puppy_slug=slug,
            buyer=form.buyer,
            provider=form.cleaned_data["provider"],
            site_url=settings.SITE_URL,
            tracking=tracking,
        )
    except PuppyNotFound as exc:
        return _not_found(request, exc)
    except ApplicationError as exc:
        if isinstance(exc, ValidationFailed):
            form.add_service_errors(exc)
        # The puppy's status may just have changed (someone else's hold): show it as it is now.
        return _puppy_page(request, selectors.puppy_by_slug(slug) or puppy, form, error=exc)
    return HttpResponseSeeOther(checkout_url)


def _puppy_page(
    request: HttpRequest,
    puppy: Puppy,
    form: ReserveForm,
    *,
    error: ApplicationError | None = None,
) -> HttpResponse:
    unavailable = UNAVAILABLE_TEXT.get(Puppy.Status(puppy.status), "")
    context: dict[str, Any] = {
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


def _not_found(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "404.html", {"error": error}, status=error.status)
