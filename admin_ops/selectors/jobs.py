"""The jobs page: the nine jobs of DESIGN §9 and §14 with schedule, last run, outcome and next run."""

from __future__ import annotations

from deelrx.jobs import JOB_SPECS, job_status_rows, load_jobs
from deelrx.jobs.models import JobRun


def job_rows() -> list[dict]:
    """`deelrx.jobs.job_status_rows()` plus whether each job can be dry-run (a constant number of queries)."""
    registry = load_jobs()
    rows = job_status_rows()
    for row in rows:
        registered = registry.get(row["name"])
        row["registered"] = registered is not None
        row["supports_dry_run"] = bool(registered and "dry_run" in registered.options)
    return rows


def recent_runs(*, job_name: str | None = None, limit: int = 20) -> list[JobRun]:
    queryset = JobRun.objects.filter(job_name__in=JOB_SPECS).order_by("-started_at", "-id")
    if job_name:
        queryset = queryset.filter(job_name=job_name)
    return list(queryset[:limit])
