"""Tests that catch a money bug: the rules of the ledger (credit/services/ledger.py)
and the idempotency protocol (credit/services/idempotency.py) that the mutation
run (`make mutate`, bench/mutate.py) found unguarded — each test pins a behaviour
a plausible bug would change: what holds credit, what the refusals say, what is
recorded, when a retry replays, waits, takes over or conflicts."""

import datetime as dt
import logging
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction, IdempotencyRecord
from credit.services import accounts, idempotency, ledger
from credit.tests.factories import CreditAccountFactory
from deelrx.audit.models import ActivityEvent
from deelrx.errors import BusinessRuleViolation, Conflict, NotFound, ValidationFailed
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def fresh(account) -> CreditAccount:
    return CreditAccount.objects.get(pk=account.pk)


def refusal(call, *args, **kwargs):
    with pytest.raises(BusinessRuleViolation) as excinfo:
        call(*args, **kwargs)
    return excinfo.value


# --- Validation: what a wrong amount, type or status is told --------------------------------
@pytest.mark.parametrize(
    ("type_", "amount", "details"),
    [
        ("refund", 100, {"type": ["'refund' is not a valid type."]}),
        ("charge", True, {"amount_cents": ["An integer is required."]}),
        ("charge", "100", {"amount_cents": ["An integer is required."]}),
        ("charge", 1.0, {"amount_cents": ["An integer is required."]}),
        (
            "fee",
            MAX_AMOUNT_CENTS + 1,
            {"amount_cents": [f"Ensure this value is at most {MAX_AMOUNT_CENTS} in absolute value."]},
        ),
        (
            "adjustment",
            -MAX_AMOUNT_CENTS - 1,
            {"amount_cents": [f"Ensure this value is at most {MAX_AMOUNT_CENTS} in absolute value."]},
        ),
        ("adjustment", 0, {"amount_cents": ["An adjustment cannot be zero."]}),
        ("payment", 0, {"amount_cents": ["Must be greater than zero."]}),
        ("fee", -1, {"amount_cents": ["Must be greater than zero."]}),
    ],
)
def test_invalid_postings_say_which_field_is_wrong(account, post, type_, amount, details):
    with pytest.raises(ValidationFailed) as excinfo:
        post(account, type_, amount)
    assert excinfo.value.details == details
    assert not CreditTransaction.objects.exists()


def test_a_new_transaction_is_pending_or_completed(account, post):
    with pytest.raises(ValidationFailed) as excinfo:
        post(account, "charge", 100, status="cancelled")
    assert excinfo.value.details == {"status": ["A new transaction is 'pending' or 'completed'."]}


@pytest.mark.parametrize(
    ("type_", "amount"),
    [
        ("fee", MAX_AMOUNT_CENTS),
        ("adjustment", -MAX_AMOUNT_CENTS),
        ("adjustment", 1),
        ("adjustment", -1),
        ("payment", 1),
    ],
)
def test_amounts_at_the_edges_are_accepted(account, post, type_, amount):
    tx = post(account, type_, amount)
    assert fresh(account).balance_cents == tx.signed_amount_cents == (amount if type_ != "payment" else -amount)


def test_a_one_cent_charge_is_accepted(account, post):
    post(account, "charge", 1)
    assert fresh(account).balance_cents == 1


# --- Who the posting is for --------------------------------------------------------------------
def test_a_customer_without_an_account_and_an_unknown_customer_are_told_apart(team, other_team, member, account):
    with pytest.raises(NotFound) as excinfo:
        ledger.transaction_post(
            team=team, customer_id=CustomerFactory(team=team).pk, type="fee", amount_cents=1, user=member
        )
    assert excinfo.value.message == "This customer has no credit account."
    for customer_id in (CustomerFactory(team=other_team).pk, "7f0c2a43-1f59-4a43-9d55-5b8e1b3c0c11", "not-a-uuid"):
        with pytest.raises(NotFound) as excinfo:
            ledger.transaction_post(team=team, customer_id=customer_id, type="fee", amount_cents=1, user=member)
        assert excinfo.value.message == "Customer not found."
    with pytest.raises(NotFound) as excinfo:
        ledger.transaction_post(
            team=team, customer=CustomerFactory(team=other_team), type="fee", amount_cents=1, user=member
        )
    assert excinfo.value.message == "Customer not found."
    assert not CreditTransaction.objects.exists()


def test_a_posting_by_customer_id_lands_on_that_customers_account(team, member, account, make_account):
    other = make_account(credit_limit_cents=5_000)
    tx = ledger.transaction_post(team=team, customer_id=other.customer_id, type="charge", amount_cents=700, user=member)
    assert tx.account_id == other.pk
    assert (fresh(other).balance_cents, fresh(account).balance_cents) == (700, 0)


# --- Account status --------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["suspended", "defaulted"])
def test_an_inactive_account_refuses_even_a_one_cent_debit_and_says_what_is_still_possible(
    account, post, admin_user, status
):
    accounts.account_set_status(account=account, status=status, user=admin_user)
    for type_ in ("charge", "fee", "adjustment"):
        error = refusal(post, account, type_, 1)
        assert error.code == "account_not_active"
        assert error.message == f"The credit account is {status}: only payments and credits can be recorded."
        assert error.details == {"status": status}
    post(account, "payment", 1)
    post(account, "adjustment", -1)
    assert fresh(account).balance_cents == -2


