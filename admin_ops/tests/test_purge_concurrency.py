"""Purges under real concurrency on PostgreSQL: two workers of the
admin-purge-execute job at once, and owners clicking while the job runs.
Threads, each with its own connection."""

import threading

import pytest
from django.db import connections

from admin_ops.models import ActivityEvent, PurgeOperation
from admin_ops.services import purge as purge_service
from admin_ops.services import record_event
from admin_ops.tests.factories import refresh
from deelrx.errors import InvalidTransition
from deelrx.storage import private_storage

S = PurgeOperation.Status
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(*targets):
    """Start the targets at once (a barrier); return their results or exceptions."""
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def worker(index):
        try:
            barrier.wait()
            results[index] = targets[index]()
        except Exception as exc:  # recorded for the assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _events(team, user, n):
    for i in range(n):
        record_event(event_type=f"x.{i}", team=team, user=user)


def _export_ready(team, owner):
    purge = purge_service.purge_request(team=team, user=owner, scope={"entities": ["activity_events"]})
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


def _verbs(purge):
    return list(
        ActivityEvent.objects.filter(event_type__startswith="purge.operation.", event_data__purge_id=str(purge.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def test_two_workers_execute_a_purge_once_with_exact_counts(monkeypatch, team, other_team, owner):
    _events(team, owner, 40)
    foreign = record_event(event_type="x.foreign", team=other_team)
    purge = _export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    real = purge_service.purge_execute
    # many small batches, so that the two workers really interleave
    monkeypatch.setattr(purge_service, "purge_execute", lambda **kw: real(**{**kw, "batch_size": 3}))

    results = run_threads(purge_service.purge_advance_all, purge_service.purge_advance_all)

    assert all(isinstance(r, dict) for r in results), results
    assert all(r["errors"] == {} for r in results), results
    purge = refresh(purge)
    assert purge.status == S.COMPLETED
    assert purge.records_affected == {"activity_events": 40}
    assert purge.progress["counts"] == {"activity_events": 40}
    assert not ActivityEvent.objects.filter(team=team, event_type__startswith="x.").exists()
    assert ActivityEvent.objects.filter(pk=foreign.pk).exists()
    verbs = _verbs(purge)
    assert verbs.count("purge.operation.executing") == 1
    assert verbs.count("purge.operation.completed") == 1
    # one worker reports it done; the other found it moved (or helped and lost) and does not
    reported = [pk for r in results for pk in [*r["executed"], *r["resumed"]]]
    assert reported == [str(purge.pk)]


def test_two_workers_build_one_export(team, owner):
    _events(team, owner, 5)
    purge = purge_service.purge_request(team=team, user=owner, scope={"entities": ["activity_events"]})
    purge_service.purge_schedule(purge=purge)

    results = run_threads(*[lambda: purge_service.purge_export_build(purge=purge)] * 2)

    assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "PurgeOperation"]
    purge = refresh(purge)
    assert purge.status == S.EXPORT_READY
    assert private_storage().exists(purge.export_key)
    directory = purge.export_key.rsplit("/", 1)[0]
    _, files = private_storage().listdir(directory)
    assert files == [purge.export_key.rsplit("/", 1)[1]]  # the loser's file was removed
    assert _verbs(purge).count("purge.operation.export_ready") == 1


def test_cancel_racing_execution_never_leaves_a_half_purge(team, owner):
    _events(team, owner, 12)
    purge = _export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    key = purge.export_key

    executed, cancelled = run_threads(
        lambda: purge_service.purge_execute(purge=purge, batch_size=2),
        lambda: purge_service.purge_cancel(purge=purge, user=owner),
    )

    purge = refresh(purge)
    remaining = ActivityEvent.objects.filter(team=team, event_type__startswith="x.").count()
    if purge.status == S.CANCELLED:
        assert isinstance(executed, InvalidTransition)
        assert remaining == 12  # nothing deleted
        assert not private_storage().exists(key)
    else:
        assert purge.status == S.COMPLETED
        assert isinstance(cancelled, InvalidTransition)
        assert remaining == 0
        assert purge.records_affected == {"activity_events": 12}


def test_acknowledge_racing_cancel_ends_cancelled_with_nothing_deleted(team, owner, admin_user):
    _events(team, owner, 4)
    purge = _export_ready(team, owner)
    key = purge.export_key

    acknowledged, cancelled = run_threads(
        lambda: purge_service.purge_acknowledge(purge=purge, user=admin_user),
        lambda: purge_service.purge_cancel(purge=purge, user=owner),
    )

    # cancel wins either way: before the acknowledgement (which is then refused) or after it
    assert isinstance(cancelled, PurgeOperation)
    assert isinstance(acknowledged, PurgeOperation | InvalidTransition)
    purge = refresh(purge)
    assert purge.status == S.CANCELLED
    assert purge.export_key == ""
    assert not private_storage().exists(key)
    summary = purge_service.purge_advance_all()
    assert summary["executed"] == []
    assert summary["resumed"] == []
    assert ActivityEvent.objects.filter(team=team, event_type__startswith="x.").count() == 4
