"""`python -m bench` (`make bench`): Kennel's production stack against its references, in one
run on this machine (the README's performance section explains what limits each figure).

Order: pgbench's SQL shapes (the database alone); the reference Django project (bare view,
plain ORM catalogue); then `python -m kennel serve` (granian, the worker, sandbox): the read
paths at 1/16/64 connections, holds on distinct puppies, paying them at the sandbox, their
deliveries (200 of them at a breeder's pace, 25/s, then the rest at a steady 500/s) until every
one is confirmed, the flash sale, the dj-stripe peer
receiving the same deliveries, and the ingest burst (its events keep the worker busy for a
while after); last, with Kennel stopped, the floors (bench/floors.py) take the same ingest
deliveries and the same flash sale. The sandbox sends its own webhooks to a sink of this
process (SITE_URL), so the deliveries measured are the bench's alone. Memory is sampled from
/proc throughout.
"""

import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import floors, loads, peer_djstripe, pgbench_shapes
from bench.common import (
    Figure,
    Sink,
    database_reset,
    percentile,
    psql,
    seconds,
    stripe_signature,
    wrk,
    wrk_posts_script,
)
from bench.cpu import ROLES, CpuUse
from bench.stack import Kennel, Memory, Processes, reference_server, wait_until_answering
from bench.targets import verdicts

DB = os.environ.get("BENCH_DATABASE", "kennel_bench")
STRIPE_WEBHOOK_SECRET = "whsec_kennel_bench"
# Any sk_test_ key is the sandbox's; dj-stripe wants Stripe's key format (24+ characters).
STRIPE_SECRET_KEY = "sk_test_kennelbench00000000000000000000"
CONFIRM_RATE = 500.0  # deliveries/s
# Before that burst, a breeder's: this many of the paid holds delivered at a pace one worker
# keeps up with on a slow hour (the p99 a family meets when the worker is not backlogged).
PACED_PAYMENTS = 200
PACED_RATE = 25.0  # deliveries/s
# serve's worker processes: make run's 1 unless WORKER_PROCESSES says otherwise. One works under
# one GIL, on one core at most; a second takes a burst's confirmations through on the other
# core, and competes with the web server for it meanwhile (README, "Performance").
WORKER_PROCESSES = int(os.environ.get("WORKER_PROCESSES", "1"))
CONNECTIONS = (1, 16, 64)
RATE_CONNECTIONS = 32  # ingest, the bare view and the peer
CHANGES_PER_SECOND = 10.0  # the catalogue's version moving on while it is read


MEMORY: list[Memory] = []  # the running sampler, told each phase by log()


def log(message: str) -> None:
    for memory in MEMORY:
        memory.phase = message
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {message}", file=sys.stderr, flush=True)


def _stop_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def seed_catalogue(db: str, *, puppies: int = 24) -> str:
    """Tops the demo catalogue up to `puppies` published puppies (in the demo's litters);
    returns the slug of a demo puppy with photos and parents, for the puppy page."""
    psql(
        f"""
        INSERT INTO catalogue_puppy (created_at, updated_at, slug, name, breed, sex, colour,
          born_on, description, price, deposit, currency, status, is_published, kept, litter_id)
        SELECT now(), now(), 'bench-cat-' || i, 'Bench pup ' || i, 'Beagle',
          CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END, 'tricolour', '2026-09-01',
          'A cheerful bench puppy.', 1500, 300, 'EUR', 'available', true, false,
          (SELECT id FROM catalogue_litter ORDER BY id LIMIT 1)
        FROM generate_series(1, greatest(0, {puppies}
          - (SELECT count(*) FROM catalogue_puppy WHERE is_published))) i;
        """,
        db=db,
    )
    return psql(
        """SELECT p.slug FROM catalogue_puppy p JOIN catalogue_puppyphoto f ON f.puppy_id = p.id
           WHERE p.is_published AND p.litter_id IS NOT NULL ORDER BY p.id LIMIT 1""",
        db=db,
    )


def seed_pool(db: str, prefix: str, count: int) -> list[str]:
    """`count` available published puppies (no litter, no photo) to hold; their slugs."""
    psql(
        f"""
        INSERT INTO catalogue_puppy (created_at, updated_at, slug, name, breed, sex, colour,
          born_on, description, price, deposit, currency, status, is_published, kept)
        SELECT now(), now(), '{prefix}-' || i, 'Pup ' || i, 'Labrador', 'female', '',
          '2026-10-01', '', 1000, 200, 'EUR', 'available', true, false
        FROM generate_series(1, {count}) i;
        """,
        db=db,
    )
    return [f"{prefix}-{i}" for i in range(1, count + 1)]