def test_a_closed_account_says_nothing_can_be_posted(account, post, admin_user):
    accounts.account_set_status(account=account, status="closed", user=admin_user)
    for type_, amount in (("payment", 100), ("adjustment", -100), ("charge", 100)):
        error = refusal(post, account, type_, amount)
        assert (error.code, error.details) == ("account_not_active", {"status": "closed"})
        assert error.message == "The credit account is closed: nothing can be posted to it."


# --- The limit: what holds credit ------------------------------------------------------------------
def test_pending_fees_and_positive_adjustments_hold_credit_against_charges(account, post):
    """Fees and adjustments are not held to the limit themselves, but while
    pending they reserve credit like a pending charge: a charge that fits only
    if they are forgotten is refused."""
    post(account, "fee", 30_000, status="pending")
    post(account, "adjustment", 20_000, status="pending")
    post(account, "payment", 40_000, status="pending")  # a pending payment frees nothing
    post(account, "adjustment", -10_000, status="pending")  # nor does a pending credit
    assert fresh(account).pending_debits_cents == 50_000
    error = refusal(post, account, "charge", 50_001)
    assert error.code == "credit_limit_exceeded"
    assert error.message == "This charge would exceed the credit limit ($500.00 available after pending charges)."
    assert error.details == {
        "credit_limit_cents": 100_000,
        "balance_cents": 0,
        "pending_debits_cents": 50_000,
        "available_cents": 50_000,
        "amount_cents": 50_001,
    }
    post(account, "charge", 50_000)
    assert fresh(account).available_cents == 0


def test_a_refused_charge_says_what_is_available(account, post):
    post(account, "charge", 90_000)
    error = refusal(post, account, "charge", 10_001)
    assert error.message == "This charge would exceed the credit limit ($100.00 available)."
    assert error.details == {
        "credit_limit_cents": 100_000,
        "balance_cents": 90_000,
        "pending_debits_cents": 0,
        "available_cents": 10_000,
        "amount_cents": 10_001,
    }


def test_available_credit_is_shown_with_thousands_and_the_accounts_currency(make_account, post):
    account = make_account(credit_limit_cents=1_234_567, currency="eur")
    error = refusal(post, account, "charge", 1_234_568)
    assert error.message == "This charge would exceed the credit limit (€12,345.67 available)."


def test_over_the_limit_the_message_says_nothing_is_available(account, post, admin_user):
    post(account, "charge", 80_000)
    accounts.credit_limit_change(account=account, new_limit_cents=50_000, user=admin_user, reason="Review")
    error = refusal(post, account, "charge", 1)
    assert error.message == "This charge would exceed the credit limit ($0.00 available)."
    assert error.details["available_cents"] == -30_000


def test_a_pending_charge_completes_up_to_exactly_the_limit(account, post, member):
    tx = post(account, "charge", 100_000, status="pending")
    ledger.transaction_set_status(transaction=tx, status="completed", user=member)
    account = fresh(account)
    assert (account.balance_cents, account.pending_debits_cents, account.available_cents) == (100_000, 0, 0)


def test_completing_a_charge_is_not_blocked_by_other_pending_debits(account, post, member):
    charge = post(account, "charge", 60_000, status="pending")
    post(account, "fee", 50_000, status="pending")  # fees may exceed the limit
    ledger.transaction_set_status(transaction=charge, status="completed", user=member)
    account = fresh(account)
    assert (account.balance_cents, account.pending_debits_cents) == (60_000, 50_000)


def test_completing_a_charge_above_a_lowered_limit_says_so(account, post, member, admin_user):
    tx = post(account, "charge", 30_000, status="pending")
    post(account, "charge", 30_000)
    accounts.credit_limit_change(account=account, new_limit_cents=50_000, user=admin_user, reason="Review")
    error = refusal(ledger.transaction_set_status, transaction=tx, status="completed", user=member)
    assert error.details == {
        "credit_limit_cents": 50_000,
        "balance_cents": 30_000,
        "pending_debits_cents": 0,
        "available_cents": 20_000,
        "amount_cents": 30_000,
    }
    assert fresh(account).pending_debits_cents == 30_000  # still reserved: nothing changed


# --- What a posting records ----------------------------------------------------------------------
def test_only_payments_set_last_payment_at(account, post, member):
    pending_charge = post(account, "charge", 500, status="pending")
    post(account, "charge", 1_000)
    post(account, "fee", 100)
    post(account, "adjustment", 50)
    post(account, "adjustment", -50)
    ledger.transaction_set_status(transaction=pending_charge, status="completed", user=member)
    pending_payment = post(account, "payment", 300, status="pending")
    assert fresh(account).last_payment_at is None
    before = timezone.now()
    ledger.transaction_set_status(transaction=pending_payment, status="completed", user=member)
    paid_at = fresh(account).last_payment_at
    assert before <= paid_at <= timezone.now()
    post(account, "charge", 100)
    assert fresh(account).last_payment_at == paid_at


