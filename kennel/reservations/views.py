"""The buyer's status page: the only place a buyer sees their reservation."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import get_script_prefix
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_by_token

S = Reservation.Status

# Plain-language status, one per state; `{puppy}` is the puppy's name.
STATUS_TEXT = {
    S.PENDING: "Waiting for your payment… this page updates by itself.",
    S.PROCESSING: "Your bank is processing the payment… this page updates by itself.",
    S.CONFIRMED: "Your deposit is confirmed. {puppy} is reserved for you.",
    S.COMPLETED: "All done: {puppy} is yours. Thank you, and enjoy every day together!",
    S.EXPIRED: "This reservation was not paid in time; the puppy is released.",
    S.CANCELLED: "This reservation was cancelled; the puppy is released.",
    S.RELEASED: "The payment failed; nothing was charged.",
    S.REFUNDED: "Your deposit was refunded.",
}
STATUS_HEADLINE = {
    S.PENDING: "Almost there",
    S.PROCESSING: "Payment on its way",
    S.CONFIRMED: "Reserved for you!",
    S.COMPLETED: "Welcome home",
    S.EXPIRED: "Reservation expired",
    S.CANCELLED: "Reservation cancelled",
    S.RELEASED: "Payment failed",
    S.REFUNDED: "Deposit refunded",
}
POLLING = (S.PENDING, S.PROCESSING)


@never_cache
@require_safe
def status(request: HttpRequest, token: str) -> HttpResponse:
    reservation = reservation_by_token(token)
    if reservation is None:
        raise Http404("There is no reservation at this address.")
    state = S(reservation.status)
    context = {
        "reservation": reservation,
        "puppy": reservation.puppy,
        "photo": next(iter(reservation.puppy.photos.all()), None),
        "headline": STATUS_HEADLINE[state],
        "status_text": STATUS_TEXT[state].format(puppy=reservation.puppy.name),
        "polling": state in POLLING,
        # The JSON twin of this page (kennel/api); the script polls it while payment is open.
        "status_api_url": f"{get_script_prefix()}api/reservations/{reservation.token}/",
    }
    response = render(request, "reservations/status.html", context)
    # The token is the buyer's key to this page: keep it out of search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
