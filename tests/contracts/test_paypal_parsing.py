"""Kennel's PayPal parsing, fed documents built from PayPal's own specifications.

PayPal publishes no response examples for orders, captures or refunds (see
tests/fixtures/README.md), so every document here is built only from property names that
schemas.json lists for the schema the operation answers with, and checked against it before
Kennel reads it. Webhook envelopes come from webhook_examples.json.
"""

import base64
import datetime as dt
import json
import threading
import zlib
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from kennel.payments.paypal.provider import (
    AWAITING_BUYER,
    CAPTURE_STATES,
    PayPalProvider,
    _captured_by,
    capture_snapshot,
    order_snapshot,
)
from kennel.payments.providers import PaymentState
from tests.contracts.fixtures import (
    Schema,
    conformance_errors,
    paypal_enum,
    paypal_operation_schema,
    paypal_schema,
    paypal_webhooks,
    schema_property,
)

_CAPTURE = "purchase_units[].payments.captures[]"
_ORDER_READS = (
    "id", "status", "links[].rel", "links[].href", "purchase_units[].custom_id",
    f"{_CAPTURE}.id", f"{_CAPTURE}.status", f"{_CAPTURE}.custom_id",
    f"{_CAPTURE}.amount.currency_code", f"{_CAPTURE}.amount.value",
)  # fmt: skip
# Every key path Kennel's PayPal code reads (provider.py), by the operation that answers with
# the object (schemas.json's `operations` names its schema).
KENNEL_READS: dict[str, tuple[str, ...]] = {
    "orders.create": ("id", "links[].rel", "links[].href"),
    "orders.get": _ORDER_READS,
    "orders.capture": _ORDER_READS,
    "captures.get": (
        "id", "status", "custom_id", "amount.currency_code", "amount.value",
        "supplementary_data.related_ids.order_id",
    ),
    "captures.refund": ("id", "links[].rel", "links[].href"),
}  # fmt: skip
# The order statuses Kennel compares with (COMPLETED: a captured order; its capture decides).
KENNEL_ORDER_STATUSES = AWAITING_BUYER | {"APPROVED", "VOIDED", "COMPLETED"}
# What Kennel reads of a webhook delivery (verify_webhook, read_event).
KENNEL_ENVELOPE_READS = ("id", "event_type", "resource")

API = "https://api-m.paypal.com"
ORDER_ID, CAPTURE_ID, REFUND_ID = "5O190127TN364715T", "3C679366HH908993F", "1JU08902781691411"
RESERVATION_ID = "0b5c3f9e-7a51-4c8e-9d2a-3f6e1b7c9a10"
WEBHOOK_ID = "WH-CONTRACT-TESTS-1"
NOW = "2025-03-14T09:26:53Z"


def checked(doc: dict[str, Any], schema: Schema) -> dict[str, Any]:
    """`doc`, once it is shown to use only the schema's properties and enum values."""
    assert conformance_errors(doc, schema) == []
    return doc


def money(value: str, currency: str = "EUR") -> dict[str, str]:
    return {"currency_code": currency, "value": value}


def link(href: str, rel: str, method: str = "GET") -> dict[str, str]:
    return {"href": href, "rel": rel, "method": method}


def capture(status: str, value: str = "300.00", currency: str = "EUR") -> dict[str, Any]:
    """An Orders v2 capture, as nested in the order."""
    return {
        "id": CAPTURE_ID,
        "status": status,
        "amount": money(value, currency),
        "final_capture": True,
        "custom_id": RESERVATION_ID,
        "invoice_id": RESERVATION_ID,
        "links": [
            link(f"{API}/v2/payments/captures/{CAPTURE_ID}", "self"),
            link(f"{API}/v2/payments/captures/{CAPTURE_ID}/refund", "refund", "POST"),
            link(f"{API}/v2/checkout/orders/{ORDER_ID}", "up"),
        ],
        "create_time": NOW,
        "update_time": NOW,
    }


