"""The knowledge-base report (DESIGN §14): views and helpful ratio per article, top
searches, zero-result searches, stale articles."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Count, Max, Q
from django.urls import reverse
from django.utils import timezone

from credit.figures import day_bounds
from knowledge_base.models import KbArticle, KbFeedback
from reports.models import ArticleDaily, SearchRecord
from reports.selectors.ranges import DateRange

ARTICLES = 50
SEARCHES = 20
STALE = 50


def _searches(*, team, date_range: DateRange):
    """The team's searches in the range: its staff's and its API clients', and the help center's
    that found (or offered as close matches) its public articles (decision 47). A help-center
    search about no team's article (team null) is in no team's report."""
    start, _ = day_bounds(date_range.start)
    _, end = day_bounds(date_range.end)
    return SearchRecord.objects.filter(team=team, created_at__gte=start, created_at__lt=end)


def _counts_on(*, team, day: dt.date) -> dict:
    """{article id: running view count} from the latest snapshot on or before `day`."""
    latest = ArticleDaily.objects.filter(team=team, day__lte=day).aggregate(day=Max("day"))["day"]
    if latest is None:
        return {}
    return dict(ArticleDaily.objects.filter(team=team, day=latest).values_list("article_id", "view_count"))


def article_stats(*, team, date_range: DateRange) -> list[dict]:
    before = _counts_on(team=team, day=date_range.start - dt.timedelta(days=1))
    if date_range.includes_today:
        after = dict(KbArticle.objects.filter(team=team).values_list("pk", "view_count"))
    else:
        after = _counts_on(team=team, day=date_range.end)
    start, _ = day_bounds(date_range.start)
    _, end = day_bounds(date_range.end)
    feedback = {
        row["article_id"]: row
        for row in KbFeedback.objects.filter(article__team=team, created_at__gte=start, created_at__lt=end)
        .values("article_id")
        .order_by()
        .annotate(yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False)))
    }
    views = {pk: max(count - before.get(pk, 0), 0) for pk, count in after.items()}
    ranked = sorted(
        set(views) | set(feedback), key=lambda pk: (-views.get(pk, 0), -_answers(feedback.get(pk)), str(pk))
    )[:ARTICLES]
    titles = dict(KbArticle.objects.filter(pk__in=ranked).values_list("pk", "title"))
    rows = []
    for pk in ranked:
        if pk not in titles:
            continue
        found = feedback.get(pk) or {"yes": 0, "no": 0}
        answers = found["yes"] + found["no"]
        rows.append(
            {
                "article_id": pk,
                "title": titles[pk],
                "views": views.get(pk, 0),
                "helpful": found["yes"],
                "not_helpful": found["no"],
                "helpful_ratio": round(found["yes"] / answers, 4) if answers else None,
            }
        )
    return rows


def _answers(found) -> int:
    return (found["yes"] + found["no"]) if found else 0


def top_searches(*, team, date_range: DateRange, zero_only: bool = False) -> list[dict]:
    searches = _searches(team=team, date_range=date_range)
    if zero_only:
        searches = searches.filter(result_count=0)
    rows = (
        searches.values("normalized")
        .order_by()
        .annotate(
            searches=Count("pk"),
            zero_results=Count("pk", filter=Q(result_count=0)),
            help_center=Count("pk", filter=Q(source=SearchRecord.Source.HELP_CENTER)),
            last=Max("created_at"),
            query=Max("query"),
        )
        .order_by("-searches", "normalized")[:SEARCHES]
    )
    create_url = reverse("knowledge_base:article-create")
    return [
        {
            "query": row["query"],
            "searches": row["searches"],
            "zero_results": row["zero_results"],
            "help_center_searches": row["help_center"],
            "last_searched_at": row["last"],
            **({"write_article_url": f"{create_url}?{urlencode({'title': row['query']})}"} if zero_only else {}),
        }
        for row in rows
    ]


def stale_articles(*, team, now=None) -> list[dict]:
    """Published articles not updated for KB_STALE_DAYS (default 180), oldest first."""
    days = getattr(settings, "KB_STALE_DAYS", 180)
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    rows = (
        KbArticle.objects.filter(team=team, status=KbArticle.Status.PUBLISHED, updated_at__lt=cutoff)
        .order_by("updated_at", "pk")
        .values("pk", "title", "updated_at", "view_count")[:STALE]
    )
    return [
        {"article_id": r["pk"], "title": r["title"], "updated_at": r["updated_at"], "view_count": r["view_count"]}
        for r in rows
    ]


def knowledge_base_report(*, team, date_range: DateRange) -> dict:
    return {
        "from": date_range.start,
        "to": date_range.end,
        "articles": article_stats(team=team, date_range=date_range),
        "top_searches": top_searches(team=team, date_range=date_range),
        "zero_result_searches": top_searches(team=team, date_range=date_range, zero_only=True),
        "stale_articles": stale_articles(team=team),
        "stale_after_days": getattr(settings, "KB_STALE_DAYS", 180),
    }
