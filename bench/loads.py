"""The loads the bench drives with its own client (asyncio, keep-alive connections): holds
through the API, payments at the sandbox, deliveries at a steady rate, the flash sale."""

import asyncio
import contextlib
import json
import threading
import time
import urllib.parse
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg

from bench.common import Connection, Figure, stripe_signature

BUYER = {"name": "Jane Doe", "phone": "+33 6 12 34 56 78", "accept_terms": True}
JSON = {"Content-Type": "application/json"}


def _host_port(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", int(parts.port or 80)


@dataclass
class Holds:
    figure: Figure
    created: list[dict[str, Any]] = field(default_factory=list)  # the 201 bodies
    statuses: Counter[int] = field(default_factory=Counter)


def reserve(
    base_url: str,
    slugs: list[str],
    *,
    duration: float,
    concurrency: int = 16,
    provider: str = "stripe",
) -> Holds:
    """POST /api/reservations/ on distinct puppies for `duration` seconds (or until every
    slug is used), `concurrency` buyers at once; a 503 (the provider's calls all taken:
    PROVIDER_BUSY) is tried again after 50 ms, as a client would. Requests/s counts holds."""

    async def run() -> Holds:
        host, port = _host_port(base_url)
        pending: Iterator[tuple[int, str]] = iter(enumerate(slugs))
        latencies: list[float] = []
        result = Holds(Figure(0, 0, 0))
        started = time.monotonic()
        deadline = started + duration

        async def buyer() -> None:
            connection = Connection(host, port)
            try:
                for n, slug in pending:
                    body = {
                        **BUYER,
                        "puppy": slug,
                        "email": f"b{n}@example.com",
                        "provider": provider,
                    }
                    status = 503
                    while status == 503:  # PROVIDER_BUSY / LOCK_TIMEOUT: a client tries again
                        if time.monotonic() > deadline:
                            return
                        t = time.monotonic()
                        status, answer = await connection.request(
                            "POST", "/api/reservations/", json.dumps(body).encode(), JSON
                        )
                        latencies.append((time.monotonic() - t) * 1000)
                        result.statuses[status] += 1
                        if status == 503:
                            await asyncio.sleep(0.05)
                    if status == 201:
                        result.created.append(json.loads(answer))
            finally:
                await connection.close()

        await asyncio.gather(*(buyer() for _ in range(concurrency)))
        elapsed = time.monotonic() - started
        result.figure = Figure.of(
            latencies,
            done=len(result.created),
            seconds=elapsed,
            errors=sum(c for s, c in result.statuses.items() if s not in (201, 503)),
            statuses=dict(result.statuses),
        )
        return result

    return asyncio.run(run())


def pay_at_sandbox(
    checkout_urls: list[str], *, outcome: str = "pay", concurrency: int = 8
) -> Counter[int]:
    """Press `outcome` on each hosted Stripe Checkout page (as the buyer's browser posts it)."""

    async def run() -> Counter[int]:
        statuses: Counter[int] = Counter()
        pending = iter(checkout_urls)

        async def browser() -> None:
            connection: Connection | None = None
            try:
                for url in pending:
                    parts = urllib.parse.urlsplit(url)
                    if connection is None:
                        connection = Connection(
                            parts.hostname or "127.0.0.1", int(parts.port or 80)
                        )
                    path = parts.path + (f"?{parts.query}" if parts.query else "")
                    status, _ = await connection.request(
                        "POST",
                        path,
                        f"outcome={outcome}".encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"},
                    )
                    statuses[status] += 1
            finally:
                if connection is not None:
                    await connection.close()

        await asyncio.gather(*(browser() for _ in range(concurrency)))
        return statuses

    return asyncio.run(run())


def deliveries_with_duplicates(bodies: list[bytes], share: float = 0.2) -> list[bytes]:
    """Each body once, and a duplicate of a recent one after every few: `share` of the whole."""
    every = max(1, round((1 - share) / share))  # 0.2 -> one duplicate after every 4
    out: list[bytes] = []
    for i, body in enumerate(bodies):
        out.append(body)
        if (i + 1) % every == 0:
            out.append(bodies[max(0, i - 2)])
    return out


@dataclass
class Steady:
    figure: Figure  # the HTTP answers
    sent_at: dict[str, float]  # session id -> wall time of its first delivery
    statuses: Counter[int]


def deliver_steady(base_url: str, bodies: list[bytes], *, rate: float, secret: str) -> Steady:
    """POST each body to /webhooks/stripe/ at `rate` per second (signed when sent),
    however long each answer takes (up to 256 in flight)."""

    async def run() -> Steady:
        host, port = _host_port(base_url)
        queue: deque[tuple[float, bytes]] = deque()
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        sent_at: dict[str, float] = {}
        started = time.monotonic()
        for k, body in enumerate(bodies):
            queue.append((started + k / rate, body))

        async def sender() -> None:
            connection = Connection(host, port)
            try:
                while queue:
                    due, body = queue.popleft()
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    session = json.loads(body)["data"]["object"]["id"]
                    sent_at.setdefault(session, time.time())
                    headers = {**JSON, "Stripe-Signature": stripe_signature(body, secret)}
                    t = time.monotonic()
                    status, _ = await connection.request("POST", "/webhooks/stripe/", body, headers)
                    latencies.append((time.monotonic() - t) * 1000)
                    statuses[status] += 1
            finally:
                await connection.close()

        await asyncio.gather(*(sender() for _ in range(256)))
        elapsed = time.monotonic() - started
        errors = sum(c for s, c in statuses.items() if s != 200)
        figure = Figure.of(latencies, done=len(latencies), seconds=elapsed, errors=errors)
        return Steady(figure, sent_at, statuses)

    return asyncio.run(run())


@dataclass
class FlashSale:
    figure: Figure
    holds: int
    sold_out: int  # 409 PUPPY_NOT_AVAILABLE
    server_errors: int
    other: dict[str, int]


def flash_sale(base_url: str, slugs: list[str], *, buyers: int = 500) -> FlashSale:
    """`buyers` families press Reserve at the same instant, spread over the puppies."""

    async def run() -> FlashSale:
        host, port = _host_port(base_url)
        go = asyncio.Event()
        latencies: list[float] = []
        outcomes: Counter[str] = Counter()

        async def family(n: int) -> None:
            connection = Connection(host, port)
            body = {**BUYER, "puppy": slugs[n % len(slugs)], "email": f"flash{n}@example.com"}
            payload = json.dumps({**body, "provider": "stripe"}).encode()
            try:
                await go.wait()
                t = time.monotonic()
                status, answer = await connection.request(
                    "POST", "/api/reservations/", payload, JSON
                )
                latencies.append((time.monotonic() - t) * 1000)
            except (OSError, asyncio.IncompleteReadError) as exc:
                outcomes[f"transport:{type(exc).__name__}"] += 1
                return
            finally:
                await connection.close()
            if status == 201:
                outcomes["hold"] += 1
                return
            try:
                code = json.loads(answer)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = "?"
            if status >= 500:
                outcomes["5xx"] += 1
            outcomes[f"{status} {code}"] += 1

        tasks = [asyncio.create_task(family(n)) for n in range(buyers)]
        await asyncio.sleep(0.2)  # every family ready at the button
        started = time.monotonic()
        go.set()
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        figure = Figure.of(latencies, done=len(latencies), seconds=elapsed, errors=outcomes["5xx"])
        sold_out = outcomes.pop("409 PUPPY_NOT_AVAILABLE", 0)  # the 5xx stay listed by code
        holds = outcomes.pop("hold", 0)
        server_errors = outcomes.pop("5xx", 0)
        return FlashSale(figure, holds, sold_out, server_errors, dict(outcomes))

    return asyncio.run(run())


@contextlib.contextmanager
def catalogue_changing(database_url: str, *, per_second: float) -> Iterator[list[int]]:
    """While inside, move the catalogue's version on `per_second` times a second, as holds
    landing in a litter's first minutes do (each one's COMMIT moves it): every page cached
    under the version before is then asked again at once. Yields [how many moves so far]."""
    moves = [0]
    stop = threading.Event()

    def move() -> None:
        with psycopg.connect(database_url, autocommit=True) as connection:
            while not stop.wait(1 / per_second):
                connection.execute("UPDATE catalogue_version SET value = value + 1 WHERE id = 1")
                moves[0] += 1

    mover = threading.Thread(target=move, daemon=True)
    mover.start()
    try:
        yield moves
    finally:
        stop.set()
        mover.join(timeout=10)
