from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "kennel.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from kennel.payments.handlers import register_handlers

        register_handlers()
