"""The reports-snapshot job: backfill equals daily runs, today's rebuild equals the
maintained figures, idempotence, the job registry."""

import datetime as dt

import pytest
from django.core.management import call_command

from credit.figures import DAY_FIGURES, figures_now, figures_on_day
from credit.services import accounts, ledger
from deelrx.audit.services import record_event
from deelrx.jobs import JOB_SPECS, load_jobs
from reports.models import ActivityDaily, CreditDaily
from reports.services.snapshots import snapshot_run

pytestmark = pytest.mark.django_db
D1 = dt.date(2026, 3, 1)


def _day(n: int) -> dt.date:
    return D1 + dt.timedelta(days=n)


def _rows():
    fields = ["team_id", "day", "currency", *DAY_FIGURES]
    return sorted(CreditDaily.objects.values_list(*fields))


def _history(clock, open_account, book, admin_user, member):
    """Six days of a two-currency ledger, with a snapshot run at 00:20 after each day."""
    clock.day(_day(-40))
    usd = open_account(limit=100_000, name="Ada")
    eur = open_account(limit=50_000, currency="eur", name="Grace")
    book(usd, "charge", 10_000, due_date=_day(-10))  # 10 days overdue at D1
    book(usd, "charge", 5_000, due_date=_day(-45))  # 31-60 at D1 (backdated debit)
    book(eur, "charge", 7_000)  # undated: never due
    for n in range(6):
        clock.day(_day(n), 10)
        if n == 0:
            pending = book(usd, "charge", 2_000, status="pending", due_date=_day(20))
            failing = book(usd, "charge", 900, status="pending")
        if n == 1:
            book(usd, "payment", 4_000)
            book(eur, "fee", 300, due_date=_day(2))
            ledger.transaction_set_status(transaction=failing, status="failed", user=member)
        if n == 2:
            ledger.transaction_set_status(transaction=pending, status="completed", user=member)
            book(usd, "adjustment", -500)
            accounts.account_set_status(account=eur, status="suspended", user=admin_user, reason="late")
        if n == 3:
            accounts.credit_limit_change(account=usd, new_limit_cents=80_000, user=admin_user, reason="lower")
            record_event(team=usd.team, user=member, event_type="credit.account.updated", data={"account_id": usd.pk})
        if n == 4:
            book(eur, "payment", 7_300)
            book(usd, "adjustment", 1_200, due_date=_day(1))
        clock.day(_day(n + 1), 0, 20)
        snapshot_run(today=_day(n + 1))
    return usd, eur


def test_backfill_writes_what_the_daily_runs_wrote(clock, open_account, book, admin_user, member):
    _history(clock, open_account, book, admin_user, member)
    daily = _rows()
    activity = sorted(ActivityDaily.objects.values_list("team_id", "day", "event_type", "user_id", "count"))
    assert {row[1] for row in daily} >= {_day(n) for n in range(6)}
    CreditDaily.objects.all().delete()
    ActivityDaily.objects.all().delete()
    clock.day(_day(9), 3)  # later: more time passes, nothing is posted
    snapshot_run(today=_day(6), since=_day(-40))
    assert _rows() == daily
    assert sorted(ActivityDaily.objects.values_list("team_id", "day", "event_type", "user_id", "count")) == activity


def test_the_day_figures_match_hand_computed_ones(clock, open_account, book, admin_user, member):
    _history(clock, open_account, book, admin_user, member)
    usd = CreditDaily.objects.get(day=_day(1), currency="usd")
    # 10,000 + 5,000 completed, 4,000 paid on day 1: the payment settles the earliest-due (5,000 due D1-45) first
    assert usd.balance_cents == 11_000
    assert usd.pending_cents == 2_000  # the failing 900 left pending on day 1
    assert usd.overdue_cents == 11_000
    assert (usd.aging_1_30_cents, usd.aging_31_60_cents) == (10_000, 1_000)
    assert usd.payments_cents == 4_000
    assert usd.charges_cents == 0
    assert usd.limit_cents == 100_000
    eur = CreditDaily.objects.get(day=_day(2), currency="eur")
    assert (eur.accounts_suspended, eur.accounts_active) == (1, 0)
    assert CreditDaily.objects.get(day=_day(1), currency="eur").accounts_active == 1
    assert CreditDaily.objects.get(day=_day(3), currency="usd").limit_cents == 80_000
    assert CreditDaily.objects.get(day=_day(2), currency="usd").limit_cents == 100_000


def test_todays_rebuild_equals_the_maintained_figures(clock, open_account, book, admin_user, member):
    usd, _ = _history(clock, open_account, book, admin_user, member)
    clock.day(_day(6), 15)
    book(usd, "charge", 3_000, due_date=_day(30))
    book(usd, "payment", 2_500)
    rebuilt = figures_on_day(_day(6), team_ids=[usd.team_id])
    live = figures_now(team=usd.team, today=_day(6))
    assert {c: f.values for (_, c), f in rebuilt.items()} == {c: f.values for c, f in live.items()}


def test_a_second_run_for_the_same_day_writes_the_same_rows(clock, open_account, book):
    clock.day(D1)
    account = open_account()
    book(account, "charge", 1_000, due_date=D1)
    clock.day(_day(1), 1)
    call_command("run_job", "reports-snapshot", "--since", D1.isoformat())
    first = _rows()
    call_command("run_job", "reports-snapshot", "--since", D1.isoformat())
    assert _rows() == first
    assert len(first) == 1


def test_the_job_is_registered_daily():
    assert JOB_SPECS["reports-snapshot"].schedule == {"minute": "20", "hour": "0"}
    assert "since" in load_jobs()["reports-snapshot"].options
