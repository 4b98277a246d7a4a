"""The envelope of every PayPal API call: OAuth tokens, bearer auth, ``PayPal-Request-Id``
replay, ``Prefer`` and PayPal-shaped JSON and error answers.

:class:`Transport` issues access tokens (``POST /v1/oauth2/token``), keeps them (they are part
of the saved state, so the app's cached token still works after a restart) and turns an API
handler into a route handler with :meth:`Transport.wrap`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from sandbox.core import JSON, Handler, Request, Response
from sandbox.idempotency import Fingerprint, IdempotencyMismatch
from sandbox.paypal import objects
from sandbox.paypal.errors import PayPalError, detail, unprocessable
from sandbox.paypal.params import json_body

if TYPE_CHECKING:
    from sandbox.app import Sandbox

log = logging.getLogger("sandbox")

TOKEN_SECONDS = 32400  # PayPal's access tokens live nine hours
MAX_REQUEST_ID = 108  # PayPal-Request-Id is at most 108 characters


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


class Transport:
    """OAuth client credentials and the answering of each PayPal API call."""

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> client id, expiry
        self._calls: list[ApiCall] = []

    @property
    def calls(self) -> list[ApiCall]:
        with self._lock:
            return list(self._calls)

    def token(self, req: Request) -> Response:
        """``POST /v1/oauth2/token``: client credentials with HTTP Basic auth."""
        config = self._host.config
        client_id, secret = _basic_credentials(req.header("authorization") or "")
        if (client_id, secret) != (config.paypal_client_id, config.paypal_client_secret):
            return json_response(
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
            )
        form = dict(parse_qsl(req.body.decode("utf-8", errors="replace")))
        grant = form.get("grant_type")
        if grant != "client_credentials":
            description = "Grant Type is NULL" if not grant else "unsupported grant_type"
            return json_response(
                400, {"error": "unsupported_grant_type", "error_description": description}
            )
        token = "A21AA" + objects.paypal_id(60)
        now = self._host.config.clock()
        with self._lock:
            self._tokens[token] = (client_id, now + TOKEN_SECONDS)
        self._host.state_changed()
        return json_response(
            200,
            {
                "scope": "https://uri.paypal.com/services/payments/payment "
                "https://uri.paypal.com/services/payments/refund "
                "https://uri.paypal.com/services/applications/webhooks",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-KENNELSANDBOX",
                "expires_in": TOKEN_SECONDS,
                "nonce": f"{objects.timestamp(now)}{objects.paypal_id(20)}",
            },
        )

    def wrap(self, handler: ApiHandler, *, idempotent: bool = False) -> Handler:
        """Wrap an API handler with bearer auth, JSON errors and PayPal-Request-Id replay."""

        def wrapped(req: Request) -> Response:
            response, replayed = self._answer(req, handler, idempotent)
            call = ApiCall(
                req.method, req.path, req.header("paypal-request-id"), response.status, replayed
            )
            with self._lock:
                self._calls.append(call)
            return response

        return wrapped

    def _answer(self, req: Request, handler: ApiHandler, idempotent: bool) -> tuple[Response, bool]:
        headers = [("Paypal-Debug-Id", objects.debug_id())]
        try:
            client_id = self._bearer(req)
        except PayPalError as exc:
            return json_response(exc.status, exc.body(), headers), False
        except _OAuthError as exc:
            return json_response(401, exc.body, headers), False
        prefer = (req.header("prefer") or "").replace(" ", "").lower()
        ctx = Ctx(self._host.public_base(req), "return=representation" in prefer)

        def compute() -> Response:
            try:
                body = json_body(req.body) if req.method == "POST" else {}
                status, data = handler(req, body, ctx)
                response = json_response(status, data)
                response.after.extend(ctx.after)
                return response
            except PayPalError as exc:
                return json_response(exc.status, exc.body())
            except Exception:
                log.exception("sandbox: PayPal handler failed for %s %s", req.method, req.path)
                return json_response(500, PayPalError(500).body())

        request_id = req.header("paypal-request-id") if idempotent else None
        if not request_id:
            return compute().with_headers(headers), False
        if len(request_id) > MAX_REQUEST_ID:
            message = f"PayPal-Request-Id can be at most {MAX_REQUEST_ID} characters."
            error = PayPalError(400, [detail("INVALID_PARAMETER_VALUE", message)])
            return json_response(400, error.body(), headers), False
        try:
            response, replayed = self._host.idempotency.run(
                ("paypal", client_id, request_id),
                Fingerprint.of(req.method, req.path, _fingerprint(req.body)),
                compute,
                should_store=lambda r: not 400 <= r.status < 500,
            )
        except IdempotencyMismatch:
            error = unprocessable(
                "DUPLICATE_REQUEST_ID",
                "The value of PayPal-Request-Id header has already been used.",
            )
            return json_response(422, error.body(), headers), False
        if replayed:
            # PayPal answers a repeated request with 200 and the first result; the
            # webhooks and any delay belonged to the first response only.
            status = 200 if response.status == 201 else response.status
            response = Response(status, response.body, list(response.headers))
        elif ctx.stall > 0:
            response = replace(response, delay=ctx.stall)
        headers.append(("PayPal-Request-Id", request_id))
        return response.with_headers(headers), replayed

    def _bearer(self, req: Request) -> str:
        auth = req.header("authorization") or ""
        if not auth.lower().startswith("bearer "):
            raise PayPalError(401)
        token = auth[7:].strip()
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None:
            raise _OAuthError("invalid_token", "Token signature verification failed")
        client_id, expires = entry
        if self._host.config.clock() >= expires:
            raise _OAuthError("invalid_token", "Access Token not found in cache")
        return client_id

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> JSON:
        now = self._host.config.clock()
        with self._lock:
            live = {token: list(entry) for token, entry in self._tokens.items() if entry[1] > now}
        return {"tokens": live}

    def restore(self, saved: JSON) -> None:
        tokens = {token: (str(cid), float(exp)) for token, (cid, exp) in saved["tokens"].items()}
        with self._lock:
            self._tokens = tokens


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


def encode(data: Any) -> bytes:
    """PayPal's JSON: compact, as its API and webhooks send it."""
    return json.dumps(data, separators=(",", ":")).encode("utf-8")


def json_response(status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, encode(data), [("Content-Type", "application/json"), *(headers or [])])
