from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kennel.core"
    label = "core"
    verbose_name = "Core"
