import pytest

from credit.models import CreditAccount, CreditTransaction
from credit.services import accounts, ledger
from deelrx.audit.models import ActivityEvent
from deelrx.errors import BusinessRuleViolation, Conflict, InvalidTransition, NotFound, ValidationFailed
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def refresh(account):
    account.refresh_from_db()
    return account


def test_completed_charge_moves_balance_and_records_event(account, post, member):
    tx = post(account, "charge", 2_500, description="Order 1")
    assert tx.status == "completed"
    assert tx.balance_after_cents == 2_500
    assert tx.completed_at is not None
    assert tx.created_by == member
    assert refresh(account).balance_cents == 2_500
    event = ActivityEvent.objects.get(event_type="credit.transaction.created")
    assert event.event_data["transaction_id"] == str(tx.pk)
    assert event.user == member


def test_payment_reduces_balance_and_sets_last_payment(account, post):
    post(account, "charge", 5_000)
    tx = post(account, "payment", 2_000)
    account = refresh(account)
    assert account.balance_cents == 3_000
    assert tx.balance_after_cents == 3_000
    assert account.last_payment_at is not None


def test_fee_adds_to_balance(account, post):
    post(account, "fee", 300)
    assert refresh(account).balance_cents == 300


@pytest.mark.parametrize(("amount", "expected"), [(700, 700), (-700, -700)])
def test_adjustments_move_the_balance_both_ways(account, post, amount, expected):
    tx = post(account, "adjustment", amount)
    assert tx.amount_cents == amount
    assert refresh(account).balance_cents == expected


@pytest.mark.parametrize(
    ("type_", "amount"), [("charge", 0), ("charge", -5), ("payment", 0), ("fee", -1), ("adjustment", 0)]
)
def test_invalid_amounts_are_refused(account, post, type_, amount):
    with pytest.raises(ValidationFailed) as exc:
        post(account, type_, amount)
    assert "amount_cents" in exc.value.details


def test_unknown_type_and_status_are_refused(account, post):
    with pytest.raises(ValidationFailed):
        post(account, "refund", 100)
    with pytest.raises(ValidationFailed):
        post(account, "charge", 100, status="failed")


def test_charge_over_limit_is_refused(account, post):
    post(account, "charge", 90_000)
    with pytest.raises(BusinessRuleViolation) as exc:
        post(account, "charge", 10_001)
    assert exc.value.code == "credit_limit_exceeded"
    assert exc.value.status_code == 422
    assert exc.value.details["available_cents"] == 10_000
    assert refresh(account).balance_cents == 90_000
    assert CreditTransaction.objects.count() == 1


def test_charge_up_to_the_limit_is_allowed(account, post):
    post(account, "charge", 100_000)
    assert refresh(account).available_cents == 0


def test_pending_charges_reserve_the_limit(account, post):
    pending = post(account, "charge", 60_000, status="pending")
    assert pending.balance_after_cents is None
    assert refresh(account).balance_cents == 0
    with pytest.raises(BusinessRuleViolation) as exc:
        post(account, "charge", 50_000, status="pending")
    assert exc.value.code == "credit_limit_exceeded"
    assert exc.value.details["pending_debits_cents"] == 60_000


def test_fees_and_adjustments_are_not_held_to_the_limit(account, post):
    post(account, "charge", 100_000)
    post(account, "fee", 2_000)
    post(account, "adjustment", 500)
    assert refresh(account).balance_cents == 102_500


@pytest.mark.parametrize("status", ["suspended", "defaulted"])
@pytest.mark.parametrize(("type_", "amount"), [("charge", 100), ("fee", 100), ("adjustment", 100)])
def test_debits_on_inactive_account_are_refused(account, post, admin_user, status, type_, amount):
    accounts.account_set_status(account=account, status=status, user=admin_user)
    with pytest.raises(BusinessRuleViolation) as exc:
        post(account, type_, amount)
    assert exc.value.code == "account_not_active"


def test_payments_and_credits_on_suspended_account_are_allowed(account, post, admin_user):
    post(account, "charge", 1_000)
    accounts.account_set_status(account=account, status="suspended", user=admin_user)
    post(account, "payment", 400)
    post(account, "adjustment", -100)
    assert refresh(account).balance_cents == 500


def test_nothing_is_posted_to_a_closed_account(account, post, admin_user):
    accounts.account_set_status(account=account, status="closed", user=admin_user)
    with pytest.raises(BusinessRuleViolation) as exc:
        post(account, "payment", 100)
    assert exc.value.code == "account_not_active"


def test_customer_without_account_or_of_other_team_is_not_found(team, other_team, member, account):
    with pytest.raises(NotFound):
        ledger.transaction_post(
            team=team, customer=CustomerFactory(team=team), type="charge", amount_cents=1, user=member
        )
    with pytest.raises(NotFound):
        ledger.transaction_post(
            team=team, customer=CustomerFactory(team=other_team), type="charge", amount_cents=1, user=member
        )


