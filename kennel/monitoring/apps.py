from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "kennel.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        from kennel.monitoring.alerts import register_handlers

        register_handlers()