def test_a_posting_keeps_its_description_intent_and_author(account, post, member):
    tx = post(account, "payment", 100, description="Card 4242", stripe_payment_intent_id="pi_123", status="pending")
    tx.refresh_from_db()
    assert (tx.description, tx.stripe_payment_intent_id, tx.created_by, tx.idempotency_key) == (
        "Card 4242",
        "pi_123",
        member,
        "",
    )
    plain = ledger.transaction_post(team=account.team, customer=account.customer, type="fee", amount_cents=5, user=None)
    plain.refresh_from_db()
    assert (plain.status, plain.description, plain.stripe_payment_intent_id, plain.created_by) == (
        "completed",
        "",
        "",
        None,
    )
    untitled = post(account, "fee", 5, description=None, stripe_payment_intent_id=None)
    untitled.refresh_from_db()
    assert (untitled.description, untitled.stripe_payment_intent_id) == ("", "")


def test_the_created_event_describes_the_posting(account, post, member):
    tx = post(account, "charge", 2_500)
    event = ActivityEvent.objects.get(event_type="credit.transaction.created")
    assert event.event_data == {
        "transaction_id": str(tx.pk),
        "account_id": str(account.pk),
        "customer_id": str(account.customer_id),
        "type": "charge",
        "amount_cents": 2_500,
        "currency": "usd",  # the activity log says the amount in the account's currency
        "status": "completed",
        "balance_after_cents": 2_500,
    }
    assert (event.team_id, event.user) == (account.team_id, member)


def test_the_status_event_describes_the_move(account, post, member):
    tx = post(account, "charge", 400)
    pending = post(account, "charge", 600, status="pending")
    ledger.transaction_set_status(transaction=pending, status="completed", user=member)
    event = ActivityEvent.objects.get(event_type="credit.transaction.status_changed")
    assert event.event_data == {
        "transaction_id": str(pending.pk),
        "account_id": str(account.pk),
        "old": "pending",
        "new": "completed",
        "balance_after_cents": 1_000,
    }
    assert (event.team_id, event.user) == (account.team_id, member)
    assert tx.balance_after_cents == 400


def test_a_key_used_for_another_customer_is_refused(team, member, account, make_account, post):
    other = make_account(credit_limit_cents=100_000)
    post(account, "charge", 1_000, idempotency_key="k1")
    with pytest.raises(Conflict) as excinfo:
        post(other, "charge", 1_000, idempotency_key="k1")
    assert excinfo.value.code == "idempotency_key_reused"
    assert excinfo.value.message == "This idempotency key was already used for a different transaction."
    assert fresh(other).balance_cents == 0


def test_a_key_is_trimmed(account, post):
    first = post(account, "charge", 1_000, idempotency_key=" k1 ")
    again = post(account, "charge", 1_000, idempotency_key="k1")
    assert again.pk == first.pk
    assert fresh(account).balance_cents == 1_000


# --- A card payment in flight ----------------------------------------------------------------------
def test_a_payment_with_an_intent_is_refused_by_hand_with_its_intent(account, post, member):
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_9")
    with pytest.raises(Conflict) as excinfo:
        ledger.transaction_set_status(transaction=payment, status="cancelled", user=member)
    assert excinfo.value.code == "payment_in_progress"
    assert (
        excinfo.value.message == "A card payment for this transaction is in progress; Stripe will report how it ends."
    )
    assert excinfo.value.details == {"stripe_payment_intent_id": "pi_9"}
    # Stripe's own outcome still settles it.
    ledger.transaction_set_status(transaction=payment, status="completed", user=None, by_provider=True)
    assert fresh(account).balance_cents == -3_000


@pytest.mark.parametrize(("ago", "in_flight"), [(dt.timedelta(seconds=119), True), (dt.timedelta(minutes=2), False)])
def test_a_card_attempt_blocks_manual_moves_for_two_minutes(account, post, member, monkeypatch, ago, in_flight):
    now = timezone.now()
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(attempt_count=1, last_attempt_at=now - ago)
    monkeypatch.setattr(timezone, "now", lambda: now)
    if in_flight:
        with pytest.raises(Conflict):
            ledger.transaction_set_status(transaction=payment, status="failed", user=member)
    else:
        assert ledger.transaction_set_status(transaction=payment, status="failed", user=member).status == "failed"


def test_a_charge_is_never_held_as_a_card_payment(account, post, member):
    charge = post(account, "charge", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=charge.pk).update(last_attempt_at=timezone.now())
    assert ledger.transaction_set_status(transaction=charge, status="completed", user=member).status == "completed"


def test_an_unknown_status_says_so(account, post, member):
    tx = post(account, "charge", 100, status="pending")
    with pytest.raises(ValidationFailed) as excinfo:
        ledger.transaction_set_status(transaction=tx, status="done", user=member)
    assert excinfo.value.details == {"status": ["'done' is not a valid status."]}


# --- verify_ledger ----------------------------------------------------------------------------------
def test_verify_ledger_reports_every_field_of_a_mismatch_and_logs_it(account, post, caplog):
    post(account, "charge", 5_000)
    post(account, "payment", 1_000)
    CreditAccount.objects.filter(pk=account.pk).update(balance_cents=9_999)
    with caplog.at_level(logging.WARNING, logger="credit.services.ledger"):
        mismatches = ledger.verify_ledger()
    assert mismatches == [
        {
            "account_id": account.pk,
            "team_id": account.team_id,
            "customer_id": account.customer_id,
            "balance_cents": 9_999,
            "ledger_cents": 4_000,
            "difference_cents": 5_999,
            "problems": ["balance 9999 != ledger 4000"],
        }
    ]
    assert [r.getMessage() for r in caplog.records] == ["verify_ledger found 1 mismatching account(s)"]


