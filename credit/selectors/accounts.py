"""Reads of credit accounts: lists, one account, the team's summary."""

from __future__ import annotations

import datetime as dt

from django.db.models import BigIntegerField, Count, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from credit import figures
from credit.filters import CreditAccountFilter
from credit.models import CreditAccount
from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found


def account_list(*, team, filters=None) -> QuerySet[CreditAccount]:
    queryset = CreditAccount.objects.filter(team=team).select_related("customer").order_by("-created_at", "-id")
    return apply_filters(CreditAccountFilter, filters, queryset)


def account_get(*, team, customer_id=None, account_id=None) -> CreditAccount:
    """One account of the team, by customer or account id. Another team's, an
    unknown or a malformed id are all 404 (ids do not leak)."""
    lookup = {"customer_id": customer_id} if customer_id is not None else {"pk": account_id}
    queryset = CreditAccount.objects.select_related("customer").filter(team=team)
    return get_or_not_found(queryset, "Credit account not found.", **lookup)


# A closed account extends no credit: its limit is not part of any total.
OPEN_ACCOUNT = ~Q(status=CreditAccount.Status.CLOSED)


def _sum(field: str, condition: Q | None = None) -> Coalesce:
    return Coalesce(Sum(field, filter=condition), Value(0), output_field=BigIntegerField())


def credit_summary(*, team, today: dt.date | None = None) -> dict:
    """Team totals: limits (of accounts not closed), balances, pending debits, the overdue part
    (`credit.figures`), accounts per status, and the same figures per currency
    (`totals_by_currency`; the team-wide sums add amounts as they are and are kept for
    single-currency clients). Three queries: the accounts, the accounts per currency and the
    unpaid rows per currency."""
    totals = CreditAccount.objects.filter(team=team).aggregate(
        total_limit_cents=_sum("credit_limit_cents", OPEN_ACCOUNT),
        total_balance_cents=_sum("balance_cents"),
        total_pending_cents=_sum("pending_debits_cents"),
        **{f"count_{status}": Count("pk", filter=Q(status=status)) for status in CreditAccount.Status.values},
    )
    by_currency = totals_by_currency(team=team, today=today)
    return {
        "total_limit_cents": totals["total_limit_cents"],
        "total_balance_cents": totals["total_balance_cents"],
        "total_pending_cents": totals["total_pending_cents"],
        "overdue_balance_cents": sum(row["overdue_balance_cents"] for row in by_currency),
        "accounts_by_status": {status: totals[f"count_{status}"] for status in CreditAccount.Status.values},
        # the aging objects are for the pages (the API's summary has no aging)
        "totals_by_currency": [{k: v for k, v in row.items() if k != "aging"} for row in by_currency],
    }


def totals_by_currency(*, team, today: dt.date | None = None) -> list[dict]:
    """One row per currency the team's accounts use, most accounts first: limits of the
    accounts not closed, balances, pending debits, available credit (limits - balances -
    pending of the accounts not closed), exposure (balance against limit, percent), the
    overdue part and its aging. Two queries."""
    rows = (
        CreditAccount.objects.filter(team=team)
        .values("currency")
        .order_by()
        .annotate(
            account_count=Count("pk"),
            total_limit_cents=_sum("credit_limit_cents", OPEN_ACCOUNT),
            total_balance_cents=_sum("balance_cents"),
            total_pending_cents=_sum("pending_debits_cents"),
            open_balance_cents=_sum("balance_cents", OPEN_ACCOUNT),
            open_pending_cents=_sum("pending_debits_cents", OPEN_ACCOUNT),
        )
    )
    aging = figures.aging_by_currency(team=team, today=today)
    result = []
    for row in sorted(rows, key=lambda r: (-r["account_count"], r["currency"])):
        limit, balance = row["total_limit_cents"], row["total_balance_cents"]
        currency_aging = aging.get(row["currency"], figures.EMPTY_AGING)
        result.append(
            {
                "currency": row["currency"],
                "account_count": row["account_count"],
                "total_limit_cents": limit,
                "total_balance_cents": balance,
                "total_pending_cents": row["total_pending_cents"],
                "available_cents": limit - row["open_balance_cents"] - row["open_pending_cents"],
                "exposure_percent": round(balance * 100 / limit) if limit > 0 else (100 if balance > 0 else 0),
                "overdue_balance_cents": currency_aging.overdue_cents,
                "aging": currency_aging,
            }
        )
    return result
