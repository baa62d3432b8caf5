import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.models import CreditAccount, CreditLimitChange
from credit.selectors.accounts import account_list
from credit.tests.factories import CreditAccountFactory
from deelrx.audit.models import ActivityEvent
from deelrx.errors import ValidationFailed
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def url(team):
    return f"/api/teams/{team.id}/credit/"


def test_overview_has_summary_and_accounts(api_as, viewer, team, account, post, make_account):
    post(account, "charge", 30_000, due_date=timezone.localdate() - dt.timedelta(days=3))
    post(account, "charge", 10_000, due_date=timezone.localdate() + dt.timedelta(days=3))
    post(account, "payment", 5_000)
    suspended = make_account(credit_limit_cents=20_000, status="suspended")
    body = api_as(viewer).get(url(team)).json()
    assert body["summary"] == {
        "total_limit_cents": 120_000,
        "total_balance_cents": 35_000,
        "total_pending_cents": 0,
        "overdue_balance_cents": 25_000,
        "accounts_by_status": {"active": 1, "suspended": 1, "defaulted": 0, "closed": 0},
        "totals_by_currency": [
            {
                "currency": "usd",
                "account_count": 2,
                "total_limit_cents": 120_000,
                "total_balance_cents": 35_000,
                "total_pending_cents": 0,
                "available_cents": 85_000,
                "exposure_percent": 29,
                "overdue_balance_cents": 25_000,
            }
        ],
    }
    assert {row["id"] for row in body["results"]} == {str(account.pk), str(suspended.pk)}
    assert body["next"] is None
    row = next(r for r in body["results"] if r["id"] == str(account.pk))
    assert row["credit_id"] == str(account.pk)
    assert row["customer_id"] == str(account.customer_id)
    assert row["team_id"] == team.id
    assert row["customer_name"] == "Ada Lovelace"
    assert (row["balance_cents"], row["available_cents"], row["currency"]) == (35_000, 65_000, "usd")


def test_summary_totals_per_currency_leave_closed_accounts_limits_out(api_as, viewer, team, post, make_account):
    usd = make_account(credit_limit_cents=100_000)
    post(usd, "charge", 10_000)
    eur = make_account(credit_limit_cents=50_000, currency="eur")
    post(eur, "charge", 20_000)
    closed = make_account(credit_limit_cents=70_000)
    make_account(customer=closed.customer, status="closed")
    summary = api_as(viewer).get(url(team)).json()["summary"]
    assert summary["total_limit_cents"] == 150_000  # the closed account's 70,000 extend no credit
    by_currency = {row["currency"]: row for row in summary["totals_by_currency"]}
    assert by_currency["usd"]["total_limit_cents"] == 100_000
    assert by_currency["usd"]["total_balance_cents"] == 10_000
    assert by_currency["usd"]["account_count"] == 2
    assert by_currency["eur"]["total_balance_cents"] == 20_000
    assert by_currency["eur"]["available_cents"] == 30_000


def test_overdue_is_never_negative_when_overpaid(api_as, viewer, team, account, post):
    post(account, "charge", 1_000, due_date=timezone.localdate() - dt.timedelta(days=40))
    post(account, "payment", 3_000)
    post(account, "adjustment", -500)
    summary = api_as(viewer).get(url(team)).json()["summary"]
    assert summary["overdue_balance_cents"] == 0
    assert summary["total_balance_cents"] == -2_500


def test_empty_team_summary(api_as, viewer, team):
    body = api_as(viewer).get(url(team)).json()
    assert body["summary"]["total_limit_cents"] == 0
    assert body["results"] == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "suspended"}, ["Turing"]),
        ({"status": "active"}, ["Hopper", "Lovelace"]),
        ({"q": "hop"}, ["Hopper"]),
        ({"q": "turing@"}, ["Turing"]),
        ({}, ["Hopper", "Lovelace", "Turing"]),
    ],
)
def test_account_filters(api_as, viewer, team, account, make_account, params, expected):
    make_account(customer=CustomerFactory(team=team, first_name="Grace", last_name="Hopper"))
    make_account(
        customer=CustomerFactory(team=team, first_name="Alan", last_name="Turing", email="turing@example.com"),
        status="suspended",
    )
    body = api_as(viewer).get(url(team), params).json()
    names = sorted(row["customer_name"].split()[-1] for row in body["results"])
    assert names == expected