def test_verify_ledger_reports_progress_every_n_accounts(team, post):
    for _ in range(5):
        post(CreditAccountFactory(team=team), "charge", 10)
    seen = []
    assert ledger.verify_ledger(progress=seen.append, every=2) == []
    assert seen == [2, 4]


def test_verify_ledger_progress_defaults_to_every_ten_thousand_accounts(monkeypatch):
    from credit import figures

    clean = figures.AccountCheck(
        account_id=None, team_id=1, customer_id=None, balance_cents=0, ledger_cents=0, pending_debits_cents=0,
        ledger_pending_cents=0, oldest_unpaid_due_date=None, ledger_oldest_due_date=None, unsettled_rows=0,
    )  # fmt: skip
    monkeypatch.setattr(figures, "ledger_check", lambda team=None: iter([clean] * 20_001))
    seen = []
    assert ledger.verify_ledger(progress=seen.append) == []
    assert seen == [10_000, 20_000]


# --- Idempotency over the API ------------------------------------------------------------------------
def url(team):
    return f"/api/teams/{team.id}/credit/transactions/"


def body(account, **overrides):
    return {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": 1_000, **overrides}


def keyed_post(client, team, data, key="key-1"):
    return client.post(url(team), data, format="json", HTTP_IDEMPOTENCY_KEY=key)


def legacy_record(team, data, *, key="key-1", age=dt.timedelta(0)):
    """A record without a response, as an older release left while its request ran."""
    record = IdempotencyRecord.objects.create(
        team=team,
        key=key,
        fingerprint=idempotency.request_fingerprint(method="POST", path=url(team), body=data),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_a_server_error_is_raised_logged_with_its_traceback_and_leaves_nothing(
    api_as, member, team, account, monkeypatch, caplog
):
    """A 5xx is not an outcome to store or to answer quietly: the write rolls
    back with it, the record is dropped, and the error handler logs the traceback."""

    def audit_down(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(ledger, "record_event", audit_down)  # after the ledger row is written
    client = api_as(member)
    client.raise_request_exception = False
    with caplog.at_level(logging.ERROR):
        response = keyed_post(client, team, body(account))
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "Idempotent-Replayed" not in response
    logged = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], RuntimeError)]
    assert logged, caplog.records
    assert str(logged[0].exc_info[1]) == "audit log unavailable"
    assert not CreditTransaction.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    assert fresh(account).balance_cents == 0


def test_a_stored_422_is_answered_first_without_the_replay_header(api_as, member, team, account):
    client = api_as(member)
    first = keyed_post(client, team, body(account, amount_cents=100_001))
    assert first.status_code == 422
    assert "Idempotent-Replayed" not in first
    assert IdempotencyRecord.objects.get().response_status == 422
    again = keyed_post(client, team, body(account, amount_cents=100_001))
    assert (again.status_code, again["Idempotent-Replayed"], again.json()) == (422, "true", first.json())


def test_a_keyed_request_that_is_refused_is_answered_as_itself(api_as, member, team, account, customer):
    """400 and 404 are not stored: the answer is the request's own, never marked
    as a replay, and the key stays free for the corrected request."""
    client = api_as(member)
    invalid = keyed_post(client, team, body(account, amount_cents=0))
    assert invalid.status_code == 400
    assert "Idempotent-Replayed" not in invalid
    unknown = keyed_post(client, team, body(account, customer_id="7f0c2a43-1f59-4a43-9d55-5b8e1b3c0c11"), key="key-2")
    assert unknown.status_code == 404
    assert "Idempotent-Replayed" not in unknown
    assert not IdempotencyRecord.objects.exists()


def test_a_different_body_with_a_used_key_says_so(api_as, member, team, account):
    client = api_as(member)
    keyed_post(client, team, body(account))
    response = keyed_post(client, team, body(account, amount_cents=2_000))
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "idempotency_key_reused",
        "message": "This Idempotency-Key was already used with a different request body.",
        "details": {},
    }
    assert "Idempotent-Replayed" not in response


def test_an_expired_key_for_another_transaction_is_not_a_replay(api_as, member, team, account):
    client = api_as(member)
    keyed_post(client, team, body(account))
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = keyed_post(client, team, body(account, amount_cents=3))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotent-Replayed" not in response


def test_the_fingerprint_is_stable_across_releases():
    """Records outlive a deploy (48 h): the fingerprint of a request must not change."""
    import hashlib

    fingerprint = idempotency.request_fingerprint(method="post", path="/x/", body={"b": 1, "a": [1, "é"]})
    canonical = 'POST\n/x/\n{"a":[1,"\\u00e9"],"b":1}'
    assert fingerprint == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize(
    ("status", "stored"),
    [(200, True), (201, True), (299, True), (422, True), (199, False), (300, False), (400, False), (404, False),
     (409, False), (423, False), (500, False)],
)  # fmt: skip
def test_what_is_stored_2xx_and_422_only(status, stored):
    assert idempotency.should_store(status) is stored


