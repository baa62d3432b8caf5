"""admin-retention-enforce: activity events per team retention, expired purge exports, idempotency records."""

import datetime as dt

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import PurgeOperation
from admin_ops.services.retention import retention_enforce
from admin_ops.tests.factories import PurgeOperationFactory
from deelrx.audit.models import ActivityEvent
from deelrx.jobs import execute_job
from deelrx.storage import private_storage
from deelrx.tenancy.tests.factories import TeamFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def aged(team, days, event_type="x.event"):
    e = ActivityEvent.objects.create(team=team, event_type=event_type)
    QuerySet(model=ActivityEvent).filter(pk=e.pk).update(created_at=NOW - dt.timedelta(days=days))
    return e.pk


@pytest.fixture
def teams(settings):
    settings.ACTIVITY_RETENTION_DAYS = 100
    short = TeamFactory(name="Short", activity_retention_days=30)
    default = TeamFactory(name="Default")  # 365 (the model default)
    also_short = TeamFactory(name="Also short", activity_retention_days=30)
    return {"short": short, "default": default, "also_short": also_short}


@pytest.fixture
def history(teams):
    return {
        "short_old": aged(teams["short"], 31),
        "short_new": aged(teams["short"], 29),
        "also_short_old": aged(teams["also_short"], 45),
        "default_mid": aged(teams["default"], 200),
        "default_old": aged(teams["default"], 366),
        "teamless_mid": aged(None, 99),
        "teamless_old": aged(None, 101),  # no team: settings.ACTIVITY_RETENTION_DAYS
    }


def remaining(history):
    left = set(ActivityEvent.objects.values_list("pk", flat=True))
    return {name for name, pk in history.items() if pk in left}


def test_events_are_deleted_per_team_retention(history):
    summary = retention_enforce(now=NOW)
    assert remaining(history) == {"short_new", "default_mid", "teamless_mid"}
    assert summary["activity_events_deleted"] == 4
    assert summary["activity_events"] == {"30": 2, "100": 1, "365": 1}


def test_deletion_runs_in_batches(history):
    retention_enforce(now=NOW, batch_size=1)
    assert remaining(history) == {"short_new", "default_mid", "teamless_mid"}


def test_dry_run_counts_and_deletes_nothing(history):
    summary = retention_enforce(now=NOW, dry_run=True)
    assert summary["activity_events_deleted"] == 4
    assert remaining(history) == set(history)


def test_expired_exports_are_deleted_and_cleared(team, django_capture_on_commit_callbacks):
    storage = private_storage()
    expired_key = storage.save("private/purges/1/a/export.zip", ContentFile(b"zip"))
    fresh_key = storage.save("private/purges/1/b/export.zip", ContentFile(b"zip"))
    expired = PurgeOperationFactory(
        team=team,
        status=PurgeOperation.Status.COMPLETED,
        export_key=expired_key,
        export_expires_at=NOW - dt.timedelta(hours=1),
    )
    fresh = PurgeOperationFactory(
        team=team,
        status=PurgeOperation.Status.EXPORT_READY,
        export_key=fresh_key,
        export_expires_at=NOW + dt.timedelta(days=3),
    )
    with django_capture_on_commit_callbacks(execute=True):
        summary = retention_enforce(now=NOW)
    assert summary["exports_deleted"] == 1
    expired.refresh_from_db()
    fresh.refresh_from_db()
    assert expired.export_key == ""
    assert not storage.exists(expired_key)
    assert fresh.export_key == fresh_key
    assert storage.exists(fresh_key)
    event = ActivityEvent.objects.get(event_type="admin_ops.purge.export_deleted")
    assert event.team == team
    assert event.event_data["export_key"] == expired_key


def test_expired_idempotency_records_are_deleted(team):
    record_model = apps.get_model("credit", "IdempotencyRecord")
    now = timezone.now()
    record_model.objects.create(team=team, key="old", fingerprint="f", expires_at=now - dt.timedelta(minutes=1))
    record_model.objects.create(team=team, key="new", fingerprint="f", expires_at=now + dt.timedelta(hours=1))
    summary = retention_enforce()
    assert summary["idempotency_records"] == 1
    assert list(record_model.objects.values_list("key", flat=True)) == ["new"]


def test_job_is_idempotent(teams):
    for days in (400, 500):
        ActivityEvent.objects.create(team=teams["default"], event_type="x")
        QuerySet(model=ActivityEvent).filter(team=teams["default"]).update(
            created_at=timezone.now() - dt.timedelta(days=days)
        )
    first = execute_job("admin-retention-enforce", trigger="manual")
    second = execute_job("admin-retention-enforce", trigger="manual")
    assert first["activity_events_deleted"] == 2
    assert second["activity_events_deleted"] == 0
    assert second["exports_deleted"] == 0
    assert second["idempotency_records"] == 0


def test_dry_run_counts_idempotency_records_without_deleting(team):
    record_model = apps.get_model("credit", "IdempotencyRecord")
    record_model.objects.create(team=team, key="old", fingerprint="f", expires_at=timezone.now() - dt.timedelta(days=1))
    assert retention_enforce(dry_run=True)["idempotency_records"] == 1
    assert record_model.objects.count() == 1
