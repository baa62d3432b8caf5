"""The audit log: one append-only row per mutation anywhere in the system
(DESIGN §8, §12). Written only through `deelrx.audit.services.record_event`."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an audit row."""


class ActivityEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Activity events are append-only.")

    def delete_expired(self, before):
        """The only sanctioned deletion: retention enforcement and purges."""
        return models.QuerySet.delete(self.filter(created_at__lt=before))

    def purge_delete(self):
        """Sanctioned deletion for an acknowledged purge operation
        (admin_ops.services.purge only); returns QuerySet.delete()'s result."""
        return models.QuerySet.delete(self)

    def delete(self):
        raise AppendOnlyError("Activity events are append-only; use delete_expired() for retention.")


class ActivityEvent(models.Model):
    """One row per mutation anywhere in the system. Never updated."""

    team = models.ForeignKey(
        "tenancy.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="activity_events"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="activity_events"
    )
    event_type = models.CharField(max_length=80)
    event_data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = ActivityEventQuerySet.as_manager()

    class Meta:
        db_table = "admin_ops_activityevent"  # the table predates the platform package
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"]),
            models.Index(fields=["team", "event_type", "-created_at"]),
            models.Index(fields=["user", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.created_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("Activity events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Activity events are append-only.")
