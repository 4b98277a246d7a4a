"""Builders for the Stripe objects the sandbox serves (charges: :mod:`sandbox.stripe.charges`).

Each builder returns a dict with the same key set as Stripe's published example object for its
type (stripe/openapi ``fixtures3.json``, see ``reference/stripe/fixtures.json`` in the shared
folder), filled with values that are plausible for a test-mode account.  Fields whose values
depend on the object's state are set by :mod:`sandbox.stripe.payments` as the state changes.
"""

from __future__ import annotations

from typing import Any

from kennel.core.money import from_minor_units
from sandbox.core import JSON, random_id

_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def format_amount(amount: int, currency: str) -> str:
    """``5000, "eur"`` -> ``€50.00`` (minor units, as Stripe amounts are; the places come from
    Kennel's currency table: ``¥5,000``, ``1.500 KWD``)."""
    currency = currency.lower()
    number = f"{from_minor_units(amount, currency):,}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def empty_address() -> JSON:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


def list_object(data: list[JSON], url: str, has_more: bool = False) -> JSON:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def checkout_session(
    *,
    session_id: str,
    created: int,
    expires_at: int,
    url: str,
    success_url: str | None,
    cancel_url: str | None,
    currency: str,
    amount_subtotal: int,
    amount_total: int,
    metadata: dict[str, str],
    client_reference_id: str | None,
    customer_email: str | None,
    locale: str | None,
    submit_type: str | None,
    payment_method_types: list[str],
    options: dict[str, Any],
) -> JSON:
    """An ``open`` payment-mode Checkout Session (``payment_intent`` is made lazily)."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "after_expiration": None,
        "allow_promotion_codes": options.get("allow_promotion_codes"),
        "amount_subtotal": amount_subtotal,
        "amount_total": amount_total,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "billing_address_collection": options.get("billing_address_collection"),
        "cancel_url": cancel_url,
        "client_reference_id": client_reference_id,
        "client_secret": None,
        "collected_information": None,
        "consent": None,
        "consent_collection": None,
        "created": created,
        "currency": currency,
        "currency_conversion": None,
        "custom_fields": [],
        "custom_text": {
            "after_submit": None,
            "shipping_address": None,
            "submit": None,
            "terms_of_service_acceptance": None,
        },
        "customer": None,
        "customer_account": None,
        "customer_creation": options.get("customer_creation", "if_required"),
        "customer_details": None,
        "customer_email": customer_email,
        "discounts": [],
        "expires_at": expires_at,
        "integration_identifier": None,
        "invoice": None,
        "invoice_creation": {
            "enabled": False,
            "invoice_data": {
                "account_tax_ids": None,
                "custom_fields": None,
                "description": None,
                "footer": None,
                "issuer": None,
                "metadata": {},
                "rendering_options": None,
            },
        },
        "livemode": False,
        "locale": locale,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "mode": "payment",
        "origin_context": None,
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_configuration_details": None,
        "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
        "payment_method_types": payment_method_types,
        "payment_status": "unpaid",
        "permissions": None,
        "phone_number_collection": {"enabled": bool(options.get("phone_number_collection"))},
        "recovered_from": None,
        "saved_payment_method_options": None,
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": submit_type,
        "subscription": None,
        "success_url": success_url,
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": url,
        "wallet_options": None,
    }


def customer_details(email: str, name: str | None) -> JSON:
    """What the hosted page "collected" from the buyer."""
    address = empty_address()
    address["country"] = "US"
    return {
        "address": address,
        "business_name": None,
        "email": email,
        "individual_name": None,
        "name": name,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def line_item(
    *,
    created: int,
    currency: str,
    description: str,
    unit_amount: int,
    quantity: int,
) -> JSON:
    """A Checkout line item (``object: "item"``) with its inline one-time price."""
    total = unit_amount * quantity
    return {
        "id": random_id("li_"),
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": total,
        "amount_tax": 0,
        "amount_total": total,
        "currency": currency,
        "description": description,
        "metadata": None,
        "price": {
            "id": random_id("price_"),
            "object": "price",
            "active": False,  # inline price_data prices are archived once used, as on Stripe
            "billing_scheme": "per_unit",
            "created": created,
            "currency": currency,
            "custom_unit_amount": None,
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": random_id("prod_", 14),
            "recurring": None,
            "tax_behavior": "unspecified",
            "tiers_mode": None,
            "transform_quantity": None,
            "type": "one_time",
            "unit_amount": unit_amount,
            "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
    }


def payment_intent(
    *,
    created: int,
    amount: int,
    currency: str,
    metadata: dict[str, str],
    description: str | None,
    receipt_email: str | None,
    statement_descriptor: str | None,
    statement_descriptor_suffix: str | None,
    payment_method_types: list[str],
) -> JSON:
    """A PaymentIntent as Checkout creates it: ``requires_payment_method``."""
    pi_id = random_id("pi_3")
    return {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": None,
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": "automatic",
        "client_secret": f"{pi_id}_secret_{random_id('', 25)}",
        "confirmation_method": "automatic",
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "description": description,
        "excluded_payment_method_types": None,
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": metadata,
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {
                "installments": None,
                "mandate_options": None,
                "network": None,
                "request_three_d_secure": "automatic",
            }
        },
        "payment_method_types": payment_method_types,
        "processing": None,
        "receipt_email": receipt_email,
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": statement_descriptor,
        "statement_descriptor_suffix": statement_descriptor_suffix,
        "status": "requires_payment_method",
        "transfer_data": None,
        "transfer_group": None,
    }


def refund(
    *,
    created: int,
    amount: int,
    currency: str,
    charge_id: str,
    payment_intent_id: str | None,
    payment_method_id: str | None,
    reason: str | None,
    metadata: dict[str, str],
) -> JSON:
    """A refund that has already ``succeeded`` (test-mode card refunds do)."""
    return {
        "id": random_id("re_3"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": random_id("txn_3"),
        "charge": charge_id,
        "created": created,
        "currency": currency,
        "customer": None,
        "customer_account": None,
        "destination_details": {
            "card": {
                "reference": None,
                "reference_status": "pending",
                "reference_type": "acquirer_reference_number",
                "type": "refund",
            },
            "type": "card",
        },
        "metadata": metadata,
        "payment_intent": payment_intent_id,
        "payment_method": payment_method_id,
        "reason": reason,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": None,
    }


def event(
    *,
    created: int,
    event_type: str,
    obj: JSON,
    api_version: str,
    pending_webhooks: int,
    request_id: str | None,
    idempotency_key: str | None,
    previous_attributes: JSON | None = None,
) -> JSON:
    """The event envelope; ``obj`` must already be a snapshot (deep copy)."""
    data: JSON = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    return {
        "id": random_id("evt_3"),
        "object": "event",
        "api_version": api_version,
        "created": created,
        "data": data,
        "livemode": False,
        "pending_webhooks": pending_webhooks,
        "request": {"id": request_id, "idempotency_key": idempotency_key},
        "type": event_type,
    }
