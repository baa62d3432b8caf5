"""Health endpoints, operator commands and structured logging."""

import json
import logging
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from deelrx import health, jobs
from deelrx.jobs import JOB_SPECS, JobNotImplemented
from deelrx.jobs.models import JobRun

pytestmark = pytest.mark.django_db


# --- Health ---------------------------------------------------------------------------
def test_healthz_is_alive_without_touching_services(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_readyz_reports_every_check(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "channel_layer", "storage_private", "storage_public"}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_is_503_when_a_check_fails(client, monkeypatch):
    def broken_store(store):
        raise OSError("disk full")

    monkeypatch.setattr(health, "check_store", broken_store)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["storage_private"] == {**body["checks"]["storage_private"], "ok": False}
    assert "disk full" in body["checks"]["storage_private"]["detail"]
    assert body["checks"]["database"]["ok"] is True


def test_readyz_checks_redis_when_configured(client, redis_url, settings):
    from deelrx.celery import app

    app.conf.task_always_eager = False
    body = client.get("/readyz").json()
    assert body["checks"]["broker"] == {**body["checks"]["broker"], "ok": True, "detail": "reachable"}


# --- Commands -------------------------------------------------------------------------
def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_run_job_lists_the_nine_jobs_with_last_and_next_run():
    output = run("run_job")
    for name in JOB_SPECS:
        assert name in output
    assert len(JOB_SPECS) == 9
    assert "never" in output
    assert "UTC" in output


def test_run_job_runs_a_job_and_records_it(monkeypatch):
    registered = jobs.load_jobs()["admin-retention-enforce"]
    monkeypatch.setattr(registered, "func", lambda **kwargs: {"deleted": 0, **kwargs})
    output = run("run_job", "admin-retention-enforce")
    assert "finished" in output
    run_row = JobRun.objects.get(job_name="admin-retention-enforce")
    assert run_row.trigger == JobRun.Trigger.MANUAL
    assert run_row.status == JobRun.Status.SUCCEEDED
    assert "admin-retention-enforce" in run("run_job")


def test_run_job_failure_exits_non_zero_and_is_recorded(monkeypatch):
    def not_done(**kwargs):
        raise JobNotImplemented("not implemented yet")

    monkeypatch.setattr(jobs.load_jobs()["credit-overdue-check"], "func", not_done)
    with pytest.raises(CommandError, match="not implemented"):
        run("run_job", "credit-overdue-check")
    assert JobRun.objects.get(job_name="credit-overdue-check").status == JobRun.Status.FAILED


def test_run_job_rejects_unknown_names():
    with pytest.raises(CommandError, match="Unknown job"):
        run("run_job", "no-such-job")


def test_sync_job_schedules_creates_one_editable_entry_per_job():
    from django_celery_beat.models import PeriodicTask

    run("sync_job_schedules")
    tasks = PeriodicTask.objects.filter(name__in=list(JOB_SPECS))
    assert tasks.count() == len(JOB_SPECS) == 9
    overdue = tasks.get(name="credit-overdue-check")
    overdue.enabled = False
    overdue.save()
    run("sync_job_schedules")
    overdue.refresh_from_db()
    assert overdue.enabled is False, "operators' edits survive a re-sync"


def test_dbcheck_reports_connectivity_and_migrations():
    output = run("dbcheck")
    assert "Database reachable" in output
    assert "All migrations applied" in output


def test_dbcheck_fails_on_unapplied_migrations(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(
        MigrationExecutor,
        "migration_plan",
        lambda self, targets: [(type("M", (), {"app_label": "x", "name": "0099"}), False)],
    )
    with pytest.raises(CommandError, match="unapplied"):
        run("dbcheck")


def test_blobcheck_on_file_system():
    output = run("blobcheck")
    assert "private" in output
    assert "public" in output


def test_seed_demo_is_idempotent_and_prints_logins():
    from deelrx.tenancy.models import Customer, Membership, Team, User

    first = run("seed_demo")
    counts = (User.objects.count(), Team.objects.count(), Membership.objects.count(), Customer.objects.count())
    second = run("seed_demo")
    assert counts == (User.objects.count(), Team.objects.count(), Membership.objects.count(), Customer.objects.count())
    for output in (first, second):
        assert "deelrx-demo" in output
        assert "adam" in output
    assert User.objects.get(username="admin").is_superuser


# --- Logging --------------------------------------------------------------------------
def test_requests_carry_a_request_id_into_json_logs(client, caplog):
    from deelrx.logging import build_logging_config

    config = build_logging_config(level="INFO", fmt="json")
    assert config["handlers"]

    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc123")
    assert response["X-Request-ID"] == "abc123"
    assert len(client.get("/healthz")["X-Request-ID"]) >= 16


def test_json_formatter_emits_one_object_per_line_with_context():
    import structlog

    from deelrx.logging import build_logging_config

    config = build_logging_config(level="INFO", fmt="json")
    formatter_spec = next(iter(config["formatters"].values()))
    formatter = formatter_spec["()"](**{k: v for k, v in formatter_spec.items() if k != "()"})
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        record = logging.LogRecord("deelrx.test", logging.INFO, __file__, 1, "job finished", None, None)
        record.job = "credit-overdue-check"
        line = formatter.format(record)
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    payload = json.loads(line)
    assert payload["event"] == "job finished"
    assert payload["request_id"] == "req-42"
    assert payload["level"] == "info"


def test_next_run_counts_from_now_after_a_manual_run():
    """A manual run shortly before the daily slot must not move the next slot (regression)."""
    import datetime as dt

    from django.utils import timezone

    from deelrx.jobs import job_status_rows

    now = timezone.now()
    JobRun.objects.create(job_name="admin-inactivity-check", trigger=JobRun.Trigger.MANUAL)
    JobRun.objects.filter(job_name="admin-inactivity-check").update(started_at=now - dt.timedelta(minutes=6))
    expected = now.astimezone(dt.UTC).replace(hour=1, minute=0, second=0, microsecond=0)
    if expected <= now:
        expected += dt.timedelta(days=1)
    row = next(r for r in job_status_rows() if r["name"] == "admin-inactivity-check")
    assert abs(row["next_run"] - expected) < dt.timedelta(minutes=1)


def test_job_events_are_not_stamped_with_the_callers_request(monkeypatch):
    from deelrx.audit.models import ActivityEvent
    from deelrx.audit.services import record_event
    from deelrx.middleware import RequestMeta, _current_request_meta

    def body(**kwargs):
        record_event(event_type="kb.links.checked")
        return {}

    monkeypatch.setattr(jobs.load_jobs()["admin-retention-enforce"], "func", body)
    token = _current_request_meta.set(RequestMeta(request_id="r1", ip_address="198.51.100.7", user_agent="browser"))
    try:
        jobs.execute_job("admin-retention-enforce", trigger="manual")
    finally:
        _current_request_meta.reset(token)
    event = ActivityEvent.objects.get(event_type="kb.links.checked")
    assert event.ip_address is None
    assert event.user_agent == ""


def test_the_operations_guide_lists_every_job_with_its_schedule():
    """docs/operations.md's table names each registered job with the cron its spec schedules."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if line.startswith("| `")}
    assert set(rows) == set(JOB_SPECS)
    for name, spec in JOB_SPECS.items():
        assert f"`{spec.schedule_display}`" in rows[name], name
