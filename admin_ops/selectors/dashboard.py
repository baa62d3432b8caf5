"""Admin operations figures for the dashboard and the /ops/ index."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from admin_ops.models import InactivityPolicy, PurgeOperation
from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Membership, Team

OPEN_PURGE_STATUSES = [
    PurgeOperation.Status.REQUESTED,
    PurgeOperation.Status.SCHEDULED,
    PurgeOperation.Status.EXPORT_READY,
    PurgeOperation.Status.ACKNOWLEDGED,
    PurgeOperation.Status.EXECUTING,
]


def ops_index_summary(*, team: Team) -> dict:
    """A few counts: four queries whatever the size of the team."""
    since = timezone.now() - timedelta(days=7)
    return {
        "events_last_7_days": ActivityEvent.objects.filter(team=team, created_at__gte=since).count(),
        "suspended_members": Membership.objects.filter(team=team, is_suspended=True).count(),
        "active_policies": InactivityPolicy.objects.filter(team=team, is_active=True).count(),
        "open_purges": PurgeOperation.objects.filter(team=team, status__in=OPEN_PURGE_STATUSES).count(),
    }


def dashboard_section(*, team: Team) -> dict:
    return ops_index_summary(team=team)
