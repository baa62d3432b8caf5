"""What a purge may delete of credit's data (registered from CreditConfig.ready).

- credit_transactions and credit_accounts go together. Deleting transactions
  alone would break the ledger invariant (balance = sum of transactions), so
  transactions are never selected by their own date: a purge deletes the whole
  ledger of every account it deletes.
- customers need credit_accounts + credit_transactions in the scope
  (CreditAccount.customer is PROTECT); the accounts of selected customers are
  selected with them.
- only `closed` credit accounts may be purged (closing needs a zero balance),
  so a purge never destroys money owed: otherwise 422 `account_not_closed`.
"""

from __future__ import annotations

from django.db.models import QuerySet

from deelrx.errors import BusinessRuleViolation
from deelrx.purgeable import PurgeableEntity, register_purgeable_entity

CUSTOMERS_NEED_CREDIT = (
    "Purging customers also deletes their credit records (a customer with a credit account cannot be deleted on "
    "its own): add {missing}."
)


def only_closed_accounts(accounts: QuerySet) -> None:
    """The accounts a purge would delete must all be closed (a zero balance)."""
    sample = [str(pk) for pk in accounts.exclude(status="closed").values_list("pk", flat=True)[:20]]
    if sample:
        raise BusinessRuleViolation(
            "Only closed credit accounts can be purged; close these accounts (zero balance) first.",
            code="account_not_closed",
            details={"scope.entities": [f"Credit accounts in scope that are not closed: {', '.join(sample)}."]},
        )


ENTITIES = [
    PurgeableEntity(
        "credit_accounts",
        "credit.CreditAccount",
        "Credit accounts",
        order=20,
        criteria={"customer_id": "customer_id", "status": "status"},
        parent=("customers", "customer_id"),
        requires=("credit_transactions",),
        required_by=("customers",),
        required_by_message=CUSTOMERS_NEED_CREDIT,
        statuses=("active", "suspended", "defaulted", "closed"),
        updated_field="updated_at",
        check=only_closed_accounts,
        help="only closed accounts (zero balance), each with its whole ledger",
    ),
    PurgeableEntity(
        "credit_transactions",
        "credit.CreditTransaction",
        "Credit transactions",
        order=10,
        parent=("credit_accounts", "account_id"),
        own_selection=False,
        requires=("credit_accounts",),
        requires_message=(
            "Credit transactions are purged only with their accounts (a partial ledger is invalid): add {missing}."
        ),
        required_by=("customers",),
        required_by_message=CUSTOMERS_NEED_CREDIT,
        updated_field="updated_at",
        help="only as the whole ledger of the credit accounts purged",
    ),
]


def register() -> None:
    for entity in ENTITIES:
        register_purgeable_entity(entity)
