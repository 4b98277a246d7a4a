import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from kennel.core.models import AuditLog, SideEffect
from kennel.core.outbox import kind_label, side_effects_retry

CONFIRM_TEMPLATE = "admin/kennel_confirm_action.html"
# How many rows one confirmation page lists (and one confirmed action touches at most).
CONFIRM_MAX_ROWS = 100
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# What a page says: a string, or one marked for translation, written in the reader's language.
Text = str | Promise


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that only services write: the admin shows them and offers no add, change or delete."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def staff_actor(request: HttpRequest) -> str:
    """Who the audit trail names for a back-office action."""
    return f"staff:{request.user.get_username()}"


def confirmed(request: HttpRequest) -> bool:
    """The confirmation page's button was pressed (as Django's delete confirmation: post=yes)."""
    return request.method == "POST" and request.POST.get("post") == "yes"


def request_token(request: HttpRequest) -> str:
    """The token that makes one confirmation-page submission one request: the one the page
    posted back, or a new one for a page about to be shown."""
    posted = request.POST.get("request_token", "") if request.method == "POST" else ""
    return posted if _TOKEN_RE.fullmatch(posted) else secrets.token_urlsafe(18)


@dataclass(frozen=True)
class ConfirmRow:
    """One selected object on a confirmation page, and what the action does to it."""

    label: Text
    url: str = ""
    details: Sequence[Text] = ()
    warn: bool = False  # nothing (or not what the title says) will happen to this one


def attempts_line(status: str, attempts: int) -> str:
    """A retried row's state and attempts on a confirmation page: "Failed, 3 attempts"."""
    text = ngettext("%(status)s, %(count)s attempt", "%(status)s, %(count)s attempts", attempts)
    return text % {"status": status, "count": attempts}


def last_error_line(error: str) -> str:
    """A retried row's last error on a confirmation page, cut short (a traceback's start)."""
    return gettext("Last error: %(error)s") % {"error": error[:200]}


@dataclass
class Confirmation:
    """What a confirmation page says: the consequence first, then every selected object."""

    title: Text
    consequences: Sequence[Text]
    rows: Sequence[ConfirmRow]
    confirm_label: Text
    cancel_url: str
    action: str = ""  # the admin action's name when the page posts back to the changelist
    selected: Sequence[Any] = ()
    form: forms.Form | None = None
    more: int = 0  # selected objects beyond the listed ones
    hidden: dict[str, str] = field(default_factory=dict)  # more hidden inputs of the form


