"""The buyer's status page (the only place a buyer sees their reservation), its *Cancel*
button, and the signed cookie by which the browser that started a hold finds it again."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from kennel.catalogue.agreement import Agreeing, for_puppy
from kennel.catalogue.models import Puppy
from kennel.core.errors import Busy
from kennel.core.models import AuditLog
from kennel.core.money import format_money
from kennel.core.views import posted_or_back
from kennel.payments.selectors import payments_sent_back, reservation_money
from kennel.reservations.limits import hold_cooldown_until
from kennel.reservations.models import Reservation
from kennel.reservations.selectors import (
    TOKEN_RE,
    confirmation_sent,
    other_approvals_not_captured,
    reservation_by_token,
)
from kennel.reservations.services import reservation_release

S = Reservation.Status

# Plain-language status, one per state; `{puppy}` is the puppy's name.
STATUS_TEXT = {
    S.PENDING: _("Waiting for your payment… this page updates by itself."),
    S.PROCESSING: _("Your bank is processing the payment… this page updates by itself."),
    S.CONFIRMED: Agreeing("Your deposit is confirmed. {puppy} is reserved for you."),
    S.COMPLETED: _("All done: {puppy} is yours. Thank you, and enjoy every day together!"),
    S.EXPIRED: _("This reservation was not paid in time; the puppy is released."),
    S.CANCELLED: _("This reservation was cancelled; the puppy is released."),
    S.RELEASED: _("The payment failed; nothing was charged."),
    S.REFUNDED: _("Your deposit was refunded."),
}
# A PayPal payment left pending is held for review by PayPal, not at the buyer's bank.
PAYPAL_PROCESSING_TEXT = _("PayPal is reviewing the payment… this page updates by itself.")
STATUS_HEADLINE = {
    S.PENDING: _("Almost there"),
    S.PROCESSING: _("Payment on its way"),
    S.CONFIRMED: Agreeing("Reserved for you!"),
    S.COMPLETED: _("Welcome home"),
    S.EXPIRED: _("Reservation expired"),
    S.CANCELLED: _("Reservation cancelled"),
    S.RELEASED: _("Payment failed"),
    S.REFUNDED: _("Deposit refunded"),
}
# A paid reservation the breeder ended ("refunded"), in the words of where its money stands
# (how_it_ended): its headline, its text and its timeline line.
ENDED_WORDS = {
    "kept": (
        _("Reservation cancelled"),
        _(
            "The breeder cancelled this reservation and kept the deposit, as the deposit "
            "terms allow."
        ),
        _("Reservation cancelled by the breeder; the deposit was kept"),
    ),
    "refunding": (
        _("Refund on its way"),
        _(
            "Your refund is on its way to the card or PayPal account you paid with; banks "
            "usually show it within 5 to 10 days."
        ),
        _("Refund requested"),
    ),
    "failed": (
        _("Refund delayed"),
        _(
            "Your refund has not gone through yet: the breeder has been told and will make "
            "sure it reaches you."
        ),
        _("Refund requested"),
    ),
    "part": (
        _("Reservation cancelled"),
        _(
            "The breeder cancelled this reservation: {refunded} of your deposit is refunded "
            "to you and {kept} stays with the breeder, as the deposit terms allow."
        ),
        _("Reservation cancelled by the breeder; part of the deposit refunded"),
    ),
}
# Part of a deposit refunded, said where the breeder's cancelling is not the story (a family's
# page on a waiting list).
PART_REFUNDED_TEXT = _(
    "Part of your deposit was refunded; the rest stays with the breeder, as the deposit terms "
    "allow."
)
# Approved after the hold ended, with the puppy someone else's by then: not captured
# (payments' payment_approval_refuse). Its headline and text, whatever the status.
NOT_CAPTURED_HEADLINE = _("{puppy} was taken by another family")
NOT_CAPTURED_TEXT = _(
    "You approved the payment after your hold had ended, and by then another family had "
    "taken {puppy}. The payment was not taken: nothing was charged."
)
# Approved after the hold ended while the same buyer holds or reserved the puppy again (e.g.
# paid by card since): not captured either, and no other family is in the story.
NOT_CAPTURED_HELD_AGAIN_HEADLINE = _("Nothing was charged")
NOT_CAPTURED_HELD_AGAIN_TEXT = _(
    "You approved this payment after this reservation had ended, and you have reserved "
    "{puppy} again since: this payment was not taken, nothing was charged."
)
# A payment approved on another checkout than the reservation's own (a second PayPal order
# for it): not captured (payments' payment_approval_refuse); the reservation stands as it is.
OTHER_NOT_TAKEN_PAID_TEXT = _(
    "You had already paid the deposit for this reservation, so the second payment you "
    "approved was not taken: nothing was charged for it."
)
OTHER_NOT_TAKEN_TEXT = _(
    "A payment you approved on another payment page for this reservation was not taken: "
    "nothing was charged for it."
)
POLLING = (S.PENDING, S.PROCESSING)
# Closed without a payment: the buyer may simply try again once the puppy is free.
RETRYABLE = (S.EXPIRED, S.CANCELLED, S.RELEASED)
# A deposit was paid: the page shows the money, as the email does.
PAID = (S.CONFIRMED, S.COMPLETED, S.REFUNDED)
# The line naming the payment method, by what happened to the payment: none for a hold that
# ended unpaid (nothing was paid with anything).
METHOD_LABEL = {
    S.PENDING: _("Paying with"),
    S.PROCESSING: _("Paying with"),
    S.CONFIRMED: _("Paid with"),
    S.COMPLETED: _("Paid with"),
    S.REFUNDED: _("Paid with"),
}
# The breeder ended it keeping some or all of the deposit: not "Refunded".
ENDED_STATUS = _("Cancelled by the breeder")

# The timeline's lines: one per audited transition ("reservations.reservation.<status>").
TIMELINE_TEXT = {
    "held": Agreeing("{puppy} held for you"),
    S.PROCESSING: _("Payment started; your bank is processing it"),
    S.CONFIRMED: _("Deposit paid: reservation confirmed"),
    "picked": _("You chose {puppy} in your turn on the waiting list"),
    S.COMPLETED: Agreeing("{puppy} went home with you"),
    S.REFUNDED: _("Deposit refunded"),
    S.EXPIRED: _("The time to pay ran out"),
    S.CANCELLED: _("Reservation cancelled"),
    S.RELEASED: _("The payment failed"),
    "approval_not_captured": _("Payment approved too late; nothing was charged"),
    "other_approval_not_captured": _("Another payment approved: not taken, nothing was charged"),
}
PAYPAL_PROCESSING_STEP = _("Payment started; PayPal is reviewing it")
AUDIT_PREFIX = "reservations.reservation."
ORDER = list(TIMELINE_TEXT)
# A waiting list's deposit, turned into this reservation when the family picked: its first
# line is their joining, not a hold of the puppy.
JOINED_TEXT = _("You joined the waiting list")


# --- the browser that started a hold -------------------------------------------------------

# The browser that started a hold keeps the reservation's token (a secret, as in the status
# page's address) in a signed cookie: it alone is offered *Continue to payment* on the
# puppy's page. A few tokens at most (a family holds one puppy, a connection a few).
RESUME_COOKIE = "kennel_holds"
RESUME_SALT = "kennel.reservations.resume"
RESUME_MAX_TOKENS = 3


def _resume_max_age() -> int:
    return settings.HOLD_MINUTES * 60


def resume_tokens(request: HttpRequest) -> list[str]:
    """The tokens this browser's signed cookie holds, newest first; none for a cookie that is
    missing, altered, forged or older than a hold."""
    value = request.get_signed_cookie(
        RESUME_COOKIE, default="", salt=RESUME_SALT, max_age=_resume_max_age()
    )
    tokens = [token for token in (value or "").split(".") if TOKEN_RE.fullmatch(token)]
    return tokens[:RESUME_MAX_TOKENS]


def _resume_set(request: HttpRequest, response: HttpResponse, tokens: list[str]) -> None:
    if not tokens:
        response.delete_cookie(RESUME_COOKIE, samesite="Lax")
        return
    response.set_signed_cookie(
        RESUME_COOKIE,
        ".".join(tokens[:RESUME_MAX_TOKENS]),
        salt=RESUME_SALT,
        max_age=_resume_max_age(),
        secure=request.is_secure() or settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def resume_remember(request: HttpRequest, response: HttpResponse, reservation: Reservation) -> None:
    """Remember on `response` that this browser started `reservation` (keeping the other
    holds it started that are still waiting for payment)."""
    others = [token for token in resume_tokens(request) if token != reservation.token]
    open_ = set(
        Reservation.objects.filter(token__in=others, status=S.PENDING).values_list(
            "token", flat=True
        )
    )
    _resume_set(request, response, [reservation.token, *(t for t in others if t in open_)])


def resume_forget(request: HttpRequest, response: HttpResponse, token: str) -> None:
    tokens = resume_tokens(request)
    if token in tokens:
        _resume_set(request, response, [t for t in tokens if t != token])


def resumable_reservation(request: HttpRequest, puppy: Puppy) -> Reservation | None:
    """This browser's own hold on `puppy`, while it waits for payment and its time runs."""
    tokens = resume_tokens(request)
    if not tokens:
        return None  # no query for the (many) visitors who hold nothing
    return Reservation.objects.filter(
        token__in=tokens, puppy=puppy, status=S.PENDING, expires_at__gt=timezone.now()
    ).first()


