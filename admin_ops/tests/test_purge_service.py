"""Purge operations: every move, every refused move, scope limits, export
contents, crash and resume, files, the job."""

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.utils import timezone

from admin_ops import purge_registry
from admin_ops.models import PurgeOperation
from admin_ops.services import purge as purge_service
from admin_ops.tests.factories import (
    OLD,
    RECENT,
    USER_EVENT,
    PurgeOperationFactory,
    refresh,
    scope_2024,
    set_created_at,
)
from deelrx.audit.models import ActivityEvent
from deelrx.audit.services import record_event
from deelrx.errors import BusinessRuleViolation, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from deelrx.storage import get_storage, private_storage
from deelrx.tenancy.models import Customer
from deelrx.tenancy.tests.factories import CustomerFactory

S = PurgeOperation.Status
pytestmark = pytest.mark.django_db


def _request(team, user, scope=None, **kwargs):
    return purge_service.purge_request(team=team, user=user, scope=scope or scope_2024(), **kwargs)


def _to_export_ready(team, user, scope=None):
    purge = _request(team, user, scope)
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


def _read_export(purge):
    with private_storage().open(purge.export_key, "rb") as handle:
        archive = zipfile.ZipFile(io.BytesIO(handle.read()))
    return archive


def _export_rows(archive, name):
    rows_json = json.loads(archive.read(f"{name}.json"))
    rows_csv = list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode())))
    return rows_json, rows_csv


# --- Request and validation ---------------------------------------------------------------
def test_request_records_event(team, owner):
    purge = _request(team, owner, notes="GDPR request")
    assert purge.status == S.REQUESTED
    assert purge.requested_by == owner
    assert purge.notes == "GDPR request"
    event = ActivityEvent.objects.get(event_type="admin_ops.purge.requested")
    assert event.team == team
    assert event.user == owner
    assert event.event_data["purge_id"] == str(purge.pk)


@pytest.mark.parametrize("role_user", ["member", "viewer"])
def test_request_needs_admin(request, team, role_user):
    with pytest.raises(PermissionDenied):
        _request(team, request.getfixturevalue(role_user))


def test_request_outsider_is_not_found(team, outsider):
    with pytest.raises(NotFound):
        _request(team, outsider)


@pytest.mark.parametrize(
    ("scope", "field"),
    [
        ({"entities": []}, "scope.entities"),
        ({"entities": ["nonsense"]}, "scope.entities"),
        ({"entities": ["activity_events"], "date_range": {"from": "yesterday"}}, "scope.date_range.from"),
        (
            {"entities": ["activity_events"], "date_range": {"from": "2024-05-01", "to": "2024-01-01"}},
            "scope.date_range.to",
        ),
        ({"entities": ["activity_events"], "criteria": {"colour": "red"}}, "scope.criteria.colour"),
        ({"entities": ["activity_events"], "criteria": {"user_id": "abc"}}, "scope.criteria.user_id"),
        ({"entities": ["activity_events"], "criteria": {"customer_id": "x"}}, "scope.criteria.customer_id"),
        ({"entities": ["kb_articles"], "criteria": {"status": "nope"}}, "scope.criteria.status"),
        ("everything", "scope"),
    ],
)
def test_validate_scope_errors(scope, field):
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope(scope)
    assert field in exc.value.details


def test_customers_require_credit_records():
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope({"entities": ["customers"]})
    assert "credit" in " ".join(exc.value.details["scope.entities"])


def test_credit_transactions_alone_refused():
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope({"entities": ["credit_transactions"]})
    assert "ledger" in " ".join(exc.value.details["scope.entities"])


def test_scheduled_for_in_the_past_refused(team, owner):
    with pytest.raises(ValidationFailed) as exc:
        _request(team, owner, scheduled_for=timezone.now() - dt.timedelta(days=1))
    assert "scheduled_for" in exc.value.details


def test_open_credit_accounts_refused(team, owner, old_customers):
    Account = apps.get_model("credit", "CreditAccount")
    account = Account.objects.create(team=team, customer=old_customers["in_range"][0], status="active")
    set_created_at(account, OLD)
    with pytest.raises(BusinessRuleViolation) as exc:
        _request(team, owner)
    assert exc.value.code == "account_not_closed"
    assert str(account.pk) in exc.value.details["scope.entities"][0]


