from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class PurgeOperation(models.Model):
    """A request to delete a team's data, exported first (DESIGN §8).

    requested → scheduled → export_ready → acknowledged → executing → completed;
    cancelled from any state before executing. Every move goes through
    admin_ops.services.purge."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        SCHEDULED = "scheduled", "Scheduled"
        EXPORT_READY = "export_ready", "Export ready"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        EXECUTING = "executing", "Executing"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="purge_operations")
    # null: requested by the system (e.g. an inactivity policy, named below), not a person
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_policy = models.ForeignKey(
        "InactivityPolicy", on_delete=models.SET_NULL, null=True, blank=True, related_name="purge_requests"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REQUESTED)
    scope = models.JSONField(default=dict, blank=True)
    scheduled_for = models.DateTimeField()
    export_key = models.CharField(max_length=512, blank=True)
    export_expires_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    records_affected = models.JSONField(default=dict, blank=True)
    # Resume state of an execution: {"counts": {entity: n}, "done": [entity, ...]}.
    progress = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["status", "scheduled_for"]),
        ]

    def __str__(self) -> str:
        return f"Purge {self.id} ({self.status})"

    @property
    def entity_labels(self) -> list[str]:
        from admin_ops.purge_registry import ENTITIES

        return [ENTITIES[n].verbose if n in ENTITIES else n for n in (self.scope or {}).get("entities") or []]

    @property
    def requester_display(self) -> str:
        """Who asked: a person, or the system on behalf of a policy."""
        if self.requested_by_id:
            return self.requested_by.username
        if self.requested_by_policy_id:
            return f"System (inactivity policy “{self.requested_by_policy.name}”)"
        return "System"


class PurgeExportedRow(models.Model):
    """One row a purge's export holds. Execution deletes these ids and no others,
    so a row committed after the export's snapshot (by a transaction still open
    when the export began) is never deleted unexported (docs/decisions.md, 25).

    Written set-based (INSERT … SELECT) in the export's own snapshot; `export_id`
    tells apart two builds of one purge (two workers), only the recorded one
    counts. Kept as long as the export file; removed with it (retention) or on
    cancel."""

    id = models.BigAutoField(primary_key=True)
    # No FK constraint: an export inserts 100k+ rows and the per-row RI check would be
    # most of their cost; the ORM still cascades when a purge (or its team) is deleted.
    purge = models.ForeignKey(
        PurgeOperation, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    export_id = models.UUIDField()
    entity = models.CharField(max_length=40)
    # The row's primary key in the column of its type, the other left empty: typed, the
    # batches walk it in key order and the DELETE joins it to the table's key, no casts.
    object_int = models.BigIntegerField(null=True)
    object_uuid = models.UUIDField(null=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["purge", "export_id", "entity", "object_int", "object_uuid"],
                name="admin_ops_purge_exported_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.object_int or self.object_uuid} of purge {self.purge_id}"


class InactivityPolicy(models.Model):
    """Per-team rule: warn, suspend and/or request a purge for members inactive
    for `threshold_days`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="inactivity_policies")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    threshold_days = models.PositiveIntegerField()
    # {"warnings": [days before threshold, ...], "suspend": bool, "purge": bool}
    actions = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team_id", "name"]
        verbose_name_plural = "inactivity policies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(threshold_days__gt=0), name="admin_ops_inactivity_threshold_positive"
            ),
        ]
        indexes = [models.Index(fields=["team", "is_active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.threshold_days} days)"


class InactivityTracker(models.Model):
    """Where one user stands against one policy."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="inactivity_trackers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="inactivity_trackers")
    policy = models.ForeignKey(InactivityPolicy, on_delete=models.CASCADE, related_name="trackers")
    last_activity_at = models.DateTimeField(null=True, blank=True)
    days_since_activity = models.PositiveIntegerField(default=0)
    warnings_sent = models.JSONField(default=list, blank=True)
    is_suspended = models.BooleanField(default=False)
    purge_requested = models.BooleanField(default=False)
    purge_operation = models.ForeignKey(
        PurgeOperation, on_delete=models.SET_NULL, null=True, blank=True, related_name="inactivity_trackers"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team_id", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "policy"], name="admin_ops_tracker_user_policy_unique"),
        ]
        indexes = [models.Index(fields=["policy", "is_suspended"])]

    def __str__(self) -> str:
        return f"{self.user_id} / {self.policy_id}"
