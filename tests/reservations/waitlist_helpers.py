"""Families on a litter's waiting list, made the way the app makes them: joined through the
service, their deposit confirmed under the payment lock as fulfilment confirms it."""

from decimal import Decimal
from typing import Any, cast

from django.db import transaction

from kennel.catalogue.models import Litter
from kennel.reservations import services, waitlist
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import WaitlistEntry
from tests.factories import LitterFactory


def open_litter(**fields: Any) -> Litter:
    """A born litter whose waiting list is open, with a 400 EUR list deposit (20 % of 2000)."""
    values: dict[str, Any] = {
        "waitlist_open": True,
        "usual_price": Decimal("2000.00"),
        "stage": Litter.Stage.BORN,
    }
    return cast(Litter, LitterFactory(**{**values, **fields}))


def family(n: int) -> Buyer:
    return Buyer(name=f"Family {n}", email=f"family{n}@example.com", phone="+33 600000000")


def joined(litter: Litter, n: int, *, sex: str = "any", provider: str = "stripe") -> WaitlistEntry:
    return waitlist.waitlist_join(
        litter_slug=litter.slug,
        buyer=family(n),
        provider=provider,
        preferences=waitlist.Preferences(sex=sex),
    )


def deposit_paid(entry: WaitlistEntry, *, payment_id: str = "") -> WaitlistEntry:
    with transaction.atomic():
        reservation = services.lock_for_payment(reservation_id=entry.reservation_id)
        services.reservation_confirm(
            reservation, payment_id=payment_id or f"pi_{entry.pk}", actor="test"
        )
    entry.refresh_from_db()
    return entry


def on_list(litter: Litter, n: int, *, sex: str = "any") -> WaitlistEntry:
    """Family `n` joined and paid: on the list at the next place."""
    return deposit_paid(joined(litter, n, sex=sex))


def list_checkout(
    litter: Litter, n: int, provider: str, site_url: str
) -> tuple[WaitlistEntry, str]:
    """Family `n` starts paying the list deposit of `litter` (the entry and the provider's
    page)."""
    from kennel.payments.services import waitlist_checkout_start

    return waitlist_checkout_start(
        litter_slug=litter.slug,
        buyer=family(n),
        provider=provider,
        preferences=waitlist.Preferences(),
        site_url=site_url,
    )
