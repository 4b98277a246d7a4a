from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kennel.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the go-live guard with Django's system checks.
        from kennel.core import checks  # noqa: F401
