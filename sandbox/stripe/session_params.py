"""The rules of ``POST /v1/checkout/sessions``: what Stripe accepts, simulates and refuses.

:func:`parse_session_create` validates the parameters the way Stripe does and returns a
:class:`SessionSpec`, from which :mod:`sandbox.stripe.api` builds the session.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kennel.core.money import exponent, from_minor_units
from sandbox.core import JSON, as_list
from sandbox.stripe.errors import StripeError, invalid, missing
from sandbox.stripe.params import (
    check_known,
    get_bool,
    get_currency,
    get_dict,
    get_email,
    get_enum,
    get_int,
    get_metadata,
    get_str,
    get_str_list,
    get_url,
    refuse_unsimulated,
)

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
    minimum = MINIMUM_AMOUNTS.get(currency, 1 if exponent(currency) == 0 else 50)
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
    return str(from_minor_units(amount, currency))


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
