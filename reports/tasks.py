"""The reports app's job: thin, calls the snapshot service."""

from __future__ import annotations

from datetime import date

from deelrx.jobs import job


def _date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


@job("reports-snapshot")
def reports_snapshot(*, dry_run: bool = False, today: str | None = None, since: str | None = None):
    """Store every team's figures of yesterday (and of days missing since the last run, or from `since`)."""
    from reports.services.snapshots import snapshot_run

    return snapshot_run(today=_date(today), since=_date(since), dry_run=dry_run)