def browser_paid_reservation(request: HttpRequest, puppy: Puppy) -> Reservation | None:
    """This browser's own reservation of `puppy` whose payment went through or is on its way
    (paid in another tab, say): the buyer is not "another family"."""
    tokens = resume_tokens(request)
    if not tokens:
        return None
    return Reservation.objects.filter(
        token__in=tokens, puppy=puppy, status__in=(S.PROCESSING, S.CONFIRMED)
    ).first()


def browser_hold(request: HttpRequest) -> Reservation | None:
    """The newest hold this browser started that still waits for payment, on any puppy (the
    one the hold limits are counting when they refuse another)."""
    tokens = resume_tokens(request)
    if not tokens:
        return None
    holds = Reservation.objects.select_related("puppy").filter(
        token__in=tokens, status=S.PENDING, expires_at__gt=timezone.now()
    )
    by_token = {hold.token: hold for hold in holds}
    return next((by_token[t] for t in tokens if t in by_token), None)


def continue_url(reservation: Reservation) -> str:
    """The provider's page for this same checkout (never a new payment), while it can be paid:
    as the provider's API gave it when the checkout started."""
    url = reservation.checkout_url
    if reservation.status != S.PENDING or reservation.expires_at <= timezone.now():
        return ""
    return url if url.startswith(("https://", "http://")) else ""


