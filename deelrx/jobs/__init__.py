"""The job registry (DESIGN §9).

The nine jobs and their default schedules are declared here; each app
implements its own with the `@job(name)` decorator in its `tasks.py`. A job
is a Celery task (name = job name) whose every run is recorded as a JobRun,
and `manage.py run_job NAME` runs the same function in-process.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from celery import shared_task
from celery.schedules import crontab
from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

logger = logging.getLogger("deelrx.jobs")


class JobNotImplemented(Exception):
    """The job's name is reserved but its body is not written yet."""


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str
    schedule: dict[str, str]  # crontab fields
    app: str

    @property
    def crontab(self) -> crontab:
        return crontab(**self.schedule)

    @property
    def schedule_display(self) -> str:
        s = self.schedule
        return " ".join(s.get(k, "*") for k in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week"))


JOB_SPECS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in [
        JobSpec(
            "credit-payment-reminder",
            "Remind customers of balances coming due or due, once per stage.",
            {"minute": "0", "hour": "8"},
            "credit",
        ),
        JobSpec(
            "credit-overdue-check",
            "Suspend, then default, accounts past due plus grace.",
            {"minute": "30", "hour": "2"},
            "credit",
        ),
        JobSpec(
            "credit-limit-adjustment",
            "Raise limits for good payers, lower or freeze late ones.",
            {"minute": "0", "hour": "3", "day_of_week": "1"},
            "credit",
        ),
        JobSpec(
            "kb-links-verify",
            "Check links in published articles and record broken ones.",
            {"minute": "0", "hour": "4", "day_of_week": "0"},
            "knowledge_base",
        ),
        JobSpec(
            "kb-cleanup-orphaned",
            "Delete unused uploads after a grace period, and stray objects.",
            {"minute": "0", "hour": "5", "day_of_month": "1"},
            "knowledge_base",
        ),
        JobSpec(
            "admin-purge-execute",
            "Export, then execute acknowledged purges that are due.",
            {"minute": "*/15"},
            "admin_ops",
        ),
        JobSpec(
            "admin-inactivity-check",
            "Update trackers, warn, suspend and request purges per policy.",
            {"minute": "0", "hour": "1"},
            "admin_ops",
        ),
        JobSpec(
            "admin-retention-enforce",
            "Delete activity events, exports and idempotency keys past retention.",
            {"minute": "0", "hour": "6", "day_of_week": "6"},
            "admin_ops",
        ),
        JobSpec(
            "reports-snapshot",
            "Store each team's figures of the day before (and any missing past days) for reports.",
            {"minute": "20", "hour": "0"},
            "reports",
        ),
    ]
}


@dataclass
class RegisteredJob:
    spec: JobSpec
    func: Callable[..., dict[str, Any] | None]
    task: Any
    options: tuple[str, ...] = field(default=())


REGISTRY: dict[str, RegisteredJob] = {}


def job(name: str, **task_options) -> Callable:
    """Register the body of job `name` (declared in JOB_SPECS) as a Celery task.

    The function takes keyword arguments only (e.g. `dry_run`) and returns a
    JSON-able summary of what it did.
    """
    spec = JOB_SPECS[name]

    def decorator(func):
        @shared_task(name=name, acks_late=True, **task_options)
        def task(_trigger: str = "schedule", **kwargs):
            # Beat sends no arguments; "run now" from the jobs page queues with _trigger="manual".
            return execute_job(name, trigger=_trigger, **kwargs)

        options = tuple(p.name for p in inspect.signature(func).parameters.values() if p.kind == p.KEYWORD_ONLY)
        REGISTRY[name] = RegisteredJob(spec=spec, func=func, task=task, options=options)
        return task

    return decorator


def load_jobs() -> dict[str, RegisteredJob]:
    """Import every app's tasks module so that the registry is complete."""
    from importlib import import_module

    for app in sorted({spec.app for spec in JOB_SPECS.values()}):
        import_module(f"{app}.tasks")
    return REGISTRY


