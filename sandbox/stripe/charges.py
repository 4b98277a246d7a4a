"""Builders for Stripe charges: the charge a PaymentIntent makes, its payment-method details,
the fields that follow its outcome, and the PaymentIntent's ``last_payment_error``.

Key sets as in :mod:`sandbox.stripe.objects` (Stripe's published example objects).
"""

from __future__ import annotations

from sandbox.core import JSON, random_id
from sandbox.stripe.objects import empty_address, list_object


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
        "address": empty_address(),
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
