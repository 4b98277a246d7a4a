"""POST /api/reservations/ and GET /api/reservations/<token>/: the JSON contract of DESIGN.md."""

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from kennel.catalogue.models import Puppy
from kennel.core.errors import (
    PROVIDER_REFUSED_MESSAGE,
    PROVIDER_UNAVAILABLE_MESSAGE,
    PUPPY_NOT_AVAILABLE_MESSAGE,
)
from kennel.core.models import AuditLog
from kennel.reservations.models import Reservation
from tests.factories import LitterFactory, PuppyFactory, ReservationFactory
from tests.payments import stripe_helpers
from tests.payments.flow import settled

URL = "/api/reservations/"
GOOD = {
    "name": "Jane Doe",
    "email": "jane@example.com",
    "phone": "+33 6 12 34 56 78",
    "provider": "stripe",
    "accept_terms": True,
}


def post(client, payload) -> httpx.Response:
    body = payload if isinstance(payload, (str, bytes)) else json.dumps(payload)
    return client.post(URL, data=body, content_type="application/json")


def assert_nothing_written(puppy: Puppy) -> None:
    puppy.refresh_from_db()
    assert puppy.status == "available"
    assert not Reservation.objects.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": None}, "name"),
        ({"email": None}, "email"),
        ({"phone": None}, "phone"),
        ({"provider": None}, "provider"),
        ({"email": "not-an-email"}, "email"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"phone": "1" * 33}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"provider": "bitcoin"}, "provider"),
        ({"name": 42}, "name"),
        ({"name": "Jane\x00Doe"}, "name"),
    ],
)
def test_bad_input_is_refused_with_422_and_the_bad_field_named(client, changes, field):
    puppy = PuppyFactory()
    payload = {"puppy": puppy.slug, **GOOD, **changes}
    payload = {k: v for k, v in payload.items() if v is not None}

    answer = post(client, payload)

    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert field in error["details"]["fields"]
    assert_nothing_written(puppy)


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["{not json", "[]", '"a string"', ""])
def test_a_body_that_is_not_a_json_object_is_refused(client, body):
    puppy = PuppyFactory()
    answer = post(client, body)
    # An empty body has no Content-Type (Django's test client sends none): not JSON, 415.
    assert answer.status_code in (400, 415, 422)
    assert answer.json()["error"]["code"] in (
        "BAD_REQUEST",
        "UNSUPPORTED_MEDIA_TYPE",
        "VALIDATION_ERROR",
    )
    assert_nothing_written(puppy)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["no-such-puppy", "bad\x00slug", "../../etc", "x" * 200])
def test_an_unknown_puppy_is_a_404_with_a_stable_code(client, slug):
    puppy = PuppyFactory()
    answer = post(client, {"puppy": slug, **GOOD})
    assert answer.status_code in (404, 422)
    assert answer.json()["error"]["code"] in ("PUPPY_NOT_FOUND", "VALIDATION_ERROR")
    assert_nothing_written(puppy)


@pytest.mark.django_db
def test_a_puppy_already_held_is_a_409_puppy_not_available(client):
    held = ReservationFactory()
    answer = post(client, {"puppy": held.puppy.slug, **GOOD})
    assert answer.status_code == 409
    assert answer.json() == {
        "error": {"code": "PUPPY_NOT_AVAILABLE", "message": PUPPY_NOT_AVAILABLE_MESSAGE}
    }
    assert Reservation.objects.count() == 1


@pytest.mark.django_db
def test_the_status_of_a_reservation_is_read_by_its_token_only(client):
    reservation = ReservationFactory()
    answer = client.get(f"{URL}{reservation.token}/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "pending"
    assert body["puppy"] == reservation.puppy.slug
    assert "buyer_email" not in body
    assert "jane" not in json.dumps(body).lower()
    for token in ("nope", "a%00b"):
        missing = client.get(f"{URL}{token}/")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.django_db
def test_the_openapi_schema_describes_the_contract(client):
    schema = client.get("/api/openapi.json").json()
    assert {"/api/puppies/", "/api/reservations/", "/api/reservations/{token}/"} <= set(
        schema["paths"]
    )
    create = schema["paths"]["/api/reservations/"]["post"]
    assert {"201", "409", "422", "429"} <= set(create["responses"])
    for code in (
        "HOLD_LIMIT_REACHED",
        "CONNECTION_HOLD_LIMIT_REACHED",
        "TOO_MANY_HOLDS",
        "HOLD_COOLDOWN",
        "CONNECTION_HOLD_COOLDOWN",
    ):
        assert f"`{code}`" in create["description"]


@pytest.mark.django_db
def test_puppies_are_listed_with_price_deposit_and_status(client):
    PuppyFactory(name="Biscuit")
    PuppyFactory(name="Hidden", is_published=False)
    listed = client.get("/api/puppies/").json()
    assert [p["name"] for p in listed] == ["Biscuit"]
    assert listed[0]["status"] == "available"
    assert listed[0]["deposit"] == "400.00"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("currency", "price", "written", "deposit"),
    [
        ("JPY", "350000", "350000", "70000"),
        ("KRW", "2500000", "2500000", "500000"),
        ("EUR", "1500", "1500.00", "300.00"),
    ],
)
def test_amounts_are_written_with_their_currencys_places_as_the_pages_show_them(
    client, currency, price, written, deposit
):
    """Tried: a JPY puppy was listed at "350000.00" (yen have no minor unit) while its page
    said 350,000 JPY."""
    puppy = PuppyFactory(price=Decimal(price), currency=currency)
    reservation = ReservationFactory(puppy=puppy)
    LitterFactory(slug="spring", usual_price=Decimal(price), currency=currency)

    (listed,) = client.get("/api/puppies/").json()
    held = client.get(f"{URL}{reservation.token}/").json()
    litters = {litter["slug"]: litter for litter in client.get("/api/litters/").json()}

    assert (listed["price"], listed["deposit"], listed["currency"]) == (written, deposit, currency)
    assert (held["deposit_amount"], held["currency"]) == (deposit, currency)
    assert litters["spring"]["waitlist_deposit"] == deposit


