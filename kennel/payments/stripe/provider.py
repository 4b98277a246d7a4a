"""Stripe Checkout as a PaymentProvider (see payments/providers.py for the contract)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kennel.core.money import from_minor_units, to_minor_units
from kennel.payments.providers import (
    CheckoutRequest,
    CheckoutStart,
    PaymentSnapshot,
    PaymentState,
    ProviderError,
    RefundSnapshot,
    VerifiedEvent,
    WebhookRejected,
)
from kennel.payments.stripe import client

STRIPE = "stripe"  # the provider's name, as Reservation.provider stores it

# The refund metadata naming Kennel's idempotency key: a refund without it was made elsewhere.
KENNEL_REFUND_KEY = "kennel_refund"

# Stripe refuses a Checkout Session that expires in under 30 minutes.
MIN_SESSION_LIFETIME = timedelta(minutes=30, seconds=30)

SESSION_EVENTS = frozenset(
    {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
)
# A refund made, or its status changed (pending → succeeded/failed), by us or at the dashboard.
REFUND_EVENTS = frozenset({"charge.refunded", "refund.created", "refund.updated", "refund.failed"})
REFUND_STATES = {"succeeded": "succeeded", "failed": "failed", "canceled": "failed"}


@dataclass
class StripeProvider:
    name: str = STRIPE

    @classmethod
    def from_settings(cls) -> "StripeProvider":
        return cls()

    def create_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        expires_at = max(request.expires_at, timezone.now() + MIN_SESSION_LIFETIME)
        reservation_id = request.reservation_id
        session = client.create_checkout_session(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": request.currency.lower(),
                            "unit_amount": to_minor_units(request.amount, request.currency),
                            "product_data": {"name": request.description},
                        },
                    }
                ],
                "success_url": _with_query(request.success_url, "session_id={CHECKOUT_SESSION_ID}"),
                "cancel_url": request.cancel_url,
                "expires_at": int(expires_at.timestamp()),
                "client_reference_id": reservation_id,
                "customer_email": request.buyer_email,
                "metadata": {"reservation_id": reservation_id},
                "payment_intent_data": {"metadata": {"reservation_id": reservation_id}},
            },
            idempotency_key=f"kennel-checkout-{reservation_id}",
        )
        if not session.get("url"):
            raise ProviderError("Stripe returned a session without a checkout URL")
        return CheckoutStart(reference=session["id"], redirect_url=session["url"])

    def read_payment(self, reference: str) -> PaymentSnapshot:
        return session_snapshot(client.retrieve_checkout_session(reference))

    def capture_payment(self, reference: str) -> PaymentSnapshot:
        """Checkout captures by itself when the buyer pays: there is nothing to take, only
        to read."""
        return self.read_payment(reference)

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> VerifiedEvent:
        event = client.construct_event(body, headers.get("stripe-signature", ""))
        data = event.get("data")
        if (
            not isinstance(event.get("id"), str)
            or not isinstance(event.get("type"), str)
            or not isinstance(data, dict)
            or not isinstance(data.get("object"), dict)
        ):
            # Signed, but not an event we could ever process: refused now, not retried later.
            raise WebhookRejected("malformed_body")
        return VerifiedEvent(
            provider=self.name,
            event_id=event["id"],
            type=event["type"],
            payload=event,
            body=body.decode("utf-8"),
            headers=headers,
        )

    def acts_on(self, event: VerifiedEvent) -> bool:
        return event.type in SESSION_EVENTS or event.type in REFUND_EVENTS

    def read_event(self, event: VerifiedEvent) -> PaymentSnapshot | None:
        obj = (event.payload.get("data") or {}).get("object") or {}
        if event.type in SESSION_EVENTS and obj.get("id"):
            # The event is only a trigger: the session as the API has it now is the truth.
            return self.read_payment(obj["id"])
        intent_id = obj.get("payment_intent")
        if event.type in REFUND_EVENTS and isinstance(intent_id, str) and intent_id:
            return refund_snapshot(
                client.retrieve_payment_intent(intent_id), client.list_refunds(intent_id)
            )
        return None

    def refund(
        self, *, payment_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundSnapshot:
        refund = client.create_refund(
            {
                "payment_intent": payment_id,
                "amount": to_minor_units(amount, currency),
                "metadata": {KENNEL_REFUND_KEY: idempotency_key},
            },
            idempotency_key=idempotency_key,
        )
        return stripe_refund_snapshot(refund, currency.upper())

    def cancel_checkout(self, reference: str) -> None:
        session = client.retrieve_checkout_session(reference)
        if session.get("status") == "open":
            client.expire_checkout_session(reference)


def session_snapshot(session: dict[str, Any]) -> PaymentSnapshot:
    intent = session.get("payment_intent")
    intent = intent if isinstance(intent, dict) else {}
    status, payment_status = session.get("status"), session.get("payment_status")
    if payment_status == "paid":
        state = PaymentState.PAID
    elif status == "expired":
        state = PaymentState.EXPIRED
    elif status == "complete" and intent.get("status") == "processing":
        state = PaymentState.PROCESSING
    elif status == "complete" and intent.get("status") in (
        "requires_payment_method",
        "canceled",
    ):
        state = PaymentState.FAILED
    elif status == "complete":
        state = PaymentState.PROCESSING
    else:
        state = PaymentState.OPEN
    currency = (session.get("currency") or "").upper() or None
    amount = session.get("amount_total")
    url = session.get("url")
    return PaymentSnapshot(
        provider=STRIPE,
        reference=session["id"],
        state=state,
        reservation_id=(session.get("metadata") or {}).get("reservation_id"),
        payment_id=intent.get("id") or _as_id(session.get("payment_intent")),
        amount=from_minor_units(amount, currency) if amount is not None and currency else None,
        currency=currency,
        # An open session's hosted page is where the buyer goes on paying.
        buyer_action_url=url if state == PaymentState.OPEN and isinstance(url, str) else None,
    )


def refund_snapshot(
    intent: dict[str, Any], refunds: list[dict[str, Any]]
) -> PaymentSnapshot | None:
    """A payment with refunds: REFUNDED once the whole charge went back, PAID while part of
    it stands (the deposit is still held, less what was refunded)."""
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict) or not charge.get("paid", True):
        return None
    currency = str(intent.get("currency") or charge.get("currency") or "").upper()
    amount = charge.get("amount", intent.get("amount_received"))
    return PaymentSnapshot(
        provider=STRIPE,
        reference="",
        state=PaymentState.REFUNDED if charge.get("refunded") else PaymentState.PAID,
        reservation_id=(intent.get("metadata") or {}).get("reservation_id"),
        payment_id=intent["id"],
        amount=from_minor_units(int(amount), currency) if amount is not None else None,
        currency=currency,
        refunds=tuple(
            stripe_refund_snapshot(r, currency) for r in refunds if isinstance(r.get("id"), str)
        ),
    )


def stripe_refund_snapshot(refund: dict[str, Any], currency: str) -> RefundSnapshot:
    return RefundSnapshot(
        refund_id=str(refund["id"]),
        amount=from_minor_units(int(refund.get("amount") or 0), currency),
        currency=currency,
        status=REFUND_STATES.get(str(refund.get("status")), "pending"),
        kennel_key=(refund.get("metadata") or {}).get(KENNEL_REFUND_KEY) or None,
    )


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _as_id(value: object) -> str | None:
    return value if isinstance(value, str) else None
