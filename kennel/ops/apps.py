from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OpsConfig(AppConfig):
    """The composition root: `serve`, `worker`, the periodic sweeps and the demo loader.
    It may import every app; no app imports it."""

    name = "kennel.ops"
    label = "ops"
    verbose_name = "Operations"
    # This module holds two configs: "kennel.ops" in INSTALLED_APPS means this one.
    default = True


class KennelAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the back office (kennel/ops/admin_site.py) as its default site;
    it stands for "django.contrib.admin" in INSTALLED_APPS."""

    default = False
    default_site = "kennel.ops.admin_site.KennelAdminSite"
