"""The Stripe sandbox's tables and events, behind one re-entrant lock.

All objects are dicts shaped like Stripe's (built by :mod:`sandbox.stripe.objects`).  Every
change that Stripe would announce creates an event here, under the lock, holding a snapshot of
the object at that moment; the caller hands the events to the webhook dispatcher after
releasing the lock.  What the hosted-page buttons and refunds do is in
:mod:`sandbox.stripe.payments`; how objects are read back (``expand[]``, list pages) in
:mod:`sandbox.stripe.views`.  :meth:`StripeState.snapshot` and :meth:`StripeState.restore`
carry all of it across a restart.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sandbox.core import JSON
from sandbox.stripe import objects
from sandbox.stripe.session_params import LineSpec, SessionSpec

if TYPE_CHECKING:
    from sandbox.app import Sandbox


@dataclass(frozen=True)
class Ctx:
    """The API request behind a change; both None for hosted-page and automatic actions.

    ``after`` collects what to do once the response has been sent (webhook dispatch).
    """

    request_id: str | None
    idempotency_key: str | None
    after: list[Callable[[], None]] = field(default_factory=list)


AUTOMATIC = Ctx(None, None)


class StripeState:
    """The Stripe sandbox's objects and events.

    Callers hold :attr:`lock` while they read or change the tables.
    """

    def __init__(self, host: Sandbox) -> None:
        self._host = host
        self.lock = threading.RLock()
        self.sessions: dict[str, JSON] = {}
        self.line_items: dict[str, list[JSON]] = {}
        self.specs: dict[str, SessionSpec] = {}  # kept for the lazily made PaymentIntent
        self.intents: dict[str, JSON] = {}
        self.charges: dict[str, JSON] = {}
        self.refunds: dict[str, JSON] = {}
        self.events: list[JSON] = []
        self.events_by_id: dict[str, JSON] = {}
        #: Async payments that settle a moment after they started: session id -> succeeds.
        self.settling: dict[str, bool] = {}
        self._next_expiry = float("inf")

    def now(self) -> int:
        return int(self._host.config.clock())

    def lookup(self, object_id: str) -> JSON | None:
        for prefix, table in (
            ("cs_", self.sessions),
            ("pi_", self.intents),
            ("ch_", self.charges),
            ("re_", self.refunds),
        ):
            if object_id.startswith(prefix):
                return table.get(object_id)
        return None

    # ------------------------------------------------------------------ changes

    def add_session(self, session: JSON, items: list[JSON], spec: SessionSpec) -> None:
        with self.lock:
            self.sessions[session["id"]] = session
            self.line_items[session["id"]] = items
            self.specs[session["id"]] = spec
            self._next_expiry = min(self._next_expiry, spec.expires_at)
            self._host.state_changed()

    def expire_overdue(self) -> list[JSON]:
        """Expire open sessions whose ``expires_at`` has passed, as Stripe does on its own."""
        now = self.now()
        if now < self._next_expiry:
            return []
        events: list[JSON] = []
        with self.lock:
            self._next_expiry = float("inf")
            for session in self.sessions.values():
                if session["status"] != "open":
                    continue
                if session["expires_at"] <= now:
                    events += self.expire_locked(session, AUTOMATIC)
                else:
                    self._next_expiry = min(self._next_expiry, session["expires_at"])
        return events

    def expire_locked(self, session: JSON, ctx: Ctx) -> list[JSON]:
        """Expire an open session (caller holds the lock); cancels an unpaid PaymentIntent."""
        session["status"] = "expired"
        session["url"] = None
        events: list[JSON] = []
        intent = self.intents.get(session["payment_intent"] or "")
        if intent is not None and intent["status"] == "requires_payment_method":
            intent["status"] = "canceled"
            intent["canceled_at"] = self.now()
            intent["cancellation_reason"] = "abandoned"
            events.append(self.emit("payment_intent.canceled", intent, ctx))
        events.append(self.emit("checkout.session.expired", session, ctx))
        return events

    def emit(
        self, event_type: str, obj: JSON, ctx: Ctx = AUTOMATIC, previous: JSON | None = None
    ) -> JSON:
        """Record an event holding a snapshot of ``obj`` (caller holds the lock).

        Every change Stripe announces goes through here, so this is also where the host
        learns that the state changed.
        """
        evt = objects.event(
            created=self.now(),
            event_type=event_type,
            obj=copy.deepcopy(obj),
            api_version=self._host.config.stripe_api_version,
            pending_webhooks=1 if self._host.config.stripe_webhook_url else 0,
            request_id=ctx.request_id,
            idempotency_key=ctx.idempotency_key,
            previous_attributes=copy.deepcopy(previous),
        )
        self.events.append(evt)
        self.events_by_id[evt["id"]] = evt
        self._host.state_changed()
        return evt

    # ------------------------------------------------------------------ saved state

    def snapshot(self) -> JSON:
        """Every table as plain data (a deep copy, taken under the lock)."""
        with self.lock:
            return copy.deepcopy(
                {
                    "sessions": self.sessions,
                    "line_items": self.line_items,
                    "specs": {key: dataclasses.asdict(spec) for key, spec in self.specs.items()},
                    "intents": self.intents,
                    "charges": self.charges,
                    "refunds": self.refunds,
                    "events": self.events,
                    "settling": self.settling,
                }
            )

    def restore(self, saved: JSON) -> None:
        """Take back the tables of :meth:`snapshot` (the sandbox is not serving yet)."""
        with self.lock:
            for name in ("sessions", "line_items", "intents", "charges", "refunds", "settling"):
                table = getattr(self, name)
                table.clear()
                table.update(saved[name])
            self.specs.clear()
            for key, spec in saved["specs"].items():
                lines = [LineSpec(**line) for line in spec.pop("lines")]
                self.specs[key] = SessionSpec(lines=lines, **spec)
            self.events[:] = saved["events"]
            self.events_by_id.clear()
            self.events_by_id.update((evt["id"], evt) for evt in self.events)
            # A charge lists its refunds: the same dicts as the refunds table, as before.
            for charge in self.charges.values():
                listed = charge["refunds"]["data"]
                listed[:] = [self.refunds.get(refund["id"], refund) for refund in listed]
            open_expiries = [
                s["expires_at"] for s in self.sessions.values() if s["status"] == "open"
            ]
            self._next_expiry = min(open_expiries, default=float("inf"))
