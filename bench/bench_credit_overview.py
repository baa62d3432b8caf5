"""The team credit overview API (GET /api/teams/<id>/credit/: team check,
summary with totals, accounts per status and the overdue part of every
balance, plus a page of 200 accounts with their customers) against the raw SQL
doing the same work in the same run: the totals aggregate, the overdue sum
over a per-account GROUP BY of the ledger, the page joined to customers, and
json.dumps. 5,000 accounts with 4 ledger rows each (20,000 transactions).
Target: at most 6x (the two summary aggregates dominate both sides)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ACCOUNTS = 5000
PAGE_SIZE = 200
TARGET = 6.0
REPEAT = 15  # cheap calls: a median over more runs steadies the ratio on a busy machine


def main() -> bool:
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.test import APIClient

    from bench.harness import measure, report
    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer, Membership, Role, Team, User

    suffix = uuid.uuid4().hex[:8]
    today = timezone.localdate()
    statuses = ["active", "active", "active", "suspended", "defaulted", "closed"]
    with transaction.atomic():
        team = Team.objects.create(name="Bench credit overview team", slug=f"bench-credit-overview-{suffix}")
        user = User.objects.create(username=f"bench-credit-overview-{suffix}")
        Membership.objects.create(user=user, team=team, role=Role.VIEWER)
        customers = Customer.objects.bulk_create(
            (
                Customer(team=team, first_name=f"First{i}", last_name=f"Last{i:05d}", email=f"c{i}@example.com")
                for i in range(ACCOUNTS)
            ),
            batch_size=1000,
        )
        accounts = CreditAccount.objects.bulk_create(
            (
                CreditAccount(
                    team=team,
                    customer=customer,
                    credit_limit_cents=100_000,
                    balance_cents=(i % 50) * 1000,
                    status=statuses[i % len(statuses)],
                )
                for i, customer in enumerate(customers)
            ),
            batch_size=1000,
        )
        rows = []
        for i, account in enumerate(accounts):
            due = today - dt.timedelta(days=i % 90 - 30)  # some overdue, some not yet due
            rows += [
                CreditTransaction(team=team, account=account, type="charge", amount_cents=20_000, due_date=due),
                CreditTransaction(team=team, account=account, type="fee", amount_cents=500, due_date=due),
                CreditTransaction(team=team, account=account, type="payment", amount_cents=(i % 40 + 1) * 500),
                CreditTransaction(team=team, account=account, type="adjustment", amount_cents=-100, status="pending"),
            ]
        CreditTransaction.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # fresh statistics, as autovacuum would have them
            cursor.execute(f"ANALYZE {CreditAccount._meta.db_table}")
            cursor.execute(f"ANALYZE {CreditTransaction._meta.db_table}")
    try:
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)
        url = f"/api/teams/{team.pk}/credit/?page_size={PAGE_SIZE}"

        def through_api():
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            return json.loads(response.content)

        accounts_table = CreditAccount._meta.db_table
        tx_table = CreditTransaction._meta.db_table
        customers_table = Customer._meta.db_table
        status_counts = ", ".join(f"COUNT(*) FILTER (WHERE status = '{s}')" for s in CreditAccount.Status.values)
        totals_sql = (
            f"SELECT COALESCE(SUM(credit_limit_cents), 0), COALESCE(SUM(balance_cents), 0), {status_counts}"
            f" FROM {accounts_table} WHERE team_id = %s"
        )
        owed = "past_due - paid + credited"
        overdue_sql = (
            f"SELECT COALESCE(SUM(CASE WHEN {owed} > 0 THEN {owed} ELSE 0 END), 0)"
            " FROM (SELECT a.id,"
            " SUM(CASE WHEN t.status = 'completed' AND (t.type IN ('charge', 'fee') OR (t.type = 'adjustment'"
            " AND t.amount_cents > 0)) AND t.due_date < %s THEN t.amount_cents ELSE 0 END) AS past_due,"
            " SUM(CASE WHEN t.status = 'completed' AND t.type = 'payment' THEN t.amount_cents ELSE 0 END) AS paid,"
            " SUM(CASE WHEN t.status = 'completed' AND t.type = 'adjustment' AND t.amount_cents < 0"
            " THEN t.amount_cents ELSE 0 END) AS credited"
            f" FROM {accounts_table} a LEFT JOIN {tx_table} t ON t.account_id = a.id"
            " WHERE a.team_id = %s GROUP BY a.id) per_account"
        )
        page_sql = (
            "SELECT a.id, a.team_id, a.customer_id, c.first_name, c.last_name, a.credit_limit_cents,"
            " a.balance_cents, a.currency, a.status, a.grace_period_days, a.interest_rate_bps, a.limit_frozen,"
            " a.stripe_payment_method_id, a.last_payment_at, a.status_changed_at, a.created_at, a.updated_at"
            f" FROM {accounts_table} a JOIN {customers_table} c ON c.id = a.customer_id"
            " WHERE a.team_id = %s ORDER BY a.created_at DESC, a.id DESC LIMIT %s"
        )

        def raw_sql():
            with connection.cursor() as cursor:
                cursor.execute(totals_sql, [team.pk])
                totals = [int(v) for v in cursor.fetchone()]  # SUM(bigint) is numeric on PostgreSQL
                cursor.execute(overdue_sql, [today, team.pk])
                overdue = int(cursor.fetchone()[0])
                cursor.execute(page_sql, [team.pk, PAGE_SIZE + 1])
                page = cursor.fetchall()
            return json.dumps(
                {"summary": [*totals, overdue], "results": [[str(v) for v in row] for row in page]}, default=str
            )

        expected_overdue = json.loads(raw_sql())["summary"][-1]
        served = through_api()
        assert served["summary"]["overdue_balance_cents"] == expected_overdue, (served["summary"], expected_overdue)
        assert len(served["results"]) == PAGE_SIZE

        baseline = measure("raw totals + overdue + page SQL + json.dumps", raw_sql, repeat=REPEAT)
        candidate = measure("GET /api/teams/<id>/credit/", through_api, repeat=REPEAT)
        return report(
            f"Credit overview: summary of {ACCOUNTS:,} accounts + page of {PAGE_SIZE}",
            candidate,
            baseline,
            target_ratio=TARGET,
        )
    finally:
        CreditTransaction.objects.filter(team=team).delete()
        CreditAccount.objects.filter(team=team).delete()
        Customer.objects.filter(team=team).delete()
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
