"""The sandbox's objects carry the fields the real ones carry.

The objects are taken from the sandbox's HTTP API the way Kennel takes them (the real stripe
SDK; plain HTTP for PayPal's REST API) and its webhooks as delivered, then compared with
Stripe's published example objects and PayPal's published schemas (tests/fixtures/). Kennel's
parsers read them too, so a shape both sides got wrong in the same way shows up here.
"""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from kennel.payments.paypal.provider import _captured_by, capture_snapshot, order_snapshot
from kennel.payments.providers import PaymentState
from kennel.payments.stripe.provider import refund_snapshot, session_snapshot
from sandbox import Sandbox, SandboxConfig
from tests.contracts.fixtures import (
    conformance_errors,
    missing_paths,
    paypal_operation_schema,
    paypal_webhooks,
    stripe_example,
    stripe_keys,
)
from tests.contracts.test_paypal_parsing import KENNEL_ENVELOPE_READS
from tests.contracts.test_paypal_parsing import KENNEL_READS as PAYPAL_READS
from tests.contracts.test_stripe_parsing import KENNEL_COMPARES, literal_values
from tests.contracts.test_stripe_parsing import KENNEL_READS as STRIPE_READS

API_KEY = "sk_test_contracts"
CLIENT_ID, CLIENT_SECRET = "contracts-client", "contracts-secret"
RESERVATION_ID = "0b5c3f9e-7a51-4c8e-9d2a-3f6e1b7c9a10"


class Inbox:
    """A webhook receiver: keeps every event POSTed to it, by provider (the URL's last part)."""

    def __init__(self) -> None:
        self.events: dict[str, list[dict[str, Any]]] = {"stripe": [], "paypal": []}
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                inbox.events[self.path.strip("/").rsplit("/", 1)[-1]].append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def by_type(self, provider: str, key: str) -> dict[str, dict[str, Any]]:
        """The last event of each type (`key` is the envelope's type field)."""
        return {event[key]: event for event in self.events[provider]}

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@dataclass
class Running:
    sandbox: Sandbox
    url: str
    inbox: Inbox

    def settle(self) -> None:
        assert self.sandbox.wait_for_deliveries(10), "the sandbox's webhooks did not settle"


@pytest.fixture(scope="module")
def running() -> Iterator[Running]:
    inbox = Inbox()
    sandbox = Sandbox(
        SandboxConfig(
            stripe_webhook_url=f"{inbox.url}/stripe",
            paypal_webhook_url=f"{inbox.url}/paypal",
            paypal_client_id=CLIENT_ID,
            paypal_client_secret=CLIENT_SECRET,
            retry_base_delay=0.02,
            async_settle_delay=0.05,
        )
    )
    server = sandbox.serve_in_thread(host="127.0.0.1", port=0)
    try:
        yield Running(sandbox, server.url, inbox)
    finally:
        sandbox.close()
        inbox.close()


# --------------------------------------------------------------------------- Stripe


@dataclass
class StripeObjects:
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # by state
    intent: dict[str, Any] = field(default_factory=dict)  # with latest_charge expanded
    charge: dict[str, Any] = field(default_factory=dict)
    refund: dict[str, Any] = field(default_factory=dict)
    refunded_intent: dict[str, Any] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by type


def new_session(client: stripe.StripeClient) -> stripe.checkout.Session:
    """A Checkout Session as Kennel creates one (payments/stripe/provider.py)."""
    return client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": 30000,
                        "product_data": {"name": "Deposit for Biscuit"},
                    },
                }
            ],
            "success_url": "http://shop.test/return/?session_id={CHECKOUT_SESSION_ID}",
            "cancel_url": "http://shop.test/cancel/",
            "expires_at": int(time.time()) + 31 * 60,
            "client_reference_id": RESERVATION_ID,
            "customer_email": "jane.doe@example.com",
            "metadata": {"reservation_id": RESERVATION_ID},
            "payment_intent_data": {"metadata": {"reservation_id": RESERVATION_ID}},
        },
        options={"idempotency_key": f"contracts-{uuid.uuid4()}"},
    )


