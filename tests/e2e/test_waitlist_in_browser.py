"""Two families on a litter's waiting list, in Chromium: each joins on the litter page and
pays its deposit on the sandbox's Stripe page, lands on its own page with its position; the
breeder opens picking; the first family gets the "your turn" email, chooses a puppy on its
page and sees it reserved; the second family's page then shows its turn."""

from typing import Any

import pytest
from django.core import mail

from kennel.catalogue.models import Puppy
from kennel.reservations.models import Reservation, WaitlistEntry
from kennel.reservations.picking import picking_open
from tests.conftest import run_worker_once
from tests.factories import LitterFactory, PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def join_and_pay(page: Any, live_server: Any, sandbox: Any, name: str, email: str) -> None:
    """From the shop's front page to the family's own page, through the sandbox's checkout."""
    page.goto(f"{live_server.url}/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Litters").click()
    page.get_by_role("link", name="Join the waiting list").click()
    page.wait_for_url(f"{live_server.url}/litters/autumn/#join")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_role("radio", name="Any").check()
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("radio", name="Card (Stripe)").check()
    page.get_by_role("button", name="Join and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    page.get_by_role("button", name="Pay").first.click()
    page.wait_for_url(f"{live_server.url}/waitlist/**")


def test_two_families_join_pay_wait_and_choose_in_turn(
    page, browser, sandbox, live_server, settings, csp_violations
):
    settings.OWNER_EMAIL = "owner@kennel.example"
    litter = LitterFactory(name="Autumn litter", slug="autumn", open_list=True)
    # Offered to the list's families only: not in the shop one by one.
    PuppyFactory(litter=litter, name="Amber", slug="amber", is_published=False)
    PuppyFactory(litter=litter, name="Bruno", slug="bruno", is_published=False, sex="male")

    join_and_pay(page, live_server, sandbox, "Ann Family", "ann@example.com")

    main = page.locator("main")
    assert page.get_by_role("heading", level=1).inner_text() == "You are on the list"
    assert "You are number 1 on the list." in main.inner_text()
    assert "No family is ahead of you." in main.inner_text()
    ann = WaitlistEntry.objects.get(reservation__buyer_email="ann@example.com")
    assert page.url == f"{live_server.url}{ann.get_absolute_url()}"

    other = browser.new_context(viewport={"width": 390, "height": 844})  # on a phone
    try:
        page_b = other.new_page()
        page_b.set_default_timeout(15_000)
        join_and_pay(page_b, live_server, sandbox, "Ben Family", "ben@example.com")
        assert "You are number 2 on the list." in page_b.locator("main").inner_text()
        assert "1 family ahead of you." in page_b.locator("main").inner_text()

        run_worker_once()  # the "you are on the list" emails
        mail.outbox.clear()
        picking_open(litter_id=litter.pk, actor="test")
        run_worker_once()

        ann_link = f"{live_server.url}{ann.get_absolute_url()}"
        to_ann = [m for m in mail.outbox if m.to == ["ann@example.com"]]
        assert to_ann, [m.to for m in mail.outbox]
        assert any(ann_link in m.body for m in to_ann), [m.body for m in to_ann]
        assert not [m for m in mail.outbox if m.to == ["ben@example.com"]]  # not their turn

        page.goto(ann_link)
        assert page.get_by_role("heading", level=1).inner_text() == "It is your turn to choose!"
        assert page.locator("[data-countdown]").is_visible()  # the script counts down
        page.get_by_role("button", name="Choose Amber").click()
        page.wait_for_url(f"{live_server.url}/reservations/**")
        assert page.get_by_role("heading", level=1).inner_text() == "Reserved for you!"
        assert "confirmed" in page.locator("main").inner_text().lower()
        assert "1,700.00 EUR" in page.locator("main").inner_text()  # the balance at pickup
        assert Puppy.objects.get(slug="amber").status == Puppy.Status.RESERVED
        assert Reservation.objects.get(pk=ann.reservation_id).puppy_id is not None

        page_b.reload()
        heading = page_b.get_by_role("heading", level=1).inner_text()
        assert heading == "It is your turn to choose!"
        assert page_b.get_by_role("button", name="Choose Bruno").is_visible()
        assert page_b.get_by_role("button", name="Choose Amber").count() == 0
    finally:
        other.close()
    assert csp_violations == []
