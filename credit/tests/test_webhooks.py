"""The Stripe webhook: signed with the real library's scheme, applied once per event id."""

import pytest
import stripe

from credit.models import CreditAccount, CreditTransaction, StripeEvent
from credit.tests.stripe_fake import (
    WEBHOOK_SECRET,
    signed_event,
    stripe_fake_fixture,  # noqa: F401 - fixture
)
from deelrx.audit.models import ActivityEvent

URL = "/api/stripe/webhook/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def deliver(client, payload: bytes, header: str):
    return client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def setup_intent_object(*, intent_id="seti_1", payment_method="pm_card_visa", customer="cus_1", metadata=None):
    return {
        "id": intent_id,
        "object": "setup_intent",
        "status": "succeeded",
        "usage": "off_session",
        "customer": customer,
        "payment_method": payment_method,
        "metadata": metadata or {},
    }


def payment_intent_object(*, intent_id="pi_1", amount=3_000, metadata=None, status="succeeded"):
    return {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "currency": "usd",
        "status": status,
        "metadata": metadata or {},
    }


def ours(account) -> dict:
    """The metadata `payments._stripe_setup_intent` puts on the SetupIntents this app creates."""
    return {"account_id": str(account.pk), "team_id": str(account.team_id)}


@pytest.fixture
def intent_account(account):
    account.stripe_customer_id = "cus_1"
    account.stripe_setup_intent_id = "seti_1"
    account.save()
    return account


def test_setup_intent_succeeded_stores_the_payment_method(client, intent_account):
    data = setup_intent_object(metadata=ours(intent_account))
    payload, header = signed_event("setup_intent.succeeded", data, event_id="evt_1")
    response = deliver(client, payload, header)
    assert response.status_code == 200
    assert response.json() == {"received": True, "outcome": "processed"}
    intent_account.refresh_from_db()
    assert intent_account.stripe_payment_method_id == "pm_card_visa"
    assert StripeEvent.objects.get().event_id == "evt_1"
    assert ActivityEvent.objects.filter(event_type="credit.payment_method.saved").count() == 1


def test_setup_intent_matched_by_metadata_when_the_id_was_not_stored(client, account):
    data = setup_intent_object(intent_id="seti_other", customer="cus_9", metadata=ours(account))
    response = deliver(client, *signed_event("setup_intent.succeeded", data))
    assert response.json()["outcome"] == "processed"
    account.refresh_from_db()
    assert account.stripe_payment_method_id == "pm_card_visa"
    assert account.stripe_customer_id == "cus_9"


def test_setup_intent_with_an_expanded_payment_method(client, intent_account):
    data = setup_intent_object(
        payment_method={"id": "pm_expanded", "object": "payment_method"}, metadata=ours(intent_account)
    )
    deliver(client, *signed_event("setup_intent.succeeded", data))
    intent_account.refresh_from_db()
    assert intent_account.stripe_payment_method_id == "pm_expanded"


def test_setup_intent_for_an_unknown_account_is_ignored(client, intent_account):
    data = setup_intent_object(intent_id="seti_unknown", metadata={"account_id": "not-a-uuid"})
    response = deliver(client, *signed_event("setup_intent.succeeded", data))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    intent_account.refresh_from_db()
    assert intent_account.stripe_payment_method_id == ""


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"account_id": "{account}"},
        {"team_id": "{team}"},
        {"account_id": "{account}", "team_id": "{other_team}"},
        {"account_id": "{other_account}", "team_id": "{team}"},
        {"account_id": "{account}", "team_id": "٣"},
        {"account_id": ["{account}"], "team_id": "{team}"},
    ],
    ids=["none", "no-team", "no-account", "other-team", "other-account", "other-digits", "not-text"],
)
def test_a_setup_intent_without_this_apps_metadata_is_ignored(client, account, other_account, caplog, metadata):
    names = {
        "account": account.pk,
        "team": account.team_id,
        "other_team": other_account.team_id,
        "other_account": other_account.pk,
    }

    def fill(value):
        return [fill(v) for v in value] if isinstance(value, list) else value.format(**names)

    data = setup_intent_object(metadata={key: fill(value) for key, value in metadata.items()})
    response = deliver(client, *signed_event("setup_intent.succeeded", data))
    assert response.json()["outcome"] == "ignored"
    for row in (account, other_account):
        row.refresh_from_db()
        assert row.stripe_payment_method_id == ""
        assert row.stripe_customer_id == ""
    assert any("ignored" in record.getMessage() for record in caplog.records)


