"""The sandbox as one WSGI application: configuration, providers, server and webhooks.

Providers plug in by registering routes on :attr:`Sandbox.router` and sending webhooks
through :attr:`Sandbox.dispatcher`: the Stripe half (``self.stripe``) and the PayPal half
(``self.paypal``) are constructed side by side in :meth:`Sandbox.__init__`.  With a
``state_path`` their state is loaded from that file at start and saved back after changes
(:mod:`sandbox.persistence`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.core import JSON, MAX_BODY_BYTES, Request, Response, Router, text_response
from sandbox.html import security_headers
from sandbox.idempotency import IdempotencyStore
from sandbox.paypal.api import PayPalSandbox
from sandbox.persistence import Saver, StateFile, StateFileError
from sandbox.server import ServerHandle, make_server, serve_forever, serve_in_thread
from sandbox.stripe.api import StripeSandbox
from sandbox.webhooks import DeliveryRecord, Switches, WebhookDispatcher

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

log = logging.getLogger("sandbox")

DEFAULT_STRIPE_WEBHOOK_SECRET = "whsec_kennel_sandbox_not_secret"
# The same well-known placeholders as Kennel's settings use in sandbox mode.
DEFAULT_PAYPAL_CLIENT_ID = "kennel-sandbox-client"
DEFAULT_PAYPAL_CLIENT_SECRET = "kennel-sandbox-secret"
DEFAULT_PAYPAL_WEBHOOK_ID = "WH-KENNEL-SANDBOX"
#: Where both providers' APIs live; ``switches.api_delay`` slows these, never the hosted pages.
API_PREFIXES = ("/v1/", "/v2/")
#: How often a request held back by ``switches.api_delay`` looks at the switch again.
_STALL_POLL_SECONDS = 0.05


@dataclass
class SandboxConfig:
    """Settings of one sandbox instance.

    ``public_url`` is the base URL browsers and the app use to reach the sandbox (it goes into
    ``session.url``); when None, the URL of the server started by ``serve_in_thread`` is used,
    or else the Host of each request.  A webhook URL of None means that provider's events are
    recorded but not delivered.  The PayPal API accepts only the configured client id and
    secret; its webhooks are signed for ``paypal_webhook_id``.  ``state_path`` names the file
    the sandbox keeps its state in across restarts; None keeps it in memory only.
    """

    public_url: str | None = None
    stripe_webhook_url: str | None = None
    stripe_webhook_secret: str = DEFAULT_STRIPE_WEBHOOK_SECRET
    paypal_webhook_url: str | None = None
    paypal_webhook_id: str = DEFAULT_PAYPAL_WEBHOOK_ID
    paypal_client_id: str = DEFAULT_PAYPAL_CLIENT_ID
    paypal_client_secret: str = DEFAULT_PAYPAL_CLIENT_SECRET
    #: Webhook retry backoff: ``retry_base_delay * 2**(attempt-1)`` (+ up to 25 % jitter),
    #: capped at ``retry_max_delay``, for at most ``max_attempts`` attempts per delivery.
    retry_base_delay: float = 1.0
    retry_max_delay: float = 300.0
    max_attempts: int = 8
    #: Seconds to wait for a webhook receiver to answer one attempt.
    delivery_timeout: float = 10.0
    #: How long a delayed-notification (async) payment stays ``processing`` (Stripe), or a
    #: capture ``PENDING`` (PayPal), before it settles.
    async_settle_delay: float = 1.0
    #: ``api_version`` stamped on events (the SDK release the app pins: stripe-python 16).
    stripe_api_version: str = "2026-10-28.endive"
    #: Source of "now" (unix seconds) for created/expires_at; tests may move it forward.
    clock: Callable[[], float] = field(default=time.time)
    #: The file holding every object, event, stored idempotent answer, OAuth token and the
    #: PayPal signing key; None: in memory only, forgotten when the sandbox stops.
    state_path: str | None = None


class _ResponseBody:
    """WSGI body iterable whose ``close()`` runs the response's after-send callbacks."""

    def __init__(self, response: Response, dispatcher: WebhookDispatcher) -> None:
        self._response = response
        self._dispatcher = dispatcher
        self._expecting = bool(response.after)
        if self._expecting:
            dispatcher.expect_submission()

    def __iter__(self) -> Iterator[bytes]:
        if self._response.delay > 0:
            time.sleep(self._response.delay)
        yield self._response.body

    def close(self) -> None:
        callbacks = self._response.after
        try:
            while callbacks:
                callback = callbacks.pop(0)
                try:
                    callback()
                except Exception:  # the response is already sent; report, do not raise
                    log.exception("sandbox: after-response action failed")
        finally:
            if self._expecting:
                self._expecting = False
                self._dispatcher.submission_done()


