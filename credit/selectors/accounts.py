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


def credit_summary(*, team, today: dt.date | None = None) -> dict:
    """Team totals: limits, balances, pending debits, the overdue part (`credit.figures`), and
    accounts per status (two queries: one over the accounts, one over the unpaid rows)."""
    totals = CreditAccount.objects.filter(team=team).aggregate(
        total_limit_cents=Coalesce(Sum("credit_limit_cents"), Value(0), output_field=BigIntegerField()),
        total_balance_cents=Coalesce(Sum("balance_cents"), Value(0), output_field=BigIntegerField()),
        total_pending_cents=Coalesce(Sum("pending_debits_cents"), Value(0), output_field=BigIntegerField()),
        **{f"count_{status}": Count("pk", filter=Q(status=status)) for status in CreditAccount.Status.values},
    )
    return {
        "total_limit_cents": totals["total_limit_cents"],
        "total_balance_cents": totals["total_balance_cents"],
        "total_pending_cents": totals["total_pending_cents"],
        "overdue_balance_cents": figures.overdue_cents(team=team, today=today),
        "accounts_by_status": {status: totals[f"count_{status}"] for status in CreditAccount.Status.values},
    }