# --- Transitions --------------------------------------------------------------------------
def test_full_lifecycle(team, owner, admin_user, old_customers):
    purge = _request(team, owner)
    purge = purge_service.purge_schedule(purge=purge)
    assert purge.status == S.SCHEDULED
    purge = purge_service.purge_export_build(purge=purge)
    assert purge.status == S.EXPORT_READY
    assert purge.export_key.startswith(f"private/purges/{team.pk}/{purge.pk}/")
    assert purge.export_expires_at > timezone.now() + dt.timedelta(days=13)
    assert Customer.objects.filter(team=team).count() == 3  # nothing deleted yet
    purge = purge_service.purge_acknowledge(purge=purge, user=admin_user)
    assert purge.status == S.ACKNOWLEDGED
    assert purge.acknowledged_by == admin_user
    assert purge.acknowledged_at
    purge = purge_service.purge_execute(purge=purge)
    assert purge.status == S.COMPLETED
    assert purge.completed_at
    assert purge.executed_at
    assert purge.records_affected["customers"] == 2
    assert set(Customer.objects.values_list("first_name", flat=True)) == {"Recent", "Foreign"}
    verbs = list(
        ActivityEvent.objects.filter(event_type__startswith="admin_ops.purge.")
        .order_by("id")
        .values_list("event_type", flat=True)
    )
    assert verbs == [
        f"admin_ops.purge.{v}"
        for v in ("requested", "scheduled", "export_ready", "acknowledged", "executing", "completed")
    ]


FORBIDDEN = [
    (S.REQUESTED, "acknowledge"),
    (S.REQUESTED, "export"),
    (S.REQUESTED, "execute"),
    (S.SCHEDULED, "schedule"),
    (S.SCHEDULED, "acknowledge"),
    (S.SCHEDULED, "execute"),
    (S.EXPORT_READY, "schedule"),
    (S.EXPORT_READY, "export"),
    (S.EXPORT_READY, "execute"),
    (S.ACKNOWLEDGED, "acknowledge"),
    (S.ACKNOWLEDGED, "schedule"),
    (S.EXECUTING, "cancel"),
    (S.EXECUTING, "acknowledge"),
    (S.COMPLETED, "cancel"),
    (S.COMPLETED, "execute"),
    (S.COMPLETED, "acknowledge"),
    (S.CANCELLED, "cancel"),
    (S.CANCELLED, "schedule"),
    (S.CANCELLED, "acknowledge"),
    (S.CANCELLED, "execute"),
]


@pytest.mark.parametrize(("status", "move"), FORBIDDEN)
def test_forbidden_moves(team, owner, status, move):
    purge = PurgeOperationFactory(team=team, status=status, export_key="private/purges/x.zip")
    moves = {
        "schedule": lambda: purge_service.purge_schedule(purge=purge),
        "export": lambda: purge_service.purge_export_build(purge=purge),
        "acknowledge": lambda: purge_service.purge_acknowledge(purge=purge, user=owner),
        "execute": lambda: purge_service.purge_execute(purge=purge),
        "cancel": lambda: purge_service.purge_cancel(purge=purge, user=owner),
    }
    with pytest.raises(InvalidTransition) as exc:
        moves[move]()
    assert exc.value.details["current"] == status
    assert exc.value.details["allowed"] == sorted(purge_service.TRANSITIONS[status])
    assert refresh(purge).status == status


def test_acknowledge_needs_export(team, owner):
    purge = PurgeOperationFactory(team=team, status=S.EXPORT_READY, export_key="")
    with pytest.raises(InvalidTransition):
        purge_service.purge_acknowledge(purge=purge, user=owner)


def test_acknowledge_expired_export_refused(team, owner):
    purge = PurgeOperationFactory(
        team=team, status=S.EXPORT_READY, export_key="k", export_expires_at=timezone.now() - dt.timedelta(hours=1)
    )
    with pytest.raises(BusinessRuleViolation):
        purge_service.purge_acknowledge(purge=purge, user=owner)


@pytest.mark.parametrize("role_user", ["member", "viewer"])
def test_acknowledge_and_cancel_need_admin(request, team, owner, role_user):
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    user = request.getfixturevalue(role_user)
    with pytest.raises(PermissionDenied):
        purge_service.purge_acknowledge(purge=purge, user=user)
    with pytest.raises(PermissionDenied):
        purge_service.purge_cancel(purge=purge, user=user)


def test_execute_waits_for_scheduled_for(team, owner, old_customers):
    later = timezone.now() + dt.timedelta(days=2)
    purge = _request(team, owner, scheduled_for=later)
    purge_service.purge_schedule(purge=purge)
    purge_service.purge_export_build(purge=purge)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    with pytest.raises(BusinessRuleViolation):
        purge_service.purge_execute(purge=purge)
    assert refresh(purge).status == S.ACKNOWLEDGED
    assert Customer.objects.count() == 4
    assert purge_service.purge_execute(purge=purge, now=later + dt.timedelta(seconds=1)).status == S.COMPLETED


@pytest.mark.parametrize("status", [S.REQUESTED, S.SCHEDULED, S.EXPORT_READY, S.ACKNOWLEDGED])
def test_cancel_from_each_state(team, owner, status):
    purge = PurgeOperationFactory(team=team, status=status)
    purge = purge_service.purge_cancel(purge=purge, user=owner)
    assert purge.status == S.CANCELLED
    assert ActivityEvent.objects.filter(event_type="admin_ops.purge.cancelled").count() == 1


