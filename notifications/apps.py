from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.urls import path

        from deelrx import realtime
        from deelrx.audit.services import register_recorded_hook
        from notifications.consumers import NotificationConsumer
        from notifications.services import notifications_fan_out

        # Every recorded event whose type has an audience reaches the fan-out, in its transaction.
        register_recorded_hook(notifications_fan_out)
        realtime.register_websocket_routes([path("ws/notifications/", NotificationConsumer.as_asgi())])
