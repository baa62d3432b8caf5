"""Notifications (DESIGN §13): one row per recipient of a notable audit event,
written in the event's transaction by the fan-out (`notifications.services`),
and each user's preferences per event type."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from deelrx.tenancy.models import Team


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    # null for platform events without a team (a failed job, told to the superusers)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    event_type = models.CharField(max_length=100)  # a registered type (deelrx.audit.registry)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            # the list, newest first (cursor pagination on created_at, id)
            models.Index(fields=["recipient", "-created_at", "-id"], name="notif_recipient_recent"),
            # the unread count and the unread filter read only unread rows
            models.Index(
                fields=["recipient", "-created_at"], name="notif_recipient_unread", condition=Q(read_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient_id}"

    def as_payload(self) -> dict:
        """The API fields (notifications.api.serializers.NotificationOutput), for the WebSocket push."""
        return {
            "id": str(self.id),
            "team_id": self.team_id,
            "event_type": self.event_type,
            "title": self.title,
            "body": self.body,
            "url": self.url,
            "created_at": _iso(self.created_at),
            "read_at": _iso(self.read_at),
        }


def _iso(value) -> str | None:
    # as the API writes times (REST_FRAMEWORK["DATETIME_FORMAT"])
    if value is None:
        return None
    return value.astimezone(dt.UTC).strftime(settings.REST_FRAMEWORK["DATETIME_FORMAT"])


class NotificationPreference(models.Model):
    """A user's choice for one event type. No row: the defaults (in-app on, email off)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event_type = models.CharField(max_length=100)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event_type"], name="unique_notification_preference")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event_type}: in-app {self.in_app}, email {self.email}"