def order(status: str, *captures: dict[str, Any], links: list[Any] | None = None) -> dict[str, Any]:
    """An Orders v2 order for our reservation's deposit, checked against orders.get's schema."""
    unit: dict[str, Any] = {
        "reference_id": "default",
        "description": "Deposit for Biscuit",
        "custom_id": RESERVATION_ID,
        "invoice_id": RESERVATION_ID,
    }
    if captures:
        unit["payments"] = {"captures": list(captures)}
    doc = {
        "id": ORDER_ID,
        "intent": "CAPTURE",
        "status": status,
        "purchase_units": [unit],
        "create_time": NOW,
        "update_time": NOW,
        "links": links or [link(f"{API}/v2/checkout/orders/{ORDER_ID}", "self")],
    }
    return checked(doc, paypal_operation_schema("orders.get"))


def capture_details(status: str, value: str = "300.00", currency: str = "EUR") -> dict[str, Any]:
    """A Payments v2 capture (GET /v2/payments/captures/{id}), checked against its schema."""
    doc = {
        **capture(status, value, currency),
        "supplementary_data": {"related_ids": {"order_id": ORDER_ID}},
    }
    return checked(doc, paypal_operation_schema("captures.get"))


def refund() -> dict[str, Any]:
    """A Payments v2 refund of the whole capture, checked against captures.refund's schema."""
    doc = {
        "id": REFUND_ID,
        "status": "COMPLETED",
        "amount": money("300.00"),
        "custom_id": RESERVATION_ID,
        "links": [
            link(f"{API}/v2/payments/refunds/{REFUND_ID}", "self"),
            link(f"{API}/v2/payments/captures/{CAPTURE_ID}", "up"),
        ],
        "create_time": NOW,
        "update_time": NOW,
    }
    return checked(doc, paypal_operation_schema("captures.refund"))


# --------------------------------------------------------------------------- Kennel's beliefs


@pytest.mark.parametrize(
    ("operation", "path"), [(op, path) for op, paths in KENNEL_READS.items() for path in paths]
)
def test_every_key_path_kennel_reads_is_a_property_of_the_schema_paypal_answers_with(
    operation, path
):
    schema_property(paypal_operation_schema(operation), path)  # fails naming the bad segment


def test_the_operations_kennel_calls_answer_with_the_schemas_it_expects():
    names = {op: paypal_operation_schema(op) for op in KENNEL_READS}

    assert {op: f"{s.api}.{s.name}" for op, s in names.items()} == {
        "orders.create": "orders_v2.order",
        "orders.get": "orders_v2.order",
        "orders.capture": "orders_v2.order",
        "captures.get": "payments_v2.capture-2",
        "captures.refund": "payments_v2.refund",
    }


def test_every_order_status_kennel_compares_with_is_in_paypals_enum():
    order_schema, key = schema_property(paypal_operation_schema("orders.get"), "status")

    assert order_schema.enum(key) == paypal_enum("orders_v2", "order_status")
    assert KENNEL_ORDER_STATUSES - order_schema.enum(key) == set()


@pytest.mark.parametrize(
    ("operation", "path"),
    [("orders.capture", f"{_CAPTURE}.status"), ("captures.get", "status")],
)
def test_kennel_maps_exactly_paypals_capture_statuses(operation, path):
    # Not one status PayPal may answer with falls through to "open" unnoticed.
    schema, key = schema_property(paypal_operation_schema(operation), path)

    assert set(CAPTURE_STATES) == schema.enum(key)


def test_kennel_reads_only_envelope_keys_paypal_defines_and_delivers():
    webhooks = paypal_webhooks()

    assert set(KENNEL_ENVELOPE_READS) - set(webhooks["spec_event_schema"]["properties"]) == set()
    observed_keys = set(webhooks["event_shapes_observed"]["envelope_keys"])
    assert set(KENNEL_ENVELOPE_READS) - observed_keys == set()


