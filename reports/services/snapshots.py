"""The `reports-snapshot` job (DESIGN §14): one row per team and day (and currency, for
credit), written set-based — a few statements per day whatever the number of accounts —
and idempotent: a day's rows are replaced in one transaction, so running a day twice,
or backfilling days already written, writes the same rows again.

What a day's rows hold, and where each figure comes from:
- credit: `credit.figures.figures_on_day` — the figures at the end of the day rebuilt from
  the ledger, the limit history and the status events (the one owner of the rules);
- knowledge base: the day's "was this helpful?" answers, searches and zero-result searches
  (`SearchRecord`); the articles' running view counts (`ArticleDaily`) are known only
  as they are now, so they are written for the latest complete day only (backfilled days
  have none: views are counted from the first run on);
- activity: the day's audit events per type and user (`deelrx.audit`).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from credit.figures import DAY_FIGURES, day_bounds, figures_on_day
from credit.models import CreditAccount
from deelrx.audit.models import ActivityEvent
from knowledge_base.models import KbArticle, KbFeedback
from reports.models import ActivityDaily, ArticleDaily, CreditDaily, KnowledgeBaseDaily, SearchRecord

logger = logging.getLogger(__name__)

BACKFILL_MAX_DAYS = 800  # a first run goes back at most this far (two years and a bit)


def snapshot_days_to_run(*, today: dt.date, since: dt.date | None = None) -> list[dt.date]:
    """The days a run writes: from `since`, else from the day after the latest day
    written, else (first run) from the first day with ledger or events; up to yesterday."""
    last_day = today - dt.timedelta(days=1)
    if since is None:
        latest = CreditDaily.objects.order_by("-day").values_list("day", flat=True).first()
        latest_kb = KnowledgeBaseDaily.objects.order_by("-day").values_list("day", flat=True).first()
        latest = max(filter(None, (latest, latest_kb)), default=None)
        since = latest + dt.timedelta(days=1) if latest is not None else (_first_day() or last_day)
    since = max(since, last_day - dt.timedelta(days=BACKFILL_MAX_DAYS - 1))
    return [since + dt.timedelta(days=n) for n in range((last_day - since).days + 1)]


def _first_day() -> dt.date | None:
    starts = [
        CreditAccount.objects.aggregate(first=Min("created_at"))["first"],
        ActivityEvent.objects.filter(team__isnull=False).aggregate(first=Min("created_at"))["first"],
    ]
    starts = [timezone.localtime(value).date() for value in starts if value is not None]
    return min(starts, default=None)


def snapshot_run(*, today: dt.date | None = None, since: dt.date | None = None, dry_run: bool = False) -> dict:
    """Write the snapshot of every day the run covers (see `snapshot_days_to_run`)."""
    today = today or timezone.localdate()
    days = snapshot_days_to_run(today=today, since=since)
    summary = {"days": len(days), "first_day": str(days[0]) if days else None, "credit_rows": 0, "dry_run": dry_run}
    for day in days:
        written = snapshot_day(day=day, latest=day == today - dt.timedelta(days=1), dry_run=dry_run)
        summary["credit_rows"] += written["credit_rows"]
        if len(days) > 1:
            logger.info("reports snapshot written", extra={"day": str(day), **written})
    return summary


def snapshot_day(
    *, day: dt.date, team_ids: list[int] | None = None, latest: bool = False, dry_run: bool = False
) -> dict:
    """Replace the rows of `day` (for `team_ids`, default every team) in one transaction."""
    figures = figures_on_day(day, team_ids=team_ids)
    credit_rows = [
        CreditDaily(team_id=team_id, day=day, currency=currency, **f.values)
        for (team_id, currency), f in sorted(figures.items())
    ]
    if dry_run:
        return {"credit_rows": len(credit_rows)}
    start, end = day_bounds(day)
    scope = {} if team_ids is None else {"team_id__in": team_ids}
    with transaction.atomic():
        CreditDaily.objects.filter(day=day, **scope).delete()
        CreditDaily.objects.bulk_create(credit_rows, batch_size=1000)
        KnowledgeBaseDaily.objects.filter(day=day, **scope).delete()
        KnowledgeBaseDaily.objects.bulk_create(_kb_rows(day, start, end, team_ids, latest=latest), batch_size=1000)
        if latest:
            _article_rows_write(day, team_ids)
        ActivityDaily.objects.filter(day=day, **scope).delete()
        _activity_rows_write(day, start, end, team_ids)
    return {"credit_rows": len(credit_rows)}


def _kb_rows(day, start, end, team_ids, *, latest: bool) -> list[KnowledgeBaseDaily]:
    rows: dict[int, KnowledgeBaseDaily] = {}

    def row(team_id: int) -> KnowledgeBaseDaily:
        return rows.setdefault(team_id, KnowledgeBaseDaily(team_id=team_id, day=day))

    feedback = KbFeedback.objects.filter(created_at__gte=start, created_at__lt=end)
    searches = SearchRecord.objects.filter(created_at__gte=start, created_at__lt=end, team__isnull=False)
    if team_ids is not None:
        feedback = feedback.filter(article__team_id__in=team_ids)
        searches = searches.filter(team_id__in=team_ids)
    for found in (
        feedback.values("article__team_id")
        .order_by()
        .annotate(yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False)))
    ):
        target = row(found["article__team_id"])
        target.helpful, target.not_helpful = found["yes"], found["no"]
    for found in (
        searches.values("team_id").order_by().annotate(n=Count("pk"), zero=Count("pk", filter=Q(result_count=0)))
    ):
        target = row(found["team_id"])
        target.searches, target.zero_result_searches = found["n"], found["zero"]
    return list(rows.values())


def _article_rows_write(day: dt.date, team_ids) -> None:
    """The articles' running view counts as they are now (one INSERT … SELECT)."""
    ArticleDaily.objects.filter(day=day, **({} if team_ids is None else {"team_id__in": team_ids})).delete()
    team_filter = "" if team_ids is None else "WHERE a.team_id IN (" + ", ".join(str(int(t)) for t in team_ids) + ")"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ArticleDaily._meta.db_table} (team_id, day, article_id, view_count) "  # noqa: S608
            f"SELECT a.team_id, %s, a.id, a.view_count FROM {KbArticle._meta.db_table} a {team_filter}",
            [connection.ops.adapt_datefield_value(day)],
        )


def _activity_rows_write(day, start, end, team_ids) -> None:
    """The day's events per team, type and user (one INSERT … SELECT)."""
    team_filter = "" if team_ids is None else "AND e.team_id IN (" + ", ".join(str(int(t)) for t in team_ids) + ")"
    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ActivityDaily._meta.db_table} (team_id, day, event_type, user_id, count) "  # noqa: S608
            f"SELECT e.team_id, %s, e.event_type, e.user_id, COUNT(*) FROM {ActivityEvent._meta.db_table} e "
            f"WHERE e.created_at >= %s AND e.created_at < %s AND e.team_id IS NOT NULL {team_filter} "
            "GROUP BY e.team_id, e.event_type, e.user_id",
            [ops.adapt_datefield_value(day), ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end)],
        )


__all__ = ["DAY_FIGURES", "snapshot_day", "snapshot_days_to_run", "snapshot_run"]
