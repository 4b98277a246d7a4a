from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "kennel.payments"
    label = "payments"
    verbose_name = "Payments"
