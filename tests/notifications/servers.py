"""Real servers for the side effects to talk to: SMTP (aiosmtpd) and HTTP stand-ins for the GA4
and Meta endpoints (stdlib http.server), each in a thread on a free local port."""

import asyncio
import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class SmtpSink:
    """An SMTP server that keeps every message whose DATA it received.

    Two ways to be slow, each on the n-th message (0-based), until `release` is set:
    `stall_on_rcpt` before answering its RCPT (a client killed then has sent no message), and
    `stall_after_data` after taking its DATA but before the final 250 (a client killed then
    does not know the message arrived: SMTP's own duplicate window). `delay` slows every DATA.
    """

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.rcpt_commands = 0
        self.data_commands = 0
        self.stall_on_rcpt: int | None = None
        self.stall_after_data: int | None = None
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.delay = 0.0
        self._lock = threading.Lock()
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    def start(self) -> "SmtpSink":
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._controller.stop()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        with self._lock:
            index = self.rcpt_commands
            self.rcpt_commands += 1
        if index == self.stall_on_rcpt:
            await self._stall()
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            index = self.data_commands
            self.data_commands += 1
            self.messages.append(
                Received(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    data=bytes(envelope.original_content or envelope.content),
                )
            )
        if self.delay:
            await asyncio.sleep(self.delay)
        if index == self.stall_after_data:
            await self._stall()
        return "250 2.0.0 OK"

    async def _stall(self) -> None:
        self.stalled.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)


@dataclass
class Hit:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int


@dataclass
class Endpoint:
    """A local stand-in for an analytics endpoint. `answer(path, body)` picks (status, json)."""

    hits: list[Hit] = field(default_factory=list)
    answer: Callable[[str, Any], tuple[int, Any]] = lambda path, body: (200, {})
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer (Location)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def accepted(self, path_suffix: str = "") -> list[Hit]:
        return [h for h in self.hits if 200 <= h.status < 300 and h.path.endswith(path_suffix)]

    def start(self) -> "Endpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = raw.decode(errors="replace")
                parts = urlsplit(self.path)
                status, answer = endpoint.answer(parts.path, body)
                endpoint.hits.append(
                    Hit(
                        path=parts.path,
                        query={k: v[0] for k, v in parse_qs(parts.query).items()},
                        headers={k.lower(): v for k, v in self.headers.items()},
                        body=body,
                        status=status,
                    )
                )
                if endpoint.delay:
                    time.sleep(endpoint.delay)
                payload = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in endpoint.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
