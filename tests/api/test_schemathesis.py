"""The JSON API against its own OpenAPI schema, fuzzed by schemathesis with every check on.

Every built-in check (schemathesis' default): no 5xx; every response matches its documented
status, content type and body; data the schema refuses is refused with a documented code, data
it allows is accepted — so the schema states every rule the server enforces. Then the stateful
phase follows the schema's link from a created reservation to its status. In-process (WSGI)
against PostgreSQL, the sandbox for the providers.
"""

import re
from typing import Any

import jsonschema_rs  # schemathesis' own JSON Schema validator
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from kennel.api.schemas import SLUG_PATTERN
from kennel.reservations.models import Reservation
from kennel.wsgi import application
from tests.factories import PuppyFactory

pytestmark = pytest.mark.django_db(transaction=True)

# The shop's puppies: a fixture makes them; the schema is loaded once, at import.
SLUGS = [f"fuzzed-puppy-{i}" for i in range(25)]
FUZZ = hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
SLUG = re.compile(SLUG_PATTERN)

schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@schema.hook
def map_body(context: Any, body: Any) -> Any:
    """A schema-valid slug of no puppy only ever finds a 404: most well-formed bodies name one
    of the shop's puppies instead, so holds are made (201) and refused (409) too."""
    puppy = body.get("puppy") if isinstance(body, dict) else None
    if isinstance(puppy, str) and len(puppy) <= 80 and SLUG.fullmatch(puppy) and len(puppy) % 4:
        return {**body, "puppy": SLUGS[len(puppy) % len(SLUGS)]}
    return body


@pytest.fixture
def shop(sandbox: Any) -> None:
    for slug in SLUGS:
        PuppyFactory(slug=slug)


@schema.parametrize()
@hypothesis_settings(FUZZ)
def test_the_api_keeps_its_schema(case: Any, shop: None) -> None:
    case.call_and_validate()


def test_a_created_reservation_links_to_its_status(shop: None) -> None:
    workflow = schema.as_state_machine()
    workflow.run(
        settings=hypothesis_settings(
            max_examples=8,
            stateful_step_count=5,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert Reservation.objects.exists()  # the link was there to follow


GOOD = {
    "puppy": "fuzzed-puppy-0",
    "name": "Zoë O'Neil",
    "email": "zoe.oneil@example.com",
    "phone": "+33 6 12 34 56 78",
    "provider": "paypal",
    "accept_terms": True,
}


@pytest.mark.parametrize(
    "changes",
    [
        {"name": ""},  # refused by the server, once allowed by the schema
        {"name": "   "},
        {"name": "Jane\x00Doe"},
        {"name": "x" * 121},
        {"email": "not-an-email"},
        {"email": "a" * 250 + "@example.com"},
        {"phone": "call me"},
        {"phone": "12345"},
        {"phone": "1" * 33},
        {"provider": "bitcoin"},
        {"accept_terms": False},
        {"accept_terms": None},
        {"puppy": "../../etc"},
    ],
)
def test_what_the_server_refuses_the_schema_refuses_too(client, changes):
    PuppyFactory(slug=GOOD["puppy"])
    schema = client.get("/api/openapi.json").json()
    body_schema = {**schema["components"]["schemas"]["ReservationIn"]}
    validator = jsonschema_rs.Draft202012Validator(body_schema, validate_formats=True)
    assert validator.is_valid(GOOD)
    bad = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}

    assert not validator.is_valid(bad)
    answer = client.post("/api/reservations/", data=bad, content_type="application/json")
    assert answer.status_code == 422
    assert set(answer.json()["error"]["details"]["fields"]) == set(changes)
