"""The maintained figures (`credit.figures`) against the ledger: every posting
path keeps pending debits, unpaid parts and the oldest unpaid due date equal to
what a full settlement of the ledger gives, and readers agree with each other."""

import datetime as dt
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credit import figures
from credit.models import CreditAccount, CreditTransaction
from credit.services import ledger

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)


def fresh(account) -> CreditAccount:
    return CreditAccount.objects.get(pk=account.pk)


def unpaid(account) -> dict:
    rows = CreditTransaction.objects.filter(account=account, outstanding_cents__gt=0)
    return {row.description: row.outstanding_cents for row in rows}


def assert_consistent():
    problems = {check.account_id: check.problems for check in figures.ledger_check() if check.problems}
    assert problems == {}


def test_payments_settle_the_earliest_due_debits_first(account, post):
    post(account, "charge", 1_000, due_date=TODAY - dt.timedelta(days=40), description="old")
    post(account, "charge", 2_000, due_date=TODAY - dt.timedelta(days=5), description="recent")
    post(account, "fee", 300, description="undated fee")
    post(account, "payment", 1_500)
    assert unpaid(account) == {"recent": 1_500, "undated fee": 300}
    assert fresh(account).oldest_unpaid_due_date == TODAY - dt.timedelta(days=5)
    assert figures.account_overdue_cents(fresh(account), today=TODAY) == 1_500
    assert_consistent()


def test_a_backdated_charge_is_settled_before_newer_ones(account, post):
    post(account, "charge", 1_000, due_date=TODAY, description="new")
    post(account, "payment", 1_000)
    assert unpaid(account) == {}
    # Due before the paid one: the payment now settles it, and "new" is owed again.
    post(account, "charge", 400, due_date=TODAY - dt.timedelta(days=10), description="backdated")
    assert unpaid(account) == {"new": 400}
    assert fresh(account).oldest_unpaid_due_date == TODAY
    assert_consistent()


def test_a_credit_balance_absorbs_the_next_charge(account, post):
    post(account, "adjustment", -500, description="goodwill")
    post(account, "charge", 800, due_date=TODAY, description="charge")
    assert unpaid(account) == {"charge": 300}
    assert fresh(account).balance_cents == 300
    assert_consistent()


def test_pending_debits_hold_credit_until_they_leave_pending(account, post, member):
    charge = post(account, "charge", 30_000, status="pending")
    post(account, "fee", 500, status="pending")
    post(account, "adjustment", 200, status="pending")
    post(account, "adjustment", -100, status="pending")  # a pending credit holds nothing
    account = fresh(account)
    assert account.pending_debits_cents == 30_700
    assert account.available_cents == 100_000 - 30_700
    ledger.transaction_set_status(transaction=charge, status="completed", user=member)
    account = fresh(account)
    assert (account.balance_cents, account.pending_debits_cents) == (30_000, 700)
    assert_consistent()


def test_the_charge_path_reads_only_the_account_row(account, post):
    post(account, "charge", 1_000, due_date=TODAY)
    with CaptureQueriesContext(connection) as queries:
        post(account, "charge", 1_000, due_date=TODAY + dt.timedelta(days=1), idempotency_key="k-1")
    statements = [q["sql"].split()[0] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    # the role check (in a request it is the view's lookup, remembered), the lock, then writes only
    assert statements == ["SELECT", "SELECT", "INSERT", "UPDATE", "INSERT"]


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_keep_every_figure_equal_to_the_ledger(team, make_account, member, seed):
    rng = random.Random(seed)
    accounts = [make_account(credit_limit_cents=10_000_000) for _ in range(3)]
    pending: list[CreditTransaction] = []
    for _ in range(60):
        account = fresh(rng.choice(accounts))
        kind = rng.choice(["charge", "charge", "fee", "payment", "payment", "adjustment", "complete", "cancel"])
        due = rng.choice([None, TODAY + dt.timedelta(days=rng.randint(-120, 40))])
        if kind in ("complete", "cancel"):
            if pending:
                tx = pending.pop(rng.randrange(len(pending)))
                ledger.transaction_set_status(
                    transaction=tx, status="completed" if kind == "complete" else "cancelled", user=member
                )
            continue
        amount = rng.randint(1, 5_000)
        if kind == "adjustment":
            amount = rng.choice([amount, -amount])
        status = "pending" if kind != "payment" and rng.random() < 0.2 else "completed"
        tx = ledger.transaction_post(
            team=team,
            customer=account.customer,
            type=kind,
            amount_cents=amount,
            user=member,
            due_date=due,
            status=status,
        )
        if status == "pending":
            pending.append(tx)
    assert_consistent()
    for account in accounts:
        account = fresh(account)
        total = CreditTransaction.objects.filter(account=account).filter(figures.UNPAID)
        assert sum(t.outstanding_cents for t in total) == max(account.balance_cents, 0)
        aging = figures.aging_for(account_ids=[account.pk], today=TODAY)
        assert aging.total_cents == max(account.balance_cents, 0)
        assert aging.overdue_cents == figures.account_overdue_cents(account, today=TODAY)


def test_recompute_repairs_drift_and_the_check_reports_it(account, post):
    post(account, "charge", 1_000, due_date=TODAY)
    CreditTransaction.objects.update(outstanding_cents=0)
    CreditAccount.objects.update(pending_debits_cents=7, oldest_unpaid_due_date=None)
    (check,) = figures.ledger_check()
    assert check.problems == [
        "pending 7 != ledger 0",
        f"oldest unpaid due date None != {TODAY}",
        "1 debit(s) with a wrong unpaid part",
    ]
    figures.figures_recompute()
    assert_consistent()
