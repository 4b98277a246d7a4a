import contextlib
import json
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kennel.core.admin import (
    Confirmation,
    ConfirmRow,
    ReadOnlyAdmin,
    admin_change_url,
    attempts_line,
    changelist_url,
    confirm_page,
    confirmed,
    last_error_line,
    selected_rows,
    staff_actor,
)
from kennel.core.money import UnknownCurrency, format_money, from_minor_units
from kennel.payments.models import Refund, WebhookEvent, WebhookRejection
from kennel.payments.webhooks import webhook_events_replay
from kennel.reservations.models import Reservation

# The newest provider events shown on a reservation's page.
EVENTS_SHOWN = 50
# How many id-like values of one event body are looked up as a reservation's ids.
EVENT_IDS_MAX = 200


def _reservation_link(reservation: Reservation | None) -> str:
    if reservation is None:
        return "—"
    return format_html(
        '<a href="{}">{} for {}</a>',
        admin_change_url(reservation),
        reservation.what,
        reservation.buyer_name,
    )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Every refund Kennel sent or tried to send; a failed one carries the provider's reason."""

    list_display = ("created_at", "reservation_link", "amount_display", "reason", "status")
    list_filter = ("status", "reason", "provider", "currency")
    list_select_related = ("reservation__puppy", "reservation__waitlist_entry__litter")
    search_fields = (
        "external_payment_id",
        "provider_refund_id",
        "reservation__buyer_name",
        "reservation__buyer_email",
    )
    readonly_fields = ["reservation_link", "amount_display"] + [
        field.name for field in Refund._meta.fields
    ]

    @admin.display(description=_("reservation"))
    def reservation_link(self, refund: Refund) -> str:
        if refund.reservation_id is None:
            return "— (a payment no reservation took)"
        return _reservation_link(refund.reservation)

    @admin.display(description=_("amount"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return format_money(refund.amount, refund.currency)


def _event_object(event: WebhookEvent) -> dict[str, Any]:
    """The payment object an event carries (Stripe `data.object`, PayPal `resource`)."""
    try:
        body = json.loads(event.body)
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    found = (body.get("data") or {}).get("object") if "data" in body else body.get("resource")
    return found if isinstance(found, dict) else {}


def event_amount(event: WebhookEvent) -> str:
    """The amount an event speaks of, with its currency, or "—"."""
    obj = _event_object(event)
    try:
        if event.provider == "stripe":
            for key in ("amount_total", "amount_received", "amount"):
                if isinstance(obj.get(key), int) and obj.get("currency"):
                    currency = str(obj["currency"]).upper()
                    return format_money(from_minor_units(obj[key], currency), currency)
            return "—"
        amount = obj.get("amount") or {}
        if isinstance(amount, dict) and amount.get("value") and amount.get("currency_code"):
            currency = str(amount["currency_code"])
            return format_money(Decimal(str(amount["value"])), currency)
    except (InvalidOperation, UnknownCurrency, ValueError, TypeError):
        pass
    return "—"


def _id_values(value: Any, found: set[str]) -> None:
    """Every id-like string in an event body (checkout, payment, order ids, our reservation
    id in the metadata), whatever the event's shape."""
    if len(found) >= EVENT_IDS_MAX:
        return
    if isinstance(value, dict):
        for item in value.values():
            _id_values(item, found)
    elif isinstance(value, list):
        for item in value:
            _id_values(item, found)
    elif isinstance(value, str) and 8 <= len(value) <= 255 and not any(c.isspace() for c in value):
        found.add(value)


def reservations_of_events(events: list[WebhookEvent]) -> dict[int, Reservation]:
    """The reservation each event names (by its checkout, payment or id), in one query."""
    ids: dict[int, set[str]] = {}
    for event in events:
        found: set[str] = set()
        with contextlib.suppress(ValueError):
            _id_values(json.loads(event.body), found)
        ids[event.pk] = found
    every = set().union(*ids.values()) if ids else set()
    if not every:
        return {}
    uuids = [v for v in every if len(v) == 36 and v.count("-") == 4]
    candidates = Reservation.objects.select_related("puppy", "waitlist_entry__litter").filter(
        Q(provider_reference__in=every) | Q(external_payment_id__in=every) | Q(pk__in=_uuids(uuids))
    )
    by_value: dict[tuple[str, str], Reservation] = {}
    for r in candidates:
        for value in (r.provider_reference, r.external_payment_id, str(r.pk)):
            if value:
                by_value[(r.provider, value)] = r
    named: dict[int, Reservation] = {}
    for event in events:
        for value in ids[event.pk]:
            if (event.provider, value) in by_value:
                named[event.pk] = by_value[(event.provider, value)]
                break
    return named


def _uuids(values: list[str]) -> list[str]:
    valid = []
    for v in values:
        try:
            valid.append(str(uuid.UUID(v)))
        except ValueError:
            continue
    return valid


class EventChangeList(ChangeList):
    """The events' list, with the reservation each names found for the whole page at once."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        events = list(self.result_list)
        named = reservations_of_events(events)
        for event in events:
            event.kennel_reservation = named.get(event.pk)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    """Provider deliveries as received. Replay processes them again on the worker (the payment
    is re-read from the provider, so a replay changes only what is not yet so)."""

    list_display = (
        "received_at",
        "provider",
        "type",
        "amount",
        "reservation_link",
        "event_id",
        "status",
        "attempts",
    )
    list_filter = ("provider", "status", "type")
    search_fields = ("event_id",)
    readonly_fields = ["reservation_link", "amount"] + [
        field.name for field in WebhookEvent._meta.fields
    ]
    actions = ["replay_events"]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return EventChangeList

    @admin.display(description=_("amount"))
    def amount(self, event: WebhookEvent) -> str:
        return event_amount(event)

    @admin.display(description=_("reservation"))
    def reservation_link(self, event: WebhookEvent) -> str:
        if not hasattr(event, "kennel_reservation"):
            event.kennel_reservation = reservations_of_events([event]).get(event.pk)  # type: ignore[attr-defined]
        return _reservation_link(event.kennel_reservation)  # type: ignore[attr-defined]

    @admin.action(description=_("Process the selected events again"), permissions=["replay"])
    def replay_events(
        self, request: HttpRequest, queryset: QuerySet[WebhookEvent]
    ) -> TemplateResponse | None:
        events, more = selected_rows(queryset.order_by("pk"))
        if not confirmed(request):
            return confirm_page(request, self, self._replay_confirmation(request, events, more))
        queued = webhook_events_replay(event_ids=[e.pk for e in events], actor=staff_actor(request))
        text = ngettext(
            "%(count)s event queued to be processed again.",
            "%(count)s events queued to be processed again.",
            queued,
        )
        self.message_user(request, text % {"count": queued}, messages.SUCCESS)
        if queued < len(events):
            busy = len(events) - queued
            text = ngettext(
                "%(count)s event was being processed right now and was left alone.",
                "%(count)s events were being processed right now and were left alone.",
                busy,
            )
            self.message_user(request, text % {"count": busy}, messages.WARNING)
        return None

    def _replay_confirmation(
        self, request: HttpRequest, events: list[WebhookEvent], more: int
    ) -> Confirmation:
        named = reservations_of_events(events)
        rows = []
        for e in events:
            reservation = named.get(e.pk)
            details = [
                gettext("%(attempts)s, received %(received)s")
                % {
                    "attempts": attempts_line(e.get_status_display(), e.attempts),
                    "received": f"{timezone.localtime(e.received_at):%Y-%m-%d %H:%M}",
                }
            ]
            if reservation is not None:
                details.append(
                    gettext("About %(what)s for %(buyer)s.")
                    % {"what": reservation.what, "buyer": reservation.buyer_name}
                )
            if e.last_error:
                details.append(last_error_line(e.last_error))
            rows.append(
                ConfirmRow(
                    label=f"{e.provider} {e.type} {e.event_id}",
                    url=admin_change_url(e),
                    details=details,
                )
            )
        return Confirmation(
            title=gettext("Process provider events again"),
            consequences=[
                gettext(
                    "The event is processed again on the worker: Kennel re-reads its payment "
                    "from its provider and applies only what is not yet so."
                )
                if len(events) == 1
                else gettext(
                    "The %(count)s events are processed again on the worker: Kennel re-reads "
                    "each payment from its provider and applies only what is not yet so."
                )
                % {"count": len(events)},
                gettext(
                    "An event that already took effect changes nothing and sends no email twice."
                ),
            ],
            rows=rows,
            confirm_label=gettext("Yes, process them again"),
            cancel_url=changelist_url(self, request),
            action="replay_events",
            selected=[e.pk for e in events],
            more=more,
        )

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("payments.change_webhookevent")


def reservation_events(reservation: Reservation) -> list[WebhookEvent]:
    """The provider events that name the reservation (its checkout, its payment or its id):
    events have no foreign key, so their bodies are searched, newest EVENTS_SHOWN at most."""
    ids = [i for i in (reservation.provider_reference, reservation.external_payment_id) if i]
    naming = Q(body__contains=str(reservation.pk))
    for i in ids:
        naming |= Q(body__contains=i)
    found = WebhookEvent.objects.filter(naming, provider=reservation.provider).order_by(
        "-received_at"
    )[:EVENTS_SHOWN]
    return sorted(found, key=lambda e: e.received_at)


def _sandbox_charge(payment_intent: str, events: list[WebhookEvent]) -> str | None:
    """The charge of a payment intent, from a stored Stripe charge event (the sandbox's
    receipt page is per charge)."""
    for event in events:
        try:
            obj = json.loads(event.body)["data"]["object"]
        except (ValueError, KeyError, TypeError):
            continue
        if obj.get("object") == "charge" and obj.get("payment_intent") == payment_intent:
            return str(obj["id"])
    return None


def payment_link(reservation: Reservation, events: list[WebhookEvent]) -> tuple[str, str] | None:
    """Where the breeder sees the payment at the provider: (url, label), or None. In sandbox
    mode the sandbox's own page for it, when it has one (Stripe receipts; PayPal has none)."""
    payment = reservation.external_payment_id
    if not payment:
        return None
    if settings.PAYMENTS_MODE == "sandbox":
        charge = _sandbox_charge(payment, events) if reservation.provider == "stripe" else None
        if charge and settings.STRIPE_API_BASE:
            base = settings.STRIPE_API_BASE.rstrip("/")
            return f"{base}/receipts/payment/{quote(charge)}", "Receipt in the payment sandbox"
        return None
    if reservation.provider == Reservation.Provider.STRIPE:
        test = settings.STRIPE_SECRET_KEY.startswith(("sk_test_", "rk_test_"))
        where = "test/" if test else ""
        url = f"https://dashboard.stripe.com/{where}payments/{quote(payment)}"
        return url, "Open in the Stripe dashboard"
    host = "www.sandbox.paypal.com" if "sandbox" in settings.PAYPAL_API_BASE else "www.paypal.com"
    return f"https://{host}/activity/payment/{quote(payment)}", "Open in PayPal"


@admin.register(WebhookRejection)
class WebhookRejectionAdmin(ReadOnlyAdmin):
    """Refused deliveries, counted by reason (nothing of their bodies is kept)."""

    list_display = ("provider", "reason", "count", "last_at")
