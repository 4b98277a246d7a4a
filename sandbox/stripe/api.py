"""The Stripe half of the payment sandbox: HTTP API, hosted Checkout page, signed webhooks.

Serves the subset of Stripe's v1 API that Kennel calls (Checkout Sessions, PaymentIntents,
charges, refunds, events) in Stripe's formats, a hosted Checkout page whose buttons choose the
payment outcome, and webhooks signed like Stripe's, sent through the shared
:class:`~sandbox.webhooks.WebhookDispatcher`.

Tables and events live in :class:`~sandbox.stripe.state.StripeState`, what a payment does in
:mod:`sandbox.stripe.payments`.  Events are created there under the state's lock; this module
hands them to the dispatcher after the lock is released and, for HTTP requests, after the
response has been written.
"""

from __future__ import annotations

import copy
import fnmatch
from typing import TYPE_CHECKING

from sandbox.core import (
    JSON,
    FormError,
    Handler,
    Request,
    Response,
    Router,
    html_response,
    random_id,
    redirect,
)
from sandbox.stripe import objects, payments, views
from sandbox.stripe.errors import invalid, not_found
from sandbox.stripe.pages import checkout_page, receipt_page, unavailable_page
from sandbox.stripe.params import (
    check_known,
    get_enum,
    get_expand,
    get_int,
    get_metadata,
    get_str,
    get_str_list,
)
from sandbox.stripe.payments import OUTCOMES, CheckoutSessionNotOpen
from sandbox.stripe.session_params import parse_session_create
from sandbox.stripe.signing import encode, signed_headers
from sandbox.stripe.state import Ctx, StripeState
from sandbox.stripe.transport import ApiHandler, api_route, unknown_route
from sandbox.webhooks import Endpoint, Settle

if TYPE_CHECKING:
    from sandbox.app import Sandbox

__all__ = ["OUTCOMES", "CheckoutSessionNotOpen", "StripeSandbox"]

_REFUND_PARAMS = {
    "payment_intent", "charge", "amount", "reason", "metadata", "expand", "instructions_email",
}  # fmt: skip


