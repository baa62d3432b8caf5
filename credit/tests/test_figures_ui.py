"""The staff pages and the API show the same figures: balance, pending,
limit, available and overdue, from the one owner (`credit.figures`)."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from credit.templatetags.credit_ui import money

pytestmark = pytest.mark.django_db


def stat(html: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}">(?:<span[^>]*>)?([^<]+)<', html)
    assert match, element_id
    return match.group(1).strip()


def test_the_account_page_shows_the_apis_figures(client_as, api_as, owner, team, account, post):
    today = timezone.localdate()
    post(account, "charge", 16_500, due_date=today - dt.timedelta(days=12))
    post(account, "charge", 300, status="pending")
    post(account, "fee", 200, status="pending")
    post(account, "payment", 1_000)
    api = api_as(owner).get(f"/api/teams/{team.pk}/credit/", {"customer_id": str(account.customer_id)}).json()
    html = client_as(owner).get(f"/credit/accounts/{account.pk}/").content.decode()

    assert api["balance_cents"] == 15_500
    assert api["pending_debits_cents"] == 500
    assert api["available_cents"] == 100_000 - 15_500 - 500
    assert api["overdue_cents"] == 15_500
    assert api["oldest_unpaid_due_date"] == (today - dt.timedelta(days=12)).isoformat()
    for element_id, field in [
        ("credit-balance", "balance_cents"),
        ("credit-pending", "pending_debits_cents"),
        ("credit-limit", "credit_limit_cents"),
        ("credit-available", "available_cents"),
        ("credit-overdue", "overdue_cents"),
    ]:
        assert stat(html, element_id) == money(api[field], api["currency"]), element_id


def test_the_form_refuses_exactly_what_the_page_says_is_not_available(client_as, member, account, post):
    post(account, "charge", 16_500)
    post(account, "charge", 300, status="pending")
    client = client_as(member)
    html = client.get(f"/credit/accounts/{account.pk}/").content.decode()
    available = 100_000 - 16_500 - 300
    assert stat(html, "credit-available") == money(available)

    over = client.post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": "charge", "txn-status": "completed", "txn-amount_cents": f"{(available + 1) / 100:.2f}"},
    )
    assert "would exceed the credit limit" in over.content.decode()
    exact = client.post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": "charge", "txn-status": "completed", "txn-amount_cents": f"{available / 100:.2f}"},
    )
    assert exact.status_code == 302
