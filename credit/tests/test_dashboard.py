"""The credit section of the team dashboard."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.selectors.accounts import credit_summary
from credit.selectors.dashboard import dashboard_section

pytestmark = pytest.mark.django_db


def past(days):
    return timezone.localdate() - datetime.timedelta(days=days)


@pytest.fixture
def ledger(team, make_account, post):
    """Three accounts: one current, one 45 days overdue, one suspended and paid off."""
    current = make_account(credit_limit_cents=100_000)
    post(current, "charge", 20_000, due_date=timezone.localdate() + datetime.timedelta(days=10))
    late = make_account(credit_limit_cents=50_000)
    post(late, "charge", 30_000, due_date=past(45))
    post(late, "payment", 10_000)
    make_account(credit_limit_cents=10_000, status="suspended")
    return current, late


def usd(data) -> dict:
    return next(row for row in data["currencies"] if row["currency"] == "usd")


def test_section_has_exposure_overdue_statuses_and_aging(team, ledger):
    data = dashboard_section(team=team)

    assert data["account_count"] == 3
    totals = usd(data)
    assert totals["total_limit_cents"] == 160_000
    assert totals["total_balance_cents"] == 40_000
    assert totals["exposure_percent"] == 25
    assert totals["overdue_balance_cents"] == 20_000
    assert {row["status"]: row["count"] for row in data["accounts_by_status"]} == {
        "active": 2,
        "suspended": 1,
        "defaulted": 0,
        "closed": 0,
    }
    assert totals["aging"].as_dict() == {"current": 20_000, "1_30": 0, "31_60": 20_000, "61_90": 0, "90_plus": 0}


def test_section_agrees_with_the_api_summary(team, ledger):
    data = dashboard_section(team=team)
    summary = credit_summary(team=team)
    assert usd(data)["total_limit_cents"] == summary["total_limit_cents"]
    assert usd(data)["total_balance_cents"] == summary["total_balance_cents"]
    assert usd(data)["overdue_balance_cents"] == summary["overdue_balance_cents"]
    api_rows = summary["totals_by_currency"]
    assert [{k: v for k, v in row.items() if k != "aging"} for row in data["currencies"]] == api_rows


def test_currencies_are_never_added_together(team, make_account, post):
    post(make_account(credit_limit_cents=100_000), "charge", 10_000)
    post(make_account(credit_limit_cents=50_000, currency="gbp"), "charge", 20_000, due_date=past(10))
    post(make_account(credit_limit_cents=80_000, currency="eur"), "charge", 30_000)
    data = dashboard_section(team=team)
    totals = {row["currency"]: row["total_balance_cents"] for row in data["currencies"]}
    assert totals == {"usd": 10_000, "gbp": 20_000, "eur": 30_000}
    gbp = next(row for row in data["currencies"] if row["currency"] == "gbp")
    assert gbp["overdue_balance_cents"] == 20_000
    assert gbp["aging"].as_dict()["1_30"] == 20_000


def test_closed_accounts_limits_are_not_counted(team, make_account):
    make_account(credit_limit_cents=100_000)
    closed = make_account(credit_limit_cents=900_000)
    make_account(customer=closed.customer, status="closed")
    totals = usd(dashboard_section(team=team))
    assert totals["total_limit_cents"] == 100_000
    assert totals["available_cents"] == 100_000


def test_section_runs_a_constant_number_of_queries(team, make_account, post):
    def count():
        with CaptureQueriesContext(connection) as queries:
            dashboard_section(team=team)
        return len(queries)

    post(make_account(credit_limit_cents=10_000), "charge", 1_000, due_date=past(5))
    few = count()
    for _ in range(5):
        post(make_account(credit_limit_cents=10_000, currency="eur"), "charge", 1_000, due_date=past(50))
    assert count() == few == 3


def test_an_empty_team_has_a_section_with_zeros(team):
    data = dashboard_section(team=team)
    assert data["account_count"] == 0
    assert data["currencies"] == []


@pytest.fixture
def only_credit_section(monkeypatch):
    """The dashboard page with the credit section alone (other apps' sections are theirs to test)."""
    from deelrx import views

    monkeypatch.setattr(views, "DASHBOARD_APPS", ("credit",))


@pytest.mark.usefixtures("only_credit_section")
def test_dashboard_page_renders_the_credit_section(client_as, viewer, team, ledger):
    html = client_as(viewer).get("/").content.decode()

    assert 'id="credit-dashboard-heading"' in html
    assert "$400.00" in html  # owed
    assert "25%" in html  # exposure
    assert "$200.00" in html  # overdue
    assert 'class="aging-31_60"' in html
    assert "?status=suspended" in html


@pytest.mark.usefixtures("only_credit_section")
def test_dashboard_shows_each_currency_under_its_own_sign(client_as, viewer, team, make_account, post):
    post(make_account(credit_limit_cents=100_000), "charge", 10_000)
    post(make_account(credit_limit_cents=50_000, currency="gbp"), "charge", 20_000)
    html = client_as(viewer).get("/").content.decode()
    assert re.search(r'id="credit-totals-usd".*?data-figure="balance">\$100\.00<', html, re.S)
    assert re.search(r'id="credit-totals-gbp".*?data-figure="balance">£200\.00<', html, re.S)
    assert "$300.00" not in html  # never the sum of dollars and pounds


@pytest.mark.usefixtures("only_credit_section")
def test_dashboard_of_a_team_without_accounts_invites_admins_to_open_one(client_as, admin_user, team):
    html = client_as(admin_user).get("/").content.decode()
    assert "No credit accounts yet." in html
    assert "/credit/accounts/new/" in html
