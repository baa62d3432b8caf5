"""Reads of inactivity policies and trackers."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from admin_ops.models import InactivityPolicy, InactivityTracker
from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found
from deelrx.tenancy.access import visible_to
from deelrx.tenancy.models import Membership, Team


class InactivityTrackerFilter(django_filters.FilterSet):
    policy_id = django_filters.UUIDFilter(field_name="policy_id", label="Policy")
    user = django_filters.NumberFilter(field_name="user_id", label="User id")
    # "true"/"false" only: anything else is a 400, not a silently ignored filter
    is_suspended = django_filters.TypedChoiceFilter(
        choices=[("true", "Suspended"), ("false", "Not suspended")],
        coerce=lambda value: value == "true",
        label="Suspended",
    )

    class Meta:
        model = InactivityTracker
        fields: list[str] = []


def policy_list(*, team: Team) -> QuerySet[InactivityPolicy]:
    return InactivityPolicy.objects.filter(team=team).select_related("created_by").order_by("name", "pk")


def policy_get(*, user, policy_id) -> InactivityPolicy:
    """A policy of one of the user's teams (another team's policy is 404, as if absent)."""
    queryset = visible_to(InactivityPolicy.objects.select_related("team", "created_by"), user)
    return get_or_not_found(queryset, "Inactivity policy not found.", pk=policy_id)


def tracker_list(*, team: Team, filters=None) -> QuerySet[InactivityTracker]:
    """Most inactive first, so the people about to be warned or suspended lead the list."""
    queryset = (
        InactivityTracker.objects.filter(team=team)
        .select_related("user", "policy", "purge_operation")
        .order_by("-days_since_activity", "user__username", "pk")
    )
    return apply_filters(InactivityTrackerFilter, filters, queryset)


def team_policy_get(*, team, policy_id) -> InactivityPolicy:
    """A policy of this team (the staff pages work in the current team)."""
    return get_or_not_found(InactivityPolicy.objects.filter(team=team), "Inactivity policy not found.", pk=policy_id)


def team_tracker_get(*, team, tracker_id) -> InactivityTracker:
    queryset = InactivityTracker.objects.select_related("user").filter(team=team)
    return get_or_not_found(queryset, "Tracker not found.", pk=tracker_id)


def tracker_get(*, user, tracker_id) -> InactivityTracker:
    queryset = visible_to(InactivityTracker.objects.select_related("team", "user", "policy"), user)
    return get_or_not_found(queryset, "Tracker not found.", pk=tracker_id)


def member_choices(*, team: Team) -> list[tuple[int, str]]:
    """(user id, username) of the team's members, for pickers."""
    return list(
        Membership.objects.filter(team=team).order_by("user__username").values_list("user_id", "user__username")
    )
