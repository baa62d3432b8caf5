"""Reads of the activity log (the audit trail every mutation writes): the one
FilterSet of the API, the page and the CSV, and the rows of the CSV."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import django_filters
from django import forms
from django.db.models import QuerySet

from deelrx.audit import registry
from deelrx.audit.models import ActivityEvent
from deelrx.csv_export import ROWS_PER_CHUNK
from deelrx.filters import apply_filters
from deelrx.tenancy.models import Team

DATE_WIDGET = {"type": "date"}


class ActivityFilterForm(forms.Form):
    """The choices come from the event registry when the form is built (the apps
    register their types at start-up); the API sends any text, judged the same way."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        types, prefixes = registry.event_type_choices(), registry.event_prefix_choices()
        # a value from a link that is not in the lists (a prefix given as event_type) shows as chosen
        asked_type, asked_prefix = self._asked("event_type"), self._asked("prefix")
        if asked_type and not registry.is_registered(asked_type):
            types.append(("Asked for", [(asked_type, asked_type)]))
        if asked_prefix and asked_prefix not in dict(prefixes):
            prefixes.append((asked_prefix, asked_prefix))
        self.fields["event_type"].widget = forms.Select(choices=[("", "Any type"), *types])
        self.fields["prefix"].widget = forms.Select(choices=[("", "Any app"), *prefixes])

    def _asked(self, name: str) -> str:
        return str(self.data.get(name) or "").strip() if self.is_bound else ""

    def clean_event_type(self) -> str:
        value = (self.cleaned_data.get("event_type") or "").strip()
        if not value:
            return ""
        if value.endswith(("*", ".")):
            # A trailing "." (or "*") asks for a whole family, e.g. everything "credit.".
            if not registry.matches_prefix(value.rstrip("*")):
                raise forms.ValidationError(f"No registered event type starts with “{value.rstrip('*')}”.")
        elif not registry.is_registered(value):
            raise forms.ValidationError(
                f"“{value}” is not a registered event type; choose one, or end a prefix with “.”."
            )
        return value

    def clean_prefix(self) -> str:
        value = (self.cleaned_data.get("prefix") or "").strip()
        if not value:
            return ""
        prefix = value if value.endswith(".") else f"{value}."
        if not registry.matches_prefix(prefix):
            raise forms.ValidationError(f"No registered event type starts with “{prefix}”.")
        return prefix

    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after >= before:
            # a reversed range is a mistake to report, not an empty page to show
            self.add_error("created_before", "Must be later than created_after.")
        return data


class ActivityEventFilter(django_filters.FilterSet):
    """Shared by GET /api/admin/activity/ (JSON and CSV), the /ops/activity/ page and its CSV link."""

    user = django_filters.NumberFilter(field_name="user_id", label="User id")
    event_type = django_filters.CharFilter(
        method="filter_event_type",
        label="Event type",
        help_text='A registered type ("credit.transaction.created"), or a prefix ending in "." ("credit.").',
    )
    prefix = django_filters.CharFilter(
        method="filter_prefix",
        label="App or entity",
        help_text='Types starting with this: an app ("admin_ops.") or an entity ("admin_ops.purge.").',
    )
    created_after = django_filters.DateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label="From (UTC)",
        widget=forms.DateInput(attrs=DATE_WIDGET),
        help_text="ISO 8601 date or date-time, inclusive.",
    )
    created_before = django_filters.DateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        label="Before (UTC)",
        widget=forms.DateInput(attrs=DATE_WIDGET),
        help_text="ISO 8601 date or date-time, exclusive.",
    )

    class Meta:
        model = ActivityEvent
        fields: list[str] = []
        form = ActivityFilterForm

    def filter_event_type(self, queryset, name, value):
        if value.endswith(("*", ".")):
            return queryset.filter(event_type__startswith=value.rstrip("*"))
        return queryset.filter(event_type=value)

    def filter_prefix(self, queryset, name, value):
        return queryset.filter(event_type__startswith=value)


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


@dataclass(frozen=True)
class ActivityRow:
    """An event as the log page shows it: its sentence first, the rest behind a disclosure."""

    event: ActivityEvent
    sentence: str
    label: str
    data_json: str


def activity_rows(events) -> list[ActivityRow]:
    """Say each event in words (its user is joined already: no query)."""
    return [
        ActivityRow(
            event=event,
            sentence=registry.event_sentence(event),
            label=registry.event_label(event.event_type),
            data_json=json.dumps(event.event_data, indent=2, sort_keys=True, ensure_ascii=False),
        )
        for event in events
    ]


ACTIVITY_CSV_HEADER = [
    "id",
    "created_at",
    "event_type",
    "label",
    "sentence",
    "user_id",
    "username",
    "ip_address",
    "user_agent",
    "event_data",
]


def activity_csv_rows(*, team: Team, filters=None) -> Iterator[list]:
    """Every event the filters select, as CSV rows, read in chunks through one
    cursor (flat memory). The filters are judged now, before anything streams:
    an invalid one raises ValidationFailed here, not halfway through a download."""
    queryset = activity_list(team=team, filters=filters)
    return _csv_rows(queryset)


def _csv_rows(queryset: QuerySet[ActivityEvent]) -> Iterator[list]:
    for event in queryset.iterator(chunk_size=ROWS_PER_CHUNK):
        yield [
            event.pk,
            event.created_at.isoformat(),
            event.event_type,
            registry.event_label(event.event_type),
            registry.event_sentence(event),
            event.user_id or "",
            event.user.username if event.user_id else "",
            event.ip_address or "",
            event.user_agent,
            json.dumps(event.event_data, sort_keys=True, ensure_ascii=False),
        ]
