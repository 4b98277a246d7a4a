"""The database's own ceiling for Kennel's hot paths: the same SQL shapes, run by pgbench.

- hold: the conditional UPDATE of a puppy (available -> held) and the INSERT of its pending
  reservation, in one transaction, on copies of Kennel's tables (same columns, indexes and
  constraints: `CREATE TABLE ... (LIKE ... INCLUDING ALL)`), one fresh puppy each;
- ingest: INSERT the webhook event ON CONFLICT DO NOTHING (20 % of them duplicates) and
  INSERT its processing job (outbox row, ON CONFLICT on its dedup key DO NOTHING);
- catalogue: the catalogue's query (24 published puppies, available first, with litters)
  and its photo prefetch, on Kennel's real tables (read only).

16 clients over TCP on loopback, simple protocol (as Django with psycopg binds client-side).
"""

import re
import subprocess
import tempfile
from pathlib import Path

from bench.common import psql

HOLD = """\
SELECT nextval('bench_pg_seq') AS n \\gset
BEGIN;
UPDATE bench_pg_puppy SET status = 'held', updated_at = now()
  WHERE id = :n AND status = 'available' AND is_published;
INSERT INTO bench_pg_reservation (created_at, updated_at, id, buyer_name, buyer_email,
  buyer_phone, deposit_amount, currency, provider, status, status_reason, expires_at, token,
  puppy_id, analytics_consent, ga_client_id, fbp, fbc, client_user_agent, event_source_url,
  checkout_url, notes, client_key, terms_version)
  VALUES (now(), now(), gen_random_uuid(), 'Jane Doe', 'buyer' || :n || '@example.com',
  '+33612345678', 200.00, 'EUR', 'stripe', 'pending', '', now() + interval '30 minutes',
  md5(random()::text), :n, false, '', '', '', 'pgbench', '', '', '', 'bench', 'v1');
COMMIT;
"""

INGEST = """\
SELECT nextval('bench_pg_seq') AS n \\gset
\\set e CASE WHEN :n % 5 = 0 THEN :n - 1 ELSE :n END
BEGIN;
INSERT INTO bench_pg_webhookevent (provider, event_id, type, body, headers, signature_valid,
  status, attempts, last_error, received_at)
  VALUES ('stripe', 'evt_' || :e, 'checkout.session.completed',
  '{"id": "evt_' || :e || '", "object": "event", "type": "checkout.session.completed"}',
  '{"Stripe-Signature": "t=1,v1=00"}', true, 'received', 0, '', now())
  ON CONFLICT DO NOTHING;
INSERT INTO bench_pg_sideeffect (created_at, updated_at, kind, recipient, dedup_key, data,
  queue, status, attempts, next_attempt_at, task_id, last_error)
  VALUES (now(), now(), 'webhook', '', 'webhook:stripe:evt_' || :e, '{}', 'money',
  'pending', 0, now(), '', '')
  ON CONFLICT DO NOTHING;
COMMIT;
"""

CATALOGUE = """\
SELECT p.*, l.* FROM catalogue_puppy p LEFT JOIN catalogue_litter l ON l.id = p.litter_id
  WHERE p.is_published
  ORDER BY CASE p.status WHEN 'available' THEN 0 WHEN 'held' THEN 1 WHEN 'reserved' THEN 2
    WHEN 'sold' THEN 3 ELSE 4 END, p.born_on DESC, p.name, p.id
  LIMIT 24;
SELECT * FROM catalogue_puppyphoto WHERE puppy_id IN (
  SELECT id FROM catalogue_puppy WHERE is_published
  ORDER BY CASE status WHEN 'available' THEN 0 WHEN 'held' THEN 1 WHEN 'reserved' THEN 2
    WHEN 'sold' THEN 3 ELSE 4 END, born_on DESC, name, id LIMIT 24)
  ORDER BY position, id;
"""

SETUP = """\
DROP TABLE IF EXISTS bench_pg_reservation, bench_pg_puppy, bench_pg_webhookevent,
  bench_pg_sideeffect;
DROP SEQUENCE IF EXISTS bench_pg_seq;
CREATE TABLE bench_pg_puppy (LIKE catalogue_puppy INCLUDING ALL);
CREATE TABLE bench_pg_reservation (LIKE reservations_reservation INCLUDING ALL);
CREATE TABLE bench_pg_webhookevent (LIKE payments_webhookevent INCLUDING ALL);
CREATE TABLE bench_pg_sideeffect (LIKE core_sideeffect INCLUDING ALL);
ALTER TABLE bench_pg_reservation ADD FOREIGN KEY (puppy_id) REFERENCES bench_pg_puppy (id);
CREATE SEQUENCE bench_pg_seq;
-- Columns Kennel adds later need no change here: what the shapes do not set may be empty.
DO $$
DECLARE c record;
BEGIN
  FOR c IN SELECT table_name, column_name FROM information_schema.columns
    WHERE table_name LIKE 'bench_pg_%' AND is_nullable = 'NO' AND column_name <> 'id'
  LOOP
    EXECUTE format('ALTER TABLE %I ALTER COLUMN %I DROP NOT NULL', c.table_name, c.column_name);
  END LOOP;
END $$;
INSERT INTO bench_pg_puppy (id, created_at, updated_at, slug, name, breed, sex, colour,
  born_on, description, price, deposit, currency, status, is_published)
  SELECT i, now(), now(), 'pg-' || i, 'Pup ' || i, 'Beagle', 'female', '', '2026-09-01', '',
  1000, 200, 'EUR', 'available', true FROM generate_series(1, {puppies}) i;
ANALYZE bench_pg_puppy;
"""

TEARDOWN = """\
DROP TABLE IF EXISTS bench_pg_reservation, bench_pg_puppy, bench_pg_webhookevent,
  bench_pg_sideeffect;
DROP SEQUENCE IF EXISTS bench_pg_seq;
"""

CLIENTS = 16


def _pgbench(db: str, script: str, duration: float) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [
                *("pgbench", "-h", "127.0.0.1", "-U", "postgres", "-n", "-M", "simple"),
                *("-c", str(CLIENTS), "-j", "2", "-T", str(max(1, round(duration)))),
                *("-f", f.name, db),
            ],
            capture_output=True,
            text=True,
        )
    finally:
        Path(f.name).unlink()
    match = re.search(r"tps = ([\d.]+)", out.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", out.stdout)
    if out.returncode or not match or (failed and int(failed.group(1))):
        raise RuntimeError(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
    return float(match.group(1))


def measure(db: str, duration: float) -> dict[str, float]:
    """Transactions/s of each shape."""
    psql(SETUP.format(puppies=int(15_000 * max(duration, 1) + 10_000)), db=db)
    try:
        return {
            "hold": _pgbench(db, HOLD, duration),
            "ingest": _pgbench(db, INGEST, duration),
            "catalogue": _pgbench(db, CATALOGUE, duration),
        }
    finally:
        psql(TEARDOWN, db=db)
