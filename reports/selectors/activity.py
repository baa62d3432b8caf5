"""The activity report (DESIGN §14): events per type per day, most active members —
from the daily rows (plus today's events, read live)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Sum

from credit.figures import day_bounds
from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import event_label
from deelrx.tenancy.models import User
from reports.models import ActivityDaily
from reports.selectors.ranges import DateRange

MEMBERS = 10


def activity_counts(*, team, date_range: DateRange) -> list[tuple[dt.date, str, int | None, int]]:
    """(day, event type, user id, count) over the range: snapshot rows, and today live."""
    rows = [
        (r["day"], r["event_type"], r["user_id"], r["n"])
        for r in ActivityDaily.objects.filter(
            team=team, day__gte=date_range.start, day__lte=date_range.last_snapshot_day
        )
        .values("day", "event_type", "user_id")
        .order_by()
        .annotate(n=Sum("count"))
    ]
    if date_range.includes_today:
        start, end = day_bounds(date_range.today)
        rows += [
            (date_range.today, r["event_type"], r["user_id"], r["n"])
            for r in ActivityEvent.objects.filter(team=team, created_at__gte=start, created_at__lt=end)
            .values("event_type", "user_id")
            .order_by()
            .annotate(n=Count("pk"))
        ]
    return rows


def activity_report(*, team, date_range: DateRange) -> dict:
    counts = activity_counts(team=team, date_range=date_range)
    per_period: dict[tuple[dt.date, str], int] = defaultdict(int)
    per_type: dict[str, int] = defaultdict(int)
    per_user: dict[int, int] = defaultdict(int)
    for day, event_type, user_id, n in counts:
        per_period[(date_range.period_of(day), event_type)] += n
        per_type[event_type] += n
        if user_id is not None:
            per_user[user_id] += n
    top = sorted(per_user.items(), key=lambda item: (-item[1], item[0]))[:MEMBERS]
    names = dict(User.objects.filter(pk__in=[pk for pk, _ in top]).values_list("pk", "username"))
    return {
        "from": date_range.start,
        "to": date_range.end,
        "interval": date_range.interval,
        "series": [
            {"period": period, "event_type": event_type, "label": event_label(event_type), "count": n}
            for (period, event_type), n in sorted(per_period.items())
        ],
        "by_type": [
            {"event_type": t, "label": event_label(t), "count": n}
            for t, n in sorted(per_type.items(), key=lambda item: (-item[1], item[0]))
        ],
        "most_active_members": [{"user_id": pk, "username": names.get(pk, f"user {pk}"), "events": n} for pk, n in top],
    }