def execute_job(name: str, *, trigger: str, **kwargs) -> dict[str, Any]:
    """Run a job now in this process, recording the run and logging the outcome.
    While it runs, a heartbeat thread refreshes the run every `JOB_HEARTBEAT_SECONDS`:
    if the process dies (kill -9, a lost machine) the heartbeat stops and
    `job_runs_reap` marks the run failed ("worker lost") instead of leaving it running."""
    from deelrx.jobs.models import JobRun
    from deelrx.middleware import outside_request

    registered = load_jobs().get(name)
    if registered is None:
        raise KeyError(name)
    job_runs_reap()
    now = timezone.now()
    run = JobRun.objects.create(
        job_name=name,
        trigger=trigger,
        dry_run=bool(kwargs.get("dry_run")),
        worker=f"{socket.gethostname()}:{os.getpid()}"[:255],
        heartbeat_at=now,
    )
    started = time.monotonic()
    logger.info("job started", extra={"job": name, "trigger": trigger, "options": kwargs})
    try:
        # An eager task started from a request (jobs page "Run now" without a broker)
        # must not stamp the caller's ip/user agent on the job's audit events.
        with outside_request(), _heartbeat(run.pk):
            summary = registered.func(**kwargs) or {}
    except Exception as exc:
        run.status = JobRun.Status.FAILED
        run.error = f"{exc.__class__.__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        logger.exception("job failed", extra={"job": name})
        _record_failure(name, run)
        raise
    run.status = JobRun.Status.SUCCEEDED
    run.summary = summary
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "summary", "finished_at"])
    logger.info(
        "job finished",
        extra={"job": name, "summary": summary, "seconds": round(time.monotonic() - started, 3)},
    )
    return summary


def _record_failure(name: str, run) -> None:
    """Audit a failed run (`job.run.failed`: the superusers are notified). The job's
    own exception is what matters: a failure to record it is only logged."""
    from deelrx.audit.services import record_event

    try:
        with transaction.atomic():
            record_event(event_type="job.run.failed", data={"job": name, "run_id": run.pk, "error": run.error[:500]})
    except Exception:
        logger.exception("job failure not recorded", extra={"job": name})


@contextlib.contextmanager
def _heartbeat(run_pk: int):
    """Refresh the run's heartbeat from a thread (its own database connection) until the job ends."""
    from django.db import connection

    from deelrx.jobs.models import JobRun

    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                JobRun.objects.filter(pk=run_pk, status=JobRun.Status.RUNNING).update(heartbeat_at=timezone.now())
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"job-heartbeat-{run_pk}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def job_runs_reap(*, now=None) -> int:
    """Mark failed ("worker lost") the runs left `running` by a process that died:
    no heartbeat for `JOB_LOST_AFTER_SECONDS`. Called before every run and by the
    jobs page and `run_job`. Each emits `job.run.failed` as a failing run does. Returns how many."""
    from deelrx.jobs.models import JobRun

    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.JOB_LOST_AFTER_SECONDS)
    lost = JobRun.objects.filter(status=JobRun.Status.RUNNING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    with transaction.atomic():
        # Locked (skipping those another reaper holds) so that a run is reaped, and its
        # failure announced, once even when the jobs page and a worker reap together.
        found = list(lost.select_for_update(skip_locked=True).values_list("pk", "job_name"))
        if not found:
            return 0
        reaped = JobRun.objects.filter(pk__in=[pk for pk, _ in found], status=JobRun.Status.RUNNING).update(
            status=JobRun.Status.FAILED, error="worker lost", finished_at=now
        )
        # A lost worker is a failed run: announced like one (`job.run.failed`, the superusers
        # notified), in the transaction that marks it.
        for pk, name in found:
            _record_failure(name, JobRun(pk=pk, job_name=name, error="worker lost"))
    logger.warning("job runs reaped", extra={"runs": reaped})
    return reaped


def job_run_request(*, name: str, user, dry_run: bool) -> dict[str, Any]:
    """Record that someone asked for a run now (audited); returns the task's options."""
    from deelrx.audit.services import record_event

    record_event(event_type="job.run.requested", user=user, data={"job": name, "dry_run": dry_run})
    return {"dry_run": True} if dry_run else {}


def sync_job_schedules(*, reset: bool = False) -> list[str]:
    """Create the beat schedule rows for every job (django-celery-beat).

    Existing rows are left alone so that an operator's edit in the admin
    survives deploys, unless `reset` is set. Returns the names created or reset.
    """
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    changed = []
    for spec in JOB_SPECS.values():
        existing = PeriodicTask.objects.filter(name=spec.name).first()
        if existing and not reset:
            continue
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=spec.schedule.get("minute", "*"),
            hour=spec.schedule.get("hour", "*"),
            day_of_week=spec.schedule.get("day_of_week", "*"),
            day_of_month=spec.schedule.get("day_of_month", "*"),
            month_of_year=spec.schedule.get("month_of_year", "*"),
            timezone="UTC",
        )
        PeriodicTask.objects.update_or_create(
            name=spec.name,
            defaults={
                "task": spec.name,
                "crontab": schedule,
                "interval": None,
                "enabled": True,
                "description": spec.description,
            },
        )
        changed.append(spec.name)
    return changed


