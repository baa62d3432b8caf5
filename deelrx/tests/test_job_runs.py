"""Job runs say what they were: a dry run is marked as one wherever runs are
shown and never counts as "the last run"; a run whose worker died is marked
failed ("worker lost") instead of staying `running` forever."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from deelrx import jobs
from deelrx.jobs.models import JobRun

pytestmark = pytest.mark.django_db


def test_a_run_records_its_worker_and_dry_run(monkeypatch):
    registered = jobs.load_jobs()["credit-overdue-check"]
    monkeypatch.setattr(registered, "func", lambda **kwargs: {"ok": True})
    jobs.execute_job("credit-overdue-check", trigger="manual", dry_run=True)
    run = JobRun.objects.get()
    assert run.dry_run is True
    assert run.worker
    assert run.heartbeat_at is not None
    assert "(dry run)" in str(run)


def test_dry_runs_are_marked_and_do_not_move_the_schedule(monkeypatch):
    registered = jobs.load_jobs()["credit-overdue-check"]
    monkeypatch.setattr(registered, "func", lambda **kwargs: {})
    jobs.execute_job("credit-overdue-check", trigger="manual")
    jobs.execute_job("credit-overdue-check", trigger="manual", dry_run=True)
    row = next(r for r in jobs.job_status_rows() if r["name"] == "credit-overdue-check")
    assert row["last_run"].dry_run is True
    assert row["last_real_run"].dry_run is False
    out = StringIO()
    call_command("run_job", stdout=out)
    assert "succeeded (dry run)" in out.getvalue()


def test_a_run_whose_worker_died_is_reaped_as_worker_lost(settings):
    settings.JOB_LOST_AFTER_SECONDS = 600
    now = timezone.now()
    dead = JobRun.objects.create(job_name="credit-overdue-check", heartbeat_at=now - dt.timedelta(minutes=11))
    alive = JobRun.objects.create(job_name="credit-overdue-check", heartbeat_at=now - dt.timedelta(minutes=2))
    assert jobs.job_runs_reap(now=now) == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert (dead.status, dead.error) == ("failed", "worker lost")
    assert dead.finished_at == now
    assert alive.status == "running"
    assert jobs.job_runs_reap(now=now) == 0


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_keeps_a_long_run_alive(settings, monkeypatch):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    seen = []

    def slow(**kwargs):
        import time

        time.sleep(0.3)
        seen.append(1)
        return {}

    registered = jobs.load_jobs()["credit-overdue-check"]
    monkeypatch.setattr(registered, "func", slow)
    jobs.execute_job("credit-overdue-check", trigger="manual")
    assert seen == [1]
    run = JobRun.objects.get()
    assert run.status == "succeeded"
    assert run.heartbeat_at > run.started_at + dt.timedelta(seconds=0.1)  # refreshed while it ran


def test_a_reaped_run_is_announced_as_a_failed_run(settings, django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    from deelrx.audit.models import ActivityEvent
    from notifications.models import Notification

    settings.JOB_LOST_AFTER_SECONDS = 600
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    now = timezone.now()
    dead = JobRun.objects.create(job_name="kb-links-verify", heartbeat_at=now - dt.timedelta(minutes=11))
    JobRun.objects.create(job_name="credit-overdue-check", heartbeat_at=now - dt.timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs.job_runs_reap(now=now) == 1
    event = ActivityEvent.objects.get(event_type="job.run.failed")
    assert event.event_data == {"job": "kb-links-verify", "run_id": dead.pk, "error": "worker lost"}
    assert list(Notification.objects.values_list("recipient", flat=True)) == [root.pk]
    assert jobs.job_runs_reap(now=now) == 0
    assert ActivityEvent.objects.filter(event_type="job.run.failed").count() == 1  # announced once
