"""A family's page on a litter's waiting list (its token is the key, as the status page's):
where they stand, their deposit and its terms, and during their turn the puppies they may
choose. Its buttons (*Choose*, *Pass*, *Withdraw*) are CSRF-protected forms that call one
service each and answer 303; a refusal shows the page again saying why (409)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.catalogue.models import Puppy
from kennel.catalogue.views import not_found
from kennel.core.errors import ApplicationError
from kennel.core.views import posted_or_back
from kennel.payments.owner import waitlist_withdraw
from kennel.payments.selectors import payments_sent_back
from kennel.reservations.models import PickTurn, Reservation, WaitlistEntry
from kennel.reservations.picking import waitlist_pass, waitlist_pick
from kennel.reservations.views import (
    ENDED_WORDS,
    PART_REFUNDED_TEXT,
    continue_url,
    how_it_ended,
    other_payment_not_taken,
    status_money,
)
from kennel.reservations.waitlist import (
    EntryNotFound,
    Standing,
    entry_standing,
    refund_cutoff,
    withdrawal_refundable,
)

E = WaitlistEntry.Status
S = Reservation.Status
R = Reservation.Reason

STATUS_HEADLINE = {
    E.PENDING: _("Almost on the list"),
    E.WAITING: _("You are on the list"),
    E.CHOOSING: _("It is your turn to choose!"),
    E.PICKED: _("You chose your puppy"),
    E.PASSED: _("You passed your turn"),
    E.WITHDRAWN: _("You left the list"),
    E.UNPAID: _("Payment not completed"),
}
STATUS_TEXT = {
    E.PENDING: _("Waiting for your deposit… once it is paid, your place on the list is fixed."),
    E.WAITING: _("Your deposit is paid and your place is kept."),
    E.CHOOSING: _("Choose your puppy below, or pass your turn to the next family."),
    E.PICKED: _("Your puppy is reserved for you."),
    E.PASSED: _("The next family may choose now. Your deposit is kept as your terms say."),
    E.WITHDRAWN: _("You are no longer on this litter's waiting list."),
    E.UNPAID: _("The deposit was not paid, so you have no place on the list; nothing was charged."),
}
# Waiting (or passed) on a list whose picking has closed for good: no turn will come.
PICKING_CLOSED_HEADLINE = _("Picking has closed")
PICKING_CLOSED_TEXT = _(
    "Picking for this litter has closed. Your deposit stays with the breeder as your terms "
    "say; they will be in touch about a later litter."
)
# A passed turn that the family did not pass itself (PickTurn outcome).
PASSED_HEADLINES = {
    PickTurn.Outcome.TIMED_OUT: _("Your turn ran out"),
    PickTurn.Outcome.SKIPPED: _("Your turn was skipped"),
}
# Unpaid, but a payment came after its time (it is sent back, as the page says below).
UNPAID_SENT_BACK_TEXT = _("The deposit was not paid in time, so you have no place on the list.")
# Unpaid, as an approval came when the list had no place left for them (not captured).
UNPAID_NOT_CAPTURED_TEXT = _(
    "You approved the payment after the waiting list had no place left for you, so it was "
    "not taken: nothing was charged."
)
# While nothing needs the family, the page looks again by itself (their turn may come).
REFRESH_SECONDS = 30
REFRESHING = (E.PENDING, E.WAITING)


@dataclass(frozen=True)
class Choice:
    """A puppy the family may choose now (or, `held_until` set, once a shop buyer's hold on
    it runs out unpaid), with the money as they would owe it."""

    puppy: Puppy
    balance_due: Decimal  # at pickup: the price less the deposit already paid
    held_until: datetime | None = None


def _page(
    request: HttpRequest, standing: Standing, *, error: ApplicationError | None = None
) -> HttpResponse:
    entry, reservation, litter = standing.entry, standing.entry.reservation, standing.entry.litter
    deposit = reservation.deposit_amount
    status = E(entry.status)
    sent_back = payments_sent_back(reservation)
    headline, text = STATUS_HEADLINE[status], STATUS_TEXT[status]
    if status == E.UNPAID and sent_back:
        text = UNPAID_SENT_BACK_TEXT
    elif status == E.UNPAID and reservation.status_reason == R.APPROVAL_NOT_CAPTURED:
        text = UNPAID_NOT_CAPTURED_TEXT
    if status == E.PASSED:
        last = PickTurn.objects.filter(entry=entry).order_by("-created_at", "-pk").first()
        headline = (
            PASSED_HEADLINES.get(PickTurn.Outcome(last.outcome), headline) if last else headline
        )
    if status in (E.WAITING, E.PASSED) and litter.picking == litter.Picking.CLOSED:
        headline, text = PICKING_CLOSED_HEADLINE, PICKING_CLOSED_TEXT
    # In line, or in a turn with nothing to choose but a puppy that may come free: the page
    # looks again by itself (never under the hands of a family that has a choice to make).
    refreshing = status in REFRESHING or (bool(standing.held) and not standing.choices)
    ended = None
    if reservation.status == S.REFUNDED:
        ended = how_it_ended(reservation, status_money(reservation))
    context: dict[str, Any] = {
        "entry": entry,
        "litter": litter,
        "reservation": reservation,
        "headline": headline,
        "status_text": text,
        "picking_closed": litter.picking == litter.Picking.CLOSED,
        "sent_back": sent_back,
        "not_taken": other_payment_not_taken(reservation),
        # A refund not whole: part kept, or refused by the provider.
        "ended_text": PART_REFUNDED_TEXT
        if ended == "part"
        else ENDED_WORDS["failed"][1]
        if ended == "failed"
        else "",
        # Only a family still in line has a place: not one that left, picked, or was refunded.
        "on_list": entry.in_line,
        "ahead": standing.ahead,
        "turn": standing.turn,
        "choices": [
            Choice(puppy, max(puppy.price - deposit, Decimal(0))) for puppy in standing.choices
        ],
        "held": [
            Choice(held.puppy, max(held.puppy.price - deposit, Decimal(0)), held.until)
            for held in standing.held
        ],
        "paying": reservation.status in (S.PENDING, S.PROCESSING),
        "continue_url": continue_url(reservation),
        "refunded": reservation.status == S.REFUNDED,
        "can_withdraw": status in (E.WAITING, E.PASSED),
        "refundable": withdrawal_refundable(entry),
        "refund_until": refund_cutoff(entry),
        "refresh_seconds": REFRESH_SECONDS if refreshing and not error else 0,
        "error": error,
    }
    response = render(
        request, "reservations/waitlist.html", context, status=error.status if error else 200
    )
    # The token is the family's key to this page: keep it out of search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _see_other(url: str) -> HttpResponse:
    return HttpResponseRedirect(url, status=303)


@never_cache
@require_safe
def waitlist(request: HttpRequest, token: str) -> HttpResponse:
    try:
        standing = entry_standing(token=token)
    except EntryNotFound as exc:
        return not_found(request, exc)
    reservation = standing.entry.reservation
    if standing.entry.status == E.PICKED and reservation.puppy_id is not None:
        # Their deposit is now their puppy's reservation: its status page tells the rest.
        return HttpResponseRedirect(reservation.get_absolute_url())
    return _page(request, standing)


def _refused(request: HttpRequest, token: str, exc: ApplicationError) -> HttpResponse:
    """The page as it is now, saying why the family's action was refused."""
    try:
        standing = entry_standing(token=token)
    except EntryNotFound as missing:
        return not_found(request, missing)
    reservation = standing.entry.reservation
    if standing.entry.status == E.PICKED and reservation.puppy_id is not None:
        # *Choose* pressed twice: the first one took; the reservation is what they want to see.
        return _see_other(reservation.get_absolute_url())
    page = _page(request, standing, error=exc)
    if exc.retry_after is not None:
        page["Retry-After"] = str(exc.retry_after)
    return page


