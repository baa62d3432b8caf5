"""The charge write path is lean: with a token and an Idempotency-Key, one POST
is at most 8 SQL statements with its commit (7 before it: token, membership,
account lock, ledger row, account figures, audit event, idempotency record) and
exactly one commit (the idempotency record, the
account lock, the ledger row, the account's figures and the audit event commit
together), and nothing it wrote is read back."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from credit.models import CreditAccount, CreditTransaction, IdempotencyRecord


@pytest.fixture
def token_client(member):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=member).key}")
    return client


@pytest.fixture
def commits(monkeypatch):
    calls = []
    real = connection.commit

    def counting():
        calls.append(1)
        return real()

    monkeypatch.setattr(connection, "commit", counting)
    return calls


def charge(client, team, account, key):
    return client.post(
        f"/api/teams/{team.pk}/credit/transactions/",
        {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": 250, "due_date": "2026-12-31"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


@pytest.mark.django_db(transaction=True)
def test_a_keyed_charge_is_at_most_eight_statements_and_one_commit(token_client, team, account, commits):
    charge(token_client, team, account, "warm-up")  # the first request of a connection sets it up
    commits.clear()
    with CaptureQueriesContext(connection) as queries:
        response = charge(token_client, team, account, "order-1")
    assert response.status_code == 201, response.content
    statements = [q["sql"] for q in queries.captured_queries if q["sql"] not in ("BEGIN", "COMMIT")]
    assert len(statements) <= 7, "\n".join(statements)
    assert not any(s.startswith("SAVEPOINT") for s in statements)
    assert len(commits) == 1
    # Nothing written is read back: the one SELECT of a credit table is the lock.
    credit_reads = [s for s in statements if s.startswith("SELECT") and "credit_" in s]
    assert len(credit_reads) == 1
    assert ("FOR UPDATE" in credit_reads[0]) == connection.features.has_select_for_update  # not on SQLite
    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 500
    assert IdempotencyRecord.objects.filter(key="order-1", response_status=201).exists()


@pytest.mark.django_db(transaction=True)
def test_a_replay_writes_nothing_and_commits_nothing(token_client, team, account, commits):
    first = charge(token_client, team, account, "order-1")
    commits.clear()
    again = charge(token_client, team, account, "order-1")
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert CreditTransaction.objects.count() == 1
    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 250
