"""Every page type a buyer meets passes axe-core (no serious or critical violation) at a
phone's width (390 px) and a laptop's (1280 px), in Chromium under the shop's CSP. Each check
saves its screenshots to var/screenshots/a11y-<page>-<width>.png (not in git)."""

from typing import Any

import pytest

from kennel.catalogue.models import Litter, Puppy
from kennel.core.db import locked_transaction
from kennel.ops.demo.loader import demo_load
from kennel.reservations.buyers import Buyer
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.picking import picking_open
from kennel.reservations.services import (
    lock_for_payment,
    reservation_confirm,
    reservation_set_checkout,
)
from kennel.reservations.waitlist import Preferences, waitlist_join
from tests.factories import LitterFactory, PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CONTENT_PAGES = ("about", "faq", "terms", "privacy", "imprint", "parents")


def report(violations: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{v['page']} @ {v['width']}px: {v['impact']} {v['id']} ({v['help']}) on {v['nodes'][:3]}"
        for v in violations
    )


def start_paying(page: Any, live_server: Any, sandbox: Any, slug: str) -> None:
    page.goto(f"{live_server.url}/puppies/{slug}/")
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("radio", name="Card (Stripe)").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/**")


def test_the_catalogue_content_and_error_pages_pass_axe(
    page, live_server, media_in_browser, axe_check, csp_violations
):
    demo_load()
    found: list[dict[str, Any]] = []

    page.goto(f"{live_server.url}/")
    found += axe_check(page, "catalogue")
    page.goto(f"{live_server.url}/?breed=Border+Collie&status=available")
    found += axe_check(page, "catalogue-filtered")
    page.goto(f"{live_server.url}/puppies/honey/")
    found += axe_check(page, "puppy-available")
    page.locator("a[data-lightbox]").first.click()
    assert page.get_by_role("dialog").is_visible()
    found += axe_check(page, "puppy-lightbox")
    page.keyboard.press("Escape")
    page.goto(f"{live_server.url}/puppies/teddy/")
    found += axe_check(page, "puppy-sold")
    for kind in CONTENT_PAGES:
        page.goto(f"{live_server.url}/{kind}/")
        assert page.get_by_role("heading", level=1).count() == 1
        found += axe_check(page, kind)
    response = page.goto(f"{live_server.url}/puppies/no-such-puppy/")
    assert response.status == 404
    found += axe_check(page, "404")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/puppies/honey/")
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    found += axe_check(page, "reserve-form-errors")

    assert found == [], report(found)
    assert csp_violations == []


def test_the_hold_status_race_and_cancel_pages_pass_axe(
    page, browser, live_server, sandbox, media_in_browser, axe_check, csp_violations
):
    demo_load()
    found: list[dict[str, Any]] = []

    start_paying(page, live_server, sandbox, "rosie")
    page.go_back()
    page.wait_for_url(f"{live_server.url}/puppies/rosie/")
    assert page.locator("[data-resume]").is_visible()
    found += axe_check(page, "puppy-held-resumable")

    reservation = Reservation.objects.get(puppy__slug="rosie", status="pending")
    page.goto(f"{live_server.url}{reservation.get_absolute_url()}")
    found += axe_check(page, "status-pending")

    other = browser.new_context()
    try:
        someone = other.new_page()
        someone.goto(f"{live_server.url}/puppies/rosie/")
        assert "another family is paying the deposit" in someone.locator("main").inner_text()
        found += axe_check(someone, "puppy-held")
        someone.goto(f"{live_server.url}/puppies/rosie/?taken=1")
        assert "reserved by another family" in someone.locator("h1").inner_text()
        found += axe_check(someone, "race-lost")
    finally:
        other.close()

    page.goto(f"{live_server.url}/puppies/rosie/")
    page.get_by_role("link", name="Continue to payment").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    page.get_by_role("button", name="Pay").first.click()
    page.wait_for_url(f"{live_server.url}/reservations/**")
    assert "confirmed" in page.locator("main").inner_text().lower()
    found += axe_check(page, "status-confirmed")

    start_paying(page, live_server, sandbox, "daisy")
    page.get_by_role("button", name="Cancel and go back to the shop").click()
    page.wait_for_url(f"{live_server.url}/payments/**")
    assert Puppy.objects.get(slug="daisy").status == Puppy.Status.AVAILABLE
    found += axe_check(page, "payment-cancelled")

    assert found == [], report(found)
    assert csp_violations == []


def on_waitlist(litter: Litter, n: int, *, pay: bool = True) -> WaitlistEntry:
    """A family on `litter`'s list (its deposit paid unless `pay` is False)."""
    entry = waitlist_join(
        litter_slug=litter.slug,
        buyer=Buyer(name=f"Family {n}", email=f"family{n}@example.com", phone="+33 600000000"),
        provider="stripe",
        preferences=Preferences(),
    )
    with locked_transaction():
        reservation = lock_for_payment(reservation_id=entry.reservation_id)
        if pay:
            reservation_confirm(reservation, payment_id=f"pi_family_{n}", actor="test")
        else:
            reservation_set_checkout(
                reservation=reservation, reference=f"cs_{n}", url="https://pay.example/"
            )
    entry.refresh_from_db()
    return entry


def test_the_litter_and_waiting_list_pages_pass_axe(page, live_server, axe_check, csp_violations):
    litter = LitterFactory(name="Autumn litter", slug="autumn", open_list=True)
    PuppyFactory(litter=litter, name="Amber", slug="amber")
    PuppyFactory(litter=litter, name="Bruno", slug="bruno", sex="male", is_published=False)
    LitterFactory(name="Spring litter", slug="spring", stage="planned", born_on=None)
    found: list[dict[str, Any]] = []

    page.goto(f"{live_server.url}/litters/")
    found += axe_check(page, "litters")
    page.goto(f"{live_server.url}/litters/autumn/")
    found += axe_check(page, "litter-open")
    page.get_by_role("button", name="Join and pay the deposit").click()
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()
    found += axe_check(page, "litter-join-errors")
    page.goto(f"{live_server.url}/litters/spring/")
    assert "The waiting list is not open." in page.locator("main").inner_text()
    found += axe_check(page, "litter-closed")
    response = page.goto(f"{live_server.url}/litters/no-such-litter/")
    assert response.status == 404
    found += axe_check(page, "litter-404")

    paying = on_waitlist(litter, 1, pay=False)
    first, second = on_waitlist(litter, 2), on_waitlist(litter, 3)
    page.goto(f"{live_server.url}{paying.get_absolute_url()}")
    assert page.get_by_role("link", name="Continue to payment").is_visible()
    found += axe_check(page, "waitlist-pending")
    page.goto(f"{live_server.url}{second.get_absolute_url()}")
    assert "1 family ahead of you." in page.locator("main").inner_text()
    found += axe_check(page, "waitlist-waiting")

    picking_open(litter_id=litter.pk, actor="test")
    page.goto(f"{live_server.url}{first.get_absolute_url()}")
    assert page.get_by_role("button", name="Choose Amber").is_visible()
    found += axe_check(page, "waitlist-choosing")
    page.get_by_role("button", name="Pass").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "You passed your turn"
    found += axe_check(page, "waitlist-passed")
    response = page.goto(f"{live_server.url}/waitlist/no-such-token/")
    assert response.status == 404
    found += axe_check(page, "waitlist-404")

    assert found == [], report(found)
    assert csp_violations == []