def test_cancel_deletes_export(django_capture_on_commit_callbacks, team, owner, old_customers):
    purge = _to_export_ready(team, owner)
    key = purge.export_key
    assert private_storage().exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        purge = purge_service.purge_cancel(purge=purge, user=owner)
    assert not private_storage().exists(key)
    assert purge.export_key == ""


# --- Scope ----------------------------------------------------------------------------------
def test_scope_limited_to_team_and_date_range(team, other_team, owner, old_customers):
    purge = _to_export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge_service.purge_execute(purge=purge)
    remaining = set(Customer.objects.values_list("pk", flat=True))
    assert old_customers["recent"].pk in remaining
    assert old_customers["foreign"].pk in remaining
    assert not remaining & {c.pk for c in old_customers["in_range"]}


def test_rows_created_after_export_survive(team, owner, old_customers):
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    late = record_event(event_type="tenancy.customer.updated", team=team, user=owner)
    purge_service.purge_execute(purge=purge)
    assert ActivityEvent.objects.filter(pk=late.pk).exists()
    # the purge's own audit trail survives too
    assert ActivityEvent.objects.filter(event_type="admin_ops.purge.requested").exists()


def test_activity_events_purge_by_user(team, owner, admin_user, member):
    keep = record_event(event_type=USER_EVENT, team=team, user=admin_user)
    gone = record_event(event_type=USER_EVENT, team=team, user=member)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"], "criteria": {"user_id": member.pk}})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"activity_events": 1}
    assert ActivityEvent.objects.filter(pk=keep.pk).exists()
    assert not ActivityEvent.objects.filter(pk=gone.pk).exists()


def test_credit_records_purged_together(team, owner, old_customers):
    Account = apps.get_model("credit", "CreditAccount")
    Transaction = apps.get_model("credit", "CreditTransaction")
    doomed = old_customers["in_range"][0]
    account = Account.objects.create(team=team, customer=doomed, status="closed")
    txs = [
        Transaction.objects.create(team=team, account=account, type=t, amount_cents=500) for t in ("charge", "payment")
    ]
    # the account and its ledger are newer than the customer: they go with the customer
    kept_account = Account.objects.create(team=team, customer=old_customers["recent"], status="closed")
    purge = _to_export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"credit_transactions": 2, "credit_accounts": 1, "customers": 2}
    assert not Transaction.objects.filter(pk__in=[t.pk for t in txs]).exists()
    assert Account.objects.filter(pk=kept_account.pk).exists()


# --- Export -----------------------------------------------------------------------------------
def test_export_contains_exactly_the_rows_deleted(team, owner, old_customers):
    purge = _to_export_ready(team, owner)
    archive = _export_rows(_read_export(purge), "customers")
    rows_json, rows_csv = archive
    in_range = {str(c.pk) for c in old_customers["in_range"]}
    assert {r["id"] for r in rows_json} == in_range == {r["id"] for r in rows_csv}
    assert {r["first_name"] for r in rows_csv} == {"Old0", "Old1"}
    assert {r["email"] for r in rows_json} == {c.email for c in old_customers["in_range"]}
    manifest = json.loads(_read_export(purge).read("manifest.json"))
    assert manifest["counts"]["customers"] == 2
    before = set(Customer.objects.values_list("pk", flat=True))
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    deleted = {str(pk) for pk in before - set(Customer.objects.values_list("pk", flat=True))}
    assert deleted == in_range
    assert purge.records_affected["customers"] == len(rows_json)


def test_export_streams_in_chunks(monkeypatch, team, owner):
    from admin_ops.services import export

    for i in range(7):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    monkeypatch.setattr(export, "CHUNK_SIZE", 2)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    rows_json, rows_csv = _export_rows(_read_export(purge), "activity_events")
    assert len(rows_json) == len(rows_csv) == 7


# --- Crash and resume -------------------------------------------------------------------------
def test_crash_between_batches_resumes_with_exact_counts(monkeypatch, team, other_team, owner):
    for i in range(7):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    foreign = record_event(event_type=USER_EVENT, team=other_team)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)

    real = purge_service.delete_batch
    calls = {"n": 0}

    def crashing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(purge_service, "delete_batch", crashing)
    with pytest.raises(RuntimeError):
        purge_service.purge_execute(purge=purge, batch_size=3)
    purge = refresh(purge)
    assert purge.status == S.EXECUTING
    assert purge.progress["counts"] == {"activity_events": 3}
    monkeypatch.setattr(purge_service, "delete_batch", real)

    summary = purge_service.purge_advance_all()
    assert summary["resumed"] == [str(purge.pk)]
    purge = refresh(purge)
    assert purge.status == S.COMPLETED
    assert purge.records_affected == {"activity_events": 7}
    assert ActivityEvent.objects.filter(pk=foreign.pk).exists()
    assert not ActivityEvent.objects.filter(team=team, event_type=USER_EVENT).exists()