# --- the status page --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    text: str
    at: datetime | None = None  # None: still to come

    @property
    def done(self) -> bool:
        return self.at is not None


def how_it_ended(reservation: Reservation, money: "Money | None") -> str | None:
    """For a paid reservation the breeder ended: its key in ENDED_WORDS, or None when its
    deposit simply went back in full (or it did not end that way)."""
    if reservation.status != S.REFUNDED or money is None or not money.deposit_paid:
        return None
    if reservation.status_reason == Reservation.Reason.OWNER_KEPT:
        return "kept"
    if not money.refunded and not money.refunding:
        return "failed"  # its refund was refused by the provider (the breeder is alerted)
    if money.refunded + money.refunding < money.deposit_paid:
        return "part"
    return "refunding" if money.refunding else None


def _timeline(reservation: Reservation, puppy: Puppy, ended: str | None = None) -> list[Step]:
    """What happened (the audit lines, or the reservation's own timestamps for a reservation
    older than them), then what is still to come."""
    name = puppy.name
    lines = AuditLog.objects.filter(
        object_type=Reservation._meta.label_lower,
        object_id=str(reservation.pk),
        action__in=[AUDIT_PREFIX + key for key in TIMELINE_TEXT],
    ).order_by("created_at", "id")
    seen: dict[str, datetime] = {}
    for line in lines:
        seen.setdefault(line.action.removeprefix(AUDIT_PREFIX), line.created_at)
    seen.setdefault("held", reservation.created_at)
    if reservation.confirmed_at:
        seen.setdefault(S.CONFIRMED, reservation.confirmed_at)
    if reservation.closed_at and reservation.status not in Reservation.ACTIVE:
        seen.setdefault(reservation.status, reservation.closed_at)
    from_list = "picked" in seen
    texts = dict(TIMELINE_TEXT, held=JOINED_TEXT if from_list else TIMELINE_TEXT["held"])
    if ended:
        texts[S.REFUNDED] = ENDED_WORDS[ended][2]
    if reservation.provider == Reservation.Provider.PAYPAL:
        texts[S.PROCESSING] = PAYPAL_PROCESSING_STEP
    steps = [
        Step(for_puppy(texts[key], puppy).format(puppy=name), at)
        # By time; at the same instant, in the order the states follow one another.
        for key, at in sorted(seen.items(), key=lambda item: (item[1], ORDER.index(item[0])))
    ]
    state = reservation.status
    if state in (S.PENDING, S.PROCESSING):
        if state == S.PENDING:
            steps.append(Step(gettext("Pay the deposit")))
        steps.append(Step(gettext("Reservation confirmed")))
    if state in (S.PENDING, S.PROCESSING, S.CONFIRMED):
        if settings.BREEDER_NAME:
            contact = gettext("{breeder} contacts you to arrange a visit and the go-home day")
        else:
            contact = gettext("The breeder contacts you to arrange a visit and the go-home day")
        steps.append(Step(contact.format(breeder=settings.BREEDER_NAME)))
        pickup = gettext("Pickup: you pay the balance and {name} comes home with you")
        steps.append(Step(pickup.format(name=name)))
    return steps


