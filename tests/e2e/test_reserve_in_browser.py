"""A buyer reserves a puppy in Chromium: catalogue → puppy → form → sandbox Checkout → confirmed."""

import pytest

from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_buyer_reserves_a_puppy_with_a_card_and_sees_it_confirmed(page, sandbox, live_server):
    puppy = PuppyFactory(name="Biscuit", slug="biscuit")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Biscuit").first.click()
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_label("Card (Stripe)").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()

    page.wait_for_url(f"{sandbox.public_url}/**")
    page.get_by_role("button", name="Pay").first.click()
    page.wait_for_url(f"{live_server.url}/reservations/**")

    assert "confirmed" in page.locator("main").inner_text().lower()
    reservation = Reservation.objects.get(puppy=puppy)
    assert reservation.status == "confirmed"
    page.goto(f"{live_server.url}/")
    card = page.locator("li.card", has_text="Biscuit")
    assert "Reserved" in card.inner_text()


def test_a_buyer_who_is_too_late_is_told_plainly(page, sandbox, live_server):
    puppy = PuppyFactory(name="Pepper", slug="pepper")
    page.goto(f"{live_server.url}/puppies/pepper/")
    # Someone else takes the puppy while this buyer fills in the form.
    from kennel.reservations.buyers import Buyer
    from kennel.reservations.services import reservation_hold

    reservation_hold(
        puppy_slug=puppy.slug,
        buyer=Buyer(name="Other", email="other@example.com", phone="+33 600000000"),
        provider="stripe",
    )
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()

    # POST -> 303 -> a GET page that says what happened (nothing to re-post on reload).
    page.wait_for_url(f"{live_server.url}/puppies/pepper/?taken=1")
    heading = page.get_by_role("heading", level=1)
    assert heading.inner_text() == "Pepper has just been reserved by another family"
    assert Reservation.objects.filter(puppy=puppy).count() == 1
