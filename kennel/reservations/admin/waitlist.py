"""The waiting lists in the back office: each litter's families (read-only, in position
order, with their wishes, their deposit and, during picking, who is choosing until when), and
the breeder's one change to a list — moving a family — done by waitlist.waitlist_move.

WaitlistInline is shown on the litter's page (kennel/catalogue/admin.py); WaitlistEntryAdmin
lists the families of every litter, filtered by litter and status.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import F, Prefetch, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timeuntil
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kennel.catalogue.models import Litter
from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    ReadOnlyAdmin,
    admin_change_url,
    changelist_url,
    confirm_page,
    confirmed,
    staff_actor,
)
from kennel.core.errors import ApplicationError, message_translated
from kennel.core.money import format_money
from kennel.reservations import waitlist
from kennel.reservations.models import PickTurn, WaitlistEntry

E = WaitlistEntry.Status
# Why a move is refused, in the reader's language (as Django's own admin texts).
MOVE_ONE_ONLY = _("Select one family to move (it is moved alone, the others shift by one).")
MOVE_NOT_ON_LIST = _("%(family)s is not on the list (no position): nothing to move.")
MOVE_UNCHANGED = _("%(family)s is already at position %(position)s: nothing changed.")
MOVE_DONE = _("%(family)s moved to position %(position)s; the families between shift by one.")
MOVE_REFUSED = _("%(family)s: %(refusal)s")
TRANSFER_DONE = _("%(family)s is now #%(position)s on the %(litter)s waiting list.")
TRANSFER_REFUSED = _(
    "%(family)s cannot be carried over to %(litter)s: only a family waiting or passed, with "
    "its deposit held and no puppy chosen, to another litter priced in its deposit's currency "
    "whose list has room."
)
CHOOSING_UNTIL = _('choosing until <time datetime="{iso}">{ends}</time> (in {left})')
NOW_AT = _("Now #%(position)s, %(status)s.")


def entries_shown(queryset: QuerySet[WaitlistEntry]) -> QuerySet[WaitlistEntry]:
    """Families with their deposit and their open turn (if any) read with them, in position
    order (families still paying, without a position, last)."""
    open_turns = PickTurn.objects.filter(outcome=PickTurn.Outcome.OPEN)
    return (
        queryset.select_related("litter", "reservation")
        .prefetch_related(Prefetch("turns", queryset=open_turns, to_attr="open_turns"))
        .order_by("litter", F("position").asc(nulls_last=True), "created_at")
    )


def _now_at(entry: WaitlistEntry) -> str:
    return NOW_AT % {
        "position": entry.position,
        "status": entry.get_status_display().lower(),
    }


class FamilyColumns:
    """The columns a family shows, on the litter's page as on the list of families."""

    @admin.display(description=_("family"), ordering="reservation__buyer_name")
    def family(self, entry: WaitlistEntry) -> str:
        return entry.reservation.buyer_name

    @admin.display(description=_("email"))
    def email(self, entry: WaitlistEntry) -> str:
        return entry.reservation.buyer_email

    @admin.display(description=_("phone"))
    def phone(self, entry: WaitlistEntry) -> str:
        return entry.reservation.buyer_phone

    @admin.display(description=_("wishes"))
    def wishes(self, entry: WaitlistEntry) -> str:
        parts = [entry.get_sex_display() if entry.sex != entry.Sex.ANY else gettext("any sex")]
        if entry.colour:
            parts.append(entry.colour)
        if entry.notes:
            notes = entry.notes if len(entry.notes) <= 120 else entry.notes[:119] + "…"
            parts.append(f"“{notes}”")
        return ", ".join(parts)

    @admin.display(description=_("deposit"))
    def deposit(self, entry: WaitlistEntry) -> str:
        r = entry.reservation
        return format_html(
            '{} — <a href="{}">{}</a>',
            format_money(r.deposit_amount, r.currency),
            admin_change_url(r),
            r.get_status_display(),
        )

    @admin.display(description=_("turn"))
    def turn(self, entry: WaitlistEntry) -> str:
        turns = getattr(entry, "open_turns", None)
        if turns is None:
            turns = list(entry.turns.filter(outcome=PickTurn.Outcome.OPEN))
        if not turns:
            return "—"
        ends_at = turns[0].ends_at
        return format_html(
            str(CHOOSING_UNTIL),
            iso=ends_at.isoformat(),
            ends=date_format(timezone.localtime(ends_at), "j N, H:i"),
            left=timeuntil(ends_at),
        )


class WaitlistInline(FamilyColumns, admin.TabularInline):
    """A litter's families, read-only: the list changes only through waitlist.py (joining,
    paying, picking, and the breeder's move/skip/close)."""

    model = WaitlistEntry
    fields = ("position", "family", "email", "phone", "status", "wishes", "deposit", "turn")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = _("family on the waiting list")
    verbose_name_plural = _("families on the waiting list")

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitlistEntry]:
        # A family whose payment never came has no place: it is in the list of families.
        return entries_shown(super().get_queryset(request).exclude(status=E.UNPAID))

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class MoveForm(forms.Form):
    position = forms.IntegerField(
        label=_("New position"),
        min_value=1,
        help_text=_(
            "1 chooses first. The families between the old and new place shift by one, "
            "and each family whose position changes is told by email."
        ),
    )