class FakeClock:
    """`time` for the idempotency module: sleeping advances the monotonic clock."""

    def __init__(self, on_sleep=None):
        self.now = 0.0
        self.on_sleep = on_sleep

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(self.now)


def test_a_retry_waits_two_seconds_for_a_running_request_then_409(api_as, member, team, account, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(idempotency, "time", clock)
    monkeypatch.setattr(idempotency, "IDEMPOTENCY_POLL_SECONDS", 0.5)
    legacy_record(team, body(account))
    response = keyed_post(api_as(member), team, body(account))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_in_progress"
    assert response.json()["error"]["message"] == (
        "A request with this Idempotency-Key is still being processed; retry shortly."
    )
    assert clock.now == 2.0
    assert not CreditTransaction.objects.exists()


def test_a_waiting_retry_replays_the_response_as_soon_as_it_is_stored(api_as, member, team, account, monkeypatch):
    data = body(account)
    record = legacy_record(team, data)

    def first_request_answers(now):
        if now >= 0.1:
            IdempotencyRecord.objects.filter(pk=record.pk).update(response_status=201, response_body={"id": "first"})

    clock = FakeClock(on_sleep=first_request_answers)
    monkeypatch.setattr(idempotency, "time", clock)
    response = keyed_post(api_as(member), team, data)
    assert (response.status_code, response.json(), response["Idempotent-Replayed"]) == (201, {"id": "first"}, "true")
    assert 0.1 <= clock.now <= 0.15
    assert not CreditTransaction.objects.exists()


@pytest.mark.parametrize(("age", "taken_over"), [(dt.timedelta(seconds=120), True), (dt.timedelta(seconds=119), False)])
def test_a_record_left_without_response_is_taken_over_after_two_minutes(
    api_as, member, team, account, monkeypatch, age, taken_over
):
    now = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: now)
    monkeypatch.setattr(idempotency, "time", FakeClock())
    legacy_record(team, body(account), age=age)
    response = keyed_post(api_as(member), team, body(account))
    if taken_over:
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response
        record = IdempotencyRecord.objects.get()
        assert (record.response_status, record.response_body["id"]) == (201, response.json()["id"])
        assert CreditTransaction.objects.count() == 1
    else:
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "request_in_progress"
        assert not CreditTransaction.objects.exists()


def test_a_record_expires_at_its_expiry_instant(api_as, member, team, account, monkeypatch):
    client = api_as(member)
    first = keyed_post(client, team, body(account))
    record = IdempotencyRecord.objects.get()
    monkeypatch.setattr(timezone, "now", lambda: record.expires_at)
    again = keyed_post(client, team, body(account))
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again  # answered anew (the ledger still holds one row)
    assert again.json()["id"] == first.json()["id"]
    assert IdempotencyRecord.objects.get().expires_at > record.expires_at


def test_a_request_that_never_settles_its_key_gives_up_after_four_runs(team):
    """Each run finds its key taken by a record that is gone again when it looks:
    the request runs its write at most four times, then asks the client to retry."""
    from django.db import transaction

    runs = []

    def handler(keep):
        runs.append(1)
        with transaction.atomic():
            IdempotencyRecord.objects.create(team=team, key="k", fingerprint="f", expires_at=timezone.now())
            keep(201, {"id": len(runs)})
        return 201, {"id": len(runs)}

    with pytest.raises(Conflict) as excinfo:
        idempotency.idempotent_call(team=team, key="k", fingerprint="f", handler=handler, on_error=None)
    assert (excinfo.value.code, excinfo.value.message) == (
        "request_in_progress",
        "Could not settle this Idempotency-Key; retry shortly.",
    )
    assert len(runs) == 4
    assert not IdempotencyRecord.objects.exists()


def test_count_and_delete_expired_use_the_given_time(team):
    now = timezone.now()
    for n, hours in enumerate([1, 2, 3]):
        IdempotencyRecord.objects.create(
            team=team, key=f"k{n}", fingerprint="f", expires_at=now + dt.timedelta(hours=hours)
        )
    later = now + dt.timedelta(hours=2)
    assert idempotency.idempotency_records_count_expired(now=later) == 2  # the retention job's dry run
    assert idempotency.idempotency_records_delete_expired(now=later) == 2
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k2"]


# --- Idempotency under real concurrency (PostgreSQL) ----------------------------------------------------
def _member_client(user):
    client = APIClient()
    client.force_authenticate(user=user)
    return client


@pytest.fixture
def race_setup():
    team = TeamFactory()
    user = UserFactory(username="racing-maria")
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    account = CreditAccountFactory(team=team, customer=CustomerFactory(team=team), credit_limit_cents=10_000)
    return team, user, account


def _in_thread(target, results, name):
    def run():
        try:
            results[name] = target()
        except Exception as exc:  # recorded for the assertions
            results[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name=name)
    thread.start()
    return thread


def _answer(response):
    return response.status_code, response.json(), response.get("Idempotent-Replayed")


