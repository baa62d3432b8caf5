"""Who is notified of what (DESIGN §13): per event type and role, never the actor,
never another team, in the event's transaction; and the preferences."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from deelrx.audit.services import record_event, record_events
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory
from notifications.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(owner, admin_user, member, viewer, outsider, superuser):
    return {"owner": owner, "admin": admin_user, "member": member, "viewer": viewer, "outsider": outsider}


def names(rows) -> list[str]:
    return sorted(n.recipient.username for n in rows)


def test_a_submitted_article_tells_the_teams_admins_and_owners(notify, people, team):
    rows = notify(
        event_type="kb.article.submitted",
        team=team,
        user=people["member"],
        data={"article_id": "7b0c5d2e-0000-4000-8000-000000000001", "title": "Refunds", "author_id": 1},
    )
    assert names(rows) == ["adam", "alice"]
    assert rows[0].title == "Article submitted for review"
    assert rows[0].body == "maria submitted the article “Refunds” for review"
    assert rows[0].url == "/kb/7b0c5d2e-0000-4000-8000-000000000001/"
    assert rows[0].team_id == team.pk
    assert rows[0].read_at is None


def test_nobody_is_told_of_their_own_action(notify, people, team):
    rows = notify(event_type="kb.article.submitted", team=team, user=people["admin"], data={"title": "Mine"})
    assert names(rows) == ["alice"]


@pytest.mark.parametrize("event_type", ["kb.article.published", "kb.article.changes_requested"])
def test_publishing_or_sending_back_tells_the_author(notify, people, team, event_type):
    rows = notify(event_type=event_type, team=team, user=people["admin"], data={"author_id": people["member"].pk})
    assert names(rows) == ["maria"]


def test_an_author_publishing_their_own_article_is_not_told(notify, people, team):
    assert (
        notify(
            event_type="kb.article.published", team=team, user=people["admin"], data={"author_id": people["admin"].pk}
        )
        == []
    )


def test_a_user_named_in_the_data_but_of_another_team_is_not_told(notify, people, team):
    rows = notify(
        event_type="admin_ops.inactivity_policy.applied",
        team=team,
        data={"warned": [people["member"].pk, people["outsider"].pk], "suspended": [], "purge_requested": []},
    )
    assert names(rows) == ["maria"]


@pytest.mark.parametrize(
    "event_type", ["admin_ops.purge.export_ready", "admin_ops.purge.completed", "admin_ops.purge.failed"]
)
def test_purge_news_tells_the_requester_and_the_managers(notify, people, team, event_type):
    rows = notify(
        event_type=event_type,
        team=team,
        data={"purge_id": "4f1c0e0a-0000-4000-8000-000000000002", "requested_by_id": people["member"].pk},
    )
    assert names(rows) == ["adam", "alice", "maria"]
    assert rows[0].url == "/ops/purges/4f1c0e0a-0000-4000-8000-000000000002/"


def test_accounts_found_overdue_tell_the_managers_once(notify, people, team):
    data = {"count": 12, "suspended": 9, "defaulted": 3}
    rows = notify(event_type="credit.account.overdue_found", team=team, data=data)
    assert names(rows) == ["adam", "alice"]
    assert rows[0].title == "Credit accounts became overdue"
    assert rows[0].body == "The overdue check found that 12 credit accounts became overdue: 9 suspended, 3 defaulted"
    assert rows[0].url == "/credit/?status=suspended"
    rows = notify(event_type="credit.account.overdue_found", team=team, data={**data, "suspended": 1, "defaulted": 11})
    assert rows[0].url == "/credit/?status=defaulted"


def test_one_account_found_overdue_links_to_it(notify, people, team):
    account_id = "0b9e2f5c-0000-4000-8000-000000000003"
    data = {"count": 1, "suspended": 1, "defaulted": 0, "account_id": account_id}
    rows = notify(event_type="credit.account.overdue_found", team=team, data=data)
    assert rows[0].body == "The overdue check found that 1 credit account became overdue: 1 suspended"
    assert rows[0].url == f"/credit/accounts/{account_id}/"


def test_each_account_moved_by_the_overdue_job_notifies_nobody(notify, people, team):
    """The accounts' own status events stay in the audit log; the run's summary notifies."""
    data = {
        "account_id": "0b9e2f5c-0000-4000-8000-000000000003",
        "old": "active",
        "new": "suspended",
        "reason": "overdue",
    }
    assert notify(event_type="credit.account.status_changed", team=team, data=data) == []


def test_account_moves_made_by_a_person_or_to_active_notify_nobody(notify, people, team):
    data = {"account_id": "0b9e2f5c-0000-4000-8000-000000000003", "old": "active", "new": "suspended"}
    assert notify(event_type="credit.account.status_changed", team=team, user=people["owner"], data=data) == []
    data = {**data, "old": "suspended", "new": "active"}
    assert notify(event_type="credit.account.status_changed", team=team, data=data) == []


def test_newly_broken_links_tell_the_managers(notify, people, team):
    assert notify(event_type="kb.links.checked", team=team, data={"links": 3, "broken": 1, "newly_broken": 0}) == []
    rows = notify(event_type="kb.links.checked", team=team, data={"links": 3, "broken": 1, "newly_broken": 1})
    assert names(rows) == ["adam", "alice"]


def test_a_failed_job_tells_the_superusers_only(notify, people):
    rows = notify(event_type="job.run.failed", data={"job": "credit-overdue-check", "run_id": 1, "error": "boom"})
    assert names(rows) == ["root"]
    assert rows[0].team_id is None


def test_a_charge_notifies_nobody_and_costs_no_query(people, team, django_assert_num_queries):
    with django_assert_num_queries(1):  # the event's INSERT only
        record_event(event_type="credit.transaction.created", team=team, user=people["member"], data={"type": "charge"})
    assert not Notification.objects.exists()


def test_a_job_batch_notifies_per_event(notify, people, team, django_capture_on_commit_callbacks):
    data = {"count": 2, "suspended": 0, "defaulted": 2}
    with django_capture_on_commit_callbacks(execute=True):
        record_events([{"event_type": "credit.account.overdue_found", "team_id": team.pk, "data": data}] * 2)
    assert Notification.objects.count() == 4


def test_a_suspended_member_is_not_told(notify, people, team):
    MembershipFactory(team=team, user=UserFactory(username="sam"), role=Role.ADMIN, is_suspended=True)
    rows = notify(event_type="kb.article.submitted", team=team, user=people["member"], data={"title": "T"})
    assert names(rows) == ["adam", "alice"]


def test_notifications_roll_back_with_their_event(people, team):
    written = []

    def submit_then_fail():
        with transaction.atomic():
            record_event(event_type="kb.article.submitted", team=team, user=people["member"], data={"title": "T"})
            written.append(Notification.objects.count())  # in the event's transaction
            raise RuntimeError

    with pytest.raises(RuntimeError):
        submit_then_fail()
    assert written == [2]
    assert not Notification.objects.exists()


# --- Preferences -----------------------------------------------------------------------
def test_in_app_off_writes_no_row_for_that_user(notify, people, team):
    NotificationPreference.objects.create(user=people["owner"], event_type="kb.article.submitted", in_app=False)
    rows = notify(event_type="kb.article.submitted", team=team, user=people["member"], data={"title": "T"})
    assert names(rows) == ["adam"]


def test_email_on_sends_it_after_the_commit_through_the_platform_sender(notify, people, team, settings):
    settings.SITE_URL = "https://backoffice.example"
    people["admin"].email = "adam@example.com"
    people["admin"].save()
    NotificationPreference.objects.create(user=people["admin"], event_type="kb.article.submitted", email=True)
    notify(
        event_type="kb.article.submitted",
        team=team,
        user=people["member"],
        data={"article_id": "7b0c5d2e-0000-4000-8000-000000000001", "title": "Refunds"},
    )
    assert [m.to for m in mail.outbox] == [["adam@example.com"]]
    assert mail.outbox[0].subject == "[DeelRx] Article submitted for review"
    assert "maria submitted the article “Refunds” for review" in mail.outbox[0].body
    assert "https://backoffice.example/kb/7b0c5d2e-0000-4000-8000-000000000001/" in mail.outbox[0].body


def test_email_is_off_by_default(notify, people, team):
    notify(event_type="kb.article.submitted", team=team, user=people["member"], data={"title": "T"})
    assert mail.outbox == []
