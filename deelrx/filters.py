"""Applying django-filter FilterSets in selectors, with the API's error shape on bad input."""

from __future__ import annotations

from django.db.models import QuerySet

from deelrx.errors import ValidationFailed


def apply_filters(filterset_class, data, queryset: QuerySet) -> QuerySet:
    filterset = filterset_class(data=data or {}, queryset=queryset)
    if not filterset.is_valid():
        raise ValidationFailed(
            "Some filters are invalid.",
            details={field: [str(m) for m in messages] for field, messages in filterset.errors.items()},
        )
    return filterset.qs
