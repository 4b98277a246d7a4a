"""The envelope of every Stripe API call: secret key, request ids, ``Idempotency-Key`` replay,
and Stripe-shaped error answers.

:func:`api_route` turns an API handler (parameters in, object out) into a route handler.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from sandbox.core import JSON, FormError, Handler, Request, Response, json_response, random_id
from sandbox.idempotency import Fingerprint, IdempotencyMismatch
from sandbox.stripe.errors import StripeError, invalid
from sandbox.stripe.state import Ctx

if TYPE_CHECKING:
    from sandbox.app import Sandbox

log = logging.getLogger("sandbox")

ApiHandler = Callable[[Request, JSON, Ctx], JSON]

_VALID_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
_NO_KEY_MESSAGE = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)


def api_route(host: Sandbox, handler: ApiHandler, before: Callable[[], None]) -> Handler:
    """Wrap an API handler with auth, parameter parsing, errors and idempotency; ``before``
    runs once the caller is authenticated (Stripe's own housekeeping, e.g. expiries)."""

    def wrapped(req: Request) -> Response:
        request_id = random_id("req_", 14)
        version = req.header("stripe-version") or host.config.stripe_api_version
        headers = [("Request-Id", request_id), ("Stripe-Version", version)]
        try:
            api_key = _api_key(req)
            params = req.params()
        except FormError as exc:
            return error_response(StripeError(400, str(exc), param=exc.key), headers)
        except StripeError as exc:  # 401
            return error_response(exc, [*headers, ("WWW-Authenticate", 'Bearer realm="Stripe"')])
        before()
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
            return error_response(invalid("idempotency_key", message), headers)
        try:
            response, replayed = host.idempotency.run(
                # The key itself is not kept (the scope goes into the state file): its hash is.
                ("stripe", _key_id(api_key), idempotency_key),
                Fingerprint.of(req.method, req.path, params),
                compute,
                # Stripe saves a result once the endpoint started executing; requests that
                # failed validation (4xx) may be retried with the same key.
                should_store=lambda r: not 400 <= r.status < 500,
            )
        except IdempotencyMismatch as exc:
            return error_response(_mismatch_error(exc), headers)
        extra = [("Idempotency-Key", idempotency_key)]
        if replayed:
            # A fresh object without the stored response's after-send actions: a replay
            # must not deliver the original webhooks again.
            response = Response(response.status, response.body, list(response.headers))
            extra.append(("Idempotent-Replayed", "true"))
        return response.with_headers(headers + extra)

    return wrapped


def unknown_route(req: Request) -> Response:
    """Stripe's JSON 404 for a URL under ``/v1/`` that it does not serve."""
    message = (
        f"Unrecognized request URL ({req.method}: {req.path}). Please see "
        "https://stripe.com/docs or we can help at https://support.stripe.com/."
    )
    return error_response(StripeError(404, message, code="resource_missing"), [])


def error_response(exc: StripeError, headers: list[tuple[str, str]]) -> Response:
    return json_response(exc.status, exc.body(), headers)


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


def _key_id(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


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
