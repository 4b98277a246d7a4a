"""While GA4 or Meta is failing, the worker takes work oldest-due first: a buyer's confirmation
written before a conversion's retry fell due goes out before that retry, instead of waiting
behind every retry of the outage.

Also run on SQLite (`-m race` in `make test`), where the worker claims through the ORM
rather than PostgreSQL's one UPDATE."""

import json
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from kennel.core.models import SideEffect
from kennel.core.outbox import DEFAULT_QUEUE
from kennel.ops.management.commands.worker import CLAIM_SQL
from kennel.reservations.effects import Effect
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, hold

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.race]
K = Effect


def test_a_new_sales_emails_go_out_before_the_retries_of_a_failing_analytics_endpoint(
    owner, ga4_endpoint, settings
):
    settings.SIDE_EFFECT_MAX_ATTEMPTS = 5
    settings.SIDE_EFFECT_RETRY_BASE_SECONDS = settings.SIDE_EFFECT_RETRY_MAX_SECONDS = 2.0
    answered: list[tuple[float, str]] = []  # when GA4 was asked, about which sale

    def down(path, body):
        answered.append((time.time(), body["events"][0]["params"]["transaction_id"]))
        return 503, {"error": "unavailable"}

    ga4_endpoint.answer = down
    for n in range(3):  # earlier sales: their GA4 reports fail and are put off 1-2 s
        confirm(hold(PuppyFactory()), payment_id=f"pi_earlier_{n}")
    run_worker_once()
    retries_due = list(
        SideEffect.objects.filter(kind=K.GA4_PURCHASE, status="pending").values_list(
            "next_attempt_at", flat=True
        )
    )
    assert len(retries_due) == 3
    first_round = len(answered)

    # A buyer pays while the retries wait; by the time the worker looks, they are all due.
    sale = confirm(hold(PuppyFactory(), email="new.buyer@example.com"), payment_id="pi_new")
    written = max(DBTaskResult.objects.filter(status="READY").values_list("enqueued_at", flat=True))
    assert written < min(retries_due)
    time.sleep(max(0.0, (max(retries_due) - timezone.now()).total_seconds()) + 0.05)
    run_worker_once()

    emails = SideEffect.objects.filter(
        reservation_id=sale.pk, kind__in=[K.OWNER_DEPOSIT, K.BUYER_CONFIRMATION]
    )
    assert sorted(emails.values_list("status", flat=True)) == ["sent", "sent"]
    retried_at = [at for at, sale_id in answered[first_round:] if sale_id != str(sale.pk)]
    assert retried_at
    last_email_sent = max(e.sent_at.timestamp() for e in emails if e.sent_at)
    assert last_email_sent < min(retried_at), (
        "the new sale's emails waited behind the earlier sales' retries"
    )


def test_on_postgresql_the_claim_reads_the_first_due_task_from_an_index_without_sorting():
    """The order costs nothing per claim however many tasks wait (a sort of 5 200 READY rows
    took 3 ms a claim): the claim's CASE must stay the index's (core migration 0004)."""
    if connection.vendor != "postgresql":
        pytest.skip("the index is PostgreSQL's")
    now = timezone.now()
    params = [now, json.dumps(["plan"]), get_date_max(), now, "default", [DEFAULT_QUEUE]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")  # a plan that must sort shows it anyway
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + CLAIM_SQL, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Scan using kennel_ready_tasks_by_due" in plan, plan
    assert "Sort" not in plan, plan
