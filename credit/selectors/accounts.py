"""Reads of credit accounts: lists, one account, the team's summary."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from credit.filters import CreditAccountFilter
from credit.models import CreditAccount, CreditTransaction
from deelrx.errors import NotFound
from deelrx.filters import apply_filters

Type = CreditTransaction.Type
COMPLETED = Q(transactions__status=CreditTransaction.Status.COMPLETED)
# Debits and credits of the ledger, as sums over an account's completed rows.
DEBIT = COMPLETED & (
    Q(transactions__type__in=[Type.CHARGE, Type.FEE])
    | Q(transactions__type=Type.ADJUSTMENT, transactions__amount_cents__gt=0)
)
PAYMENT = COMPLETED & Q(transactions__type=Type.PAYMENT)
NEGATIVE_ADJUSTMENT = COMPLETED & Q(transactions__type=Type.ADJUSTMENT, transactions__amount_cents__lt=0)


def _zero_sum(expression, *, filter):
    return Coalesce(Sum(expression, filter=filter), Value(0), output_field=BigIntegerField())


def account_list(*, team, filters=None) -> QuerySet[CreditAccount]:
    queryset = CreditAccount.objects.filter(team=team).select_related("customer").order_by("-created_at", "-id")
    return apply_filters(CreditAccountFilter, filters, queryset)


def account_get(*, team, customer_id=None, account_id=None) -> CreditAccount:
    """One account of the team, by customer or account id. Another team's, an
    unknown or a malformed id are all 404 (ids do not leak)."""
    lookup = {"customer_id": customer_id} if customer_id is not None else {"pk": account_id}
    try:
        return CreditAccount.objects.select_related("customer").get(team=team, **lookup)
    except (CreditAccount.DoesNotExist, ValidationError, ValueError, TypeError):
        raise NotFound("Credit account not found.") from None


def overdue_balances(*, team, today: dt.date | None = None) -> QuerySet:
    """Per account: the part of the balance that is past due.

    Payments and credit adjustments settle the earliest-due debits first, so
    the overdue part is max(0, completed debits due before today - credits).
    """
    today = today or timezone.localdate()
    return (
        CreditAccount.objects.filter(team=team)
        .annotate(
            past_due_cents=_zero_sum("transactions__amount_cents", filter=DEBIT & Q(transactions__due_date__lt=today)),
            paid_cents=_zero_sum("transactions__amount_cents", filter=PAYMENT),
            credited_cents=_zero_sum("transactions__amount_cents", filter=NEGATIVE_ADJUSTMENT),
        )
        .annotate(
            overdue_cents=Greatest(
                Value(0, output_field=BigIntegerField()),
                # credited_cents is negative (signed adjustments)
                F("past_due_cents") - F("paid_cents") + F("credited_cents"),
                output_field=BigIntegerField(),
            )
        )
    )


def credit_summary(*, team, today: dt.date | None = None) -> dict:
    """Team totals: limits, balances, the overdue part, and accounts per status (two queries)."""
    totals = CreditAccount.objects.filter(team=team).aggregate(
        total_limit_cents=Coalesce(Sum("credit_limit_cents"), Value(0), output_field=BigIntegerField()),
        total_balance_cents=Coalesce(Sum("balance_cents"), Value(0), output_field=BigIntegerField()),
        **{f"count_{status}": Count("pk", filter=Q(status=status)) for status in CreditAccount.Status.values},
    )
    # The overdue part never exceeds the balance, so settled accounts can be skipped
    # before the ledger is aggregated: the cost follows the accounts that owe money.
    overdue = (
        overdue_balances(team=team, today=today)
        .filter(balance_cents__gt=0)
        .aggregate(total=Coalesce(Sum("overdue_cents"), Value(0), output_field=BigIntegerField()))["total"]
    )
    return {
        "total_limit_cents": totals["total_limit_cents"],
        "total_balance_cents": totals["total_balance_cents"],
        "overdue_balance_cents": overdue,
        "accounts_by_status": {status: totals[f"count_{status}"] for status in CreditAccount.Status.values},
    }
