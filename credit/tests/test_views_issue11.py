"""Issue 11 on the credit pages: a page per transaction, totals per currency on the list,
confirmations before final actions, forms that reopen at their errors, and no setting
names for shop staff."""

import re

import pytest

from credit.models import CreditTransaction

pytestmark = pytest.mark.django_db


def detail_url(account, txn):
    return f"/credit/accounts/{account.pk}/transactions/{txn.pk}/"


def test_a_transaction_has_its_own_page(client_as, viewer, account, post):
    txn = post(account, "charge", 12_345, description="Insulin pens", due_date=None)
    html = client_as(viewer).get(detail_url(account, txn)).content.decode()
    assert re.search(r'id="txn-amount">\$123\.45<', html)
    assert "Insulin pens" in html
    assert str(txn.pk) in html
    assert "maria" in html  # who recorded it
    listing = client_as(viewer).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert detail_url(account, txn) in listing  # the ledger links each row to its page


def test_a_transaction_of_another_account_or_team_is_404(client_as, owner, account, other_account, post):
    other_txn = post(other_account, "charge", 100)
    assert client_as(owner).get(detail_url(account, other_txn)).status_code == 404
    assert client_as(owner).get(detail_url(other_account, other_txn)).status_code == 404


def test_pending_actions_are_confirmed_and_offered_to_writers_only(client_as, member, viewer, account, post):
    txn = post(account, "charge", 5_000, status="pending")
    html = client_as(member).get(detail_url(account, txn)).content.decode()
    for label in ("Complete", "Failed", "Cancel"):
        assert re.search(rf'data-confirm="[^"]+">{label}</button>', html), label
    ledger = client_as(member).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert ledger.count("data-confirm=") >= 3
    assert ">Complete</button>" not in client_as(viewer).get(detail_url(account, txn)).content.decode()


def test_completing_from_the_transaction_page_returns_to_it(client_as, member, account, post):
    txn = post(account, "charge", 5_000, status="pending")
    response = client_as(member).post(
        f"{detail_url(account, txn)}status/", {"status": "completed", "return_to": "transaction"}
    )
    assert response.status_code == 302
    assert response["Location"] == detail_url(account, txn)
    assert CreditTransaction.objects.get(pk=txn.pk).status == "completed"


def test_the_list_shows_totals_per_currency(client_as, viewer, make_account, post):
    post(make_account(credit_limit_cents=100_000), "charge", 10_000)
    post(make_account(credit_limit_cents=50_000, currency="eur"), "charge", 2_500)
    html = client_as(viewer).get("/credit/").content.decode()
    assert re.search(r'id="credit-totals-usd">.*?data-figure="balance">\$100\.00<', html, re.S)
    assert re.search(r'id="credit-totals-eur">.*?data-figure="balance">€25\.00<', html, re.S)
    assert re.search(r'id="credit-totals-eur">.*?data-figure="available">€475\.00<', html, re.S)


def test_closing_is_confirmed_and_forms_reopen_at_their_errors(client_as, owner, account):
    html = client_as(owner).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert f'action="/credit/accounts/{account.pk}/settings/#settings"' in html
    assert f'action="/credit/accounts/{account.pk}/transactions/#record"' in html
    assert 'data-confirm-field="settings-status" data-confirm-value="closed"' in html


def test_the_refusal_uses_the_one_money_format(client_as, member, account):
    response = client_as(member).post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": "charge", "txn-amount_cents": "5000", "txn-status": "completed", "txn-idempotency_key": "k-1"},
    )
    assert "This charge would exceed the credit limit ($1,000.00 available)." in response.content.decode()
