"""credit-overdue-check: suspend past due + grace, default at 90 days, tell the team's admins once."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credit.models import CreditAccount
from credit.services.overdue import overdue_check, unpaid_debits
from deelrx.audit.models import ActivityEvent
from deelrx.jobs import execute_job

TODAY = dt.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def fast_mail(settings):
    settings.EMAILS_PER_SECOND = 0
    settings.EMAIL_RETRY_DELAY_SECONDS = 0


def day(offset: int) -> dt.date:
    return TODAY + dt.timedelta(days=offset)


@pytest.fixture
def admins(owner, admin_user, member):
    """The team's owner and admin get the notice; a member does not."""
    emails = sorted([owner.email, admin_user.email])
    assert all(emails)
    return emails


def status_of(account) -> str:
    return CreditAccount.objects.get(pk=account.pk).status


def test_past_due_plus_grace_suspends_and_notifies_admins_once(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-31), description="Old order")
    summary = overdue_check(today=TODAY)
    assert summary["suspended"] == 1
    assert summary["emails_sent"] == 1
    assert status_of(account) == "suspended"
    (message,) = mail.outbox
    assert sorted(message.to) == admins
    assert "Ada Lovelace" in message.body
    assert "active -> suspended" in message.body
    assert "31 days past due" in message.body
    assert message.alternatives[0][1] == "text/html"
    event = ActivityEvent.objects.get(event_type="credit.account.status_changed")
    assert event.event_data["new"] == "suspended"
    assert event.user is None

    # Idempotent: a second run changes nothing and sends nothing.
    summary = overdue_check(today=TODAY)
    assert summary["suspended"] == summary["defaulted"] == summary["emails_sent"] == 0
    assert len(mail.outbox) == 1


def test_within_grace_nothing_happens(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-30))
    assert overdue_check(today=TODAY)["suspended"] == 0
    assert status_of(account) == "active"
    assert mail.outbox == []


def test_grace_is_per_account(admins, account, post):
    CreditAccount.objects.filter(pk=account.pk).update(grace_period_days=5)
    post(account, "charge", 4_000, due_date=day(-6))
    overdue_check(today=TODAY)
    assert status_of(account) == "suspended"


def test_ninety_days_past_due_defaults_a_suspended_account(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-89))
    overdue_check(today=TODAY)
    assert status_of(account) == "suspended"
    summary = overdue_check(today=day(1))
    assert summary["defaulted"] == 1
    assert status_of(account) == "defaulted"
    assert "suspended -> defaulted" in mail.outbox[-1].body
    assert len(mail.outbox) == 2
    assert overdue_check(today=day(30))["defaulted"] == 0
    assert len(mail.outbox) == 2


def test_an_active_account_far_past_due_goes_straight_to_defaulted(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-120))
    assert overdue_check(today=TODAY)["defaulted"] == 1
    assert status_of(account) == "defaulted"


def test_paid_charges_do_not_count(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-60))
    post(account, "charge", 1_000, due_date=day(10))
    post(account, "payment", 4_000)
    # The balance (1,000) is the charge that is not due yet.
    assert overdue_check(today=TODAY)["overdue_accounts"] == 0
    assert status_of(account) == "active"


def test_a_partial_payment_leaves_the_account_overdue(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-60))
    post(account, "payment", 3_999)
    overdue_check(today=TODAY)
    assert status_of(account) == "suspended"
    assert "$0.01" in mail.outbox[0].body  # the pages' money format (deelrx.formats)


def test_dry_run_changes_and_sends_nothing(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-40))
    summary = overdue_check(today=TODAY, dry_run=True)
    assert summary["suspended"] == 1
    assert status_of(account) == "active"
    assert mail.outbox == []


def test_other_teams_admins_get_a_notice_of_their_own_accounts_only(admins, account, other_account, post, outsider):
    post(other_account, "charge", 4_000, due_date=day(-40), user=outsider)
    summary = overdue_check(today=TODAY)
    assert summary["suspended"] == 1
    # The other team's admins are told about their own account only.
    (message,) = mail.outbox
    assert message.to == [outsider.email]
    assert status_of(account) == "active"


def test_one_email_per_team_listing_every_changed_account(admins, account, make_account, post):
    second = make_account(credit_limit_cents=50_000)
    post(account, "charge", 1_000, due_date=day(-40))
    post(second, "charge", 1_000, due_date=day(-40))
    overdue_check(today=TODAY)
    (message,) = mail.outbox
    assert "2 credit accounts" in message.subject


def test_unpaid_debits_is_one_query(account, make_account, post):
    for _ in range(3):
        other = make_account(credit_limit_cents=50_000)
        post(other, "charge", 1_000, due_date=day(-1))
        post(other, "fee", 100)
    with CaptureQueriesContext(connection) as queries:
        rows = unpaid_debits(account_statuses=["active"])
    assert len(queries) == 1
    assert len(rows) == 6
    assert sum(row.unpaid_cents for row in rows) == 3_300


def test_the_job_runs_through_the_registry(admins, account, post):
    post(account, "charge", 4_000, due_date=day(-40))
    summary = execute_job("credit-overdue-check", trigger="manual", today=TODAY.isoformat())
    assert summary["suspended"] == 1
    assert execute_job("credit-overdue-check", trigger="manual", dry_run=True)["suspended"] == 0


def test_the_teams_managers_get_one_notification_per_run_over_batches(
    admins,
    owner,
    account,
    make_account,
    other_account,
    post,
    outsider,
    monkeypatch,
    django_capture_on_commit_callbacks,
    settings,
):
    from credit.services import overdue
    from notifications.models import Notification

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    monkeypatch.setattr(overdue, "BATCH_SIZE", 2)  # the team's five accounts in three batches
    accounts = [account, *(make_account(credit_limit_cents=50_000) for _ in range(4))]
    for n, each in enumerate(accounts):
        post(each, "charge", 1_000, due_date=day(-120 if n == 0 else -40))
    post(other_account, "charge", 4_000, due_date=day(-40), user=outsider)
    with django_capture_on_commit_callbacks(execute=True):
        assert overdue_check(today=TODAY)["suspended"] == 5

    events = ActivityEvent.objects.filter(event_type="credit.account.overdue_found").order_by("team_id")
    assert [(e.team_id, e.event_data) for e in events] == [
        (account.team_id, {"count": 5, "suspended": 4, "defaulted": 1}),
        (other_account.team_id, {"count": 1, "suspended": 1, "defaulted": 0, "account_id": str(other_account.pk)}),
    ]
    mine = Notification.objects.filter(team=account.team)
    assert sorted(mine.values_list("recipient__username", flat=True)) == ["adam", "alice"]  # one each, not five
    assert {n.body for n in mine} == {
        "The overdue check found that 5 credit accounts became overdue: 4 suspended, 1 defaulted"
    }
    assert {n.url for n in mine} == {"/credit/?status=suspended"}
    theirs = Notification.objects.get(team=other_account.team)
    assert theirs.recipient == outsider
    assert theirs.url == f"/credit/accounts/{other_account.pk}/"

    # A second run moves nothing and says nothing; a dry run records nothing either.
    overdue_check(today=TODAY)
    overdue_check(today=day(100), dry_run=True)
    assert ActivityEvent.objects.filter(event_type="credit.account.overdue_found").count() == 2
