from django.conf import settings
from django.http import Http404, HttpRequest
from django.utils import translation
from ninja import Router, Status

from kennel.api.schemas import (
    CHECKOUT_ERRORS,
    ErrorOut,
    ReservationCreatedOut,
    ReservationIn,
    ReservationOut,
    created_links_to,
)
from kennel.payments.services import checkout_start
from kennel.reservations.buyers import buyer_validate
from kennel.reservations.limits import client_key, hold_rate_check
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import reservation_by_token
from kennel.reservations.services import hold_refused_early
from kennel.reservations.tracking import tracking_from_request

router = Router(tags=["reservations"])


def reservation_out(request: HttpRequest, reservation: Reservation) -> dict[str, object]:
    """A reservation as GET /api/reservations/<token>/ shows it (the pick route's answer too)."""
    return {
        "id": reservation.pk,
        "token": reservation.token,
        "status": reservation.status,
        "expires_at": reservation.expires_at,
        # A waiting list's deposit has no puppy until its family picks one.
        "puppy": reservation.puppy.slug if reservation.puppy is not None else None,
        "deposit_amount": reservation.deposit_amount,
        "currency": reservation.currency,
        "provider": reservation.provider,
        "provider_reference": reservation.provider_reference,
        "status_url": request.build_absolute_uri(reservation.get_absolute_url()),
        # Only while the buyer may still pay there: the same checkout, never a new payment.
        "checkout_url": (
            reservation.checkout_url or None
            if reservation.status == Reservation.Status.PENDING
            else None
        ),
    }


@router.post(
    "",
    response={201: ReservationCreatedOut, **CHECKOUT_ERRORS},
    summary="Hold a puppy and open the deposit checkout",
    operation_id="create_reservation",
    openapi_extra=created_links_to(
        "get_reservation",
        name="GetReservation",
        description="The status of the reservation just made",
    ),
    description=(
        "502 `PROVIDER_UNAVAILABLE`: the payment provider could not be reached; nothing was "
        "charged, try again later. 422 `PROVIDER_REFUSED`: the provider refused the checkout "
        "(an amount above its maximum, say); nothing was charged, and the same request will "
        "be refused again. "
        "503 `PROVIDER_BUSY` (with `Retry-After`): the payment provider is slow and this "
        "server's calls to it are all taken; nothing was held. 503 `LOCK_TIMEOUT` / "
        "`DATABASE_UNAVAILABLE`: try again shortly. 429 `HOLD_LIMIT_REACHED` (this email "
        "already holds HOLDS_PER_EMAIL puppies: the link to each of those holds is emailed to "
        "it, once per hold, and the answer itself says nothing of them), "
        "`CONNECTION_HOLD_LIMIT_REACHED` (this client "
        "address already holds HOLDS_PER_CLIENT puppies, whatever the email), `TOO_MANY_HOLDS` "
        "(HOLD_RATE, with `Retry-After`), `HOLD_COOLDOWN` (this email cancelled holds on the "
        "puppy moments ago, with `Retry-After`), `CONNECTION_HOLD_COOLDOWN` (holds on the "
        "puppy were cancelled from this client address moments ago, with `Retry-After`). "
        "Only `application/json` bodies (415 "
        "`UNSUPPORTED_MEDIA_TYPE`), and a browser's write from another site is refused (403 "
        "`CROSS_ORIGIN_REFUSED`). 400 `BAD_REQUEST`: the body is not JSON. 422 "
        "`VALIDATION_ERROR`: `details.fields` names each field that breaks the schema's rules "
        "(or the terms not accepted). 404 `PUPPY_NOT_FOUND`, 409 `PUPPY_NOT_AVAILABLE`."
    ),
)
def create_reservation(request: HttpRequest, payload: ReservationIn) -> Status:
    # A taken puppy is refused before anything costly (a flash sale's many losers).
    hold_refused_early(puppy_slug=payload.puppy)
    buyer = buyer_validate(
        name=payload.name,
        email=payload.email,
        phone=payload.phone,
        accepted_terms=payload.accept_terms,
        terms_shown=payload.terms_version,
        # The request's language (Accept-Language, or the language cookie): their emails' one.
        language=translation.get_language() or "",
    )
    client = client_key(request)
    hold_rate_check(request, client=client)
    tracking = tracking_from_request(
        request,
        consent=payload.analytics_consent,
        source_url=f"{settings.SITE_URL}/puppies/{payload.puppy}/",
    )
    reservation, checkout_url = checkout_start(
        puppy_slug=payload.puppy,
        buyer=buyer,
        provider=payload.provider,
        site_url=settings.SITE_URL,
        tracking=tracking,
        client=client,
    )
    return Status(201, {**reservation_out(request, reservation), "checkout_url": checkout_url})


@router.get(
    "{token}/",
    response={200: ReservationOut, 404: ErrorOut},
    summary="A reservation's status",
    operation_id="get_reservation",
    description=(
        "`checkout_url` is the provider's page for this reservation's deposit while it is "
        "pending (a buyer who left it goes back to the same checkout); null otherwise."
    ),
)
def get_reservation(request: HttpRequest, token: str) -> dict[str, object]:
    reservation = reservation_by_token(token)
    if reservation is None:
        raise Http404
    return reservation_out(request, reservation)
