"""Inactivity policies and the daily check, on crafted activity histories."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from admin_ops.models import InactivityPolicy, InactivityTracker, PurgeOperation
from admin_ops.services.inactivity import (
    inactivity_check,
    member_reinstate,
    policy_create,
    policy_delete,
    policy_update,
)
from deelrx.audit.models import ActivityEvent
from deelrx.errors import Conflict, PermissionDenied, ValidationFailed
from deelrx.jobs import execute_job
from deelrx.tenancy.models import Membership, Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

DAY = dt.timedelta(days=1)


@pytest.fixture
def base(team):
    """The moment every member of the crafted team joined (members added later are
    moved back to it by the `policy` fixture)."""
    return timezone.now().replace(microsecond=0) - DAY


@pytest.fixture
def policy(team, owner, member, base):
    """30 days; warn 14, 7 and 1 days before; suspend and request a purge. The owner
    stays active throughout (she logs in far in the future)."""
    owner.last_login = base + 1000 * DAY
    owner.save(update_fields=["last_login"])
    QuerySet(model=Membership).filter(team=team).update(created_at=base)
    return policy_create(
        team=team,
        actor=owner,
        name="Quarterly clean-up",
        threshold_days=30,
        actions={"warnings": [7, 14, 1], "suspend": True, "purge": True},
    )


def joined(user, team, when):
    QuerySet(model=Membership).filter(user=user, team=team).update(created_at=when)


def event(user, team, when, *, ip="10.0.0.1"):
    e = ActivityEvent.objects.create(team=team, user=user, event_type="tenancy.customer.updated", ip_address=ip)
    QuerySet(model=ActivityEvent).filter(pk=e.pk).update(created_at=when)
    return e


def tracker_of(user, policy):
    return InactivityTracker.objects.get(user=user, policy=policy)


def warnings_to(user):
    return [m for m in mail.outbox if m.to == [user.email] and "suspended in" in m.subject]


# --- Policies -------------------------------------------------------------------------------
def test_policy_create_normalises_warnings_and_records_event(team, owner):
    policy = policy_create(team=team, actor=owner, name=" P ", threshold_days=10, actions={"warnings": [1, 5, 3]})
    assert policy.name == "P"
    assert policy.actions == {"warnings": [5, 3, 1], "suspend": False, "purge": False}
    assert ActivityEvent.objects.filter(event_type="admin_ops.inactivity_policy.created", team=team).exists()


@pytest.mark.parametrize(
    ("threshold", "actions", "field"),
    [
        (0, {}, "threshold_days"),
        (-3, {}, "threshold_days"),
        (10, {"warnings": [10]}, "actions.warnings"),
        (10, {"warnings": [0]}, "actions.warnings"),
        (10, {"warnings": [3, 3]}, "actions.warnings"),
        (10, {"warnings": ["3"]}, "actions.warnings"),
        (10, {"suspend": "yes"}, "actions.suspend"),
        (10, {"explode": True}, "actions"),
    ],
)
def test_policy_create_rejects_invalid_values(team, owner, threshold, actions, field):
    with pytest.raises(ValidationFailed) as exc:
        policy_create(team=team, actor=owner, name="P", threshold_days=threshold, actions=actions)
    assert field in exc.value.details


def test_policy_create_needs_admin(team, member):
    with pytest.raises(PermissionDenied):
        policy_create(team=team, actor=member, name="P", threshold_days=10)


def test_policy_update_rechecks_warnings_against_new_threshold(policy, owner):
    with pytest.raises(ValidationFailed) as exc:
        policy_update(policy=policy, actor=owner, threshold_days=10)
    assert "actions.warnings" in exc.value.details
    updated = policy_update(policy=policy, actor=owner, threshold_days=60, name="Renamed")
    assert (updated.threshold_days, updated.name) == (60, "Renamed")
    event = ActivityEvent.objects.get(event_type="admin_ops.inactivity_policy.updated")
    assert event.event_data["changed"] == ["name", "threshold_days"]


def test_policy_update_without_change_records_nothing(policy, owner):
    policy_update(policy=policy, actor=owner, name=policy.name)
    assert not ActivityEvent.objects.filter(event_type="admin_ops.inactivity_policy.updated").exists()


def test_policy_delete(policy, owner):
    policy_delete(policy=policy, actor=owner)
    assert not InactivityPolicy.objects.filter(pk=policy.pk).exists()
    assert ActivityEvent.objects.filter(event_type="admin_ops.inactivity_policy.deleted").exists()


def test_policy_delete_is_refused_while_its_suspensions_stand(policy, owner, member, team, base):
    assert inactivity_check(now=base + 30 * DAY)["errors"] == []
    with pytest.raises(Conflict) as exc:
        policy_delete(policy=policy, actor=owner)
    assert exc.value.code == "policy_has_suspended_members"
    assert exc.value.details["suspended"] == ["maria"]


def test_a_suspension_by_another_policy_does_not_block_deleting_this_one(policy, owner, member, team, base):
    lenient = policy_create(team=team, actor=owner, name="Lenient", threshold_days=90, actions={"suspend": True})
    inactivity_check(now=base + 30 * DAY)
    assert Membership.objects.get(user=member).is_suspended
    assert tracker_of(member, policy).is_suspended
    assert not tracker_of(member, lenient).is_suspended  # suspended, but not by this policy
    policy_delete(policy=lenient, actor=owner)


# --- The check --------------------------------------------------------------------------------
def test_each_warning_is_sent_once_on_its_day(policy, member, base):
    schedule = {15: [], 16: [14], 17: [], 22: [], 23: [7], 28: [], 29: [1]}
    for day, expected in schedule.items():
        mail.outbox.clear()
        inactivity_check(now=base + day * DAY)
        inactivity_check(now=base + day * DAY)  # the same day again sends nothing more
        assert len(warnings_to(member)) == len(expected), day
        assert tracker_of(member, policy).days_since_activity == day
    assert tracker_of(member, policy).warnings_sent == [14, 7, 1]
    assert not Membership.objects.get(user=member).is_suspended


def test_warning_email_has_text_and_html(policy, member, base):
    inactivity_check(now=base + 16 * DAY)
    [message] = warnings_to(member)
    assert "suspended in 14 days" in message.subject
    assert "Quarterly clean-up" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert "<strong>suspended in 14 days</strong>" in html


def test_missed_days_send_one_warning_and_mark_all_due(policy, member, base):
    inactivity_check(now=base + 25 * DAY)
    assert len(warnings_to(member)) == 1
    assert tracker_of(member, policy).warnings_sent == [14, 7]


def test_activity_resets_the_count_and_the_warnings(policy, member, team, base):
    inactivity_check(now=base + 20 * DAY)
    assert tracker_of(member, policy).warnings_sent == [14]
    event(member, team, base + 19 * DAY)
    inactivity_check(now=base + 20 * DAY + dt.timedelta(hours=1))
    tracker = tracker_of(member, policy)
    assert tracker.days_since_activity == 1
    assert tracker.warnings_sent == []
    assert tracker.last_activity_at == base + 19 * DAY


def test_last_login_counts_as_activity(policy, member, base):
    member.last_login = base + 10 * DAY
    member.save(update_fields=["last_login"])
    inactivity_check(now=base + 30 * DAY)
    assert tracker_of(member, policy).days_since_activity == 20
    assert not Membership.objects.get(user=member).is_suspended


def test_events_in_other_teams_or_without_request_do_not_count(policy, member, team, other_team, base):
    MembershipFactory(team=other_team, user=member, role=Role.MEMBER)
    event(member, other_team, base + 29 * DAY)
    event(member, team, base + 29 * DAY, ip=None)  # written by a job on the member's behalf
    inactivity_check(now=base + 30 * DAY)
    assert tracker_of(member, policy).days_since_activity == 30


def test_threshold_suspends_requests_purge_and_emails(policy, member, owner, team, base):
    mail.outbox.clear()
    summary = inactivity_check(now=base + 30 * DAY)
    assert summary["suspended"] == 1
    assert summary["purges_requested"] == 1
    membership = Membership.objects.get(user=member, team=team)
    assert membership.is_suspended
    assert "policy 'Quarterly clean-up'" in membership.suspended_reason
    tracker = tracker_of(member, policy)
    assert tracker.is_suspended
    assert tracker.purge_requested
    purge = tracker.purge_operation
    assert purge.team == team
    assert purge.scope["entities"] == ["activity_events"]
    assert purge.scope["criteria"] == {"user_id": member.pk}
    # requested by the system on the policy's behalf, not in some admin's name
    assert purge.requested_by is None
    assert purge.requested_by_policy == policy
    assert purge.requester_display == "System (inactivity policy “Quarterly clean-up”)"
    requested = ActivityEvent.objects.get(event_type="admin_ops.purge.requested")
    assert requested.user is None
    assert requested.event_data["requested_by"] == "system"
    assert requested.event_data["policy_id"] == str(policy.pk)
    assert purge.status == PurgeOperation.Status.REQUESTED
    assert any("suspended for inactivity" in m.subject for m in mail.outbox if m.to == [member.email])
    assert ActivityEvent.objects.filter(event_type="tenancy.membership.suspended", team=team).count() == 1


def test_check_is_idempotent(policy, member, base):
    inactivity_check(now=base + 30 * DAY)
    sent = len(mail.outbox)
    events = ActivityEvent.objects.count()
    stamps = dict(InactivityTracker.objects.values_list("pk", "updated_at"))
    summary = inactivity_check(now=base + 30 * DAY)
    assert summary["trackers_updated"] == 0  # nothing changed, nothing written
    assert dict(InactivityTracker.objects.values_list("pk", "updated_at")) == stamps
    assert summary["suspended"] == 0
    assert summary["purges_requested"] == 0
    assert summary["warnings_sent"] == 0
    assert len(mail.outbox) == sent
    assert ActivityEvent.objects.count() == events
    assert PurgeOperation.objects.count() == 1


def test_job_runs_twice_without_repeating_itself(policy, member, base, monkeypatch):
    # joined 40 days ago: due for everything at once
    joined(member, policy.team, timezone.now() - 40 * DAY)
    first = execute_job("admin-inactivity-check", trigger="manual")
    second = execute_job("admin-inactivity-check", trigger="manual")
    assert (first["suspended"], first["purges_requested"]) == (1, 1)
    assert (second["suspended"], second["purges_requested"], second["warnings_sent"]) == (0, 0, 0)


def test_dry_run_changes_nothing(policy, member, base):
    summary = inactivity_check(now=base + 30 * DAY, dry_run=True)
    assert summary["dry_run"] is True
    assert summary["suspended"] == 1
    assert summary["warnings_sent"] == 0
    assert not InactivityTracker.objects.exists()
    assert not Membership.objects.get(user=member).is_suspended
    assert not PurgeOperation.objects.exists()
    assert mail.outbox == []


def test_suspend_only_policy_requests_no_purge(team, owner, member, base):
    owner.last_login = base + 1000 * DAY
    owner.save(update_fields=["last_login"])
    policy_create(team=team, actor=owner, name="P", threshold_days=5, actions={"suspend": True})
    QuerySet(model=Membership).filter(team=team).update(created_at=base)
    inactivity_check(now=base + 6 * DAY)
    assert Membership.objects.get(user=member).is_suspended
    assert not PurgeOperation.objects.exists()


def test_last_active_owner_is_never_suspended(team, owner, base):
    policy = policy_create(team=team, actor=owner, name="P", threshold_days=5, actions={"suspend": True})
    second_owner = MembershipFactory(team=team, user=UserFactory(username="otto"), role=Role.OWNER).user
    QuerySet(model=Membership).filter(team=team).update(created_at=base)
    summary = inactivity_check(now=base + 6 * DAY)
    assert summary["suspended"] == 1
    assert summary["suspension_skipped_last_owner"] == 1
    suspended = set(Membership.objects.filter(team=team, is_suspended=True).values_list("user__username", flat=True))
    assert len(suspended) == 1
    assert suspended < {"alice", "otto"}
    assert tracker_of(second_owner, policy)  # tracked even so


def test_superusers_are_not_suspended(team, owner, base):
    root = UserFactory(username="rooty", is_superuser=True)
    MembershipFactory(team=team, user=root, role=Role.MEMBER)
    owner.last_login = base + 1000 * DAY
    owner.save(update_fields=["last_login"])
    policy_create(team=team, actor=owner, name="P", threshold_days=5, actions={"suspend": True})
    QuerySet(model=Membership).filter(team=team).update(created_at=base)
    assert inactivity_check(now=base + 6 * DAY)["members_checked"] == 2
    assert not Membership.objects.get(user=root).is_suspended


def test_inactive_policies_are_skipped(policy, owner, member, base):
    policy_update(policy=policy, actor=owner, is_active=False)
    summary = inactivity_check(now=base + 30 * DAY)
    assert summary["policies"] == 0
    assert not Membership.objects.get(user=member).is_suspended


def test_trackers_of_departed_members_are_removed(policy, member, base):
    inactivity_check(now=base + 1 * DAY)
    Membership.objects.filter(user=member).delete()
    summary = inactivity_check(now=base + 2 * DAY)
    assert summary["trackers_removed"] == 1
    assert not InactivityTracker.objects.filter(user=member).exists()


def test_member_without_email_is_counted_not_mailed(policy, member, base):
    member.email = ""
    member.save(update_fields=["email"])
    summary = inactivity_check(now=base + 16 * DAY)
    assert summary["warnings_skipped_no_email"] == 1
    assert tracker_of(member, policy).warnings_sent == [14]


def test_undelivered_warning_is_retried_the_next_day(policy, member, base, monkeypatch, settings):
    from django.core.mail import EmailMultiAlternatives

    settings.EMAIL_RETRY_DELAY_SECONDS = 0
    monkeypatch.setattr(EmailMultiAlternatives, "send", lambda *a, **k: (_ for _ in ()).throw(OSError("smtp down")))
    summary = inactivity_check(now=base + 16 * DAY)
    assert (summary["warnings_sent"], summary["warnings_failed"]) == (0, 1)
    assert tracker_of(member, policy).warnings_sent == []
    monkeypatch.undo()
    summary = inactivity_check(now=base + 17 * DAY)
    assert summary["warnings_sent"] == 1
    assert len(warnings_to(member)) == 1
    assert tracker_of(member, policy).warnings_sent == [14]


def test_check_runs_a_constant_number_of_queries(policy, team, base):
    def count_queries():
        with CaptureQueriesContext(connection) as ctx:
            inactivity_check(now=base + 2 * DAY)
        return len(ctx.captured_queries)

    count_queries()  # creates the trackers
    few = count_queries()
    for i in range(8):
        MembershipFactory(team=team, user=UserFactory(username=f"extra{i}"), role=Role.MEMBER)
    count_queries()
    assert count_queries() == few


# --- Reinstatement ---------------------------------------------------------------------------
def test_reinstatement_lifts_the_suspension_and_restarts_the_count(policy, member, admin_user, team, base):
    inactivity_check(now=base + 30 * DAY)
    tracker = tracker_of(member, policy)
    reinstated = member_reinstate(tracker=tracker, actor=admin_user, now=base + 30 * DAY)
    assert not Membership.objects.get(user=member, team=team).is_suspended
    assert (reinstated.is_suspended, reinstated.warnings_sent, reinstated.purge_requested) == (False, [], False)
    assert reinstated.days_since_activity == 0
    assert ActivityEvent.objects.filter(event_type="tenancy.membership.reinstated", team=team).exists()
    assert ActivityEvent.objects.filter(event_type="admin_ops.inactivity_tracker.reinstated").exists()
    # the next run does not suspend again: the count restarted at the reinstatement
    summary = inactivity_check(now=base + 31 * DAY)
    assert summary["suspended"] == 0
    assert tracker_of(member, policy).days_since_activity == 1
    # ... until the member is inactive for another full threshold
    inactivity_check(now=base + 60 * DAY)
    assert Membership.objects.get(user=member, team=team).is_suspended


def test_reinstating_an_active_member_is_a_conflict(policy, member, admin_user, base):
    inactivity_check(now=base + 1 * DAY)
    with pytest.raises(Conflict) as exc:
        member_reinstate(tracker=tracker_of(member, policy), actor=admin_user)
    assert exc.value.code == "not_suspended"


def test_reinstatement_needs_admin(policy, member, viewer, base):
    inactivity_check(now=base + 30 * DAY)
    with pytest.raises(PermissionDenied):
        member_reinstate(tracker=tracker_of(member, policy), actor=viewer)


def test_suspended_member_gets_membership_suspended_everywhere(policy, member, team, base, api_as, client_as):
    inactivity_check(now=base + 30 * DAY)
    api = api_as(member)
    for url in (
        f"/api/teams/{team.pk}/",
        f"/api/teams/{team.pk}/customers/",
        f"/api/admin/activity/?team_id={team.pk}",
    ):
        response = api.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "membership_suspended"
    page = client_as(member).get("/team/customers/")
    assert page.status_code == 403
    assert b"suspended" in page.content


def reinstate_outside_the_app(member, team, when):
    """What the Django admin's membership form does: flip the flag, touch updated_at."""
    QuerySet(model=Membership).filter(user=member, team=team).update(
        is_suspended=False, suspended_at=None, suspended_reason="", updated_at=when
    )


