"""PayPal Checkout (Orders v2, server-side redirect) as a PaymentProvider.

See payments/providers.py for the contract.  The buyer approves the order on PayPal's page;
nothing is taken until we capture it.  Reading an order (`read_payment`, `read_event`) never
captures: an approved, uncaptured order of ours reads as APPROVED, and the caller captures it
with `capture_payment` — the return URL, `CHECKOUT.ORDER.APPROVED` and reconciliation alike,
whichever is first.  Every capture of an order carries the same PayPal-Request-Id, so PayPal
makes one capture and answers the others with it.

A capture PayPal refuses with INSTRUMENT_DECLINED (the buyer's funding source failed) takes
nothing and sends the order back to the buyer: `capture_payment` raises BuyerActionRequired
with the order's own approve link, where the buyer chooses another funding source.  Read
later, the order is OPEN with that link as its `buyer_action_url` (the return URL sends the
buyer there), and their next approval is captured as usual.
"""

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings

from kennel.core.money import paypal_value
from kennel.payments.paypal import client
from kennel.payments.paypal import webhooks as paypal_webhooks
from kennel.payments.providers import (
    BuyerActionRequired,
    CheckoutRequest,
    CheckoutStart,
    PaymentSnapshot,
    PaymentState,
    ProviderError,
    RefundSnapshot,
    VerifiedEvent,
    WebhookRejected,
    reservation_id_or_none,
)

PAYPAL = "paypal"  # the provider's name, as Reservation.provider stores it
ID_RE = re.compile(r"[A-Za-z0-9-]{1,64}")

ORDER_APPROVED = "CHECKOUT.ORDER.APPROVED"
APPROVAL_REVERSED = "CHECKOUT.PAYMENT-APPROVAL.REVERSED"
CAPTURE_EVENTS = frozenset(
    {
        "PAYMENT.CAPTURE.COMPLETED",
        "PAYMENT.CAPTURE.PENDING",
        "PAYMENT.CAPTURE.DENIED",
        "PAYMENT.CAPTURE.DECLINED",
    }
)
CAPTURE_REFUNDED = "PAYMENT.CAPTURE.REFUNDED"
READ_EVENTS = CAPTURE_EVENTS | {ORDER_APPROVED, APPROVAL_REVERSED, CAPTURE_REFUNDED}
INSTRUMENT_DECLINED = "INSTRUMENT_DECLINED"
KENNEL_REFUND_PREFIX = "kennel-refund-"  # every idempotency key of Kennel's refunds
AWAITING_BUYER = frozenset({"CREATED", "PAYER_ACTION_REQUIRED"})

CAPTURE_STATES = {
    "COMPLETED": PaymentState.PAID,
    "PARTIALLY_REFUNDED": PaymentState.PAID,  # the deposit stands; part was given back
    "PENDING": PaymentState.PROCESSING,
    "DECLINED": PaymentState.FAILED,  # also what a denied pending capture becomes
    "FAILED": PaymentState.FAILED,
    "REFUNDED": PaymentState.REFUNDED,
}


