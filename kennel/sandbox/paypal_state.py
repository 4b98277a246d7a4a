"""State and payment flows of the PayPal sandbox: orders, captures, refunds, events.

Objects are dicts shaped like PayPal's (built by ``paypal_objects``) behind one re-entrant
lock.  A capture is one dict shared between the order's ``payments.captures`` and the captures
table, so both views change together; rendering always deep-copies.  Every change PayPal would
announce records an event here, under the lock; the caller sends them after releasing it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from kennel.sandbox import paypal_objects as objects
from kennel.sandbox.core import JSON
from kennel.sandbox.paypal_objects import PayPalError, not_found, unprocessable
from kennel.sandbox.paypal_params import OrderSpec, check_money

if TYPE_CHECKING:
    from kennel.sandbox.app import Sandbox

#: Approve-page outcomes.  All but ``cancel`` approve the order; the capture then completes,
#: stays pending and completes (or is denied) a moment later, or is declined.  With
#: ``approve_instrument_declined`` the first capture is refused with 422 ``INSTRUMENT_DECLINED``
#: and the order needs the buyer's approval again (PayPal's funding-failure recovery).
OUTCOMES = (
    "approve",
    "approve_pending",
    "approve_pending_denied",
    "approve_declined",
    "approve_instrument_declined",
    "cancel",
)
INSTRUMENT_DECLINED = "approve_instrument_declined"
_CAPTURE_STATUS = {
    "approve": "COMPLETED",
    "approve_pending": "PENDING",
    "approve_pending_denied": "PENDING",
    "approve_declined": "DECLINED",
}
_CAPTURE_EVENT = {
    "COMPLETED": "PAYMENT.CAPTURE.COMPLETED",
    "PENDING": "PAYMENT.CAPTURE.PENDING",
    "DECLINED": "PAYMENT.CAPTURE.DECLINED",
}
#: Capture statuses that mean money moved (or is moving) for an invoice id.
_TAKEN = ("COMPLETED", "PENDING", "PARTIALLY_REFUNDED", "REFUNDED")

#: Finishes a pending capture a moment later; returns the events it causes.
Settle = Callable[[], list[JSON]]


class OrderNotApprovable(RuntimeError):
    """The approve page was used for an order that is approved, completed or voided."""


class PayPalState:
    """The PayPal sandbox's objects, events and state transitions."""

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.lock = threading.RLock()
        self.orders: dict[str, JSON] = {}
        self.plans: dict[str, str] = {}  # order id -> approve-page outcome
        self.specs: dict[str, OrderSpec] = {}  # order id -> what it was created with
        self.captures: dict[str, JSON] = {}
        self.capture_orders: dict[str, str] = {}  # capture id -> order id
        self.refunds: dict[str, JSON] = {}
        self.refund_captures: dict[str, str] = {}  # refund id -> capture id
        self.events: list[JSON] = []
        self.events_by_id: dict[str, JSON] = {}

    def now(self) -> float:
        return float(self._host.config.clock())

    def approve_url(self, base: str, order_id: str) -> str:
        return f"{base}/checkoutnow?{urlencode({'token': order_id})}"

    # ------------------------------------------------------------------ orders

    def create_order(self, spec: OrderSpec, base: str) -> JSON:
        now = self.now()
        order: JSON = {
            "id": objects.paypal_id(),
            "intent": spec.intent,
            "status": "PAYER_ACTION_REQUIRED" if spec.wallet else "CREATED",
            "purchase_units": [copy.deepcopy(spec.unit)],
            "create_time": objects.timestamp(now),
        }
        order["purchase_units"][0]["payee"] = dict(objects.SANDBOX_PAYEE)
        if spec.wallet:
            order["payment_source"] = {"paypal": {}}
        with self.lock:
            self.orders[order["id"]] = order
            self.specs[order["id"]] = spec
            self._relink(order, base)
            return copy.deepcopy(objects.order_view(order))

    def get_order(self, order_id: str) -> JSON:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise not_found()
            return copy.deepcopy(objects.order_view(order))

    def _relink(self, order: JSON, base: str) -> None:
        order["links"] = objects.order_links(base, order, self.approve_url(base, order["id"]))

    def approve(self, order_id: str, outcome: str, base: str) -> tuple[str | None, list[JSON]]:
        """Apply an approve-page outcome: ``(where the buyer goes, events)``.

        Raises LookupError for an unknown order, OrderNotApprovable when it is past approval.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise LookupError(order_id)
            if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
                raise OrderNotApprovable(f"{order_id} is {order['status']}")
            return_url, cancel_url = (
                self.specs[order_id].return_url,
                self.specs[order_id].cancel_url,
            )
            if outcome == "cancel":
                return _with_query(cancel_url, {"token": order_id}), []
            payer_id = objects.paypal_id(13)
            email = "buyer@kennel.sandbox.invalid"
            order["status"] = "APPROVED"
            order["payer"] = objects.approved_payer(email, payer_id)
            if "payment_source" in order:
                order["payment_source"] = objects.approved_wallet(email, payer_id)
            order["update_time"] = objects.timestamp(self.now())
            self.plans[order_id] = outcome
            self._relink(order, base)
            events = [self.emit("CHECKOUT.ORDER.APPROVED", objects.order_view(order), base)]
            location = _with_query(return_url, {"token": order_id, "PayerID": payer_id})
            return location, events

    def reverse_approval(self, order_id: str, base: str) -> list[JSON]:
        """PayPal reverses a buyer's approval before capture: the order is voided."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise LookupError(order_id)
            if order["status"] != "APPROVED":
                raise OrderNotApprovable(f"{order_id} is {order['status']}, not APPROVED")
            order["status"] = "VOIDED"
            order["update_time"] = objects.timestamp(self.now())
            self._relink(order, base)
            return [
                self.emit("CHECKOUT.PAYMENT-APPROVAL.REVERSED", objects.order_view(order), base)
            ]

    # ------------------------------------------------------------------ capture

    def capture(self, order_id: str, base: str) -> tuple[JSON, list[JSON], Settle | None]:
        """Capture an approved order: ``(order, events, later settle step)``."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise not_found()
            status = order["status"]
            if status in ("CREATED", "PAYER_ACTION_REQUIRED"):
                raise unprocessable(
                    "ORDER_NOT_APPROVED",
                    "Payer has not yet approved the Order for payment. Please redirect the "
                    "payer to the 'rel':'approve' url returned as part of the HATEOAS links "
                    "within the Create Order call or provide a valid payment_source in the "
                    "request.",
                )
            if status == "COMPLETED":
                raise unprocessable(
                    "ORDER_ALREADY_CAPTURED",
                    "Order already captured. If 'intent=CAPTURE' only one capture per order "
                    "is allowed.",
                )
            if status == "VOIDED":
                raise unprocessable(
                    "ORDER_EXPIRED", "The order is voided: its approval was reversed."
                )
            unit = order["purchase_units"][0]
            self._check_invoice_unused(unit.get("invoice_id"))
            plan = self.plans[order_id]
            if plan == INSTRUMENT_DECLINED:
                raise self._instrument_declined(order, base)
            now = self.now()
            cap = objects.capture(
                base=base,
                order_id=order_id,
                amount=unit["amount"],
                status=_CAPTURE_STATUS[plan],
                custom_id=unit.get("custom_id"),
                invoice_id=unit.get("invoice_id"),
                now=now,
            )
            self.captures[cap["id"]] = cap
            self.capture_orders[cap["id"]] = order_id
            unit["payments"] = {"captures": [cap]}
            order["status"] = "COMPLETED"
            order["update_time"] = objects.timestamp(now)
            self._relink(order, base)
            events = [self.emit(_CAPTURE_EVENT[cap["status"]], self.capture_view(cap), base)]
            settle: Settle | None = None
            if cap["status"] == "PENDING":
                succeed = plan == "approve_pending"
                capture_id = str(cap["id"])
                settle = lambda: self.settle(capture_id, succeed, base)  # noqa: E731
            return copy.deepcopy(objects.order_view(order)), events, settle

    def _instrument_declined(self, order: JSON, base: str) -> PayPalError:
        """The buyer's funding source is refused at capture: nothing is captured and the order
        goes back to awaiting the buyer, whose approve link (also the error's ``redirect``
        link) works again.  Caller holds the lock."""
        order_id = order["id"]
        order["status"] = "PAYER_ACTION_REQUIRED" if self.specs[order_id].wallet else "CREATED"
        order.pop("payer", None)
        if "payment_source" in order:
            order["payment_source"] = {"paypal": {}}
        order["update_time"] = objects.timestamp(self.now())
        del self.plans[order_id]
        self._relink(order, base)
        return objects.instrument_declined(self.approve_url(base, order_id))

    def _check_invoice_unused(self, invoice_id: str | None) -> None:
        if invoice_id is None:
            return
        for cap in self.captures.values():
            if cap.get("invoice_id") == invoice_id and cap["status"] in _TAKEN:
                raise unprocessable(
                    "DUPLICATE_INVOICE_ID",
                    "Duplicate Invoice ID detected. To avoid a potential duplicate transaction "
                    "your account setting requires that Invoice Id be unique for each "
                    "transaction.",
                )

    def settle(self, capture_id: str, succeed: bool, base: str) -> list[JSON]:
        """A pending capture completes (or is denied) a moment after it was made."""
        with self.lock:
            cap = self.captures[capture_id]
            if cap["status"] != "PENDING":
                return []
            cap["status"] = "COMPLETED" if succeed else "DECLINED"
            cap.pop("status_details", None)
            cap["update_time"] = objects.timestamp(self.now())
            kind = "PAYMENT.CAPTURE.COMPLETED" if succeed else "PAYMENT.CAPTURE.DENIED"
            return [self.emit(kind, self.capture_view(cap), base)]

    def capture_view(self, cap: JSON) -> JSON:
        """``GET /v2/payments/captures/{id}``: the capture with its order id and payee."""
        return copy.deepcopy(objects.capture_details(cap, self.capture_orders[cap["id"]]))

    def get_capture(self, capture_id: str) -> JSON:
        with self.lock:
            cap = self.captures.get(capture_id)
            if cap is None:
                raise not_found("payments")
            return self.capture_view(cap)

    # ------------------------------------------------------------------ refunds

    def refund(self, capture_id: str, body: JSON, base: str) -> tuple[JSON, list[JSON]]:
        """Refund (part of) a completed capture: ``(refund, events)``."""
        with self.lock:
            cap = self.captures.get(capture_id)
            if cap is None:
                raise not_found("payments")
            if cap["status"] == "REFUNDED":
                raise unprocessable(
                    "CAPTURE_FULLY_REFUNDED",
                    "The capture has already been fully refunded.",
                    api="payments",
                )
            if cap["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
                raise unprocessable(
                    "REFUND_NOT_ALLOWED",
                    f"A capture in status {cap['status']} cannot be refunded.",
                    api="payments",
                )
            currency = str(cap["amount"]["currency_code"])
            gross = Decimal(str(cap["amount"]["value"]))
            refunded = self._refunded(capture_id)
            remaining = gross - refunded
            amount = body.get("amount")
            if amount is None:
                value = remaining
            else:
                if not isinstance(amount, dict):
                    raise objects.invalid(
                        "INVALID_PARAMETER_SYNTAX", "The value of a field is invalid.", "/amount"
                    )
                value = check_money(amount, "/amount")
                if amount["currency_code"] != currency:
                    raise unprocessable(
                        "REFUND_CURRENCY_MISMATCH",
                        "Refund must be in the same currency as the capture.",
                        api="payments",
                    )
            if value > remaining:
                raise unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that "
                    "has not yet been refunded.",
                    api="payments",
                )
            note = body.get("note_to_payer")
            obj = objects.refund(
                base=base,
                capture_obj=cap,
                amount=objects.money(currency, value),
                total_refunded=refunded + value,
                note_to_payer=note if isinstance(note, str) else None,
                now=self.now(),
            )
            self.refunds[obj["id"]] = obj
            self.refund_captures[obj["id"]] = capture_id
            cap["status"] = "REFUNDED" if refunded + value == gross else "PARTIALLY_REFUNDED"
            cap["update_time"] = obj["update_time"]
            order = self.orders[self.capture_orders[capture_id]]
            order["purchase_units"][0]["payments"].setdefault("refunds", []).append(obj)
            return copy.deepcopy(obj), [self.emit("PAYMENT.CAPTURE.REFUNDED", obj, base)]

    def _refunded(self, capture_id: str) -> Decimal:
        return sum(
            (
                Decimal(str(r["amount"]["value"]))
                for rid, r in self.refunds.items()
                if self.refund_captures[rid] == capture_id
            ),
            Decimal(0),
        )

    def get_refund(self, refund_id: str) -> JSON:
        with self.lock:
            obj = self.refunds.get(refund_id)
            if obj is None:
                raise not_found("payments")
            return copy.deepcopy(obj)

    # ------------------------------------------------------------------ events

    def emit(self, event_type: str, resource: JSON, base: str) -> JSON:
        """Record an event holding a snapshot of ``resource`` (caller holds the lock)."""
        evt = objects.event(
            base=base, event_type=event_type, resource=copy.deepcopy(resource), now=self.now()
        )
        self.events.append(evt)
        self.events_by_id[evt["id"]] = evt
        return evt

    def get_event(self, event_id: str) -> JSON:
        with self.lock:
            evt = self.events_by_id.get(event_id)
            if evt is None:
                detail = objects.detail("INVALID_RESOURCE_ID", "Resource id not found.")
                raise PayPalError(404, [detail], api="notifications")
            return copy.deepcopy(evt)


def _with_query(url: str | None, params: dict[str, str]) -> str | None:
    if url is None:
        return None
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
