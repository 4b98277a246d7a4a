"""The breeder's actions on reservations — refund, picked up, release, resend the
confirmation, erase the buyer: what each one's confirmation page says, in amounts and in who
is told, and the one service each calls once it is confirmed. They are offered both from the
list's action menu and as buttons on a reservation's page (<pk>/<slug>/)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    Text,
    add_messages,
    admin_change_url,
    confirm_page,
    confirmed,
    request_token,
    staff_actor,
)
from kennel.core.errors import ApplicationError, message_translated
from kennel.core.money import exact
from kennel.core.money import format_money as money
from kennel.payments.owner import (
    reservation_erase_buyer,
    reservation_keep_deposit,
    reservation_refund,
)
from kennel.payments.selectors import reservations_money
from kennel.reservations.models import Reservation
from kennel.reservations.services import (
    reservation_mark_picked_up,
    reservation_release_hold,
    reservation_resend_confirmation,
)

S = Reservation.Status

# What the refund's form refuses, and why, in the reader's language (the browser's, as
# Django's own admin texts).
KEEP_NOT_A_NUMBER = _("The amount to keep must be a number, like 0 or 50.00.")
KEEP_NEGATIVE = _("The amount to keep cannot be negative.")
KEEP_TOO_PRECISE = _("The amount to keep has more decimal places than %(currency)s has.")
KEEP_ABOVE = _("The amount to keep cannot be more than the deposit held (%(held)s).")
KEEP_ALL_OF_LIST = _(
    "A waiting list's deposit cannot be kept whole from here: leave the family on the list, "
    "or keep less than the deposit held (%(held)s)."
)
KEEP_MIXED_CURRENCIES = _(
    "The selected deposits are in different currencies: refund them keeping nothing, "
    "or one currency at a time."
)
KEEP_CHANGED = _("The amounts below are for the new amount to keep: check them, then confirm.")
NOTHING_REFUNDED = _("Nothing was refunded: %(errors)s")


@dataclass(frozen=True)
class OwnerAction:
    """One of the breeder's actions on a reservation: its admin action name, its address
    under the reservation (<pk>/<slug>/), the statuses its button is offered for, and how its
    buttons look: "danger" for one that sends money back or cannot be undone, "primary" for
    the usual next step, "plain" for a harmless one."""

    name: str
    slug: str
    button: Text
    title: Text
    confirm: Text
    statuses: tuple[str, ...]
    tone: str = "plain"


REFUND = OwnerAction(
    "refund_deposit",
    "refund",
    _("Cancel and refund"),
    _("Cancel and refund the deposit"),
    _("Yes, refund"),
    Reservation.STANDING,
    "danger",
)
PICKED_UP = OwnerAction(
    "mark_picked_up",
    "picked-up",
    _("Picked up"),
    _("Mark as picked up"),
    _("Yes, the puppy went home"),
    (S.CONFIRMED,),
    "primary",
)
RELEASE = OwnerAction(
    "release_hold",
    "release",
    _("Release the hold"),
    _("Release the hold"),
    _("Yes, release the hold"),
    (S.PENDING, S.PROCESSING),
    "danger",
)
RESEND = OwnerAction(
    "resend_confirmation",
    "resend-confirmation",
    _("Resend confirmation"),
    _("Send the buyer's confirmation email again"),
    _("Yes, send it again"),
    # Not once picked up: the email is about the visit, the go-home day and the balance due.
    (S.CONFIRMED,),
)
ERASE = OwnerAction(
    "erase_buyer",
    "erase",
    _("Erase buyer's data"),
    _("Erase the buyer's personal data"),
    _("Yes, erase it"),
    tuple(s for s in S.values if s not in Reservation.ACTIVE),
    "danger",
)
# In the order offered (buttons and the list's action menu): the usual next step first, the
# harmless one, then those that send money back or cannot be undone, last.
OWNER_ACTIONS = (PICKED_UP, RESEND, RELEASE, REFUND, ERASE)


def applies(action: OwnerAction, reservation: Reservation) -> bool:
    """Whether the action can change the reservation as it is (a waiting list's deposit has
    no puppy to hand over)."""
    if action is PICKED_UP and reservation.puppy_id is None:
        return False
    return reservation.status in action.statuses


def offered(action: OwnerAction, reservation: Reservation, held: Decimal) -> bool:
    """Whether the detail page offers the action's button for the reservation as it is."""
    if not applies(action, reservation):
        return False
    if action is REFUND:
        return held > 0
    if action in (RESEND, ERASE):
        return reservation.erased_at is None
    return True


