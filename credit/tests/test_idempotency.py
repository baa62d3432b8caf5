import datetime as dt

import pytest
from django.utils import timezone

from credit.models import CreditTransaction, IdempotencyRecord
from credit.services import idempotency

pytestmark = pytest.mark.django_db


def url(team):
    return f"/api/teams/{team.id}/credit/transactions/"


def body(account, **overrides):
    return {"customer_id": str(account.customer_id), "type": "charge", "amount_cents": 1_000, **overrides}


def post(client, team, data, key="key-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(url(team), data, format="json", **headers)


def test_same_key_and_body_replays_first_response(api_as, member, team, account):
    client = api_as(member)
    first = post(client, team, body(account))
    second = post(client, team, body(account))
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert CreditTransaction.objects.count() == 1
    assert first.json()["idempotency_key"] == "key-1"
    account.refresh_from_db()
    assert account.balance_cents == 1_000


def test_key_in_body_works_like_the_header(api_as, member, team, account):
    client = api_as(member)
    first = post(client, team, body(account, idempotency_key="body-key"), key=None)
    second = post(client, team, body(account, idempotency_key="body-key"), key=None)
    assert second["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert CreditTransaction.objects.get().idempotency_key == "body-key"


def test_header_and_body_keys_must_agree(api_as, member, team, account):
    response = post(api_as(member), team, body(account, idempotency_key="other"), key="key-1")
    assert response.status_code == 400
    assert "idempotency_key" in response.json()["error"]["details"]


def test_too_long_key_is_400(api_as, member, team, account):
    response = post(api_as(member), team, body(account), key="k" * 256)
    assert response.status_code == 400


def test_same_key_different_body_is_409(api_as, member, team, account):
    client = api_as(member)
    post(client, team, body(account))
    response = post(client, team, body(account, amount_cents=2_000))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert CreditTransaction.objects.count() == 1


def test_keys_are_scoped_per_team(api_as, member, outsider, team, other_team, account, other_account):
    post(api_as(member), team, body(account))
    response = post(api_as(outsider), other_team, body(other_account))
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert CreditTransaction.objects.count() == 2


def test_another_member_with_same_key_gets_the_replay(api_as, member, owner, team, account):
    first = post(api_as(member), team, body(account))
    second = post(api_as(owner), team, body(account))
    assert second.json()["id"] == first.json()["id"]


def test_422_outcome_is_stored_and_replayed(api_as, member, admin_user, team, account):
    from credit.services.accounts import credit_limit_change

    client = api_as(member)
    first = post(client, team, body(account, amount_cents=200_000))
    assert first.status_code == 422
    credit_limit_change(account=account, new_limit_cents=500_000, user=admin_user, reason="raise")
    second = post(client, team, body(account, amount_cents=200_000))
    assert second.status_code == 422
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()


def test_validation_failure_is_not_stored(api_as, member, team, account):
    client = api_as(member)
    assert post(client, team, body(account, amount_cents=0)).status_code == 400
    assert not IdempotencyRecord.objects.exists()
    # the corrected request with the same key goes through
    response = post(client, team, body(account, amount_cents=5))
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response


def test_not_found_is_not_stored(api_as, member, team, customer):
    response = post(api_as(member), team, {"customer_id": str(customer.pk), "type": "charge", "amount_cents": 1})
    assert response.status_code == 404
    assert not IdempotencyRecord.objects.exists()


def test_permission_failures_never_claim_a_key(api_as, viewer, team, account):
    assert post(api_as(viewer), team, body(account)).status_code == 403
    assert not IdempotencyRecord.objects.exists()


def test_expired_record_is_replaced(api_as, member, team, account):
    client = api_as(member)
    first = post(client, team, body(account))
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    # the expired record is replaced; the ledger's unique (team, key) still yields the one row
    second = post(client, team, body(account))
    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert second.json()["id"] == first.json()["id"]  # the ledger still holds one row per key
    assert CreditTransaction.objects.count() == 1
    record = IdempotencyRecord.objects.get()
    assert record.expires_at > timezone.now()


def test_expired_key_with_different_transaction_still_conflicts_in_the_ledger(api_as, member, team, account):
    client = api_as(member)
    post(client, team, body(account))
    IdempotencyRecord.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = post(client, team, body(account, amount_cents=3))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert not IdempotencyRecord.objects.exists()


def test_records_keep_the_ttl(api_as, member, team, account, settings):
    settings.IDEMPOTENCY_KEY_TTL = dt.timedelta(hours=24)
    before = timezone.now()
    post(api_as(member), team, body(account))
    record = IdempotencyRecord.objects.get()
    assert record.expires_at >= before + dt.timedelta(hours=24)
    assert record.response_status == 201


def test_in_progress_request_is_409_after_waiting(api_as, member, team, account, monkeypatch):
    monkeypatch.setattr(idempotency, "IDEMPOTENCY_WAIT_SECONDS", 0.1)
    data = body(account)
    path = url(team)
    IdempotencyRecord.objects.create(
        team=team,
        key="key-1",
        fingerprint=idempotency.request_fingerprint(method="POST", path=path, body=data),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    response = post(api_as(member), team, data)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "request_in_progress"


def test_stale_in_progress_record_is_taken_over(api_as, member, team, account):
    data = body(account)
    record = IdempotencyRecord.objects.create(
        team=team,
        key="key-1",
        fingerprint=idempotency.request_fingerprint(method="POST", path=url(team), body=data),
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - dt.timedelta(minutes=10))
    response = post(api_as(member), team, data)
    assert response.status_code == 201
    assert CreditTransaction.objects.count() == 1


def test_server_error_drops_the_record(api_as, member, team, account, monkeypatch):
    from credit.services import ledger

    def boom(**kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(ledger, "transaction_post", boom)
    client = api_as(member)
    client.raise_request_exception = False
    response = post(client, team, body(account))
    assert response.status_code == 500
    assert not IdempotencyRecord.objects.exists()


def test_fingerprint_is_canonical():
    a = idempotency.request_fingerprint(method="post", path="/x/", body={"a": 1, "b": 2})
    b = idempotency.request_fingerprint(method="POST", path="/x/", body={"b": 2, "a": 1})
    c = idempotency.request_fingerprint(method="POST", path="/y/", body={"b": 2, "a": 1})
    assert a == b != c


def test_delete_expired(team):
    now = timezone.now()
    for n, delta in enumerate([-2, -1, 1]):
        IdempotencyRecord.objects.create(
            team=team, key=f"k{n}", fingerprint="f", expires_at=now + dt.timedelta(hours=delta)
        )
    assert idempotency.idempotency_records_delete_expired(now=now) == 2
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k2"]
    assert idempotency.idempotency_records_delete_expired() == 0
