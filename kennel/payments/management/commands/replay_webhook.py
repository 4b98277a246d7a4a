from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kennel.payments.models import WebhookEvent
from kennel.payments.webhooks import webhook_process


class Command(BaseCommand):
    help = "Process a stored webhook event again (by its database id or provider event id)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("event", help="WebhookEvent id, or the provider's event id")

    def handle(self, *args: Any, event: str, **options: Any) -> None:
        found = WebhookEvent.objects.filter(event_id=event).first()
        if found is None and event.isdigit():
            found = WebhookEvent.objects.filter(pk=int(event)).first()
        if found is None:
            raise CommandError(f"no stored webhook event {event!r}")
        # Replaying means "once more": reopen it whatever its status was.
        WebhookEvent.objects.filter(pk=found.pk).update(
            status=WebhookEvent.Status.PENDING, attempts=0
        )
        status = webhook_process(event_pk=found.pk, delivered=True)
        self.stdout.write(f"{found.provider} {found.type} {found.event_id}: {status}")
