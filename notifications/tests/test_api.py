"""The notifications API (DESIGN §13): own notifications only, unread filter, cursor
pagination, mark read, read all, preferences; errors in the shared shape."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from notifications.models import Notification
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db


def test_the_list_holds_the_callers_notifications_only_newest_first(api_as, member, outsider):
    old = NotificationFactory(recipient=member, created_at=timezone.now() - dt.timedelta(hours=1))
    new = NotificationFactory(recipient=member)
    NotificationFactory(recipient=outsider)
    body = api_as(member).get("/api/notifications/").json()
    assert [n["id"] for n in body["results"]] == [str(new.pk), str(old.pk)]
    assert set(body["results"][0]) == {"id", "team_id", "event_type", "title", "body", "url", "created_at", "read_at"}
    assert body["results"][0] == new.as_payload()


def test_unread_true_leaves_out_the_read_ones(api_as, member):
    NotificationFactory(recipient=member, read_at=timezone.now())
    unread = NotificationFactory(recipient=member)
    body = api_as(member).get("/api/notifications/?unread=true").json()
    assert [n["id"] for n in body["results"]] == [str(unread.pk)]
    assert api_as(member).get("/api/notifications/?unread=maybe").json()["error"]["code"] == "validation_error"


def test_the_list_pages_by_cursor(api_as, member):
    for _ in range(3):
        NotificationFactory(recipient=member)
    client = api_as(member)
    first = client.get("/api/notifications/?page_size=2").json()
    assert len(first["results"]) == 2
    assert first["next"]
    assert first["previous"] is None
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_mark_one_read_and_someone_elses_is_not_found(api_as, member, outsider):
    mine = NotificationFactory(recipient=member)
    theirs = NotificationFactory(recipient=outsider)
    response = api_as(member).post(f"/api/notifications/{mine.pk}/read/")
    assert response.status_code == 200
    assert response.json()["read_at"]
    response = api_as(member).post(f"/api/notifications/{theirs.pk}/read/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Notification.objects.get(pk=theirs.pk).read_at is None
    assert api_as(member).post("/api/notifications/not-a-uuid/read/").status_code == 404


def test_read_all_marks_the_callers_unread_only(api_as, member, outsider):
    NotificationFactory.create_batch(2, recipient=member)
    other = NotificationFactory(recipient=outsider)
    assert api_as(member).post("/api/notifications/read-all/").json() == {"marked": 2}
    assert not Notification.objects.filter(recipient=member, read_at__isnull=True).exists()
    assert Notification.objects.get(pk=other.pk).read_at is None


def test_preferences_default_then_change(api_as, member):
    client = api_as(member)
    preferences = client.get("/api/notifications/preferences/").json()["preferences"]
    submitted = next(p for p in preferences if p["event_type"] == "kb.article.submitted")
    assert submitted == {
        "event_type": "kb.article.submitted",
        "label": "Article submitted for review",
        "in_app": True,
        "email": False,
    }
    assert "credit.transaction.created" not in {p["event_type"] for p in preferences}
    response = client.put(
        "/api/notifications/preferences/",
        {"preferences": [{"event_type": "kb.article.submitted", "email": True}]},
        format="json",
    )
    changed = next(p for p in response.json()["preferences"] if p["event_type"] == "kb.article.submitted")
    assert changed["email"] is True
    assert changed["in_app"] is True


def test_a_preference_for_a_type_that_notifies_nobody_is_refused(api_as, member):
    response = api_as(member).put(
        "/api/notifications/preferences/",
        {"preferences": [{"event_type": "credit.transaction.created", "in_app": False}]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_anonymous_callers_get_401(api_client):
    response = api_client.get("/api/notifications/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_schema_documents_the_operations(api_as, member):
    schema = api_as(member).get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert {"/api/notifications/", "/api/notifications/read-all/", "/api/notifications/preferences/"} <= set(paths)
    assert "/api/notifications/{notification_id}/read/" in paths
    listed = paths["/api/notifications/"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert listed.endswith("PaginatedNotificationList")
    assert "404" in paths["/api/notifications/{notification_id}/read/"]["post"]["responses"]