# --- Files ------------------------------------------------------------------------------------
def _uploads(team, owner):
    Upload = apps.get_model("knowledge_base", "KbUpload")
    rows = []
    for i, store in enumerate(["private", "public", "private"]):
        key = f"{store}/kb/{team.pk}/f{i}/file{i}.txt"
        key = get_storage(store).save(key, ContentFile(b"hello"))
        rows.append(
            Upload.objects.create(
                team=team, store=store, key=key, original_name="f.txt", content_type="text/plain", size=5, sha256="0"
            )
        )
    set_created_at(rows[0], OLD)
    set_created_at(rows[1], OLD)
    set_created_at(rows[2], RECENT)
    return rows


def _purge_uploads(team, owner):
    uploads = _uploads(team, owner)
    purge = _to_export_ready(team, owner, scope_2024("kb_uploads"))
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"kb_uploads": 2}
    for upload, gone in zip(uploads, [True, True, False], strict=True):
        assert get_storage(upload.store).exists(upload.key) is not gone
    return purge


def test_upload_files_deleted_on_file_system(team, owner):
    _purge_uploads(team, owner)


def test_upload_files_deleted_on_s3(s3_storages, team, owner):
    purge = _purge_uploads(team, owner)
    # and the export itself went to the private bucket
    keys = [
        o["Key"] for o in s3_storages["client"].list_objects_v2(Bucket=s3_storages["buckets"]["private"])["Contents"]
    ]
    assert purge.export_key in keys


