"""A puppy plainly taken is refused with one read, before anything costly — and that read
only ever refuses: a puppy that may be free is left to the hold's conditional UPDATE."""

from datetime import timedelta

import pytest
from django.utils import timezone

from kennel.catalogue.models import Puppy
from kennel.core.errors import PuppyNotAvailable, PuppyNotFound
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation
from kennel.reservations.services import hold_refused_early, reservation_hold
from tests.factories import PuppyFactory, ReservationFactory
from tests.payments.stripe_helpers import reserve

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_puppy_held_reserved_or_sold_is_refused_at_once():
    held = ReservationFactory().puppy
    reserved = ReservationFactory(status=Reservation.Status.CONFIRMED).puppy
    sold = PuppyFactory(status=Puppy.Status.SOLD)
    for puppy in (held, reserved, sold):
        with pytest.raises(PuppyNotAvailable):
            hold_refused_early(puppy_slug=puppy.slug)


def test_an_unknown_or_unpublished_puppy_is_not_found():
    hidden = PuppyFactory(is_published=False)
    for slug in ("no-such-puppy", hidden.slug, "not a slug\x00"):
        with pytest.raises(PuppyNotFound):
            hold_refused_early(puppy_slug=slug)


def test_an_available_puppy_passes_and_the_hold_decides():
    puppy = PuppyFactory()
    hold_refused_early(puppy_slug=puppy.slug)  # no refusal
    buyer = Buyer(name="Ann", email="ann@example.com", phone="+33 600000000")
    assert reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe").status == (
        "pending"
    )


def test_a_puppy_whose_hold_ran_out_is_not_refused_and_goes_to_the_next_buyer():
    abandoned = ReservationFactory(expires_at=timezone.now() - timedelta(minutes=1))
    puppy = abandoned.puppy
    assert Puppy.objects.get(pk=puppy.pk).status == Puppy.Status.HELD
    hold_refused_early(puppy_slug=puppy.slug)  # no refusal: the hold below releases it
    buyer = Buyer(name="Bob", email="bob@example.com", phone="+33 600000000")
    won = reservation_hold(puppy_slug=puppy.slug, buyer=buyer, provider="stripe")
    assert won.buyer_email == "bob@example.com"
    abandoned.refresh_from_db()
    assert abandoned.status == Reservation.Status.EXPIRED


def test_the_hold_itself_refuses_a_taken_puppy_before_counting_the_buyers_holds(settings):
    # A buyer who passed the early read while another's hold was being written, then waited
    # for a provider slot, is told the puppy is taken: not that they hold too many.
    settings.HOLDS_PER_EMAIL = 1
    buyer = Buyer(name="Ann", email="ann@example.com", phone="+33 600000000")
    reservation_hold(puppy_slug=PuppyFactory().slug, buyer=buyer, provider="stripe")
    taken = ReservationFactory().puppy

    with pytest.raises(PuppyNotAvailable):
        reservation_hold(puppy_slug=taken.slug, buyer=buyer, provider="stripe")
    assert Reservation.objects.filter(buyer_email="ann@example.com").count() == 1


@pytest.mark.race
def test_fifteen_buyers_racing_through_the_api_for_three_puppies_get_three_holds(
    sandbox, live_server, threads
):
    puppies = PuppyFactory.create_batch(3)

    answers = threads(15, lambda i: reserve(live_server.url, puppies[i % 3].slug, n=i))

    codes = sorted(a.status_code for a in answers)
    assert codes == [201] * 3 + [409] * 12, [a.text for a in answers if a.status_code >= 500]
    refused = [a.json()["error"]["code"] for a in answers if a.status_code == 409]
    assert set(refused) == {"PUPPY_NOT_AVAILABLE"}
    assert Reservation.objects.filter(status="pending").count() == 3
    assert set(Puppy.objects.values_list("status", flat=True)) == {"held"}
    # Now plainly taken: refused by the cheap read, the same answer.
    again = reserve(live_server.url, puppies[0].slug, n=99)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "PUPPY_NOT_AVAILABLE")
