"""The public catalogue: the list and the puppy page (its reserve form posts to payments)."""

import copy
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.static import serve

from kennel.catalogue import selectors
from kennel.catalogue.agreement import Agreeing, for_puppy
from kennel.catalogue.cache import fragment_key, fragment_make
from kennel.catalogue.forms import CatalogueFilterForm
from kennel.catalogue.models import Puppy
from kennel.core.errors import ApplicationError, PuppyNotFound
from kennel.core.money import paypal_accepts
from kennel.payments.forms import ANALYTICS_CONSENT_LABEL, ReserveForm
from kennel.payments.paypal.provider import PAYPAL
from kennel.payments.registry import available_providers
from kennel.reservations.views import (
    browser_hold,
    browser_paid_reservation,
    continue_url,
    resumable_reservation,
    resume_tokens,
)
from kennel.reservations.waitlist import family_choosing, family_comes_first

# What a buyer reads instead of the form when a puppy cannot be reserved.
UNAVAILABLE_TEXT = {
    Puppy.Status.HELD: Agreeing(
        "{name} is on hold: another family is paying the deposit right now. If their payment "
        "does not go through, {name} will be offered here again."
    ),
    Puppy.Status.RESERVED: Agreeing("{name} is reserved: a family has paid the deposit."),
    Puppy.Status.SOLD: _("{name} is sold and has found a home."),
}
# An available puppy the family choosing now on the waiting list could choose: its turn first.
CHOOSING_TEXT = _(
    "A family on our waiting list is choosing its puppy now, and {name} is among those "
    "offered to it. The shop offers {name} again only if that family chooses another puppy."
)

# A puppy on hold that the family choosing now could choose: should that payment fail, the
# family's turn comes first (said instead of "offered here again", on both pages).
HELD_FOR_FAMILY_TEXT = Agreeing(
    "{name} is on hold: another family is paying the deposit right now. If their payment "
    "does not go through, {name} is offered first to the family choosing its puppy from our "
    "waiting list now, and here again only if that family chooses another puppy."
)
TAKEN_HELD_FOR_FAMILY_TEXT = Agreeing(
    "Another family started reserving {name} a moment before you and is paying the "
    "deposit now. Nothing was charged to you. If their payment does not go through, {name} "
    "is offered first to the family choosing its puppy from our waiting list now, and here "
    "again only if that family chooses another puppy."
)

# The page a reserve form that lost the race lands on (POST -> 303 -> GET ?taken=1): what
# happened, in words that fit the puppy's status now, and the other puppies to choose from.
TAKEN_HEADLINE = Agreeing("{name} has just been reserved by another family")
TAKEN_TEXT = {
    Puppy.Status.HELD: Agreeing(
        "Another family started reserving {name} a moment before you and is paying the "
        "deposit now. Nothing was charged to you. If their payment does not go through, "
        "{name} will be offered here again."
    ),
    Puppy.Status.RESERVED: _("Another family has paid the deposit. Nothing was charged to you."),
    Puppy.Status.SOLD: _("{name} has found a home. Nothing was charged to you."),
}
# This browser's own reservation of the puppy, paid or being paid: never "another family".
MINE_TEXT = {
    "processing": Agreeing(
        "Your payment for {name} is being processed: {name} is kept for you meanwhile."
    ),
    "confirmed": Agreeing("{name} is reserved for you: your deposit is paid."),
}
TAKEN_PARAM = "taken"
OTHER_PUPPIES_SHOWN = 6

