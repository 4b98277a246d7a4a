"""What happens to a Stripe payment: the hosted page's outcomes and refunds.

A button on the hosted Checkout page (:func:`complete`) pays, declines, starts an async
payment that settles a moment later (:func:`settle_async`), cancels or expires the session;
:func:`refund` refunds (part of) a succeeded charge.  Each takes the state's lock, changes the
tables in :class:`~sandbox.stripe.state.StripeState` and returns the events Stripe would
announce, for the caller to deliver once the lock is released.
"""

from __future__ import annotations

from sandbox.core import JSON, random_id
from sandbox.stripe import charges, objects
from sandbox.stripe.errors import StripeError, invalid, not_found
from sandbox.stripe.state import AUTOMATIC, Ctx, StripeState
from sandbox.webhooks import Settle

#: Hosted-page outcomes; ``decline`` keeps the session open, like a declined card on Stripe.
OUTCOMES = ("pay", "async_succeed", "async_fail", "decline", "cancel", "expire")


class CheckoutSessionNotOpen(RuntimeError):
    """The hosted page was used for a session that is complete or expired."""


def complete(
    state: StripeState, session_id: str, outcome: str, base: str
) -> tuple[str, list[JSON], Settle | None]:
    """Apply a hosted-page outcome: ``(redirect location, events, later settle step)``.

    ``base`` is the sandbox's public base URL (for the page's own address).  For the async
    outcomes the events are the ``checkout.session.completed`` (unpaid) and the settle step is
    what happens a moment later; the caller schedules it.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    with state.lock:
        session = state.sessions.get(session_id)
        if session is None:
            raise LookupError(session_id)
        if session["status"] != "open":
            raise CheckoutSessionNotOpen(f"{session_id} is {session['status']}")
        page = f"{base}/c/pay/{session_id}"
        success = str(session["success_url"] or page).replace("{CHECKOUT_SESSION_ID}", session_id)
        cancel = str(session["cancel_url"] or page).replace("{CHECKOUT_SESSION_ID}", session_id)
        if outcome == "cancel":
            return cancel, [], None
        if outcome == "expire":
            return cancel, state.expire_locked(session, AUTOMATIC), None
        if outcome == "decline":
            return f"{page}?declined=1", _decline_locked(state, session, base), None
        if outcome == "pay":
            return success, _pay_locked(state, session, base), None
        first = _start_async_locked(state, session, base)
        succeed = outcome == "async_succeed"
        state.settling[session_id] = succeed
        return success, first, _settle_step(state, session_id, succeed)


def settle_async(state: StripeState, session_id: str, succeed: bool) -> list[JSON]:
    """Finish an async payment a moment after it started; returns the new events."""
    with state.lock:
        if state.settling.pop(session_id, None) is None:
            return []  # settled already (a restart may have scheduled it a second time)
        session = state.sessions[session_id]
        intent = state.intents[session["payment_intent"]]
        charge = state.charges[intent["latest_charge"]]
        if succeed:
            _succeed_locked(intent, charge)
            session["payment_status"] = "paid"
            return [
                state.emit("payment_intent.succeeded", intent),
                state.emit("charge.succeeded", charge),
                state.emit("checkout.session.async_payment_succeeded", session),
            ]
        _fail_locked(intent, charge, "insufficient_funds")
        return [
            state.emit("charge.failed", charge),
            state.emit("payment_intent.payment_failed", intent),
            state.emit("checkout.session.async_payment_failed", session),
        ]


def unsettled(state: StripeState) -> list[Settle]:
    """The settle steps of async payments that had not settled when the state was saved."""
    with state.lock:
        pending = list(state.settling.items())
    return [_settle_step(state, session_id, succeed) for session_id, succeed in pending]


def _settle_step(state: StripeState, session_id: str, succeed: bool) -> Settle:
    return lambda: settle_async(state, session_id, succeed)


# ---------------------------------------------------------------------- payment steps
# All of these run with the lock held.


def _buyer_completes(session: JSON) -> None:
    email = session["customer_email"] or "buyer@example.com"
    session["customer_details"] = objects.customer_details(email, "Sandbox Buyer")
    session["status"] = "complete"
    session["url"] = None


def _intent_for(state: StripeState, session: JSON) -> JSON:
    """The session's PaymentIntent, created on the first payment attempt (as Stripe does)."""
    if session["payment_intent"] is not None:
        return state.intents[session["payment_intent"]]
    spec = state.specs[session["id"]]
    intent = objects.payment_intent(
        created=state.now(),
        amount=int(session["amount_total"]),
        currency=str(session["currency"]),
        metadata=dict(spec.pi_metadata),
        description=spec.pi_description,
        receipt_email=spec.pi_receipt_email,
        statement_descriptor=spec.pi_statement_descriptor,
        statement_descriptor_suffix=spec.pi_statement_descriptor_suffix,
        payment_method_types=list(session["payment_method_types"]),
    )
    state.intents[intent["id"]] = intent
    session["payment_intent"] = intent["id"]
    return intent


