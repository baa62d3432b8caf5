"""Links from an article into this site, checked in the database (no HTTP).

A help-center link (`/help/<team>/<slug>/`, relative or absolute on SITE_URL)
works only when that article exists and is published and public: a draft, an
article in review, an archived or an internal one is "not found" for
readers, so the link is broken. A staff link (`/kb/<id>/…`) is broken when the
article does not exist, and in a public article always (help-center readers
cannot open staff pages). Other paths of the site are not checked.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from knowledge_base.models import KbArticle

Status = KbArticle.Status

_HELP_INDEX = re.compile(r"^/help/?$")
_HELP_ARTICLE = re.compile(r"^/help/(?P<team>[-\w]+)/(?P<slug>[-\w]+)/?$")
_STAFF_ARTICLE = re.compile(r"^/kb/(?P<id>[0-9a-fA-F-]{32,36})(?:/|$)")
_NOT_READABLE = {
    Status.DRAFT: "a draft",
    Status.REVIEW: "in review",
    Status.ARCHIVED: "archived",
}
MISSING_PAGE = "No help-center page at this address."
STAFF_PAGE_IN_PUBLIC_ARTICLE = "A staff page: help-center readers cannot open it."


@dataclass(frozen=True)
class InternalLinkResult:
    ok: bool
    status_code: int | None
    error: str


def site_path(url: str) -> str | None:
    """The path of a link into this site ('/help/…' or an absolute URL on
    SITE_URL), or None for any other link."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        site = urlsplit(settings.SITE_URL)
        if (parts.scheme.lower(), parts.netloc.lower()) != (site.scheme.lower(), site.netloc.lower()):
            return None
    elif not parts.path.startswith("/") or parts.path.startswith("//"):
        return None
    return parts.path or "/"


def is_checked_here(url: str) -> bool:
    """True for the links this module judges (help-center and staff article pages)."""
    path = site_path(url)
    return path is not None and bool(_HELP_INDEX.match(path) or _HELP_ARTICLE.match(path) or _STAFF_ARTICLE.match(path))


def check_site_links(urls: list[str]) -> dict[str, InternalLinkResult]:
    """Judge help-center links and staff article links in two queries at most.
    Staff links come back ok when the article exists; `staff_link_in_public_article`
    is the extra rule for public articles."""
    help_links: dict[str, tuple[str, str]] = {}
    staff_links: dict[str, uuid.UUID | None] = {}
    results: dict[str, InternalLinkResult] = {}
    for url in urls:
        path = site_path(url) or ""
        if _HELP_INDEX.match(path):
            results[url] = InternalLinkResult(True, 200, "")
        elif match := _HELP_ARTICLE.match(path):
            help_links[url] = (match["team"], match["slug"])
        elif match := _STAFF_ARTICLE.match(path):
            try:
                staff_links[url] = uuid.UUID(match["id"])
            except ValueError:
                staff_links[url] = None
    results.update(_judge_help_links(help_links))
    results.update(_judge_staff_links(staff_links))
    return results


def _judge_help_links(links: dict[str, tuple[str, str]]) -> dict[str, InternalLinkResult]:
    if not links:
        return {}
    teams = {team for team, _slug in links.values()}
    slugs = {slug for _team, slug in links.values()}
    found = {
        (team_slug, slug): (status, is_public, title)
        for team_slug, slug, status, is_public, title in KbArticle.objects.filter(
            team__slug__in=teams, slug__in=slugs
        ).values_list("team__slug", "slug", "status", "is_public", "title")
    }
    results = {}
    for url, key in links.items():
        article = found.get(key)
        if article is None:
            results[url] = InternalLinkResult(False, 404, MISSING_PAGE)
            continue
        status, is_public, title = article
        if status != Status.PUBLISHED:
            results[url] = InternalLinkResult(False, 404, f"“{title}” is {_NOT_READABLE.get(status, status)}.")
        elif not is_public:
            results[url] = InternalLinkResult(False, 404, f"“{title}” is internal (not in the help center).")
        else:
            results[url] = InternalLinkResult(True, 200, "")
    return results


def _judge_staff_links(links: dict[str, uuid.UUID | None]) -> dict[str, InternalLinkResult]:
    if not links:
        return {}
    existing = set(KbArticle.objects.filter(pk__in=[pk for pk in links.values() if pk]).values_list("pk", flat=True))
    return {
        url: InternalLinkResult(True, 200, "")
        if pk in existing
        else InternalLinkResult(False, 404, "No article with this id.")
        for url, pk in links.items()
    }


def is_staff_link(url: str) -> bool:
    return bool(_STAFF_ARTICLE.match(site_path(url) or ""))
