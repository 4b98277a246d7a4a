"""The breeder's back office in Chromium: log in, go from the dashboard to the confirmed
reservations, open one, refund its deposit from its page (the confirmation says the amount
and who is told), and see the puppy available again on the shop; the worker then refunds the
deposit at the provider once. Screenshots of the dashboard, the reservation page and the
refund's confirmation at desktop and phone width go to var/screenshots/ (not in git)."""

import re
from pathlib import Path
from typing import Any, cast

import pytest
from django.contrib.auth import get_user_model

from kennel.catalogue.models import Puppy
from kennel.reservations.models import Reservation
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory, ReservationFactory
from tests.payments import paypal_helpers, stripe_helpers
from tests.payments.flow import settled

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
USERNAME = "breeder"
PASSWORD = "a-long-breeder-password-42"
OWNER = "owner@kennel.example"


def confirmed_reservation(sandbox: Any, live_server: Any, provider: str) -> Reservation:
    """A deposit really paid: reserved through the API, paid on the sandbox's page, its
    webhooks processed."""
    puppy = cast(Puppy, PuppyFactory(name="Biscuit", slug="biscuit"))
    created = stripe_helpers.reserve(live_server.url, puppy.slug, provider=provider, n=1)
    assert created.status_code == 201, created.text
    body = created.json()
    if provider == "stripe":
        stripe_helpers.choose(body["checkout_url"], "pay")
    else:
        paypal_helpers.come_back(paypal_helpers.approve(body["checkout_url"], "approve"))
    reservation = settled(sandbox, body["id"])
    assert reservation.status == "confirmed"
    return reservation


def provider_refunds(sandbox: Any, reservation: Reservation) -> list[dict[str, Any]]:
    """The refunds the sandbox holds for the reservation's payment."""
    payment = str(reservation.external_payment_id)
    if reservation.provider == "stripe":
        with sandbox.stripe.state.lock:
            return [
                dict(r)
                for r in sandbox.stripe.state.refunds.values()
                if payment in (r["payment_intent"], r["charge"])
            ]
    with sandbox.paypal.state.lock:
        return [
            dict(r)
            for rid, r in sandbox.paypal.state.refunds.items()
            if sandbox.paypal.state.refund_captures[rid] == payment
        ]


def log_in(page: Any, live_server: Any) -> None:
    """A staff superuser with a password, logged in through the admin's own login page."""
    get_user_model().objects.create_superuser(USERNAME, OWNER, PASSWORD)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")


def overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the window (0: no sideways scrolling)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def shoot(page: Any, name: str) -> dict[str, int]:
    """Full-page screenshots at desktop and phone width (back to desktop after); the phone
    width's overflow in pixels, for the caller to check."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflows = {}
    for width, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        path = SCREENSHOTS / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.is_file(), path
        assert path.stat().st_size > 0, path
        overflows[width] = overflow(page)
    page.set_viewport_size(DESKTOP)
    return overflows


@pytest.mark.parametrize("provider", ["stripe", "paypal"])
def test_the_breeder_refunds_a_confirmed_reservation_from_the_dashboard(
    page, sandbox, live_server, settings, csp_violations, provider
):
    settings.OWNER_EMAIL = OWNER
    reservation = confirmed_reservation(sandbox, live_server, provider)
    page.set_viewport_size(DESKTOP)
    log_in(page, live_server)

    # The dashboard: one confirmed deposit, in euros, a link to those reservations.
    deposits = page.get_by_role("region", name="Deposits")
    assert "400.00 EUR" in deposits.inner_text()
    dashboard = shoot(page, f"back-office-{provider}-dashboard")
    deposits.get_by_role("link", name="1 confirmed reservation · 400.00 EUR").click()
    page.wait_for_url(re.compile(r"/admin/reservations/reservation/\?.*status__exact=confirmed"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    rows.first.get_by_role("link", name="Biscuit").click()

    # The reservation's page: the deposit held, and the refund among its buttons, last.
    change = re.compile(rf"/admin/reservations/reservation/{reservation.pk}/change/(\?.*)?$")
    page.wait_for_url(change)
    assert "Deposit held" in page.locator(".kennel-cards").inner_text()
    crumbs = page.locator(".breadcrumbs").inner_text()
    assert crumbs.endswith(
        "Reservations \N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK} Biscuit for Jane Doe"
    )
    actions = page.get_by_role("navigation", name="What you can do").get_by_role("link")
    assert actions.all_inner_texts() == ["Picked up", "Resend confirmation", "Cancel and refund"]
    # Who did what, in words (the raw actor, such as stripe:evt_…, is the tooltip).
    timeline = page.get_by_role("region", name="Timeline").inner_text()
    assert "the buyer" in timeline
    assert not re.search(r"\b(stripe|paypal|buyer|system|staff):", timeline), timeline
    detail = shoot(page, f"back-office-{provider}-reservation")
    page.get_by_role("link", name="Cancel and refund").click()

    # The confirmation says how much goes back, in which currency, and who is told.
    page.wait_for_url(re.compile(rf"/{reservation.pk}/refund/(\?.*)?$"))
    text = page.locator("#content-main").inner_text()
    assert "Refunded to the buyer: 400.00 EUR" in text
    assert f"Told by email: the buyer (buyer1@example.com) and you ({OWNER})" in text
    assert "Biscuit is available again on the shop" in text
    assert Reservation.objects.get(pk=reservation.pk).status == "confirmed"  # nothing yet
    confirmation = shoot(page, f"back-office-{provider}-refund-confirmation")
    page.get_by_role("button", name="Yes, refund").click()

    page.wait_for_url(change)
    success = page.locator(".messagelist .success").inner_text()
    assert "400.00 EUR is being refunded to buyer1@example.com" in success
    assert Reservation.objects.get(pk=reservation.pk).status == "refunded"

    # The shop shows Biscuit available again, with the form to reserve it.
    page.goto(f"{live_server.url}/puppies/biscuit/")
    assert page.locator(".badge").first.inner_text().strip() == "Available"
    assert page.get_by_role("button", name="Reserve and pay the deposit").is_visible()

    run_worker_once()
    assert len(provider_refunds(sandbox, reservation)) == 1
    assert csp_violations == []
    assert dashboard["phone"] <= 1, f"the dashboard scrolls sideways on a phone: {dashboard}"
    assert detail["desktop"] <= 1, f"the reservation page scrolls sideways: {detail}"
    assert detail["phone"] <= 1, f"the reservation page scrolls sideways on a phone: {detail}"
    assert confirmation["phone"] <= 1, f"the confirmation scrolls sideways: {confirmation}"


def test_the_reservation_page_fits_a_phone(page, sandbox, live_server):
    reservation = confirmed_reservation(sandbox, live_server, "stripe")
    log_in(page, live_server)
    page.set_viewport_size(PHONE)

    page.goto(f"{live_server.url}/admin/reservations/reservation/{reservation.pk}/change/")

    assert "Deposit held" in page.locator(".kennel-cards").inner_text()
    assert overflow(page) <= 1


def test_the_breeder_releases_suspicious_holds_from_the_dashboard(
    page, live_server, csp_violations
):
    greedy = [
        cast(Reservation, ReservationFactory(client_key="k-greedy", buyer_email=email))
        for email in ("first@bot.example", "second@bot.example")
    ]
    log_in(page, live_server)

    suspicious = page.get_by_role("region", name="Suspicious holds")
    assert "first@bot.example and 1 other email" in suspicious.inner_text()
    dashboard = shoot(page, "back-office-suspicious-dashboard")
    suspicious.get_by_role("link", name="2 holds").click()
    page.wait_for_url(re.compile(r"client_key__exact=k-greedy"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    for n in range(2):
        rows.nth(n).locator("input.action-select").check()
    page.locator("select[name=action]").select_option("release_hold")
    page.get_by_role("button", name="Go").click()

    assert "These 2 reservations" in page.locator("#content-main").inner_text()
    confirmation = shoot(page, "back-office-suspicious-release-confirmation")
    page.get_by_role("button", name="Yes, release the hold").click()

    released = page.locator(".messagelist .success")
    released.nth(1).wait_for()
    assert released.count() == 2
    for reservation in greedy:
        reservation.refresh_from_db()
        assert reservation.status == "cancelled"
    page.goto(f"{live_server.url}/admin/")
    assert (
        "No suspicious holds." in page.get_by_role("region", name="Suspicious holds").inner_text()
    )
    assert csp_violations == []
    assert dashboard["phone"] <= 1, f"the dashboard scrolls sideways on a phone: {dashboard}"
    assert confirmation["phone"] <= 1, f"the confirmation scrolls sideways: {confirmation}"
