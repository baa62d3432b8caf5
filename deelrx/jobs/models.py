"""Runs of the registered jobs (`deelrx.jobs`)."""

from __future__ import annotations

from django.db import models


class JobRun(models.Model):
    """One execution of a registered job (DESIGN §9), scheduled or run by hand."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"

    job_name = models.CharField(max_length=80, db_index=True)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.SCHEDULE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    dry_run = models.BooleanField(default=False, help_text="Reported what it would do; changed nothing.")
    worker = models.CharField(max_length=255, blank=True, help_text="host:pid of the process running it.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Refreshed while it runs; a stale one means its worker died."
    )

    class Meta:
        db_table = "admin_ops_jobrun"  # the table predates the platform package
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["job_name", "-started_at"])]

    def __str__(self) -> str:
        dry = " (dry run)" if self.dry_run else ""
        return f"{self.job_name}{dry} {self.status} at {self.started_at:%Y-%m-%d %H:%M}"