def test_a_setup_intent_for_another_stripe_customer_is_ignored(client, intent_account, caplog):
    data = setup_intent_object(customer="cus_someone_else", metadata=ours(intent_account))
    response = deliver(client, *signed_event("setup_intent.succeeded", data))
    assert response.json()["outcome"] == "ignored"
    intent_account.refresh_from_db()
    assert intent_account.stripe_payment_method_id == ""
    assert intent_account.stripe_customer_id == "cus_1"
    assert "another stripe customer" in caplog.text


@pytest.mark.parametrize("stripe_customer", [None, "", {"object": "customer"}])
def test_a_setup_intent_without_a_customer_is_ignored(client, account, stripe_customer):
    data = setup_intent_object(customer=stripe_customer, metadata=ours(account))
    assert deliver(client, *signed_event("setup_intent.succeeded", data)).json()["outcome"] == "ignored"
    account.refresh_from_db()
    assert account.stripe_payment_method_id == ""


def test_the_setup_intents_this_app_creates_carry_its_metadata(stripe_fake, api_as, member, account):
    api_as(member).post(f"/api/teams/{account.team_id}/credit/setup-intent/", {"customer_id": str(account.customer_id)})
    (created,) = stripe_fake.requests_to("POST", "/v1/setup_intents")
    assert created.params["metadata"] == ours(account)


def test_a_bad_signature_is_400_and_changes_nothing(client, intent_account):
    payload, _ = signed_event("setup_intent.succeeded", setup_intent_object())
    _, forged = signed_event("setup_intent.succeeded", setup_intent_object(), secret="whsec_wrong")
    for header in (forged, "", "t=1,v1=deadbeef", "garbage"):
        response = deliver(client, payload, header)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_signature"
    intent_account.refresh_from_db()
    assert intent_account.stripe_payment_method_id == ""
    assert not StripeEvent.objects.exists()


def test_a_tampered_body_is_400(client, intent_account):
    payload, header = signed_event("setup_intent.succeeded", setup_intent_object())
    tampered = payload.replace(b"pm_card_visa", b"pm_attacker")
    assert deliver(client, tampered, header).status_code == 400


def test_an_old_signature_is_refused(client, intent_account):
    payload = b'{"id": "evt_old", "object": "event", "type": "ping", "data": {"object": {}}}'
    header = stripe.WebhookSignature.generate_signature_header(payload.decode(), WEBHOOK_SECRET, timestamp=1)
    assert deliver(client, payload, header).status_code == 400


def test_without_a_webhook_secret_the_webhook_is_503(client, settings, intent_account):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = deliver(client, *signed_event("setup_intent.succeeded", setup_intent_object()))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_not_configured"


@pytest.fixture
def pending_payment(account, post):
    post(account, "charge", 5_000)
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_1")
    return payment


def test_payment_intent_succeeded_completes_the_payment(client, pending_payment):
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object()))
    assert response.json()["outcome"] == "processed"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "completed"
    assert pending_payment.balance_after_cents == 2_000
    assert CreditAccount.objects.get(pk=pending_payment.account_id).balance_cents == 2_000


def test_payment_intent_failed_fails_the_payment(client, pending_payment):
    data = payment_intent_object(status="requires_payment_method")
    response = deliver(client, *signed_event("payment_intent.payment_failed", data))
    assert response.json()["outcome"] == "processed"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "failed"
    assert CreditAccount.objects.get(pk=pending_payment.account_id).balance_cents == 5_000


