"""Every kind of page carries the security headers: a CSP with nothing inline and no
framing, nosniff, a referrer policy, X-Frame-Options, and HSTS over HTTPS."""

import re

import pytest
from django.urls import reverse

from kennel.core.security import content_security_policy
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(db):
    puppy = PuppyFactory(slug="biscuit")
    reservation = ReservationFactory(puppy=PuppyFactory(slug="pepper"))
    return {
        "catalogue": ("/", 200),
        "puppy": (puppy.get_absolute_url(), 200),
        "status page": (reservation.get_absolute_url(), 200),
        "API": ("/api/puppies/", 200),
        "API reservation": (f"/api/reservations/{reservation.token}/", 200),
        "health": ("/health/", 200),
        "admin login": (reverse("admin:login"), 200),
        "404": ("/no/such/page/", 404),
        "API 404": ("/api/no-such-route/", 404),
    }


def assert_secure_headers(response, *, https: bool = False) -> None:
    csp = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    for kind in ("script-src", "style-src"):
        assert "unsafe-inline" not in directives[kind]
        assert "unsafe-eval" not in directives[kind]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    if https:
        assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.parametrize(
    "kind",
    [
        "catalogue",
        "puppy",
        "status page",
        "API",
        "API reservation",
        "health",
        "admin login",
        "404",
        "API 404",
    ],
)
def test_every_page_type_sends_the_security_headers(client, pages, kind, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    url, status = pages[kind]

    response = client.get(url)

    assert response.status_code == status
    assert_secure_headers(response)
    assert "Strict-Transport-Security" not in response  # never over plain HTTP

    over_https = client.get(url, secure=True)
    assert over_https.status_code == status
    assert_secure_headers(over_https, https=True)


@pytest.mark.urls("tests.core.outage_urls")
def test_the_database_outage_page_sends_them_too(client):
    response = client.get("/outage/")

    assert response.status_code == 503
    assert_secure_headers(response)


def test_behind_a_proxy_https_is_recognised_by_its_header(client, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/").status_code == 301  # plain HTTP is sent to https
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == 200
    assert_secure_headers(response, https=True)
    # Monitors inside the network may ask over plain HTTP.
    assert client.get("/health/").status_code == 200


# A <script type="application/ld+json"> is data the browser never runs (schema.org, puppy page).
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/ld\+json\")[^>]*>"
    r"|\sstyle=|<style|\son[a-z]+=|javascript:",
    re.IGNORECASE,
)


def test_pages_have_no_inline_script_or_style(client, pages, admin_client):
    for kind, (url, _) in pages.items():
        assert not INLINE.findall(client.get(url).content.decode()), kind


def test_the_admin_pages_have_no_inline_script_or_style(admin_client):
    puppy = PuppyFactory(slug="biscuit")
    for url in (
        reverse("admin:index"),
        reverse("admin:catalogue_puppy_changelist"),
        reverse("admin:catalogue_puppy_change", args=[puppy.pk]),
        reverse("admin:catalogue_puppy_add"),
        reverse("admin:catalogue_puppy_delete", args=[puppy.pk]),
        reverse("admin:reservations_reservation_changelist"),
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert not INLINE.findall(response.content.decode()), url
        assert_secure_headers(response)


def test_the_reserve_form_may_be_redirected_to_the_payment_pages(settings):
    settings.PAYMENTS_MODE = "live"
    settings.STRIPE_API_BASE = ""
    settings.PAYPAL_API_BASE = "https://api-m.paypal.com"
    form_action = dict(d.strip().split(" ", 1) for d in content_security_policy().split(";"))[
        "form-action"
    ].split()
    assert "'self'" in form_action
    assert "https://checkout.stripe.com" in form_action
    assert "https://www.paypal.com" in form_action

    settings.PAYMENTS_MODE = "sandbox"
    settings.STRIPE_API_BASE = "http://127.0.0.1:8111"
    assert "http://127.0.0.1:8111" in content_security_policy()
    assert "checkout.stripe.com" not in content_security_policy()
