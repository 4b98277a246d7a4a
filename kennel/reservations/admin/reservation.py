"""The reservations' ModelAdmin: the list (search, filters, the action menu, the CSV export)
and one page per reservation, with its action buttons and the internal notes."""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from kennel.core.admin import (
    ReadOnlyAdmin,
    admin_change_url,
    changelist_url,
    selected_rows,
    staff_actor,
)
from kennel.core.money import format_money
from kennel.reservations.admin.actions import (
    ERASE,
    OWNER_ACTIONS,
    PICKED_UP,
    REFUND,
    RELEASE,
    RESEND,
    OwnerAction,
    confirm_or_do,
    object_action_view,
)
from kennel.reservations.admin.detail import NotesForm, reservation_detail
from kennel.reservations.admin.export import reservations_csv
from kennel.reservations.models import Reservation
from kennel.reservations.services import reservation_set_notes

NOTES_SAVED = _("Notes saved.")
# The page is named after the puppy and the buyer (its status shows below it).
PAGE_TITLE = _("%(what)s for %(buyer)s")
NOTES_NOT_SAVED = _("The notes were not saved: %(errors)s")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Look, don't touch: a reservation changes only through the services, so the admin adds,
    changes and deletes nothing itself; the breeder's actions call those services, and only the
    internal notes are written here (through their service too)."""

    list_display = (
        "what",
        "buyer_name",
        "buyer_email",
        "buyer_phone",
        "deposit",
        "status",
        "provider",
        "created_at",
    )
    list_filter = ("status", "provider", "created_at", "currency")
    list_select_related = ("puppy", "waitlist_entry__litter")
    search_fields = (
        "id",  # the short reference a buyer reads out (its first 8 characters)
        "buyer_name",
        "buyer_email",
        "buyer_phone",
        "puppy__name",
        "puppy__slug",
        "waitlist_entry__litter__name",
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
        return super().get_queryset(request).select_related("puppy", "waitlist_entry__litter")

    @admin.display(description=_("puppy"), ordering="puppy__name")
    def what(self, reservation: Reservation) -> str:
        """The puppy, or for a list deposit its litter's waiting list (from the rows that
        get_queryset joins)."""
        return reservation.what

    @admin.display(description=_("deposit"), ordering="deposit_amount")
    def deposit(self, reservation: Reservation) -> str:
        return format_money(reservation.deposit_amount, reservation.currency)

    def has_owner_action_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reservations.change_reservation")

    # --- the owner's actions in the list's action menu (actions.py says and does them) ---

    @admin.action(description=_("Cancel and refund the deposit"), permissions=["owner_action"])
    def refund_deposit(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, REFUND, queryset)

    @admin.action(description=_("Mark as picked up (puppy sold)"), permissions=["owner_action"])
    def mark_picked_up(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, PICKED_UP, queryset)

    @admin.action(description=_("Release the hold (puppy available)"), permissions=["owner_action"])
    def release_hold(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, RELEASE, queryset)

    @admin.action(description=_("Resend the confirmation email"), permissions=["owner_action"])
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, RESEND, queryset)

    @admin.action(description=_("Erase the buyer's personal data"), permissions=["owner_action"])
    def erase_buyer(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> Any:
        return self._from_changelist(request, ERASE, queryset)

    def _from_changelist(
        self, request: HttpRequest, action: OwnerAction, queryset: QuerySet[Reservation]
    ) -> TemplateResponse | None:
        reservations, more = selected_rows(queryset.order_by("-created_at", "pk"))
        return confirm_or_do(
            self, request, action, reservations, more=more, cancel_url=changelist_url(self, request)
        )

    @admin.action(description=_("Export the selected reservations as CSV"), permissions=["view"])
    def export_csv(self, request: HttpRequest, queryset: QuerySet[Reservation]) -> HttpResponse:
        return reservations_csv(queryset)

    # --- the detail page: its buttons' addresses, its context, the notes ---

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                f"<path:object_id>/{a.slug}/",
                self.admin_site.admin_view(
                    object_action_view(self, a, self.has_owner_action_permission)
                ),
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
            kennel = reservation_detail(
                reservation,
                can_act=self.has_owner_action_permission(request),
                viewer=request.user.get_username(),
            )
            title = PAGE_TITLE % {"what": reservation.what, "buyer": reservation.buyer_name}
            extra_context = {
                **(extra_context or {}),
                "kennel": kennel,
                "title": title,
                "subtitle": None,
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def notes_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Save the internal notes — the one field written here, through its service (only
        that column, so a status changed meanwhile by a webhook is not overwritten)."""
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
            messages.error(request, NOTES_NOT_SAVED % {"errors": form.errors.as_text()})
            return HttpResponseRedirect(back)
        reservation_set_notes(
            reservation_id=reservation.pk,
            notes=form.cleaned_data["notes"],
            actor=staff_actor(request),
        )
        messages.success(request, str(NOTES_SAVED))
        return HttpResponseRedirect(back)