def test_a_replayed_event_changes_nothing(client, pending_payment):
    payload, header = signed_event("payment_intent.succeeded", payment_intent_object(), event_id="evt_same")
    assert deliver(client, payload, header).json()["outcome"] == "processed"
    events_before = ActivityEvent.objects.count()
    # The same event again (Stripe retries), even after the row moved on.
    response = deliver(client, payload, header)
    assert response.status_code == 200
    assert response.json()["outcome"] == "duplicate"
    assert StripeEvent.objects.count() == 1
    assert ActivityEvent.objects.count() == events_before
    assert CreditAccount.objects.get(pk=pending_payment.account_id).balance_cents == 2_000


def test_a_replayed_failure_after_success_changes_nothing(client, pending_payment):
    deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object()))
    response = deliver(client, *signed_event("payment_intent.payment_failed", payment_intent_object()))
    assert response.json()["outcome"] == "ignored"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "completed"


def test_payment_intent_matched_by_metadata_before_the_id_is_stored(client, account, post):
    post(account, "charge", 5_000)
    payment = post(account, "payment", 1_000, status="pending")
    data = payment_intent_object(intent_id="pi_race", amount=1_000, metadata={"transaction_id": str(payment.pk)})
    assert deliver(client, *signed_event("payment_intent.succeeded", data)).json()["outcome"] == "processed"
    payment.refresh_from_db()
    assert payment.status == "completed"
    assert payment.stripe_payment_intent_id == "pi_race"


def test_a_payment_intent_for_another_amount_is_ignored(client, pending_payment):
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object(amount=1)))
    assert response.json()["outcome"] == "ignored"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


def test_unknown_events_and_unknown_intents_are_ignored(client, pending_payment):
    response = deliver(client, *signed_event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object(intent_id="pi_x")))
    assert response.json()["outcome"] == "ignored"
    assert StripeEvent.objects.count() == 2


def test_the_webhook_needs_no_login_or_csrf_token(pending_payment):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = deliver(client, *signed_event("payment_intent.succeeded", payment_intent_object()))
    assert response.status_code == 200


def test_setup_intent_then_collect_end_to_end(stripe_fake, client, api_as, member, admin_user, account, post):
    """Save a card (SetupIntent + webhook), then charge it for a pending payment."""
    body = (
        api_as(member)
        .post(f"/api/teams/{account.team_id}/credit/setup-intent/", {"customer_id": str(account.customer_id)})
        .json()
    )
    intent = stripe_fake.succeed_setup_intent(body["setup_intent_id"], "pm_card_visa")
    deliver(client, *signed_event("setup_intent.succeeded", intent))
    account.refresh_from_db()
    assert account.stripe_payment_method_id == "pm_card_visa"

    post(account, "charge", 2_500)
    payment = post(account, "payment", 2_500, status="pending")
    response = api_as(admin_user).post(f"/api/teams/{account.team_id}/credit/transactions/{payment.pk}/collect/")
    assert response.json()["status"] == "completed"
    # Stripe's own payment_intent.succeeded for that charge arrives afterwards: nothing more happens.
    charged = stripe_fake.objects[response.json()["stripe_payment_intent_id"]]
    assert deliver(client, *signed_event("payment_intent.succeeded", charged)).json()["outcome"] == "ignored"
    account.refresh_from_db()
    assert account.balance_cents == 0


def test_a_signed_body_that_is_not_an_event_is_400(client):
    payload = "[1, 2]"
    header = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    response = deliver(client, payload.encode(), header)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"


def _in_threads(count, func):
    """Run func in `count` threads started together; returns results or exceptions."""
    import threading

    from django.db import connection

    barrier = threading.Barrier(count)
    results = []

    def worker():
        try:
            barrier.wait()
            results.append(func())
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_event_apply_it_once(pending_payment):
    from credit.services.payments import webhook_event_process

    payload, header = signed_event("payment_intent.succeeded", payment_intent_object(), event_id="evt_race")
    results = _in_threads(4, lambda: webhook_event_process(payload=payload, signature=header))
    assert sorted(results) == ["duplicate", "duplicate", "duplicate", "processed"]
    assert CreditAccount.objects.get(pk=pending_payment.account_id).balance_cents == 2_000
