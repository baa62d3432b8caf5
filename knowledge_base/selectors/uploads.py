"""Upload reads: only the caller's teams, filters shared by the API and HTML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from deelrx.errors import NotFound
from deelrx.filters import apply_filters
from deelrx.tenancy.access import get_team_access, visible_to
from deelrx.tenancy.models import Role, User
from knowledge_base.filters import KbUploadFilter
from knowledge_base.models import KbArticle, KbUpload


def upload_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[KbUpload]:
    """The uploads of the caller's teams, newest first. A `team_id` filter
    naming a team the caller is not in is 404, like a team id in a path."""
    team_id = (filters or {}).get("team_id")
    if team_id not in (None, ""):
        get_team_access(user, team_id, min_role=Role.VIEWER)
    queryset = visible_to(KbUpload.objects.all(), user).order_by("-created_at", "-id")
    return apply_filters(KbUploadFilter, filters, queryset)


def upload_get_for_user(*, user: User, upload_id: object) -> KbUpload:
    """One upload of the caller's teams; anything else (or a malformed id) is 404."""
    try:
        return visible_to(KbUpload.objects.select_related("team"), user).get(pk=upload_id)
    except (KbUpload.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Upload not found.") from None


def uploads_for_article(*, article: KbArticle) -> QuerySet[KbUpload]:
    return KbUpload.objects.filter(article=article).order_by("-created_at", "-id")