@pytest.fixture(scope="module")
def stripe_objects(running: Running) -> StripeObjects:
    """One open, one paid (then refunded) and one expired session, read as Kennel reads them."""
    client = stripe.StripeClient(API_KEY, base_addresses={"api": running.url})
    sessions = client.v1.checkout.sessions
    objects = StripeObjects()

    opened, paid, expired = new_session(client), new_session(client), new_session(client)
    page = httpx.post(f"{running.url}/c/pay/{paid.id}", data={"outcome": "pay"}, timeout=10)
    assert page.status_code == 303, page.text
    sessions.expire(expired.id)
    running.settle()
    for state, created in (("open", opened), ("paid", paid), ("expired", expired)):
        objects.sessions[state] = sessions.retrieve(
            created.id, params={"expand": ["payment_intent"]}
        ).to_dict()

    intent_id = objects.sessions["paid"]["payment_intent"]["id"]
    intents = client.v1.payment_intents
    objects.intent = intents.retrieve(intent_id, params={"expand": ["latest_charge"]}).to_dict()
    objects.charge = client.v1.charges.retrieve(objects.intent["latest_charge"]["id"]).to_dict()
    objects.refund = client.v1.refunds.create(
        params={"payment_intent": intent_id, "amount": 30000},
        options={"idempotency_key": f"contracts-{uuid.uuid4()}"},
    ).to_dict()
    objects.refunded_intent = intents.retrieve(
        intent_id, params={"expand": ["latest_charge"]}
    ).to_dict()
    running.settle()
    objects.events = running.inbox.by_type("stripe", "type")
    return objects


def _stripe_cases(objects: StripeObjects) -> dict[str, tuple[dict[str, Any], str]]:
    """Each object the sandbox gave, and the name of Stripe's example object of its kind."""
    cases = {f"{state} session": (s, "checkout.session") for state, s in objects.sessions.items()}
    cases |= {
        "paid session's payment_intent": (
            objects.sessions["paid"]["payment_intent"],
            "payment_intent",
        ),
        "payment intent": (objects.intent, "payment_intent"),
        "payment intent's latest_charge": (objects.intent["latest_charge"], "charge"),
        "charge": (objects.charge, "charge"),
        "refund": (objects.refund, "refund"),
    }
    for event_type, event in objects.events.items():
        cases[event_type] = (event, "event")
        cases[f"{event_type} data.object"] = (
            event["data"]["object"],
            event["data"]["object"]["object"],
        )
    return cases


# The events Kennel handles that these flows cause (the async ones need another outcome).
STRIPE_EVENTS = ("checkout.session.completed", "checkout.session.expired", "charge.refunded")


def test_the_sandbox_sends_the_stripe_events_kennel_handles(stripe_objects):
    assert set(STRIPE_EVENTS) <= set(stripe_objects.events)


def test_every_stripe_object_has_exactly_the_top_level_keys_of_stripes_example(stripe_objects):
    differences = {}
    for case, (obj, example) in _stripe_cases(stripe_objects).items():
        extra, missing = set(obj) - stripe_keys(example), stripe_keys(example) - set(obj)
        if extra or missing:
            differences[case] = {"not in Stripe's": sorted(extra), "missing": sorted(missing)}

    assert differences == {}


def nested_keys_missing(obj: Any, example: Any, at: str = "") -> list[str]:
    """Where a nested object of Stripe's example has keys `obj`'s lacks (``metadata`` is
    ours, and an event's ``data.object`` is compared with the example of its own kind)."""
    if isinstance(obj, list) and isinstance(example, list) and obj and example:
        return nested_keys_missing(obj[0], example[0], f"{at}[]")
    if not isinstance(obj, dict) or not isinstance(example, dict):
        return []
    missing = [f"{at}.{key}" for key in sorted(set(example) - set(obj))] if at else []
    for key in sorted(set(example) & set(obj)):
        path = f"{at}.{key}" if at else key
        if key != "metadata" and path != "data.object":
            missing += nested_keys_missing(obj[key], example[key], path)
    return missing


