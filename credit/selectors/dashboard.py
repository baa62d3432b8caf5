"""The credit section of the team dashboard (see deelrx/views.py): exposure,
overdue balance, accounts by status and the aging of what is owed. Two
queries whatever the number of accounts: one aggregate over the accounts and
one for the aging."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import Coalesce

from credit.models import CreditAccount
from credit.selectors.aging import aging_for_team


def dashboard_section(*, team) -> dict:
    statuses = CreditAccount.Status
    totals = CreditAccount.objects.filter(team=team).aggregate(
        account_count=Count("id"),
        # the same totals as the API's credit summary
        total_limit_cents=Coalesce(Sum("credit_limit_cents"), 0),
        total_balance_cents=Coalesce(Sum("balance_cents"), 0),
        total_pending_cents=Coalesce(Sum("pending_debits_cents"), 0),
        min_currency=Min("currency"),
        max_currency=Max("currency"),
        **{f"count_{value}": Count("id", filter=Q(status=value)) for value in statuses.values},
    )
    aging = aging_for_team(team=team)
    limit, balance, pending = totals["total_limit_cents"], totals["total_balance_cents"], totals["total_pending_cents"]
    return {
        "account_count": totals["account_count"],
        "total_limit_cents": limit,
        "total_balance_cents": balance,
        "total_pending_cents": pending,
        "available_cents": limit - balance - pending,
        "exposure_percent": round(balance * 100 / limit) if limit > 0 else (100 if balance > 0 else 0),
        "overdue_balance_cents": aging.overdue_cents,
        "accounts_by_status": [
            {"status": value, "label": label, "count": totals[f"count_{value}"]} for value, label in statuses.choices
        ],
        "aging": aging,
        # totals in one currency read naturally; a team with several shows plain amounts and a note
        "currency": totals["min_currency"] if totals["min_currency"] == totals["max_currency"] else "",
        "mixed_currencies": totals["min_currency"] != totals["max_currency"],
    }
