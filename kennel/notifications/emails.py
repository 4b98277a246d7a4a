"""Emails to the owner and the buyer: text + HTML from templates that share one base layout.

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

from kennel.core.models import SideEffect
from kennel.core.money import format_money
from kennel.core.outbox import DeliveryFailed, DeliveryRefused, subject_id
from kennel.payments.models import Refund
from kennel.payments.selectors import reservation_money
from kennel.reservations.effects import OWNER_EMAILS, Effect
from kennel.reservations.models import Reservation

K = Effect

# `{puppy}` and `{buyer}` are filled in, then the whole line made header-safe.
SUBJECTS = {
    K.OWNER_DEPOSIT: _("Deposit received: {puppy}, for {buyer}"),
    K.BUYER_CONFIRMATION: _("Your deposit for {puppy} is confirmed"),
    K.BUYER_PROCESSING: _("Your payment for {puppy} is being processed"),
    K.BUYER_FAILED: _("Your payment for {puppy} did not go through"),
    K.BUYER_EXPIRED: _("Your hold on {puppy} has ended"),
    K.BUYER_RELEASED: _("Your hold on {puppy} was released"),
    K.BUYER_REFUND: _("Your payment for {puppy} is being refunded"),
    K.OWNER_REFUND: _("Refund issued: {puppy}, {buyer}"),
}
# Why a refund happened, in the buyer's words (Refund.Reason values).
REFUND_REASONS = {
    Refund.Reason.LATE_PAYMENT: _(
        "your payment arrived after your hold on {puppy} had ended, and {puppy} had been "
        "reserved by another family meanwhile"
    ),
    Refund.Reason.AMOUNT_MISMATCH: _("the amount paid was not the deposit we asked for"),
    Refund.Reason.DUPLICATE_PAYMENT: _("we received more than one payment for this reservation"),
    Refund.Reason.OWNER: _("the breeder has cancelled your reservation and refunded your deposit"),
    Refund.Reason.PROVIDER: _("the breeder has refunded (part of) your deposit"),
}
# The same, told to the owner.
OWNER_REFUND_REASONS = {
    Refund.Reason.LATE_PAYMENT: _(
        "it arrived after the hold had ended, when {puppy} was already held or reserved for "
        "someone else"
    ),
    Refund.Reason.AMOUNT_MISMATCH: _("the amount paid was not the deposit"),
    Refund.Reason.DUPLICATE_PAYMENT: _("it was a second payment for the same reservation"),
    Refund.Reason.OWNER: _("you cancelled the reservation and refunded it from the back office"),
    Refund.Reason.PROVIDER: _("it was refunded at the payment provider (its dashboard)"),
}
SUBJECT_MAX = 150


def header_text(value: str, *, limit: int = SUBJECT_MAX) -> str:
    """`value` on one line: every control or line-separator character becomes a space."""
    flat = "".join(" " if not c.isprintable() else c for c in value)
    return " ".join(flat.split())[:limit]


def message_id(side_effect: SideEffect) -> str:
    """The same Message-ID on every try of one side effect, so a rare resend after a crash
    is recognisable as the same message."""
    digest = hashlib.sha256(side_effect.dedup_key.encode()).hexdigest()[:32]
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "kennel.invalid"
    return f"<kennel.{digest}@{header_text(domain, limit=200).replace(' ', '')}>"


def email_message(*, side_effect: SideEffect) -> EmailMultiAlternatives:
    """The email a side effect stands for: plain text with an HTML alternative, in its
    reader's language (email_language)."""
    reservation = Reservation.objects.select_related("puppy").get(pk=subject_id(side_effect))
    kind = K(side_effect.kind)
    with translation.override(email_language(kind, reservation)):
        return _message(side_effect, reservation, kind)


def email_language(kind: Effect, reservation: Reservation) -> str:
    """The buyer's emails in the language they reserved in; the owner's in the shop's own
    (LANGUAGE_CODE, the breeder's choice), as are a buyer's from before it was kept."""
    languages = dict(settings.LANGUAGES)
    if kind not in OWNER_EMAILS and reservation.language in languages:
        return reservation.language
    return settings.LANGUAGE_CODE


def _message(
    side_effect: SideEffect, reservation: Reservation, kind: Effect
) -> EmailMultiAlternatives:
    context = _context(side_effect, reservation)
    subject = header_text(
        SUBJECTS[kind].format(puppy=reservation.puppy.name, buyer=reservation.buyer_name)
    )
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


def _context(side_effect: SideEffect, reservation: Reservation) -> dict[str, Any]:
    puppy = reservation.puppy
    site = settings.SITE_URL.rstrip("/")
    context: dict[str, Any] = {
        "reservation": reservation,
        "puppy": puppy,
        "amount": format_money(reservation.deposit_amount, reservation.currency),
        "price": format_money(reservation.price, reservation.currency),
        "provider": reservation.get_provider_display(),
        "late": reservation.status_reason == Reservation.Reason.LATE_PAYMENT_ACCEPTED,
        "status_url": site + reservation.get_absolute_url(),
        "puppy_url": site + puppy.get_absolute_url(),
        "admin_url": site + reverse("admin:reservations_reservation_change", args=[reservation.pk]),
        "shop_name": settings.SHOP_NAME,
        "breeder_name": settings.BREEDER_NAME,
        "breeder_email": settings.BREEDER_EMAIL,
        "breeder_phone": settings.BREEDER_PHONE,
    }
    if side_effect.kind in (K.BUYER_REFUND, K.OWNER_REFUND):
        data = side_effect.data
        reason = data.get("reason", Refund.Reason.OWNER)
        reasons = OWNER_REFUND_REASONS if side_effect.kind == K.OWNER_REFUND else REFUND_REASONS
        refunded = _decimal(data.get("amount"))
        # Less than the deposit (a fee kept, a partial refund at the dashboard) is never told
        # as "in full"; what the breeder keeps is said when the breeder refunded from here.
        partial = reason in (Refund.Reason.OWNER, Refund.Reason.PROVIDER)
        partial = partial and refunded < reservation.deposit_amount
        kept = reservation_money(reservation).held if reason == Refund.Reason.OWNER else 0
        context["refund"] = {
            "amount": format_money(refunded, data.get("currency", "")),
            "partial": partial,
            "kept": format_money(Decimal(kept), reservation.currency) if kept > 0 else "",
            "reason": reason,
            "reason_text": reasons.get(reason, reasons[Refund.Reason.OWNER]).format(
                puppy=puppy.name
            ),
            "payment_id": data.get("payment_id", ""),
        }
    return context


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