def _cooldown_until(reservation: Reservation) -> datetime | None:
    """Until when this buyer's own cancels keep them from holding the puppy again (the hold
    limits' cool-down: other families go first), or None."""
    if (
        reservation.status != S.CANCELLED
        or reservation.status_reason != Reservation.Reason.BUYER_CANCELLED
        or reservation.puppy_id is None
    ):
        return None
    return hold_cooldown_until(
        email=reservation.buyer_email,
        client=reservation.client_key,
        puppy_id=reservation.puppy_id,
    )


def _held_again(reservation: Reservation, puppy: Puppy) -> Reservation | None:
    """The same buyer's (same email's) open reservation of this puppy, when this one ended
    and they reserved it again (e.g. cancelled a card hold, then paid with PayPal): its page
    is theirs, and this one must not tell them the puppy is taken."""
    if reservation.status not in RETRYABLE or puppy.status == Puppy.Status.AVAILABLE:
        return None
    return (
        Reservation.objects.filter(
            puppy=puppy, buyer_email=reservation.buyer_email, status__in=Reservation.ACTIVE
        )
        .exclude(pk=reservation.pk)
        .first()
    )


@dataclass(frozen=True)
class Money:
    """The money lines of a paid reservation's page, as the buyer reads them."""

    deposit_paid: Decimal
    balance_due: Decimal  # at pickup, while the reservation stands
    price: Decimal
    refunded: Decimal
    refunding: Decimal

    @property
    def kept(self) -> Decimal:
        """What the deposit paid keeps after its refunds (sent or on their way)."""
        return max(self.deposit_paid - self.refunded - self.refunding, Decimal(0))


def status_money(reservation: Reservation) -> Money:
    books = reservation_money(reservation)
    deposit = books.deposit_paid
    if not deposit and reservation.status in Reservation.STANDING:
        # Confirmed without a payment id of its own (e.g. a waiting-list deposit turned into
        # this reservation): the deposit stands all the same.
        deposit = reservation.deposit_amount
    standing = reservation.status == S.CONFIRMED
    return Money(
        deposit_paid=deposit,
        balance_due=max(books.price - deposit, Decimal(0)) if standing else Decimal(0),
        price=books.price,
        refunded=books.refunded,
        refunding=books.refunding,
    )


def other_payment_not_taken(reservation: Reservation) -> str:
    """What the buyer reads when a payment they approved on another checkout than this
    reservation's own was not taken (other_approvals_not_captured); "" when none was."""
    if not other_approvals_not_captured(reservation):
        return ""
    paid = reservation.status in PAID or reservation.external_payment_id
    return str(OTHER_NOT_TAKEN_PAID_TEXT if paid else OTHER_NOT_TAKEN_TEXT)


