from typing import Any

from django.conf import settings
from django.core.management import CommandError
from django.core.management.base import BaseCommand

from kennel.ops.demo.loader import demo_load
from kennel.ops.demo.login import demo_login_ensure


class Command(BaseCommand):
    help = (
        "Load the demo litters, puppies, photos and pages (idempotent: what exists is kept); "
        "in sandbox mode, a back-office login while the shop has none."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PAYMENTS_MODE == "live":
            # Made-up puppies and paid reservations with invented payment ids in a real shop.
            raise CommandError("load_demo is for sandbox mode only (PAYMENTS_MODE=live here).")
        self.stdout.write(str(demo_load()))
        login = demo_login_ensure()
        if login:
            self.stdout.write(login)