def test_same_idempotency_key_returns_the_first_row(account, post):
    first = post(account, "charge", 1_000, idempotency_key="k1")
    second = post(account, "charge", 1_000, idempotency_key="k1")
    assert first.pk == second.pk
    assert refresh(account).balance_cents == 1_000


def test_idempotency_key_for_a_different_transaction_conflicts(account, post):
    post(account, "charge", 1_000, idempotency_key="k1")
    with pytest.raises(Conflict) as exc:
        post(account, "charge", 2_000, idempotency_key="k1")
    assert exc.value.code == "idempotency_key_reused"


def test_idempotency_key_is_scoped_per_team(account, other_account, post):
    post(account, "charge", 1_000, idempotency_key="shared")
    tx = post(other_account, "charge", 1_000, idempotency_key="shared")
    assert tx.team == other_account.team


# --- status transitions ----------------------------------------------------------------
@pytest.mark.parametrize("target", ["failed", "cancelled"])
def test_pending_can_fail_or_be_cancelled_without_touching_balance(account, post, member, target):
    tx = post(account, "charge", 1_000, status="pending")
    tx = ledger.transaction_set_status(transaction=tx, status=target, user=member)
    assert tx.status == target
    assert tx.balance_after_cents is None
    assert refresh(account).balance_cents == 0
    assert ActivityEvent.objects.filter(event_type="credit.transaction.status_changed").count() == 1


def test_completing_pending_payment_applies_it(account, post, member):
    post(account, "charge", 5_000)
    tx = post(account, "payment", 5_000, status="pending")
    assert refresh(account).balance_cents == 5_000
    tx = ledger.transaction_set_status(transaction=tx, status="completed", user=member)
    assert tx.balance_after_cents == 0
    assert tx.completed_at is not None
    account = refresh(account)
    assert account.balance_cents == 0
    assert account.last_payment_at is not None


@pytest.mark.parametrize("current", ["completed", "failed", "cancelled"])
@pytest.mark.parametrize("target", ["pending", "completed", "failed", "cancelled"])
def test_only_pending_moves(account, post, member, current, target):
    tx = post(account, "charge", 100, status="pending")
    if current != "pending":
        tx = ledger.transaction_set_status(transaction=tx, status=current, user=member)
    with pytest.raises(InvalidTransition) as exc:
        ledger.transaction_set_status(transaction=tx, status=target, user=member)
    assert exc.value.status_code == 409
    assert exc.value.details["current"] == current


def test_completing_pending_charge_rechecks_a_lowered_limit(account, post, member, admin_user):
    tx = post(account, "charge", 80_000, status="pending")
    accounts.credit_limit_change(account=account, new_limit_cents=50_000, user=admin_user, reason="risk")
    with pytest.raises(BusinessRuleViolation) as exc:
        ledger.transaction_set_status(transaction=tx, status="completed", user=member)
    assert exc.value.code == "credit_limit_exceeded"
    tx.refresh_from_db()
    assert tx.status == "pending"


def test_completing_pending_charge_within_limit(account, post, member):
    tx = post(account, "charge", 80_000, status="pending")
    tx = ledger.transaction_set_status(transaction=tx, status="completed", user=member)
    assert tx.balance_after_cents == 80_000
    assert refresh(account).balance_cents == 80_000


def test_completing_pending_charge_on_suspended_account_is_refused(account, post, member, admin_user):
    tx = post(account, "charge", 1_000, status="pending")
    accounts.account_set_status(account=account, status="suspended", user=admin_user)
    with pytest.raises(BusinessRuleViolation) as exc:
        ledger.transaction_set_status(transaction=tx, status="completed", user=member)
    assert exc.value.code == "account_not_active"


def test_unknown_status_is_validation_error(account, post, member):
    tx = post(account, "charge", 100, status="pending")
    with pytest.raises(ValidationFailed):
        ledger.transaction_set_status(transaction=tx, status="done", user=member)


def test_signed_amount_property():
    assert CreditTransaction(type="payment", amount_cents=5).signed_amount_cents == -5
    assert CreditTransaction(type="adjustment", amount_cents=-5).signed_amount_cents == -5
    assert CreditTransaction(type="fee", amount_cents=5).is_debit


def test_verify_ledger_is_clean_after_postings_and_detects_tampering(account, other_account, post):
    post(account, "charge", 5_000)
    post(account, "payment", 1_000)
    post(account, "charge", 700, status="pending")
    post(other_account, "adjustment", -300)
    assert ledger.verify_ledger() == []
    CreditAccount.objects.filter(pk=account.pk).update(balance_cents=9_999)
    mismatches = ledger.verify_ledger()
    assert [(m["account_id"], m["ledger_cents"], m["difference_cents"]) for m in mismatches] == [
        (account.pk, 4_000, 5_999)
    ]
    assert ledger.verify_ledger(team=other_account.team) == []