class Sandbox:
    """The offline payment sandbox: a WSGI app simulating the providers' HTTP APIs.

    ``sb(environ, start_response)`` serves it; :meth:`serve_in_thread` and
    :meth:`serve_forever` run it on a threaded HTTP server.  ``sb.stripe`` is the Stripe half,
    ``sb.paypal`` the PayPal half, ``sb.switches`` the webhook misbehaviour switches (for
    both), ``sb.deliveries`` every delivery attempt so far.  Call :meth:`close` to stop the
    background delivery thread (and, with a state file, to save the last changes).

    Raises :class:`~sandbox.persistence.StateFileError` when ``config.state_path`` exists
    but does not hold sandbox state.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self.public_url: str | None = self.config.public_url
        self._servers: list[ServerHandle] = []
        self._saver: Saver | None = None
        self._closed = threading.Event()  # wakes API requests held back by ``api_delay``
        self.switches = Switches()
        self.router = Router()
        self.idempotency = IdempotencyStore(on_change=self.state_changed)
        self.dispatcher = WebhookDispatcher(
            self.switches,
            retry_base_delay=self.config.retry_base_delay,
            retry_max_delay=self.config.retry_max_delay,
            max_attempts=self.config.max_attempts,
            timeout=self.config.delivery_timeout,
            settle_delay=self.config.async_settle_delay,
        )
        self.stripe = StripeSandbox(self)
        self.paypal = PayPalSandbox(self)
        self.router.add("GET", "/", self._index)
        if self.config.state_path:
            self._open_state(StateFile(self.config.state_path))
        self.dispatcher.start()

    # ------------------------------------------------------------------ WSGI

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _request_from_environ(environ)
        if request is None:
            response = text_response(413, "Request body too large.\n")
        else:
            response = self.handle(request)
        content_type = next((v for n, v in response.headers if n.lower() == "content-type"), "")
        response = response.with_headers(security_headers(content_type, response.body))
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status_line, headers)
        return _ResponseBody(response, self.dispatcher)

    def handle(self, request: Request) -> Response:
        """Route one request (usable without WSGI, e.g. from tests)."""
        self._stall_api(request)
        resolved = self.router.resolve(request.method, request.path)
        if resolved is None:
            return text_response(404, f"Not found: {request.path}\n")
        handler, params = resolved
        request.route = params
        try:
            return handler(request)
        except Exception:
            log.exception("sandbox: %s %s failed", request.method, request.path)
            return text_response(500, "The payment sandbox failed; see its log.\n")
        finally:
            # What the request changed is on disk before the client hears about it.
            self.save()

    def _stall_api(self, request: Request) -> None:
        """Hold an API request back while ``switches.api_delay`` says the provider is slow.

        The switch is read again while waiting, so lowering it (or :meth:`close`) releases
        the requests already waiting; the request is then handled as usual.
        """
        if not request.path.startswith(API_PREFIXES):
            return
        started = time.monotonic()
        while not self._closed.is_set():
            left = self.switches.api_delay - (time.monotonic() - started)
            if left <= 0:
                return
            self._closed.wait(min(left, _STALL_POLL_SECONDS))

    def public_base(self, request: Request | None) -> str:
        """Base URL for links handed to browsers (no trailing slash)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        return request.base_url if request is not None else ""

    def _index(self, request: Request) -> Response:
        return text_response(
            200,
            "Kennel payment sandbox (not Stripe, not PayPal).\n"
            "Stripe API under /v1/, hosted checkout under /c/pay/<session id>.\n"
            "PayPal API under /v1/oauth2/, /v2/checkout/, /v2/payments/, /v1/notifications/;\n"
            "approve page under /checkoutnow?token=<order id>.\n",
        )

    # ------------------------------------------------------------------ serving

    def serve_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> ServerHandle:
        """Serve on a daemon thread; returns a handle with ``url``, ``port`` and ``stop()``."""
        handle = make_server(self, host, port)
        if self.public_url is None:
            self.public_url = handle.url
        self._servers.append(handle)
        return serve_in_thread(handle)

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8111) -> None:
        """Serve in the calling thread until interrupted (for the CLI)."""
        handle = make_server(self, host, port)
        if self.public_url is None:
            self.public_url = handle.url
        log.info("payment sandbox listening on %s (public URL %s)", handle.url, self.public_url)
        serve_forever(handle)

    def close(self) -> None:
        """Stop servers started by :meth:`serve_in_thread` and the delivery thread, then save
        the state (a clean stop never loses a change)."""
        self._closed.set()
        for handle in self._servers:
            handle.stop()
        self._servers.clear()
        self.dispatcher.close()
        self.save()

    # ------------------------------------------------------------------ saved state

    def state_changed(self) -> None:
        """Providers call this when their state changed (under their lock is fine)."""
        if self._saver is not None:
            self._saver.changed()

    def save(self) -> None:
        """Write the state file now if anything changed since it was last written."""
        if self._saver is not None:
            self._saver.flush()

    def _open_state(self, file: StateFile) -> None:
        self._saver = Saver(file, self._snapshot)
        saved = file.load()
        if saved is None:
            self._saver.changed()  # a new file: the new PayPal signing key goes into it
        else:
            try:
                self.idempotency.restore(saved["idempotency"])
                self.stripe.restore(saved["stripe"])
                self.paypal.restore(saved["paypal"])
            except (KeyError, TypeError, ValueError) as exc:
                raise StateFileError(f"{file.path} is incomplete ({exc!r}); move it away") from exc
            log.info("sandbox state loaded from %s", file.path)
        # Before serving, and failing loudly: the signing key is on disk before it signs
        # anything.  A file loaded unchanged is not rewritten.
        self._saver.flush(strict=True)
        # Background changes (expiries, settling payments) are saved within a tick.
        self.dispatcher.add_ticker(self._saver.flush)

    def _snapshot(self) -> JSON:
        return {
            "stripe": self.stripe.snapshot(),
            "paypal": self.paypal.snapshot(),
            "idempotency": self.idempotency.snapshot(),
        }

    # ------------------------------------------------------------------ webhooks

    def release_webhooks(self) -> int:
        """Send the deliveries held back by ``switches.hold_webhooks``; returns how many."""
        return self.dispatcher.release()

    def wait_for_deliveries(self, timeout: float = 10.0) -> bool:
        """True once no delivery is queued, in flight or awaiting a retry (held ones aside)."""
        return self.dispatcher.wait_idle(timeout)

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt so far, oldest first."""
        return self.dispatcher.records


def _request_from_environ(environ: WSGIEnvironment) -> Request | None:
    """The request, or None when its body is larger than the sandbox accepts."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        return None
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = headers.get("host") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
    return Request(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
        path=str(environ.get("PATH_INFO") or "/"),
        query_string=str(environ.get("QUERY_STRING", "")),
        headers=headers,
        body=body,
        base_url=f"{scheme}://{host}",
    )