def test_every_nested_stripe_object_carries_the_keys_of_stripes_example(stripe_objects):
    # Nested objects may carry more than the example shows (e.g. charge.outcome.risk_level,
    # which Stripe's API has too): only keys the example has and the sandbox lacks count.
    missing = {
        case: nested_keys_missing(obj, stripe_example(example))
        for case, (obj, example) in _stripe_cases(stripe_objects).items()
    }

    assert {case: m for case, m in missing.items() if m} == {}


def test_every_stripe_object_carries_every_key_kennel_reads(stripe_objects):
    missing = {
        case: missing_paths(obj, STRIPE_READS[example])
        for case, (obj, example) in _stripe_cases(stripe_objects).items()
        if example in STRIPE_READS and missing_paths(obj, STRIPE_READS[example])
    }

    assert missing == {}


def test_the_stripe_statuses_the_sandbox_sends_are_stripes(stripe_objects):
    by_class = {
        stripe.checkout.Session: list(stripe_objects.sessions.values()),
        stripe.PaymentIntent: [stripe_objects.intent, stripe_objects.refunded_intent],
    }

    for cls, key in KENNEL_COMPARES:
        sent = {obj[key] for obj in by_class[cls]}
        assert sent - literal_values(cls.__annotations__[key]) == set(), (cls, key)
    assert {s["status"] for s in by_class[stripe.checkout.Session]} == {
        "open",
        "complete",
        "expired",
    }


def test_kennel_reads_the_sandboxs_stripe_objects_as_it_reads_stripes(stripe_objects):
    sessions = stripe_objects.sessions
    deposit = (Decimal("300.00"), "EUR")

    opened, paid = session_snapshot(sessions["open"]), session_snapshot(sessions["paid"])
    refunded = refund_snapshot(stripe_objects.refunded_intent, [stripe_objects.refund])

    assert (opened.state, opened.reservation_id) == (PaymentState.OPEN, RESERVATION_ID)
    assert opened.buyer_action_url == sessions["open"]["url"]
    assert (paid.state, (paid.amount, paid.currency)) == (PaymentState.PAID, deposit)
    assert paid.payment_id == stripe_objects.intent["id"]
    assert session_snapshot(sessions["expired"]).state == PaymentState.EXPIRED
    assert refunded is not None
    assert (refunded.state, (refunded.amount, refunded.currency)) == (
        PaymentState.REFUNDED,
        deposit,
    )
    [refund] = refunded.refunds
    assert (refund.refund_id, (refund.amount, refund.currency)) == (
        stripe_objects.refund["id"],
        deposit,
    )
    assert refund.status == "succeeded"
    assert refunded.reservation_id == RESERVATION_ID


# --------------------------------------------------------------------------- PayPal


@dataclass
class PayPalObjects:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by status
    capture: dict[str, Any] = field(default_factory=dict)  # GET /v2/payments/captures/{id}
    refund: dict[str, Any] = field(default_factory=dict)
    refunded_capture: dict[str, Any] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by event_type


