"""A small threaded WSGI server (stdlib ``wsgiref`` + ``ThreadingMixIn``) for the sandbox.

One thread per connection, so a webhook receiver may call back into the sandbox while the
sandbox is busy with another request.  Requests are logged as one line each through the
``sandbox`` logger (headers, and therefore API keys, are never logged).
"""

from __future__ import annotations

import logging
import socketserver
import threading
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.types import WSGIApplication

log = logging.getLogger("sandbox")


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    # Let a burst of concurrent clients (tests use 20 threads) queue instead of being refused.
    request_queue_size = 64

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can hang for seconds on machines
        # without working reverse DNS; the sandbox only needs the numeric address.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)
        self.setup_environ()


class _RequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.info("%s %s -> %s", self.command, self.path, code)

    def log_message(self, format: str, *args: Any) -> None:
        log.warning("%s %s", self.address_string(), format % args)


@dataclass
class ServerHandle:
    """A running sandbox server: ``url`` (e.g. ``http://127.0.0.1:54321``), ``port``, ``stop()``."""

    host: str
    port: int
    url: str
    _server: _ThreadingWSGIServer = field(repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting requests and close the socket (idempotent)."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout)
            self._thread = None
        self._server.server_close()


def make_server(app: WSGIApplication, host: str, port: int) -> ServerHandle:
    """Bind (port 0 picks a free port) without serving yet."""
    server = _ThreadingWSGIServer((host, port), _RequestHandler)
    server.set_app(app)
    bound_host, bound_port = server.server_address[:2]
    url_host = "127.0.0.1" if host in ("", "0.0.0.0") else str(bound_host)  # noqa: S104
    return ServerHandle(
        host=str(bound_host),
        port=int(bound_port),
        url=f"http://{url_host}:{bound_port}",
        _server=server,
    )


def serve_in_thread(handle: ServerHandle) -> ServerHandle:
    thread = threading.Thread(
        target=handle._server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"sandbox-http-{handle.port}",
        daemon=True,
    )
    handle._thread = thread
    thread.start()
    return handle


def serve_forever(handle: ServerHandle) -> None:
    try:
        handle._server.serve_forever(poll_interval=0.5)
    finally:
        handle._server.server_close()
