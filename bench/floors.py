"""Floors: the least a Django view can do for Kennel's two hottest writes, on this machine.

The reference project (bench/reference/) serves them with granian and Kennel's options: no
middleware but the common one, no ORM, one SQL statement each, on copies of Kennel's tables
(`floor_*`, made like pgbench's with `LIKE … INCLUDING ALL`, so the same indexes), at
Kennel's own paths, so the same deliveries and buyers reach them:

- ingest: the stripe SDK's signature check, then the event and its processing job in one
  statement (`INSERT … ON CONFLICT DO NOTHING` + the job's row), acknowledged; no task row, no
  NOTIFY, no worker behind it;
- hold: one conditional `UPDATE … RETURNING`; a loser is answered 409 at once, a winner 201
  with no provider call.

Kennel over its floor is what Kennel's own code costs on the same path: its middleware, its
validation, its bookkeeping, its worker on the same cores. The floors run after Kennel's stack
is stopped, on the very same deliveries and buyers.
"""

from pathlib import Path

from bench import loads
from bench.common import Figure, psql, wrk
from bench.cpu import CpuUse
from bench.stack import Processes, reference_server, wait_until_answering

SETUP = """
DROP TABLE IF EXISTS floor_webhookevent, floor_sideeffect, floor_puppy;
CREATE TABLE floor_webhookevent (LIKE payments_webhookevent INCLUDING ALL);
CREATE TABLE floor_sideeffect (LIKE core_sideeffect INCLUDING ALL);
CREATE TABLE floor_puppy (LIKE catalogue_puppy INCLUDING ALL);
INSERT INTO floor_puppy (id, created_at, updated_at, slug, name, breed, sex, colour, born_on,
  description, price, deposit, currency, status, is_published, kept)
  SELECT i, now(), now(), 'floor-' || i, 'Pup ' || i, 'Labrador', 'female', '', '2026-10-01',
  '', 1000, 200, 'EUR', 'available', true, false FROM generate_series(1, 10) i;
"""

TEARDOWN = "DROP TABLE IF EXISTS floor_webhookevent, floor_sideeffect, floor_puppy;"


def measure(
    processes: Processes,
    tmp: Path,
    *,
    db: str,
    env: dict[str, str],
    ingest_script: Path,
    duration: float,
    connections: int,
) -> tuple[Figure, loads.FlashSale, dict[str, dict[str, float]]]:
    """The floor's ingest (wrk over `ingest_script`, Kennel's deliveries) and its flash sale
    (500 buyers, 10 puppies), and the CPU each cost per request (bench/cpu.py)."""
    psql(SETUP, db=db)
    url, server = reference_server(
        processes, tmp, app="bench.reference.wsgi:application", env=env, log_name="floor.log"
    )
    try:
        wait_until_answering(f"{url}/bare/", server)
        cpu = CpuUse.start()
        ingest = wrk(
            f"{url}/webhooks/stripe/",
            duration=duration,
            connections=connections,
            script=ingest_script,
            allow_non_2xx=True,
        )
        used = {"floor: ingest delivery": cpu.per(ingest.requests)}
        slugs = [f"floor-{i}" for i in range(1, 11)]
        cpu = CpuUse.start()
        flash = loads.flash_sale(url, slugs, buyers=500)
        used["floor: flash sale request"] = cpu.per(500)
    finally:
        processes.stop(server)
        psql(TEARDOWN, db=db)
    return ingest, flash, used
