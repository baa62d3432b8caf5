"""The ledger stays provable on every path: after each scenario the stored
balance equals the ledger sum (`verify_ledger` finds nothing) and the balance
is what the scenario says. Plus the card-payment races that used to lose or
invent money: a manual move of a payment whose card charge is in flight, and a
Stripe outcome that arrives after the ledger was settled another way."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from credit.models import CreditAccount, CreditTransaction
from credit.services import accounts, ledger
from credit.tests.stripe_fake import (
    WEBHOOK_SECRET,
    signed_event,
    stripe_fake_fixture,  # noqa: F401 - fixture
)
from credit.tests.test_webhooks import deliver, payment_intent_object
from deelrx.audit.models import ActivityEvent
from deelrx.errors import BusinessRuleViolation, Conflict, InvalidTransition

pytestmark = pytest.mark.django_db


def settle(txn, status, user):
    return ledger.transaction_set_status(transaction=txn, status=status, user=user)


def assert_ledger_holds(account, balance_cents):
    account.refresh_from_db()
    assert account.balance_cents == balance_cents
    assert ledger.verify_ledger() == []
    call_command("verify_ledger", stdout=StringIO())  # raises CommandError on any difference


# --- Every way of moving money, then verify_ledger ------------------------------------------
def _pending_charge_completed(a, post, user):
    settle(post(a, "charge", 3_000, status="pending"), "completed", user)
    return 3_000


def _pending_charge_failed_and_cancelled(a, post, user):
    settle(post(a, "charge", 3_000, status="pending"), "failed", user)
    settle(post(a, "fee", 200, status="pending"), "cancelled", user)
    return 0


def _adjustments_both_signs(a, post, user):
    post(a, "charge", 5_000)
    post(a, "adjustment", 700)
    post(a, "adjustment", -1_200)
    settle(post(a, "adjustment", -300, status="pending"), "completed", user)
    settle(post(a, "adjustment", 900, status="pending"), "cancelled", user)
    return 4_200


def _overpayment_goes_negative(a, post, user):
    post(a, "charge", 1_000)
    post(a, "payment", 1_500)
    return -500


def _limit_lowered_below_the_balance(a, post, user):
    post(a, "charge", 80_000)
    accounts.credit_limit_change(account=a, new_limit_cents=50_000, user=user, reason="Review")
    with pytest.raises(BusinessRuleViolation):
        post(a, "charge", 1)
    pending = post(a, "payment", 10_000, status="pending")
    settle(pending, "completed", user)
    post(a, "fee", 500)  # fees are not held to the limit
    return 70_500


def _pending_charge_completed_after_the_limit_dropped(a, post, user):
    pending = post(a, "charge", 60_000, status="pending")
    post(a, "charge", 30_000)
    accounts.credit_limit_change(account=a, new_limit_cents=50_000, user=user, reason="Review")
    with pytest.raises(BusinessRuleViolation):
        settle(pending, "completed", user)
    settle(pending, "cancelled", user)
    return 30_000


def _suspended_account_takes_payments_only(a, post, user):
    post(a, "charge", 4_000)
    pending_fee = post(a, "fee", 100, status="pending")
    accounts.account_set_status(account=a, status="suspended", user=user)
    with pytest.raises(BusinessRuleViolation):
        post(a, "fee", 100)
    with pytest.raises(BusinessRuleViolation):
        settle(pending_fee, "completed", user)
    post(a, "payment", 1_000)
    post(a, "adjustment", -500)
    settle(pending_fee, "cancelled", user)
    return 2_500


def _paid_off_then_closed(a, post, user):
    post(a, "charge", 2_000)
    pending = post(a, "payment", 2_000, status="pending")
    with pytest.raises(BusinessRuleViolation):
        accounts.account_set_status(account=a, status="closed", user=user)  # balance not zero
    settle(pending, "completed", user)
    accounts.account_set_status(account=a, status="closed", user=user)
    with pytest.raises(BusinessRuleViolation):
        post(a, "payment", 1)
    with pytest.raises(BusinessRuleViolation):
        post(a, "adjustment", -1)
    return 0


def _settled_rows_cannot_move_again(a, post, user):
    done = post(a, "charge", 1_000)
    failed = settle(post(a, "charge", 1_000, status="pending"), "failed", user)
    for txn in (done, failed):
        for status in ("pending", "completed", "failed", "cancelled"):
            with pytest.raises(InvalidTransition):
                settle(txn, status, user)
    return 1_000


@pytest.mark.parametrize(
    "scenario",
    [
        _pending_charge_completed,
        _pending_charge_failed_and_cancelled,
        _adjustments_both_signs,
        _overpayment_goes_negative,
        _limit_lowered_below_the_balance,
        _pending_charge_completed_after_the_limit_dropped,
        _suspended_account_takes_payments_only,
        _paid_off_then_closed,
        _settled_rows_cannot_move_again,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_the_ledger_holds_after_every_path(account, post, admin_user, scenario):
    expected = scenario(account, post, admin_user)
    assert_ledger_holds(account, expected)
    # balance_after_cents of the last completed row is the balance
    last = account.transactions.filter(status="completed").order_by("-completed_at", "-created_at").first()
    if last is not None:
        assert last.balance_after_cents == expected


# --- A card charge in flight is settled by Stripe only ----------------------------------------
@pytest.fixture
def in_flight_payment(account, post):
    """A $30 card payment whose PaymentIntent is processing at Stripe."""
    post(account, "charge", 5_000)
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(
        stripe_payment_intent_id="pi_1", attempt_count=1, last_attempt_at=timezone.now() - dt.timedelta(hours=1)
    )
    payment.refresh_from_db()
    return payment


@pytest.mark.parametrize("status", ["cancelled", "failed", "completed"])
def test_a_payment_with_a_processing_intent_cannot_be_settled_by_hand(
    api_as, admin_user, account, in_flight_payment, status
):
    response = api_as(admin_user).patch(
        f"/api/teams/{account.team_id}/credit/transactions/{in_flight_payment.pk}/",
        {"status": status},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_in_progress"
    in_flight_payment.refresh_from_db()
    assert in_flight_payment.status == "pending"
    assert_ledger_holds(account, 5_000)


def test_the_staff_page_shows_the_same_refusal(client_as, member, account, in_flight_payment):
    response = client_as(member).post(
        f"/credit/accounts/{account.pk}/transactions/{in_flight_payment.pk}/status/",
        {"status": "cancelled"},
        follow=True,
    )
    assert "A card payment for this transaction is in progress" in response.content.decode()
    in_flight_payment.refresh_from_db()
    assert in_flight_payment.status == "pending"


def test_an_attempt_just_started_blocks_a_manual_cancel_until_the_cooldown(account, post, admin_user):
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(attempt_count=1, last_attempt_at=timezone.now())
    with pytest.raises(Conflict) as excinfo:
        settle(payment, "cancelled", admin_user)
    assert excinfo.value.code == "payment_in_progress"

    # The attempt is long over with no intent stored (the provider call failed): staff decide.
    CreditTransaction.objects.filter(pk=payment.pk).update(last_attempt_at=timezone.now() - dt.timedelta(minutes=3))
    assert settle(payment, "cancelled", admin_user).status == "cancelled"


def test_payments_without_a_card_attempt_are_settled_by_hand_as_before(account, post, admin_user):
    post(account, "charge", 5_000)
    cash = post(account, "payment", 2_000, status="pending")
    assert settle(cash, "completed", admin_user).status == "completed"
    assert_ledger_holds(account, 3_000)


def test_the_webhook_still_settles_a_processing_payment(client, settings, account, in_flight_payment):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object()))
    assert response.json()["outcome"] == "processed"
    assert_ledger_holds(account, 2_000)


def test_money_collected_for_a_cancelled_payment_is_reported_not_lost(client, settings, account, post, admin_user):
    """The card call failed without an answer, staff cancelled after the cooldown, then
    Stripe reports that the charge went through: the ledger stays as it is (a cancelled
    row never moves again) and the mismatch is recorded for the staff to refund."""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    post(account, "charge", 5_000)
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(
        attempt_count=1, last_attempt_at=timezone.now() - dt.timedelta(minutes=5)
    )
    settle(payment, "cancelled", admin_user)

    intent = payment_intent_object(intent_id="pi_late", metadata={"transaction_id": str(payment.pk)})
    response = deliver(client, *signed_event("payment_intent.succeeded", intent))

    assert response.json()["outcome"] == "ignored"
    assert_ledger_holds(account, 5_000)
    event = ActivityEvent.objects.get(event_type="credit.payment.webhook_mismatch")
    assert event.event_data["transaction_id"] == str(payment.pk)
    assert (event.event_data["stripe_status"], event.event_data["ledger_status"]) == ("completed", "cancelled")


def test_a_webhook_after_the_charge_result_completed_it_changes_nothing(client, settings, account, in_flight_payment):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    ledger.transaction_set_status(transaction=in_flight_payment, status="completed", user=None, by_provider=True)
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object()))
    assert response.json()["outcome"] == "ignored"
    assert not ActivityEvent.objects.filter(event_type="credit.payment.webhook_mismatch").exists()
    assert_ledger_holds(account, 2_000)


def test_collect_after_cancel_is_refused_and_charges_nothing(stripe_fake, api_as, admin_user, account, post):
    account.stripe_customer_id, account.stripe_payment_method_id = "cus_saved", "pm_card_visa"
    account.save()
    payment = post(account, "payment", 3_000, status="pending")
    settle(payment, "cancelled", admin_user)
    response = api_as(admin_user).post(f"/api/teams/{account.team_id}/credit/transactions/{payment.pk}/collect/")
    assert response.status_code == 409
    assert stripe_fake.requests == []
    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 0


def test_an_earlier_attempt_that_also_collected_is_reported(client, settings, account, in_flight_payment):
    """Attempt 1 got no answer, attempt 2 (pi_1) is the one on the row; then Stripe says
    attempt 1 went through as well: the customer paid twice, staff must refund one."""
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    ledger.transaction_set_status(transaction=in_flight_payment, status="completed", user=None, by_provider=True)
    earlier = payment_intent_object(intent_id="pi_0", metadata={"transaction_id": str(in_flight_payment.pk)})

    response = deliver(client, *signed_event("payment_intent.succeeded", earlier))

    assert response.json()["outcome"] == "ignored"
    assert_ledger_holds(account, 2_000)
    event = ActivityEvent.objects.get(event_type="credit.payment.webhook_mismatch")
    assert (event.event_data["payment_intent_id"], event.event_data["ledger_payment_intent_id"]) == ("pi_0", "pi_1")


def test_an_earlier_attempt_that_failed_is_not_reported(client, settings, account, in_flight_payment):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    earlier = payment_intent_object(intent_id="pi_0", metadata={"transaction_id": str(in_flight_payment.pk)})
    response = deliver(client, *signed_event("payment_intent.payment_failed", earlier))
    assert response.json()["outcome"] == "ignored"
    in_flight_payment.refresh_from_db()
    assert in_flight_payment.status == "pending"
    assert not ActivityEvent.objects.filter(event_type="credit.payment.webhook_mismatch").exists()


# --- The staff form and the API refuse with the same words ---------------------------------
@pytest.mark.parametrize(
    ("setup", "type", "cents", "status_code"),
    [
        (None, "charge", 100_001, 422),  # over the limit
        ("pending", "charge", 90_001, 422),  # over the limit after a pending charge
        ("suspended", "fee", 100, 422),
        ("closed", "payment", 100, 422),
        (None, "charge", 0, 400),
        (None, "payment", -100, 400),
    ],
)
def test_the_form_and_the_api_refuse_with_the_same_message(
    client_as, api_as, member, admin_user, account, post, setup, type, cents, status_code
):
    if setup == "pending":
        post(account, "charge", 10_000, status="pending")
    elif setup:
        accounts.account_set_status(account=account, status=setup, user=admin_user)
    before = set(account.transactions.values_list("pk", flat=True))

    api = api_as(member).post(
        f"/api/teams/{account.team_id}/credit/transactions/",
        {"customer_id": str(account.customer_id), "type": type, "amount_cents": cents},
        format="json",
    )
    assert api.status_code == status_code
    error = api.json()["error"]
    message = error["message"] if status_code == 422 else error["details"]["amount_cents"][0]

    html = client_as(member).post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": type, "txn-amount_cents": f"{cents / 100:.2f}", "txn-status": "completed"},
    )
    assert html.status_code == 200
    assert message in html.content.decode()
    assert set(account.transactions.values_list("pk", flat=True)) == before
