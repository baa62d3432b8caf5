"""Read notifications are kept NOTIFICATION_READ_RETENTION_DAYS after they were read, then the
retention job (`admin-retention-enforce`, through its hook registry) deletes them in one
statement; unread ones are kept however old."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from admin_ops.services.retention import retention_enforce
from deelrx.retention import retention_hooks
from notifications.models import Notification
from notifications.services import notifications_delete_expired
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def aged(member, owner):
    now = timezone.now()
    long_ago = now - dt.timedelta(days=400)
    rows = {
        "read_long_ago": NotificationFactory(
            recipient=member, created_at=long_ago, read_at=now - dt.timedelta(days=91)
        ),
        "read_within_period": NotificationFactory(
            recipient=owner, created_at=long_ago, read_at=now - dt.timedelta(days=89)
        ),
        "unread_old": NotificationFactory(recipient=member, created_at=long_ago),
        "read_recently": NotificationFactory(recipient=owner, created_at=long_ago, read_at=now - dt.timedelta(days=1)),
    }
    return now, rows


def test_the_hook_is_registered():
    assert "notifications_read" in {hook.name for hook in retention_hooks()}


def test_read_notifications_past_retention_go_unread_ones_stay(aged, django_assert_num_queries):
    now, rows = aged
    with django_assert_num_queries(1):  # one set-based DELETE
        assert notifications_delete_expired(now=now) == 1
    left = set(Notification.objects.values_list("pk", flat=True))
    assert left == {rows[name].pk for name in ("read_within_period", "unread_old", "read_recently")}


def test_the_retention_job_deletes_them_and_its_dry_run_counts(aged):
    now, rows = aged
    assert retention_enforce(now=now, dry_run=True)["notifications_read"] == 1
    assert Notification.objects.count() == 4
    assert retention_enforce(now=now)["notifications_read"] == 1
    assert not Notification.objects.filter(pk=rows["read_long_ago"].pk).exists()
    assert retention_enforce(now=now)["notifications_read"] == 0  # idempotent


def test_the_period_is_a_setting(aged, settings):
    now, rows = aged
    settings.NOTIFICATION_READ_RETENTION_DAYS = 0
    assert notifications_delete_expired(now=now) == 3
    assert list(Notification.objects.values_list("pk", flat=True)) == [rows["unread_old"].pk]