def test_the_capture_and_order_events_carry_the_resources_kennel_reads():
    observed = paypal_webhooks()["event_shapes_observed"]
    capture_event = observed["PAYMENT.CAPTURE.COMPLETED"]
    capture_seen = set(capture_event["resource_keys_seen"])
    kennel_reads = {path.split(".")[0] for path in KENNEL_READS["captures.get"]}

    # A PAYMENT.CAPTURE.* resource is a Payments v2 capture: capture_snapshot can read it.
    assert capture_event["resource_schema"].startswith("payments_v2.capture-2")
    assert capture_seen - set(paypal_operation_schema("captures.get").properties) == set()
    assert kennel_reads - capture_seen == set()
    # CHECKOUT.ORDER.APPROVED: Kennel takes only the order's id and re-reads the order.
    assert "id" in observed["CHECKOUT.ORDER.APPROVED"]["resource_keys_seen"]


# --------------------------------------------------------------------------- orders


UNCAPTURED = {"APPROVED": PaymentState.APPROVED, "VOIDED": PaymentState.FAILED}


@pytest.mark.parametrize("status", sorted(paypal_enum("orders_v2", "order_status") - {"COMPLETED"}))
def test_an_uncaptured_order_is_open_until_approved_or_voided(status):
    snapshot = order_snapshot(order(status))

    assert snapshot.state == UNCAPTURED.get(status, PaymentState.OPEN)
    assert (snapshot.provider, snapshot.reference) == ("paypal", ORDER_ID)
    assert snapshot.reservation_id == RESERVATION_ID
    assert (snapshot.payment_id, snapshot.amount) == (None, None)


@pytest.mark.parametrize(
    ("capture_status", "state"),
    [
        ("COMPLETED", PaymentState.PAID),
        ("PARTIALLY_REFUNDED", PaymentState.PAID),
        ("PENDING", PaymentState.PROCESSING),
        ("DECLINED", PaymentState.FAILED),
        ("FAILED", PaymentState.FAILED),
    ],
)
def test_a_captured_order_is_in_its_captures_state(capture_status, state):
    snapshot = order_snapshot(order("COMPLETED", capture(capture_status)))

    assert snapshot.state == state
    assert snapshot.reference == ORDER_ID
    assert snapshot.payment_id == CAPTURE_ID
    assert snapshot.reservation_id == RESERVATION_ID
    assert (snapshot.amount, snapshot.currency) == (Decimal("300.00"), "EUR")


def test_an_order_whose_capture_was_refunded_is_refunded_for_that_payment():
    snapshot = order_snapshot(order("COMPLETED", capture("REFUNDED")))

    assert snapshot.state == PaymentState.REFUNDED
    assert (snapshot.reference, snapshot.payment_id) == ("", CAPTURE_ID)


def test_a_zero_decimal_capture_is_read_exactly():
    snapshot = order_snapshot(order("COMPLETED", capture("COMPLETED", "30000", "JPY")))

    assert (snapshot.amount, snapshot.currency) == (Decimal("30000"), "JPY")
    assert str(snapshot.amount) == "30000"


@pytest.mark.parametrize(
    ("status", "rel"), [("PAYER_ACTION_REQUIRED", "payer-action"), ("CREATED", "approve")]
)
def test_an_order_awaiting_the_buyer_sends_them_to_its_own_approve_link(status, rel):
    href = f"https://www.paypal.com/checkoutnow?token={ORDER_ID}"
    links = [link(f"{API}/v2/checkout/orders/{ORDER_ID}", "self"), link(href, rel)]

    snapshot = order_snapshot(order(status, links=links))

    assert (snapshot.state, snapshot.buyer_action_url) == (PaymentState.OPEN, href)


# --------------------------------------------------------------------------- captures, refunds


@pytest.mark.parametrize(("status", "state"), sorted(CAPTURE_STATES.items()))
def test_a_capture_read_on_its_own_finds_its_order_and_reservation(status, state):
    snapshot = capture_snapshot(capture_details(status))

    assert snapshot.state == state
    assert snapshot.reference == ("" if state == PaymentState.REFUNDED else ORDER_ID)
    assert snapshot.reservation_id == RESERVATION_ID
    assert snapshot.payment_id == CAPTURE_ID
    assert (snapshot.amount, snapshot.currency) == (Decimal("300.00"), "EUR")


