"""Reads: a user's own notifications only (never another's), their unread count,
and their preferences with the defaults filled in."""

from __future__ import annotations

from django.db.models import QuerySet

from deelrx.audit.registry import EventType, notified_event_types
from deelrx.selectors import get_or_not_found
from notifications.models import Notification, NotificationPreference

DEFAULT_IN_APP = True
DEFAULT_EMAIL = False


def notification_list(*, user, unread: bool = False, event_type: str = "") -> QuerySet[Notification]:
    rows = Notification.objects.filter(recipient=user)
    if unread:
        rows = rows.filter(read_at__isnull=True)
    if event_type:
        # a type, or a prefix ending in "." (`kb.`, `admin_ops.purge.`)
        if event_type.endswith("."):
            rows = rows.filter(event_type__startswith=event_type)
        else:
            rows = rows.filter(event_type=event_type)
    return rows.order_by("-created_at", "-id")


def notification_get(*, user, notification_id) -> Notification:
    """One of the user's notifications; another's (or a malformed id) is 404."""
    return get_or_not_found(Notification.objects.filter(recipient=user), "Notification not found.", pk=notification_id)


def unread_count(*, user_id: int) -> int:
    return Notification.objects.filter(recipient_id=user_id, read_at__isnull=True).count()


def preferences_for(*, user) -> list[dict]:
    """Every event type that notifies someone, with the user's choice or the default."""
    stored = {p.event_type: p for p in NotificationPreference.objects.filter(user=user)}
    return [_preference(event_type, stored.get(event_type.name)) for event_type in notified_event_types()]


def _preference(event_type: EventType, stored: NotificationPreference | None) -> dict:
    return {
        "event_type": event_type.name,
        "label": event_type.label,
        "in_app": stored.in_app if stored else DEFAULT_IN_APP,
        "email": stored.email if stored else DEFAULT_EMAIL,
    }