def confirmations(db: str, sessions: list[str]) -> dict[str, float]:
    """session id -> when its reservation was confirmed (epoch seconds), for confirmed ones."""
    if not sessions:
        return {}
    rows = psql(
        "SELECT provider_reference, extract(epoch FROM confirmed_at) FROM "
        "reservations_reservation WHERE confirmed_at IS NOT NULL AND provider = 'stripe' AND "
        "provider_reference IN (" + ",".join(f"'{s}'" for s in sessions) + ")",
        db=db,
    )
    out = {}
    for line in rows.splitlines():
        session, _, at = line.partition("|")
        out[session] = float(at)
    return out


def worker_idle(db: str, *, timeout: float = 180.0) -> float:
    """Wait until Kennel's worker has nothing queued or running (the previous phase's emails
    sent), so that a phase measures its own work only; returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        busy = psql(
            "SELECT count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE status = 'RUNNING' OR status = 'READY' AND (run_after <= now() "
            "OR run_after > now() + interval '100 years')",  # django-tasks' 'no delay'
            db=db,
        )
        if int(busy or 0) == 0:
            break
        time.sleep(0.5)
    return round(time.monotonic() - started, 1)


def compact(body: bytes, **changes: Any) -> bytes:
    event = json.loads(body)
    event.update(changes)
    return json.dumps(event, separators=(",", ":")).encode()


def ratio(a: float, b: float) -> float:
    return round(a / b, 3) if b else float("nan")


@dataclass
class Confirmed:
    """Payments delivered at a steady rate, and when each was confirmed."""

    steady: loads.Steady  # the deliveries' HTTP answers
    confirmed: dict[str, float]  # session id -> when its reservation was confirmed
    figure: Figure  # confirmations/s and delivery -> confirmed p50/p99
    bounded: bool  # the worker kept up with the offered rate

    @property
    def note(self) -> str:
        return "= offered rate: the workers kept up" if self.bounded else "the workers' own pace"

    def as_json(self) -> dict[str, Any]:
        return self.figure.as_json() | {
            "deliveries": self.steady.figure.requests,
            "delivery_statuses": dict(self.steady.statuses),
            "bounded_by_offered_rate": self.bounded,
        }


def confirm_at(url: str, events: list[bytes], *, rate: float, duration: float) -> Confirmed:
    """Deliver each payment's event (and 20 % duplicates) at `rate` a second, then wait until
    every payment is confirmed (or a deadline). `events` holds at least one."""
    deliveries = loads.deliveries_with_duplicates(events)
    steady = loads.deliver_steady(url, deliveries, rate=rate, secret=STRIPE_WEBHOOK_SECRET)
    ids = list(steady.sent_at)
    deadline = time.monotonic() + max(60.0, 4 * duration)
    confirmed: dict[str, float] = {}
    while time.monotonic() < deadline:
        confirmed = confirmations(DB, ids)
        if len(confirmed) == len(ids):
            break
        time.sleep(0.5)
    lags = [(confirmed[s] - steady.sent_at[s]) * 1000 for s in confirmed]
    first_sent = min(steady.sent_at.values())
    last_sent = max(steady.sent_at.values())
    span = (max(confirmed.values()) - first_sent) if confirmed else float("nan")
    figure = Figure(
        rps=len(confirmed) / span if confirmed else 0.0,
        p50_ms=percentile(lags, 0.5),
        p99_ms=percentile(lags, 0.99),
        requests=len(ids),
        errors=len(ids) - len(confirmed),
    )
    bounded = bool(confirmed) and max(confirmed.values()) - last_sent < 1.5
    return Confirmed(steady, confirmed, figure, bounded)


def main() -> int:
    _stop_on_sigterm()
    duration = seconds()
    started = time.monotonic()
    figures: dict[str, Any] = {"bench_seconds": duration, "cores": os.cpu_count() or 1}
    rows: list[tuple[str, str, Figure | None, str]] = []  # (what, where, figure, note)
    cpu_use: dict[str, dict[str, float]] = {}  # phase -> CPU ms per request by part (bench/cpu.py)
    with tempfile.TemporaryDirectory(prefix="kennel-bench-") as t, ExitStack() as stack:
        tmp = Path(t)
        processes = Processes()
        stack.callback(processes.close)
        sink = Sink()
        stack.callback(sink.close)

        free = int(
            psql("SELECT current_setting('max_connections')::int - count(*) FROM pg_stat_activity")
        )
        figures["pg_free_connections_at_start"] = free
        if free < 70:
            log(
                f"WARNING: PostgreSQL has {free} free connections; the stack, its "
                "references and the peer need up to ~60"
            )
        log(f"database {DB}: migrate, demo data, 24 puppies in the catalogue")
        database_url = database_reset(DB)
        kennel = Kennel(
            processes,
            tmp,
            database_url,
            SITE_URL=f"http://127.0.0.1:{sink.port}",
            STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
            STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
            HOLDS_PER_EMAIL="0",
            HOLDS_PER_CLIENT="0",
            HOLD_RATE="0",
            WORKER_PROCESSES=str(WORKER_PROCESSES),
        )
        figures["worker_processes"] = WORKER_PROCESSES
        kennel.manage("migrate", "--noinput", "-v0")
        kennel.manage("load_demo")
        puppy_slug = seed_catalogue(DB)

        # --- the database alone -----------------------------------------------------------
        log("pgbench: hold, ingest and catalogue shapes")
        pg = pgbench_shapes.measure(DB, duration)
        figures |= {f"pgbench_{k}_tps": round(v, 1) for k, v in pg.items()}

        # --- the reference Django project -------------------------------------------------
        log("reference Django project: bare JSON view, plain ORM catalogue")
        env = {**kennel.env, "DJANGO_SETTINGS_MODULE": "bench.reference.settings"}
        ref_url, ref = reference_server(
            processes, tmp, app="bench.reference.wsgi:application", env=env
        )
        wait_until_answering(f"{ref_url}/bare/", ref)
        wrk(f"{ref_url}/plain/", duration=1, connections=4)
        bare = wrk(f"{ref_url}/bare/", duration=duration, connections=RATE_CONNECTIONS)
        plain = wrk(f"{ref_url}/plain/", duration=duration, connections=16)
        processes.stop(ref)
        rows += [
            ("reference: bare Django JSON view", f"{RATE_CONNECTIONS} conn", bare, ""),
            ("reference: plain ORM catalogue", "16 conn", plain, "one query + simple template"),
        ]
        figures |= {"bare_rps": bare.rps, "plain_orm_rps": plain.rps}

        # --- Kennel ---------------------------------------------------------------------
        log(f"Kennel: python -m kennel serve (granian, workers: {WORKER_PROCESSES}, sandbox)")
        kennel.start()
        memory = stack.enter_context(Memory(kennel))
        MEMORY.append(memory)
        litter_slug = psql("SELECT slug FROM catalogue_litter ORDER BY id LIMIT 1", db=DB)
        reads = {  # what is read, at how many connections
            "catalogue": ("/", CONNECTIONS),
            "puppy": (f"/puppies/{puppy_slug}/", CONNECTIONS),
            "api_puppies": ("/api/puppies/", CONNECTIONS),
            "litter": (f"/litters/{litter_slug}/", (16,)),  # a litter announced
        }
        for name, (path, connections_list) in reads.items():
            wrk(f"{kennel.url}{path}", duration=1, connections=4)  # warm up
            for connections in connections_list:
                log(f"{name} {path} at {connections} connections")
                figure = wrk(f"{kennel.url}{path}", duration=duration, connections=connections)
                rows.append((f"Kennel {name} {path}", f"{connections} conn", figure, ""))
                figures[f"{name}_{connections}c"] = figure.as_json()
        # The catalogue as families read it while holds land: the version moves on ten
        # times a second, and each time every page asked is rendered again.
        path = "/"
        log(f"catalogue {path} at 16 connections, changing {CHANGES_PER_SECOND:.0f} times a second")
        with loads.catalogue_changing(
            kennel.env["DATABASE_URL"], per_second=CHANGES_PER_SECOND
        ) as moves:
            figure = wrk(f"{kennel.url}{path}", duration=duration, connections=16)
        note = f"{moves[0]} changes"
        rows.append((f"Kennel catalogue {path} while it changes", "16 conn", figure, note))
        figures["catalogue_changing_16c"] = figure.as_json() | {"changes": moves[0]}
        catalogue = figures["catalogue_16c"]
        figures["catalogue_rps"] = catalogue["rps"]
        figures["catalogue_p99_ms"] = catalogue["p99_ms"]
        figures["catalogue_vs_plain_orm"] = ratio(catalogue["rps"], plain.rps)
        figures["catalogue_vs_bare"] = ratio(catalogue["rps"], bare.rps)
        figures["catalogue_vs_pgbench"] = ratio(catalogue["rps"], pg["catalogue"])

        # --- holds -----------------------------------------------------------------------
        pool = seed_pool(DB, "bench-hold", int(400 * duration + 200))
        log(f"reserve: POST /api/reservations/ on distinct puppies, 16 buyers, {duration:.0f} s")
        holds = loads.reserve(kennel.url, pool, duration=duration, concurrency=16)
        rows.append(
            (
                "Kennel reserve POST /api/reservations/",
                "16 buyers",
                holds.figure,
                "sandbox call included",
            )
        )
        figures["reserve"] = holds.figure.as_json()
        figures["reserve_rps"] = round(holds.figure.rps, 1)
        figures["reserve_vs_pgbench_hold"] = ratio(holds.figure.rps, pg["hold"])
        sessions = [h["provider_reference"] for h in holds.created]
        log(f"paying {len(sessions)} holds at the sandbox")
        paid = loads.pay_at_sandbox([h["checkout_url"] for h in holds.created])
        if set(paid) != {303}:
            raise RuntimeError(f"the sandbox's Pay button answered {dict(paid)}")
        deadline = time.monotonic() + 60
        while len(sink.bodies) < len(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        captured = [sink.bodies[s] for s in sessions if s in sink.bodies]
        if not captured:
            raise RuntimeError("the sandbox sent no checkout.session.completed event")
        events = [compact(b) for b in captured]

        # --- confirmations: a breeder's burst at a pace the worker keeps, then 500/s --------
        # At most half of the payments (a short run on a slow machine makes few holds).
        split = min(PACED_PAYMENTS, len(events) // 2)
        paced, rest = events[:split], events[split:]
        if paced:
            log(f"confirm: {len(paced)} payments delivered at a steady {PACED_RATE:.0f}/s")
            figures["confirm_paced_waited_for_idle_worker_s"] = worker_idle(DB)
            kept = confirm_at(kennel.url, paced, rate=PACED_RATE, duration=duration)
            figures["confirm_paced"] = kept.as_json()
            figures["confirm_paced_p99_ms"] = round(kept.figure.p99_ms, 1)
            rows.append(
                (
                    "Kennel confirmations (delivery -> confirmed)",
                    f"{PACED_RATE:.0f}/s",
                    kept.figure,
                    kept.note,
                )
            )
        log(f"confirm: {len(rest)} payments delivered at {CONFIRM_RATE:.0f}/s")
        figures["confirm_waited_for_idle_worker_s"] = worker_idle(DB)
        cpu = CpuUse.start()
        burst = confirm_at(kennel.url, rest, rate=CONFIRM_RATE, duration=duration)
        # The emails follow the confirmations (the worker's money comes first): their CPU is
        # counted in the confirmation's, until the worker has nothing left.
        figures["confirm_emails_done_after_s"] = worker_idle(DB)
        cpu_use["confirmation"] = cpu.per(len(burst.confirmed))
        rows.append(
            (
                "Kennel webhook answers at a steady rate",
                f"{CONFIRM_RATE:.0f}/s",
                burst.steady.figure,
                "",
            )
        )
        rows.append(
            ("Kennel confirmations (delivery -> confirmed)", "workers", burst.figure, burst.note)
        )
        figures["confirm"] = burst.as_json()
        figures["confirm_rps"] = round(burst.figure.rps, 1)
        figures["confirm_p50_ms"] = round(burst.figure.p50_ms, 1)
        figures["confirm_p99_ms"] = round(burst.figure.p99_ms, 1)
        figures["confirm_unconfirmed"] = burst.figure.errors

        # --- flash sale --------------------------------------------------------------------
        log("flash sale: 500 buyers, 10 puppies")
        flash_slugs = seed_pool(DB, "bench-flash", 10)
        figures["flash_sale_waited_for_idle_worker_s"] = worker_idle(DB)
        cpu = CpuUse.start()
        flash = loads.flash_sale(kennel.url, flash_slugs, buyers=500)
        cpu_use["flash sale request"] = cpu.per(500)
        rows.append(
            (
                "Kennel flash sale (500 buyers, 10 puppies)",
                "500 conn",
                flash.figure,
                f"{flash.holds} holds, {flash.sold_out} x 409",
            )
        )
        figures |= {
            "flash_sale_holds": flash.holds,
            "flash_sale_409_not_available": flash.sold_out,
            "flash_sale_5xx": flash.server_errors,
            "flash_sale_other": flash.other,
            "flash_sale_p50_ms": round(flash.figure.p50_ms, 1),
            "flash_sale_p99_ms": round(flash.figure.p99_ms, 1),
        }

        # --- the peer: dj-stripe -------------------------------------------------------------
        log("peer: dj-stripe 2.11 receiving the same deliveries")
        djstripe: Figure | None = None
        try:
            djstripe = peer_djstripe.measure(
                processes,
                tmp,
                sandbox_url=kennel.sandbox_url,
                stripe_key=STRIPE_SECRET_KEY,
                bodies=events,
                secret=STRIPE_WEBHOOK_SECRET,
                duration=duration,
                connections=RATE_CONNECTIONS,
            )
            rows.append(
                (
                    "peer: dj-stripe webhook (verify_signature)",
                    f"{RATE_CONNECTIONS} conn",
                    djstripe,
                    "synchronous: ingest = confirm",
                )
            )
            figures["djstripe"] = djstripe.as_json()
            figures["djstripe_rps"] = djstripe.rps
        except peer_djstripe.PeerUnavailable as exc:
            log(f"dj-stripe peer skipped: {exc}")
            figures["djstripe_error"] = str(exc)

        # --- ingest burst ---------------------------------------------------------------------
        count = int(min(1500 * duration, 30_000))
        log(f"ingest: {count} signed deliveries (20 % duplicates) cycled by wrk")
        # Waited for before signing: the deliveries must stay within Stripe's 300 s tolerance.
        figures["ingest_waited_for_idle_worker_s"] = worker_idle(DB)
        now = int(time.time())
        fresh = [compact(events[k % len(events)], id=f"evt_bench_ingest_{k}") for k in range(count)]
        script = wrk_posts_script(
            tmp / "ingest.lua",
            (
                (
                    "/webhooks/stripe/",
                    body,
                    {"Stripe-Signature": stripe_signature(body, STRIPE_WEBHOOK_SECRET, now)},
                )
                for body in loads.deliveries_with_duplicates(fresh)
            ),
        )
        cpu = CpuUse.start()
        ingest = wrk(
            f"{kennel.url}/webhooks/stripe/",
            duration=duration,
            connections=RATE_CONNECTIONS,
            script=script,
            allow_non_2xx=True,
        )
        cpu_use["ingest delivery"] = cpu.per(ingest.requests)
        note = "verify, store, ack"
        if ingest.errors:
            note += f"; ERRORS {ingest.detail.get('statuses')}"
            log("ingest errors; the stack's log ends with:\n" + kennel.log.read_text()[-4000:])
        rows.append(
            ("Kennel webhook ingest (signed, 20 % dup)", f"{RATE_CONNECTIONS} conn", ingest, note)
        )
        figures["ingest"] = ingest.as_json()
        figures |= {
            "ingest_rps": ingest.rps,
            "ingest_p99_ms": ingest.p99_ms,
            "ingest_vs_bare": ratio(ingest.rps, bare.rps),
            "ingest_vs_pgbench": ratio(ingest.rps, pg["ingest"]),
        }
        if djstripe is not None:
            figures["ingest_vs_djstripe"] = ratio(ingest.rps, djstripe.rps)
            figures["confirm_vs_djstripe"] = ratio(burst.figure.rps, djstripe.rps)

        memory.__exit__(None, None, None)
        MEMORY.clear()
        figures["web_worker_rss_mb"] = round(memory.worker_peak, 1)
        figures["web_worker_rss_peak_during"] = memory.worker_peak_phase
        figures["stack_rss_mb"] = round(memory.stack_peak, 1)
        figures["web_workers"] = len(kennel.web_workers())
        kennel.stop()

        # --- the floors: the same ingest deliveries and flash sale, the least Django does ---
        log("floors: the same deliveries and flash sale on one-statement views (Kennel stopped)")
        floor_ingest, floor_flash, floor_cpu = floors.measure(
            processes,
            tmp,
            db=DB,
            env=env,
            ingest_script=script,
            duration=duration,
            connections=RATE_CONNECTIONS,
        )
        floor_note = f"ERRORS {floor_ingest.detail.get('statuses')}" if floor_ingest.errors else ""
        rows += [
            ("floor: ingest (verify + one INSERT, no worker)", "32 conn", floor_ingest, floor_note),
            (
                "floor: flash sale (one UPDATE, no provider)",
                "500 conn",
                floor_flash.figure,
                f"{floor_flash.holds} holds, {floor_flash.sold_out} x 409",
            ),
        ]
        cpu_use |= floor_cpu
        figures["cpu_ms_per"] = cpu_use
        figures["floor_ingest"] = floor_ingest.as_json()
        figures |= {
            "floor_ingest_rps": floor_ingest.rps,
            "floor_flash_sale_p99_ms": round(floor_flash.figure.p99_ms, 1),
            "ingest_vs_floor": ratio(ingest.rps, floor_ingest.rps),
            "floor_ingest_vs_bare": ratio(floor_ingest.rps, bare.rps),
            "flash_sale_p99_vs_floor": ratio(flash.figure.p99_ms, floor_flash.figure.p99_ms),
        }

    figures["bench_wall_seconds"] = round(time.monotonic() - started, 1)
    figures["targets"] = {v.target.key: v.as_json() for v in verdicts(figures)}
    print_table(rows, figures)
    print(json.dumps(figures, sort_keys=True, default=str))
    return 0


def print_table(rows: list[tuple[str, str, Figure | None, str]], figures: dict[str, Any]) -> None:
    print()
    print(f"{'what':<48} {'load':<10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9}  note")
    print("-" * 110)
    for what, where, figure, note in rows:
        if figure is None:
            continue
        print(
            f"{what:<48} {where:<10} {figure.rps:>9.1f} {figure.p50_ms:>9.1f} "
            f"{figure.p99_ms:>9.1f}  {note}"
        )
    print("-" * 110)
    pg = ", ".join(
        f"{k} {figures[f'pgbench_{k}_tps']:.0f}" for k in ("hold", "ingest", "catalogue")
    )
    print(f"pgbench tx/s (16 clients): {pg}")
    ratios = [k for k in sorted(figures) if "_vs_" in k]
    print("ratios: " + ", ".join(f"{k} {figures[k]}" for k in ratios))
    print(
        f"flash sale: {figures['flash_sale_holds']} holds, "
        f"{figures['flash_sale_409_not_available']} x 409 PUPPY_NOT_AVAILABLE, "
        f"{figures['flash_sale_5xx']} x 5xx, other {figures['flash_sale_other']}"
    )
    print(
        f"memory (peak RSS): web worker {figures['web_worker_rss_mb']} MB "
        f"({figures['web_workers']} workers; peak during: "
        f"{figures['web_worker_rss_peak_during']}), whole stack {figures['stack_rss_mb']} MB"
    )
    cores = figures["cores"]
    print(f"CPU ms per request by part of the machine ({cores} cores: {cores * 1000} ms a second)")
    header = "".join(f"{role:>10}" for role in (*ROLES, "total"))
    print(f"  {'phase':<28}{header}   ceiling/s")
    for phase, use in figures.get("cpu_ms_per", {}).items():
        ceiling = cores * 1000 / use["total"] if use["total"] else 0.0
        cells = "".join(f"{use[role]:>10.2f}" for role in (*ROLES, "total"))
        print(f"  {phase:<28}{cells}   {ceiling:>9.0f}")
    print("targets (issue 12; a floor is the least Django does on that path, on this machine):")
    for verdict in verdicts(figures):
        print(f"  {verdict.line()}")
    print(f"wall time: {figures['bench_wall_seconds']} s")
    if figures["pg_free_connections_at_start"] < 70:
        print(
            f"WARNING: PostgreSQL had only {figures['pg_free_connections_at_start']} free "
            "connections at the start (other clients): 503 DATABASE_UNAVAILABLE / 'too many "
            "clients' answers above are the machine's, not Kennel's"
        )


def entry() -> None:
    try:
        code = main()
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped")
        code = 130
    with contextlib.suppress(BrokenPipeError):
        sys.stdout.flush()
    raise SystemExit(code)
