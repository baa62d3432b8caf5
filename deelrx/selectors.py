"""Read helpers every app's selectors share."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet

from deelrx.errors import NotFound


def get_or_not_found(queryset: QuerySet, message: str, **lookup) -> Model:
    """The one row of `queryset` matching `lookup`, else 404 `not_found` with `message`.
    A malformed id (not a uuid, not an integer) names no row either: also 404, so
    that ids of other teams and junk get the same answer."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound(message) from None
