"""Regressions found by driving the running app (API, UI and jobs) by hand."""

import datetime as dt

import pytest
from django.utils import timezone

from credit.figures import figures_recompute
from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction
from credit.services import accounts
from credit.services.limits import limit_adjustment_run
from credit.services.overdue import overdue_check
from deelrx.audit.models import ActivityEvent
from deelrx.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def today() -> dt.date:
    # Per test, not at import: a session crossing midnight must not mix two days.
    return timezone.localdate()


def transactions_url(team):
    return f"/api/teams/{team.id}/credit/transactions/"


# --- Amounts beyond the 64-bit columns were a 500 -----------------------------------
@pytest.mark.parametrize(
    ("type_", "amount"),
    [("payment", 10**19), ("adjustment", -(10**19)), ("charge", 10**30), ("payment", MAX_AMOUNT_CENTS + 1)],
)
def test_huge_amounts_are_400_not_500(api_as, member, team, account, type_, amount):
    body = {"customer_id": str(account.customer_id), "type": type_, "amount_cents": amount}
    response = api_as(member).post(transactions_url(team), body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert "amount_cents" in response.json()["error"]["details"]
    assert not CreditTransaction.objects.exists()


def test_the_largest_amount_is_accepted(api_as, member, team, account):
    body = {"customer_id": str(account.customer_id), "type": "payment", "amount_cents": MAX_AMOUNT_CENTS}
    assert api_as(member).post(transactions_url(team), body, format="json").status_code == 201


def test_huge_limit_is_400_not_500(api_as, admin_user, team, account):
    body = {"customer_id": str(account.customer_id), "credit_limit_cents": 10**19}
    response = api_as(admin_user).put(f"/api/teams/{team.id}/credit/", body, format="json")
    assert response.status_code == 400
    assert "credit_limit_cents" in response.json()["error"]["details"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("credit_limit_cents", MAX_AMOUNT_CENTS + 1), ("grace_period_days", 10**10), ("interest_rate_bps", 10**10)],
)
def test_services_refuse_values_beyond_the_bounds(team, customer, admin_user, field, value):
    with pytest.raises(ValidationFailed) as excinfo:
        accounts.account_upsert(team=team, customer=customer, user=admin_user, **{field: value})
    assert field in excinfo.value.details


def test_ledger_service_refuses_amounts_beyond_the_bound(account, post):
    with pytest.raises(ValidationFailed):
        post(account, "payment", MAX_AMOUNT_CENTS + 1)


def test_web_form_refuses_amounts_beyond_the_bound(client_as, member, account):
    response = client_as(member).post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": "payment", "txn-amount_cents": "99999999999999", "txn-status": "completed"},
    )
    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 10000000000" in response.content.decode()
    assert not CreditTransaction.objects.exists()


