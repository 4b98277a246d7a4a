"""Stripe request-parameter validation: Stripe-shaped 400s for the Checkout Session subset.

The messages, ``code`` and ``param`` values follow what Stripe answers for the same mistakes,
so that the app's error handling is exercised the way the real API would exercise it.
Parameters that exist on Stripe but are not simulated are refused loudly rather than ignored,
so the sandbox never silently pretends to support something it does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kennel.sandbox.core import JSON, as_list
from kennel.sandbox.stripe_objects import THREE_DECIMAL_CURRENCIES, ZERO_DECIMAL_CURRENCIES


class StripeError(Exception):
    """An error answered in Stripe's ``{"error": {...}}`` format."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param

    def body(self) -> JSON:
        error: JSON = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid(param: str, message: str, code: str | None = None) -> StripeError:
    return StripeError(400, message, code=code, param=param)


def missing(param: str) -> StripeError:
    return invalid(param, f"Missing required param: {param}.", "parameter_missing")


def not_found(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def _path(prefix: str, name: str) -> str:
    return f"{prefix}[{name}]" if prefix else name


def check_known(params: JSON, known: set[str], prefix: str = "") -> None:
    for name in params:
        if name not in known:
            param = _path(prefix, name)
            raise invalid(param, f"Received unknown parameter: {param}", "parameter_unknown")


def refuse_unsimulated(params: JSON, names: set[str], prefix: str = "") -> None:
    for name in names:
        if params.get(name) not in (None, ""):
            param = _path(prefix, name)
            raise invalid(
                param,
                f"The Kennel payment sandbox does not simulate `{param}`; "
                "use the real Stripe test mode for it.",
            )


def get_str(
    params: JSON, name: str, *, prefix: str = "", required: bool = False, max_length: int = 5000
) -> str | None:
    value = params.get(name)
    param = _path(prefix, name)
    if value is None or value == "":
        # Stripe reads an empty string as "unset".
        if required:
            raise missing(param)
        return None
    if not isinstance(value, str):
        raise invalid(param, f"Invalid string: {value!r}")
    if len(value) > max_length:
        raise invalid(
            param,
            f"Invalid string: {value[:20]}...; must be at most {max_length} characters",
            "string_length_too_long" if max_length < 5000 else None,
        )
    return value


def get_int(
    params: JSON,
    name: str,
    *,
    prefix: str = "",
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    raw = get_str(params, name, prefix=prefix, required=required)
    param = _path(prefix, name)
    if raw is None:
        return None
    if not re.fullmatch(r"[+-]?\d+", raw.strip()):
        raise invalid(param, f"Invalid integer: {raw}", "parameter_invalid_integer")
    value = int(raw)
    if minimum is not None and value < minimum:
        raise invalid(
            param,
            f"This value must be greater than or equal to {minimum}.",
            "parameter_invalid_integer",
        )
    if maximum is not None and value > maximum:
        raise invalid(
            param,
            f"This value must be less than or equal to {maximum}.",
            "parameter_invalid_integer",
        )
    return value


def get_bool(params: JSON, name: str, *, prefix: str = "") -> bool | None:
    raw = get_str(params, name, prefix=prefix)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise invalid(_path(prefix, name), f"Invalid boolean: {raw}")
    return raw == "true"


def get_enum(params: JSON, name: str, choices: tuple[str, ...], *, prefix: str = "") -> str | None:
    value = get_str(params, name, prefix=prefix)
    if value is not None and value not in choices:
        listed = ", ".join(choices[:-1]) + f", or {choices[-1]}" if len(choices) > 1 else choices[0]
        raise invalid(_path(prefix, name), f"Invalid {name}: must be one of {listed}")
    return value


def get_dict(params: JSON, name: str, *, prefix: str = "") -> JSON | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, dict):
        raise invalid(_path(prefix, name), f"Invalid object: {_path(prefix, name)} must be a hash")
    return value


def get_metadata(params: JSON, name: str = "metadata", *, prefix: str = "") -> dict[str, str]:
    """Stripe's metadata rules: at most 50 keys, keys ≤ 40 chars, string values ≤ 500 chars."""
    value = get_dict(params, name, prefix=prefix)
    param = _path(prefix, name)
    if value is None:
        return {}
    if len(value) > 50:
        raise invalid(param, "Invalid metadata: metadata can have at most 50 keys.")
    result: dict[str, str] = {}
    for key, item in value.items():
        if len(key) > 40:
            raise invalid(
                param, f"Invalid metadata: keys can be at most 40 characters long ({key})."
            )
        if not isinstance(item, str):
            raise invalid(param, f"Invalid value type: {item!r} must be a string")
        if len(item) > 500:
            raise invalid(
                param, f"Invalid metadata: values can be at most 500 characters long ({key})."
            )
        if item != "":  # an empty value unsets the key
            result[key] = item
    return result


def get_str_list(params: JSON, name: str, *, prefix: str = "") -> list[str] | None:
    value = params.get(name)
    param = _path(prefix, name)
    if value is None or value == "":
        return None
    items = as_list(value)
    if items is None or not all(isinstance(item, str) for item in items):
        raise invalid(param, f"Invalid array: {param} must be an array of strings")
    return items


def get_expand(params: JSON) -> list[str]:
    return get_str_list(params, "expand") or []


def get_currency(
    params: JSON, name: str, *, prefix: str = "", required: bool = False
) -> str | None:
    value = get_str(params, name, prefix=prefix, required=required)
    if value is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise invalid(_path(prefix, name), f"Invalid currency: {value}")
    return value.lower()


_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def get_url(params: JSON, name: str, *, required: bool = False) -> str | None:
    value = get_str(params, name, required=required)
    if value is not None and not _URL_RE.match(value):
        raise invalid(name, "Not a valid URL", "url_invalid")
    return value


def get_email(params: JSON, name: str, *, prefix: str = "") -> str | None:
    value = get_str(params, name, prefix=prefix, max_length=800)
    if value is not None and not _EMAIL_RE.match(value):
        raise invalid(_path(prefix, name), f"Invalid email address: {value}", "email_invalid")
    return value


# --------------------------------------------------------------------------- Checkout Session

#: Stripe's minimum charge amounts in minor units (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
MINIMUM_AMOUNTS = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
#: Stripe allows ``expires_at`` from 30 minutes to 24 hours ahead; the slack absorbs the time
#: between the app computing "now + 30 min" and the request arriving.
EXPIRES_MIN_SECONDS = 30 * 60
EXPIRES_MAX_SECONDS = 24 * 3600
EXPIRES_SLACK_SECONDS = 10

_SIMULATED = {
    "mode", "line_items", "success_url", "cancel_url", "expires_at", "metadata",
    "client_reference_id", "customer_email", "payment_intent_data", "payment_method_types",
    "locale", "submit_type", "currency", "expand",
}  # fmt: skip
# Accepted because they only change how the hosted page looks, which the sandbox does not model.
_COSMETIC = {
    "allow_promotion_codes", "billing_address_collection", "customer_creation",
    "phone_number_collection", "custom_text", "ui_mode", "adaptive_pricing", "wallet_options",
    "payment_method_options",
}  # fmt: skip
_UNSIMULATED = {
    "after_expiration", "automatic_tax", "consent_collection", "custom_fields", "customer",
    "customer_update", "discounts", "invoice_creation", "optional_items",
    "payment_method_collection", "payment_method_configuration", "payment_method_data",
    "redirect_on_completion", "return_url", "saved_payment_method_options", "setup_intent_data",
    "shipping_address_collection", "shipping_options", "subscription_data", "tax_id_collection",
    "branding_settings", "name_collection", "permissions", "origin_context",
    "excluded_payment_method_types", "managed_payments", "integration_identifier",
}  # fmt: skip
_PI_DATA_SIMULATED = {
    "metadata", "description", "receipt_email", "statement_descriptor",
    "statement_descriptor_suffix", "capture_method",
}  # fmt: skip
_PI_DATA_UNSIMULATED = {
    "application_fee_amount", "on_behalf_of", "setup_future_usage", "shipping",
    "transfer_data", "transfer_group",
}  # fmt: skip

_LINE_SIMULATED = {"price", "price_data", "quantity", "metadata"}
_LINE_UNSIMULATED = {"adjustable_quantity", "dynamic_tax_rates", "tax_rates"}
_PRICE_DATA_KNOWN = {
    "currency", "product", "product_data", "unit_amount", "unit_amount_decimal",
    "tax_behavior", "recurring",
}  # fmt: skip
_PRODUCT_DATA_KNOWN = {"name", "description", "images", "metadata", "tax_code", "unit_label"}


@dataclass
class LineSpec:
    name: str
    description: str | None
    unit_amount: int
    quantity: int


@dataclass
class SessionSpec:
    """A validated ``POST /v1/checkout/sessions`` request."""

    currency: str
    lines: list[LineSpec]
    expires_at: int
    success_url: str | None
    cancel_url: str | None
    metadata: dict[str, str]
    client_reference_id: str | None
    customer_email: str | None
    locale: str | None
    submit_type: str | None
    payment_method_types: list[str]
    pi_metadata: dict[str, str]
    pi_description: str | None
    pi_receipt_email: str | None
    pi_statement_descriptor: str | None
    pi_statement_descriptor_suffix: str | None
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def amount_total(self) -> int:
        return sum(line.unit_amount * line.quantity for line in self.lines)


def parse_session_create(params: JSON, now: int) -> SessionSpec:
    """Validate the Checkout Session create parameters the way Stripe does."""
    check_known(params, _SIMULATED | _COSMETIC | _UNSIMULATED)
    refuse_unsimulated(params, _UNSIMULATED)
    mode = get_enum(params, "mode", ("payment", "setup", "subscription"))
    if mode is None:
        raise missing("mode")
    if mode != "payment":
        raise invalid("mode", "The Kennel payment sandbox only simulates mode=payment.")
    ui_mode = get_str(params, "ui_mode")
    if ui_mode not in (None, "hosted", "hosted_page"):
        raise invalid("ui_mode", "The Kennel payment sandbox only simulates the hosted page.")

    currency = get_currency(params, "currency")
    lines_raw = params.get("line_items")
    lines_list = as_list(lines_raw) if lines_raw not in (None, "") else None
    if not lines_list:
        if lines_raw not in (None, ""):
            raise invalid("line_items", "Invalid array", "parameter_invalid_empty")
        raise missing("line_items")
    lines: list[LineSpec] = []
    for index, raw in enumerate(lines_list):
        line_currency, line = _parse_line(raw, f"line_items[{index}]")
        if currency is None:
            currency = line_currency
        elif line_currency != currency:
            raise invalid(
                f"line_items[{index}][price_data][currency]",
                "All line items must use the same currency as the Checkout Session.",
            )
        lines.append(line)
    assert currency is not None

    expires_at = get_int(params, "expires_at")
    if expires_at is None:
        expires_at = now + EXPIRES_MAX_SECONDS
    elif expires_at < now + EXPIRES_MIN_SECONDS - EXPIRES_SLACK_SECONDS:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be at least 30 minutes from Checkout Session "
            "creation.",
        )
    elif expires_at > now + EXPIRES_MAX_SECONDS + EXPIRES_SLACK_SECONDS:
        raise invalid(
            "expires_at",
            "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
        )

    pi_data = get_dict(params, "payment_intent_data") or {}
    check_known(pi_data, _PI_DATA_SIMULATED | _PI_DATA_UNSIMULATED, "payment_intent_data")
    refuse_unsimulated(pi_data, _PI_DATA_UNSIMULATED, "payment_intent_data")
    capture = get_enum(
        pi_data,
        "capture_method",
        ("automatic", "automatic_async", "manual"),
        prefix="payment_intent_data",
    )
    if capture == "manual":
        raise invalid(
            "payment_intent_data[capture_method]",
            "The Kennel payment sandbox only simulates automatic capture.",
        )

    spec = SessionSpec(
        currency=currency,
        lines=lines,
        expires_at=expires_at,
        success_url=get_url(params, "success_url"),
        cancel_url=get_url(params, "cancel_url"),
        metadata=get_metadata(params),
        client_reference_id=get_str(params, "client_reference_id", max_length=200),
        customer_email=get_email(params, "customer_email"),
        locale=get_str(params, "locale", max_length=10),
        submit_type=get_enum(params, "submit_type", ("auto", "book", "donate", "pay", "subscribe")),
        payment_method_types=get_str_list(params, "payment_method_types") or ["card"],
        pi_metadata=get_metadata(pi_data, prefix="payment_intent_data"),
        pi_description=get_str(
            pi_data, "description", prefix="payment_intent_data", max_length=1000
        ),
        pi_receipt_email=get_email(pi_data, "receipt_email", prefix="payment_intent_data"),
        pi_statement_descriptor=get_str(
            pi_data, "statement_descriptor", prefix="payment_intent_data", max_length=22
        ),
        pi_statement_descriptor_suffix=get_str(
            pi_data, "statement_descriptor_suffix", prefix="payment_intent_data", max_length=22
        ),
        options={
            "allow_promotion_codes": get_bool(params, "allow_promotion_codes"),
            "billing_address_collection": get_str(params, "billing_address_collection"),
            "customer_creation": get_str(params, "customer_creation") or "if_required",
            "phone_number_collection": get_bool(
                get_dict(params, "phone_number_collection") or {},
                "enabled",
                prefix="phone_number_collection",
            ),
        },
    )
    total = spec.amount_total
    minimum = MINIMUM_AMOUNTS.get(currency, 50 if currency not in ZERO_DECIMAL_CURRENCIES else 1)
    if 0 < total < minimum:
        raise invalid(
            "line_items",
            "The Checkout Session's total amount due must add up to at least "
            f"{_minor_to_major(minimum, currency)} {currency}",
            "amount_too_small",
        )
    if total > 99_999_999:
        raise invalid(
            "line_items", "The Checkout Session's total amount is too large.", "amount_too_large"
        )
    return spec


