"""What happens to a PayPal payment once the buyer approved it: capture, settle, refund.

:func:`capture` takes the money of an approved order the way its approve-page outcome chose
(completed, pending, declined, or refused with ``INSTRUMENT_DECLINED``); a pending capture
completes or is denied a moment later (:func:`settle`); :func:`refund` refunds (part of) a
completed capture.  Each takes the state's lock, changes the tables in
:class:`~sandbox.paypal.state.PayPalState` and returns the events PayPal would announce, for
the caller to deliver once the lock is released.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal

from sandbox.core import JSON
from sandbox.paypal import objects
from sandbox.paypal.errors import (
    PayPalError,
    instrument_declined,
    invalid,
    not_found,
    unprocessable,
)
from sandbox.paypal.params import check_money
from sandbox.paypal.state import PayPalState
from sandbox.webhooks import Settle

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


def capture(state: PayPalState, order_id: str, base: str) -> tuple[JSON, list[JSON], Settle | None]:
    """Capture an approved order: ``(order, events, later settle step)``."""
    with state.lock:
        order = state.orders.get(order_id)
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
            raise unprocessable("ORDER_EXPIRED", "The order is voided: its approval was reversed.")
        unit = order["purchase_units"][0]
        _check_invoice_unused(state, unit.get("invoice_id"))
        plan = state.plans[order_id]
        if plan == INSTRUMENT_DECLINED:
            raise _instrument_declined(state, order, base)
        now = state.now()
        cap = objects.capture(
            base=base,
            order_id=order_id,
            amount=unit["amount"],
            status=_CAPTURE_STATUS[plan],
            custom_id=unit.get("custom_id"),
            invoice_id=unit.get("invoice_id"),
            now=now,
        )
        state.captures[cap["id"]] = cap
        state.capture_orders[cap["id"]] = order_id
        unit["payments"] = {"captures": [cap]}
        order["status"] = "COMPLETED"
        order["update_time"] = objects.timestamp(now)
        state.relink(order, base)
        events = [state.emit(_CAPTURE_EVENT[cap["status"]], state.capture_view(cap), base)]
        settle: Settle | None = None
        if cap["status"] == "PENDING":
            settle = _settle_step(state, str(cap["id"]), plan == "approve_pending", lambda: base)
        return copy.deepcopy(objects.order_view(order)), events, settle


def _instrument_declined(state: PayPalState, order: JSON, base: str) -> PayPalError:
    """The buyer's funding source is refused at capture: nothing is captured and the order
    goes back to awaiting the buyer, whose approve link (also the error's ``redirect`` link)
    works again.  Caller holds the lock."""
    order_id = order["id"]
    order["status"] = "PAYER_ACTION_REQUIRED" if state.specs[order_id].wallet else "CREATED"
    order.pop("payer", None)
    if "payment_source" in order:
        order["payment_source"] = {"paypal": {}}
    order["update_time"] = objects.timestamp(state.now())
    del state.plans[order_id]
    state.relink(order, base)
    state.changed()
    return instrument_declined(state.approve_url(base, order_id))


def _check_invoice_unused(state: PayPalState, invoice_id: str | None) -> None:
    if invoice_id is None:
        return
    for cap in state.captures.values():
        if cap.get("invoice_id") == invoice_id and cap["status"] in _TAKEN:
            raise unprocessable(
                "DUPLICATE_INVOICE_ID",
                "Duplicate Invoice ID detected. To avoid a potential duplicate transaction "
                "your account setting requires that Invoice Id be unique for each "
                "transaction.",
            )


def settle(state: PayPalState, capture_id: str, succeed: bool, base: str) -> list[JSON]:
    """A pending capture completes (or is denied) a moment after it was made."""
    with state.lock:
        cap = state.captures[capture_id]
        if cap["status"] != "PENDING":
            return []
        cap["status"] = "COMPLETED" if succeed else "DECLINED"
        cap.pop("status_details", None)
        cap["update_time"] = objects.timestamp(state.now())
        kind = "PAYMENT.CAPTURE.COMPLETED" if succeed else "PAYMENT.CAPTURE.DENIED"
        return [state.emit(kind, state.capture_view(cap), base)]


def unsettled(state: PayPalState, base: Callable[[], str]) -> list[Settle]:
    """The settle steps of captures that were still pending when the state was saved."""
    with state.lock:
        pending = [
            (capture_id, state.plans.get(order_id) == "approve_pending")
            for capture_id, order_id in state.capture_orders.items()
            if state.captures[capture_id]["status"] == "PENDING"
        ]
    return [_settle_step(state, capture_id, succeed, base) for capture_id, succeed in pending]


def _settle_step(
    state: PayPalState, capture_id: str, succeed: bool, base: Callable[[], str]
) -> Settle:
    return lambda: settle(state, capture_id, succeed, base())


# ---------------------------------------------------------------------- refunds


def refund(state: PayPalState, capture_id: str, body: JSON, base: str) -> tuple[JSON, list[JSON]]:
    """Refund (part of) a completed capture: ``(refund, events)``."""
    with state.lock:
        cap = state.captures.get(capture_id)
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
        refunded = _refunded(state, capture_id)
        remaining = gross - refunded
        amount = body.get("amount")
        if amount is None:
            value = remaining
        else:
            if not isinstance(amount, dict):
                raise invalid(
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
            now=state.now(),
            # The caller's own ids for the refund, when it gives them; else the capture's.
            ids={k: body[k] for k in ("invoice_id", "custom_id") if isinstance(body.get(k), str)},
        )
        state.refunds[obj["id"]] = obj
        state.refund_captures[obj["id"]] = capture_id
        cap["status"] = "REFUNDED" if refunded + value == gross else "PARTIALLY_REFUNDED"
        cap["update_time"] = obj["update_time"]
        order = state.orders[state.capture_orders[capture_id]]
        order["purchase_units"][0]["payments"].setdefault("refunds", []).append(obj)
        return copy.deepcopy(obj), [state.emit("PAYMENT.CAPTURE.REFUNDED", obj, base)]


def _refunded(state: PayPalState, capture_id: str) -> Decimal:
    return sum(
        (
            Decimal(str(r["amount"]["value"]))
            for rid, r in state.refunds.items()
            if state.refund_captures[rid] == capture_id
        ),
        Decimal(0),
    )
