"""Builders for the PayPal sandbox's objects and webhook envelopes (errors:
:mod:`sandbox.paypal.errors`).

Key sets follow PayPal's published specifications (paypal-rest-api-specifications: Orders v2
``order``/``purchase_unit``/``capture``, Payments v2 ``capture-2``/``refund``, the Webhooks v1
``event`` envelope).  Money is always ``{"currency_code", "value"}`` with ``value`` a decimal
string, as PayPal writes it, with the places Kennel's currency table gives PayPal.  Nothing
here holds state.
"""

from __future__ import annotations

import re
import secrets
import string
import time
from decimal import Decimal, InvalidOperation

from kennel.core.money import decimals, paypal_value
from sandbox.core import JSON

_ID_ALPHABET = string.ascii_uppercase + string.digits

VALUE_RE = re.compile(r"^((-?[0-9]+)|(-?([0-9]+)?[.][0-9]+))$")  # PayPal's money.value pattern
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

#: What a PayPal wallet payment costs the merchant in the sandbox (looks plausible, no more).
FEE_RATE = Decimal("0.0349")
FEE_FIXED = Decimal("0.49")

SELLER_PROTECTION = {
    "status": "ELIGIBLE",
    "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
}
SANDBOX_PAYEE = {"email_address": "breeder@kennel.sandbox.invalid", "merchant_id": "KENNELSANDBOX1"}
SANDBOX_PAYER_NAME = {"given_name": "Sandbox", "surname": "Buyer"}


def paypal_id(length: int = 17) -> str:
    """An id in PayPal's style: upper-case letters and digits (orders, captures, refunds)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def event_id() -> str:
    return f"WH-{paypal_id()}-{paypal_id()}"


def debug_id() -> str:
    return secrets.token_hex(7)[:13]


def timestamp(seconds: float) -> str:
    """RFC 3339 in UTC without fractions, as PayPal's objects carry it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def event_timestamp(seconds: float) -> str:
    """RFC 3339 in UTC with milliseconds, as webhook envelopes carry it."""
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def to_decimal(value: str) -> Decimal | None:
    if not VALUE_RE.match(value):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def money(currency: str, value: Decimal | str) -> JSON:
    text = value if isinstance(value, str) else paypal_value(value, currency)
    return {"currency_code": currency, "value": text}


def link(href: str, rel: str, method: str = "GET") -> JSON:
    return {"href": href, "rel": rel, "method": method}


# --------------------------------------------------------------------------- orders


def order_links(base: str, order: JSON, approve_url: str) -> list[JSON]:
    """The HATEOAS links PayPal gives an order in each status."""
    self_href = f"{base}/v2/checkout/orders/{order['id']}"
    status = order["status"]
    if status == "PAYER_ACTION_REQUIRED":
        return [link(self_href, "self"), link(approve_url, "payer-action")]
    if status == "CREATED":
        return [
            link(self_href, "self"),
            link(approve_url, "approve"),
            link(self_href, "update", "PATCH"),
            link(f"{self_href}/capture", "capture", "POST"),
        ]
    if status == "APPROVED":
        return [
            link(self_href, "self"),
            link(self_href, "update", "PATCH"),
            link(f"{self_href}/capture", "capture", "POST"),
        ]
    return [link(self_href, "self")]


_ORDER_KEYS = (
    "id", "intent", "status", "payment_source", "purchase_units", "payer", "create_time",
    "update_time", "links",
)  # fmt: skip


def order_view(order: JSON) -> JSON:
    """The full order (``Prefer: return=representation``, GET) with keys in PayPal's order."""
    return {key: order[key] for key in _ORDER_KEYS if key in order}


def minimal_order(order: JSON) -> JSON:
    """The ``Prefer: return=minimal`` body (PayPal's default): id, status, links and, once
    there are any, the payment source, payer and captures."""
    body: JSON = {"id": order["id"], "status": order["status"]}
    if "payment_source" in order:
        body["payment_source"] = order["payment_source"]
    unit = order["purchase_units"][0]
    if unit.get("payments"):
        body["purchase_units"] = [
            {"reference_id": unit["reference_id"], "payments": unit["payments"]}
        ]
    if "payer" in order:
        body["payer"] = order["payer"]
    body["links"] = order["links"]
    return body


def approved_payer(email: str, payer_id: str) -> JSON:
    return {
        "name": dict(SANDBOX_PAYER_NAME),
        "email_address": email,
        "payer_id": payer_id,
        "address": {"country_code": "FR"},
    }


def approved_wallet(email: str, payer_id: str) -> JSON:
    return {
        "paypal": {
            "email_address": email,
            "account_id": payer_id,
            "account_status": "VERIFIED",
            "name": dict(SANDBOX_PAYER_NAME),
            "address": {"country_code": "FR"},
        }
    }


# --------------------------------------------------------------------------- captures, refunds