def _wait_for_a_lock_wait(timeout=10.0):
    """Until another session of this database waits on a lock."""
    import time

    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.02)
    raise AssertionError("the second request never waited")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_during_the_first_write_replays_it(race_setup, monkeypatch):
    """The second request with the key arrives while the first holds the
    account: it waits, then answers with the first response (one row, one
    charge), never with a conflict or a second posting."""
    team, user, account = race_setup
    data = body(account, amount_cents=1_234)
    inside, go = threading.Event(), threading.Event()
    real_record_event = ledger.record_event

    def slow_audit(**kwargs):
        if threading.current_thread().name == "first":
            inside.set()
            assert go.wait(20)
        return real_record_event(**kwargs)

    monkeypatch.setattr(ledger, "record_event", slow_audit)
    results = {}
    first = _in_thread(lambda: _answer(keyed_post(_member_client(user), team, data, "same")), results, "first")
    assert inside.wait(20)
    second = _in_thread(lambda: _answer(keyed_post(_member_client(user), team, data, "same")), results, "second")
    try:
        _wait_for_a_lock_wait()
    finally:
        go.set()
        first.join(30)
        second.join(30)
    status, first_body, replayed = results["first"]
    assert (status, replayed) == (201, None), results
    assert results["second"] == (201, first_body, "true"), results
    assert CreditTransaction.objects.filter(team=team).count() == 1
    assert fresh(account).balance_cents == 1_234
    assert ledger.verify_ledger() == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_stale_record_is_taken_over_by_exactly_one_retry(race_setup, monkeypatch):
    """Retry B reads the abandoned record, then retry A takes it over and
    answers; when B gets to take over in turn, the key is answered already:
    B replays A's response instead of taking over A's fresh record."""
    from django.db.models.query import QuerySet

    team, user, account = race_setup
    data = body(account, amount_cents=700)
    legacy_record(team, data, key="same", age=dt.timedelta(minutes=10))
    b_read, a_done = threading.Event(), threading.Event()
    real_delete = QuerySet.delete

    def delete(queryset):
        if threading.current_thread().name == "B" and queryset.model is IdempotencyRecord and not a_done.is_set():
            b_read.set()
            assert a_done.wait(20)
        return real_delete(queryset)

    monkeypatch.setattr(QuerySet, "delete", delete)
    results = {}
    b = _in_thread(lambda: _answer(keyed_post(_member_client(user), team, data, "same")), results, "B")
    try:
        assert b_read.wait(20)
        results["A"] = _answer(keyed_post(_member_client(user), team, data, "same"))
    finally:
        a_done.set()
        b.join(30)
    status, a_body, replayed = results["A"]
    assert (status, replayed) == (201, None), results
    assert results["B"] == (201, a_body, "true"), results
    assert CreditTransaction.objects.filter(team=team).count() == 1
    record = IdempotencyRecord.objects.get(team=team, key="same")
    assert (record.response_status, record.response_body) == (201, a_body)
    assert fresh(account).balance_cents == 700


# --- Settlement when a pending debit completes late ----------------------------------------------------
def unpaid_parts(account) -> dict:
    rows = CreditTransaction.objects.filter(account=account, outstanding_cents__gt=0)
    return {row.description: row.outstanding_cents for row in rows}


def assert_figures_match_the_ledger():
    from credit import figures

    assert {c.account_id: c.problems for c in figures.ledger_check() if c.problems} == {}


@pytest.mark.parametrize("due", [None, dt.date(2026, 6, 30)])
def test_a_pending_debit_completed_late_is_settled_by_its_own_age(account, post, member, due):
    """A pending charge keeps its place in the settlement order (its due date,
    then when it was created): completed after a newer debit with the same due
    date, it is the older one and is paid first."""
    older = post(account, "charge", 300, status="pending", due_date=due, description="older")
    post(account, "charge", 1_000, due_date=due, description="newer")
    post(account, "payment", 500)
    assert unpaid_parts(account) == {"newer": 500}
    ledger.transaction_set_status(transaction=older, status="completed", user=member)
    assert unpaid_parts(account) == {"newer": 800}
    assert fresh(account).balance_cents == 800
    assert_figures_match_the_ledger()


@pytest.mark.parametrize("due", [None, dt.date(2026, 6, 30)])
def test_a_pending_debit_completed_after_everything_was_paid_leaves_the_newest_unpaid(account, post, member, due):
    older = post(account, "charge", 300, status="pending", due_date=due, description="older")
    post(account, "charge", 1_000, due_date=due, description="newer")
    post(account, "payment", 1_000)
    ledger.transaction_set_status(transaction=older, status="completed", user=member)
    assert unpaid_parts(account) == {"newer": 300}
    assert_figures_match_the_ledger()


# --- One cent is money too ------------------------------------------------------------------------------
TODAY = dt.date(2026, 6, 30)


def test_a_one_cent_adjustment_is_a_debit_like_any_other(account, post):
    post(account, "adjustment", 1, status="pending")
    assert fresh(account).pending_debits_cents == 1
    post(account, "adjustment", 1, description="cent")
    post(account, "charge", 100, due_date=TODAY, description="later")
    post(account, "payment", 100)
    post(account, "charge", 50, due_date=TODAY - dt.timedelta(days=10), description="earlier")
    # credits settle the earliest due first; the undated cent comes last
    assert unpaid_parts(account) == {"later": 50, "cent": 1}
    assert_figures_match_the_ledger()


