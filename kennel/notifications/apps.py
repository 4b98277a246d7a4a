from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "kennel.notifications"
    label = "notifications"
    verbose_name = "Emails and conversions"
