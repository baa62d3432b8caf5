"""Writing the audit log: `record_event` (one row, inside the service's
transaction) and `record_events` (a job's batch) are the one way every app
writes to it. Both refuse a type the event registry does not know
(`deelrx.audit.registry`).

Apps may subscribe to what is recorded (`register_recorded_hook`, from their
AppConfig.ready): a hook gets, inside the same transaction, the events whose type
declares an audience (`EventType.notify`). Types without one (a charge's
`credit.transaction.created`) cost a dictionary lookup, never a query."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from deelrx import db
from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import get_event_type, require_registered
from deelrx.middleware import current_request_meta

RecordedHook = Callable[[list[ActivityEvent]], None]
_RECORDED_HOOKS: list[RecordedHook] = []


def register_recorded_hook(hook: RecordedHook) -> None:
    """Call `hook(events)` with every batch of recorded events whose type has an
    audience, inside the recording transaction (the notifications app's fan-out)."""
    if hook not in _RECORDED_HOOKS:
        _RECORDED_HOOKS.append(hook)


def _announce(events: list[ActivityEvent]) -> None:
    notable = [event for event in events if get_event_type(event.event_type).notify is not None]
    if notable:
        for hook in _RECORDED_HOOKS:
            hook(notable)


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    # UUIDs, dates and Decimals become strings, the way the API shows them.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _event(*, event_type: str, team=None, team_id=None, user=None, data: dict[str, Any] | None = None) -> ActivityEvent:
    require_registered(event_type)
    meta = current_request_meta()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return ActivityEvent(
        team_id=team.pk if team is not None else team_id,
        user=user,
        event_type=event_type,
        event_data=_json_safe(data or {}),
        ip_address=meta.ip_address if meta else None,
        user_agent=meta.user_agent if meta else "",
    )


def record_events(events: list[dict[str, Any]]) -> int:
    """Append many audit rows in one INSERT (a job's batch); each dict takes the
    arguments of `record_event` (`team_id` may stand for `team`). Returns how many."""
    rows = [_event(**event) for event in events]
    ActivityEvent.objects.bulk_create(rows)
    if _RECORDED_HOOKS:
        _announce(rows)
    return len(rows)


def record_event(
    *, event_type: str, team=None, team_id: int | None = None, user=None, data: dict[str, Any] | None = None
) -> ActivityEvent:
    """Append one audit row. Call it inside the service's transaction, so the
    event and the change it describes commit or roll back together."""
    event = _event(event_type=event_type, team=team, team_id=team_id, user=user, data=data)
    event = db.insert(event)  # the lean INSERT: every write path records an event
    if _RECORDED_HOOKS:
        _announce([event])
    return event
