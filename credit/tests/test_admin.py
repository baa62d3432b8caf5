"""Django admin of credit: pages load, ledger fields are read-only, history is
append-only, and the actions go through the services."""

import pytest
from django.urls import reverse

from credit.models import (
    CreditAccount,
    CreditLimitChange,
    CreditTeamPolicy,
    IdempotencyRecord,
    PaymentReminder,
    StripeEvent,
)
from deelrx.audit.models import ActivityEvent

pytestmark = pytest.mark.django_db

MODELS = [
    "creditaccount",
    "credittransaction",
    "creditlimitchange",
    "creditteampolicy",
    "idempotencyrecord",
    "stripeevent",
    "paymentreminder",
]


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def records(team, account, post, admin_user):
    """One row of every credit model."""
    from django.utils import timezone

    from credit.services import accounts

    txn = post(account, "charge", 5_000, description="Insulin")
    accounts.credit_limit_change(account=account, new_limit_cents=200_000, user=admin_user, reason="Review")
    CreditTeamPolicy.objects.create(team=team)
    IdempotencyRecord.objects.create(team=team, key="k1", fingerprint="f" * 64, expires_at=timezone.now())
    StripeEvent.objects.create(event_id="evt_1", type="setup_intent.succeeded")
    PaymentReminder.objects.create(transaction=txn, stage="due_in_7", sent_at=timezone.now())
    return {"txn": txn}


@pytest.mark.parametrize("model", MODELS)
def test_changelists_load_and_search(admin_client, records, model):
    url = reverse(f"admin:credit_{model}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "a"}).status_code == 200


def test_change_pages_load(admin_client, records, account):
    objects = {
        "creditaccount": account,
        "credittransaction": records["txn"],
        "creditlimitchange": CreditLimitChange.objects.get(),
        "creditteampolicy": CreditTeamPolicy.objects.get(),
        "idempotencyrecord": IdempotencyRecord.objects.get(),
        "stripeevent": StripeEvent.objects.get(),
        "paymentreminder": PaymentReminder.objects.get(),
    }
    for model, obj in objects.items():
        response = admin_client.get(reverse(f"admin:credit_{model}_change", args=[obj.pk]))
        assert response.status_code == 200, model


def test_account_list_shows_money_in_the_account_currency(admin_client, account, post):
    post(account, "charge", 123_45)
    html = admin_client.get(reverse("admin:credit_creditaccount_changelist")).content.decode()
    assert "$123.45" in html
    assert "Ada Lovelace" in html


def test_balances_limits_and_status_cannot_be_edited_by_hand(admin_client, account, post):
    post(account, "charge", 5_000)
    url = reverse("admin:credit_creditaccount_change", args=[account.pk])
    html = admin_client.get(url).content.decode()
    assert 'name="balance_cents"' not in html
    assert 'name="credit_limit_cents"' not in html
    assert 'name="status"' not in html
    assert 'name="grace_period_days"' in html

    response = admin_client.post(
        url,
        {
            "grace_period_days": 15,
            "interest_rate_bps": 0,
            "balance_cents": 0,
            "credit_limit_cents": 99_999_999,
            "status": "closed",
        },
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.balance_cents, account.credit_limit_cents, account.status) == (5_000, 100_000, "active")
    assert account.grace_period_days == 15
    assert ActivityEvent.objects.filter(event_type="admin.creditaccount.changed").exists()


def test_accounts_cannot_be_added_or_deleted_in_the_admin(admin_client, account):
    assert admin_client.get(reverse("admin:credit_creditaccount_add")).status_code == 403
    assert admin_client.get(reverse("admin:credit_creditaccount_delete", args=[account.pk])).status_code == 403


def test_transactions_are_append_only(admin_client, account, post):
    txn = post(account, "charge", 5_000)
    assert admin_client.get(reverse("admin:credit_credittransaction_add")).status_code == 403
    assert admin_client.get(reverse("admin:credit_credittransaction_delete", args=[txn.pk])).status_code == 403

    url = reverse("admin:credit_credittransaction_change", args=[txn.pk])
    html = admin_client.get(url).content.decode()
    for field in ("amount_cents", "balance_after_cents", "status", "type", "account"):
        assert f'name="{field}"' not in html
    assert 'name="description"' in html

    admin_client.post(url, {"description": "Corrected text", "amount_cents": 1, "status": "cancelled"})
    txn.refresh_from_db()
    assert (txn.description, txn.amount_cents, txn.status) == ("Corrected text", 5_000, "completed")


@pytest.mark.parametrize("model", ["creditlimitchange", "stripeevent", "paymentreminder"])
def test_history_records_cannot_be_added(admin_client, model):
    assert admin_client.get(reverse(f"admin:credit_{model}_add")).status_code == 403


def test_suspend_and_reactivate_actions_use_the_service(admin_client, make_account):
    first, second = make_account(), make_account()
    url = reverse("admin:credit_creditaccount_changelist")

    response = admin_client.post(
        url, {"action": "suspend_selected", "_selected_action": [first.pk, second.pk]}, follow=True
    )

    assert "2 account(s) suspended." in response.content.decode()
    assert set(CreditAccount.objects.values_list("status", flat=True)) == {"suspended"}
    assert ActivityEvent.objects.filter(event_type="credit.account.status_changed").count() == 2

    admin_client.post(url, {"action": "reactivate_selected", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == "active"


def test_action_failures_are_reported(admin_client, make_account, admin_user):
    from credit.services import accounts

    closed = accounts.account_set_status(account=make_account(), status="closed", user=admin_user)
    active = make_account()

    response = admin_client.post(
        reverse("admin:credit_creditaccount_changelist"),
        {"action": "reactivate_selected", "_selected_action": [closed.pk, active.pk]},
        follow=True,
    )

    html = response.content.decode()
    assert "A closed account is final." in html
    closed.refresh_from_db()
    assert closed.status == "closed"


def test_pending_transaction_actions_use_the_ledger(admin_client, account, post):
    pending = post(account, "charge", 2_000, status="pending")
    done = post(account, "charge", 1_000)

    response = admin_client.post(
        reverse("admin:credit_credittransaction_changelist"),
        {"action": "mark_completed", "_selected_action": [pending.pk, done.pk]},
        follow=True,
    )

    html = response.content.decode()
    assert "1 transaction(s) marked completed." in html
    assert "Cannot move from" in html
    account.refresh_from_db()
    assert account.balance_cents == 3_000


def test_account_pages_show_balance_pending_and_available_like_the_api(admin_client, account, post):
    post(account, "charge", 2_000)
    post(account, "fee", 300, status="pending")
    html = admin_client.get(reverse("admin:credit_creditaccount_changelist")).content.decode()
    assert "$20.00" in html  # balance
    assert "$3.00" in html  # pending
    assert "$977.00" in html  # available: 1,000.00 - 20.00 - 3.00
    change = admin_client.get(reverse("admin:credit_creditaccount_change", args=[account.pk])).content.decode()
    assert "$977.00" in change
