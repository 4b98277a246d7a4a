"""The reservation list's CSV export, for the breeder's spreadsheet."""

import csv
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kennel.core.money import quantize
from kennel.payments.selectors import reservations_money
from kennel.reservations.models import Reservation

BATCH = 500  # reservations read, and their refunds summed, at a time

# The export's columns: no token, no analytics ids, nothing a buyer did not type but amounts.
# Named in the breeder's language (their spreadsheet's, their accountant's), always in this
# order (README: the CSV export); the values stay as stored (ISO dates, status codes).
CSV_HEADER = [
    _("created"),
    _("status"),
    _("puppy"),
    _("buyer name"),
    _("buyer email"),
    _("buyer phone"),
    _("provider"),
    _("deposit"),
    _("currency"),
    _("refunded"),
    _("confirmed at"),
]


def _formula_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (buyers type these values)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def reservations_csv(queryset: QuerySet[Reservation]) -> HttpResponse:
    """The reservations as a CSV attachment, oldest first."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="reservations-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow([str(column) for column in CSV_HEADER])
    rows = queryset.select_related("puppy", "waitlist_entry__litter").order_by("created_at", "pk")
    batch: list[Reservation] = []
    for reservation in rows.iterator(chunk_size=BATCH):
        batch.append(reservation)
        if len(batch) == BATCH:
            _write(writer, batch)
            batch = []
    _write(writer, batch)
    return response


def _write(writer: Any, reservations: list[Reservation]) -> None:
    money = reservations_money(reservations)  # one query for the batch
    for r in reservations:
        writer.writerow(
            [
                r.created_at.isoformat(),
                r.status,
                _formula_safe(r.what),
                _formula_safe(r.buyer_name),
                _formula_safe(r.buyer_email),
                _formula_safe(r.buyer_phone),
                r.provider,
                # With the currency's places, as the pages show them: "70000" JPY, "400.00" EUR
                # (a sum comes back without its trailing zeros; no refund at all is Decimal(0)).
                quantize(r.deposit_amount, r.currency),
                r.currency,
                quantize(money[r.pk].refunded, r.currency),
                r.confirmed_at.isoformat() if r.confirmed_at else "",
            ]
        )
