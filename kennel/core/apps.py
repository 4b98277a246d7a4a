from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kennel.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the go-live guard with Django's system checks.
        from kennel.core import checks  # noqa: F401
        from kennel.core.csrf import csrf_strings_in_one_call

        csrf_strings_in_one_call()
