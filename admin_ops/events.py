"""Admin operations' audit event types (DESIGN §12), registered from AdminOpsConfig.ready."""

from __future__ import annotations

from django.urls import reverse

from deelrx.audit.registry import Audience, EventType, register_event_types, short_id

MANAGERS = ("owner", "admin")


def _purge_link(data, team_id) -> str:
    return reverse("admin_ops:purge-detail", args=[data["purge_id"]]) if data.get("purge_id") else ""


# Who is notified (DESIGN §13): a purge's export, completion or failure → its requester and the
# team's admins and owners; an inactivity warning → the members warned.
TO_PURGE_PEOPLE = Audience(roles=MANAGERS, data_users=("requested_by_id",), link=_purge_link)
TO_WARNED = Audience(data_users=("warned",), when=lambda data, by_system: bool(data.get("warned")))


def _purge(data) -> dict:
    return {"purge": short_id(data.get("purge_id"))}


def _total(counts) -> int:
    return sum(int(n) for n in (counts or {}).values())


def _applied(data) -> dict:
    return {
        "warned_count": len(data.get("warned") or []),
        "suspended_count": len(data.get("suspended") or []),
        "purge_count": len(data.get("purge_requested") or []),
    }


EVENT_TYPES = [
    EventType(
        "admin_ops.inactivity_policy.created",
        "Inactivity policy created",
        "{actor} created the inactivity policy “{name}” ({threshold_days} days)",
    ),
    EventType(
        "admin_ops.inactivity_policy.updated",
        "Inactivity policy changed",
        "{actor} changed {changed} of the inactivity policy “{name}”",
    ),
    EventType(
        "admin_ops.inactivity_policy.deleted",
        "Inactivity policy deleted",
        "{actor} deleted the inactivity policy “{name}”",
    ),
    EventType(
        "admin_ops.inactivity_policy.applied",
        "Inactivity policy applied",
        "{actor} applied an inactivity policy: {warned_count} warned, {suspended_count} suspended, "
        "{purge_count} purge(s) requested",
        describe=_applied,
        notify=TO_WARNED,
    ),
    EventType(
        "admin_ops.inactivity_tracker.reinstated",
        "Member reinstated after inactivity",
        "{actor} reinstated {username} after inactivity",
    ),
    EventType("admin_ops.blob.migrated", "File moved", "{actor} moved {key} to the {to_store} store"),
    EventType("admin_ops.blob.deleted", "File deleted", "{actor} deleted {key} from the {store} store"),
    EventType(
        "admin_ops.purge.requested",
        "Purge requested",
        "{actor} requested purge {purge} of {entities}",
        describe=lambda data: {**_purge(data), "entities": (data.get("scope") or {}).get("entities")},
    ),
    EventType(
        "admin_ops.purge.scheduled",
        "Purge scheduled",
        "{actor} scheduled purge {purge} for {scheduled_for}",
        describe=_purge,
    ),
    EventType(
        "admin_ops.purge.export_ready",
        "Purge export ready",
        "{actor} exported {rows_total} row(s) for purge {purge}; it awaits acknowledgement",
        describe=lambda data: {**_purge(data), "rows_total": _total(data.get("rows"))},
        notify=TO_PURGE_PEOPLE,
    ),
    EventType(
        "admin_ops.purge.acknowledged",
        "Purge acknowledged",
        "{actor} acknowledged the export of purge {purge}",
        describe=_purge,
    ),
    EventType("admin_ops.purge.cancelled", "Purge cancelled", "{actor} cancelled purge {purge}", describe=_purge),
    EventType(
        "admin_ops.purge.notes_changed",
        "Purge notes changed",
        "{actor} changed the notes of purge {purge}",
        describe=_purge,
    ),
    EventType(
        "admin_ops.purge.executing",
        "Purge started",
        "{actor} started deleting the rows of purge {purge}",
        describe=_purge,
    ),
    EventType(
        "admin_ops.purge.completed",
        "Purge completed",
        "{actor} completed purge {purge}: {deleted} row(s) deleted",
        describe=lambda data: {**_purge(data), "deleted": _total(data.get("records_affected"))},
        notify=TO_PURGE_PEOPLE,
    ),
    EventType(
        "admin_ops.purge.failed",
        "Purge step failed",
        "{actor} could not move purge {purge} on ({step}): {error}",
        describe=_purge,
        notify=TO_PURGE_PEOPLE,
    ),
    EventType(
        "admin_ops.purge.export_deleted",
        "Purge export deleted",
        "{actor} deleted the expired export of purge {purge}",
        describe=_purge,
    ),
]


def register() -> None:
    register_event_types("admin_ops", "Admin operations", EVENT_TYPES)
