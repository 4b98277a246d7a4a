"""Phone first, in Chromium at 390x844 under the shop's CSP: the catalogue's first screen
shows a puppy (the filters wait behind one control); the puppy page keeps its price and a
*Reserve* link in a bar at the bottom that leads to the form; the photos open in a dialog
that Esc closes, giving focus back to the photo; after a failed submit focus is on the error
summary."""

import io
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from kennel.catalogue.images import photo_process
from kennel.catalogue.models import Puppy, PuppyPhoto
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def with_photos(puppy: Puppy, count: int) -> None:
    for position in range(1, count + 1):
        buffer = io.BytesIO()
        Image.new("RGB", (1200, 900), (200, 150 + position * 20, 90)).save(buffer, "JPEG")
        photo = PuppyPhoto(puppy=puppy, alt=f"{puppy.name}, photo {position}", position=position)
        photo_process(photo=photo, upload=buffer)


def focused(page: Any, selector: str) -> bool:
    return page.evaluate(
        "s => !!document.activeElement && !!document.activeElement.closest(s)", selector
    )


def test_the_catalogues_first_screen_shows_a_puppy_with_the_filters_folded(
    page, live_server, csp_violations
):
    for name in ("Honey", "Marley", "Poppy"):
        PuppyFactory(name=name, slug=name.lower())
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/")

    card = page.locator(".card").first.bounding_box()
    assert card is not None
    assert card["y"] < PHONE["height"]
    toggle = page.get_by_text("Filter the puppies", exact=True)
    assert toggle.is_visible()
    assert not page.get_by_label("Breed").is_visible()
    toggle.click()
    assert page.get_by_label("Breed").is_visible()

    # A filter in use: the panel is open, says how many, and the cards still start on screen.
    page.goto(f"{live_server.url}/?sex=female")
    assert page.get_by_label("Sex").is_visible()
    assert "(1 active)" in page.locator(".filters-panel__toggle").inner_text()
    assert csp_violations == []


def test_the_sticky_bar_shows_the_price_and_leads_to_the_form(page, live_server, csp_violations):
    PuppyFactory(name="Honey", slug="honey", price=Decimal("2800.00"))
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/puppies/honey/")

    bar = page.locator("[data-buy-bar]")
    assert bar.is_visible()
    box = bar.bounding_box()
    assert box is not None
    assert abs(box["y"] + box["height"] - PHONE["height"]) < 2
    assert "2,800.00" in bar.inner_text()
    reserve = bar.get_by_role("link", name="Reserve Honey")
    reserve.click()
    page.wait_for_function("() => document.activeElement?.id === 'reserve'")
    form = page.locator("#reserve").bounding_box()
    assert form is not None
    assert 0 <= form["y"] < PHONE["height"] / 2

    # With the form's own button on screen the bar steps aside, so it never covers it.
    page.get_by_role("button", name="Reserve and pay the deposit").scroll_into_view_if_needed()
    expect(bar).to_be_hidden()
    assert page.get_by_role("button", name="Reserve and pay the deposit").is_visible()

    # On a laptop the price box sits beside the photos: no bar.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.evaluate("() => window.scrollTo(0, 0)")
    expect(bar).to_be_hidden()
    assert csp_violations == []


@pytest.mark.parametrize(
    ("currency", "price", "deposit"),
    [("HUF", "950000", "190000"), ("GBP", "999999.99", "199999.99")],
)
def test_on_a_320_px_phone_in_french_the_bars_button_stays_on_screen(
    page, live_server, csp_violations, currency, price, deposit
):
    """Tried: in French at 320 px, a forint price pushed *Réserver* past the screen's edge."""
    PuppyFactory(
        name="Honey", slug="honey", currency=currency, price=Decimal(price), deposit=deposit
    )
    small = {"width": 320, "height": 640}
    page.set_viewport_size(small)
    page.set_extra_http_headers({"Accept-Language": "fr"})

    page.goto(f"{live_server.url}/puppies/honey/")

    assert page.locator("html").get_attribute("lang") == "fr"
    bar = page.locator("[data-buy-bar]")
    assert bar.is_visible()
    reserve = bar.get_by_role("link", name="Réserver Honey")
    box = reserve.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= small["width"]
    assert box["y"] + box["height"] <= small["height"]
    price_box = bar.locator(".buy-bar__price").bounding_box()
    assert price_box is not None
    assert price_box["x"] + price_box["width"] <= small["width"]
    assert page.evaluate("() => document.documentElement.scrollWidth") <= small["width"]
    reserve.click()
    page.wait_for_function("() => document.activeElement?.id === 'reserve'")
    assert csp_violations == []


def test_no_sticky_bar_when_another_family_holds_the_puppy(page, live_server):
    PuppyFactory(name="Honey", slug="honey", status=Puppy.Status.HELD)
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/puppies/honey/")

    assert page.locator("[data-buy-bar]").count() == 0


def test_a_photo_opens_in_a_lightbox_that_esc_closes(
    page, live_server, media_in_browser, csp_violations
):
    puppy = PuppyFactory(name="Honey", slug="honey")
    with_photos(puppy, 2)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/puppies/honey/")

    link = page.locator("a[data-lightbox]").first
    large = link.get_attribute("href")
    link.click()

    dialog = page.get_by_role("dialog")
    assert dialog.is_visible()
    image = dialog.get_by_role("img", name="Honey, photo 1")
    assert image.get_attribute("src") == large
    page.wait_for_function("() => document.querySelector('.lightbox__image').naturalWidth > 0")
    assert focused(page, "dialog")
    # Tab and Shift+Tab stay inside the dialog.
    for key in ("Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"):
        page.keyboard.press(key)
        assert focused(page, "dialog"), key
    dialog.get_by_role("button", name="Next photo").click()
    assert dialog.get_by_role("img", name="Honey, photo 2").is_visible()

    page.keyboard.press("Escape")

    assert not dialog.is_visible()
    assert page.evaluate("document.activeElement === document.querySelector('a[data-lightbox]')")
    assert csp_violations == []


def test_the_photos_are_plain_links_to_the_large_image_without_javascript(
    browser, live_server, media_in_browser
):
    puppy = PuppyFactory(name="Honey", slug="honey")
    with_photos(puppy, 1)
    context = browser.new_context(java_script_enabled=False, viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/puppies/honey/")
        href = page.locator("a[data-lightbox]").first.get_attribute("href")
        assert href.startswith("/media/")
        assert href.endswith(".jpg")
        # The bar's link is a plain anchor to the form.
        assert page.locator("[data-buy-bar] a").get_attribute("href") == "#reserve"
    finally:
        context.close()


def test_after_an_empty_submit_focus_is_on_the_error_summary(page, live_server, csp_violations):
    PuppyFactory(name="Honey", slug="honey")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/puppies/honey/")

    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_load_state()

    summary = page.get_by_role("alert").filter(has_text="Please check the form")
    assert summary.is_visible()
    page.wait_for_function("() => document.activeElement?.id === 'error-summary'")
    # Its links lead to the fields.
    summary.get_by_role("link").first.click()
    assert page.evaluate("document.activeElement.id") == "id_name"
    assert csp_violations == []
