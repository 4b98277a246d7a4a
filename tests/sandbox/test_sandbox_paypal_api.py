"""The sandbox's PayPal REST API, driven by the real ``paypal-server-sdk``.

Shapes are checked against the property lists of PayPal's published specifications
(paypal/paypal-rest-api-specifications, Apache-2.0: Orders v2 2.13, Payments v2 2.5).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from paypalserversdk.configuration import Configuration, Server
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.money import Money
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from sandbox import PAYPAL_OUTCOMES, Sandbox, SandboxConfig, ServerHandle
from tests.contracts.fixtures import paypal_enum, paypal_schema

CLIENT_ID, SECRET = "sandbox-test-client", "sandbox-test-secret"

# Property names from the specifications' schemas (tests/fixtures/paypal/schemas.json:
# orders_v2.order, purchase_unit, capture; payments_v2.capture-2, refund; order_status and
# capture status enums).
ORDER_KEYS = frozenset(paypal_schema("orders_v2", "order").properties)
PURCHASE_UNIT_KEYS = frozenset(paypal_schema("orders_v2", "purchase_unit").properties)
CAPTURE_KEYS = frozenset(paypal_schema("orders_v2", "capture").properties)
CAPTURE_DETAIL_KEYS = frozenset(paypal_schema("payments_v2", "capture-2").properties)
REFUND_KEYS = frozenset(paypal_schema("payments_v2", "refund").properties)
ORDER_STATUSES = paypal_enum("orders_v2", "order_status")
CAPTURE_STATUSES = paypal_schema("orders_v2", "capture").enum("status")
ERROR_KEYS = {"name", "message", "debug_id", "details", "links"}


class _Configuration(Configuration):
    def __init__(self, *, base_uri: str, **kwargs: Any) -> None:
        self._base = base_uri
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self._base


def sdk_client(base: str, *, secret: str = SECRET, timeout: float = 10) -> PaypalServersdkClient:
    credentials = ClientCredentialsAuthCredentials(
        o_auth_client_id=CLIENT_ID, o_auth_client_secret=secret
    )
    return PaypalServersdkClient(
        config=_Configuration(
            base_uri=base, timeout=timeout, client_credentials_auth_credentials=credentials
        )
    )


def order_body(**unit: Any) -> dict[str, Any]:
    """A create-order body like Kennel's; ``unit`` overrides purchase-unit fields."""
    return {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "amount": {"currency_code": "EUR", "value": "300.00"},
                "custom_id": "0b7c1a52-1111-4c1e-9a7e-5f0f7e0c0001",
                "invoice_id": unit.pop("invoice_id", f"inv-{time.monotonic_ns()}"),
                "description": "Deposit for Biscuit",
                **unit,
            }
        ],
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "return_url": "http://shop.test/return/?reservation=abc",
                    "cancel_url": "http://shop.test/cancel/?reservation=abc",
                    "user_action": "PAY_NOW",
                    "shipping_preference": "NO_SHIPPING",
                    "brand_name": "Kennel",
                }
            }
        },
    }


