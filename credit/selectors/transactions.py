"""Reads of the credit ledger."""

from __future__ import annotations

from django.db.models import QuerySet

from credit.filters import CreditTransactionFilter
from credit.models import CreditAccount, CreditTransaction
from deelrx.filters import apply_filters
from deelrx.selectors import get_or_not_found

RECENT_TRANSACTIONS = 10


def transaction_list(*, team, filters=None) -> QuerySet[CreditTransaction]:
    """The team's ledger rows, newest first, filtered (see CreditTransactionFilter)."""
    queryset = CreditTransaction.objects.filter(team=team).select_related("account").order_by("-created_at", "-id")
    return apply_filters(CreditTransactionFilter, filters, queryset)


def transaction_get(*, team, transaction_id) -> CreditTransaction:
    queryset = CreditTransaction.objects.select_related("account").filter(team=team)
    return get_or_not_found(queryset, "Transaction not found.", pk=transaction_id)


def recent_transactions(*, account: CreditAccount, limit: int = RECENT_TRANSACTIONS) -> list[CreditTransaction]:
    rows = list(CreditTransaction.objects.filter(account=account).order_by("-created_at", "-id")[:limit])
    for row in rows:
        row.account = account  # the serializer reads account fields; no query per row
    return rows