@pytest.fixture(scope="module")
def paypal_objects(running: Running) -> PayPalObjects:
    """An order created, approved on the sandbox's page, captured and refunded, read as
    Kennel's client reads them (``Prefer: return=representation`` on POSTs)."""
    token = httpx.post(
        f"{running.url}/v1/oauth2/token",
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Prefer": "return=representation"}
    objects = PayPalObjects()

    with httpx.Client(base_url=running.url, headers=headers, timeout=10) as api:

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = api.post(path, json=body, headers={"PayPal-Request-Id": str(uuid.uuid4())})
            assert answer.status_code in (200, 201), answer.text
            data: dict[str, Any] = answer.json()
            return data

        def get(path: str) -> dict[str, Any]:
            answer = api.get(path)
            assert answer.status_code == 200, answer.text
            data: dict[str, Any] = answer.json()
            return data

        created = post("/v2/checkout/orders", _order_request())
        objects.orders["created"] = created
        page = httpx.post(
            f"{running.url}/checkoutnow",
            params={"token": created["id"]},
            data={"outcome": "approve"},
            timeout=10,
        )
        assert page.status_code == 303, page.text
        objects.orders["approved"] = get(f"/v2/checkout/orders/{created['id']}")
        objects.orders["captured"] = post(f"/v2/checkout/orders/{created['id']}/capture", {})
        unit = objects.orders["captured"]["purchase_units"][0]
        capture_id = unit["payments"]["captures"][0]["id"]
        objects.capture = get(f"/v2/payments/captures/{capture_id}")
        objects.refund = post(
            f"/v2/payments/captures/{capture_id}/refund",
            {"amount": {"currency_code": "EUR", "value": "300.00"}},
        )
        objects.refunded_capture = get(f"/v2/payments/captures/{capture_id}")
        objects.orders["refunded"] = get(f"/v2/checkout/orders/{created['id']}")
    running.settle()
    objects.events = running.inbox.by_type("paypal", "event_type")
    return objects


def _order_request() -> dict[str, Any]:
    """The create-order body Kennel sends (payments/paypal/client.py)."""
    return {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "amount": {"currency_code": "EUR", "value": "300.00"},
                "description": "Deposit for Biscuit",
                "custom_id": RESERVATION_ID,
                "invoice_id": RESERVATION_ID,
            }
        ],
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "brand_name": "Kennel",
                    "shipping_preference": "NO_SHIPPING",
                    "user_action": "PAY_NOW",
                    "return_url": "http://shop.test/payments/paypal/return/",
                    "cancel_url": "http://shop.test/payments/paypal/cancel/",
                }
            }
        },
    }


# The operation whose schema each webhook resource follows, and what Kennel reads of it.
PAYPAL_EVENT_RESOURCES = {
    "CHECKOUT.ORDER.APPROVED": ("orders.get", ("id",)),
    "PAYMENT.CAPTURE.COMPLETED": ("captures.get", ("id",)),
    "PAYMENT.CAPTURE.REFUNDED": ("captures.refund", ("links[].rel", "links[].href")),
}
_UNCAPTURED_READS = tuple(p for p in PAYPAL_READS["orders.get"] if ".payments." not in p)


def _paypal_cases(objects: PayPalObjects) -> dict[str, tuple[dict[str, Any], str, tuple[str, ...]]]:
    """Each object the sandbox gave, the operation whose schema it follows, and what Kennel
    reads of it."""
    cases = {
        "created order": (
            objects.orders["created"],
            "orders.create",
            PAYPAL_READS["orders.create"] + _UNCAPTURED_READS,
        ),
        "approved order": (objects.orders["approved"], "orders.get", _UNCAPTURED_READS),
        "captured order": (
            objects.orders["captured"],
            "orders.capture",
            PAYPAL_READS["orders.capture"],
        ),
        "refunded order": (objects.orders["refunded"], "orders.get", PAYPAL_READS["orders.get"]),
        "capture": (objects.capture, "captures.get", PAYPAL_READS["captures.get"]),
        "refunded capture": (
            objects.refunded_capture,
            "captures.get",
            PAYPAL_READS["captures.get"],
        ),
        "refund": (objects.refund, "captures.refund", PAYPAL_READS["captures.refund"]),
    }
    for event_type, (operation, reads) in PAYPAL_EVENT_RESOURCES.items():
        if event_type in objects.events:
            resource = objects.events[event_type]["resource"]
            cases[f"{event_type} resource"] = (resource, operation, reads)
    return cases


def test_the_sandbox_sends_the_paypal_events_kennel_handles(paypal_objects):
    assert set(PAYPAL_EVENT_RESOURCES) <= set(paypal_objects.events)


def test_every_paypal_object_uses_only_its_schemas_properties_and_enum_values(paypal_objects):
    errors = {
        case: conformance_errors(obj, paypal_operation_schema(op), unknown_schemas=True)
        for case, (obj, op, _) in _paypal_cases(paypal_objects).items()
    }

    assert {case: e for case, e in errors.items() if e} == {}


