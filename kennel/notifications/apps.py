from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "kennel.notifications"
    label = "notifications"
    verbose_name = "Emails and conversions"

    def ready(self) -> None:
        from kennel.notifications.handlers import register_handlers

        register_handlers()
