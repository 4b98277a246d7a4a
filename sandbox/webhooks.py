"""Webhook delivery shared by the Stripe and PayPal halves of the sandbox.

A provider describes its endpoint (:class:`Endpoint`: its URL, how an event is encoded and
signed) and hands the events of each action (one button press, one refund ...) to
:meth:`WebhookDispatcher.send`, optionally with a *settle* step: what happens "a moment later"
(an async payment clearing, a pending capture completing).  A single daemon thread sends the
deliveries in order, retries failures with capped exponential backoff plus jitter, and records
every attempt.  The misbehaviour switches (duplicates, reversed order, delay, stale signatures,
holding) are applied here, so every provider gets them.  Signing happens at send time through
the endpoint's ``sign`` callback, because real providers sign each attempt with a fresh
timestamp.

The dispatcher never holds a provider's state lock: providers build events under their own
lock and send them afterwards, so a webhook receiver may call back into the sandbox API while
handling a delivery without deadlocking.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from sandbox.core import JSON

log = logging.getLogger("sandbox")

#: ``sign(body, stale) -> headers`` builds the headers of one attempt.
Signer = Callable[[bytes, bool], dict[str, str]]
#: Settles a payment "a moment later" (an async payment, a pending capture); returns the events
#: that causes.
Settle = Callable[[], list[JSON]]


@dataclass
class Switches:
    """Runtime misbehaviour switches; plain attributes, read at the moment they matter.

    - ``deliver_twice``: every event of a batch is delivered a second time after the batch.
    - ``out_of_order``: the events of one action are delivered in reverse order.
    - ``delay_seconds``: deliveries of a batch start this late.
    - ``stale_timestamp``: signatures use a timestamp 10 minutes in the past (correctly signed).
    - ``hold_webhooks``: batches are parked until :meth:`WebhookDispatcher.release` is called.
    - ``api_delay``: every API request (paths under ``/v1/`` and ``/v2/``, both providers; not
      the hosted pages) waits this many seconds before it is handled — a slow or frozen
      provider.  Read while waiting: lowering it (to 0) lets the waiting requests go on.
    """

    deliver_twice: bool = False
    out_of_order: bool = False
    delay_seconds: float = 0.0
    stale_timestamp: bool = False
    hold_webhooks: bool = False
    api_delay: float = 0.0


@dataclass
class Delivery:
    """One event to POST to one URL; ``attempt`` counts the attempts made so far."""

    provider: str
    event_id: str
    event_type: str
    url: str
    body: bytes
    sign: Signer
    attempt: int = 0


@dataclass(frozen=True)
class DeliveryRecord:
    """The outcome of one delivery attempt (``status`` None when no HTTP answer came)."""

    provider: str
    event_id: str
    event_type: str
    url: str
    attempt: int
    status: int | None
    error: str | None
    at: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Endpoint:
    """One provider's webhook endpoint: where its events go and how each becomes a delivery."""

    provider: str
    url: str | None  # None: the provider records its events but nothing is delivered
    type_key: str  # the envelope member naming the event type ("type", "event_type")
    encode: Callable[[JSON], bytes]
    sign: Signer

    def deliveries(self, events: list[JSON]) -> list[Delivery]:
        if not self.url:
            return []
        return [
            Delivery(
                provider=self.provider,
                event_id=str(event["id"]),
                event_type=str(event[self.type_key]),
                url=self.url,
                body=self.encode(event),
                sign=self.sign,
            )
            for event in events
        ]


Producer = Callable[[], list[Delivery]]


@dataclass(order=True)
class _Item:
    ready: float
    seq: int
    delivery: Delivery | None = None
    producer: Producer | None = None


