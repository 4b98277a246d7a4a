"""`python -m bench.soak` (`make soak`): SOAK_SECONDS (default 600) of mixed load on the
production stack (`python -m kennel serve` on PostgreSQL, the sandbox delivering its own
webhooks to the shop), then the checks:

- no 5xx from the shop, ever;
- no deadlock (pg_stat_database.deadlocks of the soak's database did not move);
- memory flat: the web workers' RSS over the last minute within +20 % of the first minute;
- at the end, once the worker has drained: one active reservation per puppy; every captured
  payment confirmed its reservation or was refunded; every puppy's status agrees with its
  reservations; and `python -m kennel reconcile_payments` clean.

The load: families reading the catalogue, puppy pages and the API; buyers holding puppies
and paying with Stripe (the hosted page's Pay, then back to the shop) or PayPal (Approve,
then back to the shop, which captures), or leaving the hold to expire (HOLD_MINUTES=1); the
Stripe events replayed as duplicate deliveries; the owner refunding confirmed reservations
(kennel.payments.owner.reservation_refund, from this process).
"""

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.common import Connection, database_reset, psql, rss_mb, seconds, stripe_signature
from bench.run import _stop_on_sigterm, seed_catalogue, seed_pool
from bench.stack import Kennel, Memory, Processes

DB = os.environ.get("SOAK_DATABASE", "kennel_bench_soak")
STRIPE_SECRET_KEY = "sk_test_kennelsoak000000000000000000000"
STRIPE_WEBHOOK_SECRET = "whsec_kennel_soak"
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


class Load:
    """The soak's clients and what they saw."""

    def __init__(self, kennel: Kennel, slugs: list[str], until: float) -> None:
        self.kennel = kennel
        self.slugs = slugs
        self.until = until
        self.shop: Counter[str] = Counter()  # "GET /" -> count, and "5xx ..." entries
        self.server_errors: Counter[str] = Counter()
        self.sandbox: Counter[str] = Counter()
        self.paid_sessions: list[str] = []
        self.outcomes: Counter[str] = Counter()
        self.shop_host = ("127.0.0.1", kennel.port)
        self.sandbox_host = ("127.0.0.1", kennel.sandbox_port)

    async def _shop(
        self,
        connection: Connection,
        method: str,
        path: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        status, answer = await connection.request(method, path, body, headers)
        kind = path.split("?")[0]
        if kind.startswith("/puppies/"):
            kind = "/puppies/<slug>/"
        elif kind.startswith("/payments/"):
            kind = "/payments/<provider>/return/"
        self.shop[f"{method} {kind} {status // 100}xx"] += 1
        if status >= 500:
            try:
                code = json.loads(answer)["error"]["code"]
            except (ValueError, KeyError, TypeError):
                code = answer[:80].decode("utf-8", "replace")
            self.server_errors[f"{method} {kind} {status} {code}"] += 1
        return status, answer

    async def reader(self) -> None:
        connection = Connection(*self.shop_host)
        try:
            while time.monotonic() < self.until:
                path = random.choice(
                    [
                        "/",
                        "/",
                        "/api/puppies/",
                        f"/puppies/{random.choice(self.slugs)}/",
                        "/?page=2",
                    ]
                )
                await self._shop(connection, "GET", path)
                await asyncio.sleep(0.05)
        finally:
            await connection.close()

    async def buyer(self, n: int) -> None:
        shop = Connection(*self.shop_host)
        sandbox = Connection(*self.sandbox_host)
        k = 0
        try:
            while time.monotonic() < self.until:
                k += 1
                provider = random.choice(["stripe", "paypal"])
                body = {
                    "puppy": random.choice(self.slugs),
                    "name": "Soak Buyer",
                    "email": f"soak{n}-{k}@example.com",
                    "phone": "+33 6 12 34 56 78",
                    "provider": provider,
                    "accept_terms": True,
                }
                status, answer = await self._shop(
                    shop, "POST", "/api/reservations/", json.dumps(body).encode(), JSON
                )
                if status != 201:
                    self.outcomes[f"hold refused {status}"] += 1
                    await asyncio.sleep(0.2)
                    continue
                hold = json.loads(answer)
                if random.random() < 0.2:
                    self.outcomes["hold left to expire"] += 1
                    continue
                await self.pay(shop, sandbox, provider, hold)
                await asyncio.sleep(0.3)
        finally:
            await shop.close()
            await sandbox.close()

    async def pay(
        self, shop: Connection, sandbox: Connection, provider: str, hold: dict[str, Any]
    ) -> None:
        checkout = urllib.parse.urlsplit(hold["checkout_url"])
        outcome = "pay" if provider == "stripe" else "approve"
        status, _ = await sandbox.request("GET", f"{checkout.path}?{checkout.query}".rstrip("?"))
        self.sandbox[f"GET page {status}"] += 1
        path = f"{checkout.path}?{checkout.query}".rstrip("?")
        answer = await _raw_post_location(self.sandbox_host, path, f"outcome={outcome}".encode())
        self.sandbox[f"POST {outcome} {answer[0]}"] += 1
        if answer[0] != 303:
            return
        back = urllib.parse.urlsplit(answer[1])  # the shop's return URL
        await self._shop(shop, "GET", f"{back.path}?{back.query}")
        self.outcomes[f"paid {provider}"] += 1
        if provider == "stripe":
            self.paid_sessions.append(hold["provider_reference"])

    async def duplicates(self) -> None:
        """Stripe's events again (the sandbox's own, listed from its API), re-signed."""
        sandbox = Connection(*self.sandbox_host)
        shop = Connection(*self.shop_host)
        auth = {"Authorization": f"Bearer {STRIPE_SECRET_KEY}"}
        try:
            while time.monotonic() < self.until:
                await asyncio.sleep(1.0)
                status, answer = await sandbox.request("GET", "/v1/events?limit=20", headers=auth)
                if status != 200:
                    self.sandbox[f"GET events {status}"] += 1
                    continue
                for event in json.loads(answer)["data"][:5]:
                    body = json.dumps(event, separators=(",", ":")).encode()
                    headers = {
                        **JSON,
                        "Stripe-Signature": stripe_signature(body, STRIPE_WEBHOOK_SECRET),
                    }
                    status, _ = await self._shop(shop, "POST", "/webhooks/stripe/", body, headers)
                    self.outcomes[f"duplicate delivery {status}"] += 1
        finally:
            await sandbox.close()
            await shop.close()

    async def owner(self) -> None:
        """The breeder refunds a confirmed reservation now and then (the owner's service)."""
        while time.monotonic() < self.until:
            await asyncio.sleep(3.0)
            outcome = await asyncio.to_thread(_owner_refund_one)
            self.outcomes[f"owner refund: {outcome}"] += 1


async def _raw_post_location(host: tuple[str, int], path: str, body: bytes) -> tuple[int, str]:
    """POST a form and return (status, Location) — the sandbox's button answers a redirect."""
    reader, writer = await asyncio.open_connection(*host)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: {host[0]}:{host[1]}\r\nConnection: close\r\n"
        head += "Content-Type: application/x-www-form-urlencoded\r\n"
        head += f"Content-Length: {len(body)}\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    location = next(
        (
            line.split(":", 1)[1].strip()
            for line in lines[1:]
            if line.lower().startswith("location:")
        ),
        "",
    )
    return int(lines[0].split()[1]), location


