"""Applying django-filter FilterSets in selectors, with the API's error shape on bad input,
and the strict filter fields every app uses."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from deelrx.errors import ValidationFailed


def apply_filters(filterset_class, data, queryset: QuerySet, **filterset_options) -> QuerySet:
    """`filterset_options`: keyword arguments the FilterSet takes beyond django-filter's own."""
    filterset = filterset_class(data=data or {}, queryset=queryset, **filterset_options)
    if not filterset.is_valid():
        raise ValidationFailed(
            "Some filters are invalid.",
            details={field: [str(m) for m in messages] for field, messages in filterset.errors.items()},
        )
    return filterset.qs


class StrictBooleanField(forms.NullBooleanField):
    """true/false (or 1/0), empty for "any"; anything else is a 400 rather than
    django-filter's default of silently ignoring the filter (and listing everything)."""

    # NullBooleanSelect would map unknown values to None before to_python sees them.
    widget = forms.TextInput
    TRUE = frozenset({"true", "1"})
    FALSE = frozenset({"false", "0"})

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        lowered = str(value).strip().lower()
        if lowered in self.TRUE:
            return True
        if lowered in self.FALSE:
            return False
        raise ValidationError("Use true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField
