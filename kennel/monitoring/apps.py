from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "kennel.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"
