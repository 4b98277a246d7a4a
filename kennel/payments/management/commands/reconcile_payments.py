from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from kennel.monitoring.models import ReconciliationRun
from kennel.monitoring.reconciliation import reconciliation_record
from kennel.payments.reconcile import payments_reconcile


def number_of_days(value: str) -> int:
    days = int(value)
    if not 0 <= days <= 3650:
        raise ValueError(value)  # argparse: "invalid number_of_days value", exit 2
    return days


class Command(BaseCommand):
    help = (
        "Ask the providers again about unsettled checkouts, then check that every captured "
        "payment is a held deposit or a refund. Exits 1 when something needs attention."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=number_of_days, default=7, help="How far back to re-read (0 to 3650)."
        )

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        started_at = timezone.now()
        result = payments_reconcile(days=days)
        # Kept for /health/webhooks/ (and the owner's alert when it needs attention).
        reconciliation_record(
            result, source=ReconciliationRun.Source.COMMAND, started_at=started_at
        )
        out = self.stdout
        out.write(f"re-read {result.checked} unsettled checkout(s) from their provider")
        for line in result.changed:
            out.write(f"  settled now: {line}")
        for unreachable in result.unreachable:
            out.write(f"  could not ask the provider: {unreachable}")
        for currency, books in sorted(result.books.items()):
            verdict = "balanced" if books.balanced else "NOT BALANCED"
            out.write(
                f"{currency}: money in {books.money_in} = held {books.held} + refunded "
                f"{books.refunded} + refunding {books.refunding}: {verdict}"
            )
        for refund in result.failed_refunds:
            out.write(
                f"  refund refused by {refund.provider}: {refund.amount} {refund.currency} "
                f"for payment {refund.external_payment_id}: {refund.last_error}"
            )
        for unaccounted in result.unaccounted:
            out.write(f"  neither held nor refunded: {unaccounted}")
        if result.needs_attention:
            out.write("needs attention")
            raise SystemExit(1)
        out.write("every captured payment is a held deposit or a refund")
