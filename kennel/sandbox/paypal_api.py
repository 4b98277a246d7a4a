"""The PayPal half of the payment sandbox: REST API, approve page, RSA-signed webhooks.

Serves the subset of PayPal's REST API that Kennel calls — OAuth client credentials, Orders v2
(create, get, capture), Payments v2 (get capture, refund, get refund), verify-webhook-signature
and the signing certificate — with PayPal's behaviour: ``PayPal-Request-Id`` replay,
``Prefer`` minimal/representation bodies, PayPal-shaped errors, capture refused before
approval.  Objects and transitions live in :class:`~kennel.sandbox.paypal_state.PayPalState`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from kennel.sandbox import paypal_objects as objects
from kennel.sandbox.core import (
    JSON,
    Fingerprint,
    Handler,
    IdempotencyMismatch,
    Request,
    Response,
    Router,
    html_response,
    redirect,
)
from kennel.sandbox.paypal_objects import PayPalError, detail
from kennel.sandbox.paypal_pages import approve_page, approved_page, unavailable_page
from kennel.sandbox.paypal_params import json_body, parse_order_create
from kennel.sandbox.paypal_signing import (
    AUTH_ALGO,
    STALE_SECONDS,
    WebhookSigner,
    raw_member,
    signed_message,
)
from kennel.sandbox.paypal_state import OUTCOMES, OrderNotApprovable, PayPalState, Settle
from kennel.sandbox.webhooks import Delivery

if TYPE_CHECKING:
    from kennel.sandbox.app import Sandbox

__all__ = ["OUTCOMES", "OrderNotApprovable", "PayPalSandbox"]

log = logging.getLogger("kennel.sandbox")

TOKEN_SECONDS = 32400  # PayPal's access tokens live nine hours
MAX_REQUEST_ID = 108  # PayPal-Request-Id is at most 108 characters
_VERIFY_FIELDS = (
    "auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
    "webhook_id",
)  # fmt: skip


@dataclass
class Ctx:
    """One API request: the base URL for links, what to do once answered, a response delay."""

    base: str
    representation: bool
    after: list[Callable[[], None]] = field(default_factory=list)
    stall: float = 0.0


ApiHandler = Callable[[Request, JSON, Ctx], tuple[int, JSON]]


@dataclass(frozen=True)
class ApiCall:
    """One API request as the sandbox answered it (for tests: which ids, which replays)."""

    method: str
    path: str
    request_id: str | None
    status: int
    replayed: bool


class PayPalSandbox:
    """In-memory PayPal for Kennel: API routes, approve page, events, signed webhooks.

    ``events`` lists every event created; ``approve`` presses an approve-page button without
    HTTP; ``signed_delivery`` builds a webhook body + headers exactly as delivered;
    ``delay_next_capture_response`` makes the next capture take effect but answer too late;
    ``api_calls`` lists the API requests answered so far.
    """

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.state = PayPalState(host)
        self.signer = WebhookSigner()
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> client id, expiry
        self._switch_lock = threading.Lock()
        self._capture_delay = 0.0
        self._calls: list[ApiCall] = []
        self._register(host.router)

    # ------------------------------------------------------------------ public helpers

    @property
    def events(self) -> list[JSON]:
        """Every event created so far, oldest first (copies)."""
        with self.state.lock:
            return copy.deepcopy(self.state.events)

    @property
    def api_calls(self) -> list[ApiCall]:
        with self._switch_lock:
            return list(self._calls)

    @property
    def cert_url(self) -> str:
        return f"{self._host.public_base(None)}/v1/notifications/certs/{self.signer.cert_id}"

    def signed_delivery(
        self, event: JSON, *, stale: bool = False, webhook_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers exactly as the dispatcher would POST ``event``."""
        body = _encode(event)
        return body, self._signed_headers(body, stale, webhook_id=webhook_id)

    def approve(self, order_id: str, outcome: str) -> str | None:
        """Press an approve-page button without HTTP; returns where the buyer is sent.

        Raises LookupError for an unknown order, ValueError for an unknown outcome and
        :class:`OrderNotApprovable` when the order is past approval.
        """
        location, events = self.state.approve(order_id, outcome, self._host.public_base(None))
        self._dispatch(events)
        return location

    def reverse_approval(self, order_id: str) -> None:
        """PayPal reverses the buyer's approval of an uncaptured order (it becomes VOIDED)."""
        self._dispatch(self.state.reverse_approval(order_id, self._host.public_base(None)))

    def delay_next_capture_response(self, seconds: float) -> None:
        """The next capture is made and recorded, but its response is only sent ``seconds``
        later — past the client's timeout, so the client never sees it."""
        with self._switch_lock:
            self._capture_delay = seconds

    # ------------------------------------------------------------------ plumbing

    def _register(self, router: Router) -> None:
        api = self._api
        router.add("POST", "/v1/oauth2/token", self._token)
        router.add("POST", "/v2/checkout/orders", api(self._create_order, idempotent=True))
        router.add("GET", "/v2/checkout/orders/{id}", api(self._get_order))
        router.add("POST", "/v2/checkout/orders/{id}/capture", api(self._capture, idempotent=True))
        router.add("GET", "/v2/payments/captures/{id}", api(self._get_capture))
        router.add("POST", "/v2/payments/captures/{id}/refund", api(self._refund, idempotent=True))
        router.add("GET", "/v2/payments/refunds/{id}", api(self._get_refund))
        router.add(
            "POST", "/v1/notifications/verify-webhook-signature", api(self._verify_signature)
        )
        router.add("GET", "/v1/notifications/webhooks-events/{id}", api(self._get_event))
        router.add("GET", "/v1/notifications/certs/{cert_id}", self._certificate)
        for prefix in ("/v2/", "/v1/oauth2/", "/v1/notifications/"):
            router.fallback(prefix, self._unknown_route)
        router.add("GET", "/checkoutnow", self._page_get)
        router.add("POST", "/checkoutnow", self._page_post)

    def _api(self, handler: ApiHandler, *, idempotent: bool = False) -> Handler:
        """Wrap an API handler with bearer auth, JSON errors and PayPal-Request-Id replay."""

        def wrapped(req: Request) -> Response:
            response, replayed = answer(req)
            call = ApiCall(
                req.method, req.path, req.header("paypal-request-id"), response.status, replayed
            )
            with self._switch_lock:
                self._calls.append(call)
            return response

        def answer(req: Request) -> tuple[Response, bool]:
            headers = [("Paypal-Debug-Id", objects.debug_id())]
            try:
                client_id = self._bearer(req)
            except PayPalError as exc:
                return _json(exc.status, exc.body(), headers), False
            except _OAuthError as exc:
                return _json(401, exc.body, headers), False
            prefer = (req.header("prefer") or "").replace(" ", "").lower()
            ctx = Ctx(self._host.public_base(req), "return=representation" in prefer)

            def compute() -> Response:
                try:
                    body = json_body(req.body) if req.method == "POST" else {}
                    status, data = handler(req, body, ctx)
                    response = _json(status, data)
                    response.after.extend(ctx.after)
                    return response
                except PayPalError as exc:
                    return _json(exc.status, exc.body())
                except Exception:
                    log.exception("sandbox: PayPal handler failed for %s %s", req.method, req.path)
                    return _json(500, PayPalError(500).body())

            request_id = req.header("paypal-request-id") if idempotent else None
            if not request_id:
                return compute().with_headers(headers), False
            if len(request_id) > MAX_REQUEST_ID:
                error = PayPalError(
                    400,
                    [
                        detail(
                            "INVALID_PARAMETER_VALUE",
                            f"PayPal-Request-Id can be at most {MAX_REQUEST_ID} characters.",
                        )
                    ],
                )
                return _json(400, error.body(), headers), False
            try:
                response, replayed = self._host.idempotency.run(
                    ("paypal", client_id, request_id),
                    Fingerprint.of(req.method, req.path, _fingerprint(req.body)),
                    compute,
                    should_store=lambda r: not 400 <= r.status < 500,
                )
            except IdempotencyMismatch:
                error = objects.unprocessable(
                    "DUPLICATE_REQUEST_ID",
                    "The value of PayPal-Request-Id header has already been used.",
                )
                return _json(422, error.body(), headers), False
            if replayed:
                # PayPal answers a repeated request with 200 and the first result; the
                # webhooks and any delay belonged to the first response only.
                status = 200 if response.status == 201 else response.status
                response = Response(status, response.body, list(response.headers))
            elif ctx.stall > 0:
                response = replace(response, delay=ctx.stall)
            headers.append(("PayPal-Request-Id", request_id))
            return response.with_headers(headers), replayed

        return wrapped

    def _bearer(self, req: Request) -> str:
        auth = req.header("authorization") or ""
        if not auth.lower().startswith("bearer "):
            raise PayPalError(401)
        token = auth[7:].strip()
        with self._switch_lock:
            entry = self._tokens.get(token)
        if entry is None:
            raise _OAuthError("invalid_token", "Token signature verification failed")
        client_id, expires = entry
        if self.state.now() >= expires:
            raise _OAuthError("invalid_token", "Access Token not found in cache")
        return client_id

    def _token(self, req: Request) -> Response:
        """``POST /v1/oauth2/token``: client credentials with HTTP Basic auth."""
        config = self._host.config
        client_id, secret = _basic_credentials(req.header("authorization") or "")
        if (client_id, secret) != (config.paypal_client_id, config.paypal_client_secret):
            return _json(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        form = dict(parse_qsl(req.body.decode("utf-8", errors="replace")))
        grant = form.get("grant_type")
        if grant != "client_credentials":
            description = "Grant Type is NULL" if not grant else "unsupported grant_type"
            return _json(400, {"error": "unsupported_grant_type", "error_description": description})
        token = "A21AA" + objects.paypal_id(60)
        with self._switch_lock:
            self._tokens[token] = (client_id, self.state.now() + TOKEN_SECONDS)
        return _json(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment "
                "https://uri.paypal.com/services/payments/refund "
                "https://uri.paypal.com/services/applications/webhooks",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-KENNELSANDBOX",
                "expires_in": TOKEN_SECONDS,
                "nonce": f"{objects.timestamp(self.state.now())}{objects.paypal_id(20)}",
            },
        )

    def _unknown_route(self, req: Request) -> Response:
        error = PayPalError(404, [detail("INVALID_RESOURCE_ID", f"No such resource: {req.path}")])
        return _json(404, error.body())

    # ------------------------------------------------------------------ API handlers

    def _create_order(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        order = self.state.create_order(parse_order_create(body), ctx.base)
        return 201, order if ctx.representation else objects.minimal_order(order)

    def _get_order(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_order(req.route["id"])

    def _capture(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        order, events, settle = self.state.capture(req.route["id"], ctx.base)
        ctx.after.append(lambda: self._dispatch(events, settle))
        with self._switch_lock:
            ctx.stall, self._capture_delay = self._capture_delay, 0.0
        return 201, order if ctx.representation else objects.minimal_order(order)

    def _get_capture(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_capture(req.route["id"])

    def _refund(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        refund, events = self.state.refund(req.route["id"], body, ctx.base)
        ctx.after.append(lambda: self._dispatch(events))
        if ctx.representation:
            return 201, refund
        return 201, {"id": refund["id"], "status": refund["status"], "links": refund["links"]}

    def _get_refund(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_refund(req.route["id"])

    def _get_event(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_event(req.route["id"])

    def _verify_signature(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        """``POST /v1/notifications/verify-webhook-signature``: PayPal checks for the caller."""
        missing = [
            name for name in _VERIFY_FIELDS if not isinstance(body.get(name), str) or not body[name]
        ]
        if not isinstance(body.get("webhook_event"), dict):
            missing.append("webhook_event")
        if missing:
            raise PayPalError(
                400,
                [{"field": name, "issue": "Required field cannot be blank"} for name in missing],
                api="notifications",
            )
        raw = raw_member(req.body.decode("utf-8", errors="replace"), "webhook_event") or ""
        message = signed_message(
            body["transmission_id"],
            body["transmission_time"],
            body["webhook_id"],
            raw.encode("utf-8"),
        )
        ok = (
            body["auth_algo"] == AUTH_ALGO
            and urlsplit(body["cert_url"]).path.endswith(f"/certs/{self.signer.cert_id}")
            and body["webhook_id"] == self._host.config.paypal_webhook_id
            and self.signer.verify(body["transmission_sig"], message)
        )
        return 200, {"verification_status": "SUCCESS" if ok else "FAILURE"}

    def _certificate(self, req: Request) -> Response:
        if req.route["cert_id"] != self.signer.cert_id:
            return self._unknown_route(req)
        return Response(200, self.signer.pem, [("Content-Type", "application/x-pem-file")])

    # ------------------------------------------------------------------ approve page

    def _order_token(self, req: Request) -> str:
        token = dict(parse_qsl(req.query_string)).get("token")
        if not token and req.method == "POST":
            token = dict(parse_qsl(req.body.decode("utf-8", errors="replace"))).get("token")
        return token or ""

    def _page_get(self, req: Request) -> Response:
        order_id = self._order_token(req)
        with self.state.lock:
            order = copy.deepcopy(self.state.orders.get(order_id))
            spec = self.state.specs.get(order_id)
        if order is None or spec is None:
            return html_response(404, unavailable_page(None))
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            return html_response(409, unavailable_page(order))
        return html_response(200, approve_page(order, spec.brand_name))

    def _page_post(self, req: Request) -> Response:
        order_id = self._order_token(req)
        outcome = dict(parse_qsl(req.body.decode("utf-8", errors="replace"))).get("outcome")
        if outcome not in OUTCOMES:
            return html_response(400, "<!doctype html><title>Bad request</title><p>Bad outcome.")
        try:
            location, events = self.state.approve(
                order_id, str(outcome), self._host.public_base(req)
            )
        except LookupError:
            return html_response(404, unavailable_page(None))
        except OrderNotApprovable:
            with self.state.lock:
                order = copy.deepcopy(self.state.orders[order_id])
            return html_response(409, unavailable_page(order))
        response = redirect(location) if location else html_response(200, approved_page())
        # Deliver only once the 303 is on the wire: the buyer's browser is redirected first.
        response.after.append(lambda: self._dispatch(events))
        return response

    # ------------------------------------------------------------------ webhooks

    def _deliveries(self, events: list[JSON]) -> list[Delivery]:
        url = self._host.config.paypal_webhook_url
        if not url:
            return []
        return [
            Delivery(
                provider="paypal",
                event_id=evt["id"],
                event_type=evt["event_type"],
                url=url,
                body=_encode(evt),
                sign=self._signed_headers,
            )
            for evt in events
        ]

    def _dispatch(self, events: list[JSON], settle: Settle | None = None) -> None:
        """Send ``events`` as one batch, then settle a pending capture and send its events.

        With ``out_of_order`` the capture settles first and both are delivered as one batch in
        reverse, so the app hears COMPLETED before PENDING.
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

    def _signed_headers(
        self, body: bytes, stale: bool, *, webhook_id: str | None = None
    ) -> dict[str, str]:
        return self.signer.headers(
            body,
            webhook_id=webhook_id or self._host.config.paypal_webhook_id,
            cert_url=self.cert_url,
            at=time.time() - (STALE_SECONDS if stale else 0),
        )


class _OAuthError(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.body = {"error": error, "error_description": description}


def _basic_credentials(header: str) -> tuple[str, str]:
    if not header.lower().startswith("basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def _fingerprint(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        return raw.decode("utf-8", errors="replace")


def _encode(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def _json(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, _encode(data), [("Content-Type", "application/json"), *(headers or [])])
