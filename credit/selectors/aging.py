"""Aging of outstanding balances: how much of what customers owe is current,
and how much is 1-30, 31-60, 61-90 or more than 90 days past its due date.
The rule (first in, first out) and the figures are `credit.figures`'; these
are the reads the pages use, each one aggregate over unpaid rows only."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from credit import figures
from credit.figures import BUCKETS, EMPTY_AGING, Aging, AgingBucket  # noqa: F401 (the pages' vocabulary)
from credit.models import CreditAccount


def aging_for_team(*, team, today: datetime.date | None = None) -> Aging:
    return figures.aging_for(team=team, today=today)


def aging_for_account(*, account: CreditAccount, today: datetime.date | None = None) -> Aging:
    if account.balance_cents <= 0:
        return EMPTY_AGING  # nothing unpaid: no query
    return figures.aging_for(account_ids=[account.pk], today=today)


def aging_by_account(*, team, account_ids: Iterable, today: datetime.date | None = None) -> dict:
    """Aging of several accounts of the team (a page of the list) in one query: {account_id: Aging}."""
    return figures.aging_by_account(account_ids=account_ids, today=today)
