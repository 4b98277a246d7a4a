"""The conversion reports' outbox handlers (kennel/core/outbox.py): GA4 and Meta, each only
with the buyer's consent and its settings (otherwise no row is written at all)."""

from kennel.analytics.ga4 import ga4_config, ga4_send_purchase
from kennel.analytics.meta import meta_config, meta_send_purchase
from kennel.core.models import SideEffect
from kennel.core.outbox import NoLongerTrue, register, subject_id
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation


def ga4_recipient(reservation: Reservation) -> str | None:
    ga4 = ga4_config() if reservation.analytics_consent else None
    return f"ga4:{ga4.measurement_id}" if ga4 else None


def meta_recipient(reservation: Reservation) -> str | None:
    meta = meta_config() if reservation.analytics_consent else None
    return f"meta:{meta.pixel_id}" if meta else None


def _reservation(effect: SideEffect) -> Reservation:
    """The sale to report; NoLongerTrue once it was refunded (or never stood) before the
    report went out — a conversion held back by an outage is not sent for money returned."""
    reservation = Reservation.objects.select_related("puppy").get(pk=subject_id(effect))
    if reservation.status not in Reservation.STANDING:
        raise NoLongerTrue(f"the reservation is {reservation.status} now")
    return reservation


def ga4_run(effect: SideEffect) -> None:
    ga4_send_purchase(reservation=_reservation(effect))


def meta_run(effect: SideEffect) -> None:
    meta_send_purchase(reservation=_reservation(effect))


def register_handlers() -> None:
    register(
        Effect.GA4_PURCHASE, label=Effect.GA4_PURCHASE.label, run=ga4_run, recipient=ga4_recipient
    )
    register(
        Effect.META_PURCHASE,
        label=Effect.META_PURCHASE.label,
        run=meta_run,
        recipient=meta_recipient,
    )
