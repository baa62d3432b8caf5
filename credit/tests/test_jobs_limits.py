"""credit-limit-adjustment: raise good payers (policy %, capped), lower and freeze late ones, once a week."""

import datetime as dt

import pytest
from django.utils import timezone

from credit.models import CreditAccount, CreditLimitChange, CreditTeamPolicy, PaymentReminder
from credit.services.limits import limit_adjustment_run
from deelrx.jobs import execute_job

TODAY = timezone.localdate()


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def limit_of(account) -> int:
    return CreditAccount.objects.get(pk=account.pk).credit_limit_cents


def automatic_changes(account):
    return list(
        CreditLimitChange.objects.filter(account=account, source="automatic")
        .order_by("created_at")
        .values_list("old_limit_cents", "new_limit_cents")
    )


def age_changes(account, days: int):
    CreditLimitChange.objects.filter(account=account).update(created_at=timezone.now() - dt.timedelta(days=days))


@pytest.fixture
def busy_account(account, post):
    """Limit $1,000.00, balance $900.00 (90% in use), nothing due yet."""
    post(account, "charge", 90_000, due_date=day(20))
    return account


def test_a_good_payer_over_80_percent_gets_10_percent_more_once_a_week(busy_account):
    summary = limit_adjustment_run(today=TODAY)
    assert summary["raised"] == 1
    assert limit_of(busy_account) == 110_000
    change = CreditLimitChange.objects.get(account=busy_account, source="automatic")
    assert change.changed_by is None
    assert "Automatic" in change.reason

    # Same week: nothing more.
    assert limit_adjustment_run(today=TODAY)["raised"] == 0
    assert limit_of(busy_account) == 110_000

    # A week later, still above 80% (900/1100 = 82%): raised again.
    age_changes(busy_account, 7)
    limit_adjustment_run(today=day(7))
    assert automatic_changes(busy_account) == [(100_000, 110_000), (110_000, 121_000)]


def test_at_or_below_80_percent_nothing_changes(account, post):
    post(account, "charge", 80_000)
    assert limit_adjustment_run(today=TODAY)["raised"] == 0
    assert limit_of(account) == 100_000


def test_the_team_policy_sets_the_rate_and_the_cap(team, busy_account, post):
    CreditTeamPolicy.objects.create(team=team, auto_raise_bps=2_500, auto_limit_cap_cents=120_000)
    limit_adjustment_run(today=TODAY)
    assert limit_of(busy_account) == 120_000  # +25% would be 125,000
    post(busy_account, "charge", 10_000)  # 100,000 of 120,000: still above 80%
    age_changes(busy_account, 7)
    summary = limit_adjustment_run(today=day(7))
    assert summary["raised"] == 0
    assert summary["at_cap"] == 1
    assert len(automatic_changes(busy_account)) == 1


def test_the_default_cap_applies_without_a_policy(make_account, post):
    account = make_account(credit_limit_cents=950_000)
    post(account, "charge", 900_000)
    limit_adjustment_run(today=TODAY)
    assert limit_of(account) == 1_000_000


def test_a_recent_overdue_reminder_blocks_the_raise(busy_account, post):
    fee = post(busy_account, "fee", 100, due_date=day(30))
    PaymentReminder.objects.create(transaction=fee, stage="overdue_w1", sent_at=timezone.now() - dt.timedelta(days=60))
    assert limit_adjustment_run(today=TODAY)["raised"] == 0
    PaymentReminder.objects.update(sent_at=timezone.now() - dt.timedelta(days=200))
    assert limit_adjustment_run(today=TODAY)["raised"] == 1


def test_suspended_and_frozen_accounts_are_not_raised(busy_account):
    CreditAccount.objects.filter(pk=busy_account.pk).update(status="suspended")
    assert limit_adjustment_run(today=TODAY)["raised"] == 0
    CreditAccount.objects.filter(pk=busy_account.pk).update(status="active", limit_frozen=True)
    summary = limit_adjustment_run(today=TODAY)
    assert summary["raised"] == 0
    # Frozen but nothing past due: the freeze is lifted; the raise waits for next week's run.
    assert summary["unfrozen"] == 1


def test_a_late_payer_is_lowered_to_the_balance_and_frozen(account, post):
    post(account, "charge", 30_000, due_date=day(-3))
    summary = limit_adjustment_run(today=TODAY)
    assert summary["lowered"] == 1
    assert summary["frozen"] == 1
    account.refresh_from_db()
    assert account.credit_limit_cents == 30_000
    assert account.limit_frozen is True
    assert automatic_changes(account) == [(100_000, 30_000)]

    # Idempotent.
    summary = limit_adjustment_run(today=TODAY)
    assert summary["lowered"] == summary["frozen"] == summary["raised"] == 0
    assert len(automatic_changes(account)) == 1


def test_paying_lifts_the_freeze_but_not_the_limit(account, post):
    post(account, "charge", 30_000, due_date=day(-3))
    limit_adjustment_run(today=TODAY)
    post(account, "payment", 30_000)
    summary = limit_adjustment_run(today=TODAY)
    assert summary["unfrozen"] == 1
    account.refresh_from_db()
    assert account.limit_frozen is False
    assert account.credit_limit_cents == 30_000


def test_dry_run_changes_nothing(account, busy_account, make_account, post):
    late = make_account(credit_limit_cents=50_000)
    post(late, "charge", 10_000, due_date=day(-1))
    summary = limit_adjustment_run(today=TODAY, dry_run=True)
    assert (summary["raised"], summary["lowered"], summary["frozen"]) == (1, 1, 1)
    assert not CreditLimitChange.objects.filter(source="automatic").exists()
    assert not CreditAccount.objects.filter(limit_frozen=True).exists()


def test_the_job_runs_through_the_registry(busy_account):
    assert execute_job("credit-limit-adjustment", trigger="manual")["raised"] == 1
    assert execute_job("credit-limit-adjustment", trigger="manual")["raised"] == 0
