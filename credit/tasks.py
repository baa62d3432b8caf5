"""Celery tasks of this app: thin wrappers that call services.

`today` (ISO date) lets an operator or a test run a job as of another day.
"""

from __future__ import annotations

from datetime import date

from deelrx.jobs import job


def _date(value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


@job("credit-payment-reminder")
def credit_payment_reminder(*, dry_run: bool = False, today: str | None = None):
    """Email customers about charges coming due or overdue, once per stage."""
    from credit.services.reminders import payment_reminders_send

    return payment_reminders_send(today=_date(today), dry_run=dry_run)


@job("credit-overdue-check")
def credit_overdue_check(*, dry_run: bool = False, today: str | None = None):
    """Suspend, then default, accounts past due plus grace; tell team admins."""
    from credit.services.overdue import overdue_check

    return overdue_check(today=_date(today), dry_run=dry_run)


@job("credit-limit-adjustment")
def credit_limit_adjustment(*, dry_run: bool = False, today: str | None = None):
    """Raise limits for good payers, lower and freeze them for late ones."""
    from credit.services.limits import limit_adjustment_run

    return limit_adjustment_run(today=_date(today), dry_run=dry_run)