# The catalogue's pages: 24 cards (a full grid of 1, 2 or 3 columns), available ones first.
PUPPIES_PER_PAGE = 24
PAGE_PARAM = "page"
MAX_PAGE = 10_000  # a page number beyond any catalogue: refused before the database is asked
PAGE_NOT_FOUND = _("There is no such page of puppies.")
# Stands for the CSRF token in a cached page: letters only, so HTML escaping leaves it as is.
CSRF_PLACEHOLDER = "kennelcsrftokenplaceholder"


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    filters = CatalogueFilterForm.filters_of(request.GET)
    number = _page_number(request)
    # Shared by every visitor of its filters and page, whatever else the link carries
    # (fbclid, utm_…): see shared_page.
    key = fragment_key("index", filters, number) if shared_visitor(request) else None
    return shared_page(
        request,
        key,
        "catalogue/index.html",
        lambda: _index_context(filters, number) | {"page_number": number},
        query=_query(filters, number),
    )


def shared_visitor(request: HttpRequest) -> bool:
    """A visitor shown what every visitor is shown: not a session (the breeder signed in)."""
    return settings.SESSION_COOKIE_NAME not in request.COOKIES


def shared_page(
    request: HttpRequest,
    key: str | None,
    template: str,
    context: Callable[[], dict[str, Any] | HttpResponse],
    *,
    query: str = "",
) -> HttpResponse:
    """`template` rendered once per catalogue version and shared from the cache
    (catalogue/cache.py) by every request under `key`, as if asked at its own address (its
    path and `query`, never one visitor's query); only the CSRF token (the forms) is put in
    per request. With no key, rendered for this request alone. `context` gives the
    template's context, or the answer to give instead (not found), which is never shared."""
    instead: HttpResponse | None = None

    def render() -> str | None:
        nonlocal instead
        values = context()
        if isinstance(values, HttpResponse):
            instead = values
            return None
        rendered_for = request
        if key:
            values["csrf_token"] = CSRF_PLACEHOLDER
            rendered_for = _as_address(request, query)
        return render_to_string(template, values, rendered_for)

    html = fragment_make(key, render)
    if html is None:
        assert instead is not None  # render() gave nothing to share: its answer instead
        return instead
    if key and CSRF_PLACEHOLDER in html:
        html = html.replace(CSRF_PLACEHOLDER, get_token(request))
    return HttpResponse(html)


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get(PAGE_PARAM, "1")
    if not raw.isdecimal() or not 1 <= int(raw) <= MAX_PAGE:
        raise Http404(PAGE_NOT_FOUND)
    return int(raw)


def _index_context(filters: dict[str, str], number: int) -> dict[str, Any]:
    puppies, count = selectors.puppy_page(
        number=number, per_page=PUPPIES_PER_PAGE, annotate=family_choosing(), **filters
    )
    if not puppies and number > 1:
        # A page past the last one (the catalogue shrank, or a typed address): not found,
        # rather than the same puppies under a second address.
        raise Http404(PAGE_NOT_FOUND)
    paginator = Paginator(range(count), PUPPIES_PER_PAGE)  # the page's links and "of N"
    page = paginator.page(number)
    return {
        "puppies": puppies,
        "page_obj": page,
        "puppy_count": count,
        "previous_url": _page_url(filters, page.previous_page_number())
        if page.has_previous()
        else "",
        "next_url": _page_url(filters, page.next_page_number()) if page.has_next() else "",
        "breeds": selectors.breed_list(),
        "sexes": Puppy.Sex.choices,
        "filters": filters,
        "is_filtered": any(filters.values()),
        "filter_count": sum(1 for value in filters.values() if value),
    }


def _query(filters: dict[str, str], number: int) -> str:
    """The query string of page `number` with these filters (page 1 has no `page`)."""
    kept = {name: value for name, value in filters.items() if value}
    return urlencode(kept | ({PAGE_PARAM: str(number)} if number > 1 else {}))


def _page_url(filters: dict[str, str], number: int) -> str:
    query = _query(filters, number)
    return reverse("catalogue:index") + (f"?{query}" if query else "")


def _as_address(request: HttpRequest, query: str) -> HttpRequest:
    """The request as asked at its path with `query`: all a page shared by every visitor may
    show of it (the language form's `next`, the canonical link)."""
    shared = copy.copy(request)
    shared.META = {**request.META, "QUERY_STRING": query}
    shared.__dict__.pop("GET", None)  # Django caches the parsed query on the request
    return shared


