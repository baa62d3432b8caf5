"""Knowledge-base reads for the dashboard and the staff pages (broken-link
report, category choices); article reads are in selectors/articles.py.

`dashboard_section(team=)` is called by deelrx.views.dashboard and rendered
with knowledge_base/_dashboard.html; it runs three queries whatever the
number of articles (one grouped count, one count, one top-N).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Max, QuerySet

from deelrx.jobs.models import JobRun
from deelrx.tenancy.models import Team
from knowledge_base.models import KbArticle, KbLinkCheck

MOST_VIEWED_LIMIT = 5


def broken_link_list(*, team: Team) -> QuerySet[KbLinkCheck]:
    """The latest failed check of each link in the team's articles, newest first."""
    return (
        KbLinkCheck.objects.filter(article__team=team, ok=False)
        .select_related("article")
        .order_by("-checked_at", "article_id", "url")
    )


def links_last_checked(*, team: Team) -> datetime | None:
    """When the team's links were last checked: the newest stored result of the
    team, or the last finished real run of kb-links-verify (a team without links
    stores no result). None means "never checked", not "nothing broken"."""
    stored = KbLinkCheck.objects.filter(article__team=team).aggregate(last=Max("checked_at"))["last"]
    last_run = (
        JobRun.objects.filter(job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, dry_run=False)
        .order_by("-started_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    return max((moment for moment in (stored, last_run) if moment is not None), default=None)


def category_list(*, team: Team) -> list[str]:
    """The team's categories in use, for the list filter (one query)."""
    return list(
        KbArticle.objects.filter(team=team)
        .exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()
    )


def dashboard_section(*, team: Team) -> dict:
    rows = KbArticle.objects.filter(team=team).values("status").annotate(count=Count("pk")).order_by()
    counts = {row["status"]: row["count"] for row in rows}
    status_counts = [
        {"status": status.value, "label": status.label, "count": counts.get(status.value, 0)}
        for status in KbArticle.Status
    ]
    most_viewed = list(
        KbArticle.objects.filter(team=team, status=KbArticle.Status.PUBLISHED)
        .order_by("-view_count", "title", "pk")
        .only("pk", "title", "view_count")[:MOST_VIEWED_LIMIT]
    )
    return {
        "status_counts": status_counts,
        "total": sum(counts.values()),
        "review_queue": counts.get(KbArticle.Status.REVIEW, 0),
        "broken_links": broken_link_list(team=team).count(),
        "most_viewed": most_viewed,
    }
