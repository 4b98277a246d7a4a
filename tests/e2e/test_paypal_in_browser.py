"""A buyer reserves a puppy with PayPal in Chromium: puppy → form → sandbox approve page →
back to the shop → confirmed; and one who cancels on PayPal gets the puppy released."""

import pytest

from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def fill_in_and_choose_paypal(page, live_server, sandbox, slug: str) -> None:
    page.goto(f"{live_server.url}/puppies/{slug}/")
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("radio", name="PayPal").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/checkoutnow?token=**")


def test_a_buyer_reserves_a_puppy_with_paypal_and_sees_it_confirmed(page, sandbox, live_server):
    puppy = PuppyFactory(name="Biscuit", slug="biscuit")

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Biscuit").first.click()
    fill_in_and_choose_paypal(page, live_server, sandbox, "biscuit")
    assert "Pay with PayPal" in page.get_by_role("heading", level=1).inner_text()
    page.get_by_role("button", name="Approve and pay").click()
    page.wait_for_url(f"{live_server.url}/reservations/**")

    assert "confirmed" in page.locator("main").inner_text().lower()
    reservation = Reservation.objects.get(puppy=puppy)
    assert (reservation.provider, reservation.status) == ("paypal", "confirmed")
    page.goto(f"{live_server.url}/")
    assert "Reserved" in page.locator("li.card", has_text="Biscuit").inner_text()


def test_a_buyer_who_cancels_on_paypal_is_told_nothing_was_charged(page, sandbox, live_server):
    puppy = PuppyFactory(name="Pepper", slug="pepper")

    fill_in_and_choose_paypal(page, live_server, sandbox, "pepper")
    page.get_by_role("button", name="Cancel and return to the shop").click()
    page.wait_for_url(f"{live_server.url}/payments/paypal/cancel/**")

    assert "nothing was charged" in page.locator("main").inner_text()
    reservation = Reservation.objects.select_related("puppy").get(puppy=puppy)
    assert reservation.status == "cancelled"
    assert reservation.puppy.status == "available"
