"""credit-limit-adjustment: raise good payers (policy %, capped), lower and freeze late ones, once a week."""

import datetime as dt

import pytest
from django.utils import timezone

from credit.models import CreditAccount, CreditLimitChange, CreditTeamPolicy, PaymentReminder
from credit.services.limits import limit_adjustment_run
from deelrx.jobs import execute_job


@pytest.fixture
def today() -> dt.date:
    # Per test, not at import: a session crossing midnight must not mix two days.
    return timezone.localdate()


@pytest.fixture
def day(today):
    """day(offset) → today + offset days."""

    def make(offset: int) -> dt.date:
        return today + dt.timedelta(days=offset)

    return make


def limit_of(account) -> int:
    return CreditAccount.objects.get(pk=account.pk).credit_limit_cents


def automatic_changes(account):
    return list(
        CreditLimitChange.objects.filter(account=account, source="automatic")
        .order_by("created_at", "id")
        .values_list("old_limit_cents", "new_limit_cents")
    )


@pytest.fixture
def busy_account(account, post, day):
    """Limit $1,000.00, balance $900.00 (90% in use), nothing due yet."""
    post(account, "charge", 90_000, due_date=day(20))
    return account


def test_a_good_payer_over_80_percent_gets_10_percent_more_once_a_week(busy_account, day, today):
    summary = limit_adjustment_run(today=today)
    assert summary["raised"] == 1
    assert limit_of(busy_account) == 110_000
    change = CreditLimitChange.objects.get(account=busy_account, source="automatic")
    assert change.changed_by is None
    assert "Automatic" in change.reason

    # Same week: nothing more.
    assert limit_adjustment_run(today=today)["raised"] == 0
    assert limit_of(busy_account) == 110_000

    # A week later, still above 80% (900/1100 = 82%): raised again.
    limit_adjustment_run(today=day(7))
    assert automatic_changes(busy_account) == [(100_000, 110_000), (110_000, 121_000)]


def test_at_or_below_80_percent_nothing_changes(account, post, today):
    post(account, "charge", 80_000)
    assert limit_adjustment_run(today=today)["raised"] == 0
    assert limit_of(account) == 100_000


def test_the_team_policy_sets_the_rate_and_the_cap(team, busy_account, post, day, today):
    CreditTeamPolicy.objects.create(team=team, auto_raise_bps=2_500, auto_limit_cap_cents=120_000)
    limit_adjustment_run(today=today)
    assert limit_of(busy_account) == 120_000  # +25% would be 125,000
    post(busy_account, "charge", 10_000)  # 100,000 of 120,000: still above 80%
    summary = limit_adjustment_run(today=day(7))
    assert summary["raised"] == 0
    assert summary["at_cap"] == 1
    assert len(automatic_changes(busy_account)) == 1


def test_the_default_cap_applies_without_a_policy(make_account, post, today):
    account = make_account(credit_limit_cents=950_000)
    post(account, "charge", 900_000)
    limit_adjustment_run(today=today)
    assert limit_of(account) == 1_000_000


def test_a_recent_overdue_reminder_blocks_the_raise(busy_account, post, day, today):
    fee = post(busy_account, "fee", 100, due_date=day(30))
    PaymentReminder.objects.create(transaction=fee, stage="overdue_w1", sent_at=timezone.now() - dt.timedelta(days=60))
    assert limit_adjustment_run(today=today)["raised"] == 0
    PaymentReminder.objects.update(sent_at=timezone.now() - dt.timedelta(days=200))
    assert limit_adjustment_run(today=today)["raised"] == 1


def test_suspended_and_frozen_accounts_are_not_raised(busy_account, today):
    CreditAccount.objects.filter(pk=busy_account.pk).update(status="suspended")
    assert limit_adjustment_run(today=today)["raised"] == 0
    CreditAccount.objects.filter(pk=busy_account.pk).update(status="active", limit_frozen=True)
    summary = limit_adjustment_run(today=today)
    assert summary["raised"] == 0
    # Frozen but nothing past due: the freeze is lifted; the raise waits for next week's run.
    assert summary["unfrozen"] == 1


def test_a_late_payer_is_lowered_to_the_balance_and_frozen(account, post, day, today):
    post(account, "charge", 30_000, due_date=day(-3))
    summary = limit_adjustment_run(today=today)
    assert summary["lowered"] == 1
    assert summary["frozen"] == 1
    account.refresh_from_db()
    assert account.credit_limit_cents == 30_000
    assert account.limit_frozen is True
    assert automatic_changes(account) == [(100_000, 30_000)]

    # Idempotent.
    summary = limit_adjustment_run(today=today)
    assert summary["lowered"] == summary["frozen"] == summary["raised"] == 0
    assert len(automatic_changes(account)) == 1