def test_every_paypal_object_carries_every_property_kennel_reads(paypal_objects):
    missing = {
        case: missing_paths(obj, reads)
        for case, (obj, _, reads) in _paypal_cases(paypal_objects).items()
    }

    assert {case: m for case, m in missing.items() if m} == {}


def test_every_paypal_webhook_has_the_published_envelope(paypal_objects):
    webhooks = paypal_webhooks()
    envelope = set(webhooks["spec_event_schema"]["properties"])

    for event_type, event in paypal_objects.events.items():
        assert set(event) == envelope, event_type
        assert missing_paths(event, KENNEL_ENVELOPE_READS) == [], event_type
        assert event["id"].startswith("WH-"), event_type


# PAYMENT.CAPTURE.COMPLETED keys PayPal sends only sometimes (webhook_examples.json's
# resource_keys_note); every other key seen in real deliveries must be in the sandbox's.
CAPTURE_KEYS_SOMETIMES = frozenset({"disbursement_mode", "custom_id", "processor_response"})


def test_the_observed_paypal_events_carry_what_real_deliveries_carry(paypal_objects):
    observed = paypal_webhooks()["event_shapes_observed"]
    order_id = paypal_objects.orders["created"]["id"]

    for event_type in ("CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"):
        event, seen = paypal_objects.events[event_type], observed[event_type]
        assert (event["resource_type"], event["resource_version"]) == (
            seen["resource_type"],
            seen["resource_version"],
        ), event_type
        assert event["event_version"] == "1.0", event_type
        assert {link["rel"] for link in event["links"]} == {"self", "resend"}, event_type
    approved = paypal_objects.events["CHECKOUT.ORDER.APPROVED"]["resource"]
    completed = paypal_objects.events["PAYMENT.CAPTURE.COMPLETED"]["resource"]
    order_seen = observed["CHECKOUT.ORDER.APPROVED"]
    capture_seen = set(observed["PAYMENT.CAPTURE.COMPLETED"]["resource_keys_seen"])
    order_keys = set(order_seen["resource_keys_seen"] + order_seen["resource_keys_unverified"])

    assert set(order_seen["resource_keys_seen"]) - set(approved) == set()
    assert set(approved) - order_keys == set()
    assert capture_seen - CAPTURE_KEYS_SOMETIMES - set(completed) == set()
    assert (approved["status"], completed["status"]) == ("APPROVED", "COMPLETED")
    assert "payments" not in approved["purchase_units"][0]  # not captured yet
    assert completed["supplementary_data"]["related_ids"]["order_id"] == order_id


def test_kennel_reads_the_sandboxs_paypal_objects_as_it_reads_paypals(paypal_objects):
    orders = paypal_objects.orders
    capture_id = paypal_objects.capture["id"]
    deposit = (Decimal("300.00"), "EUR")

    created, approved = order_snapshot(orders["created"]), order_snapshot(orders["approved"])
    captured, capture = order_snapshot(orders["captured"]), capture_snapshot(paypal_objects.capture)
    refunded = capture_snapshot(paypal_objects.refunded_capture)

    assert (created.state, created.reservation_id) == (PaymentState.OPEN, RESERVATION_ID)
    assert created.buyer_action_url is not None
    assert approved.state == PaymentState.APPROVED
    assert (captured.state, captured.payment_id) == (PaymentState.PAID, capture_id)
    assert (captured.amount, captured.currency) == deposit
    assert (capture.state, capture.reference) == (PaymentState.PAID, orders["created"]["id"])
    assert capture.reservation_id == RESERVATION_ID
    assert _captured_by(paypal_objects.refund) == capture_id
    assert _captured_by(paypal_objects.events["PAYMENT.CAPTURE.REFUNDED"]["resource"]) == (
        capture_id
    )
    assert refunded.state == PaymentState.REFUNDED
    assert order_snapshot(orders["refunded"]).state == PaymentState.REFUNDED