@dataclass
class PayPalProvider:
    name: str = PAYPAL

    @classmethod
    def from_settings(cls) -> "PayPalProvider":
        return cls()

    def create_checkout(self, request: CheckoutRequest) -> CheckoutStart:
        order = client.create_order(
            client.NewOrder(
                reservation_id=request.reservation_id,
                currency=request.currency.upper(),
                value=paypal_value(request.amount, request.currency),
                description=request.description,
                return_url=request.success_url,
                cancel_url=request.cancel_url,
                brand_name=settings.SHOP_NAME,
            ),
            request_id=f"kennel-order-{request.reservation_id}",
        )
        approve_url = _link(order, "payer-action") or _link(order, "approve")
        if not isinstance(order.get("id"), str) or not approve_url:
            raise ProviderError("PayPal returned an order without an approve link")
        return CheckoutStart(reference=order["id"], redirect_url=approve_url)

    def read_payment(self, reference: str) -> PaymentSnapshot:
        """GET the order. Never captures: an approved order of ours reads as APPROVED."""
        return order_snapshot(client.get_order(_checked_id(reference)))

    def capture_payment(self, reference: str) -> PaymentSnapshot:
        """Capture the order if it is approved, uncaptured and Kennel's own (its custom_id
        is a reservation id: an order some other integration of the same PayPal app
        approved is left alone); then report it. Anything else is only read.

        Raises BuyerActionRequired when PayPal refuses the capture with INSTRUMENT_DECLINED.
        """
        order = client.get_order(_checked_id(reference))
        if _capturable(order):
            order = _capture(order)
        return order_snapshot(order)

    def verify_webhook(self, body: bytes, headers: dict[str, str]) -> VerifiedEvent:
        event = paypal_webhooks.verify(body, headers)
        event_id, event_type = event.get("id"), event.get("event_type")
        if (
            not isinstance(event_id, str)
            or not event_id
            or not isinstance(event_type, str)
            or not isinstance(event.get("resource"), dict)
        ):
            # Signed, but not an event we could ever process: refused now, not retried later.
            raise WebhookRejected("malformed_body")
        return VerifiedEvent(
            provider=self.name,
            event_id=event_id,
            type=event_type,
            payload=event,
            body=body.decode("utf-8"),
            headers=headers,
        )

    def acts_on(self, event: VerifiedEvent) -> bool:
        return event.type in READ_EVENTS

    def read_event(self, event: VerifiedEvent) -> PaymentSnapshot | None:
        resource = event.payload.get("resource")
        resource = resource if isinstance(resource, dict) else {}
        # The event only says which order or capture to look at; the API says what it is.
        if event.type == ORDER_APPROVED and _is_id(resource.get("id")):
            return self.read_payment(resource["id"])
        if event.type == APPROVAL_REVERSED:
            order_id = resource.get("order_id") or resource.get("id")
            if isinstance(order_id, str) and _is_id(order_id):
                snapshot = order_snapshot(client.get_order(order_id))
                # A withdrawn approval is never a reason to capture, even while the order
                # still reads APPROVED.
                if snapshot.state == PaymentState.APPROVED:
                    return replace(snapshot, state=PaymentState.OPEN)
                return snapshot
        if event.type in CAPTURE_EVENTS and _is_id(resource.get("id")):
            return capture_snapshot(client.get_capture(resource["id"]))
        if event.type == CAPTURE_REFUNDED and _is_id(resource.get("id")):
            # Re-read the refund (the truth), then its capture: fully refunded, or still held
            # less this refund.
            refund = client.get_refund(resource["id"])
            capture_id = _captured_by(refund)
            if capture_id is not None:
                snapshot = capture_snapshot(client.get_capture(capture_id))
                if snapshot.state in (PaymentState.PAID, PaymentState.REFUNDED):
                    return replace(snapshot, refunds=(refund_snapshot(refund),))
        return None

    def refund(
        self, *, payment_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> RefundSnapshot:
        refund = client.refund_capture(
            _checked_id(payment_id),
            currency=currency.upper(),
            value=paypal_value(amount, currency),
            request_id=idempotency_key,
        )
        if not isinstance(refund.get("id"), str):
            raise ProviderError("PayPal returned a refund without an id")
        # PayPal's minimal answer has no amount or custom_id: they are what we asked for.
        return replace(
            refund_snapshot(refund),
            amount=amount,
            currency=currency.upper(),
            kennel_key=idempotency_key,
        )

    def cancel_checkout(self, reference: str) -> None:
        """Nothing to do: PayPal has no call that cancels an order.

        An order we no longer want simply lapses unless we capture it, and nothing is taken
        from the buyer before that.  If the buyer still approves it later, the late approval
        is captured only while the puppy (or a place on the waiting list) is still free, and
        then confirms the reservation like any late payment; otherwise it is not captured at
        all (payments/services.py payment_settle) and lapses.  A puppy taken between that
        answer and the capture is refunded, as any late payment.
        """


def capture_request_id(order: dict[str, Any]) -> str:
    """The capture's PayPal-Request-Id: the reservation (from the order's custom_id) and the
    order, so the return URL, the webhook and any retry all capture under one id."""
    return f"kennel-capture-{reservation_id_or_none(_unit(order).get('custom_id'))}-{order['id']}"


def _capture(order: dict[str, Any]) -> dict[str, Any]:
    try:
        return client.capture_order(order["id"], request_id=capture_request_id(order))
    except ProviderError as exc:
        if exc.code == "ORDER_ALREADY_CAPTURED":  # captured some other way: read it
            return client.get_order(order["id"])
        if exc.code == INSTRUMENT_DECLINED:
            # PayPal's recovery: the buyer picks another funding source on the approve page.
            approve_url = _approve_link(client.get_order(order["id"]))
            if approve_url is not None:
                raise BuyerActionRequired(
                    f"PayPal declined the buyer's funding source: {exc}",
                    redirect_url=approve_url,
                    code=INSTRUMENT_DECLINED,
                ) from exc
        raise


def _approve_link(order: dict[str, Any]) -> str | None:
    """The order's own approve link, if it is one for this order (``token`` is its id)."""
    href = _link(order, "payer-action") or _link(order, "approve")
    if href is None or parse_qs(urlsplit(href).query).get("token") != [order.get("id")]:
        return None
    return href


def order_snapshot(order: dict[str, Any]) -> PaymentSnapshot:
    order_id = str(order.get("id") or "")
    reservation_id = _unit(order).get("custom_id")
    captures = _captures(order)
    if captures:
        return capture_snapshot(captures[-1], order_id=order_id, reservation_id=reservation_id)
    status, buyer_action_url = order.get("status"), None
    if status == "VOIDED":
        # The buyer's approval was reversed (or the order voided) before any capture.
        state = PaymentState.FAILED
    elif _capturable(order):
        state = PaymentState.APPROVED
    else:
        # Approved orders that are not ours stay OPEN: nobody here captures them.
        state = PaymentState.OPEN
        if _ours(order) and status in AWAITING_BUYER:
            buyer_action_url = _approve_link(order)
    amount = _unit(order).get("amount")
    amount = amount if isinstance(amount, dict) else {}
    return PaymentSnapshot(
        provider=PAYPAL,
        reference=order_id,
        state=state,
        reservation_id=reservation_id if isinstance(reservation_id, str) else None,
        # What the order asks: an approval for another amount is not captured.
        amount=_decimal(amount.get("value")),
        currency=str(amount.get("currency_code") or "").upper() or None,
        buyer_action_url=buyer_action_url,
    )


def capture_snapshot(
    capture: dict[str, Any], *, order_id: str | None = None, reservation_id: Any = None
) -> PaymentSnapshot:
    state = CAPTURE_STATES.get(str(capture.get("status")), PaymentState.OPEN)
    if order_id is None:
        related = (capture.get("supplementary_data") or {}).get("related_ids") or {}
        order_id = str(related.get("order_id") or "")
    custom_id = capture.get("custom_id") or reservation_id
    amount = capture.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    currency = str(amount.get("currency_code") or "").upper() or None
    return PaymentSnapshot(
        provider=PAYPAL,
        # A refund concerns the payment whichever checkout it came from (as for Stripe).
        reference="" if state == PaymentState.REFUNDED else order_id,
        state=state,
        reservation_id=custom_id if isinstance(custom_id, str) else None,
        payment_id=str(capture.get("id") or "") or None,
        amount=_decimal(amount.get("value")),
        currency=currency,
    )


REFUND_STATES = {"COMPLETED": "succeeded", "FAILED": "failed", "CANCELLED": "failed"}


def refund_snapshot(refund: dict[str, Any]) -> RefundSnapshot:
    amount = refund.get("amount")
    amount = amount if isinstance(amount, dict) else {}
    custom_id = refund.get("custom_id")
    return RefundSnapshot(
        refund_id=str(refund.get("id") or ""),
        amount=_decimal(amount.get("value")) or Decimal(0),
        currency=str(amount.get("currency_code") or "").upper(),
        status=REFUND_STATES.get(str(refund.get("status")), "pending"),
        # Kennel's refunds carry their idempotency key as custom_id (a refund made at the
        # dashboard carries the capture's: a reservation id, not a key).
        kennel_key=custom_id
        if isinstance(custom_id, str) and custom_id.startswith(KENNEL_REFUND_PREFIX)
        else None,
    )


def _ours(order: dict[str, Any]) -> bool:
    """Kennel's own order: its custom_id is a reservation id."""
    return reservation_id_or_none(_unit(order).get("custom_id")) is not None


def _capturable(order: dict[str, Any]) -> bool:
    return _ours(order) and order.get("status") == "APPROVED" and not _captures(order)


def _unit(order: dict[str, Any]) -> dict[str, Any]:
    units = order.get("purchase_units")
    return units[0] if isinstance(units, list) and units and isinstance(units[0], dict) else {}


def _captures(order: dict[str, Any]) -> list[dict[str, Any]]:
    payments = _unit(order).get("payments")
    captures = payments.get("captures") if isinstance(payments, dict) else None
    return [c for c in captures if isinstance(c, dict)] if isinstance(captures, list) else []


def _captured_by(refund: dict[str, Any]) -> str | None:
    """The capture a refund belongs to: its HATEOAS ``up`` link."""
    for link in refund.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == "up":
            path = urlsplit(str(link.get("href") or "")).path.rstrip("/")
            head, _, capture_id = path.rpartition("/")
            if head.endswith("/v2/payments/captures") and _is_id(capture_id):
                return capture_id
    return None


def _link(obj: dict[str, Any], rel: str) -> str | None:
    for link in obj.get("links") or []:
        if isinstance(link, dict) and link.get("rel") == rel:
            href = str(link.get("href") or "")
            if urlsplit(href).scheme in ("http", "https"):
                return href
    return None


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


def _checked_id(value: str) -> str:
    if not _is_id(value):
        raise ProviderError(f"not a PayPal id: {value!r}", code="invalid_id")
    return value
