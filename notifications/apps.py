from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from django.urls import path

        from deelrx import realtime
        from deelrx.audit.services import register_recorded_hook
        from deelrx.retention import register_retention_hook
        from notifications.consumers import NotificationConsumer
        from notifications.services import (
            notifications_count_expired,
            notifications_delete_expired,
            notifications_fan_out,
        )

        # Every recorded event whose type has an audience reaches the fan-out, in its transaction.
        register_recorded_hook(notifications_fan_out)
        realtime.register_websocket_routes([path("ws/notifications/", NotificationConsumer.as_asgi())])
        # Read notifications are kept NOTIFICATION_READ_RETENTION_DAYS; the retention job deletes them after.
        register_retention_hook(
            "notifications_read",
            delete_expired=lambda now: notifications_delete_expired(now=now),
            count_expired=lambda now: notifications_count_expired(now=now),
        )
