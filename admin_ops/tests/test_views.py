"""The governance pages under /ops/: index, activity log, inactivity policies and trackers, blobs, jobs."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import InactivityPolicy
from admin_ops.services.inactivity import inactivity_check, policy_create
from admin_ops.tests.factories import PurgeOperationFactory
from deelrx.audit.models import ActivityEvent
from deelrx.jobs.models import JobRun
from deelrx.storage import get_storage
from deelrx.tenancy.models import Membership

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(team, owner):
    return policy_create(
        team=team, actor=owner, name="Dormant", threshold_days=10, actions={"warnings": [3], "suspend": True}
    )


@pytest.fixture
def suspended(team, owner, admin_user, viewer, member, policy):
    type(member).objects.exclude(pk=member.pk).update(last_login=timezone.now())
    QuerySet(model=Membership).filter(team=team).update(created_at=timezone.now() - dt.timedelta(days=11))
    inactivity_check()
    return policy.trackers.get(user=member)


# --- Index and dashboard -----------------------------------------------------------------------
def test_index_for_admin_links_to_everything_of_the_team(client_as, admin_user):
    response = client_as(admin_user).get("/ops/")
    assert response.status_code == 200
    for url in ("/ops/activity/", "/ops/inactivity/", "/ops/inactivity/trackers/", "/ops/purges/", "/ops/jobs/"):
        assert f'href="{url}"'.encode() in response.content
    assert b'href="/ops/blobs/"' not in response.content


def test_index_for_superuser_links_to_blobs(client_as, superuser, team):
    response = client_as(superuser).get("/ops/")
    assert b'href="/ops/blobs/"' in response.content


def test_index_for_member_explains_the_role(client_as, member):
    response = client_as(member).get("/ops/")
    assert response.status_code == 200
    assert b"need the admin or owner role" in response.content
    assert b'href="/ops/activity/"' not in response.content


def test_dashboard_shows_the_section(client_as, owner, policy):
    response = client_as(owner).get("/")
    assert response.status_code == 200
    assert b"Active inactivity policies" in response.content


# --- Inactivity policies ------------------------------------------------------------------------
def test_policy_list(client_as, admin_user, policy):
    response = client_as(admin_user).get("/ops/inactivity/")
    assert response.status_code == 200
    assert b"Dormant" in response.content


def test_policy_create_page(client_as, admin_user, team):
    client = client_as(admin_user)
    assert client.get("/ops/inactivity/new/").status_code == 200
    response = client.post(
        "/ops/inactivity/new/",
        {"name": "Leavers", "threshold_days": "30", "warnings": "7, 14", "suspend": "on", "is_active": "on"},
    )
    assert response.status_code == 302
    policy = InactivityPolicy.objects.get(name="Leavers")
    assert policy.actions == {"warnings": [14, 7], "suspend": True, "purge": False}
    assert policy.team == team


def test_policy_form_shows_service_errors_on_the_field(client_as, admin_user):
    response = client_as(admin_user).post(
        "/ops/inactivity/new/", {"name": "Bad", "threshold_days": "5", "warnings": "9"}
    )
    assert response.status_code == 200
    assert b"less than 5" in response.content
    assert response.context["form"].errors["warnings"]


def test_policy_form_rejects_garbage_warnings(client_as, admin_user):
    response = client_as(admin_user).post(
        "/ops/inactivity/new/", {"name": "Bad", "threshold_days": "5", "warnings": "x"}
    )
    assert b"whole numbers" in response.content


def test_policy_edit_page(client_as, owner, policy):
    client = client_as(owner)
    page = client.get(f"/ops/inactivity/{policy.pk}/edit/")
    assert page.status_code == 200
    assert b'value="Dormant"' in page.content
    response = client.post(
        f"/ops/inactivity/{policy.pk}/edit/", {"name": "Dormant", "threshold_days": "20", "warnings": "3, 10"}
    )
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.threshold_days == 20
    assert policy.actions["warnings"] == [10, 3]
    assert policy.is_active is False  # the checkbox was left unticked


def test_policy_delete_page(client_as, owner, policy):
    client = client_as(owner)
    assert b"Delete" in client.get(f"/ops/inactivity/{policy.pk}/delete/").content
    assert client.post(f"/ops/inactivity/{policy.pk}/delete/").status_code == 302
    assert not InactivityPolicy.objects.filter(pk=policy.pk).exists()


def test_policy_delete_page_explains_refusal(client_as, owner, policy, suspended):
    response = client_as(owner).post(f"/ops/inactivity/{policy.pk}/delete/")
    assert response.status_code == 200
    assert b"reinstate them first" in response.content


def test_other_teams_policy_is_404(client_as, outsider, policy):
    client = client_as(outsider)
    assert client.get(f"/ops/inactivity/{policy.pk}/edit/").status_code == 404
    assert client.post(f"/ops/inactivity/{policy.pk}/delete/").status_code == 404


@pytest.mark.parametrize("url", ["/ops/inactivity/", "/ops/inactivity/new/", "/ops/inactivity/trackers/"])
def test_inactivity_pages_need_admin(client_as, member, url):
    assert client_as(member).get(url).status_code == 403


# --- Trackers -------------------------------------------------------------------------------------
def test_tracker_page_and_reinstate(client_as, admin_user, team, member, suspended):
    client = client_as(admin_user)
    page = client.get("/ops/inactivity/trackers/")
    assert page.status_code == 200
    assert b"maria" in page.content
    assert b"Reinstate" in page.content
    only_suspended = client.get("/ops/inactivity/trackers/", {"is_suspended": "true"})
    assert [t.user.username for t in only_suspended.context["page"]] == ["maria"]
    response = client.post(f"/ops/inactivity/trackers/{suspended.pk}/reinstate/", follow=True)
    assert b"maria is reinstated" in response.content
    assert not Membership.objects.get(team=team, user=member).is_suspended


def test_reinstate_of_another_teams_tracker_is_404(client_as, outsider, suspended):
    assert client_as(outsider).post(f"/ops/inactivity/trackers/{suspended.pk}/reinstate/").status_code == 404


def test_reinstate_needs_post_and_admin(client_as, viewer, suspended):
    client = client_as(viewer)
    assert client.post(f"/ops/inactivity/trackers/{suspended.pk}/reinstate/").status_code == 403


# --- Blob browser -----------------------------------------------------------------------------------
@pytest.fixture
def blob(superuser):
    return get_storage("private").save("private/docs/a.txt", ContentFile(b"abc"))


def test_blob_page_lists_both_stores(client_as, superuser, blob):
    get_storage("public").save("public/img/logo.png", ContentFile(b"png"))
    client = client_as(superuser)
    page = client.get("/ops/blobs/")
    assert page.status_code == 200
    assert b"private/docs/a.txt" in page.content
    assert b"3\xc2\xa0bytes" in page.content
    public = client.get("/ops/blobs/", {"store": "public"})
    assert b"public/img/logo.png" in public.content
    assert b"private/docs/a.txt" not in public.content


def test_blob_page_explains_a_bad_prefix(client_as, superuser):
    response = client_as(superuser).get("/ops/blobs/", {"prefix": "../etc"})
    assert response.status_code == 200
    assert b"Not a valid prefix" in response.content


def test_blob_page_paginates(client_as, superuser):
    for i in range(55):
        get_storage("private").save(f"private/many/{i:03}.txt", ContentFile(b"x"))
    client = client_as(superuser)
    first = client.get("/ops/blobs/")
    assert len(first.context["entries"]) == 50
    second = client.get(f"/ops/blobs/?{first.context['next_query']}")
    assert [e.key for e in second.context["entries"]] == [f"private/many/{i:03}.txt" for i in range(50, 55)]


def test_blob_migrate_from_the_page(client_as, superuser, blob):
    response = client_as(superuser).post(
        "/ops/blobs/migrate/", {"key": blob, "to_store": "public", "back": "/ops/blobs/"}, follow=True
    )
    assert b"Moved to public/docs/a.txt" in response.content
    assert get_storage("public").exists("public/docs/a.txt")


def test_blob_page_offers_no_public_move_for_purge_exports(client_as, superuser, blob):
    get_storage("private").save("private/purges/1/p/export.zip", ContentFile(b"zip"))
    page = client_as(superuser).get("/ops/blobs/")
    movable = {e.key: e.movable for e in page.context["entries"]}
    assert movable == {"private/docs/a.txt": True, "private/purges/1/p/export.zip": False}
    assert b"purge export: stays private" in page.content


def test_blob_delete_asks_for_confirmation(client_as, superuser, blob):
    client = client_as(superuser)
    confirm = client.get("/ops/blobs/delete/", {"store": "private", "key": blob})
    assert confirm.status_code == 200
    assert b"Delete this file?" in confirm.content
    assert get_storage("private").exists(blob)
    response = client.post("/ops/blobs/delete/", {"store": "private", "key": blob})
    assert response.status_code == 302
    assert not get_storage("private").exists(blob)


def test_blob_delete_of_a_referenced_file_needs_force(client_as, superuser, blob, team):
    PurgeOperationFactory(team=team, export_key=blob)
    client = client_as(superuser)
    refused = client.post("/ops/blobs/delete/", {"store": "private", "key": blob})
    assert refused.status_code == 200
    assert b"Rows still point at this file" in refused.content
    assert client.post("/ops/blobs/delete/", {"store": "private", "key": blob, "force": "on"}).status_code == 302
    assert not get_storage("private").exists(blob)


def test_blob_delete_page_refuses_the_export_of_an_active_purge(client_as, superuser, blob, team):
    PurgeOperationFactory(team=team, export_key=blob, status="acknowledged")
    refused = client_as(superuser).post("/ops/blobs/delete/", {"store": "private", "key": blob, "force": "on"})
    assert refused.status_code == 200
    assert b"export of a purge in progress" in refused.content
    assert get_storage("private").exists(blob)


def test_blob_delete_of_missing_file_is_404(client_as, superuser):
    assert client_as(superuser).get("/ops/blobs/delete/", {"store": "private", "key": "private/x"}).status_code == 404


@pytest.mark.parametrize("who", ["owner", "admin_user"])
def test_blob_pages_are_superuser_only(client_as, request, who, blob):
    client = client_as(request.getfixturevalue(who))
    assert client.get("/ops/blobs/").status_code == 403
    assert client.post("/ops/blobs/migrate/", {"key": blob, "to_store": "public"}).status_code == 403
    assert client.get("/ops/blobs/delete/", {"store": "private", "key": blob}).status_code == 403
    assert get_storage("private").exists(blob)


# --- Jobs -------------------------------------------------------------------------------------------
def test_jobs_page_lists_the_eight_jobs(client_as, admin_user):
    response = client_as(admin_user).get("/ops/jobs/")
    assert response.status_code == 200
    for name in (
        "credit-payment-reminder",
        "credit-overdue-check",
        "credit-limit-adjustment",
        "kb-links-verify",
        "kb-cleanup-orphaned",
        "admin-purge-execute",
        "admin-inactivity-check",
        "admin-retention-enforce",
    ):
        assert name.encode() in response.content
    assert b"Run now" not in response.content  # admins see, superusers run


def test_jobs_page_needs_admin(client_as, member):
    assert client_as(member).get("/ops/jobs/").status_code == 403


@pytest.mark.django_db(transaction=True)  # autocommit, as in production: on_commit fires in the request
def test_superuser_runs_a_job_now(client_as, superuser):
    """Eager Celery (no broker): the queued task runs at once, recorded as manual."""
    client = client_as(superuser)
    assert b"Run now" in client.get("/ops/jobs/").content
    response = client.post("/ops/jobs/admin-retention-enforce/run/", follow=True)
    assert response.status_code == 200
    assert b"admin-retention-enforce finished" in response.content
    run = JobRun.objects.get(job_name="admin-retention-enforce")
    assert (run.trigger, run.status) == ("manual", "succeeded")
    assert ActivityEvent.objects.filter(event_type="job.run.requested", user=superuser).exists()
    # the page shows the outcome
    assert b"succeeded" in client.get("/ops/jobs/").content


def test_run_now_queues_the_celery_task_after_commit(
    client_as, superuser, monkeypatch, django_capture_on_commit_callbacks
):
    """With a broker, "run now" queues the job's task (recorded as manual by the worker)
    instead of running it in the web process, and only once the request committed."""
    from deelrx.jobs import load_jobs

    task = load_jobs()["admin-purge-execute"].task
    sent = []

    class Pending:
        def ready(self):
            return False

    monkeypatch.setattr(task, "apply_async", lambda *args, **kwargs: sent.append(kwargs) or Pending())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client_as(superuser).post("/ops/jobs/admin-purge-execute/run/", {"dry_run": "on"})
    assert response.status_code == 302
    assert sent == []  # nothing queued before the commit
    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [{"kwargs": {"_trigger": "manual", "dry_run": True}}]
    assert not JobRun.objects.exists()  # the web process ran nothing


@pytest.mark.django_db(transaction=True)
def test_run_now_failure_is_shown_and_recorded(client_as, superuser, monkeypatch):
    from admin_ops.services import retention

    def boom(**kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(retention, "retention_enforce", boom)
    response = client_as(superuser).post("/ops/jobs/admin-retention-enforce/run/", follow=True)
    assert b"failed: RuntimeError: store down" in response.content
    run = JobRun.objects.get(job_name="admin-retention-enforce")
    assert (run.trigger, run.status) == ("manual", "failed")


def test_run_now_dry_run(client_as, superuser, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client_as(superuser).post("/ops/jobs/admin-inactivity-check/run/", {"dry_run": "on"})
    assert JobRun.objects.get(job_name="admin-inactivity-check").summary["dry_run"] is True


def test_run_now_is_superuser_only(client_as, admin_user):
    assert client_as(admin_user).post("/ops/jobs/admin-retention-enforce/run/").status_code == 403
    assert not JobRun.objects.exists()


def test_run_now_unknown_job_is_404(client_as, superuser):
    assert client_as(superuser).post("/ops/jobs/nope/run/").status_code == 404


def test_blob_migrate_refusal_reads_as_a_sentence(client_as, superuser, blob):
    """Regression: the flash message showed the raw details dict."""
    response = client_as(superuser).post(
        "/ops/blobs/migrate/", {"key": blob, "to_store": "private", "back": "/ops/blobs/"}, follow=True
    )
    html = response.content.decode()
    assert "The file is already in the private store." in html
    assert "{" not in html.split("The file is already")[0].rsplit(">", 1)[-1]