def test_file_deletion_resumes_after_crash(monkeypatch, team, owner):
    uploads = _uploads(team, owner)
    purge = _to_export_ready(team, owner, scope_2024("kb_uploads"))
    purge_service.purge_acknowledge(purge=purge, user=owner)
    monkeypatch.setattr(purge_service, "_delete_files", lambda files: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        purge_service.purge_execute(purge=purge)
    assert len(refresh(purge).progress["pending_files"]) == 2
    monkeypatch.undo()
    purge = purge_service.purge_execute(purge=purge)
    assert purge.status == S.COMPLETED
    assert purge.records_affected == {"kb_uploads": 2}
    assert not get_storage("private").exists(uploads[0].key)
    assert not get_storage("public").exists(uploads[1].key)


def test_cancel_deletes_export_on_s3(django_capture_on_commit_callbacks, s3_storages, team, owner):
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    assert private_storage().exists(purge.export_key)
    with django_capture_on_commit_callbacks(execute=True):
        purge_service.purge_cancel(purge=purge, user=owner)
    assert not private_storage().exists(purge.export_key)


# --- The job ----------------------------------------------------------------------------------
def test_job_moves_purges_and_is_idempotent(team, owner, old_customers):
    from deelrx.jobs import execute_job

    purge = _request(team, owner)
    summary = execute_job("admin-purge-execute", trigger="manual")
    assert summary["scheduled"] == [str(purge.pk)]
    assert summary["exported"] == [str(purge.pk)]
    assert refresh(purge).status == S.EXPORT_READY
    again = execute_job("admin-purge-execute", trigger="manual")
    assert again["counts"] == {"scheduled": 0, "exported": 0, "executed": 0, "resumed": 0}
    purge_service.purge_acknowledge(purge=purge, user=owner)
    summary = execute_job("admin-purge-execute", trigger="manual")
    assert summary["executed"] == [str(purge.pk)]
    assert refresh(purge).status == S.COMPLETED
    assert execute_job("admin-purge-execute", trigger="manual")["counts"]["executed"] == 0
    assert Customer.objects.filter(team=team).count() == 1


def test_job_dry_run_changes_nothing(team, owner):
    purge = _request(team, owner)
    summary = purge_service.purge_advance_all(dry_run=True)
    assert summary["scheduled"] == [str(purge.pk)]
    assert refresh(purge).status == S.REQUESTED


def test_job_skips_acknowledged_not_yet_due(team, owner):
    purge = PurgeOperationFactory(
        team=team, status=S.ACKNOWLEDGED, scheduled_for=timezone.now() + dt.timedelta(hours=1)
    )
    assert purge_service.purge_advance_all()["counts"]["executed"] == 0
    assert refresh(purge).status == S.ACKNOWLEDGED


def test_job_cancels_request_that_became_invalid(team, owner, old_customers):
    purge = PurgeOperationFactory(team=team, scope={"entities": ["nonsense"]})
    summary = purge_service.purge_advance_all()
    assert str(purge.pk) in summary["errors"]
    assert refresh(purge).status == S.CANCELLED


def test_customers_factory_smoke(team):
    assert CustomerFactory(team=team).team == team


def test_expired_exports_deleted(django_capture_on_commit_callbacks, team, owner):
    fresh = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    old = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    PurgeOperation.objects.filter(pk=old.pk).update(export_expires_at=timezone.now() - dt.timedelta(days=1))
    assert purge_service.purge_exports_delete_expired(dry_run=True) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_service.purge_exports_delete_expired() == 1
    assert not private_storage().exists(old.export_key)
    assert private_storage().exists(fresh.export_key)
    assert refresh(old).export_key == ""
    assert purge_service.purge_exports_delete_expired() == 0


def test_system_request_without_user(team, member):
    purge = purge_service.purge_request(
        team=team, user=None, scope={"entities": ["activity_events"], "criteria": {"user_id": member.pk}}
    )
    assert purge.requested_by is None
    assert purge.status == S.REQUESTED


def test_articles_take_their_uploads_and_revisions(team, owner):
    Article = apps.get_model("knowledge_base", "KbArticle")
    Revision = apps.get_model("knowledge_base", "KbRevision")
    Upload = apps.get_model("knowledge_base", "KbUpload")
    old_article = Article.objects.create(team=team, title="Old", slug="old", content="x")
    Revision.objects.create(article=old_article, number=1, title="Old", content="x")
    new_article = Article.objects.create(team=team, title="New", slug="new", content="y")
    set_created_at(old_article, OLD)
    key = get_storage("public").save(f"public/kb/{team.pk}/a/img.png", ContentFile(b"png"))
    # a recent upload of the old article goes with it; one of the new article stays
    attached = Upload.objects.create(
        team=team,
        article=old_article,
        store="public",
        key=key,
        original_name="img.png",
        content_type="image/png",
        size=3,
        sha256="0",
    )
    kept = Upload.objects.create(
        team=team,
        article=new_article,
        store="public",
        key="public/kb/other.png",
        original_name="o.png",
        content_type="image/png",
        size=3,
        sha256="0",
    )
    purge = _to_export_ready(team, owner, scope_2024("kb_articles", "kb_uploads"))
    archive = _read_export(purge)
    assert _export_rows(archive, "kb_uploads")[0][0]["id"] == str(attached.pk)
    # the rows that go by cascade are in the export too
    revisions_json, revisions_csv = _export_rows(archive, "kb_articles.knowledge_base.KbRevision")
    assert [r["article_id"] for r in revisions_json] == [str(old_article.pk)]
    assert [r["article_id"] for r in revisions_csv] == [str(old_article.pk)]
    assert json.loads(archive.read("manifest.json"))["cascaded"]["kb_articles.knowledge_base.KbRevision"] == 1
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"kb_uploads": 1, "kb_articles": 1}
    assert purge.progress["cascaded"] == {"knowledge_base.KbRevision": 1}
    assert not get_storage("public").exists(key)
    assert Upload.objects.filter(pk=kept.pk).exists()
    assert Article.objects.filter(pk=new_article.pk).exists()


def test_protected_rows_keep_purge_executing(team, owner, old_customers):
    Account = apps.get_model("credit", "CreditAccount")
    purge = _to_export_ready(team, owner)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    # created after the export: out of scope, but it protects its customer
    Account.objects.create(team=team, customer=old_customers["in_range"][0], status="closed")
    with pytest.raises(BusinessRuleViolation) as exc:
        purge_service.purge_execute(purge=purge)
    assert exc.value.code == "purge_blocked"
    purge = refresh(purge)
    assert purge.status == S.EXECUTING
    assert "CreditAccount" in purge.error
    assert Customer.objects.filter(pk=old_customers["in_range"][0].pk).exists()


def test_a_criterion_an_entity_cannot_apply_narrows_it_to_its_parent(team, owner):
    """Regression: {"status": "archived"} with kb_uploads used to select every upload
    of the period (uploads have no status), not just those of archived articles."""
    Article = apps.get_model("knowledge_base", "KbArticle")
    Upload = apps.get_model("knowledge_base", "KbUpload")
    archived = Article.objects.create(team=team, title="A", slug="a", content="x", status="archived")
    draft = Article.objects.create(team=team, title="D", slug="d", content="y", status="draft")

    def upload(article, name):
        return Upload.objects.create(
            team=team,
            article=article,
            store="public",
            key=f"public/kb/{name}",
            original_name=name,
            content_type="image/png",
            size=1,
            sha256="0",
        )

    of_archived, of_draft, loose = upload(archived, "a.png"), upload(draft, "d.png"), upload(None, "l.png")
    scope = {"entities": ["kb_articles", "kb_uploads"], "criteria": {"status": "archived"}}
    assert set(purge_registry.selection("kb_uploads", team_id=team.pk, scope=scope).values_list("pk", flat=True)) == {
        of_archived.pk
    }
    purge = _to_export_ready(team, owner, scope)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"kb_uploads": 1, "kb_articles": 1}
    assert set(Upload.objects.values_list("pk", flat=True)) == {of_draft.pk, loose.pk}
    assert list(Article.objects.values_list("pk", flat=True)) == [draft.pk]


