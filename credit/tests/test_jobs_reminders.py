"""credit-payment-reminder: once per stage, unpaid charges only, one email per customer per run."""

import datetime as dt

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.models import CreditAccount, PaymentReminder
from credit.services.reminders import payment_reminders_send, reminder_stage
from deelrx.jobs import execute_job
from deelrx.jobs.models import JobRun
from deelrx.tenancy.tests.factories import CustomerFactory

TODAY = dt.date(2026, 3, 2)


@pytest.fixture(autouse=True)
def fast_mail(settings):
    settings.EMAILS_PER_SECOND = 0
    settings.EMAIL_RETRY_DELAY_SECONDS = 0


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


def run(offset: int = 0, **kwargs):
    return payment_reminders_send(today=day(offset), **kwargs)


@pytest.mark.parametrize(
    ("days_until_due", "stage"),
    [
        (8, None),
        (7, "due_in_7"),
        (2, "due_in_7"),
        (1, "due_in_1"),
        (0, "due_today"),
        (-1, None),
        (-6, None),
        (-7, "overdue_w1"),
        (-13, "overdue_w1"),
        (-14, "overdue_w2"),
        (-70, "overdue_w10"),
    ],
)
def test_reminder_stages(days_until_due, stage):
    assert reminder_stage(due_date=day(days_until_due), today=TODAY) == stage


def test_each_stage_is_sent_once(account, post):
    post(account, "charge", 12_345, due_date=day(7), description="March order")
    summary = run(0)
    assert summary["reminders"] == 1
    assert summary["by_stage"] == {"due_in_7": 1}
    assert summary["emails_sent"] == 1
    (message,) = mail.outbox
    assert message.to == ["ada@example.com"]
    assert "Acme Pharmacy" in message.subject
    assert "March order" in message.body
    assert "$123.45" in message.body
    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert "March order" in html

    # Second run the same day, and the next day (still "due soon"): nothing new.
    assert run(0)["reminders"] == 0
    assert run(1)["reminders"] == 0
    assert len(mail.outbox) == 1

    for offset, stage in [(6, "due_in_1"), (7, "due_today"), (14, "overdue_w1"), (21, "overdue_w2")]:
        assert run(offset)["by_stage"] == {stage: 1}
        assert run(offset)["reminders"] == 0
    assert len(mail.outbox) == 5
    assert "Overdue" in mail.outbox[-1].subject
    assert set(PaymentReminder.objects.values_list("stage", flat=True)) == {
        "due_in_7",
        "due_in_1",
        "due_today",
        "overdue_w1",
        "overdue_w2",
    }


def test_paid_charges_are_not_reminded_and_payments_settle_the_earliest_due_first(account, post):
    first = post(account, "charge", 3_000, due_date=day(1), description="First")
    post(account, "charge", 2_000, due_date=day(1), description="Second")
    post(account, "payment", 3_000)
    run(0)
    (message,) = mail.outbox
    assert "Second" in message.body
    assert "First" not in message.body
    assert not PaymentReminder.objects.filter(transaction=first).exists()


def test_a_partly_paid_charge_is_reminded_of_the_unpaid_part(account, post):
    post(account, "charge", 5_000, due_date=day(0), description="Big order")
    post(account, "payment", 1_500)
    run(0)
    assert "$35.00" in mail.outbox[0].body


def test_fully_paid_account_gets_nothing(account, post):
    post(account, "charge", 5_000, due_date=day(0))
    post(account, "payment", 5_000)
    assert run(0)["reminders"] == 0
    assert mail.outbox == []


def test_one_email_per_customer_listing_every_item(account, post):
    post(account, "charge", 1_000, due_date=day(0), description="Order A")
    post(account, "fee", 500, due_date=day(-7), description="Late fee")
    summary = run(0)
    assert summary["reminders"] == 2
    assert summary["customers"] == 1
    (message,) = mail.outbox
    assert "Order A" in message.body
    assert "Late fee" in message.body
    assert "Overdue" in message.subject