def confirm_page(
    request: HttpRequest, model_admin: admin.ModelAdmin[Any], page: Confirmation
) -> TemplateResponse:
    """Render the shared confirmation page (admin/kennel_confirm_action.html). Its form posts
    back to the same address with the action, `post=yes` and the request token; it works
    without JavaScript."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": page.title,
        "page": page,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "request_token": request_token(request),
        "media": model_admin.media,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


def selected_rows(queryset: QuerySet[Any]) -> tuple[list[Any], int]:
    """The first CONFIRM_MAX_ROWS selected objects, and how many more were selected."""
    rows = list(queryset[: CONFIRM_MAX_ROWS + 1])
    if len(rows) <= CONFIRM_MAX_ROWS:
        return rows, 0
    return rows[:CONFIRM_MAX_ROWS], queryset.count() - CONFIRM_MAX_ROWS


def admin_change_url(obj: Model) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def changelist_url(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> str:
    opts = model_admin.model._meta
    base = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    query = request.GET.urlencode()
    return f"{base}?{query}" if query else base


def add_messages(request: HttpRequest, outcomes: Iterable[tuple[int, str]]) -> None:
    for level, text in outcomes:
        messages.add_message(request, level, text)


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """The audit trail is append-only: readable here, never edited or deleted."""

    list_display = ("created_at", "action", "actor", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("action", "actor", "object_id")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in AuditLog._meta.fields]


@admin.register(SideEffect)
class SideEffectAdmin(ReadOnlyAdmin):
    """The outbox, read-only: every email, conversion, refund, checkout close and webhook
    reprocessing with its attempts. Dead rows (retries used up, or refused) are retried
    through the action, which calls the same service as any retry."""

    list_display = (
        "created_at",
        "kind_display",
        "recipient",
        "reservation_link",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error",
    )
    list_filter = ("status", "kind", "queue")
    search_fields = ("recipient", "dedup_key", "reservation_id", "last_error")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in SideEffect._meta.fields]
    actions = ["retry_dead"]

    @admin.display(description=_("kind"), ordering="kind")
    def kind_display(self, effect: SideEffect) -> str:
        return kind_label(effect.kind)

    @admin.display(description=_("reservation"))
    def reservation_link(self, effect: SideEffect) -> str:
        if effect.reservation_id is None:
            return "—"
        url = reverse("admin:reservations_reservation_change", args=[effect.reservation_id])
        return format_html('<a href="{}">{}</a>', url, str(effect.reservation_id)[:8])

    @admin.display(description=_("last error"))
    def error(self, effect: SideEffect) -> str:
        return effect.last_error[:120]

    @admin.action(description=_("Retry the selected dead side effects"), permissions=["retry"])
    def retry_dead(
        self, request: HttpRequest, queryset: QuerySet[SideEffect]
    ) -> TemplateResponse | None:
        effects, more = selected_rows(queryset.order_by("pk"))
        dead = [e for e in effects if e.status == SideEffect.Status.DEAD]
        if not confirmed(request):
            return confirm_page(request, self, self._retry_confirmation(request, effects, more))
        retried = side_effects_retry(
            side_effect_ids=[e.pk for e in dead], actor=staff_actor(request)
        )
        skipped = len(effects) - retried
        text = ngettext(
            "%(count)s side effect queued again.",
            "%(count)s side effects queued again.",
            retried,
        )
        self.message_user(request, text % {"count": retried}, messages.SUCCESS)
        if skipped:
            text = ngettext(
                "%(count)s selected row was not dead and was left alone.",
                "%(count)s selected rows were not dead and were left alone.",
                skipped,
            )
            self.message_user(request, text % {"count": skipped}, messages.WARNING)
        return None

    def _retry_confirmation(
        self, request: HttpRequest, effects: list[SideEffect], more: int
    ) -> Confirmation:
        dead = sum(e.status == SideEffect.Status.DEAD for e in effects)
        not_dead = gettext("Not dead: left alone.")
        rows = [
            ConfirmRow(
                label=f"{kind_label(e.kind)} → {e.recipient}",
                url=admin_change_url(e),
                details=(
                    attempts_line(e.get_status_display(), e.attempts),
                    *([last_error_line(e.last_error)] if e.last_error else []),
                    *([] if e.status == SideEffect.Status.DEAD else [not_dead]),
                ),
                warn=e.status != SideEffect.Status.DEAD,
            )
            for e in effects
        ]
        consequences = [
            ngettext(
                "%(count)s dead row starts again from its first attempt and runs on the worker "
                "now: an email is sent, a refund or checkout close is sent to the provider.",
                "%(count)s dead rows start again from their first attempt and run on the worker "
                "now: an email is sent, a refund or checkout close is sent to the provider.",
                dead,
            )
            % {"count": dead},
            gettext("Each row is done once: one that was already done is not done again."),
        ]
        if dead < len(effects):
            alive = len(effects) - dead
            text = ngettext(
                "%(count)s selected row is not dead: left alone.",
                "%(count)s selected rows are not dead: left alone.",
                alive,
            )
            consequences.append(text % {"count": alive})
        return Confirmation(
            title=gettext("Retry dead background work"),
            consequences=consequences,
            rows=rows,
            confirm_label=gettext("Yes, retry them"),
            cancel_url=changelist_url(self, request),
            action="retry_dead",
            selected=[e.pk for e in effects],
            more=more,
        )

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("core.change_sideeffect")