def test_records_affected_lists_every_entity_even_with_nothing_to_delete(team, owner):
    """Regression: a purge that matched nothing completed with records_affected == {},
    and the page then showed no deletion counts at all."""
    scope = {"entities": ["activity_events"], "date_range": {"from": "2001-01-01", "to": "2001-12-31"}}
    purge = _to_export_ready(team, owner, scope)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"activity_events": 0}


def test_export_outlives_a_purge_scheduled_weeks_ahead(team, owner):
    """Regression: the export expired 14 days after it was built, so a purge scheduled
    14+ days ahead (as the inactivity job schedules them) lost its export to retention
    before or as its rows were deleted."""
    later = timezone.now() + dt.timedelta(days=30)
    purge = _request(team, owner, {"entities": ["activity_events"]}, scheduled_for=later)
    purge_service.purge_schedule(purge=purge)
    purge = purge_service.purge_export_build(purge=purge)
    assert purge.export_expires_at == later + purge_service.EXPORT_TTL


def test_a_row_that_starts_matching_after_the_export_is_not_deleted(team, owner):
    """Regression: criteria on mutable fields were re-evaluated at execution, so an
    article archived after the export was built got deleted without being exported."""
    Article = apps.get_model("knowledge_base", "KbArticle")
    archived = Article.objects.create(team=team, title="A", slug="a", content="x", status="archived")
    draft = Article.objects.create(team=team, title="D", slug="d", content="y", status="draft")
    purge = _to_export_ready(team, owner, {"entities": ["kb_articles"], "criteria": {"status": "archived"}})
    exported = {row["id"] for row in _export_rows(_read_export(purge), "kb_articles")[0]}
    assert exported == {str(archived.pk)}
    draft.status = "archived"
    draft.save()  # changed after the export: now in scope, but not in the export
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"kb_articles": 1}
    assert list(Article.objects.values_list("pk", flat=True)) == [draft.pk]


def test_export_of_a_purge_cancelled_while_it_was_written_is_removed(monkeypatch, team, owner, old_customers):
    # regression: the orphan's removal was an on_commit hook of the block that raised, so it
    # never ran and a copy of the personal data stayed in the private store for good
    purge = _request(team, owner)
    purge_service.purge_schedule(purge=purge)
    real = purge_service.build_export
    written = []

    def build_then_cancel(**kwargs):
        key, counts = real(**kwargs)
        written.append(key)
        purge_service.purge_cancel(purge=purge, user=owner)
        return key, counts

    monkeypatch.setattr(purge_service, "build_export", build_then_cancel)
    with pytest.raises(InvalidTransition):
        purge_service.purge_export_build(purge=purge)
    assert refresh(purge).status == S.CANCELLED
    assert not private_storage().exists(written[0])


def test_export_keys_are_unique_per_build(team):
    from admin_ops.services.export import export_key_for

    at = timezone.now()
    keys = {export_key_for(team_id=team.pk, purge_id="p", at=at) for _ in range(5)}
    assert len(keys) == 5  # two workers in the same second never write one object


