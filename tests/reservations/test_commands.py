"""The operator's commands: expire_holds, replay_webhook, worker --batch."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from kennel.payments.models import WebhookEvent
from tests.factories import ReservationFactory

pytestmark = pytest.mark.django_db


def test_expire_holds_frees_puppies_whose_hold_ran_out():
    due = ReservationFactory(expires_at=timezone.now() - timedelta(minutes=5))
    out = StringIO()
    call_command("expire_holds", stdout=out)
    due.refresh_from_db()
    due.puppy.refresh_from_db()
    assert (due.status, due.puppy.status) == ("expired", "available")
    assert "expired 1 hold" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_worker_batch_runs_the_sweeps():
    due = ReservationFactory(expires_at=timezone.now() - timedelta(minutes=5))
    call_command("worker", "--batch", verbosity=0)
    due.refresh_from_db()
    assert due.status == "expired"


def test_replay_webhook_processes_a_stored_event_again():
    event = WebhookEvent.objects.create(
        provider="stripe",
        event_id="evt_replay_1",
        type="customer.created",
        body='{"id": "evt_replay_1", "type": "customer.created", "data": {"object": {}}}',
        status=WebhookEvent.Status.IGNORED,
    )
    out = StringIO()
    call_command("replay_webhook", "evt_replay_1", stdout=out)
    event.refresh_from_db()
    assert event.attempts == 1
    assert "evt_replay_1: ignored" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("replay_webhook", "evt_nope")
