"""The litters families can wait for: the list, each litter's page (stage, parents, puppies,
the waiting list and its deposit terms) and its join form's POST, which hands over to
waitlist_checkout_start and sends the family to the provider's checkout (303)."""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.catalogue.cache import fragment_key
from kennel.catalogue.models import Litter, Puppy
from kennel.catalogue.views import not_found, shared_page, shared_visitor
from kennel.core.errors import ApplicationError, ValidationFailed
from kennel.core.views import posted_or_back
from kennel.payments.forms import ANALYTICS_CONSENT_LABEL, WaitlistJoinForm
from kennel.payments.registry import available_providers
from kennel.payments.services import waitlist_checkout_start
from kennel.reservations.limits import client_key, hold_rate_check
from kennel.reservations.models import WaitlistEntry
from kennel.reservations.tracking import tracking_from_request
from kennel.reservations.waitlist import LitterNotFound, family_choosing

ON_LIST = Q(waitlist__status__in=WaitlistEntry.ON_LIST)


def _litters() -> QuerySet[Litter]:
    """Litters with how many families are on their list (waiting or choosing now)."""
    return Litter.objects.annotate(families_waiting=Count("waitlist", filter=ON_LIST))


def refund_until(terms: str, refund_days: int, go_home_on: date | None) -> date | None:
    """The last day a withdrawal is refunded in full under refundable terms, once the go-home
    day is known (as waitlist.withdrawal_refundable counts it)."""
    if terms != Litter.DepositTerms.REFUNDABLE or go_home_on is None:
        return None
    return go_home_on - timedelta(days=refund_days)


def _list_state(litter: Litter) -> tuple[bool, bool]:
    """(joinable, full): whether a family can join the litter's list now, and whether it is
    open but has as many families as it takes. (waitlist_join decides, under its lock.)"""
    families = getattr(litter, "families_waiting", 0)
    full = litter.waitlist_cap is not None and families >= litter.waitlist_cap
    open_ = (
        litter.waitlist_open
        and litter.list_deposit is not None
        and litter.picking == Litter.Picking.NOT_OPEN
    )
    return open_ and not full, open_ and full


@require_safe
def litter_list(request: HttpRequest) -> HttpResponse:
    key = fragment_key("litters") if shared_visitor(request) else None
    return shared_page(request, key, "catalogue/litters.html", _litter_list_context)


def _litter_list_context() -> dict[str, Any]:
    litters = _litters().order_by("-waitlist_open", "-born_on", "-expected_on", "name")
    return {"litters": [(litter, *_list_state(litter)) for litter in litters]}


def _litter(slug: str) -> Litter | None:
    puppies = (
        Puppy.objects.filter(is_published=True)
        .annotate(**family_choosing())
        .prefetch_related("photos")
        .order_by("name")
    )
    litter = (
        _litters()
        .select_related("dam_dog", "sire_dog")
        .prefetch_related(Prefetch("puppies", queryset=puppies, to_attr="published_puppies"))
        .filter(slug=slug)
        .first()
    )
    return litter


# Never from the browser's cache: Back from the payment page shows the list as it is now.
@never_cache
@require_safe
def litter_detail(request: HttpRequest, slug: str) -> HttpResponse:
    key = fragment_key("litter", slug) if shared_visitor(request) else None
    return shared_page(
        request, key, "catalogue/litter.html", lambda: _litter_detail_context(request, slug)
    )


def _litter_detail_context(request: HttpRequest, slug: str) -> dict[str, Any] | HttpResponse:
    litter = _litter(slug)
    if litter is None:
        return not_found(request, LitterNotFound())
    providers = available_providers()
    form = WaitlistJoinForm(initial={"provider": providers[0]}, providers=providers)
    return _litter_context(litter, form)


def litter_page(
    request: HttpRequest,
    litter: Litter,
    form: WaitlistJoinForm,
    *,
    error: ApplicationError | None = None,
) -> HttpResponse:
    context = _litter_context(litter, form, error=error)
    return render(request, "catalogue/litter.html", context, status=error.status if error else 200)


def _litter_context(
    litter: Litter, form: WaitlistJoinForm, *, error: ApplicationError | None = None
) -> dict[str, Any]:
    joinable, full = _list_state(litter)
    return {
        "litter": litter,
        "puppies": getattr(litter, "published_puppies", []),
        "families_waiting": getattr(litter, "families_waiting", 0),
        "deposit": litter.list_deposit,
        "refund_until": refund_until(litter.deposit_terms, litter.refund_days, litter.go_home_on),
        "joinable": joinable,
        "full": full,
        "form": form,
        "error": error,
        "providers": form.fields["provider"].choices,  # type: ignore[attr-defined]
        "sexes": WaitlistEntry.Sex.choices,
        "analytics_consent_label": ANALYTICS_CONSENT_LABEL,
    }


@posted_or_back("catalogue:litter")
def litter_join(request: HttpRequest, slug: str) -> HttpResponse:
    """Parse the join form, then hand over to waitlist_checkout_start, which puts the family
    on the list (waiting for its deposit) and opens the provider's checkout; the family is
    sent there with a 303. Refusals (closed, full, invalid) show the litter's page saying so,
    with nothing written. This address opened (the language switched under a form with
    errors, a reload): the litter's page, where the form is."""
    litter = _litter(slug)
    if litter is None:
        return not_found(request, LitterNotFound())
    form = WaitlistJoinForm(request.POST, providers=available_providers())
    if not form.is_valid() or form.buyer is None or form.preferences is None:
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        return litter_page(request, litter, form, error=ValidationFailed(fields))
    tracking = tracking_from_request(
        request,
        consent=form.cleaned_data["analytics_consent"],
        source_url=settings.SITE_URL + litter.get_absolute_url(),
    )
    client = client_key(request)
    try:
        hold_rate_check(request, client=client)
        _entry, checkout_url = waitlist_checkout_start(
            litter_slug=slug,
            buyer=form.buyer,
            provider=form.cleaned_data["provider"],
            preferences=form.preferences,
            site_url=settings.SITE_URL,
            tracking=tracking,
            client=client,
        )
    except LitterNotFound as exc:
        return not_found(request, exc)
    except ApplicationError as exc:
        if isinstance(exc, ValidationFailed):
            form.add_service_errors(exc)
        # The list may just have closed or filled: show the litter as it is now.
        page = litter_page(request, _litter(slug) or litter, form, error=exc)
        if exc.retry_after is not None:
            page["Retry-After"] = str(exc.retry_after)
        return page
    return HttpResponseRedirect(checkout_url, status=303)