@never_cache
@posted_or_back("reservations:waitlist")
def pick(request: HttpRequest, token: str) -> HttpResponse:
    """*Choose* on a puppy: their deposit becomes that puppy's reservation (303 to its page)."""
    try:
        reservation = waitlist_pick(token=token, puppy_slug=request.POST.get("puppy", ""))
    except EntryNotFound as exc:
        return not_found(request, exc)
    except ApplicationError as exc:
        return _refused(request, token, exc)
    return _see_other(reservation.get_absolute_url())


@never_cache
@posted_or_back("reservations:waitlist")
def pass_turn(request: HttpRequest, token: str) -> HttpResponse:
    """*Pass*: the next family's turn opens at once; the page says what became of them."""
    try:
        entry = waitlist_pass(token=token)
    except EntryNotFound as exc:
        return not_found(request, exc)
    except ApplicationError as exc:
        return _refused(request, token, exc)
    return _see_other(entry.get_absolute_url())


@never_cache
@posted_or_back("reservations:waitlist")
def withdraw(request: HttpRequest, token: str) -> HttpResponse:
    """*Withdraw*: leave the list, the deposit refunded if the accepted terms allow it now."""
    try:
        waitlist_withdraw(token=token)
    except EntryNotFound as exc:
        return not_found(request, exc)
    except ApplicationError as exc:
        return _refused(request, token, exc)
    return _see_other(reverse("reservations:waitlist", kwargs={"token": token}))
