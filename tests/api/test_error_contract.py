"""Every answer under /api/ is the JSON error contract, also where django-ninja or Django would
answer on their own: a write that is not JSON, a body too large, a method or an address the API
does not have. Tried from outside: each of these used to answer HTML, or a 422 for a body the
API should never have read."""

import json
import logging

import pytest

from kennel.payments.models import WebhookEvent, WebhookRejection
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db


def error(answer) -> str:
    assert answer["Content-Type"].startswith("application/json")
    return answer.json()["error"]["code"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", "{}"),
        ("application/x-www-form-urlencoded", "puppy=x"),
        ("text/plain", '{"puppy": "x"}'),
    ],
)
def test_a_write_that_is_not_json_is_415_before_its_body_is_read(client, content_type, body):
    PuppyFactory()
    answer = client.post("/api/reservations/", data=body, content_type=content_type)

    assert answer.status_code == 415
    assert error(answer) == "UNSUPPORTED_MEDIA_TYPE"


def test_a_cross_site_write_is_403_whatever_its_body(client):
    answer = client.post(
        "/api/reservations/", data="{}", content_type="application/json", HTTP_ORIGIN="null"
    )

    assert answer.status_code == 403
    assert error(answer) == "CROSS_ORIGIN_REFUSED"


def test_a_body_too_large_is_413_in_json_and_no_traceback_in_the_log(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    puppy = PuppyFactory()
    body = json.dumps({"puppy": puppy.slug, "name": "x" * 20_000})

    with caplog.at_level(logging.INFO):
        answer = client.post("/api/reservations/", data=body, content_type="application/json")

    assert answer.status_code == 413
    assert error(answer) == "PAYLOAD_TOO_LARGE"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


def test_a_webhook_too_large_is_refused_and_counted_like_any_bad_delivery(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000

    with caplog.at_level(logging.INFO):
        answer = client.post(
            "/webhooks/stripe/", data="x" * 20_000, content_type="application/json"
        )

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "WEBHOOK_REJECTED"
    assert not WebhookEvent.objects.exists()
    assert WebhookRejection.objects.get(provider="stripe").reason == "body_too_large"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("method", ["put", "delete", "patch", "get"])
def test_a_method_the_api_does_not_take_is_405_in_json(client, method):
    answer = getattr(client, method)("/api/reservations/")

    assert answer.status_code == 405
    assert error(answer) == "METHOD_NOT_ALLOWED"
    assert "POST" in answer["Allow"]


@pytest.mark.parametrize("path", ["/api/nonexistent/", "/api/", "/api/v1/puppies/"])
def test_an_address_the_api_does_not_have_is_404_in_json(client, path):
    answer = client.get(path, HTTP_ACCEPT="text/html")

    assert answer.status_code == 404
    assert error(answer) == "NOT_FOUND"


def test_the_shop_keeps_its_own_404_page(client):
    answer = client.get("/no-such-page/")

    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def test_a_form_too_large_is_a_400_without_a_traceback_in_the_log(client, settings, caplog):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    puppy = PuppyFactory()

    with caplog.at_level(logging.INFO):
        answer = client.post(f"/puppies/{puppy.slug}/reserve/", {"name": "x" * 20_000})

    assert answer.status_code == 400
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize("action", ["pick", "pass", "withdraw"])
def test_every_write_of_a_waiting_family_is_json_from_the_shop_only(client, action):
    url = f"/api/waitlist/{'t' * 40}/{action}/"

    plain = client.post(url, data="{}", content_type="text/plain")
    cross_site = client.post(url, data="{}", content_type="application/json", HTTP_ORIGIN="null")

    assert (plain.status_code, error(plain)) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert (cross_site.status_code, error(cross_site)) == (403, "CROSS_ORIGIN_REFUSED")