# --- Wrong JSON types were coerced or ignored ------------------------------------------
@pytest.mark.parametrize("amount", ["100", 100.0, True])
def test_amount_must_be_a_json_integer(api_as, member, team, account, amount):
    body = {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": amount}
    response = api_as(member).post(transactions_url(team), body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["amount_cents"] == ["A valid integer is required."]


def test_form_encoded_amounts_still_work(api_as, member, team, account):
    body = {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": "100"}
    response = api_as(member).post(transactions_url(team), body, format="multipart")
    assert response.status_code == 201
    assert response.json()["amount_cents"] == 100


@pytest.mark.parametrize("field", ["credit_limit_cents", "grace_period_days", "interest_rate_bps"])
def test_account_numbers_must_be_json_integers(api_as, admin_user, team, account, field):
    body = {"customer_id": str(account.customer_id), field: "10"}
    response = api_as(admin_user).put(f"/api/teams/{team.id}/credit/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


@pytest.mark.parametrize("key", [5, ["k"], {"k": 1}])
def test_a_non_string_body_idempotency_key_is_400_not_ignored(api_as, member, team, account, key):
    body = {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": 100, "idempotency_key": key}
    response = api_as(member).post(transactions_url(team), body, format="json")
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["details"]
    assert not CreditTransaction.objects.exists()


# --- The collect endpoint answered a different transaction shape ---------------------------
def test_collected_transaction_has_the_api_transaction_fields():
    from credit.api.serializers import CreditTransactionOutputSerializer
    from credit.api.stripe_serializers import CollectedTransactionSerializer

    fields = set(CollectedTransactionSerializer().fields)
    assert set(CreditTransactionOutputSerializer().fields) <= fields
    assert {"attempt_count", "last_attempt_at"} <= fields


# --- "No late payment in 6 months" forgot late payers who had no reminder email -------------
def _late_then_paid(account, post, today):
    """A $900 charge 10 days late (customer without email: no reminder), then paid and charged again."""
    account.customer.email = ""
    account.customer.save(update_fields=["email"])
    post(account, "charge", 90_000, due_date=today - dt.timedelta(days=10))


def test_the_overdue_check_records_late_history(account, post, today):
    _late_then_paid(account, post, today)
    overdue_check(today=today)
    account.refresh_from_db()
    assert account.last_overdue_on == today
    event = ActivityEvent.objects.get(event_type="credit.account.late_recorded")
    assert event.team_id == account.team_id
    assert event.event_data["account_ids"] == [str(account.pk)]
    # A second run the same day changes nothing and records nothing.
    assert overdue_check(today=today)["suspended"] == 0
    assert ActivityEvent.objects.filter(event_type="credit.account.late_recorded").count() == 1


def test_dry_run_records_no_late_history(account, post, today):
    _late_then_paid(account, post, today)
    overdue_check(today=today, dry_run=True)
    account.refresh_from_db()
    assert account.last_overdue_on is None


def test_a_recent_late_payer_is_not_raised_after_paying(account, post, today):
    _late_then_paid(account, post, today)
    overdue_check(today=today)
    post(account, "payment", 90_000)
    post(account, "charge", 90_000, due_date=today + dt.timedelta(days=20))  # 90% in use, nothing past due
    later = today + dt.timedelta(days=14)
    summary = limit_adjustment_run(today=later)
    assert summary["raised"] == 0
    assert CreditAccount.objects.get(pk=account.pk).credit_limit_cents == 100_000
    # Six months after the last late day, good behaviour earns a raise again.
    much_later = today + dt.timedelta(days=200)
    ledger_rows = CreditTransaction.objects.filter(account=account, due_date__isnull=False)
    ledger_rows.update(due_date=much_later + dt.timedelta(days=5))
    figures_recompute(account_ids=[account.pk])  # rows rewritten directly: refresh their maintained figures
    assert limit_adjustment_run(today=much_later)["raised"] == 1


def test_the_limit_job_records_late_history_too(account, post, today):
    _late_then_paid(account, post, today)
    limit_adjustment_run(today=today)
    account.refresh_from_db()
    assert account.last_overdue_on == today


# --- The over-limit message now says what is still available --------------------------------
def test_over_limit_message_names_what_is_available(account, post):
    from deelrx.errors import BusinessRuleViolation

    post(account, "charge", 30_000)
    with pytest.raises(BusinessRuleViolation) as excinfo:
        post(account, "charge", 80_000)
    assert excinfo.value.message == "This charge would exceed the credit limit ($700.00 available)."
    post(account, "charge", 20_000, status="pending")
    with pytest.raises(BusinessRuleViolation) as excinfo:
        post(account, "charge", 60_000)
    assert excinfo.value.message == (
        "This charge would exceed the credit limit ($500.00 available after pending charges)."
    )


# --- UI: a payment's minus sign wrapped onto its own line in narrow columns ---------------------
def test_payment_amount_keeps_its_minus_on_the_same_line(client_as, viewer, account, post):
    post(account, "charge", 10_000)
    post(account, "payment", 10_000)
    html = client_as(viewer).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert "\u2212&#8288;$100.00" in html  # a real minus sign, then the word joiner


# --- UI: the card panel explains why no card can be saved (setting names for operators only) -----
def test_card_panel_says_why_no_card_can_be_saved(client_as, member, viewer, superuser, account, settings):
    settings.STRIPE_PUBLISHABLE_KEY = ""
    html = client_as(member).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert "Card payments are not set up for this back office yet" in html
    assert "STRIPE_" not in html  # shop staff are not told environment variable names (issue 11)
    assert "Record payments received by other means" in html
    html = client_as(superuser).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert "STRIPE_PUBLISHABLE_KEY" in html
    html = client_as(viewer).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert "Record payments received by other means" not in html


# --- UI: a huge ?page= overflowed the database OFFSET (500) -----------------------------------
@pytest.mark.parametrize("path", ["/credit/", "/credit/accounts/{pk}/"])
def test_huge_page_numbers_are_not_a_server_error(client_as, viewer, account, path):
    response = client_as(viewer).get(path.format(pk=account.pk), {"page": "9" * 30})
    assert response.status_code == 200


def test_huge_page_number_on_the_api_is_400(api_as, viewer, team, account):
    response = api_as(viewer).get(f"/api/teams/{team.id}/credit/", {"page": "9" * 30})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "page" in response.json()["error"]["details"]


# --- Messages and reasons in staff terms --------------------------------------------------------
def test_refused_debit_says_what_is_still_possible(account, post, admin_user):
    from deelrx.errors import BusinessRuleViolation

    accounts.account_set_status(account=account, status="suspended", user=admin_user)
    with pytest.raises(BusinessRuleViolation) as excinfo:
        post(account, "charge", 100)
    assert excinfo.value.message == "The credit account is suspended: only payments and credits can be recorded."


def test_automatic_reasons_name_money_not_cents(account, post, today):
    from credit.models import CreditLimitChange

    post(account, "charge", 90_000, due_date=today - dt.timedelta(days=45))
    overdue_check(today=today)
    limit_adjustment_run(today=today)
    change = CreditLimitChange.objects.get(account=account, source="automatic")
    assert change.reason == "Automatic: $900.00 past due for 45 days."
    status_event = ActivityEvent.objects.get(event_type="credit.account.status_changed")
    assert "$900.00 overdue" in status_event.event_data["reason"]


# --- Jobs stay set-based: queries do not grow with the number of accounts --------------------
@pytest.mark.parametrize("job", ["overdue", "limits"])
def test_job_queries_do_not_grow_with_accounts(make_account, post, job, today):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run = {"overdue": overdue_check, "limits": limit_adjustment_run}[job]

    def add_accounts(count):
        for _ in range(count):
            account = make_account(credit_limit_cents=100_000)
            post(account, "charge", 10_000, due_date=today + dt.timedelta(days=10))  # 10% used, not due

    def queries():
        run(today=today)  # settle whatever the first run changes
        with CaptureQueriesContext(connection) as ctx:
            run(today=today)
        return len(ctx.captured_queries)

    add_accounts(2)
    few = queries()
    add_accounts(6)
    assert queries() == few


# --- UI: a form resubmitted with other values was stuck on "key already used" -----------------
def test_a_reused_form_gets_a_fresh_key_and_can_record_the_new_values(client_as, member, account):
    import re

    client = client_as(member)
    url = f"/credit/accounts/{account.pk}/transactions/"
    form = {"txn-type": "charge", "txn-status": "completed", "txn-idempotency_key": "web-form-1"}
    assert client.post(url, {**form, "txn-amount_cents": "10.00"}).status_code == 302
    # The same form again with the same values: the first row, not a second one.
    assert client.post(url, {**form, "txn-amount_cents": "10.00"}).status_code == 302
    assert account.transactions.count() == 1

    # Back button, other amount, submit: explained, nothing written, and a fresh key in the form.
    response = client.post(url, {**form, "txn-amount_cents": "20.00"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "This form was already used to record a transaction" in html
    assert account.transactions.count() == 1
    fresh = re.search(r'name="txn-idempotency_key" value="([^"]+)"', html).group(1)
    assert fresh != "web-form-1"

    assert client.post(url, {**form, "txn-amount_cents": "20.00", "txn-idempotency_key": fresh}).status_code == 302
    assert sorted(account.transactions.values_list("amount_cents", flat=True)) == [1_000, 2_000]


# --- UI: a closed account still offered forms that could only fail -----------------------------
def test_closed_account_page_offers_no_forms_that_must_fail(client_as, owner, account, admin_user):
    accounts.account_set_status(account=account, status="closed", user=admin_user)
    html = client_as(owner).get(f"/credit/accounts/{account.pk}/").content.decode()
    assert 'id="closed-note"' in html
    assert "Closing is final" in html
    assert 'id="record"' not in html
    assert 'id="settings"' not in html
    # the POST itself is still refused by the service, whatever the page shows
    response = client_as(owner).post(
        f"/credit/accounts/{account.pk}/transactions/",
        {"txn-type": "payment", "txn-amount_cents": "5", "txn-status": "completed"},
    )
    assert "The credit account is closed: nothing can be posted to it." in response.content.decode()
    assert not account.transactions.exists()
