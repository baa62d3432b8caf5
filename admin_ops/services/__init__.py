"""Admin operations services. `record_event` is the one way every app writes
to the audit log."""

from __future__ import annotations

import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from admin_ops.models import ActivityEvent
from deelrx.middleware import current_request_meta


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    # UUIDs, dates and Decimals become strings, the way the API shows them.
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def record_event(*, event_type: str, team=None, user=None, data: dict[str, Any] | None = None) -> ActivityEvent:
    """Append one audit row. Call it inside the service's transaction, so the
    event and the change it describes commit or roll back together."""
    meta = current_request_meta()
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return ActivityEvent.objects.create(
        team=team,
        user=user,
        event_type=event_type,
        event_data=_json_safe(data or {}),
        ip_address=meta.ip_address if meta else None,
        user_agent=meta.user_agent if meta else "",
    )
