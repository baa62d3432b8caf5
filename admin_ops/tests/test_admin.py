"""Django admin of admin_ops: every model registered, audit rows read-only, writes through services."""

import datetime as dt

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import InactivityPolicy, PurgeOperation
from admin_ops.services.inactivity import inactivity_check, policy_create
from admin_ops.tests.factories import PurgeOperationFactory
from deelrx.audit.models import ActivityEvent
from deelrx.jobs.models import JobRun
from deelrx.tenancy.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client_as, superuser):
    return client_as(superuser)


@pytest.mark.parametrize(
    "model",
    [
        "audit/activityevent",
        "jobs/jobrun",
        "admin_ops/purgeoperation",
        "admin_ops/inactivitypolicy",
        "admin_ops/inactivitytracker",
    ],
)
def test_every_model_has_a_changelist(admin_client_, model, team):
    response = admin_client_.get(f"/django-admin/{model}/")
    assert response.status_code == 200


def test_audit_rows_are_read_only(admin_client_, team):
    event = ActivityEvent.objects.create(team=team, event_type="x.y")
    run = JobRun.objects.create(job_name="admin-retention-enforce")
    assert admin_client_.get("/django-admin/audit/activityevent/add/").status_code == 403
    page = admin_client_.get(f"/django-admin/audit/activityevent/{event.pk}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client_.post(f"/django-admin/jobs/jobrun/{run.pk}/delete/", {"post": "yes"}).status_code == 403


def test_policy_created_in_admin_goes_through_the_service(admin_client_, team, superuser):
    response = admin_client_.post(
        "/django-admin/admin_ops/inactivitypolicy/add/",
        {
            "team": team.pk,
            "name": "From admin",
            "description": "",
            "threshold_days": 30,
            "actions": '{"warnings": [1, 7], "suspend": true}',
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content
    policy = InactivityPolicy.objects.get(name="From admin")
    assert policy.actions == {"warnings": [7, 1], "suspend": True, "purge": False}
    assert policy.created_by == superuser
    assert ActivityEvent.objects.filter(event_type="admin_ops.inactivity_policy.created", user=superuser).exists()


def test_policy_admin_shows_rule_errors(admin_client_, team):
    response = admin_client_.post(
        "/django-admin/admin_ops/inactivitypolicy/add/",
        {"team": team.pk, "name": "Bad", "threshold_days": 5, "actions": '{"warnings": [5]}', "is_active": "on"},
    )
    assert response.status_code == 200
    assert b"less than 5" in response.content
    assert not InactivityPolicy.objects.exists()


def test_purge_notes_are_editable_and_audited(admin_client_, team):
    purge = PurgeOperationFactory(team=team)
    page = admin_client_.get(f"/django-admin/admin_ops/purgeoperation/{purge.pk}/change/")
    assert b'name="notes"' in page.content
    assert b'name="status"' not in page.content
    response = admin_client_.post(f"/django-admin/admin_ops/purgeoperation/{purge.pk}/change/", {"notes": "checked"})
    assert response.status_code == 302
    purge.refresh_from_db()
    assert purge.notes == "checked"
    assert ActivityEvent.objects.filter(event_type="admin.purgeoperation.changed").exists()
    assert ActivityEvent.objects.filter(event_type="admin_ops.purge.notes_changed").exists()


def test_purge_notes_edit_never_writes_back_a_stale_status(superuser, team):
    """Regression: the admin saved the whole row, so a status the job changed while the
    form was open could be overwritten with the one the form had loaded."""
    from django.contrib import admin as django_admin

    purge = PurgeOperationFactory(team=team)
    model_admin = django_admin.site._registry[PurgeOperation]
    stale = PurgeOperation.objects.get(pk=purge.pk)  # what the form loaded
    PurgeOperation.objects.filter(pk=purge.pk).update(status=PurgeOperation.Status.CANCELLED)  # the job moved it
    request = type("R", (), {"user": superuser, "META": {}})()
    form = type("F", (), {"cleaned_data": {"notes": "checked"}, "changed_data": ["notes"]})()
    model_admin.save_model(request, stale, form, change=True)
    purge.refresh_from_db()
    assert (purge.status, purge.notes) == (PurgeOperation.Status.CANCELLED, "checked")


def test_purge_cancel_action_uses_the_service(admin_client_, team):
    purge = PurgeOperationFactory(team=team)
    response = admin_client_.post(
        "/django-admin/admin_ops/purgeoperation/",
        {"action": "cancel_purges", "_selected_action": [str(purge.pk)]},
    )
    assert response.status_code == 302
    purge.refresh_from_db()
    assert purge.status == PurgeOperation.Status.CANCELLED


def test_tracker_reinstate_action(admin_client_, team, owner, member):
    type(member).objects.exclude(pk=member.pk).update(last_login=timezone.now())
    QuerySet(model=Membership).filter(team=team).update(created_at=timezone.now() - dt.timedelta(days=6))
    policy = policy_create(team=team, actor=owner, name="P", threshold_days=5, actions={"suspend": True})
    inactivity_check()
    tracker = policy.trackers.get(user=member)
    assert tracker.is_suspended
    response = admin_client_.post(
        "/django-admin/admin_ops/inactivitytracker/",
        {"action": "reinstate_members", "_selected_action": [str(tracker.pk)]},
    )
    assert response.status_code == 302
    assert not Membership.objects.get(team=team, user=member).is_suspended
