"""Team isolation, in one place.

Every app resolves "may this user act on this team?" here: the API through
`deelrx.api.TeamPermission`, the HTML views through `team_access_for_request`,
selectors through `visible_to`. Another team's objects are 404 (ids must not
leak); a member without the needed role is 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from deelrx.db import select_one
from deelrx.errors import NotFound, PermissionDenied
from deelrx.inputs import parse_id
from deelrx.middleware import request_memo
from deelrx.tenancy.models import ROLE_RANK, Membership, Role, Team


@dataclass(frozen=True)
class TeamAccess:
    team: Team
    role: str
    membership: Membership | None  # None for superusers acting without a membership

    def has_role(self, min_role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(min_role)]

    @property
    def can_write(self) -> bool:
        return self.has_role(Role.MEMBER)

    @property
    def can_manage(self) -> bool:
        return self.has_role(Role.ADMIN)


def parse_team_id(value) -> int:
    """Team ids are integers (or ASCII digit strings); anything else names no team (404)."""
    team_pk = parse_id(value)
    if team_pk is None:
        raise NotFound("Team not found.")
    return team_pk


def get_team_access(user, team_id, *, min_role: str = Role.VIEWER) -> TeamAccess:
    team_pk = parse_team_id(team_id)
    memo = request_memo()
    key = ("team_access", user.pk, team_pk)
    if memo is not None and key in memo:
        found = memo[key]  # looked up earlier in this request (the view, then the service)
    else:
        found = _lookup(user, team_pk)
        if memo is not None:
            memo[key] = found
    if found is None:
        raise NotFound("Team not found.")
    if isinstance(found, TeamAccess):
        return found
    return check_membership(found, min_role=min_role)


def _lookup(user, team_pk: int) -> TeamAccess | Membership | None:
    """A superuser's access (every team), or the user's membership, or None."""
    if user.is_superuser:
        team = Team.objects.filter(pk=team_pk).first()
        if team is None:
            return None
        membership = Membership.objects.filter(user=user, team=team).first()
        return TeamAccess(team=team, role=Role.OWNER, membership=membership)
    # Every team-scoped request asks this: one statement built once (deelrx.db.select_one).
    return select_one(Membership, related=("team",), user=user.pk, team=team_pk)


def check_membership(membership: Membership, *, min_role: str) -> TeamAccess:
    if membership.is_suspended:
        raise PermissionDenied(
            f"Your membership in {membership.team.name} is suspended for inactivity. "
            "Ask a team admin to reinstate you.",
            code="membership_suspended",
        )
    if not membership.has_role(min_role):
        raise PermissionDenied(f"This action needs the '{min_role}' role in {membership.team.name}.")
    return TeamAccess(team=membership.team, role=membership.role, membership=membership)


def require_role(user, team: Team | int, min_role: str) -> TeamAccess:
    """For objects reached without a team in the URL (articles, uploads, purges)."""
    return get_team_access(user, team.pk if isinstance(team, Team) else team, min_role=min_role)


def require_role_or_system(user, team: Team | int, min_role: str) -> TeamAccess | None:
    """`require_role` for services that jobs and providers also call: `user=None` is
    the system itself (a job, a Stripe webhook), which the role rules do not bind."""
    if user is None:
        return None
    return require_role(user, team, min_role)


def team_ids_for(user) -> QuerySet:
    """Ids of the teams whose objects the user can see (suspended members too: they get 403, not 404)."""
    if user.is_superuser:
        return Team.objects.values("pk")
    return Membership.objects.filter(user=user).values("team_id")


def teams_for(user) -> QuerySet[Team]:
    return Team.objects.filter(pk__in=team_ids_for(user))


def visible_to(queryset: QuerySet, user, *, team_field: str = "team") -> QuerySet:
    """Restrict any team-owned queryset to the user's teams."""
    if user.is_superuser:
        return queryset
    return queryset.filter(**{f"{team_field}_id__in": team_ids_for(user)})
