"""Thin entry points: the reserve form's POST, provider webhooks, the buyer's return/cancel URLs."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from kennel.catalogue.views import TAKEN_PARAM, not_found, published_puppy, puppy_page, puppy_read
from kennel.core.errors import (
    ApplicationError,
    Busy,
    ProviderBusy,
    PuppyNotAvailable,
    PuppyNotFound,
    ValidationFailed,
)
from kennel.core.views import posted_or_back
from kennel.payments.forms import ReserveForm
from kennel.payments.providers import (
    BuyerActionRequired,
    PaymentState,
    ProviderError,
    WebhookRejected,
)
from kennel.payments.registry import available_providers
from kennel.payments.services import (
    checkout_start,
    payment_read,
    payment_settle,
    payment_settle_returned,
    provider_slot,
)
from kennel.payments.webhooks import webhook_receive
from kennel.reservations import services as reservations
from kennel.reservations.limits import client_key, hold_cooldown_until, hold_rate_check
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_by_token
from kennel.reservations.tracking import tracking_from_request
from kennel.reservations.views import resume_forget, resume_remember

log = logging.getLogger(__name__)


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: the browser follows it with a GET, never re-posting the form."""

    status_code = 303


@posted_or_back("catalogue:puppy")
def reserve(request: HttpRequest, slug: str) -> HttpResponse:
    """Parse the reserve form, then hand over to checkout_start, which holds the puppy and
    opens the provider's checkout; the buyer is sent there with a 303, and their browser
    remembers the hold (signed cookie) so that Back on the payment page can continue it.

    A buyer who lost the puppy to another family is sent (303) to the puppy's page saying so,
    with the other puppies: nothing to re-post, no form for a puppy they cannot have. This
    address opened (the language switched under a form with errors, a reload): the puppy's
    page, where the form is."""
    puppy = published_puppy(slug)
    if puppy is None:
        return not_found(request, PuppyNotFound())
    # A puppy someone else holds is refused before the form is even read (a flash sale's
    # many losers): the buyer learns at once what matters most, and nothing is counted
    # against their hold rate. One indexed read; checkout_start decides for the rest.
    try:
        reservations.hold_refused_early(puppy_slug=slug)
    except PuppyNotFound as exc:
        return not_found(request, exc)
    except PuppyNotAvailable:
        return HttpResponseSeeOther(f"{puppy.get_absolute_url()}?{TAKEN_PARAM}=1")
    form = ReserveForm(request.POST, providers=available_providers())
    if not form.is_valid() or form.buyer is None:
        fields = {name: [str(e) for e in errors] for name, errors in form.errors.items()}
        error = ValidationFailed(fields)
        return puppy_page(request, puppy, form, error=error)
    tracking = tracking_from_request(
        request,
        consent=form.cleaned_data["analytics_consent"],
        source_url=settings.SITE_URL + puppy.get_absolute_url(),
    )
    client = client_key(request)
    try:
        hold_rate_check(request, client=client)
        reservation, checkout_url = checkout_start(
            puppy_slug=slug,
            buyer=form.buyer,
            provider=form.cleaned_data["provider"],
            site_url=settings.SITE_URL,
            tracking=tracking,
            client=client,
        )
    except PuppyNotFound as exc:
        return not_found(request, exc)
    except PuppyNotAvailable:
        return HttpResponseSeeOther(f"{puppy.get_absolute_url()}?{TAKEN_PARAM}=1")
    except ApplicationError as exc:
        if isinstance(exc, ValidationFailed):
            form.add_service_errors(exc)
        # The puppy's status may just have changed (someone else's hold): show it as it is now.
        page = puppy_page(request, puppy_read(slug) or puppy, form, error=exc)
        if exc.retry_after is not None:
            page["Retry-After"] = str(exc.retry_after)
        return page
    response = HttpResponseSeeOther(checkout_url)
    resume_remember(request, response, reservation)
    return response