class TransferForm(forms.Form):
    litter = forms.ModelChoiceField(
        label=_("Later litter"),
        # Not one whose picking closed for good: the family would wait for a turn forever.
        queryset=Litter.objects.exclude(picking=Litter.Picking.CLOSED),
        help_text=_(
            "The family joins that litter's list at the end, keeping its deposit, and is "
            "told its new place by email."
        ),
    )


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(FamilyColumns, ReadOnlyAdmin):
    """The families on every litter's list, read-only; moving one is the action below."""

    list_display = (
        "litter",
        "position",
        "family",
        "email",
        "phone",
        "status",
        "wishes",
        "deposit",
        "turn",
        "joined_at",
    )
    list_display_links = ("family",)
    list_filter = ("litter", "status")
    search_fields = ("reservation__buyer_name", "reservation__buyer_email", "token")
    readonly_fields = [
        *(f.name for f in WaitlistEntry._meta.fields),
        "deposit",
        "turn",
    ]
    actions = ["move_family", "transfer_family"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WaitlistEntry]:
        return entries_shown(super().get_queryset(request))

    def has_move_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reservations.change_waitlistentry")

    @admin.action(description=_("Move the family to another position"), permissions=["move"])
    def move_family(
        self, request: HttpRequest, queryset: QuerySet[WaitlistEntry]
    ) -> TemplateResponse | None:
        """Ask for the new position on a confirmation page; then waitlist.waitlist_move."""
        entries = list(queryset[:2])  # read as get_queryset reads them
        if len(entries) != 1:
            self.message_user(request, MOVE_ONE_ONLY, messages.WARNING)
            return None
        entry = entries[0]
        family = entry.reservation.buyer_name
        if entry.position is None or entry.status not in WaitlistEntry.ON_LIST:
            self.message_user(request, MOVE_NOT_ON_LIST % {"family": family}, messages.WARNING)
            return None
        form = MoveForm(request.POST if confirmed(request) else None)
        if confirmed(request) and form.is_valid():
            position = form.cleaned_data["position"]
            try:
                moved = waitlist.waitlist_move(
                    entry_id=entry.pk, position=position, actor=staff_actor(request)
                )
            except ApplicationError as exc:
                text = MOVE_REFUSED % {"family": family, "refusal": message_translated(exc.message)}
                self.message_user(request, text, messages.WARNING)
                return None
            entry.refresh_from_db(fields=["position"])
            if moved:
                text = MOVE_DONE % {"family": family, "position": entry.position}
                self.message_user(request, text, messages.SUCCESS)
            else:
                text = MOVE_UNCHANGED % {"family": family, "position": entry.position}
                self.message_user(request, text, messages.WARNING)
            return None
        return confirm_page(request, self, self._move_confirmation(request, entry, form))

    def _move_confirmation(
        self, request: HttpRequest, entry: WaitlistEntry, form: MoveForm
    ) -> Confirmation:
        return Confirmation(
            title=gettext("Move a family on the %(litter)s waiting list")
            % {"litter": entry.litter},
            consequences=[
                gettext(
                    "The family takes the position you give; the families between its old and "
                    "new place shift by one."
                ),
                gettext("Each family whose position changes is told by email."),
            ],
            rows=[
                ConfirmRow(
                    label=entry.reservation.buyer_name,
                    url=admin_change_url(entry),
                    details=(_now_at(entry),),
                )
            ],
            confirm_label=gettext("Move the family"),
            cancel_url=changelist_url(self, request),
            action="move_family",
            selected=[entry.pk],
            form=form,
        )

    @admin.action(description=_("Carry the family over to a later litter"), permissions=["move"])
    def transfer_family(
        self, request: HttpRequest, queryset: QuerySet[WaitlistEntry]
    ) -> TemplateResponse | None:
        """Ask for the litter on a confirmation page; then waitlist.waitlist_transfer."""
        entries = list(queryset[:2])
        if len(entries) != 1:
            self.message_user(request, MOVE_ONE_ONLY, messages.WARNING)
            return None
        entry = entries[0]
        family = entry.reservation.buyer_name
        form = TransferForm(request.POST if confirmed(request) else None)
        if confirmed(request) and form.is_valid():
            litter = form.cleaned_data["litter"]
            moved = waitlist.waitlist_transfer(
                entry_id=entry.pk, litter_id=litter.pk, actor=staff_actor(request)
            )
            if moved:
                entry.refresh_from_db(fields=["position"])
                done = {"family": family, "position": entry.position, "litter": litter}
                self.message_user(request, TRANSFER_DONE % done, messages.SUCCESS)
            else:
                text = TRANSFER_REFUSED % {"family": family, "litter": litter}
                self.message_user(request, text, messages.WARNING)
            return None
        confirmation = Confirmation(
            title=gettext("Carry a family over from the %(litter)s waiting list")
            % {"litter": entry.litter},
            consequences=[
                gettext(
                    "The family leaves this litter's list and joins the chosen litter's list at "
                    "the end, with the deposit it paid."
                ),
                gettext("The family is told its new place by email."),
            ],
            rows=[
                ConfirmRow(
                    label=family,
                    url=admin_change_url(entry),
                    details=(_now_at(entry),),
                )
            ],
            confirm_label=gettext("Carry the family over"),
            cancel_url=changelist_url(self, request),
            action="transfer_family",
            selected=[entry.pk],
            form=form,
        )
        return confirm_page(request, self, confirmation)
