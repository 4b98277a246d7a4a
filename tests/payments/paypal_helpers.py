"""Steps a buyer (and PayPal) take, through the front door: the API, the sandbox's approve page."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from kennel.payments.paypal import client
from tests.payments import stripe_helpers


def reserve(
    base_url: str, puppy_slug: str, *, name: str = "Jane Doe", n: int = 0
) -> httpx.Response:
    return stripe_helpers.reserve(base_url, puppy_slug, name=name, n=n, provider="paypal")


def approve(approve_url: str, outcome: str) -> str:
    """Press a button on the sandbox's approve page; returns where PayPal sends the buyer."""
    page = httpx.get(approve_url, timeout=10)
    assert page.status_code == 200, page.text
    answer = httpx.post(approve_url, data={"outcome": outcome}, timeout=10)
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def come_back(location: str) -> httpx.Response:
    """The buyer's browser follows PayPal's redirect to the shop (and on to the status page)."""
    return httpx.get(location, follow_redirects=True, timeout=30)


def token_of(location: str) -> str:
    return parse_qs(urlsplit(location).query)["token"][0]


def events_of(sandbox: Any, type_: str) -> list[dict[str, Any]]:
    return [e for e in sandbox.paypal.events if e["event_type"] == type_]


def captures_of(sandbox: Any, order_id: str) -> list[dict[str, Any]]:
    with sandbox.paypal.state.lock:
        return [
            dict(c)
            for cid, c in sandbox.paypal.state.captures.items()
            if sandbox.paypal.state.capture_orders[cid] == order_id
        ]


def other_order(
    base_url: str, *, reservation_id: str, token: str, value: str, request_id: str
) -> tuple[str, str]:
    """A PayPal order naming `reservation_id` that is not its checkout — a second tab's, an
    old one's, a forged one — for `value` EUR, sending the buyer back to the shop's return
    URL of the reservation whose token is `token`. Returns its id and its approve link."""
    order = client.create_order(
        client.NewOrder(
            reservation_id=reservation_id,
            currency="EUR",
            value=value,
            description="Deposit",
            return_url=f"{base_url}/payments/paypal/return/?reservation={token}",
            cancel_url=f"{base_url}/",
            brand_name="Kennel",
        ),
        request_id=request_id,
    )
    return order["id"], next(
        link["href"] for link in order["links"] if link["rel"] == "payer-action"
    )
