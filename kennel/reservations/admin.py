"""The breeder's back office for reservations: one readable page per reservation (its money,
timeline, refunds, emails and provider events), and the owner's actions — refund, picked up,
release, resend the confirmation, erase the buyer — each shown on a confirmation page first
and done by one service. Only the internal notes are edited here."""

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    ReadOnlyAdmin,
    add_messages,
    admin_change_url,
    changelist_url,
    confirm_page,
    confirmed,
    request_token,
    selected_rows,
    staff_actor,
)
from kennel.core.errors import ApplicationError
from kennel.core.models import AuditLog, SideEffect
from kennel.core.money import decimals, format_money
from kennel.payments.admin import payment_link, reservation_events
from kennel.payments.owner import reservation_erase_buyer, reservation_refund
from kennel.payments.selectors import ReservationMoney, reservation_money
from kennel.reservations.effects import EMAILS, Effect
from kennel.reservations.models import Reservation
from kennel.reservations.services import (
    reservation_mark_picked_up,
    reservation_release_hold,
    reservation_resend_confirmation,
)

S = Reservation.Status
TIMELINE_SHOWN = 200

KEEP_NOT_A_NUMBER = "The amount to keep must be a number, like 0 or 50.00."
KEEP_NEGATIVE = "The amount to keep cannot be negative."
KEEP_TOO_PRECISE = "The amount to keep has more decimal places than {currency} has."
KEEP_NOT_BELOW = (
    "The amount to keep must be less than the deposit held ({held}): to keep it all, do not refund."
)
KEEP_MIXED_CURRENCIES = (
    "The selected deposits are in different currencies: refund them keeping nothing, "
    "or one currency at a time."
)


# The export's columns: no token, no analytics ids, nothing a buyer did not type but amounts.
CSV_HEADER = [
    "created",
    "status",
    "puppy",
    "buyer name",
    "buyer email",
    "buyer phone",
    "provider",
    "deposit",
    "currency",
    "refunded",
    "confirmed at",
]
KEEP_CHANGED = "The amounts below are for the new amount to keep: check them, then confirm."


def _changed(shown: str | None, keep: Decimal) -> bool:
    """Whether the amount to keep differs from the one the page's amounts were shown for (a
    page without JavaScript cannot update them as it is typed)."""
    if shown is None:
        return False
    try:
        return Decimal(shown) != keep
    except InvalidOperation:
        return True


def money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)


@dataclass(frozen=True)
class OwnerAction:
    """One of the breeder's actions on a reservation: its admin action name, its address
    under the reservation (<pk>/<slug>/), and the statuses its button is offered for."""

    name: str
    slug: str
    button: str
    title: str
    confirm: str
    statuses: tuple[str, ...]


REFUND = OwnerAction(
    "refund_deposit",
    "refund",
    "Cancel and refund",
    "Cancel and refund the deposit",
    "Yes, refund",
    (S.CONFIRMED, S.COMPLETED),
)
PICKED_UP = OwnerAction(
    "mark_picked_up",
    "picked-up",
    "Picked up",
    "Mark as picked up",
    "Yes, the puppy went home",
    (S.CONFIRMED,),
)
RELEASE = OwnerAction(
    "release_hold",
    "release",
    "Release the hold",
    "Release the hold",
    "Yes, release the hold",
    (S.PENDING, S.PROCESSING),
)
RESEND = OwnerAction(
    "resend_confirmation",
    "resend-confirmation",
    "Resend confirmation",
    "Send the buyer's confirmation email again",
    "Yes, send it again",
    (S.CONFIRMED, S.COMPLETED),
)
ERASE = OwnerAction(
    "erase_buyer",
    "erase",
    "Erase buyer's data",
    "Erase the buyer's personal data",
    "Yes, erase it",
    tuple(s for s in S.values if s not in Reservation.ACTIVE),
)
OWNER_ACTIONS = (REFUND, PICKED_UP, RELEASE, RESEND, ERASE)


def offered(action: OwnerAction, reservation: Reservation, held: Decimal) -> bool:
    """Whether the detail page offers the action's button for the reservation as it is."""
    if reservation.status not in action.statuses:
        return False
    if action is REFUND:
        return held > 0
    if action in (RESEND, ERASE):
        return reservation.erased_at is None
    return True


def _puppy_and_buyer(reservation: Reservation) -> str:
    return f"{reservation.puppy.name} for {reservation.buyer_name}"


def _owner_told() -> str:
    owner = settings.OWNER_EMAIL
    return f"you ({owner})" if owner else "not you: no owner address is set (OWNER_EMAIL)"


