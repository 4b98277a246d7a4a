"""A family on a waiting list pays its deposit weeks before it picks a puppy: the Purchase
that pick reports is dated at the pick, not at the deposit, so Meta (which refuses an event
more than 7 days old, and the whole request with it) and GA4 count it on the day it happened."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kennel.core.models import SideEffect
from kennel.reservations import picking, waitlist
from kennel.reservations.effects import Effect
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.notifications.helpers import TRACKING, drain
from tests.reservations.waitlist_helpers import deposit_paid, family, open_litter

pytestmark = pytest.mark.django_db(transaction=True)
K = Effect


def _meta_as_meta_answers(path, body):
    """Meta's documented refusal: any event_time over 7 days old fails the whole request."""
    oldest = min(event["event_time"] for event in body["data"])
    if timezone.now().timestamp() - oldest > 7 * 24 * 3600:
        return 400, {"error": {"code": 100, "message": "Invalid parameter: event_time"}}
    return 200, {"events_received": len(body["data"])}


@pytest.mark.parametrize("days_on_the_list", [2, 10])
def test_a_picks_purchase_is_dated_at_the_pick_not_at_the_deposit(
    owner, ga4_endpoint, meta_endpoint, days_on_the_list
):
    meta_endpoint.answer = _meta_as_meta_answers
    litter = open_litter()
    PuppyFactory(litter=litter, slug="pup-0", name="Pup 0", is_published=False)
    entry = deposit_paid(
        waitlist.waitlist_join(
            litter_slug=litter.slug,
            buyer=family(1),
            provider="stripe",
            preferences=waitlist.Preferences(),
            tracking=TRACKING,
        )
    )
    paid_at = timezone.now() - timedelta(days=days_on_the_list)
    Reservation.objects.filter(pk=entry.reservation_id).update(confirmed_at=paid_at)
    drain()  # the list deposit's own emails
    picking.picking_open(litter_id=litter.pk, actor="admin:breeder")

    before = timezone.now()
    reservation = picking.waitlist_pick(token=entry.token, puppy_slug="pup-0")
    drain()

    reports = dict(
        SideEffect.objects.filter(
            reservation_id=reservation.pk, kind__in=[K.GA4_PURCHASE, K.META_PURCHASE]
        ).values_list("kind", "status")
    )
    assert reports == {K.GA4_PURCHASE: "sent", K.META_PURCHASE: "sent"}
    (meta,) = meta_endpoint.accepted()
    assert meta.body["data"][0]["event_time"] >= int(before.timestamp())
    (ga4,) = ga4_endpoint.accepted()
    assert ga4.body.get("timestamp_micros", before.timestamp() * 1e6) >= before.timestamp() * 1e6
