"""Purge reads: lists and details restricted to teams where the caller is an
owner or admin (purges are an admin matter: members and viewers get 403)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops import purge_registry
from admin_ops.models import PurgeOperation
from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found
from deelrx.tenancy.access import get_team_access, require_role, team_ids_for
from deelrx.tenancy.models import Membership, Role, Team

# The preview reads at most this many rows per entity (a COUNT over a LIMITed
# subquery): "more than 1,000" is as useful before a purge as the exact figure.
PREVIEW_CAP = 1000


class PurgeFilter(django_filters.FilterSet):
    """Shared by the API list and the HTML list."""

    team_id = django_filters.NumberFilter(field_name="team_id")
    status = django_filters.ChoiceFilter(choices=PurgeOperation.Status.choices)

    class Meta:
        model = PurgeOperation
        fields = ["team_id", "status"]


def manageable_team_ids(user) -> QuerySet:
    if user.is_superuser:
        return team_ids_for(user)
    return Membership.objects.filter(user=user, role__in=[Role.OWNER, Role.ADMIN], is_suspended=False).values("team_id")


def purge_list(*, user, filters=None) -> QuerySet[PurgeOperation]:
    """Purges of the teams the user manages. An explicit `team_id` the user is
    not a member of is 404, one where the user is not admin/owner is 403."""
    team_id = (filters or {}).get("team_id")
    if team_id not in (None, ""):
        get_team_access(user, team_id, min_role=Role.ADMIN)
    queryset = (
        PurgeOperation.objects.filter(team_id__in=manageable_team_ids(user))
        .select_related("team", "requested_by", "requested_by_policy", "acknowledged_by")
        .order_by("-created_at", "-id")
    )
    return apply_filters(PurgeFilter, filters, queryset)


def purge_get(*, user, purge_id) -> PurgeOperation:
    """Another team's purge (or a malformed id) is 404; a member or viewer of
    the purge's team is 403."""
    queryset = PurgeOperation.objects.select_related("team", "requested_by", "requested_by_policy", "acknowledged_by")
    purge = get_or_not_found(queryset, "Purge not found.", pk=purge_id, team_id__in=team_ids_for(user))
    require_role(user, purge.team, Role.ADMIN)
    return purge


def export_available(purge: PurgeOperation, *, now=None) -> bool:
    now = now or timezone.now()
    return bool(purge.export_key) and (purge.export_expires_at is None or purge.export_expires_at > now)


def purge_steps(purge: PurgeOperation) -> list[dict]:
    """The state machine as an ordered list of steps for the stepper."""
    S = PurgeOperation.Status
    path = [S.REQUESTED, S.SCHEDULED, S.EXPORT_READY, S.ACKNOWLEDGED, S.EXECUTING, S.COMPLETED]
    if purge.status == S.CANCELLED:
        return [{"status": s.value, "label": s.label, "state": "skipped"} for s in path] + [
            {"status": S.CANCELLED.value, "label": S.CANCELLED.label, "state": "current"}
        ]
    index = path.index(purge.status)
    steps = []
    for i, s in enumerate(path):
        state = "done" if i < index else "current" if i == index else "todo"
        if s == S.COMPLETED and purge.status == S.COMPLETED:
            state = "current"
        steps.append({"status": s.value, "label": s.label, "state": state})
    return steps


def purge_counts(purge: PurgeOperation) -> list[dict]:
    """Per entity in scope: its label, the rows exported and the rows deleted so far
    (None before execution starts), for the detail page."""
    exported = (purge.progress or {}).get("exported") or {}
    started = purge.status in (PurgeOperation.Status.EXECUTING, PurgeOperation.Status.COMPLETED)
    deleted = purge.records_affected or (purge.progress or {}).get("counts") or {}
    return [
        {
            "name": name,
            "label": purge_registry.ENTITIES[name].verbose if name in purge_registry.ENTITIES else name,
            "exported": exported.get(name),
            "deleted": deleted.get(name, 0) if started else None,
        }
        for name in purge_registry.ordered((purge.scope or {}).get("entities") or [])
    ]


def purge_preview(*, user, team: Team, scope: dict, cap: int = PREVIEW_CAP) -> dict:
    """What a purge of `scope` would take now, per entity in scope, for the
    request form (before anything is requested): each count reads at most
    `cap` + 1 rows (COUNT over a LIMITed subquery, an EXISTS when nothing
    matches), so a huge table costs the same as a small one. Owners/admins only;
    an invalid scope raises the service's ValidationFailed."""
    require_role(user, team, Role.ADMIN)
    clean = purge_registry.validate_scope(scope)
    rows = []
    for name in clean["entities"]:
        selected = purge_registry.selection(name, team_id=team.pk, scope=clean).order_by()
        found = selected[: cap + 1].count()
        rows.append(
            {
                "name": name,
                "label": purge_registry.ENTITIES[name].verbose,
                "count": min(found, cap),
                "more": found > cap,
            }
        )
    return {"rows": rows, "empty": not any(row["count"] for row in rows), "cap": cap}


def purge_matches_nothing(purge: PurgeOperation) -> bool:
    """True once the export exists and holds no row: acknowledging and running
    the purge would delete nothing (the pages say so before either)."""
    exported = (purge.progress or {}).get("exported")
    if exported is None or purge.status == PurgeOperation.Status.CANCELLED:
        return False
    return not any(exported.values())
