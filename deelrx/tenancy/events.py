"""The audit event types of teams, memberships and customers (DESIGN §12),
registered from TenancyConfig.ready."""

from __future__ import annotations

from deelrx.audit.registry import EventType, register_event_types, short_id


def _reason(data) -> dict:
    return {"because": f": {data['reason']}" if data.get("reason") else ""}


EVENT_TYPES = [
    EventType("tenancy.team.created", "Team created", "{actor} created the team “{name}”"),
    EventType("tenancy.membership.added", "Member added", "{actor} added {username} to the team as {role}"),
    EventType(
        "tenancy.membership.role_changed",
        "Member's role changed",
        "{actor} changed the role of {username} from {old_role} to {role}",
    ),
    EventType("tenancy.membership.removed", "Member removed", "{actor} removed {username} ({role}) from the team"),
    EventType(
        "tenancy.membership.suspended",
        "Member suspended",
        "{actor} suspended member #{member_id}{because}",
        describe=_reason,
    ),
    EventType("tenancy.membership.reinstated", "Member reinstated", "{actor} reinstated member #{member_id}"),
    EventType("tenancy.customer.created", "Customer created", "{actor} created the customer {name}"),
    EventType(
        "tenancy.customer.updated",
        "Customer updated",
        "{actor} changed {changed} of customer {customer}",
        describe=lambda data: {"customer": short_id(data.get("customer_id"))},
    ),
    EventType("tenancy.customer.deleted", "Customer deleted", "{actor} deleted the customer {name}"),
    # POST /api/auth/token/: who obtained their token, when and from where (ip, user agent); never the token.
    EventType(
        "tenancy.api_token.issued",
        "API token issued",
        "{actor} signed in to the API with a password and got {which} API token",
        describe=lambda data: {"which": "a new" if data.get("created") else "their existing"},
    ),
]


def register() -> None:
    register_event_types("tenancy", "Teams and customers", EVENT_TYPES)
