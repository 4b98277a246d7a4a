"""Request validation of the PayPal sandbox, answering with PayPal's ``details[].issue`` codes.

Only the subset Kennel sends is simulated: intent CAPTURE, one purchase unit, the PayPal wallet
(``payment_source.paypal``) or the older ``application_context`` for the return/cancel URLs.
Anything else is refused plainly rather than half-simulated.  Which currencies PayPal takes,
and with how many decimals, comes from Kennel's currency table (``kennel.core.money``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from kennel.core.money import decimals, paypal_accepts
from sandbox.core import JSON
from sandbox.paypal.errors import PayPalError, detail, invalid
from sandbox.paypal.objects import CURRENCY_RE, to_decimal

#: Maximum lengths from the Orders v2 purchase_unit_request schema.
_MAX_LENGTHS = {
    "reference_id": 256,
    "description": 127,
    "custom_id": 127,
    "invoice_id": 127,
    "soft_descriptor": 22,
}
_ACTIONS = ("CONTINUE", "PAY_NOW")
_SHIPPING = ("GET_FROM_FILE", "NO_SHIPPING", "SET_PROVIDED_ADDRESS")


@dataclass(frozen=True)
class OrderSpec:
    """A validated create-order request."""

    intent: str
    unit: JSON  # the purchase unit as PayPal echoes it (reference_id defaulted)
    return_url: str | None
    cancel_url: str | None
    wallet: bool  # payment_source.paypal given: the order starts PAYER_ACTION_REQUIRED
    brand_name: str | None


def json_body(raw: bytes) -> JSON:
    """The request body as a JSON object; empty means ``{}`` (capture takes no body)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        raise PayPalError(
            400, [detail("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")]
        )
    return value


def parse_order_create(body: JSON) -> OrderSpec:
    intent = body.get("intent")
    if intent is None:
        raise _missing("/intent")
    if intent not in ("CAPTURE", "AUTHORIZE"):
        raise invalid(
            "INVALID_PARAMETER_VALUE",
            "The value of a field is invalid.",
            "/intent",
            intent,
        )
    if intent == "AUTHORIZE":
        raise invalid(
            "INVALID_PARAMETER_VALUE",
            "This sandbox simulates intent CAPTURE only.",
            "/intent",
            intent,
        )
    units = body.get("purchase_units")
    if units is None:
        raise _missing("/purchase_units")
    if not isinstance(units, list) or not units:
        raise invalid(
            "INVALID_ARRAY_MIN_ITEMS",
            "The number of items in an array parameter is too small.",
            "/purchase_units",
        )
    if len(units) > 1:
        raise invalid(
            "INVALID_ARRAY_MAX_ITEMS",
            "This sandbox simulates one purchase unit per order.",
            "/purchase_units",
        )
    unit = _purchase_unit(units[0])
    return_url, cancel_url, wallet, brand = _experience(body)
    return OrderSpec(
        intent=str(intent),
        unit=unit,
        return_url=return_url,
        cancel_url=cancel_url,
        wallet=wallet,
        brand_name=brand,
    )


def _purchase_unit(raw: Any) -> JSON:
    if not isinstance(raw, dict):
        raise invalid(
            "INVALID_PARAMETER_SYNTAX", "The value of a field is invalid.", "/purchase_units/0"
        )
    amount = raw.get("amount")
    if amount is None:
        raise _missing("/purchase_units/0/amount")
    if not isinstance(amount, dict):
        raise invalid(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field is invalid.",
            "/purchase_units/0/amount",
        )
    check_money(amount, "/purchase_units/0/amount")
    unit: JSON = {"reference_id": "default", "amount": dict(amount)}
    for key, limit in _MAX_LENGTHS.items():
        if key not in raw:
            continue
        value = raw[key]
        field = f"/purchase_units/0/{key}"
        if not isinstance(value, str):
            raise invalid("INVALID_PARAMETER_SYNTAX", "The value of a field is invalid.", field)
        if not 1 <= len(value) <= limit:
            raise invalid(
                "INVALID_STRING_LENGTH",
                "The value of a field is either too short or too long.",
                field,
                value,
            )
        unit[key] = value
    return unit


