"""Purges under real concurrency on PostgreSQL: two workers of the
admin-purge-execute job at once, and owners clicking while the job runs.
Threads, each with its own connection."""

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections, transaction

from admin_ops.models import PurgeExportedRow, PurgeOperation
from admin_ops.services import purge as purge_service
from admin_ops.tests.factories import USER_EVENT, refresh
from deelrx.audit.models import ActivityEvent
from deelrx.audit.services import record_event
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
        record_event(event_type=USER_EVENT, team=team, user=user)


def _export_ready(team, owner):
    purge = purge_service.purge_request(team=team, user=owner, scope={"entities": ["activity_events"]})
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


def _verbs(purge):
    return list(
        ActivityEvent.objects.filter(event_type__startswith="admin_ops.purge.", event_data__purge_id=str(purge.pk))
        .order_by("id")
        .values_list("event_type", flat=True)
    )


def test_two_workers_execute_a_purge_once_with_exact_counts(monkeypatch, team, other_team, owner):
    _events(team, owner, 40)
    foreign = record_event(event_type=USER_EVENT, team=other_team)
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
    assert not ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).exists()
    assert ActivityEvent.objects.filter(pk=foreign.pk).exists()
    verbs = _verbs(purge)
    assert verbs.count("admin_ops.purge.executing") == 1
    assert verbs.count("admin_ops.purge.completed") == 1
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
    assert _verbs(purge).count("admin_ops.purge.export_ready") == 1
    # and so were the ids it recorded: only the kept export's remain
    recorded = PurgeExportedRow.objects.filter(purge=purge)
    assert set(recorded.values_list("export_id", flat=True)) == {uuid.UUID(purge.progress["export_id"])}
    assert recorded.count() == 5


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
    remaining = ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).count()
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
    assert ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).count() == 4


def test_a_row_committed_after_the_export_snapshot_is_not_deleted(team, owner):
    """A transaction open while the export is built inserts a row in scope
    (created before the cutoff) and commits after the export's snapshot: the
    export does not hold it, so execution must not delete it; the next purge
    takes it."""
    _events(team, owner, 5)
    purge = purge_service.purge_request(team=team, user=owner, scope={"entities": ["activity_events"]})
    purge_service.purge_schedule(purge=purge)
    inserted, exported, late = threading.Event(), threading.Event(), {}

    def concurrent_writer():
        try:
            with transaction.atomic():
                late["event"] = record_event(event_type=USER_EVENT, team=team, user=owner)
                inserted.set()
                assert exported.wait(timeout=30)
        finally:
            connections.close_all()

    writer = threading.Thread(target=concurrent_writer)
    writer.start()
    try:
        assert inserted.wait(timeout=30)
        purge = purge_service.purge_export_build(purge=purge)
    finally:
        exported.set()
        writer.join(timeout=30)
    late_event = ActivityEvent.objects.get(pk=late["event"].pk)  # committed by now
    assert late_event.created_at <= purge_service._cutoff(purge)  # in scope by its date
    with private_storage().open(purge.export_key, "rb") as handle:
        rows = json.loads(zipfile.ZipFile(io.BytesIO(handle.read())).read("activity_events.json"))
    assert late_event.pk not in {row["id"] for row in rows}
    assert len(rows) == 5

    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"activity_events": 5}
    assert ActivityEvent.objects.filter(pk=late_event.pk).exists()

    following = _export_ready(team, owner)
    purge_service.purge_acknowledge(purge=following, user=owner)
    assert purge_service.purge_execute(purge=following).records_affected == {"activity_events": 1}
    assert not ActivityEvent.objects.filter(pk=late_event.pk).exists()


KILLED_WORKER = """
import sys, time

import django

django.setup()

from admin_ops.models import PurgeOperation
from admin_ops.services import purge as purge_service

real_save = PurgeOperation.save
batches = []


def save(self, *args, **kwargs):
    real_save(self, *args, **kwargs)
    if kwargs.get("update_fields") == ["progress", "updated_at"]:
        batches.append(1)  # a batch's rows are deleted and its progress written, not yet committed
        if len(batches) == 3:
            print("inside batch 3", flush=True)
            time.sleep(120)


PurgeOperation.save = save
purge_service.purge_execute(purge=PurgeOperation.objects.get(pk=sys.argv[1]), batch_size=4)
"""


def test_a_worker_killed_with_sigkill_mid_batch_resumes_with_exact_counts(settings, team, owner):
    """kill -9 while a batch's transaction is open: that batch is rolled back with
    its progress, the two before it stay committed with theirs, and the next job
    run finishes the purge with exact counts."""
    _events(team, owner, 30)
    purge = _export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "deelrx.settings",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}"
        f"@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "PRIVATE_STORAGE_ROOT": settings.STORAGES["private"]["OPTIONS"]["location"],
        "PUBLIC_STORAGE_ROOT": settings.STORAGES["public"]["OPTIONS"]["location"],
    }
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_WORKER), str(purge.pk)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout.readline().strip() == "inside batch 3"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL

    purge = refresh(purge)
    assert purge.status == S.EXECUTING
    remaining = ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).count()
    assert purge.progress["counts"] == {"activity_events": 8}  # two committed batches of 4
    assert remaining == 30 - 8  # the third batch's deletions went with its transaction

    summary = purge_service.purge_advance_all()
    assert summary["resumed"] == [str(purge.pk)]
    purge = refresh(purge)
    assert purge.status == S.COMPLETED
    assert purge.records_affected == {"activity_events": 30}
    assert not ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).exists()
