"""Reads of the activity log (the audit trail every mutation writes)."""

from __future__ import annotations

import django_filters
from django import forms
from django.db.models import QuerySet

from deelrx.audit.models import ActivityEvent
from deelrx.filters import apply_filters
from deelrx.tenancy.models import Team


class ActivityFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after >= before:
            # a reversed range is a mistake to report, not an empty page to show
            self.add_error("created_before", "Must be later than created_after.")
        return data


class ActivityEventFilter(django_filters.FilterSet):
    """Shared by GET /api/admin/activity/ and the /ops/activity/ page."""

    user = django_filters.NumberFilter(field_name="user_id", label="User id")
    event_type = django_filters.CharFilter(
        method="filter_event_type",
        label="Event type",
        help_text='Exact type ("credit.transaction.created") or a prefix ending in "." ("credit.").',
    )
    created_after = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created after")
    created_before = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="lt", label="Created before")

    class Meta:
        model = ActivityEvent
        fields: list[str] = []
        form = ActivityFilterForm

    def filter_event_type(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A trailing "." (or "*") asks for a whole family of events, e.g. everything "credit.".
        if value.endswith("*"):
            return queryset.filter(event_type__startswith=value.rstrip("*"))
        if value.endswith("."):
            return queryset.filter(event_type__startswith=value)
        return queryset.filter(event_type=value)


def activity_list(*, team: Team, filters=None) -> QuerySet[ActivityEvent]:
    """The team's events, newest first, with the acting user's name joined (one query a page)."""
    queryset = (
        ActivityEvent.objects.filter(team=team)
        .select_related("user")
        # Only the name is shown: the rest of the user row (password hash, profile) is not loaded.
        .only("team", "event_type", "event_data", "ip_address", "user_agent", "created_at", "user__username")
        .order_by("-created_at", "-id")
    )
    return apply_filters(ActivityEventFilter, filters, queryset)
