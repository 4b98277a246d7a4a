"""The PayPal sandbox's tables and events: orders and their approval, captures, refunds.

Objects are dicts shaped like PayPal's (built by :mod:`sandbox.paypal.objects`) behind one
re-entrant lock.  A capture is one dict shared between the order's ``payments.captures`` and
the captures table, so both views change together; rendering always deep-copies.  Every change
PayPal would announce records an event here, under the lock; the caller sends them after
releasing it.  Capturing and refunding are in :mod:`sandbox.paypal.payments`;
:meth:`PayPalState.snapshot` and :meth:`PayPalState.restore` carry all of it across a restart.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sandbox.core import JSON
from sandbox.paypal import objects
from sandbox.paypal.errors import PayPalError, detail, not_found
from sandbox.paypal.params import OrderSpec

if TYPE_CHECKING:
    from sandbox.app import Sandbox

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


class OrderNotApprovable(RuntimeError):
    """The approve page was used for an order that is approved, completed or voided."""


class PayPalState:
    """The PayPal sandbox's objects and events.

    Callers hold :attr:`lock` while they read or change the tables.
    """

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

    def changed(self) -> None:
        """Tell the host that a table changed (for the changes that announce no event)."""
        self._host.state_changed()

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
            self.relink(order, base)
            self.changed()
            return copy.deepcopy(objects.order_view(order))

    def get_order(self, order_id: str) -> JSON:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise not_found()
            return copy.deepcopy(objects.order_view(order))

    def relink(self, order: JSON, base: str) -> None:
        """Give the order the HATEOAS links of its status (caller holds the lock)."""
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
            self.relink(order, base)
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
            self.relink(order, base)
            return [
                self.emit("CHECKOUT.PAYMENT-APPROVAL.REVERSED", objects.order_view(order), base)
            ]

    # ------------------------------------------------------------------ captures, refunds

    def capture_view(self, cap: JSON) -> JSON:
        """``GET /v2/payments/captures/{id}``: the capture with its order id and payee."""
        return copy.deepcopy(objects.capture_details(cap, self.capture_orders[cap["id"]]))

    def get_capture(self, capture_id: str) -> JSON:
        with self.lock:
            cap = self.captures.get(capture_id)
            if cap is None:
                raise not_found("payments")
            return self.capture_view(cap)

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
        self.changed()
        return evt

    def get_event(self, event_id: str) -> JSON:
        with self.lock:
            evt = self.events_by_id.get(event_id)
            if evt is None:
                issue = detail("INVALID_RESOURCE_ID", "Resource id not found.")
                raise PayPalError(404, [issue], api="notifications")
            return copy.deepcopy(evt)

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> JSON:
        """Every table as plain data (a deep copy, taken under the lock)."""
        with self.lock:
            return copy.deepcopy(
                {
                    "orders": self.orders,
                    "plans": self.plans,
                    "specs": {key: dataclasses.asdict(spec) for key, spec in self.specs.items()},
                    "captures": self.captures,
                    "capture_orders": self.capture_orders,
                    "refunds": self.refunds,
                    "refund_captures": self.refund_captures,
                    "events": self.events,
                }
            )

    def restore(self, saved: JSON) -> None:
        """Take back the tables of :meth:`snapshot` (the sandbox is not serving yet)."""
        names = ("orders", "plans", "captures", "capture_orders", "refunds", "refund_captures")
        with self.lock:
            for name in names:
                table = getattr(self, name)
                table.clear()
                table.update(saved[name])
            self.specs.clear()
            self.specs.update((key, OrderSpec(**spec)) for key, spec in saved["specs"].items())
            self.events[:] = saved["events"]
            self.events_by_id.clear()
            self.events_by_id.update((evt["id"], evt) for evt in self.events)
            # An order shows the very capture and refund dicts of the tables again, so that a
            # capture settling or being refunded changes the order's view too.
            for order in self.orders.values():
                payments = order["purchase_units"][0].get("payments") or {}
                for name, table in (("captures", self.captures), ("refunds", self.refunds)):
                    if name in payments:
                        payments[name] = [table.get(obj["id"], obj) for obj in payments[name]]


def _with_query(url: str | None, params: dict[str, str]) -> str | None:
    if url is None:
        return None
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
