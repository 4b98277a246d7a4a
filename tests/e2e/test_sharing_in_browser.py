"""In Chromium, under the shop's Content-Security-Policy: the puppy page's JSON-LD is data the
browser reads without any policy violation, the breeder's pages render, and the reserve form
refuses to go on until the terms are accepted."""

import io
import json

import pytest
from PIL import Image

from kennel.catalogue.images import photo_process
from kennel.catalogue.models import Page, PuppyPhoto
from kennel.reservations.buyers import TERMS_NOT_ACCEPTED_MESSAGE
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_json_ld_and_social_tags_raise_no_policy_violation(
    page, live_server, settings, tmp_path, csp_violations
):
    settings.MEDIA_ROOT = tmp_path
    puppy = PuppyFactory(slug="honey", name="Honey")
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 750), "#d8983f").save(buffer, "JPEG")
    photo_process(photo=PuppyPhoto(puppy=puppy, alt="Honey", position=1), upload=buffer)

    page.goto(f"{live_server.url}/puppies/honey/")

    text = page.locator('script[type="application/ld+json"]').text_content()
    data = json.loads(text)
    assert data["offers"]["availability"] == "https://schema.org/InStock"
    assert page.locator('meta[property="og:image"]').get_attribute("content").endswith(".jpg")
    assert page.locator('link[rel="canonical"]').count() == 1
    assert page.get_by_role("heading", name="Honey", exact=True).is_visible()
    assert csp_violations == []


def test_a_breeders_page_renders_and_the_terms_must_be_ticked_to_reserve(
    page, live_server, sandbox, csp_violations
):
    Page.objects.create(kind="terms", title="Deposit and refund terms", body="**Refundable**.")
    puppy = PuppyFactory(slug="biscuit", name="Biscuit")

    page.goto(f"{live_server.url}/puppies/biscuit/")
    page.get_by_label("Name").fill("Jane Doe")
    page.get_by_label("Email").fill("jane.doe@example.com")
    page.get_by_label("Phone").fill("+33 6 12 34 56 78")
    page.get_by_role("button", name="Reserve and pay the deposit").click()

    page.wait_for_load_state()
    error = page.locator("#id_accept_terms-error")
    assert TERMS_NOT_ACCEPTED_MESSAGE in error.inner_text()
    assert not Reservation.objects.filter(puppy=puppy).exists()

    with page.expect_popup() as popup:
        page.locator(".reserve-form").get_by_role("link", name="deposit and refund terms").click()
    terms = popup.value
    terms.wait_for_load_state()
    assert terms.get_by_role("heading", name="Deposit and refund terms", level=1).is_visible()
    assert terms.locator("strong", has_text="Refundable").is_visible()

    page.get_by_label("I accept the deposit and refund terms").check()
    page.get_by_role("button", name="Reserve and pay the deposit").click()
    page.wait_for_url(f"{sandbox.public_url}/**")
    assert Reservation.objects.get(puppy=puppy).terms_version
    assert csp_violations == []
