"""What a reservation's back-office page shows besides its fields: the money with its
currency, the timeline from the audit trail in the breeder's words, refunds, emails, provider
events, the link to the payment, the internal notes' form and the buttons its status allows
(admin/reservations/reservation/change_form.html)."""

from typing import Any

from django import forms
from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kennel.core.admin import Text, admin_change_url
from kennel.core.models import AuditLog, SideEffect
from kennel.core.money import format_money as money
from kennel.core.text import MultilineField
from kennel.payments.admin import payment_link, reservation_events
from kennel.payments.selectors import SENT_BACK, ReservationMoney, reservation_money
from kennel.reservations.admin.actions import OWNER_ACTIONS, offered
from kennel.reservations.effects import EMAILS, Effect
from kennel.reservations.models import Reservation, WaitlistEntry

S = Reservation.Status
TIMELINE_SHOWN = 200

# Audit actions in the breeder's words; a reservation's move to a status says its label.
WHAT: dict[str, Text] = {
    "reservations.reservation.held": _("Puppy held for the buyer"),
    "reservations.reservation.buyer_erased": _("Buyer's personal data erased"),
    "reservations.reservation.confirmation_resent": _("Confirmation email sent again"),
    "reservations.reservation.late_payment_refunded": _("Late payment refunded"),
    "reservations.reservation.approval_not_captured": _("Late approval not captured"),
    "reservations.reservation.other_approval_not_captured": _(
        "Another order approved: not captured"
    ),
    "reservations.reservation.notes_changed": _("Internal notes changed"),
    "reservations.reservation.picked": _("Chosen by the family in its turn (waiting list)"),
    "payments.refund.requested": _("Refund requested"),
    "payments.refund.succeeded": _("Refund done at the provider"),
    "payments.refund.failed": _("Refund failed at the provider"),
    "payments.refund.recorded": _("Refund made at the provider recorded"),
    "payments.deposit.kept": _("Cancelled keeping the whole deposit"),
}


# Who did it, in the breeder's words: the audit trail's actors (`stripe:evt_…`, `buyer`,
# `system:hold-expiry`, `staff:anna`…); the raw one stays in the page as a tooltip.
PROVIDERS = {"stripe": "Stripe", "paypal": "PayPal"}
SYSTEM_JOBS: dict[str, Text] = {
    "hold-expiry": _("hold expiry"),
    "expire_holds": _("hold expiry"),
    "release_stranded": _("stranded hold released"),
    "reconcile_payments": _("reconciliation"),
    "worker": _("background worker"),
    "webhooks_sweep": _("webhook retry"),
    "checkout": _("checkout"),
    "load_demo": _("demo data"),
}


def actor_words(actor: str, *, viewer: str = "") -> str:
    """An audit actor as the breeder says it: "Stripe (webhook)", "the buyer", "the system
    (hold expiry)", "you (staff: anna)" — `viewer` being the username looking at the page."""
    kind, _, rest = actor.partition(":")
    if kind in PROVIDERS:
        return gettext("%(provider)s (webhook)") % {"provider": PROVIDERS[kind]}
    if kind == "buyer":
        provider = rest.rpartition(":")[2]
        if rest.startswith("return:") and provider in PROVIDERS:
            return gettext("the buyer (back from %(provider)s)") % {"provider": PROVIDERS[provider]}
        return gettext("the buyer")
    if kind == "system":
        job = SYSTEM_JOBS.get(rest, rest.replace("_", " ").replace("-", " "))
        return gettext("the system (%(job)s)") % {"job": job} if job else gettext("the system")
    if kind == "staff" and rest:
        if rest == viewer:
            return gettext("you (staff: %(user)s)") % {"user": rest}
        return gettext("staff: %(user)s") % {"user": rest}
    return actor


class NotesForm(forms.Form):
    notes = MultilineField(
        label=_("Internal notes"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 70}),
        help_text=_("Only you see these; the buyer never does."),
    )


def _what(entry: AuditLog) -> str:
    """An audit line in words: `reservations.reservation.confirmed` -> "Deposit confirmed"."""
    step = entry.action.rsplit(".", 1)[-1]
    words = WHAT.get(entry.action)
    if words is None and entry.action.startswith("reservations.reservation."):
        words = str(S(step).label) if step in S.values else None
    data = entry.data if isinstance(entry.data, dict) else {}
    reason = data.get("reason")
    if reason == Reservation.Reason.OWNER_KEPT:
        words = _("Closed")  # "refunded" is its status, but nothing was sent back
    text = str(words or entry.action)
    if reason and reason in Reservation.Reason.values and reason != step:
        text += f" — {Reservation.Reason(reason).label}"
    if data.get("kept") not in (None, "0", "0.00"):
        text += " " + gettext("(kept %(amount)s)") % {"amount": data["kept"]}
    return text


