"""Steps a buyer (and Stripe) take, through the front door: the API, the sandbox's hosted page."""

from typing import Any

import httpx


def reserve(
    base_url: str, puppy_slug: str, *, name: str = "Jane Doe", n: int = 0, provider: str = "stripe"
) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/reservations/",
        json={
            "puppy": puppy_slug,
            "name": name,
            "email": f"buyer{n}@example.com",
            "phone": "+33 6 12 34 56 78",
            "provider": provider,
            "accept_terms": True,
        },
        timeout=30,
    )


def choose(checkout_url: str, outcome: str) -> str:
    """Press a button on the hosted Checkout page; returns where Stripe sends the buyer."""
    page = httpx.get(checkout_url, timeout=10)
    assert page.status_code == 200
    answer = httpx.post(checkout_url, data={"outcome": outcome}, timeout=10)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def events_of(sandbox: Any, type_: str, session_id: str) -> list[dict[str, Any]]:
    return [
        e
        for e in sandbox.stripe.events
        if e["type"] == type_ and e["data"]["object"].get("id") == session_id
    ]
