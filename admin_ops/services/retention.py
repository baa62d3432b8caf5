"""Retention (DESIGN §9 `admin-retention-enforce`, weekly).

- Activity events older than their team's `Team.activity_retention_days` are
  deleted; events without a team use `settings.ACTIVITY_RETENTION_DAYS`. Teams
  are grouped by their retention value, so the work is one batched delete per
  distinct value, not per team. Deletion goes through the sanctioned
  `ActivityEvent.objects.delete_expired(before)`.
- Purge exports past `export_expires_at` are deleted from the private store and
  the operation's `export_key` is cleared (the row and its audit trail stay),
  by the purge service's `purge_exports_delete_expired`.
- Every app's own expired rows (e.g. credit's idempotency records) are deleted
  by the hooks the apps register (`deelrx.retention`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from admin_ops.services.purge import purge_exports_delete_expired
from deelrx.audit.models import ActivityEvent
from deelrx.retention import retention_hooks
from deelrx.tenancy.models import Team

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000


def _delete_events_batched(queryset, *, before: datetime, batch_size: int) -> int:
    """Delete in primary-key batches so one run never holds a huge lock or transaction."""
    deleted = 0
    while True:
        ids = list(queryset.filter(created_at__lt=before).order_by("pk").values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        count, _ = ActivityEvent.objects.filter(pk__in=ids).delete_expired(before)
        deleted += count
        logger.info("retention: activity events deleted", extra={"batch": count, "total": deleted})
        if len(ids) < batch_size:
            return deleted


def _expired_event_groups(now: datetime) -> list[tuple[int, Q]]:
    """(retention days, which events) per distinct retention value."""
    default_days = settings.ACTIVITY_RETENTION_DAYS
    groups: dict[int, Q] = {default_days: Q(team__isnull=True)}
    for days in Team.objects.order_by().values_list("activity_retention_days", flat=True).distinct():
        condition = Q(team__activity_retention_days=days)
        groups[days] = groups[days] | condition if days in groups else condition
    return sorted(groups.items())


def retention_enforce(*, now: datetime | None = None, dry_run: bool = False, batch_size: int = BATCH_SIZE) -> dict:
    """Body of `admin-retention-enforce`. Idempotent: a second run finds nothing to delete."""
    now = now or timezone.now()
    summary: dict = {"dry_run": dry_run, "activity_events": {}, "exports_deleted": 0}

    # 1. Activity events, per retention value.
    total = 0
    for days, condition in _expired_event_groups(now):
        before = now - timedelta(days=days)
        queryset = ActivityEvent.objects.filter(condition)
        if dry_run:
            count = queryset.filter(created_at__lt=before).count()
        else:
            count = _delete_events_batched(queryset, before=before, batch_size=batch_size)
        if count:
            summary["activity_events"][str(days)] = count
        total += count
    summary["activity_events_deleted"] = total

    # 2. Expired purge exports (the purge service owns PurgeOperation writes).
    summary["exports_deleted"] = purge_exports_delete_expired(now=now, dry_run=dry_run)

    # 3. What the apps registered (e.g. credit's idempotency records).
    for hook in retention_hooks():
        summary[hook.name] = hook.count_expired(now) if dry_run else hook.delete_expired(now)
    logger.info("retention enforced", extra={"summary": summary})
    return summary
