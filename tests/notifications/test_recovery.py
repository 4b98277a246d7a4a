"""What a killed worker leaves behind is picked up by the worker's sweep, and sent once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from kennel.core.models import SideEffect
from kennel.core.outbox import side_effects_recover
from kennel.ops.periodic import FINISHED_TASKS_KEPT, LOST_TASK_AFTER, run_sweeps, tasks_mark_lost
from kennel.reservations.effects import Effect
from tests.conftest import run_worker_once
from tests.factories import PuppyFactory
from tests.notifications.helpers import confirm, hold

pytestmark = pytest.mark.django_db(transaction=True)
K = Effect


@pytest.fixture
def buyer_email(settings) -> SideEffect:
    """A confirmed deposit's buyer email, not sent yet (the owner's is off)."""
    settings.OWNER_EMAIL = ""
    settings.SIDE_EFFECT_LEASE_SECONDS = 60
    confirm(hold(PuppyFactory(), consent=False))
    return SideEffect.objects.get(kind=K.BUYER_CONFIRMATION)


def _task_claimed_by_a_dead_worker(effect: SideEffect, minutes_ago: int) -> None:
    DBTaskResult.objects.filter(id=effect.task_id).update(
        status="RUNNING",
        started_at=timezone.now() - timedelta(minutes=minutes_ago),
        worker_ids=["killed-worker"],
    )


def test_a_task_lost_with_its_worker_is_enqueued_again_and_the_email_sent_once(buyer_email):
    # The worker claimed the task and was killed before it touched the side effect.
    _task_claimed_by_a_dead_worker(buyer_email, minutes_ago=10)
    SideEffect.objects.filter(pk=buyer_email.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )

    run_worker_once()
    run_worker_once()

    buyer_email.refresh_from_db()
    assert (buyer_email.status, buyer_email.attempts) == ("sent", 1)
    assert len(mail.outbox) == 1
    assert DBTaskResult.objects.filter(args_kwargs__args=[buyer_email.pk]).count() == 2


def test_a_send_cut_off_by_a_killed_worker_is_tried_again_after_the_lease(buyer_email):
    _task_claimed_by_a_dead_worker(buyer_email, minutes_ago=10)
    SideEffect.objects.filter(pk=buyer_email.pk).update(
        status="sending", attempts=1, claimed_at=timezone.now() - timedelta(minutes=10)
    )

    run_worker_once()

    buyer_email.refresh_from_db()
    assert (buyer_email.status, buyer_email.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


def test_a_send_within_its_lease_is_left_to_the_worker_doing_it(buyer_email):
    SideEffect.objects.filter(pk=buyer_email.pk).update(
        status="sending", attempts=1, claimed_at=timezone.now() - timedelta(seconds=5)
    )

    assert side_effects_recover() == 0

    run_worker_once()
    buyer_email.refresh_from_db()
    assert buyer_email.status == "sending"
    assert mail.outbox == []


def test_a_task_waiting_behind_a_long_queue_is_not_doubled(buyer_email):
    SideEffect.objects.filter(pk=buyer_email.pk).update(
        next_attempt_at=timezone.now() - timedelta(minutes=10)
    )

    assert side_effects_recover() == 0
    assert DBTaskResult.objects.filter(args_kwargs__args=[buyer_email.pk]).count() == 1


def test_a_send_cut_off_on_its_last_attempt_is_dead(buyer_email, settings):
    SideEffect.objects.filter(pk=buyer_email.pk).update(
        status="sending",
        attempts=settings.SIDE_EFFECT_MAX_ATTEMPTS,
        claimed_at=timezone.now() - timedelta(minutes=10),
    )

    assert side_effects_recover() == 1

    buyer_email.refresh_from_db()
    assert buyer_email.status == "dead"
    assert "cut off" in buyer_email.last_error


def test_tasks_left_running_by_a_dead_worker_are_marked_failed_after_an_hour(buyer_email):
    minutes = int(LOST_TASK_AFTER.total_seconds() // 60) + 1
    _task_claimed_by_a_dead_worker(buyer_email, minutes_ago=minutes)
    recent = DBTaskResult.objects.create(
        args_kwargs={"args": [0], "kwargs": {}},
        task_path="kennel.core.outbox.side_effect_deliver",
        backend_name="default",
        status="RUNNING",
        started_at=timezone.now(),
        run_after=timezone.now(),
    )

    assert tasks_mark_lost() == 1

    lost = DBTaskResult.objects.get(id=buyer_email.task_id)
    assert lost.status == "FAILED"
    assert lost.exception_class_path.endswith("WorkerLost")
    recent.refresh_from_db()
    assert recent.status == "RUNNING"


def test_task_rows_finished_two_weeks_ago_are_pruned_and_the_email_stays_sent(buyer_email):
    run_worker_once()
    buyer_email.refresh_from_db()
    assert buyer_email.status == "sent"
    finished = DBTaskResult.objects.get(id=buyer_email.task_id)
    assert finished.status == "SUCCESSFUL"
    old = timezone.now() - FINISHED_TASKS_KEPT - timedelta(hours=1)
    DBTaskResult.objects.filter(pk=finished.pk).update(finished_at=old)
    recent = DBTaskResult.objects.create(
        args_kwargs={"args": [0], "kwargs": {}},
        task_path="kennel.core.outbox.side_effect_deliver",
        backend_name="default",
        status="FAILED",
        finished_at=timezone.now() - FINISHED_TASKS_KEPT + timedelta(hours=1),
        run_after=timezone.now(),
    )
    waiting = DBTaskResult.objects.create(
        args_kwargs={"args": [0], "kwargs": {}},
        task_path="kennel.core.outbox.side_effect_deliver",
        backend_name="default",
        status="READY",
        run_after=old,
    )

    assert run_sweeps()["finished tasks pruned"] == 1

    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    buyer_email.refresh_from_db()
    assert (buyer_email.status, buyer_email.attempts) == ("sent", 1)
    run_sweeps()
    run_worker_once()
    assert len(mail.outbox) == 1  # sent once, its task row gone or not
