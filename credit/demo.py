"""Demo credit data for `manage.py seed_demo`: a few accounts with charges and
payments, one overdue, one suspended, one with a pending charge. Written
through the services (so balances, limit history and audit events are real)
and idempotent: accounts are upserted with the same settings and every
transaction carries a fixed idempotency key, which the ledger replays."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from credit.services import accounts, ledger
from deelrx.tenancy.models import Customer

# email → (limit in cents, transactions, final status); a transaction is
# (key suffix, type, amount in cents, due in days from today or None, status, description)
DEMO_ACCOUNTS = {
    "ada@example.com": (
        100_000,
        [
            ("1", "charge", 25_000, 20, "completed", "Monthly prescriptions"),
            ("2", "payment", 10_000, None, "completed", "Card payment"),
        ],
        "active",
    ),
    "grace@example.com": (
        250_000,
        [
            ("1", "charge", 80_000, -45, "completed", "Specialty medication (overdue)"),
            ("2", "charge", 15_000, 10, "completed", "Refill"),
            ("3", "fee", 2_500, None, "completed", "Late fee"),
        ],
        "active",
    ),
    "alan@example.com": (
        50_000,
        [("1", "charge", 30_000, -100, "completed", "Compounded medication")],
        "suspended",
    ),
    "katherine@example.com": (
        500_000,
        [
            ("1", "charge", 120_000, -20, "completed", "Quarterly supplies"),
            ("2", "payment", 120_000, None, "completed", "Bank transfer"),
            ("3", "charge", 20_000, 30, "pending", "Order awaiting pickup"),
        ],
        "active",
    ),
}


def seed_demo_data(*, team, users) -> None:
    staff = users.get("adam") or users.get("admin")
    clerk = users.get("maria") or staff
    today = timezone.localdate()
    customers = {c.email: c for c in Customer.objects.filter(team=team, email__in=list(DEMO_ACCOUNTS))}
    for email, (limit_cents, transactions, status) in DEMO_ACCOUNTS.items():
        customer = customers.get(email)
        if customer is None:
            continue
        account, _ = accounts.account_upsert(
            team=team, customer=customer, user=staff, credit_limit_cents=limit_cents, reason="Demo data"
        )
        for suffix, type_, amount_cents, due_in_days, txn_status, description in transactions:
            ledger.transaction_post(
                team=team,
                customer=customer,
                type=type_,
                amount_cents=amount_cents,
                user=clerk,
                description=description,
                due_date=None if due_in_days is None else today + dt.timedelta(days=due_in_days),
                status=txn_status,
                idempotency_key=f"demo-{account.pk}-{suffix}",
            )
        if account.status != status:
            accounts.account_set_status(account=account, status=status, user=staff, reason="Demo data")
