"""The credit jobs walk accounts per team in batches, one transaction each: a
run that dies half-way (kill -9, a lost database) leaves whole batches done
and nothing half-done, and the next run finishes the work without doing any
of it twice."""

import datetime as dt

import pytest
from django.core import mail

from credit.models import CreditAccount, CreditLimitChange, PaymentReminder
from credit.services import limits, overdue, reminders
from credit.services.ledger import verify_ledger
from deelrx.audit.models import ActivityEvent

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def small_batches(settings, monkeypatch):
    settings.EMAILS_PER_SECOND = 0
    monkeypatch.setattr(overdue, "BATCH_SIZE", 2)


@pytest.fixture
def late_accounts(owner, admin_user, make_account, post):
    accounts = []
    for _ in range(5):
        account = make_account(credit_limit_cents=50_000)
        post(account, "charge", 40_000, due_date=TODAY - dt.timedelta(days=40))
        accounts.append(account)
    return accounts


def crash_on_second_batch(monkeypatch, module, name):
    real = getattr(module, name)
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(module, name, flaky)


def test_overdue_check_resumes_after_a_crash_without_doing_anything_twice(late_accounts, monkeypatch):
    crash_on_second_batch(monkeypatch, overdue, "_overdue_batch")
    with pytest.raises(ConnectionError):
        overdue.overdue_check(today=TODAY)
    # The first batch (2 accounts) is done and told; the second rolled back whole.
    assert CreditAccount.objects.filter(status="suspended").count() == 2
    assert len(mail.outbox) == 1
    monkeypatch.undo()
    monkeypatch.setattr(overdue, "BATCH_SIZE", 2)
    summary = overdue.overdue_check(today=TODAY)
    assert summary["suspended"] == 3
    assert CreditAccount.objects.filter(status="suspended").count() == 5
    assert ActivityEvent.objects.filter(event_type="credit.account.status_changed").count() == 5
    assert overdue.overdue_check(today=TODAY)["suspended"] == 0
    assert verify_ledger() == []


def test_limit_adjustment_resumes_after_a_crash(late_accounts, monkeypatch):
    crash_on_second_batch(monkeypatch, limits, "_late_batch")
    with pytest.raises(ConnectionError):
        limits.limit_adjustment_run(today=TODAY)
    assert CreditAccount.objects.filter(limit_frozen=True).count() == 2
    monkeypatch.undo()
    monkeypatch.setattr(overdue, "BATCH_SIZE", 2)
    assert limits.limit_adjustment_run(today=TODAY)["frozen"] == 3
    assert CreditLimitChange.objects.count() == 5 + 5  # the initial limits, then one lowering each
    assert limits.limit_adjustment_run(today=TODAY)["frozen"] == 0


def test_reminders_in_batches_send_each_customer_one_email(make_account, post):
    for _ in range(5):
        account = make_account(credit_limit_cents=50_000)
        post(account, "charge", 1_000, due_date=TODAY)
        post(account, "fee", 100, due_date=TODAY - dt.timedelta(days=7))
    summary = reminders.payment_reminders_send(today=TODAY)
    assert summary["customers"] == 5
    assert summary["reminders"] == 10
    assert summary["emails_sent"] == 5
    assert len({tuple(m.to) for m in mail.outbox}) == 5
    assert PaymentReminder.objects.count() == 10
    assert reminders.payment_reminders_send(today=TODAY)["reminders"] == 0
