"""The shared layout: landmarks, breeder contact, the sandbox banner, static files, 404."""

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_layout_has_skip_link_main_landmark_shop_name_and_breeder_contact(client, settings):
    settings.SHOP_NAME = "Willowbrook Kennel"
    settings.BREEDER_NAME = "Margaret Hale"
    settings.BREEDER_EMAIL = "margaret@example.com"
    settings.BREEDER_PHONE = "+33 6 11 22 33 44"

    html = client.get(reverse("catalogue:index")).content.decode()

    assert '<a class="skip-link" href="#main">' in html
    assert '<main id="main"' in html
    assert "Willowbrook Kennel" in html
    assert "Margaret Hale" in html
    assert 'href="mailto:margaret@example.com"' in html
    assert 'href="tel:+33611223344"' in html
    assert "/static/kennel/site.css" in html


def test_sandbox_mode_shows_a_no_real_payments_banner(client, settings):
    settings.PAYMENTS_MODE = "sandbox"
    assert "Sandbox mode: no real payments" in client.get("/").content.decode()

    settings.PAYMENTS_MODE = "live"
    assert "Sandbox mode" not in client.get("/").content.decode()


def test_shop_stylesheet_and_status_script_are_served_as_static_files():
    assert finders.find("kennel/site.css"), "add PACKAGE_DIR / 'static' to STATICFILES_DIRS"
    assert finders.find("kennel/status.js")


def test_unknown_page_gets_the_shop_404_page(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "We could not find that page" in html
    assert 'data-error-code="NOT_FOUND"' in html
    assert '<main id="main"' in html


def test_500_page_renders_without_a_request_context():
    from django.template.loader import get_template

    html = get_template("500.html").render()

    assert "Something went wrong" in html
    assert 'data-error-code="SERVER_ERROR"' in html
