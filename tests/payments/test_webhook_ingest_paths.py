"""Webhook ingest on PostgreSQL stores a new event and queues its processing in one statement
(`outbox_insert_enqueue`); inside a transaction, for PayPal, on SQLite and for duplicates it
takes the ORM path. Both must leave exactly the same rows: the worker, the sweeps and the
back office read them the same way."""

import json
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django_tasks_db.models import DBTaskResult

from kennel.core.db import is_postgres
from kennel.core.models import SideEffect
from kennel.payments.models import PaymentWork, WebhookEvent
from tests.ops.test_worker_threads import sign

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "whsec_test_paths"


@pytest.fixture(autouse=True)
def _postgres_only(settings: Any) -> None:
    if not is_postgres():
        pytest.skip("the one-statement path is PostgreSQL's")
    settings.STRIPE_WEBHOOK_SECRET = SECRET


def deliver(client: Client, event_id: str) -> dict[str, Any]:
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "charge.refunded",  # acted on: its processing is queued
            "created": int(time.time()),
            "data": {"object": {"id": "ch_1", "object": "charge"}},
        }
    ).encode()
    answer = client.post(
        "/webhooks/stripe/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, SECRET),
    )
    assert answer.status_code == 200, answer.content
    result: dict[str, Any] = answer.json()
    return result


def rows_of(event_id: str) -> dict[str, dict[str, Any]]:
    """The event, its job and the job's task, without what differs by nature (ids, times)."""
    event: dict[str, Any] = dict(WebhookEvent.objects.values().get(event_id=event_id))
    job: dict[str, Any] = dict(SideEffect.objects.values().get(data__event=event["id"]))
    task: dict[str, Any] = dict(DBTaskResult.objects.values().get(id=job["task_id"]))
    assert job["dedup_key"] == f"webhook:{event['id']}:{PaymentWork.WEBHOOK_PROCESS}:stripe"
    assert task["args_kwargs"] == {"args": [job["id"]], "kwargs": {}}
    for row, varying in (
        (event, ("id", "event_id", "received_at", "body")),
        (job, ("id", "created_at", "updated_at", "next_attempt_at", "task_id", "dedup_key")),
        (task, ("id", "enqueued_at", "args_kwargs")),
    ):
        for name in varying:
            row.pop(name)
    job.pop("data")
    event["headers"] = sorted(event["headers"])  # the names; each delivery is signed anew
    return {"event": event, "job": job, "task": task}


def test_one_statement_and_the_orm_path_leave_the_same_rows(client):
    assert deliver(client, "evt_fast") == {"received": True, "status": "pending"}
    assert not connection.in_atomic_block
    with transaction.atomic():  # a caller's transaction: the ORM path
        assert deliver(client, "evt_orm") == {"received": True, "status": "pending"}

    fast, orm = rows_of("evt_fast"), rows_of("evt_orm")
    assert fast == orm
    assert fast["job"]["status"] == "pending"
    assert fast["job"]["queue"] == "money"
    assert fast["task"]["status"] == "READY"
    assert "stripe-signature" in fast["event"]["headers"]


def test_a_duplicate_of_an_event_stored_in_one_statement_adds_nothing(client):
    deliver(client, "evt_twice")
    assert deliver(client, "evt_twice") == {"received": True, "status": "pending"}
    assert WebhookEvent.objects.count() == 1
    assert SideEffect.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


def test_a_redelivery_of_a_failed_event_stored_in_one_statement_queues_it_again(client):
    deliver(client, "evt_failed")
    WebhookEvent.objects.update(status="failed")
    SideEffect.objects.update(status="dead")  # its job gave up
    assert deliver(client, "evt_failed") == {"received": True, "status": "failed"}
    job = SideEffect.objects.get()
    assert (job.status, job.attempts) == ("pending", 0)
    assert DBTaskResult.objects.filter(id=job.task_id).exists()