def test_invalid_status_filter_is_400(api_as, viewer, team):
    response = api_as(viewer).get(url(team), {"status": "frozen"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "status" in response.json()["error"]["details"]


def test_accounts_are_paginated(api_as, viewer, team):
    for _ in range(3):
        CreditAccountFactory(team=team)
    client = api_as(viewer)
    first = client.get(url(team), {"page_size": 2}).json()
    assert len(first["results"]) == 2
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_overview_query_count_is_constant(api_as, viewer, team, post):
    client = api_as(viewer)

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url(team), {"page_size": page_size}).status_code == 200
        return len(ctx.captured_queries)

    for _ in range(6):
        account = CreditAccountFactory(team=team)
        post(account, "charge", 100)
    assert count(2) == count(6)


def test_customer_id_returns_account_with_recent_transactions(api_as, viewer, team, account, post):
    for n in range(12):
        post(account, "charge", 100 + n)
    client = api_as(viewer)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get(url(team), {"customer_id": str(account.customer_id)}).json()
    assert body["id"] == str(account.pk)
    assert body["balance_cents"] == sum(100 + n for n in range(12))
    assert [t["amount_cents"] for t in body["recent_transactions"]] == [111 - n for n in range(10)]
    assert body["recent_transactions"][0]["customer_id"] == str(account.customer_id)
    assert len(ctx.captured_queries) <= 3


@pytest.mark.parametrize("customer_id", ["not-a-uuid", "00000000-0000-4000-8000-000000000001"])
def test_unknown_customer_id_is_404(api_as, viewer, team, customer_id):
    response = api_as(viewer).get(url(team), {"customer_id": customer_id})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_other_teams_customer_id_is_404(api_as, viewer, team, other_account):
    response = api_as(viewer).get(url(team), {"customer_id": str(other_account.customer_id)})
    assert response.status_code == 404


def test_customer_without_account_is_404(api_as, viewer, team, customer):
    assert api_as(viewer).get(url(team), {"customer_id": str(customer.pk)}).status_code == 404


# --- PUT ---------------------------------------------------------------------------
def test_put_creates_account(api_as, admin_user, team, customer):
    response = api_as(admin_user).put(
        url(team),
        {"customer_id": str(customer.pk), "credit_limit_cents": 50_000, "grace_period_days": 14, "reason": "new"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["credit_limit_cents"], body["grace_period_days"], body["status"]) == (50_000, 14, "active")
    assert body["customer_id"] == str(customer.pk)
    change = CreditLimitChange.objects.get()
    assert (change.changed_by, change.reason) == (admin_user, "new")


def test_put_updates_account(api_as, owner, team, account):
    response = api_as(owner).put(
        url(team),
        {
            "customer_id": str(account.customer_id),
            "credit_limit_cents": 20_000,
            "status": "suspended",
            "interest_rate_bps": 250,
            "currency": "EUR",
            "reason": "late payments",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    account.refresh_from_db()
    assert (account.credit_limit_cents, account.status, account.interest_rate_bps, account.currency) == (
        20_000,
        "suspended",
        250,
        "eur",
    )
    events = set(ActivityEvent.objects.values_list("event_type", flat=True))
    assert {"credit.limit.changed", "credit.account.status_changed", "credit.account.updated"} <= events


def test_put_closing_with_balance_is_422(api_as, admin_user, team, account, post):
    post(account, "charge", 100)
    response = api_as(admin_user).put(url(team), {"customer_id": str(account.customer_id), "status": "closed"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "balance_not_zero"


def test_put_reopening_closed_account_is_409(api_as, admin_user, team, account):
    client = api_as(admin_user)
    assert client.put(url(team), {"customer_id": str(account.customer_id), "status": "closed"}).status_code == 200
    response = client.put(url(team), {"customer_id": str(account.customer_id), "status": "active"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


def test_put_is_atomic(api_as, admin_user, team, account, post):
    post(account, "charge", 100)
    response = api_as(admin_user).put(
        url(team), {"customer_id": str(account.customer_id), "credit_limit_cents": 5, "status": "closed"}
    )
    assert response.status_code == 422
    account.refresh_from_db()
    assert account.credit_limit_cents == 100_000  # nothing half-saved


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"customer_id": "nope"},
        {"credit_limit_cents": -1},
        {"status": "frozen"},
        {"currency": "euro"},
        {"grace_period_days": "x"},
    ],
)
def test_put_validation_errors(api_as, admin_user, team, customer, body):
    payload = {"customer_id": str(customer.pk), **body} if body and "customer_id" not in body else body
    response = api_as(admin_user).put(url(team), payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]


def test_put_other_teams_customer_is_404(api_as, admin_user, team, other_team):
    response = api_as(admin_user).put(url(team), {"customer_id": str(CustomerFactory(team=other_team).pk)})
    assert response.status_code == 404
    assert not CreditAccount.objects.exists()


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_put_needs_admin(request, api_as, team, customer, role):
    user = request.getfixturevalue(role)
    response = api_as(user).put(url(team), {"customer_id": str(customer.pk), "credit_limit_cents": 5})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_account_list_selector_filters_by_customer(team, account, make_account):
    make_account()
    assert list(account_list(team=team, filters={"customer_id": str(account.customer_id)})) == [account]
    with pytest.raises(ValidationFailed):
        list(account_list(team=team, filters={"customer_id": "nope"}))
