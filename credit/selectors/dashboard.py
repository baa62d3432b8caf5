"""The credit section of the team dashboard (see deelrx/views.py): per currency (amounts
in different currencies are never added together) the balances against the limits of the
accounts that are not closed, pending, overdue and the aging of what is owed; accounts by
status. Three queries whatever the number of accounts."""

from __future__ import annotations

from django.db.models import Count, Q

from credit.models import CreditAccount
from credit.selectors.accounts import totals_by_currency


def dashboard_section(*, team) -> dict:
    statuses = CreditAccount.Status
    counts = CreditAccount.objects.filter(team=team).aggregate(
        **{f"count_{value}": Count("id", filter=Q(status=value)) for value in statuses.values}
    )
    return {
        "account_count": sum(counts.values()),
        # the same figures as the API's credit summary (`totals_by_currency`)
        "currencies": totals_by_currency(team=team),
        "accounts_by_status": [
            {"status": value, "label": label, "count": counts[f"count_{value}"]} for value, label in statuses.choices
        ],
    }