def check_money(amount: JSON, field: str, *, positive: bool = True) -> Decimal:
    """Validate a ``money`` object; returns its value."""
    currency = amount.get("currency_code")
    value = amount.get("value")
    if currency is None:
        raise _missing(f"{field}/currency_code")
    if value is None:
        raise _missing(f"{field}/value")
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        raise invalid(
            "INVALID_PARAMETER_VALUE",
            "Currency code is invalid or is not currently supported.",
            f"{field}/currency_code",
            currency,
        )
    if not paypal_accepts(currency):
        raise _currency_not_supported(f"{field}/currency_code", currency)
    number = to_decimal(value) if isinstance(value, str) else None
    if number is None:
        raise invalid(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            f"{field}/value",
            value,
        )
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > decimals(currency):
        raise invalid(
            "DECIMAL_PRECISION",
            "If the currency supports decimals, only two decimal place precision is supported.",
            f"{field}/value",
            value,
        )
    if positive and number <= 0:
        raise invalid(
            "CANNOT_BE_ZERO_OR_NEGATIVE",
            "Must be greater than zero. If the currency supports decimals, only two decimal "
            "place precision is supported.",
            f"{field}/value",
            value,
        )
    return number


def _experience(body: JSON) -> tuple[str | None, str | None, bool, str | None]:
    source = body.get("payment_source")
    context: Any = None
    prefix = ""
    wallet = False
    if source is not None:
        if not isinstance(source, dict) or set(source) != {"paypal"}:
            raise invalid(
                "INVALID_PARAMETER_VALUE",
                "This sandbox simulates the PayPal wallet (payment_source.paypal) only.",
                "/payment_source",
            )
        paypal = source["paypal"]
        if not isinstance(paypal, dict):
            raise invalid(
                "INVALID_PARAMETER_SYNTAX",
                "The value of a field is invalid.",
                "/payment_source/paypal",
            )
        context, prefix, wallet = (
            paypal.get("experience_context"),
            "/payment_source/paypal/experience_context",
            True,
        )
    elif body.get("application_context") is not None:
        context, prefix = body.get("application_context"), "/application_context"
    if context is None:
        return None, None, wallet, None
    if not isinstance(context, dict):
        raise invalid("INVALID_PARAMETER_SYNTAX", "The value of a field is invalid.", prefix)
    urls = [_url(context.get(key), f"{prefix}/{key}") for key in ("return_url", "cancel_url")]
    action = context.get("user_action")
    if action is not None and action not in _ACTIONS:
        raise _bad_value(f"{prefix}/user_action", action)
    shipping = context.get("shipping_preference")
    if shipping is not None and shipping not in _SHIPPING:
        raise _bad_value(f"{prefix}/shipping_preference", shipping)
    brand = context.get("brand_name")
    return urls[0], urls[1], wallet, brand if isinstance(brand, str) else None


def _url(value: Any, field: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid(
            "INVALID_PARAMETER_SYNTAX",
            "The value of a field does not conform to the expected format.",
            field,
            value,
        )
    return str(value)


def _bad_value(field: str, value: Any) -> PayPalError:
    return invalid("INVALID_PARAMETER_VALUE", "The value of a field is invalid.", field, value)


def _currency_not_supported(field: str, currency: str) -> PayPalError:
    """A well-formed code PayPal does not take: 422, as PayPal answers it."""
    description = (
        "Currency code is not currently supported. Please refer "
        "https://developer.paypal.com/docs/integration/direct/rest/currency-codes/ for list of "
        "supported currency codes."
    )
    issue = detail("CURRENCY_NOT_SUPPORTED", description, field=field, value=currency)
    return PayPalError(422, [issue])


def _missing(field: str) -> PayPalError:
    return invalid("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing.", field)
