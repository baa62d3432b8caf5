from django.contrib import admin

from notifications.models import Notification, NotificationPreference


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "team", "event_type", "title", "read_at")
    list_filter = ("event_type",)
    search_fields = ("recipient__username", "title")
    raw_id_fields = ("recipient", "team")
    readonly_fields = ("recipient", "team", "event_type", "title", "body", "url", "created_at")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "event_type", "in_app", "email", "updated_at")
    raw_id_fields = ("user",)
