"""The PayPal half of the payment sandbox: REST API, approve page, RSA-signed webhooks.

Serves the subset of PayPal's REST API that Kennel calls — OAuth client credentials, Orders v2
(create, get, capture), Payments v2 (get capture, refund, get refund), verify-webhook-signature
and the signing certificate — with PayPal's behaviour: ``PayPal-Request-Id`` replay,
``Prefer`` minimal/representation bodies, PayPal-shaped errors, capture refused before
approval.  Tables and events live in :class:`~sandbox.paypal.state.PayPalState`, capturing
and refunding in :mod:`sandbox.paypal.payments`, the envelope of each call (OAuth, request
ids) in :mod:`sandbox.paypal.transport`.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from sandbox.core import JSON, Request, Response, Router, html_response, redirect
from sandbox.paypal import objects, payments
from sandbox.paypal.errors import PayPalError, detail
from sandbox.paypal.pages import approve_page, approved_page, unavailable_page
from sandbox.paypal.params import parse_order_create
from sandbox.paypal.signing import (
    AUTH_ALGO,
    STALE_SECONDS,
    WebhookSigner,
    raw_member,
    signed_message,
)
from sandbox.paypal.state import OUTCOMES, OrderNotApprovable, PayPalState
from sandbox.paypal.transport import ApiCall, Ctx, Transport, encode, json_response
from sandbox.webhooks import Endpoint, Settle

if TYPE_CHECKING:
    from sandbox.app import Sandbox

__all__ = ["OUTCOMES", "OrderNotApprovable", "PayPalSandbox"]

_VERIFY_FIELDS = (
    "auth_algo", "cert_url", "transmission_id", "transmission_sig", "transmission_time",
    "webhook_id",
)  # fmt: skip


class PayPalSandbox:
    """PayPal for Kennel: API routes, approve page, events, signed webhooks.

    ``events`` lists every event created; ``approve`` presses an approve-page button without
    HTTP; ``signed_delivery`` builds a webhook body + headers exactly as delivered;
    ``delay_next_capture_response`` makes the next capture take effect but answer too late;
    ``api_calls`` lists the API requests answered so far.
    """

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.state = PayPalState(host)
        self.signer = WebhookSigner()
        self.transport = Transport(host)
        self._switch_lock = threading.Lock()
        self._capture_delay = 0.0
        self._register(host.router)

    # ------------------------------------------------------------------ public helpers

    @property
    def events(self) -> list[JSON]:
        """Every event created so far, oldest first (copies)."""
        with self.state.lock:
            return copy.deepcopy(self.state.events)

    @property
    def api_calls(self) -> list[ApiCall]:
        return self.transport.calls

    @property
    def cert_url(self) -> str:
        return f"{self._host.public_base(None)}/v1/notifications/certs/{self.signer.cert_id}"

    def signed_delivery(
        self, event: JSON, *, stale: bool = False, webhook_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers exactly as the dispatcher would POST ``event``."""
        body = encode(event)
        return body, self._signed_headers(body, stale, webhook_id=webhook_id)

    def approve(self, order_id: str, outcome: str) -> str | None:
        """Press an approve-page button without HTTP; returns where the buyer is sent.

        Raises LookupError for an unknown order, ValueError for an unknown outcome and
        :class:`OrderNotApprovable` when the order is past approval.
        """
        location, events = self.state.approve(order_id, outcome, self._host.public_base(None))
        self._send(events)
        return location

    def reverse_approval(self, order_id: str) -> None:
        """PayPal reverses the buyer's approval of an uncaptured order (it becomes VOIDED)."""
        self._send(self.state.reverse_approval(order_id, self._host.public_base(None)))

    def delay_next_capture_response(self, seconds: float) -> None:
        """The next capture is made and recorded, but its response is only sent ``seconds``
        later — past the client's timeout, so the client never sees it."""
        with self._switch_lock:
            self._capture_delay = seconds

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> JSON:
        return {
            **self.state.snapshot(),
            **self.transport.snapshot(),
            "signer": self.signer.snapshot(),
        }

    def restore(self, saved: JSON) -> None:
        """Take back a saved state; captures that were pending settle a moment later."""
        self.state.restore(saved)
        self.transport.restore(saved)
        self.signer = WebhookSigner.restore(saved["signer"])
        if self.signer.cert_id != saved["signer"]["cert_id"]:
            self._host.state_changed()  # renewed: the new key must reach the file at once
        for settle in payments.unsettled(self.state, lambda: self._host.public_base(None)):
            self._send([], settle)

    # ------------------------------------------------------------------ plumbing

    def _register(self, router: Router) -> None:
        api = self.transport.wrap
        router.add("POST", "/v1/oauth2/token", self.transport.token)
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
            router.fallback(prefix, _unknown_route)
        router.add("GET", "/checkoutnow", self._page_get)
        router.add("POST", "/checkoutnow", self._page_post)

    # ------------------------------------------------------------------ API handlers

    def _create_order(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        order = self.state.create_order(parse_order_create(body), ctx.base)
        return 201, order if ctx.representation else objects.minimal_order(order)

    def _get_order(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_order(req.route["id"])

    def _capture(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        order, events, settle = payments.capture(self.state, req.route["id"], ctx.base)
        ctx.after.append(lambda: self._send(events, settle))
        with self._switch_lock:
            ctx.stall, self._capture_delay = self._capture_delay, 0.0
        return 201, order if ctx.representation else objects.minimal_order(order)

    def _get_capture(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        return 200, self.state.get_capture(req.route["id"])

    def _refund(self, req: Request, body: JSON, ctx: Ctx) -> tuple[int, JSON]:
        refund, events = payments.refund(self.state, req.route["id"], body, ctx.base)
        ctx.after.append(lambda: self._send(events))
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
            return _unknown_route(req)
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
        response.after.append(lambda: self._send(events))
        return response

    # ------------------------------------------------------------------ webhooks

    def _send(self, events: list[JSON], settle: Settle | None = None) -> None:
        endpoint = Endpoint(
            provider="paypal",
            url=self._host.config.paypal_webhook_url,
            type_key="event_type",
            encode=encode,
            sign=self._signed_headers,
        )
        self._host.dispatcher.send(endpoint, events, settle)

    def _signed_headers(
        self, body: bytes, stale: bool, *, webhook_id: str | None = None
    ) -> dict[str, str]:
        return self.signer.headers(
            body,
            webhook_id=webhook_id or self._host.config.paypal_webhook_id,
            cert_url=self.cert_url,
            at=time.time() - (STALE_SECONDS if stale else 0),
        )


def _unknown_route(req: Request) -> Response:
    error = PayPalError(404, [detail("INVALID_RESOURCE_ID", f"No such resource: {req.path}")])
    return json_response(404, error.body())