def test_one_cent_left_unpaid_is_still_owed_and_overdue(account, post):
    from credit import figures

    post(account, "charge", 100, due_date=TODAY - dt.timedelta(days=3), description="charge")
    post(account, "payment", 99)
    account = fresh(account)
    assert unpaid_parts(account) == {"charge": 1}
    assert account.oldest_unpaid_due_date == TODAY - dt.timedelta(days=3)
    assert figures.account_overdue_cents(account, today=TODAY) == 1
    assert figures.aging_for(account_ids=[account.pk], today=TODAY).as_dict()["1_30"] == 1
    post(account, "payment", 1)
    assert unpaid_parts(account) == {}
    assert fresh(account).oldest_unpaid_due_date is None
    assert_figures_match_the_ledger()


def test_paying_exactly_the_oldest_debit_moves_the_oldest_due_date_to_the_next(account, post):
    post(account, "charge", 100, due_date=TODAY - dt.timedelta(days=40), description="first")
    post(account, "charge", 200, due_date=TODAY - dt.timedelta(days=5), description="second")
    post(account, "payment", 100)
    assert unpaid_parts(account) == {"second": 200}
    assert fresh(account).oldest_unpaid_due_date == TODAY - dt.timedelta(days=5)
    assert_figures_match_the_ledger()


@pytest.mark.parametrize("owed", [1, 500])
def test_a_later_due_debit_keeps_the_oldest_due_date(account, post, owed):
    post(account, "charge", owed, due_date=TODAY - dt.timedelta(days=20), description="old")
    post(account, "charge", 300, due_date=TODAY + dt.timedelta(days=10), description="new")
    assert fresh(account).oldest_unpaid_due_date == TODAY - dt.timedelta(days=20)
    assert unpaid_parts(account) == {"old": owed, "new": 300}
    assert_figures_match_the_ledger()


def test_a_debit_due_between_paid_ones_leaves_the_later_one_unpaid(account, post):
    """On an account that owes nothing, a new debit is not necessarily the one
    left unpaid: paid debits due later come after it in the settlement order,
    so they are owed again first."""
    post(account, "charge", 100, due_date=TODAY - dt.timedelta(days=20), description="earlier")
    post(account, "charge", 300, due_date=TODAY + dt.timedelta(days=10), description="later")
    post(account, "payment", 400)
    post(account, "charge", 301, due_date=TODAY, description="middle")
    # the payment settles "earlier" and 300 of "middle": "middle" owes one cent, "later" all of it
    assert unpaid_parts(account) == {"middle": 1, "later": 300}
    assert fresh(account).oldest_unpaid_due_date == TODAY
    assert_figures_match_the_ledger()


def test_the_definitions_agree_with_the_maintained_figures(account, post):
    from django.db.models import Sum

    from credit import figures

    post(account, "charge", 500)
    for type_, amount in (("charge", 100), ("fee", 50), ("adjustment", 20), ("adjustment", -30), ("payment", 40)):
        post(account, type_, amount, status="pending")
    account = fresh(account)
    pending = CreditTransaction.objects.filter(figures.PENDING_DEBIT, account=account).aggregate(s=Sum("amount_cents"))
    assert pending["s"] == account.pending_debits_cents == 170
    assert figures.available_cents(account) == account.available_cents == 100_000 - 500 - 170


# --- Bounded work: the write path touches only the rows it settles ---------------------------------------
def other_ledger_statements(queries) -> list[str]:
    """Statements on the ledger table other than inserting the new row."""
    return [
        q["sql"]
        for q in queries.captured_queries
        if "credit_credittransaction" in q["sql"] and not q["sql"].startswith('INSERT INTO "credit_credittransaction"')
    ]


@pytest.mark.parametrize(
    ("setup", "due"),
    [
        pytest.param([], None, id="undated-first-charge"),
        pytest.param([("payment", 500)], None, id="undated-onto-a-credit-balance"),
        pytest.param([("payment", 500)], TODAY, id="dated-onto-a-credit-balance"),
    ],
)
def test_a_charge_with_nothing_to_settle_touches_no_other_ledger_row(account, post, setup, due):
    from django.test.utils import CaptureQueriesContext

    for type_, amount in setup:
        post(account, type_, amount)
    with CaptureQueriesContext(connection) as queries:
        post(account, "charge", 200, due_date=due, description="charge")
    assert other_ledger_statements(queries) == []
    assert unpaid_parts(account) == ({"charge": 200} if not setup else {})
    assert_figures_match_the_ledger()


