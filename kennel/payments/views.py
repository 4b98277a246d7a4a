"""Thin entry points: provider webhooks and the buyer's return/cancel URLs."""

import logging

from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from kennel.core.errors import Busy
from kennel.payments.fulfilment import payment_apply
from kennel.payments.providers import (
    BuyerActionRequired,
    ProviderError,
    WebhookRejected,
    available_providers,
    get_provider,
)
from kennel.payments.webhooks import webhook_process, webhook_receive
from kennel.reservations import services as reservations
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_by_token

log = logging.getLogger(__name__)


def _known_provider(provider: str) -> str:
    if provider not in available_providers():
        raise Http404("unknown payment provider")
    return provider


@csrf_exempt
@require_POST
def webhook(request: HttpRequest, provider: str) -> HttpResponse:
    """Verify and store, then process. 2xx once stored; 400 when refused; 503 when busy."""
    _known_provider(provider)
    try:
        event = webhook_receive(provider=provider, body=request.body, headers=dict(request.headers))
    except WebhookRejected as exc:
        return JsonResponse(
            {"error": {"code": "WEBHOOK_REJECTED", "message": exc.reason}}, status=400
        )
    try:
        status = webhook_process(event_pk=event.pk, delivered=True)
    except Busy:
        return JsonResponse({"error": {"code": "LOCK_TIMEOUT", "message": "retry"}}, status=503)
    return JsonResponse({"received": True, "status": status})


def _reservation_from_query(request: HttpRequest, provider: str) -> Reservation:
    _known_provider(provider)
    reservation = reservation_by_token(request.GET.get("reservation", ""))
    if reservation is None or reservation.provider != provider:
        raise Http404("unknown reservation")
    return reservation


@require_GET
def payment_return(request: HttpRequest, provider: str) -> HttpResponse:
    """The buyer is back from the provider: settle now, exactly as the webhook would.

    When the provider needs the buyer again (PayPal refused their funding source), they are
    sent back to the provider's own approve link — as the provider's API gave it, never a URL
    from this request — while the reservation stays pending and its hold keeps running.
    """
    reservation = _reservation_from_query(request, provider)
    pending = reservation.status == Reservation.Status.PENDING
    if reservation.provider_reference:
        try:
            snapshot = get_provider(provider).fetch_payment(
                reservation.provider_reference, buyer_returned=pending
            )
            payment_apply(snapshot=snapshot, actor=f"buyer:return:{provider}")
        except BuyerActionRequired as exc:
            if pending:
                log.info("return URL sends %s back to %s: %r", reservation.pk, provider, exc)
                return HttpResponseRedirect(exc.redirect_url, status=303)
            log.warning("return URL could not settle %s: %r", reservation.pk, exc)
        except (ProviderError, Busy) as exc:
            # The webhook will settle it; the status page keeps polling meanwhile.
            log.warning("return URL could not settle %s: %r", reservation.pk, exc)
        except Exception:
            # Same: never a 500 for the buyer. The traceback is for us; webhooks and the
            # worker's sweeps settle the payment all the same.
            log.exception("return URL failed to settle %s", reservation.pk)
    return HttpResponseRedirect(reservation.get_absolute_url(), status=303)


@require_GET
def payment_cancel(request: HttpRequest, provider: str) -> HttpResponse:
    """The buyer left the provider's page without paying: release the hold at once."""
    reservation = _reservation_from_query(request, provider)
    try:
        reservations.reservation_release(
            reservation_id=reservation.pk,
            status=Reservation.Status.CANCELLED,
            actor="buyer",
            reason="buyer_cancelled",
        )
    except Busy as exc:
        context = {"reservation": reservation, "busy_message": exc.message}
        return render(request, "payments/cancelled.html", context, status=503)
    reservation.refresh_from_db()
    return render(request, "payments/cancelled.html", {"reservation": reservation})