@pytest.mark.parametrize("strict_active", [True, False])
def test_reinstatement_outside_the_app_is_not_undone_by_another_policy(
    policy, owner, member, team, base, strict_active
):
    # regression: only the tracker of the policy that suspended restarted its count, so a
    # second (longer) policy suspended the reinstated member again on the next run
    lenient = policy_create(team=team, actor=owner, name="Lenient", threshold_days=60, actions={"suspend": True})
    inactivity_check(now=base + 30 * DAY)
    assert tracker_of(member, policy).is_suspended
    if not strict_active:  # the suspending policy is no longer run: its tracker stays as it was
        policy_update(policy=policy, actor=owner, is_active=False)
    reinstate_outside_the_app(member, team, base + 70 * DAY)
    summary = inactivity_check(now=base + 71 * DAY)
    assert summary["suspended"] == 0
    assert not Membership.objects.get(user=member, team=team).is_suspended
    assert tracker_of(member, lenient).days_since_activity == 1
    # the count restarted at the reinstatement for both policies
    inactivity_check(now=base + 72 * DAY)
    assert not Membership.objects.get(user=member, team=team).is_suspended
    inactivity_check(now=base + 130 * DAY)
    assert Membership.objects.get(user=member, team=team).is_suspended


def test_policy_created_after_a_reinstatement_counts_from_it(policy, owner, member, admin_user, team, base):
    inactivity_check(now=base + 30 * DAY)
    member_reinstate(tracker=tracker_of(member, policy), actor=admin_user, now=base + 40 * DAY)
    admin_user.last_login = base + 1000 * DAY  # the reinstating admin stays active
    admin_user.save(update_fields=["last_login"])
    newer = policy_create(team=team, actor=owner, name="Newer", threshold_days=20, actions={"suspend": True})
    summary = inactivity_check(now=base + 45 * DAY)
    assert summary["suspended"] == 0
    assert tracker_of(member, newer).days_since_activity == 5
    inactivity_check(now=base + 60 * DAY)
    assert Membership.objects.get(user=member, team=team).is_suspended
