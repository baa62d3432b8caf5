"""What a purge may delete of the audit log (registered from AdminOpsConfig.ready):
a team's activity events, never the purges' own (the audit trail of a deletion
must survive it)."""

from __future__ import annotations

from django.db.models import Q

from admin_ops.purge_registry import PURGE_EVENT_PREFIX
from deelrx.purgeable import PurgeableEntity, register_purgeable_entity

ACTIVITY_EVENTS = PurgeableEntity(
    "activity_events",
    "audit.ActivityEvent",
    "Activity log events",
    order=90,  # nothing depends on an event: last
    criteria={"user_id": "user_id"},
    exclude=Q(event_type__startswith=PURGE_EVENT_PREFIX),
)


def register() -> None:
    register_purgeable_entity(ACTIVITY_EVENTS)
