"""Builders for the Stripe objects the sandbox serves.

Each builder returns a dict with the same key set as Stripe's published example object for its
type (stripe/openapi ``fixtures3.json``, see ``reference/stripe/fixtures.json`` in the shared
folder), filled with values that are plausible for a test-mode account.  Fields whose values
depend on the object's state are set by ``stripe_api`` as the state changes.
"""

from __future__ import annotations

from typing import Any

from kennel.sandbox.core import JSON, random_id

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
_SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥", "cad": "CA$", "aud": "A$"}


def format_amount(amount: int, currency: str) -> str:
    """``5000, "eur"`` -> ``€50.00`` (minor units, as Stripe amounts are)."""
    currency = currency.lower()
    if currency in ZERO_DECIMAL_CURRENCIES:
        number = f"{amount:,}"
    elif currency in THREE_DECIMAL_CURRENCIES:
        number = f"{amount / 1000:,.3f}"
    else:
        number = f"{amount / 100:,.2f}"
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{number}" if symbol else f"{number} {currency.upper()}"


def _address() -> JSON:
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
    address = _address()
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


def _card_details(amount: int) -> JSON:
    return {
        "type": "card",
        "card": {
            "amount_authorized": amount,
            "authorization_code": "123456",
            "brand": "visa",
            "checks": {
                "address_line1_check": None,
                "address_postal_code_check": None,
                "cvc_check": "pass",
            },
            "country": "US",
            "exp_month": 12,
            "exp_year": 2034,
            "extended_authorization": {"status": "disabled"},
            "fingerprint": "KennelSandbox4242",
            "funding": "credit",
            "incremental_authorization": {"status": "unavailable"},
            "installments": None,
            "last4": "4242",
            "mandate": None,
            "multicapture": {"status": "unavailable"},
            "network": "visa",
            "network_token": {"used": False},
            "network_transaction_id": "104102978678771",
            "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
            "regulated_status": "unregulated",
            "three_d_secure": None,
            "transaction_link_id": None,
            "wallet": None,
        },
    }


def _bank_debit_details() -> JSON:
    # Delayed-notification methods in real Checkout are bank debits; SEPA is the usual example.
    return {
        "type": "sepa_debit",
        "sepa_debit": {
            "bank_code": "37040044",
            "branch_code": None,
            "country": "DE",
            "fingerprint": "KennelSandboxSepa",
            "last4": "3000",
            "mandate": random_id("mandate_"),
        },
    }


def charge(
    *,
    created: int,
    amount: int,
    currency: str,
    payment_intent_id: str,
    payment_method_id: str,
    method: str,
    status: str,
    billing_email: str | None,
    billing_name: str | None,
    description: str | None,
    metadata: dict[str, str],
    receipt_base: str,
    receipt_email: str | None,
) -> JSON:
    """A charge made by a PaymentIntent; ``method`` is ``card`` or ``bank_debit``."""
    charge_id = random_id("ch_3")
    billing = {
        "address": _address(),
        "email": billing_email,
        "name": billing_name,
        "phone": None,
        "tax_id": None,
    }
    obj: JSON = {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": 0,
        "amount_refunded": 0,
        "application": None,
        "application_fee": None,
        "application_fee_amount": None,
        "balance_transaction": None,
        "billing_details": billing,
        "calculated_statement_descriptor": "KENNEL SANDBOX",
        "captured": False,
        "created": created,
        "currency": currency,
        "customer": None,
        "description": description,
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": False,
        "metadata": metadata,
        "on_behalf_of": None,
        "outcome": None,
        "paid": False,
        "payment_intent": payment_intent_id,
        "payment_method": payment_method_id,
        "payment_method_details": _card_details(amount)
        if method == "card"
        else _bank_debit_details(),
        "receipt_email": receipt_email,
        "receipt_number": None,
        "receipt_url": f"{receipt_base}/receipts/payment/{charge_id}",
        "refunded": False,
        "refunds": list_object([], f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": status,
        "transfer_data": None,
        "transfer_group": None,
    }
    set_charge_outcome(obj, status)
    return obj


def set_charge_outcome(obj: JSON, status: str, failure_code: str | None = None) -> None:
    """Fill the state-dependent charge fields for ``pending``/``succeeded``/``failed``."""
    obj["status"] = status
    succeeded = status == "succeeded"
    obj["paid"] = succeeded
    obj["captured"] = succeeded
    obj["amount_captured"] = obj["amount"] if succeeded else 0
    if succeeded and obj["balance_transaction"] is None:
        obj["balance_transaction"] = random_id("txn_3")
    if status == "failed":
        code = failure_code or "card_declined"
        message = {
            "card_declined": "Your card was declined.",
            "insufficient_funds": (
                "The customer's account has insufficient funds to cover this payment."
            ),
        }.get(code, "The payment failed.")
        obj["failure_code"] = code
        obj["failure_message"] = message
        obj["outcome"] = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "declined_by_network",
            "reason": "generic_decline",
            "risk_level": "normal",
            "risk_score": 30,
            "seller_message": "The bank did not return any further details with this decline.",
            "type": "issuer_declined",
        }
    else:
        obj["outcome"] = {
            "advice_code": None,
            "network_advice_code": None,
            "network_decline_code": None,
            "network_status": "approved_by_network",
            "reason": None,
            "risk_level": "normal",
            "risk_score": 12,
            "seller_message": "Payment complete.",
            "type": "authorized",
        }


def payment_error(failed_charge: JSON, code: str) -> JSON:
    """A PaymentIntent's ``last_payment_error`` for a failed charge."""
    is_card = failed_charge["payment_method_details"]["type"] == "card"
    return {
        "charge": failed_charge["id"],
        "code": code,
        "decline_code": "generic_decline" if is_card else None,
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
        "message": failed_charge["failure_message"],
        "payment_method": {
            "id": failed_charge["payment_method"],
            "object": "payment_method",
            "type": failed_charge["payment_method_details"]["type"],
        },
        "type": "card_error" if is_card else "invalid_request_error",
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
