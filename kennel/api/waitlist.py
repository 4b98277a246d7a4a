from django.http import HttpRequest
from ninja import Router, Status

from kennel.api.reservations import reservation_out
from kennel.api.schemas import (
    WRITE_ERRORS,
    ErrorOut,
    NothingIn,
    PassedOut,
    PickIn,
    ReservationOut,
    WaitlistOut,
    WithdrawnOut,
)
from kennel.payments.owner import waitlist_withdraw
from kennel.reservations.models import WaitlistEntry
from kennel.reservations.picking import waitlist_pass, waitlist_pick
from kennel.reservations.selectors import TOKEN_RE
from kennel.reservations.waitlist import EntryNotFound, entry_standing

router = Router(tags=["waiting lists"])

WRITE_RULES = (
    "Only `application/json` bodies (`{}` when nothing is asked; 415 "
    "`UNSUPPORTED_MEDIA_TYPE`), and a browser's write from another site is refused (403 "
    "`CROSS_ORIGIN_REFUSED`). 404 `WAITLIST_NOT_FOUND`. 503 `LOCK_TIMEOUT` / "
    "`DATABASE_UNAVAILABLE`: try again shortly."
)


def _token(token: str) -> str:
    """A value that cannot be a token is answered without a query (it could hold a NUL byte,
    which PostgreSQL refuses with an error)."""
    if not TOKEN_RE.fullmatch(token):
        raise EntryNotFound()
    return token


@router.get(
    "{token}/",
    response={200: WaitlistOut, 404: ErrorOut},
    summary="A family's place on a waiting list",
    operation_id="get_waitlist_entry",
    description=(
        "`position` is null until the deposit is confirmed, and again once the family is no "
        "longer in line (withdrawn, passed, picked, or its deposit refunded); `turn_ends_at`, "
        "`choices` and `held` are set while the family is choosing (`status` `choosing`): "
        "`held` the puppies a shop buyer is paying for now, offered if not paid in time "
        "(choosing one is refused meanwhile: 409 `PUPPY_NOT_AVAILABLE` with "
        "`details.held_until`); "
        "`reservation` is the token of the puppy's reservation once they picked "
        "(GET /api/reservations/<token>/). 404 `WAITLIST_NOT_FOUND`."
    ),
)
def get_waitlist_entry(request: HttpRequest, token: str) -> dict[str, object]:
    standing = entry_standing(token=_token(token))
    entry = standing.entry
    reservation = entry.reservation
    return {
        "status": entry.status,
        # Only a family still in line has a place, as its page says (WaitlistEntry.in_line).
        "position": entry.position if entry.in_line else None,
        "ahead": standing.ahead,
        "turn_ends_at": standing.turn.ends_at if standing.turn is not None else None,
        "choices": [puppy.slug for puppy in standing.choices],
        "held": [{"puppy": held.puppy.slug, "until": held.until} for held in standing.held],
        "litter": entry.litter.slug,
        "deposit": reservation.deposit_amount,
        "currency": reservation.currency,
        "terms": entry.terms,
        "refund_days": entry.refund_days,
        "reservation": (
            reservation.token
            if entry.status == WaitlistEntry.Status.PICKED and reservation.puppy_id is not None
            else None
        ),
    }


@router.post(
    "{token}/pick/",
    response={201: ReservationOut, **WRITE_ERRORS},
    summary="Choose a puppy during the family's turn",
    operation_id="pick_puppy",
    description=(
        "The list deposit becomes the puppy's confirmed reservation (no second payment; the "
        "balance is due at pickup), answered as GET /api/reservations/<token>/ shows it, and "
        "the next family's turn opens. 409 `NOT_YOUR_TURN` (not this family's turn, or it ran "
        "out) / `PUPPY_NOT_AVAILABLE` (not offered to this family, or just taken; a puppy a "
        "shop buyer is paying for now: `details.held_until`, offered once that hold runs out). "
        + WRITE_RULES
        + " 422 `VALIDATION_ERROR`: `details.fields` names the bad field; 400 `BAD_REQUEST`: "
        "the body is not JSON."
    ),
)
def pick_puppy(request: HttpRequest, token: str, payload: PickIn) -> Status:
    reservation = waitlist_pick(token=_token(token), puppy_slug=payload.puppy)
    return Status(201, reservation_out(request, reservation))


@router.post(
    "{token}/pass/",
    response={200: PassedOut, **WRITE_ERRORS},
    summary="Pass the family's turn",
    operation_id="pass_turn",
    description=(
        "The deposit stays with the list per its terms (the family may withdraw separately); "
        "the next family's turn opens at once. 409 `NOT_YOUR_TURN`. " + WRITE_RULES
    ),
)
def pass_turn(request: HttpRequest, token: str, payload: NothingIn) -> dict[str, object]:
    entry = waitlist_pass(token=_token(token))
    return {"status": entry.status}


@router.post(
    "{token}/withdraw/",
    response={200: WithdrawnOut, **WRITE_ERRORS},
    summary="Leave the waiting list",
    operation_id="withdraw_from_waitlist",
    description=(
        "The deposit goes back in full through the payment provider when the terms the "
        "family accepted allow it now (`refund`), else the breeder keeps it (`refund` null). "
        "409 `NOT_WITHDRAWABLE` (not on the list, or choosing now: pass first). " + WRITE_RULES
    ),
)
def withdraw_from_waitlist(
    request: HttpRequest, token: str, payload: NothingIn
) -> dict[str, object]:
    refund = waitlist_withdraw(token=_token(token))
    return {
        "status": WaitlistEntry.Status.WITHDRAWN,
        "refund": (
            {"amount": refund.amount, "currency": refund.currency} if refund is not None else None
        ),
    }