def _status_page(
    request: HttpRequest, reservation: Reservation, puppy: Puppy, *, error: Busy | None = None
) -> HttpResponse:
    state = S(reservation.status)
    money = status_money(reservation) if state in PAID else None
    ended = how_it_ended(reservation, money)
    headline, text = (
        ENDED_WORDS[ended][:2] if ended else (STATUS_HEADLINE[state], STATUS_TEXT[state])
    )
    if state == S.PROCESSING and reservation.provider == Reservation.Provider.PAYPAL:
        text = PAYPAL_PROCESSING_TEXT
    words = {"puppy": puppy.name}
    if money is not None:
        words.update(
            refunded=format_money(money.refunded + money.refunding, reservation.currency),
            kept=format_money(money.kept, reservation.currency),
        )
    held_again = _held_again(reservation, puppy)
    if reservation.status_reason == Reservation.Reason.APPROVAL_NOT_CAPTURED:
        headline, text = NOT_CAPTURED_HEADLINE, NOT_CAPTURED_TEXT
        if held_again is not None:
            headline, text = NOT_CAPTURED_HELD_AGAIN_HEADLINE, NOT_CAPTURED_HELD_AGAIN_TEXT
    context: dict[str, Any] = {
        "reservation": reservation,
        "puppy": puppy,
        "photo": next(iter(puppy.photos.all()), None),
        "headline": for_puppy(headline, puppy).format(puppy=puppy.name),
        "status_text": for_puppy(text, puppy).format(**words),
        "method_label": METHOD_LABEL.get(state),
        "ended": ended,
        "status_label": ENDED_STATUS if ended in ("kept", "part") else None,
        "kept": money.kept if money is not None and ended in ("kept", "part") else None,
        "confirmation_sent": state == S.CONFIRMED and confirmation_sent(reservation),
        "polling": state in POLLING,
        # The JSON twin of this page (kennel/api); the script polls it while payment is open.
        "status_api_url": f"{get_script_prefix()}api/reservations/{reservation.token}/",
        "reference": reservation.reference,
        "timeline": _timeline(reservation, puppy, ended),
        # Whoever holds this page's address holds the token: they may continue or cancel.
        "continue_url": continue_url(reservation),
        "can_cancel": state == S.PENDING,
        "try_again": state in RETRYABLE
        and puppy.is_published
        and puppy.status == Puppy.Status.AVAILABLE,
        "cooldown_until": _cooldown_until(reservation),
        "held_again": held_again,
        "money": money,
        # A payment refunded on its own (made too late, twice, or of a wrong amount).
        "sent_back": payments_sent_back(reservation),
        "not_taken": other_payment_not_taken(reservation),
        "error": error,
    }
    response = render(
        request, "reservations/status.html", context, status=error.status if error else 200
    )
    # The token is the buyer's key to this page: keep it out of search engines.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _reservation_or_404(token: str) -> Reservation:
    reservation = reservation_by_token(token)
    if reservation is None:
        raise Http404(gettext("There is no reservation at this address."))
    return reservation


def _elsewhere(reservation: Reservation) -> HttpResponse:
    """A waiting list's deposit before its family picked (no puppy yet): its page is the
    family's page on the list."""
    url = reservation.get_absolute_url()
    if url == reverse("reservations:status", kwargs={"token": reservation.token}):
        raise Http404(gettext("There is no reservation at this address."))
    return HttpResponseRedirect(url)


@never_cache
@require_safe
def status(request: HttpRequest, token: str) -> HttpResponse:
    reservation = _reservation_or_404(token)
    if reservation.puppy is None:
        return _elsewhere(reservation)
    return _status_page(request, reservation, reservation.puppy)


@never_cache
@posted_or_back("reservations:status")
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    """The buyer's *Cancel* (a CSRF-protected form): release their pending hold at once, so
    the puppy is free for other families, then show the status page (303)."""
    reservation = _reservation_or_404(token)
    try:
        # Only a hold still waiting for payment is the buyer's to cancel; anything else is
        # left as it is and the status page says where it stands.
        reservation_release(
            reservation_id=reservation.pk,
            status=S.CANCELLED,
            actor="buyer",
            reason=Reservation.Reason.BUYER_CANCELLED,
        )
    except Busy as exc:
        if reservation.puppy is None:
            context = {"code": exc.code, "message": exc.message}
            return render(request, "503.html", context, status=exc.status)
        return _status_page(request, reservation, reservation.puppy, error=exc)
    response = HttpResponseRedirect(reservation.get_absolute_url(), status=303)
    resume_forget(request, response, reservation.token)
    return response
