from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from kennel.core.admin import ReadOnlyAdmin
from kennel.reservations.models import Reservation


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    """Look, don't touch: a reservation only changes through reservations/services.py, so the
    admin offers no add, change or delete (it shows each reservation as a read-only page)."""

    list_display = (
        "puppy",
        "buyer_name",
        "status",
        "provider",
        "deposit",
        "created_at",
        "expires_at",
    )
    list_filter = ("status", "provider", "created_at")
    list_select_related = ("puppy",)
    search_fields = (
        "buyer_name",
        "buyer_email",
        "puppy__name",
        "provider_reference",
        "external_payment_id",
        "token",
    )
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    readonly_fields = [field.name for field in Reservation._meta.fields]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        return super().get_queryset(request).select_related("puppy")

    @admin.display(description="deposit", ordering="deposit_amount")
    def deposit(self, reservation: Reservation) -> str:
        return f"{reservation.deposit_amount} {reservation.currency}"