def test_paying_lifts_the_freeze_but_not_the_limit(account, post, day, today):
    post(account, "charge", 30_000, due_date=day(-3))
    limit_adjustment_run(today=today)
    post(account, "payment", 30_000)
    summary = limit_adjustment_run(today=today)
    assert summary["unfrozen"] == 1
    account.refresh_from_db()
    assert account.limit_frozen is False
    assert account.credit_limit_cents == 30_000


def test_dry_run_changes_nothing(account, busy_account, make_account, post, day, today):
    late = make_account(credit_limit_cents=50_000)
    post(late, "charge", 10_000, due_date=day(-1))
    summary = limit_adjustment_run(today=today, dry_run=True)
    assert (summary["raised"], summary["lowered"], summary["frozen"]) == (1, 1, 1)
    assert not CreditLimitChange.objects.filter(source="automatic").exists()
    assert not CreditAccount.objects.filter(limit_frozen=True).exists()


def test_the_job_runs_through_the_registry(busy_account):
    assert execute_job("credit-limit-adjustment", trigger="manual")["raised"] == 1
    assert execute_job("credit-limit-adjustment", trigger="manual")["raised"] == 0


@pytest.fixture
def patient_account(account, post, day):
    """Like busy_account, but the charge is due in 400 days: runs "as of" far-off days see nothing late."""
    post(account, "charge", 90_000, due_date=day(400))
    return account


def test_the_cooldown_is_counted_from_today_not_the_clock(patient_account, day):
    """As of D, D again, D+3 (cooldown), D+7 (allowed): created_at is now for every run."""
    d = day(30)  # far from the real date, so the clock cannot be what decides
    assert limit_adjustment_run(today=d)["raised"] == 1
    assert limit_adjustment_run(today=d)["raised"] == 0  # same day: idempotent
    assert limit_adjustment_run(today=d + dt.timedelta(days=3))["raised"] == 0  # cooldown
    assert limit_adjustment_run(today=d + dt.timedelta(days=6))["raised"] == 0  # last cooldown day
    assert limit_of(patient_account) == 110_000
    summary = limit_adjustment_run(today=d + dt.timedelta(days=7))  # 900/1100 = 82%: still eligible
    assert summary["raised"] == 1
    assert automatic_changes(patient_account) == [(100_000, 110_000), (110_000, 121_000)]
    assert list(
        CreditLimitChange.objects.filter(account=patient_account).order_by("id").values_list("effective_on", flat=True)
    ) == [d, d + dt.timedelta(days=7)]
    assert limit_adjustment_run(today=d + dt.timedelta(days=7))["raised"] == 0


def test_consecutive_daily_runs_raise_once_a_week(patient_account, day):
    raised = [limit_adjustment_run(today=day(offset))["raised"] for offset in range(14)]
    assert raised == [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]


def test_an_old_change_does_not_block_a_run_as_of_a_later_day(patient_account, day):
    """A run for D+7 right after the run for D (same wall-clock minute) may raise."""
    limit_adjustment_run(today=day(0))
    assert limit_adjustment_run(today=day(7))["raised"] == 1


def test_a_change_made_for_a_later_day_blocks_a_backfill(patient_account, day):
    limit_adjustment_run(today=day(10))
    assert limit_adjustment_run(today=day(3))["raised"] == 0  # no second raise for an earlier day
    assert len(automatic_changes(patient_account)) == 1


def test_a_change_without_effective_on_falls_back_to_its_creation_date(patient_account, today, day):
    limit_adjustment_run(today=today)
    CreditLimitChange.objects.update(effective_on=None)  # as rows written before the field existed
    assert limit_adjustment_run(today=day(3))["raised"] == 0
    assert limit_adjustment_run(today=day(7))["raised"] == 1


def test_the_late_reminder_lookback_is_counted_from_today(patient_account, post, day):
    fee = post(patient_account, "fee", 100, due_date=day(400))
    PaymentReminder.objects.create(transaction=fee, stage="overdue_w1", sent_at=timezone.now())
    # Sent today: blocks a run as of today and as of 183 days later (first day of the window counts) ...
    assert limit_adjustment_run(today=day(0), dry_run=True)["raised"] == 0
    assert limit_adjustment_run(today=day(183), dry_run=True)["raised"] == 0
    # ... but no longer as of 184 days later, although by the clock it was sent just now.
    assert limit_adjustment_run(today=day(184), dry_run=True)["raised"] == 1


def test_the_late_history_lookback_is_counted_from_today(patient_account, day):
    CreditAccount.objects.filter(pk=patient_account.pk).update(last_overdue_on=day(0))
    assert limit_adjustment_run(today=day(183), dry_run=True)["raised"] == 0
    assert limit_adjustment_run(today=day(184), dry_run=True)["raised"] == 1
