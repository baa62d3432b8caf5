"""Aging buckets on crafted ledgers (rows written directly: the selector only reads)."""

import datetime

import pytest

from credit.figures import figures_recompute
from credit.models import CreditAccount, CreditTransaction
from credit.selectors.aging import aging_by_account, aging_for_account, aging_for_team
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2026, 6, 30)


def days_ago(n: int) -> datetime.date:
    return TODAY - datetime.timedelta(days=n)


def make_account(team, **kwargs):
    return CreditAccount.objects.create(
        team=team, customer=CustomerFactory(team=team), credit_limit_cents=100_000, **kwargs
    )


def post(account, type_, amount, *, due=None, status="completed"):
    """Append a ledger row and keep the cached figures equal to the ledger, as the ledger service does."""
    txn = CreditTransaction.objects.create(
        team_id=account.team_id, account=account, type=type_, amount_cents=amount, due_date=due, status=status
    )
    if status == "completed":
        account.balance_cents += txn.signed_amount_cents
        account.save(update_fields=["balance_cents"])
    figures_recompute(account_ids=[account.pk])
    return txn


def test_unpaid_charges_fall_in_the_bucket_of_their_due_date(team):
    account = make_account(team)
    post(account, "charge", 100, due=days_ago(120))
    post(account, "charge", 200, due=days_ago(45))
    post(account, "charge", 400, due=days_ago(1))
    post(account, "charge", 800, due=days_ago(61))
    post(account, "charge", 1600, due=TODAY + datetime.timedelta(days=5))
    post(account, "charge", 3200, due=TODAY)

    aging = aging_for_account(account=account, today=TODAY)

    assert aging.as_dict() == {"current": 4800, "1_30": 400, "31_60": 200, "61_90": 800, "90_plus": 100}
    assert aging.total_cents == 6300
    assert aging.overdue_cents == 1500


def test_bucket_edges_are_30_60_and_90_days(team):
    account = make_account(team)
    for days in (30, 31, 60, 61, 90, 91):
        post(account, "charge", days, due=days_ago(days))

    assert aging_for_account(account=account, today=TODAY).as_dict() == {
        "current": 0,
        "1_30": 30,
        "31_60": 31 + 60,
        "61_90": 61 + 90,
        "90_plus": 91,
    }


def test_payments_settle_the_oldest_debts_first(team):
    account = make_account(team)
    post(account, "charge", 100, due=days_ago(120))
    post(account, "charge", 200, due=days_ago(45))
    post(account, "charge", 300, due=TODAY)
    post(account, "payment", 150)

    aging = aging_for_account(account=account, today=TODAY)

    assert aging.as_dict() == {"current": 300, "1_30": 0, "31_60": 150, "61_90": 0, "90_plus": 0}
    assert aging.total_cents == account.balance_cents == 450


def test_fees_and_adjustments_count_and_undated_debits_are_current(team):
    account = make_account(team)
    post(account, "charge", 1000, due=days_ago(10))
    post(account, "fee", 50)  # no due date: current
    post(account, "adjustment", 25, due=days_ago(100))
    post(account, "adjustment", -500)  # a credit settles the oldest debts

    assert aging_for_account(account=account, today=TODAY).as_dict() == {
        "current": 50,
        "1_30": 525,
        "31_60": 0,
        "61_90": 0,
        "90_plus": 0,
    }


def test_pending_failed_and_cancelled_rows_are_not_owed(team):
    account = make_account(team)
    post(account, "charge", 100, due=days_ago(40))
    post(account, "charge", 999, due=days_ago(40), status="pending")
    post(account, "charge", 999, due=days_ago(40), status="failed")
    post(account, "charge", 999, due=days_ago(40), status="cancelled")
    post(account, "payment", 999, status="pending")

    assert aging_for_account(account=account, today=TODAY).as_dict()["31_60"] == 100


def test_a_paid_off_or_credit_balance_owes_nothing(team):
    account = make_account(team)
    post(account, "charge", 100, due=days_ago(40))
    post(account, "payment", 300)

    aging = aging_for_account(account=account, today=TODAY)

    assert aging.total_cents == 0
    assert all(b.percent == 0 for b in aging.buckets)


def test_team_aging_adds_up_the_accounts_of_that_team_only(team, other_team):
    first, second = make_account(team), make_account(team)
    post(first, "charge", 100, due=days_ago(5))
    post(second, "charge", 300, due=days_ago(95))
    post(second, "payment", 100)
    foreign = make_account(other_team)
    post(foreign, "charge", 10_000, due=days_ago(5))

    aging = aging_for_team(team=team, today=TODAY)

    assert aging.as_dict() == {"current": 0, "1_30": 100, "31_60": 0, "61_90": 0, "90_plus": 200}
    assert [b.percent for b in aging.buckets] == [0, 33, 0, 0, 67]


def test_aging_of_many_accounts_is_one_query(team, django_assert_num_queries):
    accounts = [make_account(team) for _ in range(5)]
    for n, account in enumerate(accounts):
        post(account, "charge", 100 * (n + 1), due=days_ago(35))
    ids = [a.pk for a in accounts]

    with django_assert_num_queries(1):
        result = aging_by_account(team=team, account_ids=ids, today=TODAY)

    assert [result[i].as_dict()["31_60"] for i in ids] == [100, 200, 300, 400, 500]
    with django_assert_num_queries(1):
        aging_for_team(team=team, today=TODAY)


def test_an_account_without_debits_has_empty_buckets(team):
    account = make_account(team)
    assert aging_by_account(team=team, account_ids=[account.pk], today=TODAY)[account.pk].total_cents == 0
    assert aging_for_account(account=account, today=TODAY).total_cents == 0
