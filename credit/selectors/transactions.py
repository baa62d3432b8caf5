"""Reads of the credit ledger."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from credit.filters import CreditTransactionFilter
from credit.models import CreditAccount, CreditTransaction
from deelrx.errors import NotFound
from deelrx.filters import apply_filters

RECENT_TRANSACTIONS = 10


def transaction_list(*, team, filters=None) -> QuerySet[CreditTransaction]:
    """The team's ledger rows, newest first, filtered (see CreditTransactionFilter)."""
    queryset = CreditTransaction.objects.filter(team=team).select_related("account").order_by("-created_at", "-id")
    return apply_filters(CreditTransactionFilter, filters, queryset)


def transaction_get(*, team, transaction_id) -> CreditTransaction:
    try:
        return CreditTransaction.objects.select_related("account").get(team=team, pk=transaction_id)
    except (CreditTransaction.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Transaction not found.") from None


def recent_transactions(*, account: CreditAccount, limit: int = RECENT_TRANSACTIONS) -> list[CreditTransaction]:
    rows = list(CreditTransaction.objects.filter(account=account).order_by("-created_at", "-id")[:limit])
    for row in rows:
        row.account = account  # the serializer reads account fields; no query per row
    return rows
