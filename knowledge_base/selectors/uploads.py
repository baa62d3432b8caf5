"""Upload reads: only the caller's teams, filters shared by the API and HTML."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from deelrx.errors import NotFound
from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found
from deelrx.tenancy.access import get_team_access, require_role, visible_to
from deelrx.tenancy.models import Role, User
from knowledge_base.filters import KbUploadFilter
from knowledge_base.models import KbArticle, KbUpload, KbUploadVersion
from knowledge_base.selectors.articles import active_team_ids


def upload_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[KbUpload]:
    """The uploads of the caller's teams, newest first. A `team_id` filter
    naming a team the caller is not in is 404, like a team id in a path (and
    403 `membership_suspended` for a team where the caller is suspended).
    Without one, teams where the caller is suspended are left out, as the
    article lists do: a suspended member sees nothing of that team."""
    team_id = (filters or {}).get("team_id")
    if team_id not in (None, ""):
        get_team_access(user, team_id, min_role=Role.VIEWER)
    queryset = KbUpload.objects.defer("extracted_text", "search_vector")  # long; the detail has the text
    if not user.is_superuser:
        queryset = queryset.filter(team_id__in=active_team_ids(user))
    queryset = queryset.order_by("-created_at", "-id")
    return apply_filters(KbUploadFilter, filters, queryset)


def upload_get_for_user(*, user: User, upload_id: object) -> KbUpload:
    """One upload of the caller's teams; anything else (or a malformed id) is 404.
    A suspended member of the upload's team gets 403 `membership_suspended`."""
    upload = get_or_not_found(
        visible_to(KbUpload.objects.select_related("team"), user), "Upload not found.", pk=upload_id
    )
    require_role(user, upload.team_id, Role.VIEWER)  # suspended → 403, like every other object of the team
    return upload


def uploads_for_article(*, article: KbArticle) -> QuerySet[KbUpload]:
    return KbUpload.objects.filter(article=article).order_by("-created_at", "-id")


def upload_versions(upload: KbUpload) -> QuerySet[KbUploadVersion]:
    """Every stored version of an upload, newest first, with who made it (one query)."""
    return KbUploadVersion.objects.filter(upload=upload).select_related("created_by").order_by("-number")


def upload_versions_of_many() -> QuerySet[KbUploadVersion]:
    """The queryset to prefetch the versions of several uploads with (newest first, with who made them)."""
    return KbUploadVersion.objects.select_related("created_by").order_by("-number")


def upload_version_get(*, upload: KbUpload, number: object) -> KbUploadVersion:
    """One version of the upload by number; not a positive integer, missing or pruned → 404."""
    text = str(number)
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        raise NotFound("Version not found.")
    version = KbUploadVersion.objects.filter(upload=upload, number=int(text)).first()
    if version is None:
        raise NotFound("Version not found.")
    return version
