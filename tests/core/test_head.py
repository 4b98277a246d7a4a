"""Every page answers HEAD like GET (uptime monitors use it): same status, same headers, no
body — the views declared GET-only and the API's GET routes included."""

import re
from collections.abc import Iterator

import pytest
from django.core.handlers.base import BaseHandler
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import RequestFactory
from django.urls import reverse

from kennel.api.routers import api
from tests.factories import PuppyFactory, ReservationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def get_urls(db, settings):
    settings.METRICS_TOKEN = ""  # /metrics open, as without the setting
    puppy = PuppyFactory(slug="biscuit")
    reservation = ReservationFactory(puppy=PuppyFactory(slug="pepper"))
    urls = [
        "/",
        puppy.get_absolute_url(),
        reservation.get_absolute_url(),
        "/reservations/no-such-token/",
        "/health/",
        "/health/webhooks/",
        "/metrics",
        reverse("admin:login"),
        "/no/such/page/",
        f"/payments/stripe/return/?reservation={reservation.token}",
        "/payments/stripe/cancel/?reservation=unknown",
    ]
    # Every GET route of the JSON API, with its path parameters filled in.
    values = {"token": reservation.token, "slug": "biscuit"}
    for route, operations in api.get_openapi_schema()["paths"].items():
        if "get" in operations:
            urls.append(re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), route))
    return urls


def test_head_answers_like_get_without_a_body(client, get_urls):
    assert any(url.startswith("/api/") for url in get_urls)
    for url in get_urls:
        got = client.get(url)
        head = client.head(url)
        assert head.status_code == got.status_code, url
        assert head.status_code != 405, url
        assert head.content == b"", url
        assert head["Content-Type"] == got["Content-Type"], url


@pytest.fixture
def handler() -> Iterator[BaseHandler]:
    """The middleware stack and views, without a server or the test client around them."""
    handler = BaseHandler()
    handler.load_middleware()
    # As the test client does: a finished response must not close the test's connection.
    request_finished.disconnect(close_old_connections)
    try:
        yield handler
    finally:
        request_finished.connect(close_old_connections)


def test_the_body_is_dropped_by_kennel_not_only_by_the_server(handler):
    """granian or any WSGI server in front gets no body to send for HEAD (the test client
    would drop it itself: here the middleware stack's own answer is looked at)."""
    for url in ("/", "/health/", "/api/puppies/", "/static/kennel/site.css"):
        response = handler.get_response(RequestFactory().head(url))
        assert response.status_code == 200, url
        body = b"".join(response) if response.streaming else response.content
        response.close()
        assert body == b"", url
        assert int(response["Content-Length"]) > 0, url  # the GET's length
