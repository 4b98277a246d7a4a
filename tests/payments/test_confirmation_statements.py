"""What one confirmation costs the database: the worker's statements for a paid checkout,
from claiming its webhook job to closing it (bench/HISTORY.md: the ORM building SQL is
most of the worker's CPU, so each statement saved is a confirmation sooner in a burst)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kennel.core.outbox import MONEY_QUEUE
from kennel.ops.management.commands.worker import _worker
from kennel.reservations.models import Reservation
from tests.factories import PuppyFactory
from tests.payments.stripe_helpers import choose, reserve

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_paid_checkout_is_confirmed_in_at_most_18_statements(sandbox, live_server):
    # 30 until 2026-12-07: the reservation was read three times before it was locked; 28
    # until the worker claimed its task, the side effect and the event in one statement each;
    # 21 until the outbox wrote the emails, their tasks and the wake-up in one.
    body = reserve(live_server.url, PuppyFactory().slug).json()
    choose(body["checkout_url"], "pay")
    assert sandbox.wait_for_deliveries(timeout=30)

    with CaptureQueriesContext(connection) as statements:
        _worker(MONEY_QUEUE, interval=0, batch=True).run()

    assert Reservation.objects.get(pk=body["id"]).status == "confirmed"
    assert len(statements) <= 18, "\n".join(q["sql"][:120] for q in statements)