def test_retention_keeps_the_export_of_a_purge_still_to_run(django_capture_on_commit_callbacks, team, owner):
    # regression: with the job down past export_expires_at, retention removed the export of
    # an acknowledged purge, which then deleted its rows with no copy left
    for i in range(3):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    key = purge.export_key
    later = timezone.now() + dt.timedelta(days=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_service.purge_exports_delete_expired(now=later) == 0
    assert private_storage().exists(key)
    purge = purge_service.purge_execute(purge=purge, now=later)
    assert purge.records_affected == {"activity_events": 3}
    # once completed the export stays EXPORT_TTL more, then retention takes it
    assert purge.export_expires_at >= purge.completed_at + purge_service.EXPORT_TTL
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_service.purge_exports_delete_expired(now=purge.completed_at + dt.timedelta(days=1)) == 0
        assert purge_service.purge_exports_delete_expired(now=purge.export_expires_at) == 1
    assert not private_storage().exists(key)


def test_nothing_is_deleted_once_the_export_is_gone(team, owner):
    record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    private_storage().delete(purge.export_key)  # removed from the store behind the app's back
    with pytest.raises(BusinessRuleViolation) as exc:
        purge_service.purge_execute(purge=purge)
    assert exc.value.code == "export_missing"
    PurgeOperation.objects.filter(pk=purge.pk).update(export_key="")
    with pytest.raises(BusinessRuleViolation) as exc:
        purge_service.purge_execute(purge=purge)
    assert exc.value.code == "export_missing"
    assert refresh(purge).status == S.ACKNOWLEDGED
    assert ActivityEvent.objects.filter(event_type=USER_EVENT).exists()


def test_clearing_pending_files_keeps_those_another_worker_added(team, owner):
    # regression: the list was emptied wholesale, dropping a file another worker's batch
    # had just recorded (it would never be deleted if that worker then died)
    mine = ["private", f"private/kb/{team.pk}/mine.txt"]
    theirs = ["private", f"private/kb/{team.pk}/theirs.txt"]
    for _, key in (mine, theirs):
        private_storage().save(key, ContentFile(b"x"))
    purge = PurgeOperationFactory(team=team, status=S.EXECUTING, progress={"pending_files": [mine]})
    PurgeOperation.objects.filter(pk=purge.pk).update(progress={"pending_files": [mine, theirs]})
    purge_service._clear_pending_files(purge)
    assert refresh(purge).progress["pending_files"] == [theirs]
    assert not private_storage().exists(mine[1])
    assert private_storage().exists(theirs[1])


# --- The exact boundary: the export records the ids execution deletes -------------------------
def _recorded_ids(purge, name):
    from admin_ops.models import PurgeExportedRow

    rows = PurgeExportedRow.objects.filter(purge=purge, export_id=purge.progress["export_id"], entity=name)
    return {str(v) for v in rows.values_list("object_uuid", flat=True)}


def test_the_export_records_the_ids_of_exactly_the_rows_it_holds(team, owner, old_customers):
    purge = _to_export_ready(team, owner)
    rows_json, _ = _export_rows(_read_export(purge), "customers")
    assert (
        _recorded_ids(purge, "customers")
        == {r["id"] for r in rows_json}
        == {str(c.pk) for c in old_customers["in_range"]}
    )
    assert json.loads(_read_export(purge).read("manifest.json"))["export_id"] == purge.progress["export_id"]


def test_a_row_in_scope_that_the_export_does_not_hold_is_not_deleted(team, owner):
    """What a transaction still open when the export began looks like afterwards: a
    row created before the cutoff that the export did not see. Selecting by the
    cutoff at execution (as purges used to) deleted it without any copy."""
    for i in range(3):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    unseen = record_event(event_type=USER_EVENT, team=team, user=owner)
    set_created_at(unseen, OLD)  # created long before the cutoff, committed after the export
    assert purge_registry.selection(
        "activity_events", team_id=team.pk, scope=purge.scope, cutoff=purge_service._cutoff(purge)
    ).filter(pk=unseen.pk)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"activity_events": 3}
    assert ActivityEvent.objects.filter(pk=unseen.pk).exists()
    # it stays for the next purge, which exports and deletes it
    second = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=second, user=owner)
    assert purge_service.purge_execute(purge=second).records_affected == {"activity_events": 1}
    assert not ActivityEvent.objects.filter(pk=unseen.pk).exists()


def test_activity_events_go_in_one_delete_statement_per_batch(team, owner):
    """Nothing depends on an activity event: each batch is one DELETE … WHERE id
    IN (the next recorded ids), no row is read into Python, and a batch runs the
    same queries whatever its size."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    assert purge_service.set_deletable("activity_events")
    table = ActivityEvent._meta.db_table

    def run(n_events, batch_size):
        ActivityEvent.objects.filter(team=team).exclude(event_type__startswith="admin_ops.purge.").purge_delete()
        for i in range(n_events):
            record_event(event_type=USER_EVENT, team=team, user=owner)
        purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
        purge_service.purge_acknowledge(purge=purge, user=owner)
        with CaptureQueriesContext(connection) as ctx:
            purge = purge_service.purge_execute(purge=purge, batch_size=batch_size)
        assert purge.records_affected == {"activity_events": n_events}
        sql = [q["sql"] for q in ctx.captured_queries]
        deletes = [s for s in sql if s.startswith(f'DELETE FROM "{table}"')]
        reads = [s for s in sql if s.startswith("SELECT") and f'FROM "{table}"' in s.split(" WHERE ")[0]]
        assert "IN (SELECT" in deletes[0]
        assert not reads
        return len(sql), len(deletes)

    few_queries, few_batches = run(6, 3)
    many_queries, many_batches = run(12, 3)
    assert (few_batches, many_batches) == (2, 4)
    big_queries, big_batches = run(12, 6)
    assert big_batches == 2
    assert big_queries == few_queries  # same batches, twice the rows each
    per_batch = (many_queries - few_queries) / (many_batches - few_batches)
    assert per_batch == int(per_batch)


def test_entities_with_dependants_keep_their_cascades(team, owner):
    """Customers, articles (revisions, feedback, link checks) and uploads (files)
    are deleted through the ORM's collector, batch by batch."""
    for name in ("customers", "kb_articles", "kb_uploads"):
        assert not purge_service.set_deletable(name)