def _puppy_and_buyer(reservation: Reservation) -> str:
    return gettext("%(what)s for %(buyer)s") % {
        "what": reservation.what,
        "buyer": reservation.buyer_name,
    }


def _owner_told() -> str:
    owner = settings.OWNER_EMAIL
    if owner:
        return gettext("you (%(owner)s)") % {"owner": owner}
    return gettext("not you: no owner address is set (OWNER_EMAIL)")


def _changed(shown: str | None, keep: Decimal) -> bool:
    """Whether the amount to keep differs from the one the page's amounts were shown for (a
    page without JavaScript cannot update them as it is typed)."""
    if shown is None:
        return False
    try:
        return Decimal(shown) != keep
    except InvalidOperation:
        return True


# --- the refund's choices -------------------------------------------------------------------


class RefundForm(forms.Form):
    """The refund confirmation's choices. The amount kept is checked against every selected
    deposit, in its currency (kennel/core/money.py)."""

    # The confirmation page offers to show the amounts again for these choices.
    recalculable = True

    amount_to_keep = forms.CharField(
        label=_("Amount to keep"),
        initial="0",
        required=False,
        max_length=20,
        help_text=_(
            "For example a fee your deposit terms allow. 0 refunds the whole deposit; the whole "
            "deposit keeps it all (non-refundable terms) and refunds nothing."
        ),
    )
    puppy_available = forms.BooleanField(
        label=_("Make the puppy available again"),
        initial=True,
        required=False,
        help_text=_("Untick to take the puppy off sale (hidden from the shop) instead."),
    )

    def __init__(
        self, *args: Any, held: Sequence[tuple[Reservation, Decimal]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.held = held
        if len(held) > 1:
            self.fields["puppy_available"].label = _("Make the puppies available again")
            self.fields["puppy_available"].help_text = _(
                "Untick to take the puppies off sale (hidden from the shop) instead."
            )
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
            if not exact(keep, reservation.currency):
                raise forms.ValidationError(
                    KEEP_TOO_PRECISE, params={"currency": reservation.currency}
                )
            held_text = money(held, reservation.currency)
            if held > 0 and keep > held:
                raise forms.ValidationError(KEEP_ABOVE, params={"held": held_text})
            if held > 0 and keep == held and reservation.puppy_id is None:
                raise forms.ValidationError(KEEP_ALL_OF_LIST, params={"held": held_text})
        return keep


@dataclass(frozen=True)
class RefundChoice:
    keep: Decimal = Decimal(0)
    puppy_available: bool = True


def keeps_all(choice: RefundChoice, held: Decimal) -> bool:
    """The breeder keeps the whole deposit held: the reservation is cancelled, nothing sent."""
    return held > 0 and choice.keep == held


# --- what each action says and does ---------------------------------------------------------


def _describe(
    action: OwnerAction, reservation: Reservation, held: Decimal, choice: RefundChoice
) -> ConfirmRow:
    """The confirmation page's line for one reservation: what happens to it, in amounts."""
    cur = reservation.currency
    email = reservation.buyer_email
    puppy = reservation.what
    status = gettext("Now: %(status)s.") % {"status": reservation.get_status_display()}
    told_buyer = gettext("Told by email: the buyer (%(email)s).") % {"email": email}
    details: list[str]
    warn = not applies(action, reservation)
    if action is REFUND:
        if reservation.status == S.REFUNDED:
            details, warn = [status, gettext("Already refunded: nothing is sent again.")], True
        elif warn or held <= 0:
            details, warn = [status, gettext("No deposit to refund: nothing happens.")], True
        else:
            if reservation.puppy_id is None:
                puppy_line = gettext("The family leaves the waiting list.")
            elif reservation.status == S.COMPLETED:
                # Gone home: the refund does not bring the puppy back (put it on sale from its
                # page if the sale fell through).
                puppy_line = (
                    gettext("%(puppy)s was picked up and stays sold.")
                    if choice.puppy_available
                    else gettext("%(puppy)s was picked up, stays sold and is hidden from the shop.")
                ) % {"puppy": puppy}
            elif not choice.puppy_available:
                puppy_line = gettext("%(puppy)s is taken off sale (hidden from the shop).") % {
                    "puppy": puppy
                }
            elif reservation.puppy is not None and not reservation.puppy.is_published:
                # Off sale already (e.g. a waiting list's litter): free, but not on the shop.
                puppy_line = gettext(
                    "%(puppy)s is free again but stays off the shop (it is off sale)."
                ) % {"puppy": puppy}
            else:
                puppy_line = gettext("%(puppy)s is available again on the shop.") % {"puppy": puppy}
            if keeps_all(choice, held):
                details = [
                    gettext("Nothing is refunded: you keep the whole deposit (%(held)s).")
                    % {"held": money(held, cur)},
                    told_buyer,
                    puppy_line,
                ]
            else:
                details = [
                    gettext(
                        "Refunded to the buyer: %(refunded)s (deposit held %(held)s, kept "
                        "%(kept)s)."
                    )
                    % {
                        "refunded": money(held - choice.keep, cur),
                        "held": money(held, cur),
                        "kept": money(choice.keep, cur),
                    },
                    gettext("Told by email: the buyer (%(email)s) and %(owner)s.")
                    % {"email": email, "owner": _owner_told()},
                    puppy_line,
                ]
    elif action is PICKED_UP and reservation.puppy_id is None:
        details = [
            status,
            gettext("A waiting list's deposit: its family has not chosen a puppy yet."),
        ]
    elif action is PICKED_UP:
        details = [
            status,
            gettext("%(puppy)s shows as sold on the shop; the reservation is completed.")
            % {"puppy": puppy},
            gettext("No email is sent."),
        ]
    elif action is RELEASE:
        if reservation.status == S.PROCESSING:
            checkout = gettext(
                "A payment is already on its way from the buyer's bank: if it completes, it "
                "confirms the reservation while %(puppy)s is still free, or is refunded."
            )
        elif reservation.provider == Reservation.Provider.PAYPAL:
            checkout = gettext(
                "PayPal's order cannot be closed, only left to lapse: if the buyer still "
                "approves it, the payment confirms the reservation while %(puppy)s is still "
                "free, or is refunded."
            )
        else:
            checkout = gettext("The Stripe checkout is closed, so it can no longer be paid.")
        details = [
            status,
            (checkout + " " + gettext("%(puppy)s is available again at once.")) % {"puppy": puppy},
            told_buyer,
        ]
    elif action is RESEND:
        details = [
            status,
            gettext("The deposit confirmation email is sent again to %(email)s.")
            % {"email": email},
        ]
    else:
        details = [
            status,
            gettext(
                "Name, email (%(email)s), phone, IP address, browser and analytics ids are "
                "replaced; amounts, payment ids and the history are kept. This cannot be undone."
            )
            % {"email": email},
            gettext("No email is sent."),
        ]
        warn = warn or reservation.erased_at is not None
    if warn and action is not REFUND:
        details.append(gettext("Not possible in this state: nothing will change."))
    return ConfirmRow(
        label=gettext("%(reservation)s — deposit %(deposit)s")
        % {
            "reservation": _puppy_and_buyer(reservation),
            "deposit": money(reservation.deposit_amount, cur),
        },
        url=admin_change_url(reservation),
        details=details,
        warn=warn,
    )


def _consequences(action: OwnerAction, choice: RefundChoice, count: int) -> list[str]:
    """What confirming does, said for one reservation or for several (`count`)."""
    one = count == 1
    if action is REFUND:
        if choice.puppy_available:
            puppy = ngettext(
                "The puppy is available again on the shop (a puppy already picked up stays sold).",
                "The puppies are available again on the shop (a puppy already picked up stays "
                "sold).",
                count,
            )
        else:
            puppy = ngettext(
                "The puppy is taken off sale (hidden from the shop).",
                "The puppies are taken off sale (hidden from the shop).",
                count,
            )
        refunded = (
            gettext(
                "The reservation is cancelled and its deposit refunded through its payment "
                "provider, less the amount you keep."
            )
            if one
            else gettext(
                "Each reservation is cancelled and its deposit refunded through its payment "
                "provider, less the amount you keep."
            )
        )
        once = gettext(
            "The money goes back once, however often this is confirmed. Keeping the whole "
            "deposit (non-refundable terms) cancels without a refund; only the buyer is told."
        )
        told = (
            gettext("The buyer and %(owner)s are told by email.")
            if one
            else gettext("Each buyer and %(owner)s are told by email.")
        )
        return [f"{refunded} {once}", told % {"owner": _owner_told()}, puppy]
    if action is PICKED_UP:
        if one:
            return [
                gettext("The puppy went home: it is marked sold and the reservation completed.")
            ]
        return [
            gettext("The puppies went home: each is marked sold and its reservation completed.")
        ]
    if action is RELEASE:
        return [
            gettext(
                "The hold is cancelled: the puppy is available again and the buyer is told by "
                "email; a Stripe checkout is closed, a PayPal order left to lapse."
            )
            if one
            else gettext(
                "Each hold is cancelled: its puppy is available again and its buyer is told "
                "by email; a Stripe checkout is closed, a PayPal order left to lapse."
            ),
            gettext(
                "A payment that still arrives confirms it if the puppy is free, or is refunded."
            ),
        ]
    if action is RESEND:
        if one:
            return [gettext("The buyer's deposit confirmation email is sent again, once.")]
        return [gettext("Each buyer's deposit confirmation email is sent again, once.")]
    return [
        gettext(
            "The buyer's personal data is erased (right to erasure); amounts, payment ids and "
            "the history stay for the books. This cannot be undone."
        )
        if one
        else gettext(
            "Each buyer's personal data is erased (right to erasure); amounts, payment ids and "
            "the history stay for the books. This cannot be undone."
        )
    ]


def _perform(
    action: OwnerAction,
    request: HttpRequest,
    reservation: Reservation,
    choice: RefundChoice,
    held: Decimal,
) -> tuple[int, str]:
    """Call the action's one service for one reservation (`held`: its deposit held, as its
    confirmation showed it); the message that says the outcome."""
    actor = staff_actor(request)
    said = {"who": _puppy_and_buyer(reservation), "what": reservation.what}
    pk = reservation.pk
    try:
        if action is REFUND and keeps_all(choice, held):
            if reservation_keep_deposit(
                reservation_id=pk,
                actor=actor,
                amount_held=held,
                puppy_available=choice.puppy_available,
            ):
                return messages.SUCCESS, gettext(
                    "%(who)s: cancelled — you keep the whole deposit of %(held)s; the buyer is "
                    "told by email."
                ) % {**said, "held": money(held, reservation.currency)}
            return messages.WARNING, gettext(
                "%(who)s: already cancelled or refunded — nothing changed."
            ) % said
        if action is REFUND:
            refund = reservation_refund(
                reservation_id=pk,
                actor=actor,
                amount_kept=choice.keep,
                puppy_available=choice.puppy_available,
            )
            if refund is None:
                return messages.WARNING, gettext(
                    "%(who)s: already refunded — nothing was sent again."
                ) % said
            return messages.SUCCESS, gettext(
                "%(who)s: %(amount)s is being refunded to %(email)s; the buyer and %(owner)s "
                "are told by email."
            ) % {
                **said,
                "amount": money(refund.amount, refund.currency),
                "email": reservation.buyer_email,
                "owner": _owner_told(),
            }
        if action is PICKED_UP:
            if reservation_mark_picked_up(reservation_id=pk, actor=actor):
                return messages.SUCCESS, gettext("%(who)s: picked up — %(what)s is sold.") % said
            return messages.WARNING, gettext(
                "%(who)s: no confirmed deposit of a puppy to hand over — nothing was changed."
            ) % said
        if action is RELEASE:
            if reservation_release_hold(reservation_id=pk, actor=actor):
                released = (
                    gettext(
                        "%(who)s: hold released — the family's place is free again; the buyer "
                        "is told by email."
                    )
                    if reservation.puppy_id is None
                    else gettext(
                        "%(who)s: hold released — %(what)s is available again; the buyer is "
                        "told by email."
                    )
                )
                return messages.SUCCESS, released % said
            return messages.WARNING, gettext(
                "%(who)s: the hold was not open any more — nothing changed."
            ) % said
        if action is RESEND:
            sent = reservation_resend_confirmation(
                reservation_id=pk, actor=actor, request_key=request_token(request)
            )
            if sent:
                return messages.SUCCESS, gettext(
                    "%(who)s: confirmation email queued to the buyer again."
                ) % said
            return messages.WARNING, gettext(
                "%(who)s: not sent — already sent for this request, or no confirmed deposit."
            ) % said
        if reservation_erase_buyer(reservation_id=pk, actor=actor):
            return messages.SUCCESS, gettext("%(who)s: the buyer's personal data is erased.") % said
        return messages.WARNING, gettext("%(who)s: already erased — nothing changed.") % said
    except ApplicationError as exc:
        return messages.ERROR, f"{said['who']}: {message_translated(exc.message)}"


# --- the confirmation flow ------------------------------------------------------------------


def confirm_or_do(
    model_admin: admin.ModelAdmin[Reservation],
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
    money = reservations_money(reservations)
    held = [(r, money[r.pk].held) for r in reservations]
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
                messages.info(request, str(KEEP_CHANGED))
        elif bound:
            ready = False  # and the page again, with the reason
            errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
            messages.error(request, NOTHING_REFUNDED % {"errors": errors})
        hidden = {"refund_form": "1", "shown_keep": str(choice.keep)}
        ready = ready and bound  # a refund is done only with the page's choices
    if ready:
        add_messages(request, [_perform(action, request, r, choice, h) for r, h in held])
        return None
    page = Confirmation(
        title=action.title,
        consequences=_consequences(action, choice, len(reservations)),
        rows=[_describe(action, r, h, choice) for r, h in held],
        confirm_label=action.confirm,
        cancel_url=cancel_url,
        action=action.name if "action" in request.POST else "",
        selected=[r.pk for r in reservations] if "action" in request.POST else [],
        form=form,
        more=more,
        hidden=hidden,
    )
    response = confirm_page(request, model_admin, page)
    # How the confirm button looks: red for money sent back or what cannot be undone.
    response.context_data = {**(response.context_data or {}), "confirm_tone": action.tone}
    return response


def object_action_view(
    model_admin: admin.ModelAdmin[Reservation],
    action: OwnerAction,
    allowed: Callable[[HttpRequest], bool],
) -> Callable[..., HttpResponse]:
    """The view behind one of the detail page's buttons: the action for that one reservation,
    back to its page once done or cancelled."""

    def view(request: HttpRequest, object_id: str) -> HttpResponse:
        if not allowed(request):
            raise PermissionDenied
        reservation = model_admin.get_object(request, unquote(object_id))
        if reservation is None:
            raise Http404("No such reservation.")
        back = admin_change_url(reservation)
        done = confirm_or_do(model_admin, request, action, [reservation], cancel_url=back)
        return done or HttpResponseRedirect(back)

    return view
