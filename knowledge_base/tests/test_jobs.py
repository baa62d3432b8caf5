"""The two KB jobs through the job runner: manage.py run_job, JobRun records, Celery."""

from io import StringIO

import pytest
from django.core.management import call_command

from deelrx.jobs.models import JobRun
from knowledge_base.models import KbUpload
from knowledge_base.services.uploads import upload_create
from knowledge_base.tasks import kb_cleanup_orphaned, kb_links_verify
from knowledge_base.tests.storage_helpers import a_file

pytestmark = pytest.mark.django_db


def run_job(*args) -> str:
    out = StringIO()
    call_command("run_job", *args, stdout=out)
    return out.getvalue()


def test_cleanup_dry_run_from_the_command_line(team, member):
    upload_create(team=team, user=member, file=a_file())
    output = run_job("kb-cleanup-orphaned", "--dry-run")
    assert "kb-cleanup-orphaned finished" in output
    run = JobRun.objects.get(job_name="kb-cleanup-orphaned")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.trigger == "manual"
    assert run.summary["dry_run"] is True
    assert KbUpload.objects.count() == 1


def test_cleanup_runs_for_real(team, member):
    output = run_job("kb-cleanup-orphaned")
    assert "finished" in output
    assert JobRun.objects.get(job_name="kb-cleanup-orphaned").summary["dry_run"] is False


def test_links_verify_from_the_command_line():
    output = run_job("kb-links-verify", "--dry-run")
    assert "kb-links-verify finished" in output
    assert JobRun.objects.get(job_name="kb-links-verify").summary["articles"] == 0


def test_jobs_run_as_celery_tasks():
    assert kb_cleanup_orphaned.delay(dry_run=True).get()["dry_run"] is True
    assert kb_links_verify.delay().get()["urls_checked"] == 0
    assert set(JobRun.objects.values_list("trigger", flat=True)) == {"schedule"}
