"""Notifications tests: the in-memory channel layer unless a test asks for Redis."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _memory_channel_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def notify(django_capture_on_commit_callbacks):
    """notify(**record_event kwargs) → records the event as a service would, commits
    (the callbacks run: pushes, emails) and returns the notifications written."""
    from deelrx.audit.services import record_event
    from notifications.models import Notification

    def record(**kwargs):
        before = set(Notification.objects.values_list("pk", flat=True))
        with django_capture_on_commit_callbacks(execute=True):
            record_event(**kwargs)
        return list(Notification.objects.exclude(pk__in=before).order_by("recipient__username"))

    return record
