"""The notifications pages and the bell in the navigation."""

from __future__ import annotations

import pytest

from notifications.models import Notification, NotificationPreference
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def test_every_staff_page_has_the_bell(client_as, member):
    page = client_as(member).get("/").content.decode()
    assert "data-notifications" in page
    assert 'data-ws-path="/ws/notifications/"' in page
    assert "js/notifications.js" in page


def test_the_list_filters_and_marks_read(client_as, member, outsider, team):
    read = NotificationFactory(recipient=member, title="Old news", read_at="2026-01-01T00:00:00Z")
    unread = NotificationFactory(recipient=member, title="Fresh news", team=team)
    NotificationFactory(recipient=outsider, title="Not yours")
    client = client_as(member)
    page = client.get("/notifications/").content.decode()
    assert "Old news" in page
    assert "Fresh news" in page
    assert "Not yours" not in page
    page = client.get("/notifications/?unread=true").content.decode()
    assert "Old news" not in page
    assert "Fresh news" in page
    response = client.post(f"/notifications/{unread.pk}/read/", {"query": "unread=true&evil=1"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?unread=true"
    assert Notification.objects.get(pk=unread.pk).read_at is not None
    assert read.pk


def test_opening_one_marks_it_read_and_goes_to_its_page(client_as, member, team):
    notification = NotificationFactory(recipient=member, team=team, url="/kb/")
    response = client_as(member).get(f"/notifications/{notification.pk}/")
    assert response.status_code == 302
    assert response["Location"] == "/kb/"
    assert Notification.objects.get(pk=notification.pk).read_at is not None


def test_someone_elses_notification_is_not_found(client_as, member, outsider):
    theirs = NotificationFactory(recipient=outsider)
    assert client_as(member).get(f"/notifications/{theirs.pk}/").status_code == 404


def test_read_all(client_as, member):
    NotificationFactory.create_batch(2, recipient=member)
    client_as(member).post("/notifications/read-all/")
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_the_preferences_page_saves_the_checkboxes(client_as, member):
    client = client_as(member)
    assert "Article submitted for review" in client.get("/notifications/preferences/").content.decode()
    client.post(
        "/notifications/preferences/", {"email:kb.article.published": "on", "in_app:kb.article.published": "on"}
    )
    published = NotificationPreference.objects.get(user=member, event_type="kb.article.published")
    assert published.email
    assert published.in_app
    submitted = NotificationPreference.objects.get(user=member, event_type="kb.article.submitted")
    assert not submitted.in_app
    assert not submitted.email