def _minor_to_major(amount: int, currency: str) -> str:
    if currency in ZERO_DECIMAL_CURRENCIES:
        return str(amount)
    if currency in THREE_DECIMAL_CURRENCIES:
        return f"{amount / 1000:.3f}"
    return f"{amount / 100:.2f}"


def _parse_line(raw: Any, prefix: str) -> tuple[str, LineSpec]:
    if not isinstance(raw, dict):
        raise invalid(prefix, f"Invalid object: {prefix} must be a hash")
    check_known(raw, _LINE_SIMULATED | _LINE_UNSIMULATED, prefix)
    refuse_unsimulated(raw, _LINE_UNSIMULATED, prefix)
    price_id = get_str(raw, "price", prefix=prefix)
    if price_id is not None:
        # The sandbox keeps no Price catalogue; the app sends inline price_data.
        raise StripeError(
            400, f"No such price: '{price_id}'", code="resource_missing", param=f"{prefix}[price]"
        )
    price_data = get_dict(raw, "price_data", prefix=prefix)
    if price_data is None:
        raise missing(f"{prefix}[price_data]")
    pd_prefix = f"{prefix}[price_data]"
    check_known(price_data, _PRICE_DATA_KNOWN, pd_prefix)
    if price_data.get("recurring") not in (None, ""):
        raise invalid(
            f"{pd_prefix}[recurring]",
            "You must provide at least one recurring price in `subscription` mode when using "
            "prices; in `payment` mode prices must be one-time.",
        )
    currency = get_currency(price_data, "currency", prefix=pd_prefix, required=True)
    assert currency is not None
    product_id = get_str(price_data, "product", prefix=pd_prefix)
    if product_id is not None:
        raise StripeError(
            400,
            f"No such product: '{product_id}'",
            code="resource_missing",
            param=f"{pd_prefix}[product]",
        )
    product_data = get_dict(price_data, "product_data", prefix=pd_prefix)
    if product_data is None:
        raise missing(f"{pd_prefix}[product_data]")
    prod_prefix = f"{pd_prefix}[product_data]"
    check_known(product_data, _PRODUCT_DATA_KNOWN, prod_prefix)
    name = get_str(product_data, "name", prefix=prod_prefix, required=True, max_length=250)
    assert name is not None
    get_metadata(product_data, prefix=prod_prefix)
    unit_amount = get_int(
        price_data, "unit_amount", prefix=pd_prefix, minimum=0, maximum=99_999_999
    )
    if unit_amount is None:
        decimal = get_str(price_data, "unit_amount_decimal", prefix=pd_prefix)
        if decimal is None:
            raise missing(f"{pd_prefix}[unit_amount]")
        if not re.fullmatch(r"\d+(\.0*)?", decimal):
            raise invalid(
                f"{pd_prefix}[unit_amount_decimal]",
                "The Kennel payment sandbox only simulates whole minor-unit amounts.",
            )
        unit_amount = int(decimal.split(".")[0])
    quantity = get_int(raw, "quantity", prefix=prefix, minimum=1, maximum=999_999)
    if quantity is None:
        raise missing(f"{prefix}[quantity]")
    description = get_str(product_data, "description", prefix=prod_prefix)
    return currency, LineSpec(name, description, unit_amount, quantity)
