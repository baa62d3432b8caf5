"""Stripe: the client, saving a card and charging it, against the local fake Stripe server."""

import datetime as dt
import uuid

import pytest
import stripe
from django.utils import timezone
from rest_framework.test import APIClient

from credit import stripe_client
from credit.models import CreditAccount, CreditTransaction
from credit.services import payments
from credit.stripe_client import PaymentProviderError
from credit.tests.stripe_fake import stripe_fake_fixture  # noqa: F401 - fixture
from deelrx.audit.models import ActivityEvent
from deelrx.errors import Conflict
from deelrx.tenancy.tests.factories import CustomerFactory


def test_client_uses_configured_base_and_sends_idempotency_key(stripe_fake):
    client = stripe_client.get_client()
    customer = stripe_client.stripe_call(
        "customer.create",
        client.v1.customers.create,
        params={"email": "ada@example.com", "metadata": {"account_id": "a1"}},
        options={"idempotency_key": "key-1"},
    )
    assert customer.id.startswith("cus_")
    (request,) = stripe_fake.requests_to("POST", "/v1/customers")
    assert request.idempotency_key == "key-1"
    assert request.params == {"email": "ada@example.com", "metadata": {"account_id": "a1"}}
    assert request.headers["authorization"] == "Bearer sk_test_fake"


@pytest.mark.parametrize("status", [500, 429])
def test_transient_failures_are_retried_with_the_same_idempotency_key(stripe_fake, status):
    stripe_fake.fail_next(2, status=status)
    client = stripe_client.get_client()
    customer = stripe_client.stripe_call(
        "customer.create", client.v1.customers.create, params={}, options={"idempotency_key": "key-2"}
    )
    assert customer.id.startswith("cus_")
    requests = stripe_fake.requests_to("POST", "/v1/customers")
    assert len(requests) == 3
    assert {r.idempotency_key for r in requests} == {"key-2"}


def test_retries_give_up_after_the_limit(stripe_fake, settings):
    settings.STRIPE_MAX_RETRIES = 1
    stripe_fake.fail_next(5, status=500)
    client = stripe_client.get_client()
    with pytest.raises(stripe.APIError):
        stripe_client.stripe_call("customer.create", client.v1.customers.create, params={})
    assert len(stripe_fake.requests_to("POST", "/v1/customers")) == 2


def test_client_errors_are_not_retried(stripe_fake):
    client = stripe_client.get_client()
    with pytest.raises(stripe.InvalidRequestError):
        stripe_client.stripe_call("setup_intent.retrieve", client.v1.setup_intents.retrieve, "seti_missing")
    assert len(stripe_fake.requests) == 1


def test_replayed_idempotency_key_returns_the_first_object(stripe_fake):
    client = stripe_client.get_client()
    first = client.v1.customers.create(params={}, options={"idempotency_key": "same"})
    second = client.v1.customers.create(params={}, options={"idempotency_key": "same"})
    assert first.id == second.id


def test_missing_secret_key_is_payments_not_configured(settings):
    settings.STRIPE_SECRET_KEY = ""
    with pytest.raises(stripe_client.PaymentsNotConfigured) as info:
        stripe_client.get_client()
    assert info.value.code == "payments_not_configured"
    assert info.value.status_code == 503


# --- SetupIntent ---------------------------------------------------------------------
def setup_intent_url(team):
    return f"/api/teams/{team.pk}/credit/setup-intent/"


def test_setup_intent_creates_the_stripe_customer_once_and_reuses_it(stripe_fake, api_as, member, account):
    client = api_as(member)
    first = client.post(setup_intent_url(account.team), {"customer_id": str(account.customer_id)})
    assert first.status_code == 200, first.json()
    body = first.json()
    assert body["setup_intent_id"].startswith("seti_")
    assert body["client_secret"].startswith(body["setup_intent_id"] + "_secret")
    assert body["publishable_key"] == "pk_test_fake"

    second = client.post(setup_intent_url(account.team), {"customer_id": str(account.customer_id)})
    assert second.status_code == 200
    assert second.json()["setup_intent_id"] != body["setup_intent_id"]

    (customer_request,) = stripe_fake.requests_to("POST", "/v1/customers")
    assert customer_request.idempotency_key == f"deelrx-credit-account-{account.pk}-customer"
    assert customer_request.params["email"] == "ada@example.com"
    intents = stripe_fake.requests_to("POST", "/v1/setup_intents")
    assert len(intents) == 2
    assert all(r.idempotency_key.startswith(f"deelrx-credit-account-{account.pk}-setup-") for r in intents)
    assert len({r.idempotency_key for r in intents}) == 2
    assert intents[0].params["usage"] == "off_session"
    assert intents[0].params["metadata"]["account_id"] == str(account.pk)

    account.refresh_from_db()
    assert account.stripe_customer_id == customer_request_id(stripe_fake)
    assert all(r.params["customer"] == account.stripe_customer_id for r in intents)
    assert account.stripe_setup_intent_id == second.json()["setup_intent_id"]
    assert ActivityEvent.objects.filter(event_type="credit.setup_intent.created").count() == 2