class StripeSandbox:
    """Stripe for Kennel: API routes, hosted Checkout page, events, signed webhooks.

    ``events`` lists every event created; ``complete_session`` presses a hosted-page button
    without HTTP; ``signed_delivery`` builds a webhook body + headers exactly as delivered.
    """

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.state = StripeState(host)
        self._register(host.router)
        host.dispatcher.add_ticker(self.expire_overdue)

    # ------------------------------------------------------------------ public helpers

    @property
    def events(self) -> list[JSON]:
        """Every event created so far, oldest first (copies)."""
        with self.state.lock:
            return copy.deepcopy(self.state.events)

    def signed_delivery(self, event: JSON, *, stale: bool = False) -> tuple[bytes, dict[str, str]]:
        """The body and headers exactly as the dispatcher would POST ``event``."""
        body = encode(event)
        return body, self._signed_headers(body, stale)

    def complete_session(self, session_id: str, outcome: str) -> str:
        """Press a hosted-page button without HTTP; returns where the buyer is redirected.

        Raises ``LookupError`` for an unknown session, ``ValueError`` for an unknown outcome
        and :class:`CheckoutSessionNotOpen` when the session is no longer open.
        """
        self.expire_overdue()
        location, events, settle = payments.complete(
            self.state, session_id, outcome, self._host.public_base(None)
        )
        self._send(events, settle)
        return location

    def expire_overdue(self) -> None:
        """Expire open sessions whose ``expires_at`` has passed and send their events."""
        self._send(self.state.expire_overdue())

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> JSON:
        return self.state.snapshot()

    def restore(self, saved: JSON) -> None:
        """Take back a saved state; async payments that had not settled settle a moment later."""
        self.state.restore(saved)
        for settle in payments.unsettled(self.state):
            self._send([], settle)

    # ------------------------------------------------------------------ plumbing

    def _register(self, router: Router) -> None:
        api = self._api
        router.add("POST", "/v1/checkout/sessions", api(self._create_session))
        router.add("GET", "/v1/checkout/sessions", api(self._list_sessions))
        router.add("GET", "/v1/checkout/sessions/{id}", api(self._getter("checkout.session")))
        router.add("GET", "/v1/checkout/sessions/{id}/line_items", api(self._get_line_items))
        router.add("POST", "/v1/checkout/sessions/{id}/expire", api(self._expire_session))
        router.add("GET", "/v1/payment_intents/{id}", api(self._getter("payment_intent")))
        router.add("GET", "/v1/charges/{id}", api(self._getter("charge")))
        router.add("POST", "/v1/refunds", api(self._create_refund))
        router.add("GET", "/v1/refunds", api(self._list_refunds))
        router.add("GET", "/v1/refunds/{id}", api(self._getter("refund")))
        router.add("GET", "/v1/events", api(self._list_events))
        router.add("GET", "/v1/events/{id}", api(self._getter("event")))
        router.fallback("/v1/", unknown_route)
        router.add("GET", "/c/pay/{session_id}", self._page_get)
        router.add("POST", "/c/pay/{session_id}", self._page_post)
        router.add("GET", "/receipts/payment/{charge_id}", self._receipt)

    def _api(self, handler: ApiHandler) -> Handler:
        return api_route(self._host, handler, before=self.expire_overdue)

    # ------------------------------------------------------------------ API handlers

    def _create_session(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        now = self.state.now()
        spec = parse_session_create(params, now)
        expand = get_expand(params)
        session_id = random_id("cs_test_a1", 56)
        session = objects.checkout_session(
            session_id=session_id,
            created=now,
            expires_at=spec.expires_at,
            url=f"{self._host.public_base(req)}/c/pay/{session_id}",
            success_url=spec.success_url,
            cancel_url=spec.cancel_url,
            currency=spec.currency,
            amount_subtotal=spec.amount_total,
            amount_total=spec.amount_total,
            metadata=spec.metadata,
            client_reference_id=spec.client_reference_id,
            customer_email=spec.customer_email,
            locale=spec.locale,
            submit_type=spec.submit_type,
            payment_method_types=spec.payment_method_types,
            options=spec.options,
        )
        items = [
            objects.line_item(
                created=now,
                currency=spec.currency,
                description=line.name,
                unit_amount=line.unit_amount,
                quantity=line.quantity,
            )
            for line in spec.lines
        ]
        with self.state.lock:
            self.state.add_session(session, items, spec)
            return views.render(self.state, session, expand)

    def _list_sessions(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        status = get_enum(params, "status", ("open", "complete", "expired"))
        intent = get_str(params, "payment_intent")
        with self.state.lock:
            items = [
                s
                for s in reversed(self.state.sessions.values())
                if (status is None or s["status"] == status)
                and (intent is None or s["payment_intent"] == intent)
            ]
            return views.page_of(
                self.state, items, params, "/v1/checkout/sessions", "checkout.session"
            )

    def _list_refunds(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        intent = get_str(params, "payment_intent")
        charge = get_str(params, "charge")
        with self.state.lock:
            items = [
                r
                for r in reversed(self.state.refunds.values())
                if (intent is None or r["payment_intent"] == intent)
                and (charge is None or r["charge"] == charge)
            ]
            return views.page_of(self.state, items, params, "/v1/refunds", "refund")

    def _getter(self, kind: str) -> ApiHandler:
        tables = {
            "checkout.session": self.state.sessions,
            "payment_intent": self.state.intents,
            "charge": self.state.charges,
            "refund": self.state.refunds,
            "event": self.state.events_by_id,
        }
        table = tables[kind]

        def get(req: Request, params: JSON, ctx: Ctx) -> JSON:
            with self.state.lock:
                obj = table.get(req.route["id"])
                if obj is None:
                    raise not_found(kind, req.route["id"])
                if kind == "event":  # events are not expandable
                    return copy.deepcopy(obj)
                return views.render(self.state, obj, get_expand(params))

        return get

    def _get_line_items(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        session_id = req.route["id"]
        url = f"/v1/checkout/sessions/{session_id}/line_items"
        with self.state.lock:
            if session_id not in self.state.sessions:
                raise not_found("checkout.session", session_id)
            return views.page_of(
                self.state, list(self.state.line_items[session_id]), params, url, "item"
            )

    def _expire_session(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        check_known(params, {"expand"})
        with self.state.lock:
            session = self.state.sessions.get(req.route["id"])
            if session is None:
                raise not_found("checkout.session", req.route["id"])
            if session["status"] != "open":
                raise invalid(
                    "session",
                    'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".',
                )
            events = self.state.expire_locked(session, ctx)
            body = views.render(self.state, session, get_expand(params))
        ctx.after.append(lambda: self._send(events))
        return body

    def _create_refund(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        check_known(params, _REFUND_PARAMS)
        refund, events = payments.refund(
            self.state,
            intent_id=get_str(params, "payment_intent"),
            charge_id=get_str(params, "charge"),
            amount=get_int(params, "amount", minimum=1),
            reason=get_enum(params, "reason", ("duplicate", "fraudulent", "requested_by_customer")),
            metadata=get_metadata(params),
            ctx=ctx,
        )
        with self.state.lock:
            body = views.render(self.state, refund, get_expand(params))
        ctx.after.append(lambda: self._send(events))
        return body

    def _list_events(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        event_type = get_str(params, "type")
        types = get_str_list(params, "types")
        created = params.get("created")
        bounds: dict[str, int] = {}
        if isinstance(created, dict):
            for op in ("gt", "gte", "lt", "lte"):
                value = get_int(created, op, prefix="created")
                if value is not None:
                    bounds[op] = value
        elif created not in (None, ""):
            exact = get_int(params, "created")
            assert exact is not None
            bounds = {"gte": exact, "lte": exact}

        def wanted(evt: JSON) -> bool:
            kind = str(evt["type"])
            if event_type is not None and not fnmatch.fnmatchcase(kind, event_type):
                return False  # Stripe's `type` filter accepts "checkout.session.*" wildcards
            if types is not None and kind not in types:
                return False
            at = int(evt["created"])
            return (
                at > bounds.get("gt", at - 1)
                and at >= bounds.get("gte", at)
                and at < bounds.get("lt", at + 1)
                and at <= bounds.get("lte", at)
            )

        with self.state.lock:
            items = [evt for evt in reversed(self.state.events) if wanted(evt)]
            return views.page_of(self.state, items, params, "/v1/events", "event")

    # ------------------------------------------------------------------ hosted page

    def _page_get(self, req: Request) -> Response:
        self.expire_overdue()
        session_id = req.route["session_id"]
        with self.state.lock:
            session = copy.deepcopy(self.state.sessions.get(session_id))
            items = copy.deepcopy(self.state.line_items.get(session_id, []))
        if session is None:
            return html_response(404, unavailable_page(None))
        if session["status"] != "open":
            return html_response(200, unavailable_page(session))
        declined = req.query().get("declined") == "1"
        return html_response(200, checkout_page(session, items, declined=declined))

    def _page_post(self, req: Request) -> Response:
        self.expire_overdue()
        session_id = req.route["session_id"]
        try:
            outcome = req.form().get("outcome")
        except FormError:
            outcome = None
        if outcome not in OUTCOMES:
            return html_response(400, "<!doctype html><title>Bad request</title><p>Bad outcome.")
        try:
            location, events, settle = payments.complete(
                self.state, session_id, str(outcome), self._host.public_base(req)
            )
        except LookupError:
            return html_response(404, unavailable_page(None))
        except CheckoutSessionNotOpen:
            with self.state.lock:
                session = copy.deepcopy(self.state.sessions[session_id])
            return html_response(409, unavailable_page(session))
        response = redirect(location)
        # Deliver only once the 303 is on the wire: the buyer's browser is redirected first.
        response.after.append(lambda: self._send(events, settle))
        return response

    def _receipt(self, req: Request) -> Response:
        with self.state.lock:
            charge = copy.deepcopy(self.state.charges.get(req.route["charge_id"]))
        if charge is None:
            return html_response(404, "<!doctype html><title>Not found</title><p>No receipt.")
        return html_response(200, receipt_page(charge))

    # ------------------------------------------------------------------ webhooks

    def _send(self, events: list[JSON], settle: Settle | None = None) -> None:
        endpoint = Endpoint(
            provider="stripe",
            url=self._host.config.stripe_webhook_url,
            type_key="type",
            encode=encode,
            sign=self._signed_headers,
        )
        self._host.dispatcher.send(endpoint, events, settle)

    def _signed_headers(self, body: bytes, stale: bool) -> dict[str, str]:
        return signed_headers(self._host.config.stripe_webhook_secret, body, stale)
