from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "kennel.analytics"
    label = "analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        from kennel.analytics.handlers import register_handlers

        register_handlers()
