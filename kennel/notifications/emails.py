"""Emails to the owner and the buyer: text + HTML from templates that share one base layout.

A waiting list's deposit is a reservation without a puppy until its family picks one: its
emails name the litter's waiting list where the others name the puppy (notifications/waitlist.py
gives the list's facts).

Everything a person typed (names, the puppy's name) reaches a header only through
`header_text`, which flattens it to one line: no CR/LF, so no injected header. In the HTML
part Django's autoescaping keeps it text, never markup.
"""

import hashlib
import re
import smtplib
from decimal import Decimal, InvalidOperation
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from kennel.catalogue.agreement import Agreeing, for_puppy
from kennel.core.models import SideEffect
from kennel.core.money import format_money
from kennel.core.outbox import DeliveryFailed, DeliveryRefused, subject_id
from kennel.notifications.waitlist import list_entry, waitlist_context, when
from kennel.payments.models import Refund
from kennel.payments.selectors import reservation_money
from kennel.reservations.effects import OWNER_EMAILS, WAITLIST_EMAILS, Effect
from kennel.reservations.models import Reservation, WaitlistEntry

K = Effect

# `{puppy}`, `{buyer}`, `{litter}`, `{position}` and `{ends}` are filled in, then the whole line
# made header-safe.
SUBJECTS = {
    K.OWNER_DEPOSIT: _("Deposit received: {puppy}, for {buyer}"),
    K.BUYER_CONFIRMATION: _("Your deposit for {puppy} is confirmed"),
    K.BUYER_PROCESSING: _("Your payment for {puppy} is being processed"),
    K.BUYER_FAILED: _("Your payment for {puppy} did not go through"),
    K.BUYER_EXPIRED: _("Your hold on {puppy} has ended"),
    K.BUYER_RELEASED: _("Your hold on {puppy} was released"),
    K.BUYER_REFUND: _("Your payment for {puppy} is being refunded"),
    K.BUYER_KEPT: _("Your reservation of {puppy} is cancelled"),
    K.OWNER_REFUND: _("Refund issued: {puppy}, {buyer}"),
    K.BUYER_HOLD_LINK: _("Your hold on {puppy}: the link to pay or cancel it"),
    K.WAITLIST_JOINED: _("You are number {position} on the waiting list for {litter}"),
    K.WAITLIST_MOVED: _("Your place on the waiting list for {litter} is now number {position}"),
    K.WAITLIST_BORN: _("{litter} is born"),
    K.WAITLIST_TURN: _("It is your turn to choose a puppy from {litter}"),
    K.WAITLIST_REMINDER: _("Your turn to choose from {litter} ends on {ends}"),
    K.WAITLIST_PASSED: _("Your turn to choose from {litter} has passed"),
    K.WAITLIST_CLOSED: _("Choosing from {litter} has closed"),
    K.OWNER_WAITLIST_JOINED: _("Waiting list for {litter}: {buyer} joined as number {position}"),
}
# The breeder's "joined" email sent once the family is no longer in line (refunded, withdrawn,
# passed or picked before the worker sent it): that money came in stays true, its place not.
OWNER_JOINED_OFF_LIST = _("Waiting list for {litter}: {buyer} joined, no longer on the list")
# The same emails about a waiting list's deposit (before its family picked a puppy).
LIST_SUBJECTS = {
    K.OWNER_DEPOSIT: _("Deposit received: waiting list for {litter}, for {buyer}"),
    K.BUYER_CONFIRMATION: _("Your deposit for the waiting list for {litter} is confirmed"),
    K.BUYER_PROCESSING: _("Your payment for the waiting list for {litter} is being processed"),
    K.BUYER_FAILED: _("Your payment for the waiting list for {litter} did not go through"),
    K.BUYER_EXPIRED: _("Your place on the waiting list for {litter} was not paid in time"),
    K.BUYER_RELEASED: _("Your place on the waiting list for {litter} was released"),
    K.BUYER_REFUND: _("Your deposit for the waiting list for {litter} is being refunded"),
    K.OWNER_REFUND: _("Refund issued: waiting list for {litter}, {buyer}"),
    K.BUYER_HOLD_LINK: _("Your place on the waiting list for {litter}: the link to pay for it"),
}
# Why a refund happened, in the buyer's words (Refund.Reason values).
REFUND_REASONS = {
    Refund.Reason.LATE_PAYMENT: Agreeing(
        "your payment arrived after your hold on {puppy} had ended, and {puppy} had been "
        "reserved by another family meanwhile"
    ),
    Refund.Reason.AMOUNT_MISMATCH: _("the amount paid was not the deposit we asked for"),
    Refund.Reason.DUPLICATE_PAYMENT: _("we received more than one payment for this reservation"),
    Refund.Reason.OWNER: _("the breeder has cancelled your reservation"),
    Refund.Reason.PROVIDER: _("the breeder has refunded (part of) your deposit"),
    Refund.Reason.WITHDRAWN: _(
        "you left {puppy} while the terms you accepted refund your deposit in full"
    ),
}
# The same, told to the owner.
OWNER_REFUND_REASONS = {
    Refund.Reason.LATE_PAYMENT: Agreeing(
        "it arrived after the hold had ended, when {puppy} was already held or reserved for "
        "someone else"
    ),
    Refund.Reason.AMOUNT_MISMATCH: _("the amount paid was not the deposit"),
    Refund.Reason.DUPLICATE_PAYMENT: _("it was a second payment for the same reservation"),
    Refund.Reason.OWNER: _("you cancelled the reservation and refunded it from the back office"),
    Refund.Reason.PROVIDER: _("it was refunded at the payment provider (its dashboard)"),
    Refund.Reason.WITHDRAWN: _(
        "the family left {puppy} while the terms they accepted refund the deposit in full"
    ),
}
# A waiting list's deposit paid late is refunded when the list had closed or filled meanwhile.
LIST_LATE_REASONS = {
    K.BUYER_REFUND: _(
        "your payment arrived after your place on {puppy} was no longer held, and the list "
        "had closed or filled meanwhile"
    ),
    K.OWNER_REFUND: _(
        "it arrived after the hold had ended, when {puppy} had closed or filled meanwhile"
    ),
}
# What a waiting list's deposit is for, where the other emails name the puppy.
LIST_NAME = _("the waiting list for {litter}")
SUBJECT_MAX = 150
WAITLIST_KINDS = (*WAITLIST_EMAILS, Effect.OWNER_WAITLIST_JOINED)


