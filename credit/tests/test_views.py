"""The credit staff pages, through the Django test client."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from credit.models import CreditAccount, CreditLimitChange, CreditTransaction
from credit.tests.factories import CreditAccountFactory
from credit.tests.stripe_fake import (
    PUBLISHABLE_KEY,
    stripe_fake_fixture,  # noqa: F401 - fixture
)
from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def detail_url(account):
    return reverse("credit:account-detail", args=[account.pk])


def record_url(account):
    return reverse("credit:transaction-create", args=[account.pk])


def settings_url(account):
    return reverse("credit:account-settings", args=[account.pk])


def status_url(txn):
    return reverse("credit:transaction-status", args=[txn.account_id, txn.pk])


def charge_form(amount="12.50", **extra):
    data = {
        "txn-type": "charge",
        "txn-amount_cents": amount,
        "txn-description": "Prescription",
        "txn-due_date": "",
        "txn-status": "completed",
        "txn-idempotency_key": "",
    }
    data.update({f"txn-{k}": v for k, v in extra.items()})
    return data


def settings_form(account, **overrides):
    data = {
        "credit_limit_cents": f"{account.credit_limit_cents / 100:.2f}",
        "reason": "",
        "status": account.status,
        "grace_period_days": account.grace_period_days,
        "interest_rate_bps": account.interest_rate_bps,
        "currency": account.currency,
    }
    data.update(overrides)
    return {f"settings-{k}": v for k, v in data.items()}


# --- Accounts list ----------------------------------------------------------------------
def test_list_shows_the_team_accounts_with_balance_utilisation_and_overdue_badge(
    client_as, viewer, account, other_account, post
):
    post(account, "charge", 75_000, due_date=timezone.localdate() - datetime.timedelta(days=3))

    response = client_as(viewer).get(reverse("credit:index"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "$750.00" in html
    assert "$1,000.00" in html
    assert "$250.00" in html
    assert re.search(r'<meter[^>]+value="75000"', html)
    assert "75% used" in html
    assert "Overdue $750.00" in html
    assert "Olga" not in html  # another team's account
    assert "Open an account" not in html  # viewers cannot open accounts


def test_list_filters_by_status_and_searches_customers(client_as, member, team, make_account):
    make_account(customer=CustomerFactory(team=team, first_name="Grace", last_name="Hopper"))
    make_account(customer=CustomerFactory(team=team, first_name="Alan", last_name="Turing"), status="suspended")
    client = client_as(member)

    suspended = client.get(reverse("credit:index"), {"status": "suspended"}).content.decode()
    assert "Alan Turing" in suspended
    assert "Grace Hopper" not in suspended

    searched = client.get(reverse("credit:index"), {"q": "hop"}).content.decode()
    assert "Grace Hopper" in searched
    assert "Alan Turing" not in searched


def test_list_search_as_you_type_returns_the_table_partial(client_as, member, account):
    response = client_as(member).get(reverse("credit:index"), {"q": "love"}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Ada Lovelace" in html
    assert "<html" not in html
    assert '<table class="table stack credit-accounts">' in html  # stacked as cards at phone width


def test_list_with_an_unknown_status_shows_the_filter_error(client_as, member, account):
    response = client_as(member).get(reverse("credit:index"), {"status": "bogus"})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_list_paginates_without_counting(client_as, member, team, make_account, settings):
    from credit import views

    for _ in range(views.ACCOUNTS_PER_PAGE + 2):
        make_account()
    client = client_as(member)

    first = client.get(reverse("credit:index")).content.decode()
    second = client.get(reverse("credit:index"), {"page": 2}).content.decode()

    assert "Next →" in first
    assert "Page 1" in first
    assert "← Previous" in second
    assert "Next →" not in second
    assert second.count("credit/accounts/") == 2


def test_list_queries_do_not_grow_with_the_page_size(client_as, member, team, make_account, monkeypatch, post):
    from credit import views

    for _ in range(6):
        post(make_account(credit_limit_cents=10_000), "charge", 1_000)
    client = client_as(member)
    counts = []
    for size in (2, 6):
        monkeypatch.setattr(views, "ACCOUNTS_PER_PAGE", size)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("credit:index")).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_outsider_sees_only_their_own_team(client_as, outsider, account):
    html = client_as(outsider).get(reverse("credit:index")).content.decode()
    assert "Ada Lovelace" not in html


def test_anonymous_users_are_sent_to_the_login_page(client, account):
    response = client.get(reverse("credit:index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- Account detail ---------------------------------------------------------------------
def test_detail_shows_balance_limit_available_aging_and_transactions(client_as, viewer, account, post):
    post(account, "charge", 30_000, description="Insulin", due_date=timezone.localdate() - datetime.timedelta(days=40))
    post(account, "payment", 5_000, description="Cash")

    response = client_as(viewer).get(detail_url(account))

    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'id="credit-balance">\$250.00<', html)
    assert re.search(r'id="credit-limit">\$1,000.00<', html)
    assert re.search(r'id="credit-available">\$750.00<', html)
    assert "Insulin" in html
    assert "Cash" in html
    assert re.search(r'class="aging-31_60">\s*<th scope="row">31-60 days</th>\s*<td class="num">\$250.00', html)
    assert "Card payments are not set up for this back office yet" in html


def test_viewer_sees_no_write_forms(client_as, viewer, account, post):
    post(account, "charge", 100, status="pending")
    html = client_as(viewer).get(detail_url(account)).content.decode()
    assert "credit-status-actions" not in html  # no status buttons
    assert "Record a transaction" not in html
    assert "Save settings" not in html
    assert "txn-amount_cents" not in html


def test_member_sees_the_record_form_but_not_the_settings(client_as, member, account):
    html = client_as(member).get(detail_url(account)).content.decode()
    assert "Record a transaction" in html
    assert "Save settings" not in html


def test_admin_sees_the_settings_form_and_limit_history(client_as, admin_user, account):
    client = client_as(admin_user)
    client.post(settings_url(account), settings_form(account, credit_limit_cents="2000.00", reason="Good payer"))

    html = client.get(detail_url(account)).content.decode()

    assert "Save settings" in html
    assert "Good payer" in html
    assert "$2,000.00" in html


def test_another_teams_account_is_404(client_as, owner, other_account):
    client = client_as(owner)
    assert client.get(detail_url(other_account)).status_code == 404
    assert client.post(record_url(other_account), charge_form()).status_code == 404
    assert client.post(settings_url(other_account), settings_form(other_account)).status_code == 404


def test_unknown_account_is_404(client_as, owner, team):
    assert client_as(owner).get("/credit/accounts/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_transactions_filter_by_type_status_and_amount(client_as, viewer, account, post):
    post(account, "charge", 10_000, description="Big charge")
    post(account, "charge", 500, description="Small charge")
    post(account, "payment", 2_000, description="A payment")
    post(account, "fee", 300, description="Late fee", status="pending")
    client = client_as(viewer)

    def rows(**params):
        return client.get(detail_url(account), params, **HTMX).content.decode()

    charges = rows(type="charge")
    assert "Big charge" in charges
    assert "Small charge" in charges
    assert "A payment" not in charges
    assert "<html" not in charges
    assert "Late fee" in rows(status="pending")
    assert "Big charge" not in rows(status="pending")
    big = rows(min_amount="50.00")
    assert "Big charge" in big
    assert "Small charge" not in big
    small = rows(max_amount="5.00")
    assert "Small charge" in small
    assert "Late fee" in small
    assert "Big charge" not in small


def test_transactions_filter_by_created_range_and_due_date(client_as, viewer, account, post):
    today = timezone.localdate()
    post(account, "charge", 100, description="Due soon", due_date=today + datetime.timedelta(days=2))
    post(account, "charge", 100, description="Due later", due_date=today + datetime.timedelta(days=60))
    old = post(account, "charge", 100, description="Last year")
    CreditTransaction.objects.filter(pk=old.pk).update(created_at=old.created_at - datetime.timedelta(days=365))
    client = client_as(viewer)

    def rows(**params):
        return client.get(detail_url(account), params, **HTMX).content.decode()

    due = rows(due_before=(today + datetime.timedelta(days=10)).isoformat())
    assert "Due soon" in due
    assert "Due later" not in due
    recent = rows(created_from=today.isoformat(), created_to=today.isoformat())
    assert "Due soon" in recent
    assert "Last year" not in recent
    older = rows(created_to=(today - datetime.timedelta(days=30)).isoformat())
    assert "Last year" in older
    assert "Due soon" not in older


def test_transactions_filter_errors_are_shown(client_as, viewer, account):
    html = client_as(viewer).get(detail_url(account), {"due_before": "not-a-date"}).content.decode()
    assert "Enter a valid date" in html


def test_transactions_paginate_through_the_htmx_partial(client_as, viewer, account, post, monkeypatch):
    from credit import views

    monkeypatch.setattr(views, "TRANSACTIONS_PER_PAGE", 3)
    for n in range(5):
        post(account, "charge", 100 + n, description=f"row-{n}")
    client = client_as(viewer)

    first = client.get(detail_url(account), {"type": "charge"}, **HTMX).content.decode()
    second = client.get(detail_url(account), {"type": "charge", "page": 2}, **HTMX).content.decode()

    assert all(f"row-{n}" in first for n in (4, 3, 2))
    assert "row-1" not in first
    assert "row-1" in second
    assert "row-0" in second
    assert "row-4" not in second
    assert "type=charge&amp;page=2" in first  # the filters survive paging


def test_detail_queries_do_not_grow_with_the_number_of_transactions(client_as, admin_user, account, post, monkeypatch):
    from credit import views

    for n in range(6):
        post(account, "charge", 100 + n)
    client = client_as(admin_user)
    counts = []
    for size in (2, 6):
        monkeypatch.setattr(views, "TRANSACTIONS_PER_PAGE", size)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(detail_url(account)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Recording a transaction -------------------------------------------------------------
def test_member_records_a_charge_and_the_balance_moves(client_as, member, account):
    response = client_as(member).post(record_url(account), charge_form("12.50"), follow=True)

    assert response.status_code == 200
    account.refresh_from_db()
    assert account.balance_cents == 1_250
    txn = account.transactions.get()
    assert (txn.type, txn.amount_cents, txn.status, txn.created_by) == ("charge", 1_250, "completed", member)
    assert "Charge recorded" in response.content.decode()


def test_over_limit_charge_shows_the_credit_limit_error_and_writes_nothing(client_as, member, account):
    response = client_as(member).post(record_url(account), charge_form("1000.01"))

    assert response.status_code == 200
    assert "This charge would exceed the credit limit ($1,000.00 available)." in response.content.decode()
    account.refresh_from_db()
    assert account.balance_cents == 0
    assert not account.transactions.exists()
    assert not ActivityEvent.objects.filter(event_type="credit.transaction.created").exists()


def test_charge_on_a_suspended_account_shows_account_not_active(client_as, member, make_account):
    account = make_account(credit_limit_cents=10_000, status="suspended")
    response = client_as(member).post(record_url(account), charge_form("1.00"))
    assert "The credit account is suspended: only payments and credits can be recorded." in response.content.decode()
    assert not account.transactions.exists()


def test_invalid_amounts_show_the_same_messages_as_the_api(client_as, member, account):
    client = client_as(member)
    zero = client.post(record_url(account), charge_form("0")).content.decode()
    assert "Must be greater than zero." in zero
    negative_adjustment = client.post(record_url(account), charge_form("-5.00", type="adjustment"))
    assert negative_adjustment.status_code == 302
    account.refresh_from_db()
    assert account.balance_cents == -500
    fractions = client.post(record_url(account), charge_form("1.005")).content.decode()
    assert "decimal places" in fractions


def test_submitting_the_same_form_twice_posts_one_transaction(client_as, member, account):
    client = client_as(member)
    form = charge_form("3.00", idempotency_key="web-form-1")
    assert client.post(record_url(account), form).status_code == 302
    assert client.post(record_url(account), form).status_code == 302
    account.refresh_from_db()
    assert account.transactions.count() == 1
    assert account.balance_cents == 300


def test_viewer_cannot_record_transactions(client_as, viewer, account):
    assert client_as(viewer).post(record_url(account), charge_form()).status_code == 403
    assert not account.transactions.exists()


def test_record_url_only_accepts_post(client_as, member, account):
    assert client_as(member).get(record_url(account)).status_code == 405


# --- Marking a pending transaction -------------------------------------------------------
def test_member_completes_a_pending_charge(client_as, member, account, post):
    txn = post(account, "charge", 2_000, status="pending")
    client = client_as(member)
    assert 'name="status" value="completed"' in client.get(detail_url(account)).content.decode()

    response = client.post(status_url(txn), {"status": "completed"}, follow=True)

    txn.refresh_from_db()
    account.refresh_from_db()
    assert txn.status == "completed"
    assert account.balance_cents == 2_000
    assert "Charge marked completed." in response.content.decode()


@pytest.mark.parametrize("target", ["failed", "cancelled"])
def test_member_fails_or_cancels_a_pending_payment(client_as, member, account, post, target):
    txn = post(account, "payment", 2_000, status="pending")
    client_as(member).post(status_url(txn), {"status": target})
    txn.refresh_from_db()
    account.refresh_from_db()
    assert txn.status == target
    assert account.balance_cents == 0


def test_a_completed_transaction_cannot_move_and_the_reason_is_shown(client_as, member, account, post):
    txn = post(account, "charge", 2_000)
    response = client_as(member).post(status_url(txn), {"status": "cancelled"}, follow=True)
    assert "Cannot move from &#x27;completed&#x27; to &#x27;cancelled&#x27;." in response.content.decode()
    txn.refresh_from_db()
    assert txn.status == "completed"


def test_viewer_cannot_change_a_transaction_status(client_as, viewer, account, post):
    txn = post(account, "charge", 2_000, status="pending")
    assert client_as(viewer).post(status_url(txn), {"status": "completed"}).status_code == 403
    txn.refresh_from_db()
    assert txn.status == "pending"


def test_a_transaction_of_another_account_is_404(client_as, member, account, make_account, post):
    txn = post(make_account(credit_limit_cents=10_000), "charge", 100, status="pending")
    url = reverse("credit:transaction-status", args=[account.pk, txn.pk])
    assert client_as(member).post(url, {"status": "completed"}).status_code == 404


# --- Settings -------------------------------------------------------------------------------
def test_admin_changes_the_limit_with_a_reason(client_as, admin_user, account):
    response = client_as(admin_user).post(
        settings_url(account), settings_form(account, credit_limit_cents="2500.00", reason="Reviewed")
    )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.credit_limit_cents == 250_000
    change = CreditLimitChange.objects.get(account=account)
    assert (change.old_limit_cents, change.new_limit_cents, change.reason, change.changed_by) == (
        100_000,
        250_000,
        "Reviewed",
        admin_user,
    )


def test_a_limit_change_needs_a_reason(client_as, admin_user, account):
    response = client_as(admin_user).post(settings_url(account), settings_form(account, credit_limit_cents="1.00"))
    assert response.status_code == 200
    assert "Say why the limit changes" in response.content.decode()
    account.refresh_from_db()
    assert account.credit_limit_cents == 100_000


def test_admin_suspends_and_changes_grace_and_interest(client_as, owner, account):
    client_as(owner).post(
        settings_url(account), settings_form(account, status="suspended", grace_period_days=10, interest_rate_bps=150)
    )
    account.refresh_from_db()
    assert (account.status, account.grace_period_days, account.interest_rate_bps) == ("suspended", 10, 150)


def test_closing_an_account_with_a_balance_is_refused_on_the_form(client_as, admin_user, account, post):
    post(account, "charge", 100)
    response = client_as(admin_user).post(
        settings_url(account), settings_form(account, status="closed", grace_period_days=5)
    )
    assert response.status_code == 200
    assert "Only an account with a zero balance can be closed." in response.content.decode()
    account.refresh_from_db()
    assert account.status == "active"
    assert account.grace_period_days == 30


def test_currency_cannot_change_once_there_are_transactions(client_as, admin_user, account, post):
    post(account, "charge", 100)
    response = client_as(admin_user).post(settings_url(account), settings_form(account, currency="eur"))
    assert "The currency cannot change once the account has transactions." in response.content.decode()
    account.refresh_from_db()
    assert account.currency == "usd"


@pytest.mark.parametrize("user_fixture", ["member", "viewer"])
def test_members_and_viewers_cannot_change_settings(client_as, request, account, user_fixture):
    user = request.getfixturevalue(user_fixture)
    response = client_as(user).post(settings_url(account), settings_form(account, status="suspended"))
    assert response.status_code == 403
    account.refresh_from_db()
    assert account.status == "active"


# --- Saving a card --------------------------------------------------------------------------
def test_card_section_loads_stripe_elements_when_configured(client_as, member, account, settings):
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_123"
    html = client_as(member).get(detail_url(account)).content.decode()
    assert '<script src="https://js.stripe.com/v3/"></script>' in html
    assert "js/credit-card.js" in html
    assert f'data-setup-url="/api/teams/{account.team_id}/credit/setup-intent/"' in html
    assert f'data-customer-id="{account.customer_id}"' in html
    assert "No card saved" in html


def test_card_section_says_when_cards_are_not_configured(client_as, member, account, settings):
    settings.STRIPE_PUBLISHABLE_KEY = ""
    html = client_as(member).get(detail_url(account)).content.decode()
    assert "Card payments are not set up for this back office yet" in html
    assert "js.stripe.com" not in html


def test_a_saved_card_is_shown_as_on_file(client_as, viewer, account):
    CreditAccount.objects.filter(pk=account.pk).update(stripe_payment_method_id="pm_123")
    assert "Card on file" in client_as(viewer).get(detail_url(account)).content.decode()


# --- Opening an account ---------------------------------------------------------------------
def test_admin_opens_an_account_for_a_customer_without_one(client_as, admin_user, team, account):
    grace = CustomerFactory(team=team, first_name="Grace", last_name="Hopper")
    client = client_as(admin_user)

    page = client.get(reverse("credit:account-create")).content.decode()
    assert "Grace Hopper" in page
    assert "Ada Lovelace" not in page  # already has an account

    response = client.post(
        reverse("credit:account-create"),
        {
            "customer": grace.pk,
            "credit_limit_cents": "500.00",
            "grace_period_days": 14,
            "interest_rate_bps": 0,
            "currency": "USD",
        },
    )
    created = CreditAccount.objects.get(customer=grace)
    assert response.status_code == 302
    assert response["Location"] == detail_url(created)
    assert (created.credit_limit_cents, created.grace_period_days, created.currency) == (50_000, 14, "usd")


def test_opening_an_account_for_another_teams_customer_is_refused(client_as, admin_user, team, other_team):
    stranger = CustomerFactory(team=other_team)
    CustomerFactory(team=team)  # someone to choose, so the form is shown
    response = client_as(admin_user).post(
        reverse("credit:account-create"),
        {
            "customer": stranger.pk,
            "credit_limit_cents": "1",
            "grace_period_days": 1,
            "interest_rate_bps": 0,
            "currency": "usd",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not CreditAccount.objects.filter(customer=stranger).exists()


def test_open_account_page_says_when_every_customer_has_one(client_as, owner, account):
    html = client_as(owner).get(reverse("credit:account-create")).content.decode()
    assert "already has a credit account" in html


@pytest.mark.parametrize("user_fixture", ["member", "viewer"])
def test_only_admins_open_accounts(client_as, request, team, user_fixture):
    user = request.getfixturevalue(user_fixture)
    customer = CustomerFactory(team=team)
    client = client_as(user)
    assert client.get(reverse("credit:account-create")).status_code == 403
    assert client.post(reverse("credit:account-create"), {"customer": customer.pk}).status_code == 403
    assert not CreditAccount.objects.exists()


def test_list_shows_open_account_button_to_admins(client_as, admin_user, team):
    assert "Open an account" in client_as(admin_user).get(reverse("credit:index")).content.decode()


def test_factory_accounts_render(client_as, owner, team):
    CreditAccountFactory(team=team, credit_limit_cents=0)
    assert client_as(owner).get(reverse("credit:index")).status_code == 200


def test_the_card_form_gets_a_client_secret_with_the_session_and_csrf_token(member, account, stripe_fake):
    """What credit-card.js does: POST the setup-intent URL of the page with its CSRF token."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    html = client.get(detail_url(account)).content.decode()
    setup_url = re.search(r'data-setup-url="([^"]+)"', html).group(1)
    token = re.search(r'id="credit-card-form".*?name="csrfmiddlewaretoken" value="([^"]+)"', html, re.S).group(1)

    refused = client.post(setup_url, {"customer_id": str(account.customer_id)}, content_type="application/json")
    response = client.post(
        setup_url, {"customer_id": str(account.customer_id)}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    assert refused.status_code == 403
    assert response.status_code in (200, 201)
    body = response.json()
    assert body["client_secret"]
    assert body["publishable_key"] == PUBLISHABLE_KEY


# --- Charging the saved card ----------------------------------------------------------------
@pytest.fixture
def pending_card_payment(account, post):
    CreditAccount.objects.filter(pk=account.pk).update(
        stripe_customer_id="cus_saved", stripe_payment_method_id="pm_card_visa"
    )
    account.refresh_from_db()
    post(account, "charge", 5_000)
    return post(account, "payment", 3_000, status="pending")


def collect_url(txn):
    return reverse("credit:transaction-collect", args=[txn.account_id, txn.pk])


def test_admin_charges_the_saved_card_for_a_pending_payment(client_as, admin_user, pending_card_payment, stripe_fake):
    client = client_as(admin_user)
    assert "Charge saved card" in client.get(detail_url(pending_card_payment.account)).content.decode()

    response = client.post(collect_url(pending_card_payment), follow=True)

    assert "Payment collected from the saved card." in response.content.decode()
    pending_card_payment.refresh_from_db()
    assert pending_card_payment.status == "completed"
    assert CreditAccount.objects.get(pk=pending_card_payment.account_id).balance_cents == 2_000


def test_a_declined_card_is_reported(client_as, admin_user, pending_card_payment, stripe_fake):
    CreditAccount.objects.filter(pk=pending_card_payment.account_id).update(
        stripe_payment_method_id="pm_card_chargeDeclined"
    )
    response = client_as(admin_user).post(collect_url(pending_card_payment), follow=True)
    assert "The card was declined; the payment is marked failed." in response.content.decode()


def test_charging_without_stripe_configured_shows_the_reason(client_as, admin_user, pending_card_payment, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = client_as(admin_user).post(collect_url(pending_card_payment), follow=True)
    assert response.status_code == 200
    assert 'class="message error"' in response.content.decode()
    pending_card_payment.refresh_from_db()
    assert pending_card_payment.status == "pending"


def test_members_cannot_charge_the_saved_card(client_as, member, pending_card_payment):
    client = client_as(member)
    assert "Charge saved card" not in client.get(detail_url(pending_card_payment.account)).content.decode()
    assert client.post(collect_url(pending_card_payment)).status_code == 403
