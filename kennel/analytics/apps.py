from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "kennel.analytics"
    label = "analytics"
    verbose_name = "Analytics"
