import pytest
from django.db import IntegrityError

from credit.models import CreditAccount, CreditTransaction, PaymentReminder
from credit.tests.factories import CreditAccountFactory, CreditTransactionFactory

pytestmark = pytest.mark.django_db


def test_one_account_per_team_and_customer(account):
    with pytest.raises(IntegrityError):
        CreditAccountFactory(team=account.team, customer=account.customer)


def test_negative_limit_violates_check(team, customer):
    with pytest.raises(IntegrityError):
        CreditAccountFactory(team=team, customer=customer, credit_limit_cents=-1)


@pytest.mark.parametrize(("type_", "amount"), [("charge", 0), ("payment", -1), ("adjustment", 0)])
def test_amount_checks(account, type_, amount):
    with pytest.raises(IntegrityError):
        CreditTransactionFactory(account=account, type=type_, amount_cents=amount)


def test_negative_adjustment_is_allowed(account):
    assert CreditTransactionFactory(account=account, type="adjustment", amount_cents=-5).pk


def test_idempotency_key_unique_per_team_when_set(account):
    CreditTransactionFactory(account=account, idempotency_key="")
    CreditTransactionFactory(account=account, idempotency_key="")
    CreditTransactionFactory(account=account, idempotency_key="a")
    with pytest.raises(IntegrityError):
        CreditTransactionFactory(account=account, idempotency_key="a")


def test_reminder_stage_once_per_transaction(account):
    tx = CreditTransactionFactory(account=account)
    PaymentReminder.objects.create(transaction=tx, stage="due_in_7", sent_at="2026-01-01T00:00Z")
    with pytest.raises(IntegrityError):
        PaymentReminder.objects.create(transaction=tx, stage="due_in_7", sent_at="2026-01-02T00:00Z")


def test_available_and_utilisation():
    account = CreditAccount(credit_limit_cents=1_000, balance_cents=250)
    assert account.available_cents == 750
    assert account.utilisation == 0.25
    assert CreditAccount(credit_limit_cents=0, balance_cents=0).utilisation == 0.0
    assert CreditAccount(credit_limit_cents=0, balance_cents=5).utilisation == 1.0


def test_str(account):
    assert "active" in str(account)
    assert "Charge" in str(CreditTransaction(type="charge", amount_cents=5, status="pending"))
