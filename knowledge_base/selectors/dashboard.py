"""Knowledge-base reads for the dashboard and the staff pages (broken-link
report, category choices); article reads are in selectors/articles.py.

`dashboard_section(team=)` is called by deelrx.views.dashboard and rendered
with knowledge_base/_dashboard.html; it runs three queries whatever the
number of articles (one grouped count, one for the links — broken count and last
check —, one top-N).
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, IntegerField, Max, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

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
    return link_check_summary(team=team)["last_checked"]


def link_check_summary(*, team: Team) -> dict:
    """{"broken": the count of `broken_link_list`, "last_checked": `links_last_checked`}
    in one query (subqueries on the team's row)."""
    checks = KbLinkCheck.objects.filter(article__team=OuterRef("pk")).order_by()
    broken = checks.filter(ok=False).values("article__team").annotate(n=Count("pk")).values("n")
    stored = checks.values("article__team").annotate(last=Max("checked_at")).values("last")
    last_run = (
        JobRun.objects.filter(job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, dry_run=False)
        .order_by("-started_at")
        .values("finished_at")[:1]
    )
    row = (
        Team.objects.filter(pk=team.pk)
        .annotate(
            broken=Coalesce(Subquery(broken, output_field=IntegerField()), 0),
            stored=Subquery(stored),
            last_run=Subquery(last_run),
        )
        .values("broken", "stored", "last_run")
        .first()
    ) or {"broken": 0, "stored": None, "last_run": None}
    moments = [moment for moment in (row["stored"], row["last_run"]) if moment is not None]
    return {"broken": row["broken"], "last_checked": max(moments, default=None)}


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
    links = link_check_summary(team=team)
    return {
        "status_counts": status_counts,
        "total": sum(counts.values()),
        "review_queue": counts.get(KbArticle.Status.REVIEW, 0),
        # None until the links were first checked: "not checked yet", not "0 broken"
        "broken_links": links["broken"] if links["last_checked"] is not None else None,
        "links_last_checked": links["last_checked"],
        "most_viewed": most_viewed,
    }
