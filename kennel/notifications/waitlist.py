"""What a waiting list's emails tell a family and the breeder: the litter, the family's place,
its turn, and the deposit's terms as they accepted them (kennel/reservations/waitlist.py
holds the list itself; this module only reads it)."""

from datetime import date, datetime
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import pgettext

from kennel.reservations import waitlist
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry

Terms = waitlist.Terms


def list_entry(reservation: Reservation) -> WaitlistEntry | None:
    """The waiting list entry a reservation is the deposit of (also after its family picked a
    puppy); None for a puppy's own reservation. No query when the reservation was read with
    `select_related("waitlist_entry__litter")`, as the emails read it."""
    try:
        return reservation.waitlist_entry
    except WaitlistEntry.DoesNotExist:
        return None


def when(value: datetime) -> str:
    """A moment as the emails show it: date and time in the shop's zone, with the zone."""
    # The same format (and translation) as the reservation status page's timeline.
    fmt = pgettext("date and time, with the zone (Django date format)", "j F Y, H:i T")
    return formats.date_format(timezone.localtime(value), fmt)


def waitlist_context(entry: WaitlistEntry, *, site: str) -> dict[str, Any]:
    """The facts every waiting list email may show: litter, place, turn, terms, links."""
    litter = entry.litter
    standing = waitlist.entry_standing(token=entry.token)
    # The turn this email is about may have ended before it is sent: then its end still shows.
    turn = standing.turn or PickTurn.objects.filter(entry=entry).order_by("-created_at").first()
    return {
        "entry": entry,
        "litter": litter,
        "position": entry.position,
        "ahead": standing.ahead,
        # Still in line (waiting or choosing, its deposit not refunded): its place means
        # something, as the family's page and the API say (WaitlistEntry.in_line).
        "on_list": entry.in_line,
        "turn": turn,
        "turn_open": standing.turn is not None,
        "turn_ends": when(turn.ends_at) if turn is not None else "",
        "choices": len(standing.choices),
        # What a shop buyer is paying for now: offered to the family if not paid in time.
        "held": [{"name": h.puppy.name, "until": when(h.until)} for h in standing.held],
        "preferences": {
            "sex": entry.get_sex_display(),
            "any_sex": entry.sex == WaitlistEntry.Sex.ANY,
            "colour": entry.colour,
            "notes": entry.notes,
        },
        "terms": terms_context(entry),
        "waitlist_url": site + entry.get_absolute_url(),
    }


def terms_context(entry: WaitlistEntry, *, today: date | None = None) -> dict[str, Any]:
    """The deposit terms the family accepted, and what they mean today."""
    refundable = entry.terms == Terms.REFUNDABLE
    cutoff = waitlist.refund_cutoff(entry)
    return {
        "refundable": refundable,
        "non_refundable": entry.terms == Terms.NON_REFUNDABLE,
        "transferable": entry.terms == Terms.TRANSFERABLE,
        "days": entry.refund_days,
        "cutoff": cutoff,
        "refundable_now": waitlist.withdrawal_refundable(entry, today=today),
    }
