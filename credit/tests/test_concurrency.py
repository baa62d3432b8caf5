"""Real concurrency on PostgreSQL: threads, each with its own connection."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from rest_framework.test import APIClient

from credit.models import CreditAccount, CreditTransaction
from credit.services import ledger
from credit.tests.factories import CreditAccountFactory
from deelrx.errors import BusinessRuleViolation
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(count, target):
    """Start `count` threads at once (a barrier) and collect their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:  # recorded for the assertions
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.fixture
def setup_team():
    team = TeamFactory()
    user = UserFactory(username="concurrent-maria")
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    customer = CustomerFactory(team=team)
    account = CreditAccountFactory(team=team, customer=customer, credit_limit_cents=10_000)
    return team, user, customer, account


def test_parallel_charges_never_exceed_the_limit(setup_team):
    team, user, customer, account = setup_team

    def charge(_):
        return ledger.transaction_post(team=team, customer=customer, type="charge", amount_cents=700, user=user)

    results = run_threads(20, charge)
    posted = [r for r in results if isinstance(r, CreditTransaction)]
    refused = [r for r in results if isinstance(r, BusinessRuleViolation)]
    assert len(posted) + len(refused) == 20, results
    assert len(posted) == 14  # 14 * 700 = 9,800 <= 10,000 < 15 * 700
    assert {r.code for r in refused} == {"credit_limit_exceeded"}
    account.refresh_from_db()
    assert account.balance_cents == 9_800
    assert sorted(tx.balance_after_cents for tx in posted) == [700 * n for n in range(1, 15)]
    assert ledger.verify_ledger() == []


def test_parallel_requests_with_one_idempotency_key_create_one_transaction(setup_team):
    team, user, customer, account = setup_team
    body = {"customer_id": str(customer.pk), "type": "charge", "amount_cents": 1_234}

    def request(_):
        client = APIClient()
        client.force_authenticate(user=user)
        response = client.post(
            f"/api/teams/{team.id}/credit/transactions/", body, format="json", HTTP_IDEMPOTENCY_KEY="same-key"
        )
        return response.status_code, response.json(), response.get("Idempotent-Replayed")

    results = run_threads(10, request)
    assert all(isinstance(r, tuple) for r in results), results
    statuses = [status for status, _, _ in results]
    assert set(statuses) <= {201, 409}, results
    created = [body for status, body, _ in results if status == 201]
    assert len({b["id"] for b in created}) == 1
    assert sum(1 for status, _, replayed in results if status == 201 and replayed is None) == 1
    conflicts = [body for status, body, _ in results if status == 409]
    assert all(b["error"]["code"] == "request_in_progress" for b in conflicts)
    assert CreditTransaction.objects.filter(team=team).count() == 1
    account.refresh_from_db()
    assert account.balance_cents == 1_234
    call_command("verify_ledger")


def test_parallel_mixed_postings_keep_the_ledger_consistent(setup_team):
    team, user, customer, account = setup_team
    CreditAccount.objects.filter(pk=account.pk).update(credit_limit_cents=1_000_000)

    def mixed(index):
        kind = ["charge", "payment", "fee", "adjustment"][index % 4]
        amount = -50 if kind == "adjustment" and index % 8 else 300
        tx = ledger.transaction_post(
            team=team, customer=customer, type=kind, amount_cents=amount, user=user, status="pending"
        )
        return ledger.transaction_set_status(transaction=tx, status="completed", user=user)

    results = run_threads(16, mixed)
    assert all(isinstance(r, CreditTransaction) for r in results), results
    assert ledger.verify_ledger() == []
    CreditAccount.objects.filter(pk=account.pk).update(balance_cents=-1)
    with pytest.raises(CommandError):
        call_command("verify_ledger")
