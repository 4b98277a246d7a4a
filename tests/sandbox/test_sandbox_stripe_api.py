"""The sandbox's Stripe API, driven through the real stripe SDK."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import stripe

from sandbox.core import as_list, parse_query
from tests.contracts.fixtures import stripe_keys

if TYPE_CHECKING:
    from tests.sandbox.conftest import Harness

# Top-level keys of Stripe's published example objects (tests/fixtures/stripe/fixtures.json).
SESSION_KEYS = stripe_keys("checkout.session")
INTENT_KEYS = stripe_keys("payment_intent")
CHARGE_KEYS = stripe_keys("charge")


def test_create_and_retrieve_checkout_session_through_the_sdk(harness: Harness) -> None:
    created = harness.create_session()

    assert created.id.startswith("cs_test_")
    assert created.object == "checkout.session"
    assert (created.status, created.payment_status) == ("open", "unpaid")
    assert (created.amount_total, created.amount_subtotal, created.currency) == (5000, 5000, "eur")
    assert created.url == f"{harness.server.url}/c/pay/{created.id}"
    assert created.metadata.to_dict() == {"reservation_id": "41"}
    assert created.client_reference_id == "41"
    assert created.customer_email == "ada@example.com"
    assert created.payment_intent is None  # Stripe creates it when the buyer pays

    fetched = harness.client.v1.checkout.sessions.retrieve(created.id)
    assert fetched.to_dict() == created.to_dict()
    assert set(fetched.to_dict()) >= SESSION_KEYS


def test_line_items_can_be_expanded_and_listed(harness: Harness) -> None:
    session = harness.create_session(
        line_items=[
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 2500,
                    "product_data": {"name": "Deposit"},
                },
                "quantity": 2,
            }
        ],
        expand=["line_items"],
    )
    assert session.amount_total == 5000
    [item] = session.line_items.data
    assert (item.object, item.description, item.quantity, item.amount_total) == (
        "item",
        "Deposit",
        2,
        5000,
    )
    listed = harness.client.v1.checkout.sessions.line_items.list(session.id)
    assert [i.id for i in listed.data] == [item.id]


@pytest.mark.parametrize(
    ("overrides", "param", "code"),
    [
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"mode": None}, "mode", "parameter_missing"),
        (
            {"line_items": [{"price_data": {"currency": "eur", "unit_amount": "abc",
                                            "product_data": {"name": "x"}}, "quantity": 1}]},
            "line_items[0][price_data][unit_amount]",
            "parameter_invalid_integer",
        ),
        (
            {"line_items": [{"price_data": {"currency": "eur", "unit_amount": 5000,
                                            "product_data": {"name": "x"}}}]},
            "line_items[0][quantity]",
            "parameter_missing",
        ),
        ({"customer_email": "not-an-email"}, "customer_email", "email_invalid"),
        ({"success_url": "not a url"}, "success_url", "url_invalid"),
        ({"discount_codes": "X"}, "discount_codes", "parameter_unknown"),
    ],
)  # fmt: skip
def test_invalid_create_params_are_refused_in_stripes_error_format(
    harness: Harness, overrides: dict[str, Any], param: str, code: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.create_session(**overrides)

    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert caught.value.code == code
    assert caught.value.error is not None
    assert caught.value.error.type == "invalid_request_error"


@pytest.mark.parametrize("seconds_ahead", [10 * 60, 29 * 60, 25 * 3600])
def test_expires_at_outside_30_minutes_to_24_hours_is_refused(
    harness: Harness, seconds_ahead: int
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.create_session(expires_at=int(time.time()) + seconds_ahead)

    assert caught.value.param == "expires_at"
    assert "expires_at" in str(caught.value.user_message)


def test_expires_at_exactly_30_minutes_ahead_is_accepted_despite_latency(
    harness: Harness,
) -> None:
    # The app computes "now + 30 min" a moment before the request lands.
    expires_at = int(time.time()) + 30 * 60 - 3
    assert harness.create_session(expires_at=expires_at).expires_at == expires_at


def test_idempotent_replay_returns_the_same_session(harness: Harness) -> None:
    expires_at = int(time.time()) + 3600  # identical parameters, as a retry would send
    first = harness.create_session(expires_at=expires_at, options={"idempotency_key": "r-41"})
    again = harness.create_session(expires_at=expires_at, options={"idempotency_key": "r-41"})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.last_response.headers
    assert again.last_response.body == first.last_response.body
    listed = harness.client.v1.checkout.sessions.list()
    assert [s.id for s in listed.data] == [first.id]


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(
    harness: Harness,
) -> None:
    expires_at = int(time.time()) + 3600
    harness.create_session(expires_at=expires_at, options={"idempotency_key": "r-42"})

    with pytest.raises(stripe.IdempotencyError) as caught:
        harness.create_session(
            expires_at=expires_at,
            client_reference_id="other",
            options={"idempotency_key": "r-42"},
        )
    assert caught.value.http_status == 400
    assert "same parameters" in str(caught.value.user_message)


def test_twenty_concurrent_creates_with_one_key_make_one_session(harness: Harness) -> None:
    expires_at = int(time.time()) + 3600

    def create(_: int) -> str:
        client = harness.new_client()
        session = client.v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [
                    {
                        "price_data": {
                            "currency": "eur",
                            "unit_amount": 5000,
                            "product_data": {"name": "Deposit"},
                        },
                        "quantity": 1,
                    }
                ],
                "success_url": "http://shop.test/ok",
                "expires_at": expires_at,
            },
            options={"idempotency_key": "same-key-for-all"},
        )
        return str(session.id)

    with ThreadPoolExecutor(max_workers=20) as pool:
        ids = list(pool.map(create, range(20)))

    assert len(set(ids)) == 1
    assert len(harness.client.v1.checkout.sessions.list(params={"limit": 100}).data) == 1


def test_failed_validation_is_not_stored_under_the_idempotency_key(harness: Harness) -> None:
    # Stripe only saves a result once the endpoint started executing.
    with pytest.raises(stripe.InvalidRequestError):
        harness.create_session(line_items=None, options={"idempotency_key": "retry-me"})
    with pytest.raises(stripe.InvalidRequestError):
        harness.create_session(mode=None, options={"idempotency_key": "retry-me"})


def test_missing_api_key_is_a_401_in_stripes_error_format(harness: Harness) -> None:
    response = httpx.get(f"{harness.server.url}/v1/events")

    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("You did not provide an API key")


def test_invalid_api_key_raises_authentication_error(harness: Harness) -> None:
    with pytest.raises(stripe.AuthenticationError):
        harness.new_client("bogus_key_without_prefix").v1.events.list()


def test_unknown_route_and_unknown_id_are_404_resource_missing(harness: Harness) -> None:
    response = httpx.get(
        f"{harness.server.url}/v1/nothing_here", headers={"Authorization": "Bearer sk_test_x"}
    )
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"

    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.checkout.sessions.retrieve("cs_test_doesnotexist")
    assert (caught.value.http_status, caught.value.code, caught.value.param) == (
        404,
        "resource_missing",
        "id",
    )
    with pytest.raises(stripe.InvalidRequestError):
        harness.client.v1.payment_intents.retrieve("pi_doesnotexist")


def test_payment_intent_and_charge_have_stripes_fields_after_payment(harness: Harness) -> None:
    session = harness.create_session()
    harness.sandbox.stripe.complete_session(session.id, "pay")

    intent = harness.client.v1.payment_intents.retrieve(
        harness.intent_of(session.id).id, params={"expand": ["latest_charge"]}
    )
    assert set(intent.to_dict()) >= INTENT_KEYS
    assert isinstance(intent.latest_charge, stripe.Charge)
    assert set(intent.latest_charge.to_dict()) >= CHARGE_KEYS
    assert intent.metadata.to_dict() == {"reservation_id": "41"}
    assert (intent.amount, intent.amount_received, intent.currency) == (5000, 5000, "eur")


def test_unknown_expand_path_is_refused(harness: Harness) -> None:
    session = harness.create_session()
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.client.v1.checkout.sessions.retrieve(session.id, params={"expand": ["nope"]})
    assert caught.value.param == "expand"


def test_nested_bracket_form_syntax_is_parsed_into_dicts_and_lists() -> None:
    parsed = parse_query(
        "line_items[0][price_data][unit_amount]=5000&line_items[0][quantity]=1"
        "&line_items[1][quantity]=2&metadata[reservation_id]=41"
        "&expand[]=payment_intent&expand[]=line_items&payment_method_types[0]=card"
    )

    assert parsed["metadata"] == {"reservation_id": "41"}
    assert as_list(parsed["expand"]) == ["payment_intent", "line_items"]
    assert as_list(parsed["payment_method_types"]) == ["card"]
    lines = as_list(parsed["line_items"])
    assert lines is not None
    assert lines[0] == {"price_data": {"unit_amount": "5000"}, "quantity": "1"}
    assert lines[1] == {"quantity": "2"}
