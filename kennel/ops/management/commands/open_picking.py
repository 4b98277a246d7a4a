from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from kennel.catalogue.models import Litter
from kennel.reservations import picking, waitlist

ACTOR = "system:open_picking"


class Command(BaseCommand):
    help = (
        "Open picking for a litter (by its slug): the first family on its waiting list whose "
        "wishes a puppy matches gets its turn now, and is told by email."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("litter", help="the litter's slug (its page's address)")

    def handle(self, *args: Any, litter: str, **options: Any) -> None:
        found = Litter.objects.filter(slug=litter).first()
        if found is None:
            raise CommandError(f"no litter with the slug {litter!r}")
        try:
            turn = picking.picking_open(litter_id=found.pk, actor=ACTOR)
        except waitlist.WaitlistRefused as exc:
            state = found.get_picking_display().lower()
            raise CommandError(f"{found.name}: {exc.message} (picking: {state})") from exc
        if turn is None:
            self.stdout.write(
                f"{found.name}: picking opened, but nobody could be offered a puppy (no family "
                "waiting, or nothing left that matches their wishes): picking is closed."
            )
            return
        ends = timezone.localtime(turn.ends_at).strftime("%Y-%m-%d %H:%M %Z")
        self.stdout.write(
            f"{found.name}: picking open. {turn.entry.reservation.buyer_name} "
            f"(#{turn.entry.position}) chooses now, until {ends}."
        )
