"""State and payment flows of the Stripe sandbox.

All objects are dicts shaped like Stripe's (built by ``stripe_objects``) kept in tables behind
one re-entrant lock.  Every change that Stripe would announce creates an event here, under the
lock, holding a snapshot of the object at that moment; the caller hands the events to the
webhook dispatcher after releasing the lock.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kennel.sandbox import stripe_objects as objects
from kennel.sandbox.core import JSON, random_id
from kennel.sandbox.stripe_params import (
    SessionSpec,
    StripeError,
    get_expand,
    get_int,
    get_str,
    invalid,
    not_found,
)

if TYPE_CHECKING:
    from kennel.sandbox.app import Sandbox

#: Hosted-page outcomes; ``decline`` keeps the session open, like a declined card on Stripe.
OUTCOMES = ("pay", "async_succeed", "async_fail", "decline", "cancel", "expire")

# Which fields ``expand[]`` accepts per object type (the ones that always stay null included,
# so that expanding them is harmless, as on Stripe).
_EXPANDABLE: dict[str, set[str]] = {
    "checkout.session": {
        "payment_intent", "line_items", "customer", "invoice", "payment_link",
        "setup_intent", "subscription",
    },
    "payment_intent": {"latest_charge", "customer", "payment_method", "application", "review"},
    "charge": {"payment_intent", "balance_transaction", "customer", "application", "review"},
    "refund": {"charge", "payment_intent", "balance_transaction"},
}  # fmt: skip


class CheckoutSessionNotOpen(RuntimeError):
    """The hosted page was used for a session that is complete or expired."""


@dataclass(frozen=True)
class Ctx:
    """The API request behind a change; both None for hosted-page and automatic actions.

    ``after`` collects what to do once the response has been sent (webhook dispatch).
    """

    request_id: str | None
    idempotency_key: str | None
    after: list[Callable[[], None]] = field(default_factory=list)


AUTOMATIC = Ctx(None, None)
#: Finishes an async payment a moment later; returns the events it causes.
Settle = Callable[[], list[JSON]]


class StripeState:
    """The Stripe sandbox's objects, events and state transitions."""

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.lock = threading.RLock()
        self.sessions: dict[str, JSON] = {}
        self.line_items: dict[str, list[JSON]] = {}
        self.specs: dict[str, SessionSpec] = {}  # kept for the lazily made PaymentIntent
        self.intents: dict[str, JSON] = {}
        self.charges: dict[str, JSON] = {}
        self.refunds: dict[str, JSON] = {}
        self.events: list[JSON] = []
        self.events_by_id: dict[str, JSON] = {}
        self._next_expiry = float("inf")

    def now(self) -> int:
        return int(self._host.config.clock())

    # ------------------------------------------------------------------ lookup & rendering

    def lookup(self, object_id: str) -> JSON | None:
        for prefix, table in (
            ("cs_", self.sessions),
            ("pi_", self.intents),
            ("ch_", self.charges),
            ("re_", self.refunds),
        ):
            if object_id.startswith(prefix):
                return table.get(object_id)
        return None

    def render(self, obj: JSON, paths: list[str]) -> JSON:
        """A copy of ``obj`` with the ``expand[]`` paths expanded."""
        out = copy.deepcopy(obj)
        for path in paths:
            self.expand(out, path.split("."), path)
        return out

    def expand(self, obj: JSON, parts: list[str], full: str) -> None:
        if not parts:
            return
        if obj.get("object") == "list" and parts[0] == "data":
            for item in obj["data"]:
                self.expand(item, parts[1:], full)
            return
        field = parts[0]
        if field not in _EXPANDABLE.get(str(obj.get("object")), set()):
            raise invalid("expand", f"This property cannot be expanded ({full}).")
        value = obj.get(field)
        if field == "line_items":
            value = self.line_items_list(str(obj["id"]))
        elif isinstance(value, str):
            target = self.lookup(value)
            value = copy.deepcopy(target) if target is not None else value
        obj[field] = value
        if isinstance(value, dict):
            self.expand(value, parts[1:], full)

    def line_items_list(self, session_id: str) -> JSON:
        items = copy.deepcopy(self.line_items.get(session_id, []))
        return objects.list_object(items, f"/v1/checkout/sessions/{session_id}/line_items")

    def page_of(self, items: list[JSON], params: JSON, url: str, kind: str) -> JSON:
        """Stripe list pagination over ``items`` (newest first)."""
        limit = get_int(params, "limit", minimum=1, maximum=100) or 10
        ids = [item["id"] for item in items]
        after = get_str(params, "starting_after")
        before = get_str(params, "ending_before")
        if after is not None:
            if after not in ids:
                raise not_found(kind, after, "starting_after")
            items = items[ids.index(after) + 1 :]
            page, has_more = items[:limit], len(items) > limit
        elif before is not None:
            if before not in ids:
                raise not_found(kind, before, "ending_before")
            items = items[: ids.index(before)]
            page, has_more = items[-limit:], len(items) > limit
        else:
            page, has_more = items[:limit], len(items) > limit
        listing = objects.list_object(copy.deepcopy(page), url, has_more)
        for path in get_expand(params):
            self.expand(listing, path.split("."), path)
        return listing

    # ------------------------------------------------------------------ changes

    def add_session(self, session: JSON, items: list[JSON], spec: SessionSpec) -> None:
        with self.lock:
            self.sessions[session["id"]] = session
            self.line_items[session["id"]] = items
            self.specs[session["id"]] = spec
            self._next_expiry = min(self._next_expiry, spec.expires_at)

    def expire_overdue(self) -> list[JSON]:
        """Expire open sessions whose ``expires_at`` has passed, as Stripe does on its own."""
        now = self.now()
        if now < self._next_expiry:
            return []
        events: list[JSON] = []
        with self.lock:
            self._next_expiry = float("inf")
            for session in self.sessions.values():
                if session["status"] != "open":
                    continue
                if session["expires_at"] <= now:
                    events += self.expire_locked(session, AUTOMATIC)
                else:
                    self._next_expiry = min(self._next_expiry, session["expires_at"])
        return events

    def refund(
        self,
        *,
        intent_id: str | None,
        charge_id: str | None,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        ctx: Ctx,
    ) -> tuple[JSON, list[JSON]]:
        """Refund (part of) a succeeded charge; returns the refund and its events."""
        with self.lock:
            charge = self._refundable_charge(intent_id, charge_id)
            remaining = int(charge["amount"]) - int(charge["amount_refunded"])
            if remaining <= 0:
                raise StripeError(
                    400,
                    f"Charge {charge['id']} has already been refunded.",
                    code="charge_already_refunded",
                )
            amount = remaining if amount is None else amount
            if amount > remaining:
                currency = str(charge["currency"])
                raise invalid(
                    "amount",
                    f"Refund amount ({objects.format_amount(amount, currency)}) is greater than "
                    "unrefunded amount on charge "
                    f"({objects.format_amount(remaining, currency)})",
                    "amount_too_large",
                )
            refund = objects.refund(
                created=self.now(),
                amount=amount,
                currency=str(charge["currency"]),
                charge_id=str(charge["id"]),
                payment_intent_id=charge["payment_intent"],
                payment_method_id=charge["payment_method"],
                reason=reason,
                metadata=metadata,
            )
            self.refunds[refund["id"]] = refund
            previous = {
                "amount_refunded": charge["amount_refunded"],
                "refunded": charge["refunded"],
            }
            charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            charge["refunds"]["data"].insert(0, refund)
            events = [
                self.emit("charge.refunded", charge, ctx, previous),
                self.emit("refund.created", refund, ctx),
            ]
            return refund, events

    def _refundable_charge(self, intent_id: str | None, charge_id: str | None) -> JSON:
        if charge_id is not None:
            charge = self.charges.get(charge_id)
            if charge is None:
                raise not_found("charge", charge_id, "charge")
            if intent_id is not None and charge["payment_intent"] != intent_id:
                raise invalid(
                    "payment_intent",
                    f"The charge {charge_id} does not belong to PaymentIntent {intent_id}.",
                )
        elif intent_id is not None:
            intent = self.intents.get(intent_id)
            if intent is None:
                raise not_found("payment_intent", intent_id, "payment_intent")
            latest = intent["latest_charge"]
            charge = (
                self.charges.get(latest) if intent["status"] == "succeeded" and latest else None
            )
            if charge is None:
                raise invalid(
                    "payment_intent",
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    "charge_not_refundable",
                )
        else:
            raise invalid(
                "payment_intent",
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                "parameter_missing",
            )
        if charge["status"] != "succeeded":
            raise invalid(
                "charge",
                f"Charge {charge['id']} has not succeeded and cannot be refunded.",
                "charge_not_refundable",
            )
        return charge

    def complete(
        self, session_id: str, outcome: str, base: str
    ) -> tuple[str, list[JSON], Settle | None]:
        """Apply a hosted-page outcome: ``(redirect location, events, later settle step)``.

        ``base`` is the sandbox's public base URL (for the page's own address).  For the async
        outcomes the events are the ``checkout.session.completed`` (unpaid) and the settle step
        is what happens a moment later; the caller schedules it.
        """
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                raise LookupError(session_id)
            if session["status"] != "open":
                raise CheckoutSessionNotOpen(f"{session_id} is {session['status']}")
            page = f"{base}/c/pay/{session_id}"
            success = str(session["success_url"] or page).replace(
                "{CHECKOUT_SESSION_ID}", session_id
            )
            cancel = str(session["cancel_url"] or page).replace("{CHECKOUT_SESSION_ID}", session_id)
            if outcome == "cancel":
                return cancel, [], None
            if outcome == "expire":
                return cancel, self.expire_locked(session, AUTOMATIC), None
            if outcome == "decline":
                return f"{page}?declined=1", self._decline_locked(session, base), None
            if outcome == "pay":
                return success, self._pay_locked(session, base), None
            first = self._start_async_locked(session, base)
            succeed = outcome == "async_succeed"
            return success, first, lambda: self.settle_async(session_id, succeed)

    # ------------------------------------------------------------------ payment steps
    # All of these run with the lock held.

    def _buyer_completes(self, session: JSON) -> None:
        email = session["customer_email"] or "buyer@example.com"
        session["customer_details"] = objects.customer_details(email, "Sandbox Buyer")
        session["status"] = "complete"
        session["url"] = None

    def _intent_for(self, session: JSON) -> JSON:
        """The session's PaymentIntent, created on the first payment attempt (as Stripe does)."""
        if session["payment_intent"] is not None:
            return self.intents[session["payment_intent"]]
        spec = self.specs[session["id"]]
        intent = objects.payment_intent(
            created=self.now(),
            amount=int(session["amount_total"]),
            currency=str(session["currency"]),
            metadata=dict(spec.pi_metadata),
            description=spec.pi_description,
            receipt_email=spec.pi_receipt_email,
            statement_descriptor=spec.pi_statement_descriptor,
            statement_descriptor_suffix=spec.pi_statement_descriptor_suffix,
            payment_method_types=list(session["payment_method_types"]),
        )
        self.intents[intent["id"]] = intent
        session["payment_intent"] = intent["id"]
        return intent

    def _charge_for(self, session: JSON, intent: JSON, method: str, status: str, base: str) -> JSON:
        charge = objects.charge(
            created=self.now(),
            amount=int(intent["amount"]),
            currency=str(intent["currency"]),
            payment_intent_id=str(intent["id"]),
            payment_method_id=random_id("pm_1"),
            method=method,
            status=status,
            billing_email=session["customer_email"] or "buyer@example.com",
            billing_name="Sandbox Buyer",
            description=intent["description"],
            metadata=dict(intent["metadata"]),
            receipt_base=base,
            receipt_email=intent["receipt_email"],
        )
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        intent["payment_method"] = charge["payment_method"]
        intent["last_payment_error"] = None
        return charge

    def _succeed_locked(self, intent: JSON, charge: JSON) -> None:
        objects.set_charge_outcome(charge, "succeeded")
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]

    def _fail_locked(self, intent: JSON, charge: JSON, code: str) -> None:
        objects.set_charge_outcome(charge, "failed", code)
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = objects.payment_error(charge, code)
        intent["payment_method"] = None

    def _pay_locked(self, session: JSON, base: str) -> list[JSON]:
        if session["amount_total"] == 0:
            self._buyer_completes(session)
            session["payment_status"] = "no_payment_required"
            return [self.emit("checkout.session.completed", session)]
        intent = self._intent_for(session)
        charge = self._charge_for(session, intent, "card", "succeeded", base)
        self._succeed_locked(intent, charge)
        self._buyer_completes(session)
        session["payment_status"] = "paid"
        return [
            self.emit("payment_intent.succeeded", intent),
            self.emit("charge.succeeded", charge),
            self.emit("checkout.session.completed", session),
        ]

    def _decline_locked(self, session: JSON, base: str) -> list[JSON]:
        intent = self._intent_for(session)
        charge = self._charge_for(session, intent, "card", "failed", base)
        self._fail_locked(intent, charge, "card_declined")
        return [
            self.emit("charge.failed", charge),
            self.emit("payment_intent.payment_failed", intent),
        ]

    def _start_async_locked(self, session: JSON, base: str) -> list[JSON]:
        intent = self._intent_for(session)
        self._charge_for(session, intent, "bank_debit", "pending", base)
        intent["status"] = "processing"
        self._buyer_completes(session)
        session["payment_status"] = "unpaid"
        return [self.emit("checkout.session.completed", session)]

    def settle_async(self, session_id: str, succeed: bool) -> list[JSON]:
        """Finish an async payment a moment after it started; returns the new events."""
        with self.lock:
            session = self.sessions[session_id]
            intent = self.intents[session["payment_intent"]]
            charge = self.charges[intent["latest_charge"]]
            if succeed:
                self._succeed_locked(intent, charge)
                session["payment_status"] = "paid"
                later = [
                    self.emit("payment_intent.succeeded", intent),
                    self.emit("charge.succeeded", charge),
                    self.emit("checkout.session.async_payment_succeeded", session),
                ]
            else:
                self._fail_locked(intent, charge, "insufficient_funds")
                later = [
                    self.emit("charge.failed", charge),
                    self.emit("payment_intent.payment_failed", intent),
                    self.emit("checkout.session.async_payment_failed", session),
                ]
        return later

    def expire_locked(self, session: JSON, ctx: Ctx) -> list[JSON]:
        """Expire an open session (caller holds the lock); cancels an unpaid PaymentIntent."""
        session["status"] = "expired"
        session["url"] = None
        events: list[JSON] = []
        intent = self.intents.get(session["payment_intent"] or "")
        if intent is not None and intent["status"] == "requires_payment_method":
            intent["status"] = "canceled"
            intent["canceled_at"] = self.now()
            intent["cancellation_reason"] = "abandoned"
            events.append(self.emit("payment_intent.canceled", intent, ctx))
        events.append(self.emit("checkout.session.expired", session, ctx))
        return events

    def emit(
        self, event_type: str, obj: JSON, ctx: Ctx = AUTOMATIC, previous: JSON | None = None
    ) -> JSON:
        """Record an event holding a snapshot of ``obj`` (caller holds the lock)."""
        evt = objects.event(
            created=self.now(),
            event_type=event_type,
            obj=copy.deepcopy(obj),
            api_version=self._host.config.stripe_api_version,
            pending_webhooks=1 if self._host.config.stripe_webhook_url else 0,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            previous_attributes=copy.deepcopy(previous),
        )
        self.events.append(evt)
        self.events_by_id[evt["id"]] = evt
        return evt
