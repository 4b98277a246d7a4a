from typing import Any

from django.core.management.base import BaseCommand

from kennel.ops.demo.loader import demo_load


class Command(BaseCommand):
    help = "Load the demo litters, puppies and photos (idempotent: existing puppies are kept)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(str(demo_load()))
