"""Posting to the credit ledger through `ledger.transaction_post` (validation,
row lock, limit check with the pending reservation, ledger row, balance
update, audit event — one database transaction per posting) against the raw
minimum in the same run: per posting one transaction with SELECT … FOR
UPDATE, INSERT of the row, UPDATE of the balance. Target: the service costs
at most 6x the raw statements."""

from __future__ import annotations

import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

POSTINGS = 200


def main() -> bool:
    from django.db import connection, transaction
    from django.utils import timezone

    from bench.harness import measure, report
    from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction
    from credit.services import ledger
    from deelrx.audit.models import ActivityEvent
    from deelrx.tenancy.models import Customer, Membership, Role, Team, User

    suffix = uuid.uuid4().hex[:8]
    with transaction.atomic():
        team = Team.objects.create(name="Bench credit team", slug=f"bench-credit-{suffix}")
        user = User.objects.create(username=f"bench-credit-{suffix}")
        Membership.objects.create(user=user, team=team, role=Role.MEMBER)
        customers = [Customer.objects.create(team=team, first_name=f"Bench{i}") for i in range(2)]
        service_account, raw_account = (
            CreditAccount.objects.create(team=team, customer=c, credit_limit_cents=MAX_AMOUNT_CENTS) for c in customers
        )
    try:

        def through_service():
            for _ in range(POSTINGS):
                ledger.transaction_post(
                    team=team, customer=service_account.customer, type="charge", amount_cents=100, user=user
                )

        from bench.data import figures_rebuild, insert_values_sql

        account_table = CreditAccount._meta.db_table
        lock = "" if connection.vendor == "sqlite" else " FOR UPDATE"
        # column list from the model, so a new column (with a default) needs no change here
        insert_sql, insert_defaults = insert_values_sql(
            CreditTransaction,
            {
                "id": "%(id)s",
                "team_id": "%(team_id)s",
                "account_id": "%(account_id)s",
                "type": "'charge'",
                "amount_cents": "100",
                "status": "'completed'",
                "description": "''",
                "idempotency_key": "''",
                "balance_after_cents": "%(balance)s",
                "created_by_id": "%(user_id)s",
                "completed_at": "%(now)s",
                "created_at": "%(now)s",
                "updated_at": "%(now)s",
            },
        )

        def raw_statements():
            for _ in range(POSTINGS):
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT balance_cents FROM {account_table} WHERE id = %s{lock}", [raw_account.pk.hex]
                    )
                    balance = cursor.fetchone()[0] + 100
                    now = timezone.now()
                    cursor.execute(
                        insert_sql,
                        insert_defaults
                        | {
                            "id": uuid.uuid4().hex,
                            "team_id": team.pk,
                            "account_id": raw_account.pk.hex,
                            "balance": balance,
                            "user_id": user.pk,
                            "now": now,
                        },
                    )
                    cursor.execute(
                        f"UPDATE {account_table} SET balance_cents = %s, updated_at = %s WHERE id = %s",
                        [balance, now, raw_account.pk.hex],
                    )

        baseline = measure(f"raw lock+INSERT+UPDATE x{POSTINGS}", raw_statements)
        candidate = measure(f"ledger.transaction_post x{POSTINGS}", through_service)
        ok = report(f"Credit ledger: {POSTINGS} postings", candidate, baseline, target_ratio=6.0)
        # the raw statements keep only the balance; the maintained figures of that account are rebuilt
        figures_rebuild(team.pk, account_ids=[raw_account.pk])
        mismatches = ledger.verify_ledger(team=team)
        if mismatches:
            print(f"  ledger mismatches after the run: {mismatches}")
        return ok and not mismatches
    finally:
        CreditTransaction.objects.filter(team=team).delete()
        CreditAccount.objects.filter(team=team).delete()
        ActivityEvent.objects.filter(team=team).purge_delete()
        Customer.objects.filter(team=team).delete()
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
