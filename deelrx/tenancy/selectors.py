"""Tenancy reads."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import QuerySet

from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found
from deelrx.tenancy.access import teams_for
from deelrx.tenancy.filters import CustomerFilter
from deelrx.tenancy.models import Customer, Membership, Role, Team


def team_list(*, user) -> QuerySet[Team]:
    return teams_for(user).order_by("name", "id")


def membership_list(*, team: Team) -> QuerySet[Membership]:
    return Membership.objects.filter(team=team).select_related("user").order_by("user__username")


def membership_get(*, team: Team, membership_id) -> Membership:
    """One membership of the team; another team's or an unknown id is 404."""
    return get_or_not_found(membership_list(team=team), "Member not found.", pk=membership_id)


def membership_get_by_user(*, team: Team, user_id) -> Membership:
    """A user's membership of the team (the API names members by user id); a user of
    another team, or none, is 404."""
    return get_or_not_found(membership_list(team=team), "Member not found.", user_id=user_id)


def customer_list(*, team: Team, filters=None) -> QuerySet[Customer]:
    queryset = Customer.objects.filter(team=team).order_by("last_name", "first_name", "id")
    return apply_filters(CustomerFilter, filters, queryset)


def customer_get(*, team: Team, customer_id) -> Customer:
    return get_or_not_found(Customer.objects.filter(team=team), "Customer not found.", pk=customer_id)


def team_admin_emails(team_ids) -> dict[int, list[str]]:
    """{team id: email addresses of its active owners and admins}, sorted, in one query:
    who is told of what a job did to the team (overdue accounts, broken links, …)."""
    rows = (
        Membership.objects.filter(
            team_id__in=list(team_ids),
            role__in=[Role.OWNER, Role.ADMIN],
            is_suspended=False,
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("team_id", "user__email")
        .order_by("team_id", "user__email")
        .distinct()
    )
    result: dict[int, list[str]] = defaultdict(list)
    for team_id, email in rows:
        result[team_id].append(email)
    return dict(result)
