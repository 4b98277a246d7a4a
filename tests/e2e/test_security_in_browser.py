"""Under the Content-Security-Policy, in Chromium: the Django admin still works (log in, a
change list, an action's confirmation page, its scripts running), the shop's pages and the
sandbox's hosted page render styled, and the browser reports no blocked resource."""

import pytest
from django.contrib.auth import get_user_model

from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-admin-password-42"


def test_the_admin_works_under_the_policy(page, live_server, csp_violations):
    get_user_model().objects.create_superuser("owner", "owner@example.com", PASSWORD)
    PuppyFactory(name="Biscuit", slug="biscuit")
    PuppyFactory(name="Pepper", slug="pepper")

    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Username").fill("owner")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")

    page.goto(f"{live_server.url}/admin/catalogue/puppy/")
    assert "Biscuit" in page.locator("#result_list").inner_text()
    # The admin's actions.js runs: ticking "select all" ticks every row.
    page.locator("#action-toggle").check()
    assert page.locator("input.action-select:checked").count() == 2
    page.locator("select[name=action]").select_option("delete_selected")
    page.get_by_role("button", name="Go").click()
    assert "Are you sure you want to delete" in page.locator("#content").inner_text()
    assert page.locator("input[type=submit]").first.is_visible()
    # "No, take me back" works through the admin's cancel.js (a script file, not inline).
    page.get_by_role("link", name="No, take me back").click()
    page.wait_for_selector("#result_list")
    # The admin's stylesheet applies (no inline style needed).
    header = page.locator("#header")
    assert header.evaluate("e => getComputedStyle(e).display") == "flex"

    assert csp_violations == []


def test_the_shop_and_the_sandbox_checkout_render_styled(
    page, live_server, sandbox, csp_violations
):
    PuppyFactory(name="Biscuit", slug="biscuit")

    page.goto(f"{live_server.url}/puppies/biscuit/")
    assert page.locator("body").evaluate("e => getComputedStyle(e).fontFamily") != ""
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_label("Card (Stripe)").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()

    # The form's redirect to the payment page is allowed (form-action).
    page.wait_for_url(f"{sandbox.public_url}/**")
    banner = page.locator(".banner")
    # Its inline <style>, allowed by hash, applies: the banner's yellow background.
    assert banner.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 244, 204)"

    assert csp_violations == []


def test_the_api_docs_render_offline_under_the_policy(page, live_server, csp_violations):
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url) if not request.url.startswith(live_server.url) else None
        ),
    )

    page.goto(f"{live_server.url}/api/docs")

    page.get_by_text("POST", exact=True).first.wait_for()
    assert "/api/reservations/" in page.locator("#swagger-ui").inner_text()
    assert outside == []
    assert csp_violations == []
