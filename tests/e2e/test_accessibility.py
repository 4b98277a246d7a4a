"""Every page type a buyer meets passes axe-core (no serious or critical violation) at a
phone's width (390 px) and a laptop's (1280 px), in Chromium under the shop's CSP. Each check
saves its screenshots to var/screenshots/a11y-<page>-<width>.png (not in git)."""

from typing import Any

import pytest

from kennel.catalogue.models import Puppy
from kennel.ops.demo.loader import demo_load
from kennel.reservations.models import Reservation

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
