"""Switching the language keeps what was typed, in Chromium: a buyer fills the reserve form
(or a family the waiting list's join form), switches the shop to Français with the footer's
switch, reads the page in French with every field still as they left it, and the form still
goes to the payment page. Without JavaScript the switch works as before (the fields empty)."""

from typing import Any

import pytest

from kennel.reservations.models import Reservation, WaitlistEntry
from tests.factories import LitterFactory, PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def switch_to(page: Any, language: str) -> None:
    """The footer's switch: a form per page (POST + CSRF), back to the same page."""
    page.locator("form.lang-switch").get_by_role("button", name=language).click()
    page.wait_for_load_state()


def values(page: Any, form: str, *names: str) -> list[str]:
    return [page.locator(f'{form} [name="{name}"]').input_value() for name in names]


def test_the_reserve_form_keeps_what_the_buyer_typed_when_they_switch_to_french(
    page, sandbox, live_server, csp_violations
):
    PuppyFactory(name="Rosie", slug="rosie", price="1500.00", deposit="300.00")
    page.goto(f"{live_server.url}/puppies/rosie/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_label("Your name").fill("Zoé Lefèvre")
    page.get_by_label("Email").fill("zoe@example.fr")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_role("radio", name="Card (Stripe)").check()
    page.locator('#reserve input[name="accept_terms"]').check()

    switch_to(page, "Français")

    # Tried: the page came back in French with the form empty.
    assert page.url == f"{live_server.url}/puppies/rosie/"
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", name="Réserver Rosie").is_visible()
    assert values(page, "#reserve", "name", "email", "phone") == [
        "Zoé Lefèvre",
        "zoe@example.fr",
        "+33 6 12 34 56 78",
    ]
    assert page.get_by_role("radio", name="Carte bancaire (Stripe)").is_checked()
    assert page.locator('#reserve input[name="accept_terms"]').is_checked()
    assert not page.locator('#reserve input[name="analytics_consent"]').is_checked()
    # Kept once: opening the page again shows an empty form.
    assert page.evaluate("() => sessionStorage.length") == 0

    page.locator("#reserve [data-reserve-submit]").click()  # the CSRF token is the page's own
    page.wait_for_url(f"{sandbox.public_url}/**")
    reservation = Reservation.objects.get(puppy__slug="rosie")
    assert (reservation.buyer_name, reservation.buyer_email, reservation.language) == (
        "Zoé Lefèvre",
        "zoe@example.fr",
        "fr",
    )
    assert csp_violations == []


def test_a_form_sent_back_with_errors_keeps_what_was_typed_across_the_switch(
    page, live_server, csp_violations
):
    PuppyFactory(name="Rosie", slug="rosie", price="1500.00", deposit="300.00")
    page.goto(f"{live_server.url}/puppies/rosie/")
    page.get_by_label("Your name").fill("Zoé Lefèvre")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.locator("#reserve [data-reserve-submit]").click()  # no email, no terms: sent back
    page.wait_for_load_state()
    assert page.locator("#error-summary").is_visible()

    switch_to(page, "Français")

    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.url == f"{live_server.url}/puppies/rosie/"
    assert values(page, "#reserve", "name", "email", "phone") == [
        "Zoé Lefèvre",
        "",
        "+33 6 12 34 56 78",
    ]
    page.goto(f"{live_server.url}/puppies/rosie/")  # once: a later visit starts empty
    assert values(page, "#reserve", "name", "phone") == ["", ""]
    assert csp_violations == []


def test_the_waiting_list_form_keeps_the_familys_wishes_when_it_switches_to_french(
    page, sandbox, live_server, csp_violations
):
    LitterFactory(name="Autumn litter", slug="autumn", open_list=True)
    page.goto(f"{live_server.url}/litters/autumn/")
    form = "#join-form"
    page.locator(f'{form} [name="name"]').fill("Ann Family")
    page.locator(f'{form} [name="email"]').fill("ann@example.com")
    page.locator(f'{form} [name="phone"]').fill("+33 6 12 34 56 78")
    page.locator(f'{form} input[name="sex"][value="female"]').check()
    page.locator(f'{form} [name="colour"]').fill("fauve")
    page.locator(f'{form} [name="notes"]').fill("Un jardin clos.\nDeux enfants.")
    page.locator(f'{form} input[name="provider"][value="stripe"]').check()
    page.locator(f'{form} input[name="accept_terms"]').check()

    switch_to(page, "Français")

    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.url == f"{live_server.url}/litters/autumn/"
    assert values(page, form, "name", "email", "phone", "colour", "notes") == [
        "Ann Family",
        "ann@example.com",
        "+33 6 12 34 56 78",
        "fauve",
        "Un jardin clos.\nDeux enfants.",
    ]
    assert page.locator(f'{form} input[name="sex"][value="female"]').is_checked()
    assert page.locator(f'{form} input[name="provider"][value="stripe"]').is_checked()
    assert page.locator(f'{form} input[name="accept_terms"]').is_checked()

    page.locator(f"{form} button[type=submit]").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    entry = WaitlistEntry.objects.select_related("reservation").get()
    assert (entry.sex, entry.colour, entry.notes) == (
        "female",
        "fauve",
        "Un jardin clos.\nDeux enfants.",
    )
    assert entry.reservation.language == "fr"
    assert csp_violations == []


def test_without_javascript_the_switch_works_as_before(browser, live_server):
    PuppyFactory(name="Rosie", slug="rosie", price="1500.00", deposit="300.00")
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/puppies/rosie/")
        page.get_by_label("Your name").fill("Zoé Lefèvre")

        switch_to(page, "Français")

        assert page.locator("html").get_attribute("lang") == "fr"
        assert page.url == f"{live_server.url}/puppies/rosie/"
        assert values(page, "#reserve", "name") == [""]
    finally:
        context.close()