# Never from the browser's cache: pressing Back from the payment page must show the puppy as
# it is now (held, and by this browser: *Continue to payment*), not the form as it was.
@never_cache
@require_safe
def puppy_detail(request: HttpRequest, slug: str) -> HttpResponse:
    taken = bool(request.GET.get(TAKEN_PARAM))
    # A visitor with nothing of their own on the page (no hold in this browser) is shown the
    # page every such visitor is shown (see shared_page): the puppy, or after a lost race
    # (POST -> 303 -> ?taken=1, a flash sale's many losers) what happened and the others.
    if shared_visitor(request) and not resume_tokens(request):
        if taken:
            key = fragment_key("taken", slug)
            return shared_page(
                request,
                key,
                "catalogue/taken.html",
                lambda: _taken_context(request, _puppy(slug)),
                query=f"{TAKEN_PARAM}=1",
            )
        key = fragment_key("puppy_page", slug)
        return shared_page(
            request, key, "catalogue/puppy.html", lambda: _puppy_context(request, _puppy(slug))
        )
    puppy = _puppy(slug)
    if taken and (mine := browser_paid_reservation(request, puppy)) is not None:
        # Paid by this very browser (another tab): its own page, not "another family".
        return HttpResponseRedirect(mine.get_absolute_url(), status=303)
    if taken and resumable_reservation(request, puppy) is None:
        return taken_page(request, puppy)
    return puppy_page(request, puppy, _blank_reserve_form(puppy.currency))


def _puppy(slug: str) -> Puppy:
    puppy = published_puppy(slug)
    if puppy is None:
        raise Http404(PuppyNotFound().message)
    return puppy


def _blank_reserve_form(currency: str = "") -> ReserveForm:
    """The empty form, offering only the methods that can take the puppy's currency (PayPal
    does not take every currency Stripe does: the buyer should not learn it after submitting)."""
    providers = [
        name
        for name in available_providers()
        if name != PAYPAL or not currency or paypal_accepts(currency)
    ]
    return ReserveForm(initial={"provider": providers[0]}, providers=providers)


def published_puppy(slug: str) -> Puppy | None:
    """`selectors.puppy_by_slug`, kept in the cache while the catalogue is unchanged: the
    puppy with its litter, parents and photos as the page shows them, for the pages rendered
    for one browser (its own hold, a form with errors) and the reserve form's POST."""
    return fragment_make(fragment_key("puppy", slug), lambda: puppy_read(slug))


def puppy_read(slug: str) -> Puppy | None:
    """`selectors.puppy_by_slug` with what the pages say of it: `family_choosing`."""
    return selectors.puppy_by_slug(slug, annotate=family_choosing())


def puppy_page(
    request: HttpRequest,
    puppy: Puppy,
    form: ReserveForm,
    *,
    error: ApplicationError | None = None,
) -> HttpResponse:
    context = _puppy_context(request, puppy, form, error=error)
    return render(request, "catalogue/puppy.html", context, status=error.status if error else 200)