def _charge_for(
    state: StripeState, session: JSON, intent: JSON, method: str, status: str, base: str
) -> JSON:
    charge = charges.charge(
        created=state.now(),
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
    state.charges[charge["id"]] = charge
    intent["latest_charge"] = charge["id"]
    intent["payment_method"] = charge["payment_method"]
    intent["last_payment_error"] = None
    return charge


def _succeed_locked(intent: JSON, charge: JSON) -> None:
    charges.set_charge_outcome(charge, "succeeded")
    intent["status"] = "succeeded"
    intent["amount_received"] = intent["amount"]


def _fail_locked(intent: JSON, charge: JSON, code: str) -> None:
    charges.set_charge_outcome(charge, "failed", code)
    intent["status"] = "requires_payment_method"
    intent["last_payment_error"] = charges.payment_error(charge, code)
    intent["payment_method"] = None


def _pay_locked(state: StripeState, session: JSON, base: str) -> list[JSON]:
    if session["amount_total"] == 0:
        _buyer_completes(session)
        session["payment_status"] = "no_payment_required"
        return [state.emit("checkout.session.completed", session)]
    intent = _intent_for(state, session)
    charge = _charge_for(state, session, intent, "card", "succeeded", base)
    _succeed_locked(intent, charge)
    _buyer_completes(session)
    session["payment_status"] = "paid"
    return [
        state.emit("payment_intent.succeeded", intent),
        state.emit("charge.succeeded", charge),
        state.emit("checkout.session.completed", session),
    ]


def _decline_locked(state: StripeState, session: JSON, base: str) -> list[JSON]:
    intent = _intent_for(state, session)
    charge = _charge_for(state, session, intent, "card", "failed", base)
    _fail_locked(intent, charge, "card_declined")
    return [
        state.emit("charge.failed", charge),
        state.emit("payment_intent.payment_failed", intent),
    ]


def _start_async_locked(state: StripeState, session: JSON, base: str) -> list[JSON]:
    intent = _intent_for(state, session)
    _charge_for(state, session, intent, "bank_debit", "pending", base)
    intent["status"] = "processing"
    _buyer_completes(session)
    session["payment_status"] = "unpaid"
    return [state.emit("checkout.session.completed", session)]


# ---------------------------------------------------------------------- refunds


def refund(
    state: StripeState,
    *,
    intent_id: str | None,
    charge_id: str | None,
    amount: int | None,
    reason: str | None,
    metadata: dict[str, str],
    ctx: Ctx,
) -> tuple[JSON, list[JSON]]:
    """Refund (part of) a succeeded charge; returns the refund and its events."""
    with state.lock:
        charge = _refundable_charge(state, intent_id, charge_id)
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
        obj = objects.refund(
            created=state.now(),
            amount=amount,
            currency=str(charge["currency"]),
            charge_id=str(charge["id"]),
            payment_intent_id=charge["payment_intent"],
            payment_method_id=charge["payment_method"],
            reason=reason,
            metadata=metadata,
        )
        state.refunds[obj["id"]] = obj
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] = int(charge["amount_refunded"]) + amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, obj)
        events = [
            state.emit("charge.refunded", charge, ctx, previous),
            state.emit("refund.created", obj, ctx),
        ]
        return obj, events


def _refundable_charge(state: StripeState, intent_id: str | None, charge_id: str | None) -> JSON:
    if charge_id is not None:
        charge = state.charges.get(charge_id)
        if charge is None:
            raise not_found("charge", charge_id, "charge")
        if intent_id is not None and charge["payment_intent"] != intent_id:
            raise invalid(
                "payment_intent",
                f"The charge {charge_id} does not belong to PaymentIntent {intent_id}.",
            )
    elif intent_id is not None:
        intent = state.intents.get(intent_id)
        if intent is None:
            raise not_found("payment_intent", intent_id, "payment_intent")
        latest = intent["latest_charge"]
        charge = state.charges.get(latest) if intent["status"] == "succeeded" and latest else None
        if charge is None:
            raise invalid(
                "payment_intent",
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
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