# --- the refund's choices -------------------------------------------------------------------


class RefundForm(forms.Form):
    """The refund confirmation's choices. The amount kept is checked against every selected
    deposit, in its currency (kennel/core/money.py)."""

    amount_to_keep = forms.CharField(
        label="Amount to keep",
        initial="0",
        required=False,
        max_length=20,
        help_text="For example a fee your deposit terms allow. 0 refunds the whole deposit.",
    )
    puppy_available = forms.BooleanField(
        label="Make the puppy available again",
        initial=True,
        required=False,
        help_text="Untick to take the puppy off sale (hidden from the shop) instead.",
    )

    def __init__(
        self, *args: Any, held: Sequence[tuple[Reservation, Decimal]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.held = held
        currencies = {r.currency for r, _ in held}
        if len(currencies) == 1:
            self.fields["amount_to_keep"].suffix = currencies.pop()  # type: ignore[attr-defined]

    def clean_amount_to_keep(self) -> Decimal:
        raw = (self.cleaned_data.get("amount_to_keep") or "0").strip().replace(" ", "")
        if "," in raw and "." not in raw:
            raw = raw.replace(",", ".")  # 50,00 as many breeders write it
        try:
            keep = Decimal(raw)
        except InvalidOperation:
            raise forms.ValidationError(KEEP_NOT_A_NUMBER) from None
        if not keep.is_finite() or abs(keep) >= Decimal(10) ** 9:
            raise forms.ValidationError(KEEP_NOT_A_NUMBER)
        if keep < 0:
            raise forms.ValidationError(KEEP_NEGATIVE)
        if keep and len({r.currency for r, _ in self.held}) > 1:
            raise forms.ValidationError(KEEP_MIXED_CURRENCIES)
        for reservation, held in self.held:
            if keep != keep.quantize(Decimal(1).scaleb(-decimals(reservation.currency))):
                raise forms.ValidationError(KEEP_TOO_PRECISE.format(currency=reservation.currency))
            if held > 0 and keep >= held:
                raise forms.ValidationError(
                    KEEP_NOT_BELOW.format(held=money(held, reservation.currency))
                )
        return keep


@dataclass(frozen=True)
class RefundChoice:
    keep: Decimal = Decimal(0)
    puppy_available: bool = True


# --- what each action says and does ---------------------------------------------------------


def _describe(
    action: OwnerAction, reservation: Reservation, held: Decimal, choice: RefundChoice
) -> ConfirmRow:
    """The confirmation page's line for one reservation: what happens to it, in amounts."""
    cur = reservation.currency
    email = reservation.buyer_email
    puppy = reservation.puppy.name
    status = f"Now: {reservation.get_status_display()}."
    details: list[str]
    warn = reservation.status not in action.statuses
    if action is REFUND:
        if reservation.status == S.REFUNDED:
            details, warn = [status, "Already refunded: nothing is sent again."], True
        elif warn or held <= 0:
            details, warn = [status, "No deposit to refund: nothing happens."], True
        else:
            puppy_line = (
                f"{puppy} is available again on the shop."
                if choice.puppy_available
                else f"{puppy} is taken off sale (hidden from the shop)."
            )
            details = [
                f"Refunded to the buyer: {money(held - choice.keep, cur)} "
                f"(deposit held {money(held, cur)}, kept {money(choice.keep, cur)}).",
                f"Told by email: the buyer ({email}) and {_owner_told()}.",
                puppy_line,
            ]
    elif action is PICKED_UP:
        details = [
            status,
            f"{puppy} shows as sold on the shop; the reservation is completed.",
            "No email is sent.",
        ]
    elif action is RELEASE:
        details = [
            status,
            f"The {reservation.get_provider_display()} checkout is closed, so it can no longer "
            f"be paid; {puppy} is available again.",
            f"Told by email: the buyer ({email}).",
        ]
    elif action is RESEND:
        details = [status, f"The deposit confirmation email is sent again to {email}."]
    else:
        details = [
            status,
            f"Name, email ({email}), phone, IP address, browser and analytics ids are "
            "replaced; amounts, payment ids and the history are kept. This cannot be undone.",
            "No email is sent.",
        ]
        warn = warn or reservation.erased_at is not None
    if warn and action is not REFUND:
        details.append("Not possible in this state: nothing will change.")
    return ConfirmRow(
        label=f"{_puppy_and_buyer(reservation)} — deposit {money(reservation.deposit_amount, cur)}",
        url=admin_change_url(reservation),
        details=details,
        warn=warn,
    )


def _consequences(action: OwnerAction, choice: RefundChoice) -> list[str]:
    if action is REFUND:
        puppy = (
            "The puppy is available again on the shop."
            if choice.puppy_available
            else "The puppy is taken off sale (hidden from the shop)."
        )
        return [
            "Each reservation is cancelled and its deposit refunded through its payment "
            "provider, less the amount you keep. The money goes back once, however often "
            "this is confirmed.",
            f"The buyer and {_owner_told()} are told by email.",
            puppy,
        ]
    if action is PICKED_UP:
        return ["The puppy went home: it is marked sold and the reservation completed."]
    if action is RELEASE:
        return [
            "The hold is cancelled: the provider's checkout is closed so it can no longer be "
            "paid, the puppy is available again and the buyer is told by email.",
            "A payment that still arrives confirms it if the puppy is free, or is refunded.",
        ]
    if action is RESEND:
        return ["The buyer's deposit confirmation email is sent again, once."]
    return [
        "The buyer's personal data is erased (right to erasure); amounts, payment ids and the "
        "history stay for the books. This cannot be undone."
    ]


def _perform(
    action: OwnerAction, request: HttpRequest, reservation: Reservation, choice: RefundChoice
) -> tuple[int, str]:
    """Call the action's one service for one reservation; the message that says the outcome."""
    actor = staff_actor(request)
    who = _puppy_and_buyer(reservation)
    pk = reservation.pk
    try:
        if action is REFUND:
            refund = reservation_refund(
                reservation_id=pk,
                actor=actor,
                amount_kept=choice.keep,
                puppy_available=choice.puppy_available,
            )
            if refund is None:
                return messages.WARNING, f"{who}: already refunded — nothing was sent again."
            return messages.SUCCESS, (
                f"{who}: {money(refund.amount, refund.currency)} is being refunded to "
                f"{reservation.buyer_email}; the buyer and {_owner_told()} are told by email."
            )
        if action is PICKED_UP:
            if reservation_mark_picked_up(reservation_id=pk, actor=actor):
                return messages.SUCCESS, f"{who}: picked up — {reservation.puppy.name} is sold."
            return messages.WARNING, f"{who}: not confirmed any more — nothing was changed."
        if action is RELEASE:
            if reservation_release_hold(reservation_id=pk, actor=actor):
                return messages.SUCCESS, (
                    f"{who}: hold released — the checkout is being closed and "
                    f"{reservation.puppy.name} is available again."
                )
            return messages.WARNING, f"{who}: the hold was not open any more — nothing changed."
        if action is RESEND:
            sent = reservation_resend_confirmation(
                reservation_id=pk, actor=actor, request_key=request_token(request)
            )
            if sent:
                return messages.SUCCESS, f"{who}: confirmation email queued to the buyer again."
            return messages.WARNING, (
                f"{who}: not sent — already sent for this request, or no confirmed deposit."
            )
        if reservation_erase_buyer(reservation_id=pk, actor=actor):
            return messages.SUCCESS, f"{who}: the buyer's personal data is erased."
        return messages.WARNING, f"{who}: already erased — nothing changed."
    except ApplicationError as exc:
        return messages.ERROR, f"{who}: {exc.message}"


# --- the detail page ------------------------------------------------------------------------


# Audit actions in the breeder's words; a reservation's move to a status says its label.
WHAT = {
    "reservations.reservation.held": "Puppy held for the buyer",
    "reservations.reservation.buyer_erased": "Buyer's personal data erased",
    "reservations.reservation.confirmation_resent": "Confirmation email sent again",
    "reservations.reservation.late_payment_refunded": "Late payment refunded",
    "payments.refund.requested": "Refund requested",
    "payments.refund.succeeded": "Refund done at the provider",
    "payments.refund.failed": "Refund failed at the provider",
    "payments.refund.recorded": "Refund made at the provider recorded",
}


def _what(entry: AuditLog) -> str:
    """An audit line in words: `reservations.reservation.confirmed` -> "Deposit confirmed"."""
    step = entry.action.rsplit(".", 1)[-1]
    words = WHAT.get(entry.action)
    if words is None and entry.action.startswith("reservations.reservation."):
        words = S(step).label if step in S.values else None
    text = words or entry.action
    data = entry.data if isinstance(entry.data, dict) else {}
    reason = data.get("reason")
    if reason and reason in Reservation.Reason.values and reason != step:
        text += f" — {Reservation.Reason(reason).label}"
    if data.get("kept") not in (None, "0", "0.00"):
        text += f" (kept {data['kept']})"
    return text


def timeline(reservation: Reservation, refund_ids: list[int]) -> list[dict[str, Any]]:
    lines = AuditLog.objects.filter(
        Q(object_type="reservations.reservation", object_id=str(reservation.pk))
        | Q(object_type="payments.refund", object_id__in=[str(i) for i in refund_ids])
    ).order_by("created_at", "id")[:TIMELINE_SHOWN]
    return [{"when": e.created_at, "what": _what(e), "who": e.actor} for e in lines]


def _amounts(m: ReservationMoney) -> list[tuple[str, str]]:
    cur = m.currency
    rows = [
        ("Puppy price", money(m.price, cur)),
        ("Deposit paid", money(m.deposit_paid, cur)),
        ("Refunded", money(m.refunded, cur)),
    ]
    if m.refunding:
        rows.append(("Being refunded", money(m.refunding, cur)))
    rows += [
        ("Deposit held", money(m.held, cur)),
        ("Balance due at pickup", money(m.balance_due, cur)),
    ]
    return rows


# --- the admin ------------------------------------------------------------------------------


class NotesForm(forms.Form):
    notes = forms.CharField(
        label="Internal notes",
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 70}),
        help_text="Only you see these; the buyer never does.",
    )