def timeline(
    reservation: Reservation, refund_ids: list[int], *, viewer: str = ""
) -> list[dict[str, Any]]:
    lines = AuditLog.objects.filter(
        Q(object_type="reservations.reservation", object_id=str(reservation.pk))
        | Q(object_type="payments.refund", object_id__in=[str(i) for i in refund_ids])
    ).order_by("created_at", "id")[:TIMELINE_SHOWN]
    return [
        {
            "when": e.created_at,
            "what": _what(e),
            "who": actor_words(e.actor, viewer=viewer),
            "actor": e.actor,
        }
        for e in lines
    ]


def _amounts(m: ReservationMoney) -> list[tuple[str, str]]:
    cur = m.currency
    rows = [
        (gettext("Puppy price"), money(m.price, cur)),
        (gettext("Deposit paid"), money(m.deposit_paid, cur)),
        (gettext("Refunded"), money(m.refunded, cur)),
    ]
    if m.refunding:
        rows.append((gettext("Being refunded"), money(m.refunding, cur)))
    rows += [
        (gettext("Deposit held"), money(m.held, cur)),
        (gettext("Balance due at pickup"), money(m.balance_due, cur)),
    ]
    return rows


def reservation_detail(
    reservation: Reservation, *, can_act: bool, viewer: str = ""
) -> dict[str, Any]:
    """The detail page's context (`kennel` in the template); the action buttons and the notes'
    form only for a user who may act (`can_act`); `viewer`, the username looking, is "you" in
    the timeline."""
    m = reservation_money(reservation)
    refunds = list(reservation.refunds.order_by("created_at", "pk"))
    events = reservation_events(reservation)
    emails = SideEffect.objects.filter(reservation_id=reservation.pk, kind__in=EMAILS).order_by(
        "created_at", "pk"
    )
    buttons = []
    if can_act:
        buttons = [
            {
                "label": a.button,
                "url": reverse(f"admin:reservations_reservation_{a.name}", args=[reservation.pk]),
                "tone": a.tone,
            }
            for a in OWNER_ACTIONS
            if offered(a, reservation, m.held)
        ]
    puppy = reservation.puppy
    return {
        "reservation": reservation,
        "amounts": [
            *_amounts(m),
            *(
                (
                    gettext("Payment refunded apart from the deposit"),
                    gettext("%(amount)s (%(reason)s; refund %(status)s)")
                    % {
                        "amount": money(r.amount, r.currency),
                        "reason": r.get_reason_display(),
                        "status": r.get_status_display().lower(),
                    },
                )
                for r in refunds
                if r.reason in SENT_BACK
            ),
            (gettext("Deposit terms accepted"), reservation.terms_version or "—"),
            (
                gettext("Buyer's language (their emails)"),
                reservation.language or settings.LANGUAGE_CODE,
            ),
        ],
        "buttons": buttons,
        "timeline": timeline(reservation, [r.pk for r in refunds], viewer=viewer),
        "refunds": [
            {
                "when": r.created_at,
                "amount": money(r.amount, r.currency),
                "status": r.get_status_display(),
                "reason": r.get_reason_display(),
                "provider_id": r.provider_refund_id,
                "error": r.last_error[:200],
                "url": admin_change_url(r),
            }
            for r in refunds
        ],
        "emails": [
            {
                "when": e.created_at,
                "what": Effect(e.kind).label,
                "to": e.recipient,
                "status": e.get_status_display(),
                "sent_at": e.sent_at,
                "attempts": e.attempts,
                "url": admin_change_url(e),
            }
            for e in emails
        ],
        "events": [
            {
                "when": e.received_at,
                "type": e.type,
                "status": e.get_status_display(),
                "event_id": e.event_id,
                "url": admin_change_url(e),
            }
            for e in events
        ],
        "payment_link": payment_link(reservation, events),
        "puppy_admin_url": admin_change_url(puppy) if puppy is not None else "",
        "puppy_public_url": puppy.get_absolute_url() if puppy is not None else "",
        "waitlist": _waitlist_entry(reservation) if puppy is None else None,
        "notes_form": NotesForm(initial={"notes": reservation.notes}),
        "notes_url": reverse("admin:reservations_reservation_notes", args=[reservation.pk]),
        "can_edit_notes": can_act,
    }


def _waitlist_entry(reservation: Reservation) -> dict[str, Any] | None:
    """A list deposit's family on its litter's list: where the puppy would be."""
    entry = WaitlistEntry.objects.filter(reservation=reservation).select_related("litter").first()
    if entry is None:
        return None
    return {
        "entry": entry,
        "litter_admin_url": admin_change_url(entry.litter),
        "entry_admin_url": admin_change_url(entry),
    }