# French typography's no-break spaces (before : ; ? !, in 1 500,00 €): kept in a header as
# in the body. Neither breaks a line, so neither can start a header; Django encodes them.
NO_BREAK_SPACES = frozenset("\u00a0\u202f")


def header_text(value: str, *, limit: int = SUBJECT_MAX) -> str:
    """`value` on one line: every control or line-separator character becomes a space (runs of
    them one space); the no-break spaces of French text stay."""
    flat = "".join(c if c.isprintable() or c in NO_BREAK_SPACES else " " for c in value)
    words = " ".join(word for word in flat.split(" ") if word)
    return words.strip(" " + "".join(NO_BREAK_SPACES))[:limit]


def message_id(side_effect: SideEffect) -> str:
    """The same Message-ID on every try of one side effect, so a rare resend after a crash
    is recognisable as the same message."""
    digest = hashlib.sha256(side_effect.dedup_key.encode()).hexdigest()[:32]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "kennel.invalid"
    return f"<kennel.{digest}@{''.join(header_text(domain, limit=200).split())}>"


def email_message(*, side_effect: SideEffect) -> EmailMultiAlternatives:
    """The email a side effect stands for: plain text with an HTML alternative, in its
    reader's language (email_language)."""
    # Its list entry in the same statement: every email asks for it (list_entry).
    reservation = Reservation.objects.select_related("puppy", "waitlist_entry__litter").get(
        pk=subject_id(side_effect)
    )
    kind = K(side_effect.kind)
    entry = list_entry(reservation)
    if entry is None and (reservation.puppy is None or kind in WAITLIST_KINDS):
        raise DeliveryRefused(f"reservation {reservation.pk} has neither puppy nor list entry")
    with translation.override(email_language(kind, reservation)):
        return _message(side_effect, reservation, entry, kind)