def _owner_refund_one() -> str:
    from django.db import close_old_connections

    from kennel.payments.owner import RefundRefused, reservation_refund
    from kennel.reservations.models import Reservation

    close_old_connections()
    try:
        candidate = (
            Reservation.objects.filter(
                status=Reservation.Status.CONFIRMED, buyer_email__startswith="soak"
            )
            .exclude(external_payment_id=None)
            .order_by("?")
            .first()
        )
        if candidate is None:
            return "nothing confirmed yet"
        try:
            reservation_refund(reservation_id=candidate.pk, actor="soak:owner")
        except RefundRefused as exc:
            return f"refused {getattr(exc, 'code', exc)}"
        return "refunded"
    finally:
        close_old_connections()


def deadlocks() -> int:
    return int(psql(f"SELECT deadlocks FROM pg_stat_database WHERE datname = '{DB}'") or 0)


def invariants() -> list[str]:
    from django.db.models import Count, Q

    from kennel.catalogue.models import Puppy
    from kennel.payments.models import Refund
    from kennel.reservations.models import Reservation

    S, P = Reservation.Status, Puppy.Status
    problems = []
    active = [S.PENDING, S.PROCESSING, S.CONFIRMED]
    doubled = (
        Reservation.objects.filter(status__in=active)
        .values("puppy_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    problems += [f"puppy {row['puppy_id']} has {row['n']} active reservations" for row in doubled]
    refunded_payments = set(Refund.objects.values_list("external_payment_id", flat=True))
    captured = Reservation.objects.exclude(Q(external_payment_id=None) | Q(external_payment_id=""))
    for r in captured:
        if r.status in (S.CONFIRMED, S.COMPLETED):
            continue
        if r.external_payment_id in refunded_payments:
            continue
        problems.append(
            f"payment {r.external_payment_id} ({r.provider}) neither confirmed nor refunded: "
            f"{r.status}"
        )
    expected = {S.PENDING: P.HELD, S.PROCESSING: P.HELD, S.CONFIRMED: P.RESERVED}
    by_puppy = {r.puppy_id: r.status for r in Reservation.objects.filter(status__in=active)}
    for puppy in Puppy.objects.all():
        should = expected.get(by_puppy.get(puppy.pk, ""))  # type: ignore[call-overload]
        if should is None:
            if puppy.status in (P.HELD, P.RESERVED):
                problems.append(f"puppy {puppy.slug} is {puppy.status} with no active reservation")
        elif puppy.status != should:
            problems.append(f"puppy {puppy.slug} is {puppy.status}, its reservation says {should}")
    return problems


def drained() -> bool:
    from kennel.core.models import SideEffect
    from kennel.payments.models import WebhookEvent

    busy_events = WebhookEvent.objects.filter(status__in=["pending", "processing"]).count()
    busy_jobs = SideEffect.objects.filter(status__in=["pending", "sending"], queue="money").count()
    return busy_events == 0 and busy_jobs == 0


def main() -> int:
    _stop_on_sigterm()
    duration = seconds("SOAK_SECONDS", 600)
    started = time.monotonic()
    failures: list[str] = []
    figures: dict[str, Any] = {"soak_seconds": duration}
    with tempfile.TemporaryDirectory(prefix="kennel-soak-") as t, ExitStack() as stack:
        tmp = Path(t)
        processes = Processes()
        stack.callback(processes.close)
        database_url = database_reset(DB)
        kennel = Kennel(
            processes,
            tmp,
            database_url,
            STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            HOLDS_PER_EMAIL="0",
            HOLDS_PER_CLIENT="0",
            HOLD_RATE="0",
            HOLD_MINUTES="1",
        )
        log(f"database {DB}: migrate, demo data, puppies")
        kennel.manage("migrate", "--noinput", "-v0")
        kennel.manage("load_demo")
        seed_catalogue(DB, puppies=24)
        slugs = seed_pool(DB, "soak", int(100 + duration))
        os.environ.update(kennel.env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kennel.settings")
        import django

        django.setup()
        kennel.start()
        memory = stack.enter_context(Memory(kennel, every=1.0))
        deadlocks_before = deadlocks()
        log(f"mixed load for {duration:.0f} s")
        load = Load(kennel, slugs, time.monotonic() + duration)

        async def everything() -> None:
            await asyncio.gather(
                *(load.reader() for _ in range(4)),
                *(load.buyer(n) for n in range(4)),
                load.duplicates(),
                load.owner(),
            )

        asyncio.run(everything())
        log("load stopped; waiting for the worker to drain")
        deadline = time.monotonic() + 120
        while not drained() and time.monotonic() < deadline:
            time.sleep(1)
        if not drained():
            failures.append("the worker did not drain its webhooks and refunds within 120 s")
        memory.__exit__(None, None, None)
        figures["deadlocks"] = deadlocks() - deadlocks_before
        if figures["deadlocks"]:
            failures.append(f"{figures['deadlocks']} deadlock(s) in PostgreSQL")
        window = min(60.0, duration / 4)
        first = [w for at, w, _ in memory.samples if at - memory.samples[0][0] <= window]
        last = [w for at, w, _ in memory.samples if memory.samples[-1][0] - at <= window]
        if first and last:
            figures["worker_rss_first_mb"] = round(sum(first) / len(first), 1)
            figures["worker_rss_last_mb"] = round(sum(last) / len(last), 1)
            growth = figures["worker_rss_last_mb"] / figures["worker_rss_first_mb"] - 1
            figures["worker_rss_growth"] = round(growth, 3)
            if growth > 0.2:
                failures.append(
                    f"web worker memory grew {growth:.0%} (first vs last {window:.0f} s)"
                )
        figures["worker_rss_peak_mb"] = round(memory.worker_peak, 1)
        figures["stack_rss_peak_mb"] = round(memory.stack_peak, 1)
        problems = invariants()
        figures["invariant_problems"] = len(problems)
        failures += problems[:20]
        reconcile = subprocess.run(
            [sys.executable, "-m", "kennel", "reconcile_payments"],
            env=kennel.env,
            capture_output=True,
            text=True,
        )
        figures["reconcile_exit"] = reconcile.returncode
        if reconcile.returncode:
            failures.append("reconcile_payments needs attention:\n" + reconcile.stdout[-2000:])
        figures["shop_5xx"] = sum(load.server_errors.values())
        figures["shop_5xx_by_code"] = dict(load.server_errors)
        if load.server_errors:
            failures.append(f"{figures['shop_5xx']} 5xx from the shop: {dict(load.server_errors)}")
        figures["shop_requests"] = sum(load.shop.values())
        figures["shop_rps"] = round(figures["shop_requests"] / duration, 1)
        figures["by_path"] = dict(sorted(load.shop.items()))
        figures["sandbox"] = dict(sorted(load.sandbox.items()))
        figures["outcomes"] = dict(sorted(load.outcomes.items()))
        figures["web_workers_rss_now_mb"] = [round(rss_mb(p), 1) for p in kennel.web_workers()]
        kennel.stop()
    figures["wall_seconds"] = round(time.monotonic() - started, 1)
    for key, value in figures.items():
        print(f"{key}: {value}")
    if failures:
        print("\nSOAK FAILED:")
        for failure in failures:
            print(f"  - {failure}")
    else:
        print("\nsoak passed: no 5xx, no deadlock, memory flat, invariants hold, books reconcile")
    print(json.dumps(figures | {"passed": not failures}, default=str, sort_keys=True))
    return 1 if failures else 0


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped")
        code = 130
    raise SystemExit(code)