def test_a_refund_names_its_capture_by_its_up_link():
    assert _captured_by(refund()) == CAPTURE_ID


# --------------------------------------------------------------------------- webhooks


@pytest.fixture(scope="module")
def certificate() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A self-signed RSA certificate standing for PayPal's signing certificate."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def cert_url(certificate: tuple[rsa.RSAPrivateKey, bytes], settings: Any) -> Iterator[str]:
    """The certificate served over HTTP from the configured (sandbox) PayPal origin."""
    pem = certificate[1]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(pem)))
            self.end_headers()
            self.wfile.write(pem)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    settings.PAYMENTS_MODE = "sandbox"
    settings.PAYPAL_API_BASE = origin
    settings.PAYPAL_WEBHOOK_ID = WEBHOOK_ID
    settings.PAYPAL_WEBHOOK_VERIFICATION = "offline"
    yield f"{origin}/v1/notifications/certs/CERT-360caa42-fca2a594-contract"
    server.shutdown()
    server.server_close()
    thread.join(5)


def signed(body: bytes, key: rsa.RSAPrivateKey, cert_url: str) -> dict[str, str]:
    """PayPal's headers for `body`: SHA256withRSA over id|time|webhook id|crc32(body)."""
    transmission_id = "69cd13f0-d67a-11e5-baa3-778b53f4ae55"
    # Signed now: a transmission time days old is refused (PAYPAL_WEBHOOK_MAX_AGE_HOURS).
    transmission_time = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{transmission_id}|{transmission_time}|{WEBHOOK_ID}|{zlib.crc32(body)}"
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {
        "paypal-transmission-id": transmission_id,
        "paypal-transmission-time": transmission_time,
        "paypal-transmission-sig": base64.b64encode(signature).decode(),
        "paypal-cert-url": cert_url,
        "paypal-auth-algo": "SHA256withRSA",
    }


def test_paypals_published_event_is_verified_and_read_by_its_envelope(certificate, cert_url):
    example = paypal_webhooks()["spec_example_webhook_event"]
    body = _as_delivered(example)

    event = PayPalProvider().verify_webhook(body, signed(body, certificate[0], cert_url))

    assert (event.event_id, event.type) == (example["id"], example["event_type"])
    assert event.payload == example
    assert PayPalProvider().read_event(event) is None  # an authorization: not ours


def test_a_capture_completed_event_of_the_observed_shape_is_read_as_paid(certificate, cert_url):
    envelope_keys = paypal_webhooks()["event_shapes_observed"]["envelope_keys"]
    delivery = {
        "id": "WH-58D329510W468432D-8HN650336L201105X",
        "event_version": "1.0",
        "create_time": "2025-03-14T09:26:54.940Z",
        "resource_type": "capture",
        "resource_version": "2.0",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "summary": "Payment completed for EUR 300.0 EUR",
        "resource": capture_details("COMPLETED"),
        "links": [
            link(f"{API}/v1/notifications/webhooks-events/WH-58D329510W468432D", "self"),
            link(f"{API}/v1/notifications/webhooks-events/WH-58D329510W468432D/resend", "resend"),
        ],
    }
    assert list(delivery) == envelope_keys
    body = _as_delivered(delivery)

    event = PayPalProvider().verify_webhook(body, signed(body, certificate[0], cert_url))
    snapshot = capture_snapshot(event.payload["resource"])

    assert (event.event_id, event.type) == (delivery["id"], "PAYMENT.CAPTURE.COMPLETED")
    assert snapshot.state == PaymentState.PAID
    assert (snapshot.reference, snapshot.payment_id) == (ORDER_ID, CAPTURE_ID)
    assert snapshot.reservation_id == RESERVATION_ID


def test_the_builders_check_refuses_a_property_paypal_does_not_define():
    bad = {**capture_details("COMPLETED"), "order_id": ORDER_ID}

    assert conformance_errors(bad, paypal_schema("payments_v2", "capture-2")) == [
        "order_id: not a property of payments_v2.capture-2"
    ]


def _as_delivered(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()