class WebhookDispatcher:
    """Queue + worker thread that delivers, retries and records webhooks."""

    def __init__(
        self,
        switches: Switches,
        *,
        retry_base_delay: float,
        retry_max_delay: float,
        max_attempts: int,
        timeout: float,
        settle_delay: float = 0.0,
        tick_interval: float = 1.0,
    ) -> None:
        self._switches = switches
        self._settle_delay = settle_delay
        self._retry_base_delay = retry_base_delay
        self._retry_max_delay = retry_max_delay
        self._max_attempts = max(1, max_attempts)
        self._timeout = timeout
        self._tick_interval = tick_interval
        self._cond = threading.Condition()
        self._heap: list[_Item] = []
        self._held: list[Delivery] = []
        self._records: list[DeliveryRecord] = []
        self._tickers: list[Callable[[], None]] = []
        self._seq = itertools.count()
        self._active = 0
        self._expected = 0  # submissions announced by expect_submission() but not yet made
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def add_ticker(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` about every ``tick_interval`` seconds on the worker thread."""
        with self._cond:
            self._tickers.append(callback)

    # ------------------------------------------------------------------ submitting

    def send(self, endpoint: Endpoint, events: list[JSON], settle: Settle | None = None) -> None:
        """Deliver the events of one action as a batch, then settle the payment and deliver
        what that causes, ``settle_delay`` seconds later.

        The settle step queues behind the batch on the single worker, so the app hears that
        a payment is pending (``checkout.session.completed`` unpaid, ``PAYMENT.CAPTURE.PENDING``)
        while it still is.  With ``out_of_order`` the payment settles first and everything is
        delivered as one batch in reverse: the app hears how it ended before it heard it began.
        """
        if settle is not None and self._switches.out_of_order:
            self.schedule(self._settle_delay, lambda: endpoint.deliveries(events + settle()))
            return
        if events:
            self.submit(endpoint.deliveries(events))
        if settle is not None:
            self.schedule(self._settle_delay, lambda: endpoint.deliveries(settle()))

    def submit(self, batch: list[Delivery]) -> None:
        """Queue the deliveries of one action, applying the switches."""
        if not batch:
            return
        switches = self._switches
        ordered = list(reversed(batch)) if switches.out_of_order else list(batch)
        if switches.deliver_twice:
            ordered += [replace(d, attempt=0) for d in ordered]
        with self._cond:
            if switches.hold_webhooks:
                self._held.extend(ordered)
                return
            self._push_batch(ordered)

    def expect_submission(self) -> None:
        """Announce a submission that will happen shortly (after an HTTP response is sent).

        Until the matching :meth:`submission_done`, :meth:`wait_idle` keeps waiting, so a
        caller that already saw the response cannot observe an idle dispatcher too early.
        """
        with self._cond:
            self._expected += 1

    def submission_done(self) -> None:
        with self._cond:
            self._expected -= 1
            self._cond.notify_all()

    def schedule(self, delay: float, producer: Producer) -> None:
        """Run ``producer`` on the worker after ``delay`` s and submit what it returns.

        Used for state changes that happen "a moment later" (an async payment settling); a
        scheduled producer counts as pending for :meth:`wait_idle`.  It never runs before
        deliveries submitted earlier (even delayed ones) have had their first attempt: the
        single worker takes items by (ready time, submission order).
        """
        with self._cond:
            wait = max(0.0, delay, float(self._switches.delay_seconds))
            item = _Item(time.monotonic() + wait, next(self._seq), producer=producer)
            heapq.heappush(self._heap, item)
            self._cond.notify_all()

    def release(self) -> int:
        """Send everything parked by ``hold_webhooks``; returns how many deliveries."""
        with self._cond:
            held, self._held = self._held, []
            self._push_batch(held)
            return len(held)

    def _push_batch(self, deliveries: list[Delivery]) -> None:
        # Caller holds self._cond.  Same ready time + increasing seq keeps the batch order.
        ready = time.monotonic() + max(0.0, float(self._switches.delay_seconds))
        for delivery in deliveries:
            heapq.heappush(self._heap, _Item(ready, next(self._seq), delivery=delivery))
        self._cond.notify_all()

    # ------------------------------------------------------------------ observing

    @property
    def records(self) -> list[DeliveryRecord]:
        with self._cond:
            return list(self._records)

    @property
    def held(self) -> int:
        with self._cond:
            return len(self._held)

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued, scheduled, in flight or waiting for a retry.

        Held deliveries do not count: they only move when released.
        """
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._heap and self._active == 0 and self._expected == 0, timeout
            )

    # ------------------------------------------------------------------ worker

    def _run(self) -> None:
        next_tick = time.monotonic() + self._tick_interval
        while True:
            item: _Item | None = None
            with self._cond:
                while not self._stopping:
                    now = time.monotonic()
                    if self._heap and self._heap[0].ready <= now:
                        item = heapq.heappop(self._heap)
                        self._active += 1
                        break
                    if now >= next_tick:
                        break
                    wake = next_tick if not self._heap else min(next_tick, self._heap[0].ready)
                    self._cond.wait(wake - now)
                if self._stopping:
                    return
                tickers = list(self._tickers)
            if item is None:
                next_tick = time.monotonic() + self._tick_interval
                for ticker in tickers:
                    self._guard(ticker)
                continue
            try:
                self._process(item)
            finally:
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()

    def _guard(self, callback: Callable[[], None]) -> None:
        try:
            callback()
        except Exception:  # a bug in one tick must not kill the delivery thread
            log.exception("sandbox background task failed")

    def _process(self, item: _Item) -> None:
        if item.producer is not None:
            producer = item.producer
            self._guard(lambda: self.submit(producer()))
            return
        assert item.delivery is not None
        delivery = item.delivery
        delivery.attempt += 1
        status, error = self._post(delivery)
        record = DeliveryRecord(
            provider=delivery.provider,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            url=delivery.url,
            attempt=delivery.attempt,
            status=status,
            error=error,
            at=time.time(),
        )
        log.info(
            "webhook %s %s %s -> %s attempt %d: %s",
            delivery.provider,
            delivery.event_type,
            delivery.event_id,
            delivery.url,
            delivery.attempt,
            status if status is not None else error,
        )
        with self._cond:
            self._records.append(record)
            if not record.ok and delivery.attempt < self._max_attempts:
                ready = time.monotonic() + self._backoff(delivery.attempt)
                heapq.heappush(self._heap, _Item(ready, next(self._seq), delivery=delivery))

    def _backoff(self, attempt: int) -> float:
        base = self._retry_base_delay * float(2 ** (attempt - 1))
        # Up to +25 % jitter so that many failing deliveries do not retry in lockstep.
        return min(self._retry_max_delay, base * (1 + random.uniform(0, 0.25)))

    def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        headers = delivery.sign(delivery.body, bool(self._switches.stale_timestamp))
        parts = urlsplit(delivery.url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(
            parts.hostname or "localhost", parts.port, timeout=self._timeout
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", target, body=delivery.body, headers=headers)
            response = connection.getresponse()
            response.read(1024 * 1024)  # drain so the connection closes cleanly
            return response.status, None
        except (OSError, http.client.HTTPException) as exc:
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
