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


# --- select_one -------------------------------------------------------------------------
def _field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_select_one_reads_what_the_orm_reads_with_the_joined_row_cached(team, owner, django_assert_num_queries):
    from deelrx.tenancy.models import Membership

    expected = Membership.objects.select_related("team").get(user=owner, team=team)
    with django_assert_num_queries(1):
        found = db.select_one(Membership, related=("team",), user=owner.pk, team=team.pk)
        assert found.team.name == team.name  # no second query: the team came with it
    assert _field_values(found) == _field_values(expected)
    assert _field_values(found.team) == _field_values(expected.team)
    assert found._state.adding is False
    assert found._state.db == "default"


def test_select_one_converts_values_like_the_orm(team, owner):
    """JSON, dates and UUIDs come back as Python values, on both databases."""
    event = ActivityEvent(team=team, user=owner, event_type="credit.transaction.created", event_data={"a": 1})
    db.insert(event)
    found = db.select_one(ActivityEvent, pk=event.pk)
    assert found.event_data == {"a": 1}
    assert found.created_at == ActivityEvent.objects.get(pk=event.pk).created_at


def test_select_one_is_none_without_a_match(team, other_team, owner):
    from deelrx.tenancy.models import Membership

    assert db.select_one(Membership, related=("team",), user=owner.pk, team=other_team.pk) is None


def test_select_one_refuses_to_inner_join_an_optional_foreign_key():
    with pytest.raises(ValueError, match="not a required foreign key"):
        db.select_one(ActivityEvent, related=("user",), pk=1)


def test_token_authentication_reads_token_and_user_in_one_query(owner, team, django_assert_num_queries):
    from rest_framework.authtoken.models import Token
    from rest_framework.exceptions import AuthenticationFailed

    from deelrx.api import TokenAuthentication

    token = Token.objects.create(user=owner)
    with django_assert_num_queries(1):
        user, found = TokenAuthentication().authenticate_credentials(token.key)
    assert (user.pk, found.key, found.user_id) == (owner.pk, token.key, owner.pk)
    with pytest.raises(AuthenticationFailed, match="Invalid token"):
        TokenAuthentication().authenticate_credentials("not-a-token")
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    with pytest.raises(AuthenticationFailed, match="inactive"):
        TokenAuthentication().authenticate_credentials(token.key)
