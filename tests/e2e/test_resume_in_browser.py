"""Resume, don't lock out, in Chromium: a buyer who presses Back on the payment page continues
to the same checkout and pays once (Stripe and PayPal); another browser sees the puppy on hold
without the button; cancel from the status page frees the puppy at once. Screenshots of the
status page (pending, confirmed) at a phone's and a laptop's width go to var/screenshots/."""

from pathlib import Path

import pytest

from kennel.catalogue.models import Puppy
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTHS = (390, 1280)


def start_paying(page, live_server, sandbox, slug: str, provider: str) -> str:
    """Fill in the puppy's form and reach the provider's page; returns its address."""
    page.goto(f"{live_server.url}/puppies/{slug}/")
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    terms = page.locator('input[name="accept_terms"]')
    if terms.count():
        terms.check()
    page.get_by_role("radio", name=provider).check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    return page.url


def back_to_the_shop(page, live_server, slug: str) -> None:
    page.go_back()
    page.wait_for_url(f"{live_server.url}/puppies/{slug}/")
    resume = page.locator("[data-resume]")
    assert "You started reserving" in resume.inner_text()


def screenshot_status(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"status-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1100, "height": 900})


def test_back_from_the_payment_page_after_fixing_the_form_shows_the_puppy_not_a_resubmit(
    page, sandbox, live_server
):
    """Tried: a buyer who forgot the terms, ticked them and went on to pay, then pressed Back
    on the payment page, got Chromium's "Confirm Form Resubmission" (ERR_CACHE_MISS): the
    page before was a POST's answer."""
    PuppyFactory(name="Biscuit", slug="biscuit")
    page.goto(f"{live_server.url}/puppies/biscuit/")
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.locator("#error-summary").wait_for()
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("radio", name="Card (Stripe)").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/**")

    back_to_the_shop(page, live_server, "biscuit")


def test_back_on_stripe_then_continue_pays_the_same_session_once(page, sandbox, live_server):
    PuppyFactory(name="Rosie", slug="rosie")

    first = start_paying(page, live_server, sandbox, "rosie", "Card (Stripe)")
    back_to_the_shop(page, live_server, "rosie")

    reservation = Reservation.objects.get(puppy__slug="rosie")
    status_page = page.context.new_page()
    status_page.goto(f"{live_server.url}{reservation.get_absolute_url()}")
    assert status_page.get_by_role("link", name="Continue to payment").is_visible()
    screenshot_status(status_page, "pending")
    status_page.close()

    page.get_by_role("link", name="Continue to payment").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    assert page.url == first  # the same Checkout Session, not a new payment
    page.get_by_role("button", name="Pay").first.click()
    page.wait_for_url(f"{live_server.url}/reservations/**")

    assert "confirmed" in page.locator("main").inner_text().lower()
    assert "balance due at pickup" in page.locator("main").inner_text().lower()
    screenshot_status(page, "confirmed")
    reservation.refresh_from_db()
    assert reservation.status == "confirmed"
    with sandbox.stripe.state.lock:
        assert len(sandbox.stripe.state.sessions) == 1
        paid = [i for i in sandbox.stripe.state.intents.values() if i["status"] == "succeeded"]
    assert len(paid) == 1
    assert Reservation.objects.count() == 1


def test_back_on_paypal_then_continue_pays_the_same_order_once(page, sandbox, live_server):
    PuppyFactory(name="Rosie", slug="rosie")

    first = start_paying(page, live_server, sandbox, "rosie", "PayPal")
    back_to_the_shop(page, live_server, "rosie")

    page.get_by_role("link", name="Continue to payment").click()
    page.wait_for_url(f"{sandbox.public_url}/checkoutnow?token=**")
    assert page.url == first  # the same order's approve link
    page.get_by_role("button", name="Approve and pay").click()
    page.wait_for_url(f"{live_server.url}/reservations/**")

    assert "confirmed" in page.locator("main").inner_text().lower()
    reservation = Reservation.objects.get(puppy__slug="rosie")
    assert (reservation.provider, reservation.status) == ("paypal", "confirmed")
    with sandbox.paypal.state.lock:
        assert len(sandbox.paypal.state.orders) == 1
        assert len(sandbox.paypal.state.captures) == 1


def test_another_browser_sees_on_hold_without_the_continue_button(
    page, browser, sandbox, live_server
):
    PuppyFactory(name="Rosie", slug="rosie")
    start_paying(page, live_server, sandbox, "rosie", "Card (Stripe)")

    other = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        someone = other.new_page()
        someone.goto(f"{live_server.url}/puppies/rosie/")
        text = someone.locator("main").inner_text()
        assert "another family is paying the deposit right now" in text
        assert "You started reserving" not in text
        assert someone.get_by_role("link", name="Continue to payment").count() == 0
        assert someone.get_by_role("button", name="Cancel reservation").count() == 0
    finally:
        other.close()


def test_cancel_from_the_status_page_frees_the_puppy_at_once(page, sandbox, live_server):
    PuppyFactory(name="Rosie", slug="rosie")
    start_paying(page, live_server, sandbox, "rosie", "Card (Stripe)")
    reservation = Reservation.objects.get(puppy__slug="rosie")

    page.goto(f"{live_server.url}{reservation.get_absolute_url()}")
    page.get_by_role("button", name="Cancel reservation").click()
    page.wait_for_load_state()

    assert page.get_by_role("heading", level=1).inner_text() == "Reservation cancelled"
    assert Puppy.objects.get(slug="rosie").status == "available"
    page.get_by_role("link", name="Try again").click()
    page.wait_for_url(f"{live_server.url}/puppies/rosie/")
    assert page.get_by_role("button", name="Reserve and pay the deposit").is_visible()
    assert "Available" in page.locator(".puppy__heading").inner_text()
