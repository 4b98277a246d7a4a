from typing import Any

from django.core.management.base import BaseCommand

from kennel.reservations.services import reservations_expire_due


class Command(BaseCommand):
    help = "Expire every pending hold past its time and free its puppy."

    def handle(self, *args: Any, **options: Any) -> None:
        count = reservations_expire_due()
        self.stdout.write(f"expired {count} hold(s)")
