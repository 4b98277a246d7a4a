"""Stripe Checkout as a PaymentProvider (see payments/providers.py for the contract)."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from kennel.core.money import from_minor_units, to_minor_units
from kennel.payments.providers import (
    CheckoutStart,
    PaymentSnapshot,
    PaymentState,
    ProviderError,
    VerifiedEvent,
    WebhookRejected,
)
from kennel.payments.stripe import client
from kennel.reservations.models import Reservation

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
REFUND_EVENTS = frozenset({"charge.refunded"})


@dataclass
class StripeProvider:
    name: str = Reservation.Provider.STRIPE

    @classmethod
    def from_settings(cls) -> "StripeProvider":
        return cls()

    def create_checkout(
        self, reservation: Reservation, *, success_url: str, cancel_url: str
    ) -> CheckoutStart:
        expires_at = max(reservation.expires_at, timezone.now() + MIN_SESSION_LIFETIME)
        reservation_id = str(reservation.pk)
        session = client.create_checkout_session(
            {
                "mode": "payment",
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": reservation.currency.lower(),
                            "unit_amount": to_minor_units(
                                reservation.deposit_amount, reservation.currency
                            ),
                            "product_data": {"name": f"Deposit for {reservation.puppy.name}"},
                        },
                    }
                ],
                "success_url": _with_query(success_url, "session_id={CHECKOUT_SESSION_ID}"),
                "cancel_url": cancel_url,
                "expires_at": int(expires_at.timestamp()),
                "client_reference_id": reservation_id,
                "customer_email": reservation.buyer_email,
                "metadata": {"reservation_id": reservation_id},
                "payment_intent_data": {"metadata": {"reservation_id": reservation_id}},
            },
            idempotency_key=f"kennel-checkout-{reservation_id}",
        )
        if not session.get("url"):
            raise ProviderError("Stripe returned a session without a checkout URL")
        return CheckoutStart(reference=session["id"], redirect_url=session["url"])

    def fetch_payment(self, reference: str, *, buyer_returned: bool = False) -> PaymentSnapshot:
        return _session_snapshot(client.retrieve_checkout_session(reference))

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> VerifiedEvent:
        event = client.construct_event(body, headers.get("stripe-signature", ""))
        if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
            raise WebhookRejected("malformed_body")
        return VerifiedEvent(
            provider=self.name,
            event_id=event["id"],
            type=event["type"],
            payload=event,
            body=body.decode("utf-8"),
            headers=headers,
        )

    def snapshot_for_event(self, event: VerifiedEvent) -> PaymentSnapshot | None:
        obj = (event.payload.get("data") or {}).get("object") or {}
        if event.type in SESSION_EVENTS and obj.get("id"):
            # The event is only a trigger: the session as the API has it now is the truth.
            return self.fetch_payment(obj["id"])
        if event.type in REFUND_EVENTS and obj.get("payment_intent"):
            return _refund_snapshot(client.retrieve_payment_intent(obj["payment_intent"]))
        return None

    def refund(
        self, *, payment_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> str:
        refund = client.create_refund(
            {"payment_intent": payment_id, "amount": to_minor_units(amount, currency)},
            idempotency_key=idempotency_key,
        )
        return str(refund["id"])

    def cancel_checkout(self, reference: str) -> None:
        session = client.retrieve_checkout_session(reference)
        if session.get("status") == "open":
            client.expire_checkout_session(reference)


def _session_snapshot(session: dict[str, Any]) -> PaymentSnapshot:
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
    return PaymentSnapshot(
        provider=Reservation.Provider.STRIPE,
        reference=session["id"],
        state=state,
        reservation_id=(session.get("metadata") or {}).get("reservation_id"),
        payment_id=intent.get("id") or _as_id(session.get("payment_intent")),
        amount=from_minor_units(amount, currency) if amount is not None and currency else None,
        currency=currency,
    )


def _refund_snapshot(intent: dict[str, Any]) -> PaymentSnapshot | None:
    charge = intent.get("latest_charge")
    if not isinstance(charge, dict) or not charge.get("refunded"):
        return None  # partly refunded: the reservation stands
    currency = str(intent.get("currency", "")).upper()
    return PaymentSnapshot(
        provider=Reservation.Provider.STRIPE,
        reference="",
        state=PaymentState.REFUNDED,
        reservation_id=(intent.get("metadata") or {}).get("reservation_id"),
        payment_id=intent["id"],
        amount=from_minor_units(int(charge.get("amount_refunded") or 0), currency),
        currency=currency,
    )


def _with_query(url: str, query: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _as_id(value: object) -> str | None:
    return value if isinstance(value, str) else None
