"""The back office: Django's admin under the shop's name, its models in three sections a
breeder recognises, and a home page that says what needs doing (kennel/monitoring/dashboard.py).

It is the default admin site (kennel/ops/apps.py, KennelAdminConfig), so every
`@admin.register` lands here and every `admin:` URL name stays as it was.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kennel.monitoring.dashboard import dashboard_figures

# The sections, in the order shown: (slug, title, the apps whose models go there). A model
# named in SECTION_OF_MODEL goes where it says; any other model of an app not listed here
# (users, the audit log, background work, the log-in throttle, tasks…) goes to System, last.
SECTIONS = [
    ("puppies-litters", _("Puppies & litters"), ("catalogue",)),
    ("reservations-payments", _("Reservations & payments"), ("reservations", "payments")),
    ("system", _("System"), ()),
]
SYSTEM = "system"
# Refused deliveries are the shop's door being knocked on, not a payment to act on.
SECTION_OF_MODEL = {"payments.webhookrejection": SYSTEM}

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


class KennelAdminSite(admin.AdminSite):
    """Django's admin site, with the shop's name, its sections and the dashboard."""

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        # The shop's name is read when a page is drawn, never at import (it can change).
        title = gettext("%(shop)s back office") % {"shop": settings.SHOP_NAME}
        return {**super().each_context(request), "site_title": title, "site_header": title}

    def admin_view(self, view: View, cacheable: bool = False) -> View:
        """Every back-office page (ModelAdmin's too) refuses an address holding a NUL
        character as a bad request (400): PostgreSQL can neither store nor compare one, so a
        list filtered on it failed with a server error."""
        inner = super().admin_view(view, cacheable)

        @wraps(inner)
        def without_nul(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if any(
                "\x00" in key or any("\x00" in value for value in values)
                for key, values in request.GET.lists()
            ):
                raise BadRequest("A NUL character in the address")
            return inner(request, *args, **kwargs)

        return cast(View, without_nul)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        section = path(
            "section/<slug:section>/", self.admin_view(self.section_index), name="section"
        )
        return [section, *super().get_urls()]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """The models grouped into SECTIONS (an app's own page keeps Django's list)."""
        if app_label is not None:
            return super().get_app_list(request, app_label)
        placed: dict[str, list[tuple[int, dict[str, Any]]]] = {slug: [] for slug, _, _ in SECTIONS}
        # Within a section its apps come in their listed order; in System, in Django's
        # (alphabetical) order. Within an app, Django's order (alphabetical by name).
        for django_order, app in enumerate(super().get_app_list(request)):
            label = app["app_label"]
            section, order = SYSTEM, django_order
            for slug, _title, labels in SECTIONS:
                if label in labels:
                    section, order = slug, labels.index(label)
            for model in app["models"]:
                key = f"{label}.{model['object_name'].lower()}"
                target = SECTION_OF_MODEL.get(key, section)
                placed[target].append((order if target == section else django_order, model))
        models = {
            slug: [m for _, m in sorted(rows, key=lambda r: r[0])] for slug, rows in placed.items()
        }
        return [
            {
                "name": title,
                "app_label": slug,
                "app_url": reverse(
                    "admin:section", kwargs={"section": slug}, current_app=self.name
                ),
                "has_module_perms": True,
                "models": models[slug],
            }
            for slug, title, _apps in SECTIONS
            if models[slug]
        ]

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        title = gettext("Today at %(shop)s") % {"shop": settings.SHOP_NAME}
        context = {"title": title, **(extra_context or {})}
        # The figures are the shop's money and its buyers: for staff who may see reservations.
        if request.user.has_perm("reservations.view_reservation"):
            context.setdefault("dashboard", dashboard_figures())
        return super().index(request, context)

    def section_index(self, request: HttpRequest, section: str) -> TemplateResponse:
        """One section's models, where its heading links to (as an app's own page would)."""
        app_list = [app for app in self.get_app_list(request) if app["app_label"] == section]
        if not app_list:
            raise Http404("The requested admin page does not exist.")
        context = {
            **self.each_context(request),
            "title": app_list[0]["name"],
            "subtitle": None,
            "app_list": app_list,
            "app_label": section,
        }
        request.current_app = self.name
        return TemplateResponse(request, "admin/app_index.html", context)
