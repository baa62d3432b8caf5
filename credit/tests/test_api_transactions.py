import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.models import CreditTransaction
from credit.tests.factories import CreditAccountFactory, CreditTransactionFactory
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TX_FIELDS = {
    "id",
    "team_id",
    "credit_id",
    "customer_id",
    "type",
    "amount_cents",
    "currency",
    "status",
    "description",
    "due_date",
    "idempotency_key",
    "balance_after_cents",
    "stripe_payment_intent_id",
    "created_by",
    "created_at",
    "updated_at",
}


def url(team):
    return f"/api/teams/{team.id}/credit/transactions/"


def detail_url(team, tx):
    return f"/api/teams/{team.id}/credit/transactions/{tx.pk}/"


def charge_body(account, **overrides):
    return {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": 2_500, **overrides}


# --- POST --------------------------------------------------------------------------
def test_member_posts_a_charge(api_as, member, team, account):
    response = api_as(member).post(
        url(team), charge_body(account, description="Order 7", due_date="2026-12-31"), format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == TX_FIELDS
    assert body["team_id"] == team.id
    assert body["credit_id"] == str(account.pk)
    assert body["customer_id"] == str(account.customer_id)
    assert (body["type"], body["amount_cents"], body["status"]) == ("charge", 2_500, "completed")
    assert body["balance_after_cents"] == 2_500
    assert body["due_date"] == "2026-12-31"
    assert body["created_by"] == member.id
    assert "Idempotent-Replayed" not in response
    account.refresh_from_db()
    assert account.balance_cents == 2_500


def test_pending_transaction_has_no_balance_after(api_as, member, team, account):
    body = api_as(member).post(url(team), charge_body(account, status="pending"), format="json").json()
    assert body["status"] == "pending"
    assert body["balance_after_cents"] is None


def test_negative_adjustment_via_api(api_as, member, team, account):
    response = api_as(member).post(
        url(team), {"customer_id": str(account.customer_id), "type": "adjustment", "amount_cents": -300}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["balance_after_cents"] == -300


def test_charge_over_limit_is_422(api_as, member, team, account):
    response = api_as(member).post(url(team), charge_body(account, amount_cents=100_001), format="json")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "credit_limit_exceeded"
    assert error["details"]["available_cents"] == 100_000
    assert not CreditTransaction.objects.exists()


def test_charge_on_suspended_account_is_422(api_as, member, team, account, admin_user):
    from credit.services.accounts import account_set_status

    account_set_status(account=account, status="suspended", user=admin_user)
    response = api_as(member).post(url(team), charge_body(account), format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "account_not_active"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount_cents": 0}, "amount_cents"),
        ({"amount_cents": -5}, "amount_cents"),
        ({"type": "adjustment", "amount_cents": 0}, "amount_cents"),
        ({"amount_cents": "ten"}, "amount_cents"),
        ({"type": "refund"}, "type"),
        ({"status": "failed"}, "status"),
        ({"customer_id": "nope"}, "customer_id"),
        ({"due_date": "tomorrow"}, "due_date"),
    ],
)
def test_post_validation_errors(api_as, member, team, account, overrides, field):
    response = api_as(member).post(url(team), charge_body(account, **overrides), format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]


def test_missing_fields_are_400(api_as, member, team):
    error = api_as(member).post(url(team), {}, format="json").json()["error"]
    assert set(error["details"]) == {"customer_id", "type", "amount_cents"}


def test_malformed_json_is_parse_error(api_as, member, team):
    response = api_as(member).post(url(team), "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


@pytest.mark.parametrize("whose", ["unknown", "other_team", "no_account"])
def test_post_for_customer_not_in_team_or_without_account_is_404(api_as, member, team, other_team, whose):
    customer_id = {
        "unknown": lambda: uuid.uuid4(),
        "other_team": lambda: CreditAccountFactory(team=other_team).customer_id,
        "no_account": lambda: CustomerFactory(team=team).pk,
    }[whose]()
    response = api_as(member).post(
        url(team), {"customer_id": str(customer_id), "type": "charge", "amount_cents": 1}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- PATCH -------------------------------------------------------------------------
def test_patch_completes_pending_transaction(api_as, member, team, account, post):
    tx = post(account, "charge", 4_000, status="pending")
    response = api_as(member).patch(detail_url(team, tx), {"status": "completed"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"
    assert response.json()["balance_after_cents"] == 4_000


@pytest.mark.parametrize("target", ["failed", "cancelled"])
def test_patch_fails_or_cancels(api_as, member, team, account, post, target):
    tx = post(account, "charge", 4_000, status="pending")
    response = api_as(member).patch(detail_url(team, tx), {"status": target}, format="json")
    assert response.json()["status"] == target
    account.refresh_from_db()
    assert account.balance_cents == 0


@pytest.mark.parametrize("target", ["pending", "completed", "failed", "cancelled"])
def test_patch_completed_transaction_is_409(api_as, member, team, account, post, target):
    tx = post(account, "charge", 100)
    response = api_as(member).patch(detail_url(team, tx), {"status": target}, format="json")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["current"] == "completed"


def test_patch_over_lowered_limit_is_422(api_as, member, admin_user, team, account, post):
    from credit.services.accounts import credit_limit_change

    tx = post(account, "charge", 90_000, status="pending")
    credit_limit_change(account=account, new_limit_cents=1_000, user=admin_user, reason="risk")
    response = api_as(member).patch(detail_url(team, tx), {"status": "completed"}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "credit_limit_exceeded"


@pytest.mark.parametrize("body", [{}, {"status": "done"}])
def test_patch_validation(api_as, member, team, account, post, body):
    tx = post(account, "charge", 100, status="pending")
    response = api_as(member).patch(detail_url(team, tx), body, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]


@pytest.mark.parametrize("tx_id", ["nope", "00000000-0000-4000-8000-000000000001"])
def test_patch_unknown_transaction_is_404(api_as, member, team, tx_id):
    response = api_as(member).patch(f"{url(team)}{tx_id}/", {"status": "completed"}, format="json")
    assert response.status_code == 404


# --- GET list ----------------------------------------------------------------------
def test_list_is_newest_first_with_cursor_pagination(api_as, viewer, team, account, post):
    posted = [post(account, "charge", 100 + n) for n in range(5)]
    client = api_as(viewer)
    first = client.get(url(team), {"page_size": 3}).json()
    assert [row["id"] for row in first["results"]] == [str(tx.pk) for tx in reversed(posted[2:])]
    assert first["previous"] is None
    assert "cursor=" in first["next"]
    second = client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [str(posted[1].pk), str(posted[0].pk)]
    assert second["next"] is None


def test_invalid_cursor_is_400(api_as, viewer, team):
    response = api_as(viewer).get(url(team), {"cursor": "garbage"})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["details"]


@pytest.fixture
def ledger_rows(team, account):
    """Named rows for the filter tests (raw rows; balances don't matter here)."""
    now = timezone.now()
    other = CreditAccountFactory(team=team)
    rows = {
        "old_charge": CreditTransactionFactory(account=account, amount_cents=500, due_date=dt.date(2026, 1, 10)),
        "payment": CreditTransactionFactory(account=account, type="payment", amount_cents=2_000, status="completed"),
        "fee": CreditTransactionFactory(account=other, type="fee", amount_cents=50, status="failed"),
        "adjustment": CreditTransactionFactory(
            account=other, type="adjustment", amount_cents=-700, status="cancelled", due_date=dt.date(2026, 3, 1)
        ),
    }
    CreditTransaction.objects.filter(pk=rows["old_charge"].pk).update(created_at=now - dt.timedelta(days=30))
    return {"rows": rows, "account": account, "other": other, "now": now}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (lambda d: {"customer_id": str(d["account"].customer_id)}, {"old_charge", "payment"}),
        (lambda d: {"credit_id": str(d["other"].pk)}, {"fee", "adjustment"}),
        (lambda d: {"type": "payment"}, {"payment"}),
        (lambda d: {"status": "failed"}, {"fee"}),
        (lambda d: {"created_after": (d["now"] - dt.timedelta(days=1)).isoformat()}, {"payment", "fee", "adjustment"}),
        (lambda d: {"created_before": (d["now"] - dt.timedelta(days=1)).isoformat()}, {"old_charge"}),
        (lambda d: {"created_after": "2000-01-01"}, {"old_charge", "payment", "fee", "adjustment"}),
        (lambda d: {"due_before": "2026-02-01"}, {"old_charge"}),
        (lambda d: {"due_before": "2026-03-01"}, {"old_charge"}),
        (lambda d: {"due_before": "2026-03-02"}, {"old_charge", "adjustment"}),
        (lambda d: {"min_amount_cents": 500}, {"old_charge", "payment"}),
        (lambda d: {"max_amount_cents": 50}, {"fee", "adjustment"}),
        (lambda d: {"min_amount_cents": 0, "max_amount_cents": 1_000}, {"old_charge", "fee"}),
        (lambda d: {"type": "fee", "status": "completed"}, set()),
    ],
)
def test_transaction_filters(api_as, viewer, team, ledger_rows, params, expected):
    names = {str(tx.pk): name for name, tx in ledger_rows["rows"].items()}
    body = api_as(viewer).get(url(team), params(ledger_rows)).json()
    assert {names[row["id"]] for row in body["results"]} == expected


@pytest.mark.parametrize(
    "params",
    [
        {"type": "refund"},
        {"status": "done"},
        {"customer_id": "nope"},
        {"credit_id": "nope"},
        {"created_after": "yesterday"},
        {"created_before": "2026-13-45"},
        {"due_before": "soon"},
        {"min_amount_cents": "1.5"},
        {"max_amount_cents": "lots"},
        {"page_size": "0"},
    ],
)
def test_invalid_filters_are_400(api_as, viewer, team, params):
    response = api_as(viewer).get(url(team), params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(params) <= set(error["details"])


def test_list_only_shows_own_team(api_as, viewer, team, account, other_account, post):
    mine = post(account, "charge", 100)
    post(other_account, "charge", 100)
    body = api_as(viewer).get(url(team)).json()
    assert [row["id"] for row in body["results"]] == [str(mine.pk)]


def test_list_query_count_is_constant(api_as, viewer, team, post):
    client = api_as(viewer)
    for _ in range(4):
        account = CreditAccountFactory(team=team)
        for _ in range(2):
            post(account, "charge", 100)

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url(team), {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(2) == count(8)
