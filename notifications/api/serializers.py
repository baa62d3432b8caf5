from __future__ import annotations

from rest_framework import serializers

from notifications.models import Notification


class NotificationOutputSerializer(serializers.ModelSerializer):
    """The fields of the API and of the WebSocket's `notification` messages (Notification.as_payload)."""

    team_id = serializers.IntegerField(allow_null=True, read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "team_id", "event_type", "title", "body", "url", "created_at", "read_at"]
        read_only_fields = fields


class ReadAllOutputSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are read now.")


class PreferenceSerializer(serializers.Serializer):
    event_type = serializers.CharField(max_length=100)
    label = serializers.CharField(read_only=True)
    in_app = serializers.BooleanField(required=False, help_text="Show it in the app (default on).")
    email = serializers.BooleanField(required=False, help_text="Also send it by email (default off).")


class PreferencesSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True, allow_empty=False)
