"""The sandbox reads Kennel's one currency table (``kennel.core.money``): the minor units Stripe
counts in, the places PayPal accepts, and which codes PayPal takes at all."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import stripe
from paypalserversdk.exceptions.error_exception import ErrorException

from tests.sandbox import test_sandbox_paypal_api as paypal_api
from tests.sandbox.test_sandbox_paypal_api import PayPal, error_of

if TYPE_CHECKING:
    from tests.sandbox.conftest import Harness

make_paypal = paypal_api.make_paypal  # the same harness as the PayPal API tests
paypal = paypal_api.paypal


def _line(currency: str, amount: int) -> list[dict[str, Any]]:
    price = {"currency": currency, "unit_amount": amount, "product_data": {"name": "Deposit"}}
    return [{"price_data": price, "quantity": 1}]


@pytest.mark.parametrize(
    ("overrides", "param"),
    [
        ({"line_items": _line("xyz", 5000)}, "line_items[0][price_data][currency]"),
        ({"currency": "xyz"}, "currency"),
    ],
)
def test_stripe_refuses_a_currency_outside_the_table_as_it_refuses_an_invalid_one(
    harness: Harness, overrides: dict[str, Any], param: str
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.create_session(**overrides)

    assert (caught.value.http_status, caught.value.param) == (400, param)
    assert caught.value.error is not None
    assert caught.value.error.type == "invalid_request_error"
    assert str(caught.value.user_message).startswith("Invalid currency: xyz.")
    assert not harness.sandbox.stripe.state.sessions


@pytest.mark.parametrize(
    ("currency", "amount", "shown"),
    [
        ("jpy", 5000, "¥5,000"),  # zero-decimal: counted in yen
        ("kwd", 12500, "12.500 KWD"),  # three-decimal: counted in fils
        ("huf", 500000, "5,000.00 HUF"),  # two-decimal in Stripe's API
    ],
)
def test_stripe_amounts_are_counted_in_the_tables_minor_unit(
    harness: Harness, currency: str, amount: int, shown: str
) -> None:
    session = harness.create_session(line_items=_line(currency.upper(), amount))

    assert (session.currency, session.amount_total) == (currency, amount)
    assert shown in harness.http.get(f"/c/pay/{session.id}").text


def test_stripe_minimum_amounts_follow_the_minor_unit(harness: Harness) -> None:
    assert harness.create_session(line_items=_line("krw", 1)).amount_total == 1

    with pytest.raises(stripe.InvalidRequestError) as caught:
        harness.create_session(line_items=_line("kwd", 40))

    assert caught.value.code == "amount_too_small"
    assert "at least 0.050 kwd" in str(caught.value.user_message)


@pytest.mark.parametrize("currency", ["KRW", "XYZ"])
def test_paypal_refuses_a_currency_it_does_not_take_with_a_422(
    paypal: PayPal, currency: str
) -> None:
    body = paypal.order_body()
    body["purchase_units"][0]["amount"]["currency_code"] = currency

    with pytest.raises(ErrorException) as exc:
        paypal.sdk.orders.create_order({"body": body})

    assert exc.value.response_code == 422
    error = error_of(exc)
    assert error["name"] == "UNPROCESSABLE_ENTITY"
    detail = error["details"][0]
    assert (detail["issue"], detail["field"], detail["value"]) == (
        "CURRENCY_NOT_SUPPORTED",
        "/purchase_units/0/amount/currency_code",
        currency,
    )
    assert not paypal.sandbox.paypal.state.orders


@pytest.mark.parametrize(
    ("currency", "value", "accepted"),
    [
        ("JPY", "300", True),
        ("JPY", "300.50", False),
        ("HUF", "1000", True),
        ("EUR", "300.50", True),
    ],
)
def test_paypal_accepts_the_places_the_table_gives_it(
    paypal: PayPal, currency: str, value: str, accepted: bool
) -> None:
    body = paypal.order_body()
    body["purchase_units"][0]["amount"] = {"currency_code": currency, "value": value}

    if accepted:
        order = json.loads(paypal.sdk.orders.create_order({"body": body}).text)
        assert order["status"] == "PAYER_ACTION_REQUIRED"
        return
    with pytest.raises(ErrorException) as exc:
        paypal.sdk.orders.create_order({"body": body})
    assert error_of(exc)["details"][0]["issue"] == "DECIMAL_PRECISION"


def test_a_zero_decimal_paypal_capture_carries_whole_amounts(paypal: PayPal) -> None:
    body = paypal.order_body()
    body["purchase_units"][0]["amount"] = {"currency_code": "JPY", "value": "30000"}
    order = json.loads(paypal.sdk.orders.create_order({"body": body}).text)
    paypal.approve(order["id"])

    capture = paypal.capture(order["id"])["purchase_units"][0]["payments"]["captures"][0]

    breakdown = capture["seller_receivable_breakdown"]
    assert breakdown["gross_amount"] == {"currency_code": "JPY", "value": "30000"}
    assert "." not in breakdown["paypal_fee"]["value"]
    assert "." not in breakdown["net_amount"]["value"]
