"""The Stripe half of the payment sandbox: HTTP API, hosted Checkout page, signed webhooks.

Serves the subset of Stripe's v1 API that Kennel calls (Checkout Sessions, PaymentIntents,
charges, refunds, events) in Stripe's formats, a hosted Checkout page whose buttons choose the
payment outcome, and webhooks signed like Stripe's, sent through the shared
:class:`~kennel.sandbox.webhooks.WebhookDispatcher`.

Objects and transitions live in :class:`~kennel.sandbox.stripe_state.StripeState`.  Events
are created there under its lock; this module hands them to the dispatcher after the lock is
released and, for HTTP requests, after the response has been written.
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from kennel.sandbox import stripe_objects as objects
from kennel.sandbox.core import (
    JSON,
    Fingerprint,
    FormError,
    Handler,
    IdempotencyMismatch,
    Request,
    Response,
    Router,
    html_response,
    json_response,
    random_id,
    redirect,
)
from kennel.sandbox.stripe_pages import checkout_page, receipt_page, unavailable_page
from kennel.sandbox.stripe_params import (
    StripeError,
    check_known,
    get_enum,
    get_expand,
    get_int,
    get_metadata,
    get_str,
    get_str_list,
    invalid,
    not_found,
    parse_session_create,
)
from kennel.sandbox.stripe_state import (
    OUTCOMES,
    CheckoutSessionNotOpen,
    Ctx,
    Settle,
    StripeState,
)
from kennel.sandbox.webhooks import Delivery

if TYPE_CHECKING:
    from kennel.sandbox.app import Sandbox

__all__ = ["OUTCOMES", "CheckoutSessionNotOpen", "StripeSandbox"]

log = logging.getLogger("kennel.sandbox")

_VALID_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
_REFUND_PARAMS = {
    "payment_intent", "charge", "amount", "reason", "metadata", "expand", "instructions_email",
}  # fmt: skip
#: Signatures made with ``stale=True`` are dated this many seconds in the past; Stripe's SDKs
#: refuse timestamps older than 300 s by default.
STALE_SECONDS = 600

ApiHandler = Callable[[Request, JSON, Ctx], JSON]


class StripeSandbox:
    """In-memory Stripe for Kennel: API routes, hosted Checkout page, events, signed webhooks.

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
        body = json.dumps(event, indent=2).encode("utf-8")
        return body, self._signed_headers(body, stale)

    def complete_session(self, session_id: str, outcome: str) -> str:
        """Press a hosted-page button without HTTP; returns where the buyer is redirected.

        Raises ``LookupError`` for an unknown session, ``ValueError`` for an unknown outcome
        and :class:`CheckoutSessionNotOpen` when the session is no longer open.
        """
        self.expire_overdue()
        location, events, settle = self.state.complete(
            session_id, outcome, self._host.public_base(None)
        )
        self._dispatch(events, settle)
        return location

    def expire_overdue(self) -> None:
        """Expire open sessions whose ``expires_at`` has passed and send their events."""
        self._dispatch(self.state.expire_overdue())

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
        router.add("GET", "/v1/refunds/{id}", api(self._getter("refund")))
        router.add("GET", "/v1/events", api(self._list_events))
        router.add("GET", "/v1/events/{id}", api(self._getter("event")))
        router.fallback("/v1/", self._unknown_route)
        router.add("GET", "/c/pay/{session_id}", self._page_get)
        router.add("POST", "/c/pay/{session_id}", self._page_post)
        router.add("GET", "/receipts/payment/{charge_id}", self._receipt)

    def _api(self, handler: ApiHandler) -> Handler:
        """Wrap an API handler with auth, parameter parsing, errors and idempotency."""

        def wrapped(req: Request) -> Response:
            request_id = random_id("req_", 14)
            version = req.header("stripe-version") or self._host.config.stripe_api_version
            headers = [("Request-Id", request_id), ("Stripe-Version", version)]
            try:
                api_key = _api_key(req)
                params = req.params()
            except FormError as exc:
                return _error(StripeError(400, str(exc), param=exc.key), headers)
            except StripeError as exc:  # 401
                return _error(exc, [*headers, ("WWW-Authenticate", 'Bearer realm="Stripe"')])
            self.expire_overdue()
            idempotency_key = req.header("idempotency-key") if req.method == "POST" else None
            ctx = Ctx(request_id, idempotency_key)

            def compute() -> Response:
                try:
                    response = json_response(200, handler(req, params, ctx))
                    response.after.extend(ctx.after)
                    return response.with_headers([("Original-Request", request_id)])
                except StripeError as exc:
                    return json_response(exc.status, exc.body())
                except Exception:
                    log.exception("sandbox: Stripe handler failed for %s %s", req.method, req.path)
                    error = StripeError(500, "An unknown error occurred", type="api_error")
                    return json_response(500, error.body())

            if not idempotency_key:
                return compute().with_headers(headers)
            if len(idempotency_key) > 255:
                message = "Idempotency keys can be at most 255 characters long."
                return _error(invalid("idempotency_key", message), headers)
            try:
                response, replayed = self._host.idempotency.run(
                    ("stripe", api_key, idempotency_key),
                    Fingerprint.of(req.method, req.path, params),
                    compute,
                    # Stripe saves a result once the endpoint started executing; requests that
                    # failed validation (4xx) may be retried with the same key.
                    should_store=lambda r: not 400 <= r.status < 500,
                )
            except IdempotencyMismatch as exc:
                return _error(_mismatch_error(exc), headers)
            extra = [("Idempotency-Key", idempotency_key)]
            if replayed:
                # A fresh object without the stored response's after-send actions: a replay
                # must not deliver the original webhooks again.
                response = Response(response.status, response.body, list(response.headers))
                extra.append(("Idempotent-Replayed", "true"))
            return response.with_headers(headers + extra)

        return wrapped

    def _unknown_route(self, req: Request) -> Response:
        message = (
            f"Unrecognized request URL ({req.method}: {req.path}). Please see "
            "https://stripe.com/docs or we can help at https://support.stripe.com/."
        )
        return _error(StripeError(404, message, code="resource_missing"), [])

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
            return self.state.render(session, expand)

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
            return self.state.page_of(items, params, "/v1/checkout/sessions", "checkout.session")

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
                return self.state.render(obj, get_expand(params))

        return get

    def _get_line_items(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        session_id = req.route["id"]
        url = f"/v1/checkout/sessions/{session_id}/line_items"
        with self.state.lock:
            if session_id not in self.state.sessions:
                raise not_found("checkout.session", session_id)
            return self.state.page_of(list(self.state.line_items[session_id]), params, url, "item")

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
            body = self.state.render(session, get_expand(params))
        ctx.after.append(lambda: self._dispatch(events))
        return body

    def _create_refund(self, req: Request, params: JSON, ctx: Ctx) -> JSON:
        check_known(params, _REFUND_PARAMS)
        refund, events = self.state.refund(
            intent_id=get_str(params, "payment_intent"),
            charge_id=get_str(params, "charge"),
            amount=get_int(params, "amount", minimum=1),
            reason=get_enum(params, "reason", ("duplicate", "fraudulent", "requested_by_customer")),
            metadata=get_metadata(params),
            ctx=ctx,
        )
        with self.state.lock:
            body = self.state.render(refund, get_expand(params))
        ctx.after.append(lambda: self._dispatch(events))
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
            return self.state.page_of(items, params, "/v1/events", "event")

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
            location, events, settle = self.state.complete(
                session_id, str(outcome), self._host.public_base(req)
            )
        except LookupError:
            return html_response(404, unavailable_page(None))
        except CheckoutSessionNotOpen:
            with self.state.lock:
                session = copy.deepcopy(self.state.sessions[session_id])
            return html_response(409, unavailable_page(session))
        response = redirect(location)
        # Deliver only once the 303 is on the wire: the buyer's browser is redirected first.
        response.after.append(lambda: self._dispatch(events, settle))
        return response

    def _receipt(self, req: Request) -> Response:
        with self.state.lock:
            charge = copy.deepcopy(self.state.charges.get(req.route["charge_id"]))
        if charge is None:
            return html_response(404, "<!doctype html><title>Not found</title><p>No receipt.")
        return html_response(200, receipt_page(charge))

    # ------------------------------------------------------------------ webhooks

    def _deliveries(self, events: list[JSON]) -> list[Delivery]:
        url = self._host.config.stripe_webhook_url
        if not url:
            return []
        return [
            Delivery(
                provider="stripe",
                event_id=evt["id"],
                event_type=evt["type"],
                url=url,
                body=json.dumps(evt, indent=2).encode("utf-8"),
                sign=self._signed_headers,
            )
            for evt in events
        ]

    def _dispatch(self, events: list[JSON], settle: Settle | None = None) -> None:
        """Send ``events`` as one batch, then settle an async payment and send its events.

        The settle step is queued behind the batch on the single delivery worker, so the app
        receives ``checkout.session.completed`` (unpaid) while the payment is still processing
        and only then does the payment settle.  With ``out_of_order`` the payment settles first
        and the whole async payment is delivered as one batch in reverse.
        """
        dispatcher = self._host.dispatcher
        delay = self._host.config.async_settle_delay
        if settle is not None and self._host.switches.out_of_order:
            dispatcher.schedule(delay, lambda: self._deliveries(events + settle()))
            return
        if events:
            dispatcher.submit(self._deliveries(events))
        if settle is not None:
            dispatcher.schedule(delay, lambda: self._deliveries(settle()))

    def _signed_headers(self, body: bytes, stale: bool) -> dict[str, str]:
        # Stripe signs "<timestamp>.<raw body>" with HMAC-SHA256 keyed by the endpoint secret,
        # with a fresh timestamp on every attempt.
        timestamp = int(time.time()) - (STALE_SECONDS if stale else 0)
        secret = self._host.config.stripe_webhook_secret.encode("utf-8")
        signature = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={timestamp},v1={signature}",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
        }