def capture(
    *,
    base: str,
    order_id: str,
    amount: JSON,
    status: str,
    custom_id: str | None,
    invoice_id: str | None,
    now: float,
) -> JSON:
    """An Orders v2 ``capture`` (as nested in the order's ``payments.captures``)."""
    capture_id = paypal_id()
    currency = str(amount["currency_code"])
    gross = Decimal(str(amount["value"]))
    fixed = FEE_FIXED * 100 if decimals(currency) == 0 else FEE_FIXED
    fee = min(gross, gross * FEE_RATE + fixed)
    obj: JSON = {
        "id": capture_id,
        "status": status,
        "amount": dict(amount),
        "final_capture": True,
        "seller_protection": {
            "status": SELLER_PROTECTION["status"],
            "dispute_categories": list(SELLER_PROTECTION["dispute_categories"]),
        },
        "seller_receivable_breakdown": {
            "gross_amount": dict(amount),
            "paypal_fee": money(currency, fee),
            "net_amount": money(currency, gross - Decimal(paypal_value(fee, currency))),
        },
        "links": [
            link(f"{base}/v2/payments/captures/{capture_id}", "self"),
            link(f"{base}/v2/payments/captures/{capture_id}/refund", "refund", "POST"),
            link(f"{base}/v2/checkout/orders/{order_id}", "up"),
        ],
        "create_time": timestamp(now),
        "update_time": timestamp(now),
    }
    if status == "PENDING":
        obj["status_details"] = {"reason": "PENDING_REVIEW"}
    if custom_id is not None:
        obj["custom_id"] = custom_id
    if invoice_id is not None:
        obj["invoice_id"] = invoice_id
    return obj


def capture_details(capture_obj: JSON, order_id: str) -> JSON:
    """The Payments v2 ``capture-2`` body of ``GET /v2/payments/captures/{id}``."""
    body = dict(capture_obj)
    body["supplementary_data"] = {"related_ids": {"order_id": order_id}}
    body["payee"] = dict(SANDBOX_PAYEE)
    return body


def refund(
    *,
    base: str,
    capture_obj: JSON,
    amount: JSON,
    total_refunded: Decimal,
    note_to_payer: str | None,
    now: float,
    ids: dict[str, str] | None = None,
) -> JSON:
    """A Payments v2 ``refund`` of (part of) a capture."""
    refund_id = paypal_id()
    currency = str(amount["currency_code"])
    obj: JSON = {
        "id": refund_id,
        "amount": dict(amount),
        "status": "COMPLETED",
        "seller_payable_breakdown": {
            "gross_amount": dict(amount),
            "paypal_fee": money(currency, Decimal(0)),
            "net_amount": dict(amount),
            "total_refunded_amount": money(currency, total_refunded),
        },
        "links": [
            link(f"{base}/v2/payments/refunds/{refund_id}", "self"),
            link(f"{base}/v2/payments/captures/{capture_obj['id']}", "up"),
        ],
        "create_time": timestamp(now),
        "update_time": timestamp(now),
    }
    for key in ("invoice_id", "custom_id"):
        if key in capture_obj:
            obj[key] = capture_obj[key]
    obj.update(ids or {})
    if note_to_payer:
        obj["note_to_payer"] = note_to_payer
    return obj


# --------------------------------------------------------------------------- webhook envelope

RESOURCE_TYPES = {
    "CHECKOUT.ORDER.APPROVED": "checkout-order",
    "CHECKOUT.PAYMENT-APPROVAL.REVERSED": "checkout-order",
    "PAYMENT.CAPTURE.COMPLETED": "capture",
    "PAYMENT.CAPTURE.PENDING": "capture",
    "PAYMENT.CAPTURE.DECLINED": "capture",
    "PAYMENT.CAPTURE.DENIED": "capture",
    "PAYMENT.CAPTURE.REFUNDED": "refund",
}


def summary(event_type: str, resource: JSON) -> str:
    amount = resource.get("amount") or {}
    shown = f"{amount.get('value', '')} {amount.get('currency_code', '')}".strip()
    return {
        "CHECKOUT.ORDER.APPROVED": "An order has been approved by buyer",
        "CHECKOUT.PAYMENT-APPROVAL.REVERSED": "A payment approval has been reversed",
        "PAYMENT.CAPTURE.COMPLETED": f"Payment completed for {shown}",
        "PAYMENT.CAPTURE.PENDING": f"Payment pending for {shown}",
        "PAYMENT.CAPTURE.DECLINED": "A payment capture was declined",
        "PAYMENT.CAPTURE.DENIED": f"A {shown} capture payment was denied",
        "PAYMENT.CAPTURE.REFUNDED": f"A {shown} capture payment was refunded",
    }.get(event_type, event_type)


def event(*, base: str, event_type: str, resource: JSON, now: float) -> JSON:
    evt_id = event_id()
    href = f"{base}/v1/notifications/webhooks-events/{evt_id}"
    return {
        "id": evt_id,
        "event_version": "1.0",
        "create_time": event_timestamp(now),
        "resource_type": RESOURCE_TYPES.get(event_type, "checkout-order"),
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": summary(event_type, resource),
        "resource": resource,
        "links": [
            {**link(href, "self"), "encType": "application/json"},
            {**link(f"{href}/resend", "resend", "POST"), "encType": "application/json"},
        ],
    }