def customer_request_id(fake):
    return next(obj["id"] for obj in fake.objects.values() if obj["object"] == "customer")


def test_setup_intent_retries_a_stripe_outage(stripe_fake, api_as, member, account):
    stripe_fake.fail_next(2, status=500, path="/v1/setup_intents")
    response = api_as(member).post(setup_intent_url(account.team), {"customer_id": str(account.customer_id)})
    assert response.status_code == 200
    keys = {r.idempotency_key for r in stripe_fake.requests_to("POST", "/v1/setup_intents")}
    assert len(stripe_fake.requests_to("POST", "/v1/setup_intents")) == 3
    assert len(keys) == 1


def test_setup_intent_when_stripe_stays_down_is_502(stripe_fake, api_as, member, account, settings):
    settings.STRIPE_MAX_RETRIES = 1
    stripe_fake.fail_next(5, status=503)
    response = api_as(member).post(setup_intent_url(account.team), {"customer_id": str(account.customer_id)})
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "payment_provider_error"
    account.refresh_from_db()
    assert account.stripe_setup_intent_id == ""


def test_setup_intent_without_stripe_keys_is_503(api_as, member, account, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = api_as(member).post(setup_intent_url(account.team), {"customer_id": str(account.customer_id)})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_not_configured"


def test_setup_intent_roles_and_isolation(stripe_fake, api_as, viewer, outsider, member, account, other_account):
    body = {"customer_id": str(account.customer_id)}
    assert api_as(viewer).post(setup_intent_url(account.team), body).status_code == 403
    assert api_as(outsider).post(setup_intent_url(account.team), body).status_code == 404
    # Another team's customer through my team: 404, nothing sent to Stripe.
    other = {"customer_id": str(other_account.customer_id)}
    response = api_as(member).post(setup_intent_url(account.team), other)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert APIClient().post(setup_intent_url(account.team), body).status_code == 401
    assert stripe_fake.requests == []


def test_setup_intent_validates_the_body(stripe_fake, api_as, member, account):
    response = api_as(member).post(setup_intent_url(account.team), {"customer_id": "nope"})
    assert response.status_code == 400
    assert "customer_id" in response.json()["error"]["details"]


def test_setup_intent_for_a_customer_without_account_is_404(stripe_fake, api_as, member, team):
    customer = CustomerFactory(team=team)
    response = api_as(member).post(setup_intent_url(team), {"customer_id": str(customer.pk)})
    assert response.status_code == 404


# --- Charging the saved card -----------------------------------------------------------
def collect_url(txn):
    return f"/api/teams/{txn.team_id}/credit/transactions/{txn.pk}/collect/"


@pytest.fixture
def card_account(account):
    account.stripe_customer_id = "cus_saved"
    account.stripe_payment_method_id = "pm_card_visa"
    account.save()
    return account


@pytest.fixture
def pending_payment(card_account, post):
    post(card_account, "charge", 5_000)
    return post(card_account, "payment", 3_000, status="pending", description="Card payment")


def test_collect_charges_the_saved_card_and_completes_the_payment(stripe_fake, api_as, admin_user, pending_payment):
    response = api_as(admin_user).post(collect_url(pending_payment))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "completed"
    assert body["attempt_count"] == 1
    assert body["balance_after_cents"] == 2_000
    assert body["stripe_payment_intent_id"].startswith("pi_")

    (request,) = stripe_fake.requests_to("POST", "/v1/payment_intents")
    assert request.idempotency_key == f"deelrx-credit-txn-{pending_payment.pk}-attempt-1"
    assert request.params["amount"] == "3000"
    assert request.params["currency"] == "usd"
    assert request.params["customer"] == "cus_saved"
    assert request.params["payment_method"] == "pm_card_visa"
    assert request.params["off_session"] == "true"
    assert request.params["confirm"] == "true"
    assert request.params["metadata"]["transaction_id"] == str(pending_payment.pk)
    account = CreditAccount.objects.get(pk=pending_payment.account_id)
    assert account.balance_cents == 2_000
    assert account.last_payment_at is not None


def test_collect_retries_a_500_with_the_same_key_then_succeeds(stripe_fake, pending_payment, admin_user):
    stripe_fake.fail_next(1, status=500, path="/v1/payment_intents")
    txn = payments.saved_card_charge(transaction=pending_payment, user=admin_user)
    assert txn.status == "completed"
    requests = stripe_fake.requests_to("POST", "/v1/payment_intents")
    assert len(requests) == 2
    assert requests[0].idempotency_key == requests[1].idempotency_key
    assert txn.attempt_count == 1


def test_a_declined_card_fails_the_payment(stripe_fake, pending_payment, admin_user):
    account = pending_payment.account
    account.stripe_payment_method_id = "pm_card_chargeDeclined"
    account.save()
    txn = payments.saved_card_charge(transaction=pending_payment, user=admin_user)
    assert txn.status == "failed"
    assert txn.stripe_payment_intent_id.startswith("pi_")
    account.refresh_from_db()
    assert account.balance_cents == 5_000
    assert (
        ActivityEvent.objects.filter(event_type="credit.payment.charge_result").get().event_data["decline_code"]
        == "card_declined"
    )


def test_provider_outage_keeps_the_payment_pending_with_the_attempt_counted(
    stripe_fake, pending_payment, admin_user, settings
):
    settings.STRIPE_MAX_RETRIES = 0
    stripe_fake.fail_next(1, status=500)
    with pytest.raises(PaymentProviderError):
        payments.saved_card_charge(transaction=pending_payment, user=admin_user)
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"
    assert pending_payment.attempt_count == 1
    assert pending_payment.last_attempt_at is not None
    # Right away: refused, the first attempt may still be running at Stripe.
    with pytest.raises(Conflict) as info:
        payments.saved_card_charge(transaction=pending_payment, user=admin_user)
    assert info.value.code == "payment_in_progress"
    # Later: a new attempt with a new key.
    CreditTransaction.objects.filter(pk=pending_payment.pk).update(
        last_attempt_at=timezone.now() - dt.timedelta(minutes=3)
    )
    txn = payments.saved_card_charge(transaction=pending_payment, user=admin_user)
    assert txn.status == "completed"
    assert stripe_fake.requests_to("POST", "/v1/payment_intents")[-1].idempotency_key.endswith("-attempt-2")


def test_collect_refuses_what_cannot_be_charged(stripe_fake, api_as, admin_user, account, card_account, post):
    completed = post(card_account, "payment", 100)
    response = api_as(admin_user).post(collect_url(completed))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"

    charge = post(card_account, "charge", 100, status="pending")
    response = api_as(admin_user).post(collect_url(charge))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_a_payment"

    card_account.stripe_payment_method_id = ""
    card_account.save()
    pending = post(card_account, "payment", 100, status="pending")
    response = api_as(admin_user).post(collect_url(pending))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "no_saved_payment_method"
    assert stripe_fake.requests == []


def test_collect_roles_and_isolation(stripe_fake, api_as, member, outsider, admin_user, pending_payment, other_account):
    assert api_as(member).post(collect_url(pending_payment)).status_code == 403
    assert api_as(outsider).post(collect_url(pending_payment)).status_code == 404
    other_url = f"/api/teams/{pending_payment.team_id}/credit/transactions/{uuid.uuid4()}/collect/"
    assert api_as(admin_user).post(other_url).status_code == 404
    assert api_as(admin_user).post(other_url.replace(str(other_url.split("/")[-3]), "not-a-uuid")).status_code == 404
    assert stripe_fake.requests == []


def test_collect_without_stripe_is_503(api_as, admin_user, pending_payment, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = api_as(admin_user).post(collect_url(pending_payment))
    assert response.status_code == 503
    pending_payment.refresh_from_db()
    assert pending_payment.attempt_count == 0


def test_a_payment_whose_intent_is_processing_cannot_be_collected_again(
    stripe_fake, api_as, admin_user, pending_payment
):
    CreditTransaction.objects.filter(pk=pending_payment.pk).update(stripe_payment_intent_id="pi_processing")
    response = api_as(admin_user).post(collect_url(pending_payment))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "payment_in_progress"
    assert stripe_fake.requests == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_collections_charge_once(stripe_fake, pending_payment, admin_user):
    from credit.tests.test_webhooks import _in_threads

    results = _in_threads(3, lambda: payments.saved_card_charge(transaction=pending_payment, user=admin_user))
    assert len([r for r in results if isinstance(r, CreditTransaction)]) == 1
    # The others find it in progress, or (when they come late) already completed.
    refused = [r for r in results if not isinstance(r, CreditTransaction)]
    assert all(isinstance(r, Conflict) for r in refused), refused
    assert {r.code for r in refused} <= {"payment_in_progress", "invalid_transition"}
    assert len(stripe_fake.requests_to("POST", "/v1/payment_intents")) == 1
    pending_payment.refresh_from_db()
    assert pending_payment.status == "completed"
    assert pending_payment.attempt_count == 1
