"""Aging of outstanding balances: how much of what customers owe is current,
and how much is 1-30, 31-60, 61-90 or more than 90 days past its due date.

Rule (first in, first out): payments and credits settle the oldest debts
first, so an account's outstanding balance is made of its *newest* debits.
Each completed debit (charge, fee, positive adjustment) is walked from the
latest due date backwards and takes the part of the balance not yet covered
by newer debits. A debit without a due date is current (it is never past due).

One SQL query, whatever the number of accounts or transactions: a window
function gives every debit the running sum of the debits newer than it, and
the outer query buckets the outstanding parts by due date.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import F, Q, Sum, Window
from django.utils import timezone

from credit.models import CreditAccount, CreditTransaction

BUCKETS: tuple[tuple[str, str], ...] = (
    ("current", "Current"),
    ("1_30", "1-30 days"),
    ("31_60", "31-60 days"),
    ("61_90", "61-90 days"),
    ("90_plus", "Over 90 days"),
)


@dataclass(frozen=True)
class AgingBucket:
    key: str
    label: str
    cents: int
    percent: int  # share of the total outstanding, for the bar width


@dataclass(frozen=True)
class Aging:
    buckets: list[AgingBucket] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(b.cents for b in self.buckets)

    @property
    def overdue_cents(self) -> int:
        return sum(b.cents for b in self.buckets if b.key != "current")

    def as_dict(self) -> dict[str, int]:
        return {b.key: b.cents for b in self.buckets}


def _build(amounts: Iterable[int]) -> Aging:
    amounts = [int(a or 0) for a in amounts]
    total = sum(amounts)
    return Aging(
        buckets=[
            AgingBucket(key=key, label=label, cents=cents, percent=round(cents * 100 / total) if total else 0)
            for (key, label), cents in zip(BUCKETS, amounts, strict=True)
        ]
    )


EMPTY_AGING = _build([0] * len(BUCKETS))


def _debits(*, team=None, account_ids=None):
    """Completed debits with, for each, the sum of itself and every newer debit of its account."""
    queryset = CreditTransaction.objects.filter(status=CreditTransaction.Status.COMPLETED).filter(
        Q(type__in=[CreditTransaction.Type.CHARGE, CreditTransaction.Type.FEE])
        | Q(type=CreditTransaction.Type.ADJUSTMENT, amount_cents__gt=0)
    )
    if team is not None:
        queryset = queryset.filter(team=team)
    if account_ids is not None:
        queryset = queryset.filter(account_id__in=list(account_ids))
    return (
        queryset.annotate(
            covered_cents=Window(
                Sum("amount_cents"),
                partition_by=[F("account_id")],
                # newest first: undated debits, then the latest due date; the pk breaks ties
                order_by=[F("due_date").desc(nulls_first=True), F("created_at").desc(), F("id").desc()],
            ),
            owed_cents=F("account__balance_cents"),
        )
        .order_by()
        .values_list("account_id", "due_date", "amount_cents", "covered_cents", "owed_cents")
    )


def _aging_sql(inner, *, today: datetime.date, by_account: bool) -> tuple[str, list]:
    inner_sql, inner_params = inner.query.sql_with_params()
    # Outstanding part of a debit: what the balance leaves after the newer debits, capped at its amount.
    newer = "(d.covered_cents - d.amount_cents)"
    portion = (
        f"CASE WHEN d.owed_cents - {newer} >= d.amount_cents THEN d.amount_cents "
        f"WHEN d.owed_cents - {newer} > 0 THEN d.owed_cents - {newer} ELSE 0 END"
    )
    limits = [today, today - datetime.timedelta(days=30), today - datetime.timedelta(days=60)]
    limits.append(today - datetime.timedelta(days=90))
    columns = (
        f"SUM(CASE WHEN d.due_date IS NULL OR d.due_date >= %s THEN {portion} ELSE 0 END), "
        f"SUM(CASE WHEN d.due_date < %s AND d.due_date >= %s THEN {portion} ELSE 0 END), "
        f"SUM(CASE WHEN d.due_date < %s AND d.due_date >= %s THEN {portion} ELSE 0 END), "
        f"SUM(CASE WHEN d.due_date < %s AND d.due_date >= %s THEN {portion} ELSE 0 END), "
        f"SUM(CASE WHEN d.due_date < %s THEN {portion} ELSE 0 END)"
    )
    column_params = [limits[0], limits[0], limits[1], limits[1], limits[2], limits[2], limits[3], limits[3]]
    select = f"d.account_id, {columns}" if by_account else columns
    group = " GROUP BY d.account_id" if by_account else ""
    # the inner query's columns are named after the fields and annotations of _debits()
    sql = f"SELECT {select} FROM ({inner_sql}) AS d{group}"  # noqa: S608 (no user input in the SQL text)
    return sql, column_params + list(inner_params)


def _run(inner, *, today, by_account: bool) -> list[tuple]:
    sql, params = _aging_sql(inner, today=today, by_account=by_account)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _today(today: datetime.date | None) -> datetime.date:
    return today or timezone.localdate()


def aging_for_team(*, team, today: datetime.date | None = None) -> Aging:
    rows = _run(_debits(team=team), today=_today(today), by_account=False)
    return _build(rows[0]) if rows else EMPTY_AGING


def aging_for_account(*, account: CreditAccount, today: datetime.date | None = None) -> Aging:
    rows = _run(_debits(team=account.team_id, account_ids=[account.pk]), today=_today(today), by_account=False)
    return _build(rows[0]) if rows else EMPTY_AGING


def aging_by_account(*, team, account_ids: Iterable, today: datetime.date | None = None) -> dict:
    """Aging of several accounts (a page of the list) in one query: {account_id: Aging}."""
    account_ids = list(account_ids)
    if not account_ids:
        return {}
    rows = _run(_debits(team=team, account_ids=account_ids), today=_today(today), by_account=True)
    found = {_as_uuid(row[0]): _build(row[1:]) for row in rows}
    return {account_id: found.get(account_id, EMPTY_AGING) for account_id in account_ids}


def _as_uuid(value):
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