def _formula_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (buyers type these values)."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Look, don't touch: a reservation changes only through the services, so the admin adds,
    changes and deletes nothing itself; the breeder's actions call those services, and only the
    internal notes are written here."""

    list_display = (
        "puppy",
        "buyer_name",
        "buyer_email",
        "buyer_phone",
        "deposit",
        "status",
        "provider",
        "created_at",
    )
    list_filter = ("status", "provider", "created_at", "currency")
    list_select_related = ("puppy",)
    search_fields = (
        "buyer_name",
        "buyer_email",
        "buyer_phone",
        "puppy__name",
        "puppy__slug",
        "provider_reference",
        "external_payment_id",
        "token",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in Reservation._meta.fields]
    change_form_template = "admin/reservations/reservation/change_form.html"
    actions = [a.name for a in OWNER_ACTIONS] + ["export_csv"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        return super().get_queryset(request).select_related("puppy")

    @admin.display(description="deposit", ordering="deposit_amount")
    def deposit(self, reservation: Reservation) -> str:
        return money(reservation.deposit_amount, reservation.currency)

    def has_owner_action_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reservations.change_reservation")

    # --- the owner's actions: the list's action menu and the detail page's buttons ---

    @admin.action(description="Cancel and refund the deposit", permissions=["owner_action"])
    def refund_deposit(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, REFUND, queryset)

    @admin.action(description="Mark as picked up (puppy sold)", permissions=["owner_action"])
    def mark_picked_up(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, PICKED_UP, queryset)

    @admin.action(description="Release the hold (puppy available)", permissions=["owner_action"])
    def release_hold(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, RELEASE, queryset)

    @admin.action(description="Resend the confirmation email", permissions=["owner_action"])
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, RESEND, queryset)

    @admin.action(description="Erase the buyer's personal data", permissions=["owner_action"])
    def erase_buyer(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, ERASE, queryset)

    def _from_changelist(
        self, request: HttpRequest, action: OwnerAction, queryset: QuerySet[Reservation]
    ) -> TemplateResponse | None:
        reservations, more = selected_rows(queryset.order_by("-created_at", "pk"))
        return self._confirm_or_do(
            request, action, reservations, more=more, cancel_url=changelist_url(self, request)
        )

    def _object_action(self, action: OwnerAction) -> Callable[..., HttpResponse]:
        def view(request: HttpRequest, object_id: str) -> HttpResponse:
            if not self.has_owner_action_permission(request):
                raise PermissionDenied
            reservation = self.get_object(request, unquote(object_id))
            if reservation is None:
                raise Http404("No such reservation.")
            back = admin_change_url(reservation)
            done = self._confirm_or_do(request, action, [reservation], cancel_url=back)
            return done or HttpResponseRedirect(back)

        return view

    def _confirm_or_do(
        self,
        request: HttpRequest,
        action: OwnerAction,
        reservations: list[Reservation],
        *,
        cancel_url: str,
        more: int = 0,
    ) -> TemplateResponse | None:
        """Show the action's confirmation page, or — once it is confirmed (and, for a refund,
        its choices are valid and the amounts shown were those of the choices) — do it for
        each reservation and leave the outcomes as messages (None: the caller redirects)."""
        held = [(r, reservation_money(r).held) for r in reservations]
        form, choice, ready = None, RefundChoice(), confirmed(request)
        hidden: dict[str, str] = {}
        if action is REFUND:
            bound = request.method == "POST" and "refund_form" in request.POST
            form = RefundForm(request.POST if bound else None, held=held)
            if bound and form.is_valid():
                choice = RefundChoice(
                    keep=form.cleaned_data["amount_to_keep"],
                    puppy_available=form.cleaned_data["puppy_available"],
                )
                if ready and _changed(request.POST.get("shown_keep"), choice.keep):
                    ready = False
                    messages.info(request, KEEP_CHANGED)
            elif bound:
                ready = False  # and the page again, with the reason
                errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
                messages.error(request, f"Nothing was refunded: {errors}")
            hidden = {"refund_form": "1", "shown_keep": str(choice.keep)}
            ready = ready and bound  # a refund is done only with the page's choices
        if ready:
            add_messages(request, [_perform(action, request, r, choice) for r in reservations])
            return None
        page = Confirmation(
            title=action.title,
            consequences=_consequences(action, choice),
            rows=[_describe(action, r, h, choice) for r, h in held],
            confirm_label=action.confirm,
            cancel_url=cancel_url,
            action=action.name if "action" in request.POST else "",
            selected=[r.pk for r in reservations] if "action" in request.POST else [],
            form=form,
            more=more,
            hidden=hidden,
        )
        return confirm_page(request, self, page)

    @admin.action(description="Export the selected reservations as CSV", permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="reservations-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for r in queryset.select_related("puppy").order_by("created_at", "pk").iterator():
            writer.writerow(
                [
                    r.created_at.isoformat(),
                    r.status,
                    _formula_safe(r.puppy.name),
                    _formula_safe(r.buyer_name),
                    _formula_safe(r.buyer_email),
                    _formula_safe(r.buyer_phone),
                    r.provider,
                    r.deposit_amount,
                    r.currency,
                    reservation_money(r).refunded,
                    r.confirmed_at.isoformat() if r.confirmed_at else "",
                ]
            )
        return response

    # --- the detail page ---

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                f"<path:object_id>/{a.slug}/",
                self.admin_site.admin_view(self._object_action(a)),
                name=f"reservations_reservation_{a.name}",
            )
            for a in OWNER_ACTIONS
        ]
        own.append(
            path(
                "<path:object_id>/notes/",
                self.admin_site.admin_view(self.notes_view),
                name="reservations_reservation_notes",
            )
        )
        return own + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        reservation = self.get_object(request, unquote(object_id))
        if reservation is not None:
            extra_context = {**(extra_context or {}), **self._detail(request, reservation)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _detail(self, request: HttpRequest, reservation: Reservation) -> dict[str, Any]:
        m = reservation_money(reservation)
        refunds = list(reservation.refunds.order_by("created_at", "pk"))
        events = reservation_events(reservation)
        emails = SideEffect.objects.filter(reservation_id=reservation.pk, kind__in=EMAILS).order_by(
            "created_at", "pk"
        )
        buttons = []
        if self.has_owner_action_permission(request):
            buttons = [
                (
                    a.button,
                    reverse(f"admin:reservations_reservation_{a.name}", args=[reservation.pk]),
                )
                for a in OWNER_ACTIONS
                if offered(a, reservation, m.held)
            ]
        puppy = reservation.puppy
        return {
            "kennel": {
                "reservation": reservation,
                "amounts": _amounts(m),
                "buttons": buttons,
                "timeline": timeline(reservation, [r.pk for r in refunds]),
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
                "puppy_admin_url": admin_change_url(puppy),
                "puppy_public_url": puppy.get_absolute_url(),
                "notes_form": NotesForm(initial={"notes": reservation.notes}),
                "notes_url": reverse("admin:reservations_reservation_notes", args=[reservation.pk]),
                "can_edit_notes": self.has_owner_action_permission(request),
            }
        }

    def notes_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Save the internal notes — the one field written here, and only that column (a
        status changed meanwhile by a webhook is not overwritten)."""
        reservation = self.get_object(request, unquote(object_id))
        if reservation is None:
            raise Http404("No such reservation.")
        back = admin_change_url(reservation)
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not self.has_owner_action_permission(request):
            raise PermissionDenied
        form = NotesForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The notes were not saved: " + form.errors.as_text())
            return HttpResponseRedirect(back)
        notes = form.cleaned_data["notes"]
        if notes != reservation.notes:
            Reservation.objects.filter(pk=reservation.pk).update(
                notes=notes, updated_at=timezone.now()
            )
            self.log_change(request, reservation, [{"changed": {"fields": ["internal notes"]}}])
        messages.success(request, "Notes saved.")
        return HttpResponseRedirect(back)
