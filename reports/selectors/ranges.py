"""The date range and interval every report takes (`?from=&to=&interval=`, or `?range=`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from deelrx.errors import ValidationFailed

PRESETS = {
    "30d": ("Last 30 days", 30),
    "quarter": ("Last quarter (90 days)", 90),
    "year": ("Last year (365 days)", 365),
}
DEFAULT_PRESET = "30d"
MAX_DAYS = 800  # what the snapshots keep at most (two years and a bit)
INTERVALS = ("day", "week", "month")


@dataclass(frozen=True)
class DateRange:
    start: dt.date
    end: dt.date
    interval: str
    preset: str | None
    today: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def last_snapshot_day(self) -> dt.date:
        """Days before today are read from snapshots; today is live."""
        return min(self.end, self.today - dt.timedelta(days=1))

    @property
    def includes_today(self) -> bool:
        return self.end >= self.today

    def period_of(self, day: dt.date) -> dt.date:
        if self.interval == "week":
            return day - dt.timedelta(days=day.weekday())
        if self.interval == "month":
            return day.replace(day=1)
        return day

    def as_query(self) -> dict[str, str]:
        if self.preset:
            return {"range": self.preset, "interval": self.interval}
        return {"from": self.start.isoformat(), "to": self.end.isoformat(), "interval": self.interval}


def _date(params, name: str) -> dt.date | None:
    value = (params.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(details={name: ["Enter a date as YYYY-MM-DD."]}) from None


def parse_range(params, *, today: dt.date | None = None) -> DateRange:
    """`from`/`to` (dates, inclusive; `to` defaults to today, `from` to 29 days before it), or
    `range` = 30d | quarter | year; `interval` = day | week | month (default by length).
    A range past today ends today; more than MAX_DAYS days, or `from` after `to`, is 400."""
    today = today or timezone.localdate()
    preset = (params.get("range") or "").strip() or None
    start, end = _date(params, "from"), _date(params, "to")
    if preset is not None:
        if preset not in PRESETS:
            raise ValidationFailed(details={"range": [f"Choose one of {', '.join(PRESETS)}."]})
        end, start = today, today - dt.timedelta(days=PRESETS[preset][1] - 1)
    else:
        end = min(end or today, today)
        try:
            start = start or end - dt.timedelta(days=29)
        except OverflowError:  # `to` in the first days of year 1
            raise ValidationFailed(details={"to": ["Enter a later date."]}) from None
        if _date(params, "from") is None and _date(params, "to") is None:
            preset = DEFAULT_PRESET
    if start > end:
        raise ValidationFailed(details={"from": ["The range starts after it ends."]})
    if (end - start).days + 1 > MAX_DAYS:
        raise ValidationFailed(details={"from": [f"A range is at most {MAX_DAYS} days."]})
    interval = (params.get("interval") or "").strip()
    if interval and interval not in INTERVALS:
        raise ValidationFailed(details={"interval": [f"Choose one of {', '.join(INTERVALS)}."]})
    days = (end - start).days + 1
    interval = interval or ("day" if days <= 31 else "week" if days <= 120 else "month")
    return DateRange(start=start, end=end, interval=interval, preset=preset, today=today)