def _known_provider(provider: str) -> str:
    if provider not in available_providers():
        raise Http404("unknown payment provider")
    return provider


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Verify, store and queue its processing; answer at once (never waiting on the provider):
    2xx once stored, duplicates included; 400 when refused; 503 when the database is away."""
    _known_provider(provider)
    try:
        body: bytes | None = request.body
    except RequestDataTooBig:  # over DATA_UPLOAD_MAX_MEMORY_SIZE: no provider sends that
        body = None
    try:
        event = webhook_receive(provider=provider, body=body, headers=dict(request.headers))
    except WebhookRejected as exc:
        return JsonResponse(
            {"error": {"code": "WEBHOOK_REJECTED", "message": exc.reason}}, status=400
        )
    return JsonResponse({"received": True, "status": event.status})


def _reservation_from_query(request: HttpRequest, provider: str) -> Reservation:
    _known_provider(provider)
    reservation = reservation_by_token(request.GET.get("reservation", ""))
    if reservation is None or reservation.provider != provider:
        raise Http404("unknown reservation")
    return reservation


# The query parameter by which a provider names the checkout the buyer comes back from:
# PayPal's order id. (A Stripe session is only ever the reservation's own: nothing to
# approve there, its webhook settles any other.)
RETURNED_CHECKOUT = {"paypal": "token"}


@require_safe
def payment_return(request: HttpRequest, provider: str) -> HttpResponse:
    """The buyer is back from the provider: settle now, exactly as the webhook would — the
    reservation's checkout, then the one they approved when it is another (an older or a
    second PayPal order: payment_settle_returned, never captured, and their page says so).

    When the provider needs the buyer again (PayPal refused their funding source, now or
    before: the checkout is open and awaits them), a pending reservation's buyer is sent back
    to the provider's own page — as the provider's API gave it, never a URL from this
    request — while the hold keeps running. With every provider slot taken (a slow provider)
    it does not wait: the buyer goes to their status page, which polls, and the webhook
    settles the payment.
    """
    reservation = _reservation_from_query(request, provider)
    pending = reservation.status == Reservation.Status.PENDING
    returned = request.GET.get(RETURNED_CHECKOUT.get(provider, ""), "")
    other = bool(returned) and returned != reservation.provider_reference
    if reservation.provider_reference:
        try:
            with provider_slot():
                snapshot = payment_read(reservation=reservation)
                if (
                    pending
                    and not other  # they approved another order: their page tells them first
                    and snapshot.state == PaymentState.OPEN
                    and snapshot.buyer_action_url
                ):
                    log.info("return URL sends %s back to %s", reservation.pk, provider)
                    return HttpResponseRedirect(snapshot.buyer_action_url, status=303)
                actor = f"buyer:return:{provider}"
                payment_settle(snapshot=snapshot, actor=actor)
                if other:
                    payment_settle_returned(
                        reservation=reservation, reference=returned, actor=actor
                    )
        except BuyerActionRequired as exc:
            if pending:
                log.info("return URL sends %s back to %s: %r", reservation.pk, provider, exc)
                return HttpResponseRedirect(exc.redirect_url, status=303)
            log.warning("return URL could not settle %s: %r", reservation.pk, exc)
        except (ProviderError, ProviderBusy, Busy) as exc:
            # The webhook will settle it; the status page keeps polling meanwhile. With no
            # provider slot free (ProviderBusy) that is at once: the buyer never waits on it.
            log.warning("return URL could not settle %s: %r", reservation.pk, exc)
        except Exception:
            # Same: never a 500 for the buyer. The traceback is for us; webhooks and the
            # worker's sweeps settle the payment all the same.
            log.exception("return URL failed to settle %s", reservation.pk)
    return HttpResponseRedirect(reservation.get_absolute_url(), status=303)


@require_safe
def payment_cancel(request: HttpRequest, provider: str) -> HttpResponse:
    """The buyer left the provider's page without paying: release the hold at once. A family
    that was paying a waiting list's deposit goes back (303) to its page on the list."""
    reservation = _reservation_from_query(request, provider)
    try:
        reservations.reservation_release(
            reservation_id=reservation.pk,
            status=Reservation.Status.CANCELLED,
            actor="buyer",
            reason=Reservation.Reason.BUYER_CANCELLED,
        )
    except Busy as exc:
        context = {"reservation": reservation, "busy_message": exc.message}
        return render(request, "payments/cancelled.html", context, status=503)
    reservation.refresh_from_db()
    if reservation.status != Reservation.Status.CANCELLED:
        # Paid meanwhile (another tab, the webhook first) or ended otherwise: its own page
        # says what it is, rather than "payment cancelled" (tried: "This reservation is
        # deposit confirmed" under that title).
        return HttpResponseSeeOther(reservation.get_absolute_url())
    puppy = reservation.puppy
    if puppy is None:
        # A waiting list's deposit: the family's own page says where they stand now.
        response: HttpResponse = HttpResponseSeeOther(reservation.get_absolute_url())
        resume_forget(request, response, reservation.token)
        return response
    puppy.refresh_from_db()
    # A second cancel in a row: the hold limits' cool-down would refuse "Try again" now
    # (tried: the button, then "Something went wrong"); the page says from when instead.
    cooldown_until = hold_cooldown_until(
        email=reservation.buyer_email, client=reservation.client_key, puppy_id=puppy.pk
    )
    context = {
        "reservation": reservation,
        "puppy": puppy,
        # The puppy is free again (as it is at once, unless someone else was quicker).
        "available_again": puppy.is_published and puppy.is_available,
        "cooldown_until": cooldown_until,
        "try_again": puppy.is_published and puppy.is_available and cooldown_until is None,
    }
    response = render(request, "payments/cancelled.html", context)
    resume_forget(request, response, reservation.token)
    return response
