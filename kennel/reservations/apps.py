from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "kennel.reservations"
    label = "reservations"
    verbose_name = "Reservations"
