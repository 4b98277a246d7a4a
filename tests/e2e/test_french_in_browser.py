"""A reservation made in French, in Chromium: the buyer switches the shop to Français, reserves
and pays with Stripe in the sandbox, reads the French status page (money and times as French
writes them, the zone with each time), gets a French confirmation email while the owner's
stays English, then switches back to English and reads English."""

import re
from pathlib import Path

import pytest
from django.core import mail

from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
NBSP, NNBSP, APOS = "\u00a0", "\u202f", "\u2019"


def switch_to(page, language: str) -> None:
    """The footer's switch: a button per language the page is not in (a form, POST + CSRF)."""
    page.locator("form.lang-switch").get_by_role("button", name=language).click()
    page.wait_for_load_state()


def test_a_french_buyer_reserves_pays_reads_french_and_switches_back(
    page, sandbox, live_server, settings, csp_violations
):
    settings.OWNER_EMAIL = "owner@kennel.example"
    settings.BREEDER_NAME = "Élevage du Moulin"
    PuppyFactory(name="Rosie", slug="rosie", price="1500.00", deposit="300.00")
    page.set_viewport_size({"width": 390, "height": 844})  # on a phone
    page.goto(f"{live_server.url}/")
    assert page.locator("html").get_attribute("lang") == "en"

    switch_to(page, "Français")

    assert page.url == f"{live_server.url}/"  # back where they were
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", level=1).inner_text() == "Nos chiots"
    assert f"1{NNBSP}500,00{NBSP}€" in page.locator("main").inner_text()
    page.get_by_role("link", name="Rosie").click()
    page.wait_for_url(f"{live_server.url}/puppies/rosie/")
    page.get_by_label("Votre nom").fill("Camille Durand")
    page.get_by_label("E-mail").fill("camille@example.fr")
    page.get_by_label("Téléphone").fill("+33 6 12 34 56 78")
    page.locator('input[name="accept_terms"]').check()
    page.get_by_role("radio", name="Carte bancaire (Stripe)").check()
    page.get_by_role("button", name=f"Réserver et régler l{APOS}acompte").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    reservation = Reservation.objects.get(puppy__slug="rosie")
    assert reservation.language == "fr"

    mail.outbox.clear()
    page.get_by_role("button", name="Pay").first.click()
    page.wait_for_url(f"{live_server.url}/reservations/**")

    main = page.locator("main").inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == f"Réservée pour vous{NBSP}!"
    assert f"300,00{NBSP}€" in main
    assert f"1{NNBSP}200,00{NBSP}€" in main  # the balance
    assert "solde à régler au départ du chiot" in main.lower()  # (the labels are in capitals)
    # Each moment of the timeline in French, with its zone.
    assert re.search(r"\d{1,2} \w+ \d{4} à \d\d:\d\d CES?T", main), main
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "i18n-status-fr-390.png"), full_page=True)

    run_worker_once()
    by_recipient = {message.to[0]: message for message in mail.outbox}
    email = by_recipient["camille@example.fr"]
    assert email.subject == "Votre acompte pour Rosie est confirmé"
    assert "Bonjour Camille Durand," in email.body
    assert "Élevage du Moulin vous contactera dans les prochains jours" in email.body
    assert f"300,00{NBSP}€" in email.body
    owner = by_recipient["owner@kennel.example"]
    assert owner.subject == "Deposit received: Rosie, for Camille Durand"

    switch_to(page, "English")

    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Reserved for you!"
    main = page.locator("main").inner_text()
    assert "balance due at pickup" in main.lower()
    assert "1,200.00 EUR" in main
    assert re.search(r"\d{1,2} \w+ \d{4}, \d\d:\d\d CES?T", main), main
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("heading", level=1).inner_text() == "Our puppies"
    assert csp_violations == []
