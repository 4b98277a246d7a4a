"""The outbox's one task: deliver a side effect by id (safe to run twice, or concurrently)."""

from django_tasks import task

from kennel.notifications.services import side_effect_send


@task()
def side_effect_deliver(side_effect_id: int) -> str:
    """Send one email or conversion report; failures are recorded on the row and retried."""
    return side_effect_send(side_effect_id=side_effect_id)