@dataclass
class PayPal:
    sandbox: Sandbox
    server: ServerHandle
    sdk: PaypalServersdkClient
    http: httpx.Client

    def order_body(self, **unit: Any) -> dict[str, Any]:
        return order_body(**unit)

    def create(self, request_id: str | None = None, **unit: Any) -> dict[str, Any]:
        options: dict[str, Any] = {
            "body": self.order_body(**unit),
            "prefer": "return=representation",
        }
        if request_id:
            options["paypal_request_id"] = request_id
        return dict(json.loads(self.sdk.orders.create_order(options).text))

    def approve(self, order_id: str, outcome: str = "approve") -> httpx.Response:
        return self.http.post(f"/checkoutnow?token={order_id}", data={"outcome": outcome})

    def capture(self, order_id: str, request_id: str = "cap-1") -> dict[str, Any]:
        response = self.sdk.orders.capture_order(
            {"id": order_id, "paypal_request_id": request_id, "prefer": "return=representation"}
        )
        return dict(json.loads(response.text))

    def token(self) -> str:
        basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        answer = self.http.post(
            "/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        return str(answer.json()["access_token"])

    def settle(self) -> None:
        assert self.sandbox.wait_for_deliveries(5)


@pytest.fixture
def make_paypal() -> Iterator[Callable[..., PayPal]]:
    made: list[PayPal] = []

    def make(**overrides: Any) -> PayPal:
        config: dict[str, Any] = {
            "paypal_client_id": CLIENT_ID,
            "paypal_client_secret": SECRET,
            "async_settle_delay": 0.05,
        }
        config.update(overrides)
        sandbox = Sandbox(SandboxConfig(**config))
        server = sandbox.serve_in_thread(host="127.0.0.1", port=0)
        paypal = PayPal(
            sandbox, server, sdk_client(server.url), httpx.Client(base_url=server.url, timeout=10)
        )
        made.append(paypal)
        return paypal

    yield make
    for paypal in made:
        paypal.http.close()
        paypal.sandbox.close()


@pytest.fixture
def paypal(make_paypal: Callable[..., PayPal]) -> PayPal:
    return make_paypal()


def error_of(exc: pytest.ExceptionInfo[ErrorException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.response.text)
    assert set(body) <= ERROR_KEYS
    assert {"name", "message", "debug_id"} <= set(body)
    return body


# --------------------------------------------------------------------------- OAuth


def test_an_access_token_is_issued_to_the_configured_client_only(paypal: PayPal) -> None:
    def ask(client_id: str, secret: str, form: dict[str, str]) -> httpx.Response:
        basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return paypal.http.post(
            "/v1/oauth2/token", data=form, headers={"Authorization": f"Basic {basic}"}
        )

    good = ask(CLIENT_ID, SECRET, {"grant_type": "client_credentials"})
    assert good.status_code == 200
    assert {"scope", "access_token", "token_type", "app_id", "expires_in", "nonce"} == set(
        good.json()
    )
    assert good.json()["token_type"] == "Bearer"
    wrong = ask(CLIENT_ID, "not-the-secret", {"grant_type": "client_credentials"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    no_grant = ask(CLIENT_ID, SECRET, {})
    assert (no_grant.status_code, no_grant.json()["error"]) == (400, "unsupported_grant_type")


def test_the_sdk_with_a_wrong_secret_gets_no_further_than_the_token(paypal: PayPal) -> None:
    sdk = sdk_client(paypal.server.url, secret="wrong")
    with pytest.raises(Exception, match="OAuthToken is undefined"):
        sdk.orders.get_order({"id": "ANYTHING"})
    assert not paypal.sandbox.paypal.state.orders


def test_api_calls_need_a_valid_bearer_token(paypal: PayPal) -> None:
    missing = paypal.http.get("/v2/checkout/orders/X")
    assert (missing.status_code, missing.json()["name"]) == (401, "AUTHENTICATION_FAILURE")
    forged = paypal.http.get(
        "/v2/checkout/orders/X", headers={"Authorization": "Bearer A21AAforged"}
    )
    assert (forged.status_code, forged.json()["error"]) == (401, "invalid_token")


# --------------------------------------------------------------------------- orders


def test_a_created_order_has_the_shape_of_a_paypal_order(paypal: PayPal) -> None:
    order = paypal.create()

    assert set(order) <= ORDER_KEYS
    assert order["status"] == "PAYER_ACTION_REQUIRED"
    assert order["intent"] == "CAPTURE"
    [unit] = order["purchase_units"]
    assert set(unit) <= PURCHASE_UNIT_KEYS
    assert unit["amount"] == {"currency_code": "EUR", "value": "300.00"}
    assert unit["reference_id"] == "default"
    links = {link["rel"]: link for link in order["links"]}
    assert set(links) == {"self", "payer-action"}
    assert links["payer-action"]["href"] == (f"{paypal.server.url}/checkoutnow?token={order['id']}")
    fetched = json.loads(paypal.sdk.orders.get_order({"id": order["id"]}).text)
    assert fetched == order


def test_the_default_answer_to_create_is_minimal(paypal: PayPal) -> None:
    answer = paypal.sdk.orders.create_order({"body": paypal.order_body()})
    assert answer.status_code == 201
    assert set(json.loads(answer.text)) == {"id", "status", "payment_source", "links"}


def test_an_order_without_a_payment_source_is_created_with_an_approve_link(
    paypal: PayPal,
) -> None:
    body = paypal.order_body()
    del body["payment_source"]
    order = json.loads(paypal.sdk.orders.create_order({"body": body}).text)

    assert order["status"] == "CREATED"
    assert [link["rel"] for link in order["links"]] == ["self", "approve", "update", "capture"]


def test_a_repeated_request_id_returns_the_first_order_with_200(paypal: PayPal) -> None:
    body = paypal.order_body(invoice_id="inv-1")
    first = paypal.sdk.orders.create_order({"body": body, "paypal_request_id": "order-1"})
    again = paypal.sdk.orders.create_order({"body": body, "paypal_request_id": "order-1"})

    assert (first.status_code, again.status_code) == (201, 200)
    assert json.loads(first.text) == json.loads(again.text)
    assert len(paypal.sandbox.paypal.state.orders) == 1


def test_a_request_id_reused_for_another_body_is_refused(paypal: PayPal) -> None:
    paypal.create("order-1", invoice_id="inv-1")
    with pytest.raises(ErrorException) as exc:
        paypal.create("order-1", invoice_id="inv-2")

    assert exc.value.response_code == 422
    assert error_of(exc)["details"][0]["issue"] == "DUPLICATE_REQUEST_ID"


@pytest.mark.parametrize(
    ("change", "field", "issue"),
    [
        (lambda b: b.pop("intent"), "/intent", "MISSING_REQUIRED_PARAMETER"),
        (lambda b: b.update(intent="SELL"), "/intent", "INVALID_PARAMETER_VALUE"),
        (lambda b: b.update(purchase_units=[]), "/purchase_units", "INVALID_ARRAY_MIN_ITEMS"),
        (
            lambda b: b["purchase_units"][0]["amount"].update(value="10.001"),
            "/purchase_units/0/amount/value",
            "DECIMAL_PRECISION",
        ),
        (
            lambda b: b["purchase_units"][0]["amount"].update(value="0.00"),
            "/purchase_units/0/amount/value",
            "CANNOT_BE_ZERO_OR_NEGATIVE",
        ),
        (
            lambda b: b["purchase_units"][0]["amount"].update(value="12,50"),
            "/purchase_units/0/amount/value",
            "INVALID_PARAMETER_SYNTAX",
        ),
        (
            lambda b: b["purchase_units"][0]["amount"].update(currency_code="eur"),
            "/purchase_units/0/amount/currency_code",
            "INVALID_PARAMETER_VALUE",
        ),
        (
            lambda b: b["purchase_units"][0].update(custom_id="x" * 128),
            "/purchase_units/0/custom_id",
            "INVALID_STRING_LENGTH",
        ),
        (
            lambda b: b["payment_source"]["paypal"]["experience_context"].update(
                return_url="javascript:alert(1)"
            ),
            "/payment_source/paypal/experience_context/return_url",
            "INVALID_PARAMETER_SYNTAX",
        ),
    ],
)
def test_an_invalid_order_is_refused_with_a_paypal_error(
    paypal: PayPal, change: Callable[[dict[str, Any]], Any], field: str, issue: str
) -> None:
    body = paypal.order_body()
    change(body)
    with pytest.raises(ErrorException) as exc:
        paypal.sdk.orders.create_order({"body": body})

    assert exc.value.response_code == 400
    error = error_of(exc)
    assert error["name"] == "INVALID_REQUEST"
    assert (error["details"][0]["field"], error["details"][0]["issue"]) == (field, issue)
    assert error["links"][0]["rel"] == "information_link"
    assert not paypal.sandbox.paypal.state.orders


def test_a_body_that_is_not_json_is_refused(paypal: PayPal) -> None:
    answer = paypal.http.post(
        "/v2/checkout/orders",
        content=b"{nope",
        headers={"Authorization": f"Bearer {paypal.token()}", "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["details"][0]["issue"] == "MALFORMED_REQUEST_JSON"


def test_an_unknown_order_and_an_unknown_url_answer_in_paypal_format(paypal: PayPal) -> None:
    with pytest.raises(ErrorException) as exc:
        paypal.sdk.orders.get_order({"id": "NOSUCHORDER00000"})
    assert exc.value.response_code == 404
    assert error_of(exc)["name"] == "RESOURCE_NOT_FOUND"
    unknown = paypal.http.get(
        "/v2/invoicing/invoices", headers={"Authorization": f"Bearer {paypal.token()}"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["name"] == "RESOURCE_NOT_FOUND"


# --------------------------------------------------------------------------- approve page


def test_the_approve_page_shows_the_amount_and_one_button_per_outcome(paypal: PayPal) -> None:
    order = paypal.create()
    page = paypal.http.get(f"/checkoutnow?token={order['id']}")

    assert page.status_code == 200
    assert "300.00 EUR" in page.text
    assert "Deposit for Biscuit" in page.text
    for outcome in PAYPAL_OUTCOMES:
        assert f'name="outcome" value="{outcome}"' in page.text
    assert 'aria-labelledby="outcome-heading"' in page.text
    assert paypal.http.get("/checkoutnow?token=NOSUCH").status_code == 404


def test_approving_sends_the_buyer_to_the_return_url_with_the_token(paypal: PayPal) -> None:
    order = paypal.create()
    answer = paypal.approve(order["id"])

    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"http://shop.test/return/?reservation=abc&token={order['id']}")
    assert "&PayerID=" in location
    approved = json.loads(paypal.sdk.orders.get_order({"id": order["id"]}).text)
    assert approved["status"] == "APPROVED"
    assert approved["payer"]["payer_id"] in location
    assert {link["rel"] for link in approved["links"]} == {"self", "update", "capture"}
    assert paypal.approve(order["id"]).status_code == 409  # approved once only


def test_cancelling_sends_the_buyer_back_and_leaves_the_order_unapproved(paypal: PayPal) -> None:
    order = paypal.create()
    answer = paypal.approve(order["id"], "cancel")

    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"http://shop.test/cancel/?reservation=abc&token={order['id']}"
    )
    with pytest.raises(ErrorException) as exc:
        paypal.capture(order["id"])
    assert error_of(exc)["details"][0]["issue"] == "ORDER_NOT_APPROVED"


# --------------------------------------------------------------------------- capture


def test_capturing_an_unapproved_order_is_refused(paypal: PayPal) -> None:
    order = paypal.create()
    with pytest.raises(ErrorException) as exc:
        paypal.capture(order["id"])

    assert exc.value.response_code == 422
    assert error_of(exc)["details"][0]["issue"] == "ORDER_NOT_APPROVED"
    assert not paypal.sandbox.paypal.state.captures


def test_a_capture_has_the_shapes_of_paypal_captures(paypal: PayPal) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    captured = paypal.capture(order["id"])

    assert captured["status"] == "COMPLETED"
    assert set(captured) <= ORDER_KEYS
    [capture] = captured["purchase_units"][0]["payments"]["captures"]
    assert set(capture) <= CAPTURE_KEYS
    assert capture["status"] == "COMPLETED"
    assert capture["amount"] == {"currency_code": "EUR", "value": "300.00"}
    assert capture["custom_id"] == order["purchase_units"][0]["custom_id"]
    assert {link["rel"] for link in capture["links"]} == {"self", "refund", "up"}
    details = json.loads(
        paypal.sdk.payments.get_captured_payment({"capture_id": capture["id"]}).text
    )
    assert set(details) <= CAPTURE_DETAIL_KEYS
    assert details["supplementary_data"] == {"related_ids": {"order_id": order["id"]}}
    breakdown = details["seller_receivable_breakdown"]
    fee, net = breakdown["paypal_fee"]["value"], breakdown["net_amount"]["value"]
    assert float(fee) + float(net) == pytest.approx(300.00)


def test_a_replayed_capture_returns_the_first_and_a_new_one_is_refused(paypal: PayPal) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    first = paypal.capture(order["id"], "cap-1")
    again = paypal.capture(order["id"], "cap-1")

    assert again == first
    with pytest.raises(ErrorException) as exc:
        paypal.capture(order["id"], "cap-2")
    assert error_of(exc)["details"][0]["issue"] == "ORDER_ALREADY_CAPTURED"
    assert len(paypal.sandbox.paypal.state.captures) == 1


@pytest.mark.parametrize(
    ("outcome", "first", "later"),
    [
        ("approve_pending", "PENDING", "COMPLETED"),
        ("approve_pending_denied", "PENDING", "DECLINED"),
        ("approve_declined", "DECLINED", "DECLINED"),
    ],
)
def test_a_capture_can_be_pending_denied_or_declined(
    paypal: PayPal, outcome: str, first: str, later: str
) -> None:
    order = paypal.create()
    paypal.approve(order["id"], outcome)
    captured = paypal.capture(order["id"])

    assert captured["status"] == "COMPLETED"  # the order is done; the capture tells the rest
    [capture] = captured["purchase_units"][0]["payments"]["captures"]
    assert capture["status"] == first
    if first == "PENDING":
        assert capture["status_details"] == {"reason": "PENDING_REVIEW"}
    paypal.settle()
    now = json.loads(paypal.sdk.payments.get_captured_payment({"capture_id": capture["id"]}).text)
    assert now["status"] == later
    assert now["status"] in CAPTURE_STATUSES


def test_an_invoice_id_is_paid_once(paypal: PayPal) -> None:
    one, two = paypal.create(invoice_id="inv-same"), paypal.create(invoice_id="inv-same")
    paypal.approve(one["id"])
    paypal.approve(two["id"])
    paypal.capture(one["id"], "cap-1")

    with pytest.raises(ErrorException) as exc:
        paypal.capture(two["id"], "cap-2")
    assert error_of(exc)["details"][0]["issue"] == "DUPLICATE_INVOICE_ID"


def test_a_capture_answer_can_be_lost_and_the_retry_returns_the_same_capture(
    paypal: PayPal,
) -> None:
    order = paypal.create()
    paypal.approve(order["id"])
    paypal.sandbox.paypal.delay_next_capture_response(2.0)
    impatient = sdk_client(paypal.server.url, timeout=0.5)
    options = {
        "id": order["id"],
        "paypal_request_id": "cap-lost",
        "prefer": "return=representation",
    }

    with pytest.raises(requests.Timeout):
        impatient.orders.capture_order(options)
    retried = impatient.orders.capture_order(options)

    assert retried.status_code == 200
    [capture] = json.loads(retried.text)["purchase_units"][0]["payments"]["captures"]
    assert list(paypal.sandbox.paypal.state.captures) == [capture["id"]]


# --------------------------------------------------------------------------- refunds


def _captured(paypal: PayPal) -> str:
    order = paypal.create()
    paypal.approve(order["id"])
    return str(paypal.capture(order["id"])["purchase_units"][0]["payments"]["captures"][0]["id"])


def refund(paypal: PayPal, capture_id: str, request_id: str, value: str | None = None) -> Any:
    options: dict[str, Any] = {
        "capture_id": capture_id,
        "paypal_request_id": request_id,
        "prefer": "return=representation",
    }
    if value is not None:
        options["body"] = RefundRequest(amount=Money(currency_code="EUR", value=value))
    return paypal.sdk.payments.refund_captured_payment(options)


def test_a_full_refund_has_the_shape_of_a_paypal_refund(paypal: PayPal) -> None:
    capture_id = _captured(paypal)
    answer = refund(paypal, capture_id, "refund-1")

    assert answer.status_code == 201
    body = json.loads(answer.text)
    assert set(body) <= REFUND_KEYS
    assert (body["status"], body["amount"]["value"]) == ("COMPLETED", "300.00")
    up = [link["href"] for link in body["links"] if link["rel"] == "up"]
    assert up == [f"{paypal.server.url}/v2/payments/captures/{capture_id}"]
    details = json.loads(paypal.sdk.payments.get_captured_payment({"capture_id": capture_id}).text)
    assert details["status"] == "REFUNDED"
    fetched = json.loads(paypal.sdk.payments.get_refund({"refund_id": body["id"]}).text)
    assert fetched == body


def test_a_replayed_refund_returns_the_first_and_nothing_is_refunded_twice(paypal: PayPal) -> None:
    capture_id = _captured(paypal)
    first = json.loads(refund(paypal, capture_id, "refund-1", "300.00").text)
    again = refund(paypal, capture_id, "refund-1", "300.00")

    assert again.status_code == 200
    assert json.loads(again.text) == first
    with pytest.raises(ErrorException) as exc:
        refund(paypal, capture_id, "refund-2", "300.00")
    assert error_of(exc)["details"][0]["issue"] == "CAPTURE_FULLY_REFUNDED"
    assert len(paypal.sandbox.paypal.state.refunds) == 1


def test_partial_refunds_add_up_to_the_capture_and_no_further(paypal: PayPal) -> None:
    capture_id = _captured(paypal)
    refund(paypal, capture_id, "refund-1", "100.00")

    with pytest.raises(ErrorException) as exc:
        refund(paypal, capture_id, "refund-2", "200.01")
    assert error_of(exc)["details"][0]["issue"] == "REFUND_AMOUNT_EXCEEDED"
    details = json.loads(paypal.sdk.payments.get_captured_payment({"capture_id": capture_id}).text)
    assert details["status"] == "PARTIALLY_REFUNDED"
    refund(paypal, capture_id, "refund-3", "200.00")
    details = json.loads(paypal.sdk.payments.get_captured_payment({"capture_id": capture_id}).text)
    assert details["status"] == "REFUNDED"


def test_a_pending_capture_cannot_be_refunded(make_paypal: Callable[..., PayPal]) -> None:
    paypal = make_paypal(async_settle_delay=60)  # stays pending for the whole test
    order = paypal.create()
    paypal.approve(order["id"], "approve_pending")
    captured = paypal.capture(order["id"])
    capture_id = captured["purchase_units"][0]["payments"]["captures"][0]["id"]

    with pytest.raises(ErrorException) as exc:
        refund(paypal, capture_id, "refund-1")
    assert error_of(exc)["details"][0]["issue"] == "REFUND_NOT_ALLOWED"


def test_an_instrument_declined_at_capture_sends_the_buyer_back_to_approve(
    paypal: PayPal,
) -> None:
    order = paypal.create()
    approve_url = next(link["href"] for link in order["links"] if link["rel"] == "payer-action")
    paypal.approve(order["id"], "approve_instrument_declined")

    with pytest.raises(ErrorException) as exc:
        paypal.capture(order["id"], "cap-1")

    assert exc.value.response_code == 422
    error = error_of(exc)
    assert error["name"] == "UNPROCESSABLE_ENTITY"
    [issue] = error["details"]
    assert issue["issue"] == "INSTRUMENT_DECLINED"
    assert issue["description"]
    links = {link["rel"]: link for link in error["links"]}
    assert links["information_link"]["href"].endswith("#error-INSTRUMENT_DECLINED")
    assert links["redirect"] == {"href": approve_url, "rel": "redirect", "method": "GET"}
    assert not paypal.sandbox.paypal.state.captures
    again = json.loads(paypal.sdk.orders.get_order({"id": order["id"]}).text)
    assert again["status"] == "PAYER_ACTION_REQUIRED"
    assert "payer" not in again
    assert {link["rel"]: link["href"] for link in again["links"]}["payer-action"] == approve_url

    # The failed capture was not stored: the same request id is not replayed as anything.
    with pytest.raises(ErrorException) as retry:
        paypal.capture(order["id"], "cap-1")
    assert error_of(retry)["details"][0]["issue"] == "ORDER_NOT_APPROVED"
    assert paypal.http.get(f"/checkoutnow?token={order['id']}").status_code == 200
    assert paypal.approve(order["id"]).status_code == 303
    captured = paypal.capture(order["id"], "cap-1")

    assert captured["status"] == "COMPLETED"
    [capture] = captured["purchase_units"][0]["payments"]["captures"]
    assert capture["status"] == "COMPLETED"
    calls = [c for c in paypal.sandbox.paypal.api_calls if c.path.endswith("/capture")]
    assert [(c.status, c.replayed) for c in calls] == [(422, False), (422, False), (201, False)]
