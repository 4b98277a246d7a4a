"""Idempotent-request replay shared by the providers: the first answer per key, replayed.

Stripe's ``Idempotency-Key`` and PayPal's ``PayPal-Request-Id`` both use one
:class:`IdempotencyStore`, each under its own scope.  The stored answers are part of the
sandbox's saved state, so a client that retries after the sandbox restarted still gets the
first answer rather than a second refund.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.core import JSON, Response


@dataclass(frozen=True)
class Fingerprint:
    """What a repeated idempotency key must match: the endpoint and the exact parameters."""

    method: str
    path: str
    params: str  # canonical JSON of the parsed parameters

    @classmethod
    def of(cls, method: str, path: str, params: Any) -> Fingerprint:
        return cls(method, path, json.dumps(params, sort_keys=True, separators=(",", ":")))


class IdempotencyMismatch(Exception):
    """A key was reused for another endpoint (``same_endpoint`` False) or other parameters."""

    def __init__(self, key: str, first: Fingerprint, now: Fingerprint) -> None:
        super().__init__(key)
        self.key = key
        self.first = first
        self.now = now
        self.same_endpoint = (first.method, first.path) == (now.method, now.path)


@dataclass
class _Stored:
    fingerprint: Fingerprint
    response: Response
    stored_at: float  # time.monotonic()


@dataclass
class _KeyLock:
    lock: threading.Lock = field(default_factory=threading.Lock)
    users: int = 0


class IdempotencyStore:
    """Stores the first response per (scope, key) and replays it for repeats.

    Each key has its own lock, held while the first request computes its response, so that
    concurrent requests with the same key wait and then replay: exactly one object is made.
    Requests with different keys never wait for each other.  ``on_change`` is called once an
    answer has been stored (the host saves its state then).
    """

    def __init__(
        self, ttl_seconds: float = 24 * 3600, on_change: Callable[[], None] | None = None
    ) -> None:
        self._ttl = ttl_seconds
        self._on_change = on_change
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], _Stored] = {}
        self._key_locks: dict[tuple[str, ...], _KeyLock] = {}

    def run(
        self,
        scope: tuple[str, ...],
        fingerprint: Fingerprint,
        compute: Callable[[], Response],
        should_store: Callable[[Response], bool],
    ) -> tuple[Response, bool]:
        """Return ``(response, replayed)``; raise :class:`IdempotencyMismatch` on reuse."""
        with self._lock:
            key_lock = self._key_locks.setdefault(scope, _KeyLock())
            key_lock.users += 1
        try:
            with key_lock.lock:
                stored = self._lookup(scope)
                if stored is not None:
                    if stored.fingerprint != fingerprint:
                        raise IdempotencyMismatch(scope[-1], stored.fingerprint, fingerprint)
                    return stored.response, True
                response = compute()
                if should_store(response):
                    with self._lock:
                        self._entries[scope] = _Stored(fingerprint, response, time.monotonic())
                    if self._on_change is not None:
                        self._on_change()
                return response, False
        finally:
            with self._lock:
                key_lock.users -= 1
                if key_lock.users == 0:
                    del self._key_locks[scope]

    def _lookup(self, scope: tuple[str, ...]) -> _Stored | None:
        with self._lock:
            stored = self._entries.get(scope)
            if stored is not None and time.monotonic() - stored.stored_at > self._ttl:
                del self._entries[scope]
                return None
            return stored

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> list[JSON]:
        """The live answers as plain data.  Ages are kept in wall-clock time, because the
        monotonic clock starts again with the next process."""
        mono, wall = time.monotonic(), time.time()
        with self._lock:
            items = list(self._entries.items())
        return [
            {
                "scope": list(scope),
                "method": stored.fingerprint.method,
                "path": stored.fingerprint.path,
                "params": stored.fingerprint.params,
                "status": stored.response.status,
                # Bodies are the sandbox's own JSON; surrogateescape round-trips anything else.
                "body": stored.response.body.decode("utf-8", "surrogateescape"),
                "headers": [[name, value] for name, value in stored.response.headers],
                "stored_at": wall - (mono - stored.stored_at),
            }
            for scope, stored in items
            if mono - stored.stored_at <= self._ttl
        ]

    def restore(self, saved: list[JSON]) -> None:
        """Take back the answers of :meth:`snapshot` (without their after-send actions)."""
        mono, wall = time.monotonic(), time.time()
        entries = {
            tuple(item["scope"]): _Stored(
                Fingerprint(item["method"], item["path"], item["params"]),
                Response(
                    int(item["status"]),
                    str(item["body"]).encode("utf-8", "surrogateescape"),
                    [(str(name), str(value)) for name, value in item["headers"]],
                ),
                mono - (wall - float(item["stored_at"])),
            )
            for item in saved
        }
        with self._lock:
            self._entries = entries