@pytest.mark.parametrize("owed", [1, 500])
@pytest.mark.parametrize(
    ("status", "due"),
    [
        ("completed", None),  # a new undated charge comes after every dated one
        ("completed", TODAY + dt.timedelta(days=1)),  # due after everything owed
        ("pending", None),  # completed later: still after every dated debit
        ("pending", TODAY + dt.timedelta(days=1)),
    ],
)
def test_a_debit_newer_than_everything_owed_touches_no_other_ledger_row(account, post, member, owed, status, due):
    """The common case is settled in memory: the new debit is owed in full,
    nothing else changes, no other ledger row is read or written."""
    from django.test.utils import CaptureQueriesContext

    post(account, "charge", owed, due_date=TODAY, description="owed")
    pending = (
        post(account, "charge", 200, status="pending", due_date=due, description="new") if status == "pending" else None
    )
    with CaptureQueriesContext(connection) as queries:
        if pending is None:
            tx = post(account, "charge", 200, due_date=due, description="new")
        else:
            tx = ledger.transaction_set_status(transaction=pending, status="completed", user=member)
    others = [sql for sql in other_ledger_statements(queries) if tx.pk.hex not in sql and str(tx.pk) not in sql]
    assert others == []
    assert unpaid_parts(account) == {"owed": owed, "new": 200}
    assert_figures_match_the_ledger()


def test_a_prepayment_touches_no_other_ledger_row(account, post):
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        post(account, "payment", 500)
    assert other_ledger_statements(queries) == []
    assert fresh(account).balance_cents == -500


def test_a_backdated_charge_reads_the_debits_it_settles_not_the_paid_history(account, post, monkeypatch):
    from django.db.models.query import QuerySet

    for day in range(30):
        post(account, "charge", 100, due_date=dt.date(2026, 1, 1) + dt.timedelta(days=day))
    post(account, "payment", 3_000)
    post(account, "charge", 1_000, due_date=TODAY, description="current")
    read = []
    real_iterator = QuerySet.iterator

    def counting_iterator(queryset, *args, **kwargs):
        for row in real_iterator(queryset, *args, **kwargs):
            read.append(row)
            yield row

    monkeypatch.setattr(QuerySet, "iterator", counting_iterator)
    post(account, "charge", 400, due_date=TODAY - dt.timedelta(days=5), description="backdated")
    monkeypatch.undo()
    assert unpaid_parts(account) == {"current": 1_000, "backdated": 400}
    assert len(read) <= 3  # the two unpaid debits, and the first paid one where the walk stops
    assert_figures_match_the_ledger()


# --- Reading the figures ---------------------------------------------------------------------------------
def test_aging_buckets_are_labelled_for_the_pages():
    from credit import figures

    assert [(b.key, b.label, b.cents, b.percent) for b in figures.EMPTY_AGING.buckets] == [
        ("current", "Current", 0, 0),
        ("1_30", "1-30 days", 0, 0),
        ("31_60", "31-60 days", 0, 0),
        ("61_90", "61-90 days", 0, 0),
        ("90_plus", "Over 90 days", 0, 0),
    ]


def test_nothing_overdue_is_zero(team, account, post):
    from credit import figures

    assert figures.overdue_cents(team=team, today=TODAY) == 0
    post(account, "charge", 500, due_date=TODAY + dt.timedelta(days=1))
    assert figures.overdue_cents(team=team, today=TODAY) == 0
    assert figures.overdue_cents(account_ids=[account.pk], today=TODAY) == 0


def test_a_debit_due_today_is_not_overdue_and_costs_no_query(account, post, django_assert_num_queries):
    from credit import figures

    post(account, "charge", 500, due_date=TODAY)
    account = fresh(account)
    with django_assert_num_queries(0):
        assert figures.account_overdue_cents(account, today=TODAY) == 0
    assert figures.account_overdue_cents(account, today=TODAY + dt.timedelta(days=1)) == 500


def test_overdue_by_account_gives_each_late_accounts_overdue_part_and_oldest_due_date(team, post, make_account):
    from credit import figures

    late, paid_late, current = (make_account(credit_limit_cents=100_000) for _ in range(3))
    post(late, "charge", 300, due_date=TODAY - dt.timedelta(days=40))
    post(late, "charge", 200, due_date=TODAY - dt.timedelta(days=2))
    post(late, "charge", 900, due_date=TODAY + dt.timedelta(days=5))  # not due yet
    post(paid_late, "charge", 400, due_date=TODAY - dt.timedelta(days=9))
    post(paid_late, "payment", 400)
    post(current, "charge", 100, due_date=TODAY)
    rows = {row["account_id"]: row for row in figures.overdue_by_account(today=TODAY)}
    assert rows == {
        late.pk: {"account_id": late.pk, "overdue_cents": 500, "oldest_due_date": TODAY - dt.timedelta(days=40)}
    }


# --- The account lock: one statement, written once -------------------------------------------
def test_the_lock_statement_without_row_locks_or_key_reads_no_ledger_row():
    # SQLite has no FOR UPDATE; without a key the statement has nothing to look up.
    sql = ledger._lock_sql(keyed=False, for_update=False)

    assert sql.endswith("%(customer_id)s")
    assert "NULL AS keyed_tx_id" in sql
    assert "FOR UPDATE" in ledger._lock_sql(keyed=False, for_update=True)


def test_a_posted_row_knows_its_team_without_another_query(account, team, django_assert_num_queries):
    tx = ledger.transaction_post(team=team, customer=account.customer, type="payment", amount_cents=100, user=None)

    with django_assert_num_queries(0):
        assert tx.account.team == team


def test_a_malformed_customer_id_is_not_found(account, team):
    with pytest.raises(NotFound, match="Customer not found"):
        ledger.transaction_post(team=team, customer_id="not-a-uuid", type="charge", amount_cents=100, user=None)