def test_dry_run_sends_and_records_nothing(account, post):
    post(account, "charge", 1_000, due_date=day(0))
    summary = run(0, dry_run=True)
    assert summary["reminders"] == 1
    assert summary["dry_run"] is True
    assert mail.outbox == []
    assert not PaymentReminder.objects.exists()


def test_no_email_address_defaulted_or_pending_means_no_reminder(team, account, post, make_account):
    post(account, "charge", 1_000, due_date=day(0), status="pending")
    no_email = make_account(customer=CustomerFactory(team=team, email=""), credit_limit_cents=10_000)
    post(no_email, "charge", 1_000, due_date=day(0))
    defaulted = make_account(credit_limit_cents=10_000)
    post(defaulted, "charge", 1_000, due_date=day(-14))
    CreditAccount.objects.filter(pk=defaulted.pk).update(status=CreditAccount.Status.DEFAULTED)
    assert run(0)["reminders"] == 0
    assert mail.outbox == []


def test_suspended_accounts_are_still_reminded(account, post):
    post(account, "charge", 1_000, due_date=day(-7))
    CreditAccount.objects.filter(pk=account.pk).update(status=CreditAccount.Status.SUSPENDED)
    assert run(0)["emails_sent"] == 1


def test_a_failed_send_is_retried_by_the_next_run(account, post, monkeypatch):
    post(account, "charge", 1_000, due_date=day(0))
    tries = []

    def broken(self, fail_silently=False):
        tries.append(1)
        raise ConnectionError("smtp down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", broken)
    summary = run(0)
    assert summary["emails_failed"] == 1
    assert len(tries) == 3  # retried twice with back-off within the run
    assert not PaymentReminder.objects.exists()
    monkeypatch.undo()
    assert run(0)["emails_sent"] == 1
    assert len(mail.outbox) == 1


def test_the_job_runs_through_the_registry_and_is_recorded(account, post):
    post(account, "charge", 1_000, due_date=timezone.localdate())
    summary = execute_job("credit-payment-reminder", trigger="manual")
    assert summary["emails_sent"] == 1
    summary = execute_job("credit-payment-reminder", trigger="manual", today=timezone.localdate().isoformat())
    assert summary["reminders"] == 0
    assert JobRun.objects.filter(job_name="credit-payment-reminder", status="succeeded").count() == 2


def test_queries_do_not_grow_with_the_number_of_customers(team, make_account, post):
    def customers(n):
        for _ in range(n):
            account = make_account(credit_limit_cents=10_000)
            post(account, "charge", 1_000, due_date=day(0))
            post(account, "fee", 100, due_date=day(-7))

    customers(2)
    with CaptureQueriesContext(connection) as small:
        assert run(0)["emails_sent"] == 2
    customers(8)
    with CaptureQueriesContext(connection) as large:
        assert run(0)["emails_sent"] == 8
    assert len(large) == len(small)


def test_a_send_that_fails_once_is_retried_in_the_run(account, post, monkeypatch):
    post(account, "charge", 1_000, due_date=day(0))
    real_send = EmailMultiAlternatives.send
    failures = [ConnectionError("blip")]

    def flaky(self, fail_silently=False):
        if failures:
            raise failures.pop()
        return real_send(self, fail_silently)

    monkeypatch.setattr(EmailMultiAlternatives, "send", flaky)
    assert run(0)["emails_sent"] == 1
    assert len(mail.outbox) == 1


def test_emails_are_paced(settings, make_account, post, monkeypatch):
    settings.EMAILS_PER_SECOND = 2
    for _ in range(3):
        post(make_account(credit_limit_cents=10_000), "charge", 1_000, due_date=day(0))
    sleeps = []
    monkeypatch.setattr("deelrx.email.time.sleep", sleeps.append)
    assert run(0)["emails_sent"] == 3
    # No wait before the first email; about half a second before each next one.
    assert len(sleeps) == 2
    assert all(0.4 < s <= 0.5 for s in sleeps)