def _puppy_context(
    request: HttpRequest,
    puppy: Puppy,
    form: ReserveForm | None = None,
    *,
    error: ApplicationError | None = None,
) -> dict[str, Any]:
    if form is None:
        form = _blank_reserve_form(puppy.currency)
    unavailable = UNAVAILABLE_TEXT.get(Puppy.Status(puppy.status), "")
    # Free, but the family choosing now on the waiting list could choose it: its turn first.
    choosing = family_comes_first(puppy)
    if choosing:
        unavailable = CHOOSING_TEXT
    elif _held_for_family(puppy):
        unavailable = HELD_FOR_FAMILY_TEXT
    # This browser's own hold on the puppy: continue to its payment or cancel it.
    resume = resumable_reservation(request, puppy) if puppy.status == Puppy.Status.HELD else None
    # Refused for holding a puppy already: point this browser to its own hold.
    own_hold = (
        browser_hold(request)
        if error and error.code in ("HOLD_LIMIT_REACHED", "CONNECTION_HOLD_LIMIT_REACHED")
        else None
    )
    mine = None
    if not puppy.is_available and resume is None and resume_tokens(request):
        mine = browser_paid_reservation(request, puppy)
    if mine is not None:
        unavailable = MINE_TEXT[mine.status]
    return {
        "own_hold": own_hold,
        "mine": mine,
        "resume": resume,
        "resume_continue_url": continue_url(resume) if resume else "",
        "puppy": puppy,
        "choosing": choosing,
        "reservable": puppy.is_available and not choosing,
        "photos": list(puppy.photos.all()),
        "form": form,
        "error": error,
        "providers": form.fields["provider"].choices,  # type: ignore[attr-defined]
        "unavailable_text": for_puppy(unavailable, puppy).format(name=puppy.name),
        "hold_minutes": settings.HOLD_MINUTES,
        "analytics_consent_label": ANALYTICS_CONSENT_LABEL,
    }


def _held_for_family(puppy: Puppy) -> bool:
    """On hold, and the family choosing now could choose it were the hold to end unpaid."""
    return puppy.status == Puppy.Status.HELD and bool(getattr(puppy, "family_choosing", False))


def taken_page(request: HttpRequest, puppy: Puppy) -> HttpResponse:
    """Someone else reserved the puppy first: say so plainly, and show the others (or the
    puppy's own page, once it is offered again)."""
    context = _taken_context(request, puppy)
    if isinstance(context, HttpResponse):
        return context
    return render(request, "catalogue/taken.html", context)


def _taken_context(request: HttpRequest, puppy: Puppy) -> dict[str, Any] | HttpResponse:
    if puppy.is_available:  # offered again since: its page, to reserve it (never shared)
        return puppy_page(request, puppy, _blank_reserve_form(puppy.currency))
    available = selectors.puppy_list(
        status=selectors.AVAILABLE_ONLY, annotate=family_choosing()
    ).exclude(pk=puppy.pk)
    others = list(available[: OTHER_PUPPIES_SHOWN + 1])
    return {
        "puppy": puppy,
        "headline": for_puppy(TAKEN_HEADLINE, puppy).format(name=puppy.name),
        "taken_text": for_puppy(
            TAKEN_HELD_FOR_FAMILY_TEXT
            if _held_for_family(puppy)
            else TAKEN_TEXT.get(Puppy.Status(puppy.status), ""),
            puppy,
        ).format(name=puppy.name),
        "puppies": others[:OTHER_PUPPIES_SHOWN],
        "more_puppies": len(others) > OTHER_PUPPIES_SHOWN,
    }


def not_found(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "404.html", {"error": error}, status=error.status)


# A photo's files never change under their name (images.py: each upload gets a folder of its
# own, a replaced photo new names): a browser or a CDN may keep them a year without asking.
MEDIA_CACHE_CONTROL = "public, max-age=31536000, immutable"


def media_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """A stored photo file under MEDIA_ROOT (Django's static `serve`), cached for a year.

    A path that would leave MEDIA_ROOT (`../settings.py`, `%2e%2e/…`) is a scanner's probe:
    a plain 404 like any missing file, not a SuspiciousFileOperation logged with its
    traceback at every try."""
    try:
        response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None
    response["Cache-Control"] = MEDIA_CACHE_CONTROL  # the 304 of a revalidation too
    return response


# The shop's own pages are public; the rest is for buyers' sessions, the breeder and machines.
ROBOTS_DISALLOW = (
    "/admin/",
    "/api/",
    "/payments/",
    "/reservations/",
    "/waitlist/",
    "/webhooks/",
    "/health/",
)


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOW)]
    lines.append(f"Sitemap: {settings.SITE_URL.rstrip('/')}{reverse('sitemap')}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