def email_language(kind: Effect, reservation: Reservation) -> str:
    """The buyer's emails in the language they reserved in; the owner's in the shop's own
    (LANGUAGE_CODE, the breeder's choice), as are a buyer's from before it was kept."""
    languages = dict(settings.LANGUAGES)
    if kind not in OWNER_EMAILS and reservation.language in languages:
        return reservation.language
    return settings.LANGUAGE_CODE


def _message(
    side_effect: SideEffect, reservation: Reservation, entry: WaitlistEntry | None, kind: Effect
) -> EmailMultiAlternatives:
    context = _context(side_effect, reservation, entry)
    subject = header_text(_subject(kind, reservation, entry, context))
    context["subject"] = subject
    is_owner = kind in OWNER_EMAILS
    reply_to = [reservation.buyer_email] if is_owner else _breeder_addresses()
    message = EmailMultiAlternatives(
        subject=subject,
        body=_tidy(render_to_string(f"emails/{kind.value}.txt", context)),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[side_effect.recipient],
        reply_to=[header_text(address) for address in reply_to],
        headers={"Message-ID": message_id(side_effect), "Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(render_to_string(f"emails/{kind.value}.html", context), "text/html")
    return message


def email_send(*, side_effect: SideEffect) -> None:
    """Send it through the configured mail backend (EMAIL_URL), with EMAIL_TIMEOUT.

    Raises DeliveryRefused when the server refuses every recipient for good (5xx), and
    DeliveryFailed for anything a later try may get through (down, timeout, 4xx).
    """
    message_send(email_message(side_effect=side_effect))


def message_send(message: EmailMultiAlternatives) -> None:
    """Send one message, with email_send's verdicts (for other senders' emails: alerts)."""
    try:
        sent = message.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        failure = DeliveryRefused if codes and min(codes) >= 500 else DeliveryFailed
        raise failure(f"recipient refused: {exc.recipients}") from exc
    except (BadHeaderError, ValueError) as exc:
        raise DeliveryRefused(f"the message could not be built: {exc}") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"mail server: {type(exc).__name__}: {exc}") from exc
    if sent != 1:
        raise DeliveryFailed("the mail backend did not take the message")


def _subject(
    kind: Effect, reservation: Reservation, entry: WaitlistEntry | None, context: dict[str, Any]
) -> str:
    listed = reservation.puppy is None and kind in LIST_SUBJECTS
    line = LIST_SUBJECTS[kind] if listed else SUBJECTS[kind]
    if kind == K.OWNER_WAITLIST_JOINED and not context["on_list"]:
        line = OWNER_JOINED_OFF_LIST
    return str(line).format(
        puppy=context["name"],
        buyer=reservation.buyer_name,
        litter=entry.litter.name if entry is not None else "",
        position=entry.position if entry is not None else "",
        ends=context.get("turn_ends", ""),
    )


def _context(
    side_effect: SideEffect, reservation: Reservation, entry: WaitlistEntry | None
) -> dict[str, Any]:
    puppy = reservation.puppy
    site = settings.SITE_URL.rstrip("/")
    money = reservation_money(reservation)
    context: dict[str, Any] = {
        "reservation": reservation,
        "puppy": puppy,
        # Who the deposit is for in a sentence: the puppy, or the litter's waiting list.
        "name": puppy.name if puppy is not None else _name_of_list(entry),
        "amount": format_money(reservation.deposit_amount, reservation.currency),
        "price": format_money(reservation.price, reservation.currency),
        "balance": format_money(money.balance_due, reservation.currency),
        "kept": format_money(money.held, reservation.currency),  # the deposit the breeder keeps
        "provider": reservation.get_provider_display(),
        "late": reservation.status_reason == Reservation.Reason.LATE_PAYMENT_ACCEPTED,
        "status_url": site + reservation.get_absolute_url(),
        "puppy_url": site + puppy.get_absolute_url() if puppy is not None else "",
        "admin_url": site + reverse("admin:reservations_reservation_change", args=[reservation.pk]),
        "shop_name": settings.SHOP_NAME,
        "breeder_name": settings.BREEDER_NAME,
        "breeder_email": settings.BREEDER_EMAIL,
        "breeder_phone": settings.BREEDER_PHONE,
    }
    if entry is not None:
        context.update(entry=entry, litter=entry.litter)
        if puppy is None or side_effect.kind in WAITLIST_KINDS:
            context.update(waitlist_context(entry, site=site))
        if puppy is None:  # where a puppy's emails link the puppy's page
            context["litter_url"] = site + entry.litter.get_absolute_url()
    if side_effect.kind == K.BUYER_HOLD_LINK:
        context["hold_ends"] = when(reservation.expires_at)
    if side_effect.kind == K.WAITLIST_PASSED:
        # Why the turn passed, as the picking wrote it (empty for older rows: all are named).
        context["passed_why"] = side_effect.data.get("why", "")
    if side_effect.kind in (K.BUYER_REFUND, K.OWNER_REFUND):
        data = side_effect.data
        reason = data.get("reason", Refund.Reason.OWNER)
        reasons = OWNER_REFUND_REASONS if side_effect.kind == K.OWNER_REFUND else REFUND_REASONS
        reason_text = reasons.get(reason, reasons[Refund.Reason.OWNER])
        if puppy is None and reason == Refund.Reason.LATE_PAYMENT:
            reason_text = LIST_LATE_REASONS[K(side_effect.kind)]
        said = for_puppy(reason_text, puppy) if puppy is not None else str(reason_text)
        refunded = _decimal(data.get("amount"))
        # Less than the deposit (a fee kept, a partial refund at the dashboard) is never told
        # as "in full"; what the breeder keeps is said when the breeder refunded from here.
        partial = reason in (Refund.Reason.OWNER, Refund.Reason.PROVIDER)
        partial = partial and refunded < reservation.deposit_amount
        kept = money.held if reason == Refund.Reason.OWNER else 0
        context["refund"] = {
            "amount": format_money(refunded, data.get("currency", "")),
            "partial": partial,
            "kept": format_money(Decimal(kept), reservation.currency) if kept > 0 else "",
            "reason": reason,
            "reason_text": said.format(puppy=context["name"]),
            # The reason as the back office's refunds list names it, never its stored code.
            "reason_label": _reason_label(reason),
            "payment_id": data.get("payment_id", ""),
            "delayed": _refund_refused(reservation, data.get("payment_id", ""), refunded),
            # Refunds at the provider that added up to the whole deposit ended the reservation.
            "ended": reason == Refund.Reason.PROVIDER
            and reservation.status == Reservation.Status.REFUNDED
            and money.held <= 0,
        }
    return context


def _refund_refused(reservation: Reservation, payment_id: str, amount: Decimal) -> bool:
    """Whether the provider refused this refund for good before its email went (the refunds
    go first: MoneyFirst): the buyer then reads that it is delayed, as their page says."""
    status = (
        Refund.objects.filter(
            reservation=reservation, external_payment_id=payment_id, amount=amount
        )
        .order_by("-created_at")
        .values_list("status", flat=True)
        .first()
    )
    return status == Refund.Status.FAILED


def _reason_label(reason: str) -> str:
    if reason in Refund.Reason.values:
        return str(Refund.Reason(reason).label)
    return str(Refund.Reason.OWNER.label)  # as reason_text reads an unknown reason


def _name_of_list(entry: WaitlistEntry | None) -> str:
    return str(LIST_NAME).format(litter=entry.litter.name) if entry is not None else ""


def _tidy(text: str) -> str:
    """Template tags leave blank lines behind: at most one blank line in a row, one at the end."""
    return re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n"


def _breeder_addresses() -> list[str]:
    address = settings.BREEDER_EMAIL.strip() or settings.OWNER_EMAIL.strip()
    return [address] if address else []


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