def test_export_rows_keep_their_types_in_json_and_text_in_csv(team, owner):
    Article = apps.get_model("knowledge_base", "KbArticle")
    article = Article.objects.create(
        team=team, title='Say "hi"\nthen, go', slug="a", content="x", is_public=True, tags=["a", "b"]
    )
    purge = _to_export_ready(team, owner, {"entities": ["kb_articles"]})
    rows_json, rows_csv = _export_rows(_read_export(purge), "kb_articles")
    row, cells = rows_json[0], rows_csv[0]
    article.refresh_from_db()
    assert row["id"] == cells["id"] == str(article.pk)
    assert row["title"] == cells["title"] == 'Say "hi"\nthen, go'
    assert row["is_public"] is True
    assert cells["is_public"] == "true"
    assert row["tags"] == ["a", "b"] == json.loads(cells["tags"])
    assert row["view_count"] == 0
    assert cells["view_count"] == "0"
    assert row["published_at"] is None
    assert cells["published_at"] == ""
    for value in (row["created_at"], cells["created_at"]):  # ISO 8601 (milliseconds at least)
        assert abs(dt.datetime.fromisoformat(value) - article.created_at) < dt.timedelta(milliseconds=1)
    assert "search_vector" not in row


def test_cancel_forgets_the_recorded_ids(team, owner, old_customers):
    from admin_ops.models import PurgeExportedRow

    purge = _to_export_ready(team, owner)
    assert PurgeExportedRow.objects.filter(purge=purge).count() == 2
    purge_service.purge_cancel(purge=purge, user=owner)
    assert not PurgeExportedRow.objects.filter(purge=purge).exists()


def test_retention_forgets_the_recorded_ids_with_the_export(django_capture_on_commit_callbacks, team, owner):
    from admin_ops.models import PurgeExportedRow

    record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)
    assert PurgeExportedRow.objects.filter(purge=purge).count() == 1  # kept with the export
    with django_capture_on_commit_callbacks(execute=True):
        assert purge_service.purge_exports_delete_expired(now=purge.export_expires_at) == 1
    assert not PurgeExportedRow.objects.filter(purge=purge).exists()


def test_a_failed_export_leaves_no_recorded_ids(monkeypatch, team, owner, old_customers):
    from admin_ops.models import PurgeExportedRow
    from admin_ops.services import export

    purge = _request(team, owner)
    purge_service.purge_schedule(purge=purge)

    def store_down(*args, **kwargs):
        raise OSError("store unavailable")

    monkeypatch.setattr(export, "private_storage", lambda: type("Down", (), {"save": store_down})())
    with pytest.raises(OSError):
        purge_service.purge_export_build(purge=purge)
    assert refresh(purge).status == S.SCHEDULED
    assert not PurgeExportedRow.objects.filter(purge=purge).exists()


def test_an_export_from_before_recorded_ids_is_executed_by_its_cutoff(team, owner):
    """A purge exported by the previous version (no `export_id` in its progress,
    no recorded ids) is given its ids from its cutoff when execution starts, as
    execution then selected them."""
    from admin_ops.models import PurgeExportedRow

    for i in range(3):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    PurgeExportedRow.objects.filter(purge=purge).delete()
    progress = {k: v for k, v in refresh(purge).progress.items() if k != "export_id"}
    PurgeOperation.objects.filter(pk=purge.pk).update(progress=progress)
    late = record_event(event_type=USER_EVENT, team=team, user=owner)  # after the cutoff: stays
    purge = purge_service.purge_execute(purge=purge)
    assert purge.records_affected == {"activity_events": 3}
    assert list(ActivityEvent.objects.filter(event_type=USER_EVENT).values_list("pk", flat=True)) == [late.pk]


def test_a_resumed_purge_continues_after_the_last_committed_batch(monkeypatch, team, owner):
    for i in range(10):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    purge = _to_export_ready(team, owner, {"entities": ["activity_events"]})
    purge_service.purge_acknowledge(purge=purge, user=owner)
    real = purge_service.delete_batch
    calls = {"n": 0}

    def crashing(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    monkeypatch.setattr(purge_service, "delete_batch", crashing)
    with pytest.raises(RuntimeError):
        purge_service.purge_execute(purge=purge, batch_size=4)
    position = refresh(purge).progress["after"]["activity_events"]
    monkeypatch.setattr(purge_service, "delete_batch", real)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        purge = purge_service.purge_execute(purge=purge, batch_size=4)
    assert purge.records_affected == {"activity_events": 10}
    # the resumed run starts after the keyset position, not from the first recorded id
    assert any(f'"object_int" > {position}' in q["sql"] for q in ctx.captured_queries)