def sync_job_schedules_after_migrate(sender, using="default", **kwargs) -> None:
    from django_celery_beat.models import PeriodicTask

    # Only once the beat tables exist (post_migrate fires for every app).
    try:
        PeriodicTask.objects.using(using).exists()
    except Exception:
        return
    sync_job_schedules()


def job_status_rows() -> list[dict[str, Any]]:
    """For `run_job` and the jobs page: each job with its schedule, last and next run."""
    from django_celery_beat.models import PeriodicTask

    from deelrx.jobs.models import JobRun

    load_jobs()
    job_runs_reap()
    tasks = {t.name: t for t in PeriodicTask.objects.select_related("crontab").filter(name__in=JOB_SPECS)}
    latest_ids = (
        JobRun.objects.filter(job_name__in=JOB_SPECS).values("job_name").annotate(latest=Max("id")).values("latest")
    )
    last_runs = {run.job_name: run for run in JobRun.objects.filter(pk__in=latest_ids)}
    latest_real = (
        JobRun.objects.filter(job_name__in=JOB_SPECS, dry_run=False)
        .values("job_name")
        .annotate(latest=Max("id"))
        .values("latest")
    )
    last_real_runs = {run.job_name: run for run in JobRun.objects.filter(pk__in=latest_real)}
    now = timezone.now()
    rows = []
    for spec in JOB_SPECS.values():
        periodic = tasks.get(spec.name)
        schedule = periodic.crontab.schedule if periodic and periodic.crontab else spec.crontab
        last = last_runs.get(spec.name)
        # the schedule follows real runs: a dry run changes nothing, so it is not "the last run"
        last_real = last_real_runs.get(spec.name)
        # remaining_estimate(last_run_at) is the time from *now* to the next due time after it
        remaining = schedule.remaining_estimate(last_real.started_at if last_real else now)
        next_run = now + remaining if remaining.total_seconds() > 0 else now
        rows.append(
            {
                "name": spec.name,
                "description": spec.description,
                "schedule": _crontab_display(periodic.crontab)
                if periodic and periodic.crontab
                else spec.schedule_display,
                "enabled": periodic.enabled if periodic else False,
                "last_run": last,  # the latest run, a dry run or not (`last_run.dry_run` says)
                "last_real_run": last_real,
                "next_run": next_run.replace(second=0, microsecond=0) + timedelta(minutes=1 if next_run.second else 0),
            }
        )
    return rows


def _crontab_display(c) -> str:
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"
