"""The lean single-row writes (deelrx.db) store what `Model.save()` would."""

import datetime as dt

import pytest
from django.core.cache.backends.redis import RedisCacheClient
from django.db import IntegrityError, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from credit.models import CreditAccount, CreditTransaction, IdempotencyRecord
from deelrx import db
from deelrx.audit.models import ActivityEvent
from deelrx.cache import PooledClientRedisCacheClient


@pytest.fixture
def account(team, customer):
    return CreditAccount.objects.create(team=team, customer=customer, credit_limit_cents=10_000)


def test_insert_with_a_database_generated_pk_reads_the_pk_back(team, owner):
    event = db.insert(
        ActivityEvent(team=team, user=owner, event_type="credit.transaction.created", event_data={"a": [1]})
    )

    stored = ActivityEvent.objects.get(pk=event.pk)
    assert stored.event_data == {"a": [1]}
    assert stored.user_id == owner.pk
    assert stored.created_at is not None
    assert stored.created_at == event.created_at  # auto_now_add
    assert event._state.adding is False


def test_insert_with_a_python_pk_writes_every_column(team, account):
    tx = CreditTransaction(team=team, account=account, type="charge", amount_cents=1_234, due_date=dt.date(2027, 1, 2))

    with CaptureQueriesContext(transaction.get_connection()) as queries:
        db.insert(tx)

    assert len(queries) == 1
    stored = CreditTransaction.objects.get(pk=tx.pk)
    assert (stored.amount_cents, stored.due_date, stored.status, stored.attempt_count) == (
        1_234,
        dt.date(2027, 1, 2),
        "completed",
        0,
    )
    assert stored.created_at == tx.created_at
    assert stored.updated_at == tx.updated_at


def test_update_writes_the_named_fields_and_touches_auto_now(account):
    before = account.updated_at
    account.balance_cents = 700
    account.credit_limit_cents = 1  # not named: stays as stored

    db.update(account, ["balance_cents", "updated_at"])

    stored = CreditAccount.objects.get(pk=account.pk)
    assert stored.balance_cents == 700
    assert stored.credit_limit_cents == 10_000
    assert stored.updated_at > before


def test_a_unique_violation_is_djangos_integrity_error(team):
    expires = timezone.now() + dt.timedelta(hours=1)
    db.insert(IdempotencyRecord(team=team, key="k", fingerprint="f", expires_at=expires))

    with pytest.raises(IntegrityError), transaction.atomic():
        db.insert(IdempotencyRecord(team=team, key="k", fingerprint="g", expires_at=expires))

    assert IdempotencyRecord.objects.filter(team=team, key="k").count() == 1


def test_the_redis_cache_client_reuses_one_client_per_pool():
    client = PooledClientRedisCacheClient(["redis://127.0.0.1:6379/9"])

    assert client.get_client(write=True) is client.get_client(write=False)
    assert isinstance(client, RedisCacheClient)


def test_pipelined_writes_arrive_together_and_a_read_inside_gets_its_answer(team, account):
    account.balance_cents = 5
    with transaction.atomic(), db.pipelined():
        db.update(account, ["balance_cents"])
        event = ActivityEvent(team=team, event_type="credit.transaction.created")
        db.insert(event)  # RETURNING: the read that sends what is queued

    assert event.pk is not None
    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 5


def test_a_pipelined_error_is_djangos_and_rolls_the_block_back(team, account):
    expires = timezone.now() + dt.timedelta(hours=1)
    account.balance_cents = 9

    def write_twice():
        with transaction.atomic(), db.pipelined():
            db.update(account, ["balance_cents"])
            db.insert(IdempotencyRecord(team=team, key="k", fingerprint="f", expires_at=expires))
            db.insert(IdempotencyRecord(team=team, key="k", fingerprint="g", expires_at=expires))

    with pytest.raises(IntegrityError):
        write_twice()

    assert CreditAccount.objects.get(pk=account.pk).balance_cents == 0
    assert not IdempotencyRecord.objects.filter(team=team).exists()


def test_a_disabled_pipeline_allows_server_side_cursors(team, account):
    with transaction.atomic(), db.pipelined(enabled=False):
        assert list(CreditAccount.objects.filter(pk=account.pk).values_list("pk", flat=True).iterator()) == [account.pk]