# --- through the front door, with the sandbox as Stripe ---


@pytest.mark.race
@pytest.mark.django_db(transaction=True)
def test_forty_buyers_pressing_reserve_at_once_one_gets_the_checkout(sandbox, live_server, threads):
    puppy = PuppyFactory()

    def press(i: int) -> httpx.Response:
        payload = {**GOOD, "puppy": puppy.slug, "email": f"buyer{i}@example.com"}
        return httpx.post(f"{live_server.url}{URL}", json=payload, timeout=60)

    answers = threads(40, press)

    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * 39
    winner = next(a for a in answers if a.status_code == 201).json()
    assert winner["checkout_url"].startswith(sandbox.public_url)
    assert all(
        a.json()["error"]["code"] == "PUPPY_NOT_AVAILABLE" for a in answers if a.status_code == 409
    )
    assert Reservation.objects.filter(puppy=puppy).count() == 1


# --- Stripe failing while the checkout is created ---


class _Broken(BaseHTTPRequestHandler):
    behaviour = "500"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.behaviour == "slow":
            time.sleep(3)
        body = b'{"error": {"type": "api_error", "message": "Something went wrong on our end."}}'
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def broken_stripe(settings, request) -> Iterator[None]:
    handler = type("Handler", (_Broken,), {"behaviour": request.param})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_port}"
    settings.STRIPE_SECRET_KEY = "sk_test_kennel"
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    yield
    server.shutdown()
    server.server_close()


@pytest.mark.django_db
@pytest.mark.parametrize("broken_stripe", ["500", "slow"], indirect=True)
def test_when_stripe_fails_the_hold_is_released_and_the_buyer_told(client, broken_stripe):
    puppy = PuppyFactory()

    answer = post(client, {"puppy": puppy.slug, **GOOD})

    assert answer.status_code == 502
    assert answer.json()["error"] == {
        "code": "PROVIDER_UNAVAILABLE",
        "message": PROVIDER_UNAVAILABLE_MESSAGE,
    }
    puppy.refresh_from_db()
    assert puppy.status == "available"
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.status_reason) == ("cancelled", "provider_error")
    assert reservation.provider_reference is None


@pytest.mark.django_db(transaction=True)
def test_a_checkout_stripe_refuses_is_a_422_refusal_not_an_outage(client, sandbox):
    puppy = PuppyFactory(price=Decimal("1500000"), deposit=Decimal("1200000"))

    answer = post(client, {"puppy": puppy.slug, **GOOD})

    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "PROVIDER_REFUSED",
        "message": PROVIDER_REFUSED_MESSAGE,
    }
    assert "Retry-After" not in answer
    puppy.refresh_from_db()
    assert puppy.status == "available"
    reservation = Reservation.objects.get()
    assert (reservation.status, reservation.status_reason) == ("cancelled", "provider_error")


@pytest.mark.django_db
def test_when_stripe_cannot_be_reached_the_hold_is_released(client, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens on the discard port
    settings.STRIPE_SECRET_KEY = "sk_test_kennel"
    puppy = PuppyFactory()

    answer = post(client, {"puppy": puppy.slug, **GOOD})

    assert answer.status_code == 502
    puppy.refresh_from_db()
    assert puppy.status == "available"
    assert Reservation.objects.get().status == "cancelled"


@pytest.mark.django_db(transaction=True)
def test_a_pending_reservation_gives_back_its_own_checkout_until_it_is_paid(sandbox, live_server):
    puppy = PuppyFactory()
    created = stripe_helpers.reserve(live_server.url, puppy.slug).json()
    status_url = f"{live_server.url}/api/reservations/{created['token']}/"

    pending = httpx.get(status_url, timeout=10).json()
    assert pending["status"] == "pending"
    assert pending["checkout_url"] == created["checkout_url"]  # the same session, not a new one

    stripe_helpers.choose(pending["checkout_url"], "pay")
    settled(sandbox, created["id"])

    paid = httpx.get(status_url, timeout=10).json()
    assert (paid["status"], paid["checkout_url"]) == ("confirmed", None)
    assert len(sandbox.stripe.state.sessions) == 1
