import re

from django.conf import settings
from django.db.models import Count, Q
from django.http import HttpRequest
from django.utils import translation
from ninja import Router, Status

from kennel.api.schemas import (
    CHECKOUT_ERRORS,
    SLUG_PATTERN,
    LitterOut,
    WaitlistCreatedOut,
    WaitlistIn,
    created_links_to,
)
from kennel.catalogue.models import Litter
from kennel.payments.services import waitlist_checkout_start
from kennel.reservations.buyers import buyer_validate
from kennel.reservations.limits import client_key, hold_rate_check
from kennel.reservations.models import WaitlistEntry
from kennel.reservations.tracking import tracking_from_request
from kennel.reservations.waitlist import LitterNotFound, preferences_validate

router = Router(tags=["waiting lists"])
SLUG, SLUG_MAX = re.compile(SLUG_PATTERN), 80


@router.get(
    "",
    response=list[LitterOut],
    summary="The litters, with their waiting lists",
    operation_id="list_litters",
)
def list_litters(request: HttpRequest) -> list[dict[str, object]]:
    litters = Litter.objects.annotate(
        families_waiting=Count("waitlist", filter=Q(waitlist__status__in=WaitlistEntry.ON_LIST))
    ).order_by("-born_on", "-expected_on", "name")
    return [
        {
            "slug": litter.slug,
            "name": litter.name,
            "stage": litter.stage,
            "born_on": litter.born_on,
            "expected_on": litter.expected_on,
            "go_home_on": litter.go_home_on,
            "waitlist_open": litter.waitlist_open,
            "waitlist_deposit": litter.list_deposit,
            "currency": litter.currency,
            "families_waiting": litter.families_waiting,
            "deposit_terms": litter.deposit_terms,
            "refund_days": litter.refund_days,
            "picking": litter.picking,
        }
        for litter in litters
    ]


@router.post(
    "{slug}/waitlist/",
    response={201: WaitlistCreatedOut, **CHECKOUT_ERRORS},
    summary="Join a litter's waiting list and open the list deposit's checkout",
    operation_id="join_waitlist",
    openapi_extra=created_links_to(
        "get_waitlist_entry",
        name="GetWaitlistEntry",
        description="The family's place on the list just joined",
    ),
    description=(
        "The family's place is given when its deposit is confirmed (GET "
        "/api/waitlist/<token>/ then shows its position). 404 `LITTER_NOT_FOUND`. 409 "
        "`WAITLIST_CLOSED` (the breeder has not opened the list, or picking has begun) / "
        "`WAITLIST_FULL` (the list's families and those paying now reach its cap). 503 "
        "`PROVIDER_BUSY` (with `Retry-After`): the payment provider is slow; nothing was "
        "written. 503 `LOCK_TIMEOUT` / `DATABASE_UNAVAILABLE`: try again shortly. 502 "
        "`PROVIDER_UNAVAILABLE`: the checkout could not be opened; nothing was charged. 422 "
        "`PROVIDER_REFUSED`: the provider refused the checkout; nothing was charged. 429 "
        "`TOO_MANY_HOLDS` (HOLD_RATE, with `Retry-After`). Only `application/json` bodies (415 "
        "`UNSUPPORTED_MEDIA_TYPE`), and a browser's write from another site is refused (403 "
        "`CROSS_ORIGIN_REFUSED`). 400 `BAD_REQUEST`: the body is not JSON. 422 "
        "`VALIDATION_ERROR`: `details.fields` names each field that breaks the schema's rules "
        "(or the terms not accepted, or a provider that does not take the litter's currency)."
    ),
)
def join_waitlist(request: HttpRequest, slug: str, payload: WaitlistIn) -> Status:
    if not _slug_ok(slug):
        raise LitterNotFound()  # never reaches the database (a NUL byte would fail there)
    buyer = buyer_validate(
        name=payload.name,
        email=payload.email,
        phone=payload.phone,
        accepted_terms=payload.accept_terms,
        terms_shown=payload.terms_version,
        # The request's language (Accept-Language, or the language cookie): their emails' one.
        language=translation.get_language() or "",
    )
    preferences = preferences_validate(sex=payload.sex, colour=payload.colour, notes=payload.notes)
    client = client_key(request)
    hold_rate_check(request, client=client)
    tracking = tracking_from_request(
        request,
        consent=payload.analytics_consent,
        source_url=f"{settings.SITE_URL}/litters/{slug}/",
    )
    entry, checkout_url = waitlist_checkout_start(
        litter_slug=slug,
        buyer=buyer,
        provider=payload.provider,
        preferences=preferences,
        site_url=settings.SITE_URL,
        tracking=tracking,
        client=client,
    )
    return Status(201, {"token": entry.token, "status": entry.status, "checkout_url": checkout_url})


def _slug_ok(slug: str) -> bool:
    return len(slug) <= SLUG_MAX and SLUG.fullmatch(slug) is not None