def _api_key(req: Request) -> str:
    """The secret key from ``Authorization: Bearer`` (or Basic, as curl -u sends it)."""
    auth = req.header("authorization") or ""
    key = ""
    if auth.lower().startswith("bearer "):
        key = auth[7:].strip()
    elif auth.lower().startswith("basic "):
        try:
            key = base64.b64decode(auth[6:].strip()).decode("utf-8").split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            key = ""
    if not key:
        raise StripeError(401, _NO_KEY_MESSAGE)
    if not key.startswith(_VALID_KEY_PREFIXES):
        masked = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else "****"
        raise StripeError(401, f"Invalid API Key provided: {masked}")
    return key


def _mismatch_error(exc: IdempotencyMismatch) -> StripeError:
    if exc.same_endpoint:
        message = (
            "Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{exc.key}' if you meant to execute "
            "a different request."
        )
    else:
        message = (
            "Keys for idempotent requests can only be used for the same endpoint they were "
            f"first used for ('{exc.first.path}' vs '{exc.now.path}'). Try using a key other "
            f"than '{exc.key}' if you meant to execute a different request."
        )
    return StripeError(400, message, type="idempotency_error")


def _error(exc: StripeError, headers: list[tuple[str, str]]) -> Response:
    return json_response(exc.status, exc.body(), headers)
