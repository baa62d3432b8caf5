"""Upload versions (DESIGN §15): replace, restore, delete, prune and clean up —
on the disk stores and on S3 (moto's server) with bucket versioning on and off."""

from __future__ import annotations

import gzip
import hashlib
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from deelrx.audit.models import ActivityEvent
from deelrx.errors import Conflict, FileTooLarge, NotFound, PermissionDenied, UnsupportedFileType
from deelrx.storage import get_storage, is_s3, open_stored, store_of_key
from knowledge_base.models import KbArticle, KbUpload, KbUploadVersion
from knowledge_base.selectors.uploads import upload_versions
from knowledge_base.services.cleanup import orphans_cleanup
from knowledge_base.services.uploads import upload_create, upload_delete
from knowledge_base.services.versions import (
    upload_replace,
    upload_version_restore,
    upload_versions_count_expired,
    upload_versions_delete_expired,
    version_copy_key,
)
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.storage_helpers import PDF, a_file, allow_public_read, stored_keys

pytestmark = pytest.mark.django_db

PDF2 = PDF.replace(b"1 0 obj", b"2 0 obj")
PDF3 = PDF.replace(b"1 0 obj", b"3 0 obj")
CSV = b"name,amount\n" + b"".join(b"customer %d,%d\n" % (i, i * 7) for i in range(400))
CSV2 = CSV.replace(b"customer", b"client")


@pytest.fixture(name="mode", params=["filesystem", "s3", "s3-versioned"])
def mode_fixture(request, settings):
    """The three ways a store keeps older content: copies on disk, copies on S3,
    object versions on an S3 bucket with versioning enabled."""
    settings.UPLOAD_PROCESSING_ENABLED = False
    if request.param != "filesystem":
        s3 = request.getfixturevalue("s3_storages")
        allow_public_read(s3["client"], s3["buckets"]["public"])
        if request.param == "s3-versioned":
            for bucket in s3["buckets"].values():
                s3["client"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return request.param


def read(store: str, key: str, version_id: str = "") -> bytes:
    with open_stored(store, key, version_id=version_id or None) as handle:
        return handle.read()


def read_version(version: KbUploadVersion) -> bytes:
    return read(store_of_key(version.key), version.key, version.storage_version_id)


def make_upload(team, user, data=PDF, name="report.pdf", **kwargs) -> KbUpload:
    return upload_create(team=team, user=user, file=a_file(data, name), **kwargs)


# --- Replace ---------------------------------------------------------------------------------
def test_replace_keeps_the_old_content_and_the_key(mode, team, member, second_member):
    upload = make_upload(team, member)
    key = upload.key
    replaced = upload_replace(upload=upload, user=second_member, file=a_file(PDF2, "report v2.pdf"))

    assert replaced.key == key  # the public URL never changes
    assert replaced.version == 2
    assert replaced.sha256 == hashlib.sha256(PDF2).hexdigest()
    assert replaced.size == len(PDF2)
    assert replaced.original_name == "report v2.pdf"
    assert read(upload.store, key) == PDF2
    v2, v1 = upload_versions(replaced)
    assert (v2.number, v2.key, v2.created_by, v2.sha256) == (2, key, second_member, replaced.sha256)
    assert (v1.number, v1.created_by, v1.sha256) == (1, member, hashlib.sha256(PDF).hexdigest())
    assert read_version(v1) == PDF
    assert read_version(v2) == PDF2
    if mode == "s3-versioned":
        assert v1.key == key
        assert v1.storage_version_id
        assert v2.storage_version_id
        assert v2.storage_version_id != v1.storage_version_id
    else:
        assert v1.key == version_copy_key(key, 1) == key.rsplit("/", 1)[0] + "/versions/1/report.pdf"  # private
        assert not v1.storage_version_id
    event = ActivityEvent.objects.get(event_type="kb.upload.replaced")
    assert event.event_data["version"] == 2
    assert event.event_data["previous_version"] == 1
    assert event.user == second_member


def test_versions_are_numbered_in_order_and_each_kept(mode, team, member):
    upload = make_upload(team, member)
    for data in (PDF2, PDF3):
        upload = upload_replace(upload=upload, user=member, file=a_file(data))
    assert [v.number for v in upload_versions(upload)] == [3, 2, 1]
    assert [read_version(v) for v in upload_versions(upload)] == [PDF3, PDF2, PDF]


def test_replace_with_another_type_is_refused_and_changes_nothing(mode, team, member):
    upload = make_upload(team, member)
    before = stored_keys(upload.store)
    with pytest.raises(UnsupportedFileType) as caught:
        upload_replace(upload=upload, user=member, file=a_file(b"just some text\n", "notes.txt"))
    assert caught.value.details == {"expected": "application/pdf", "received": "text/plain"}
    upload.refresh_from_db()
    assert upload.version == 1
    assert KbUploadVersion.objects.count() == 1
    assert stored_keys(upload.store) == before
    assert read(upload.store, upload.key) == PDF


def test_replace_refuses_what_upload_refuses(team, member, viewer, settings):
    upload = make_upload(team, member)
    with pytest.raises(PermissionDenied):
        upload_replace(upload=upload, user=viewer, file=a_file(PDF2))
    settings.UPLOAD_MAX_BYTES = len(PDF2) - 1
    with pytest.raises(FileTooLarge):
        upload_replace(upload=upload, user=member, file=a_file(PDF2))
    settings.UPLOAD_MAX_BYTES = 10_000
    exe = b"MZ\x90\x00" + b"\x00" * 60
    with pytest.raises(UnsupportedFileType):
        upload_replace(upload=upload, user=member, file=a_file(exe, "tool.pdf"))
    assert KbUpload.objects.get().version == 1


def test_attachment_of_a_published_article_needs_admin_to_replace(team, member, admin_user):
    article = KbArticleFactory(team=team)
    upload = make_upload(team, member, article=article)
    KbArticle.objects.filter(pk=article.pk).update(status="published")
    with pytest.raises(PermissionDenied):
        upload_replace(upload=upload, user=member, file=a_file(PDF2))
    with pytest.raises(PermissionDenied):
        upload_version_restore(upload=upload, number=1, user=member)
    assert upload_replace(upload=upload, user=admin_user, file=a_file(PDF2)).version == 2


def test_a_failed_write_puts_the_old_content_back(mode, team, member):
    upload = make_upload(team, member)
    before = stored_keys(upload.store)
    with (
        mock.patch("knowledge_base.services.versions.record_event", side_effect=RuntimeError("audit down")),
        pytest.raises(RuntimeError),
    ):
        upload_replace(upload=upload, user=member, file=a_file(PDF2))
    upload.refresh_from_db()
    assert upload.version == 1
    (only,) = upload_versions(upload)
    assert read(upload.store, upload.key) == PDF  # the old content is current again
    assert read_version(only) == PDF
    if mode == "s3-versioned":
        assert only.key == upload.key
        assert stored_keys(upload.store) == before
        storage = get_storage(upload.store)
        listed = storage.connection.meta.client.list_object_versions(Bucket=storage.bucket_name)
        assert len(listed.get("Versions", [])) == 1  # the new object version was removed
    else:
        # Its copy (made and committed before the overwrite) is what its row names now.
        assert only.key == version_copy_key(upload.key, 1)
        assert stored_keys(upload.store) == before | {only.key}
    # and the next attempt succeeds
    assert upload_replace(upload=upload, user=member, file=a_file(PDF2)).version == 2
    assert [read_version(v) for v in upload_versions(upload)] == [PDF2, PDF]


@pytest.mark.parametrize("mode", ["filesystem", "s3"], indirect=True)
def test_a_crash_during_the_overwrite_keeps_the_old_content_with_its_row(
    mode, team, member, settings, django_capture_on_commit_callbacks
):
    """A process killed after the new bytes are written and before the rows are (no undo
    runs): the old content is in its copy, named by its row, so kb-cleanup-orphaned keeps it."""
    upload = make_upload(team, member)
    KbUpload.objects.filter(pk=upload.pk).update(article=KbArticleFactory(team=team))
    with (
        mock.patch("knowledge_base.services.versions._quietly"),  # killed: nothing is undone
        mock.patch("knowledge_base.services.versions.record_event", side_effect=SystemExit("killed")),
        pytest.raises(SystemExit),
    ):
        upload_replace(upload=upload, user=member, file=a_file(PDF2))
    (only,) = upload_versions(upload)
    assert only.key != upload.key
    with django_capture_on_commit_callbacks(execute=True):
        orphans_cleanup(now=timezone.now() + timedelta(days=settings.KB_ORPHAN_GRACE_DAYS + 1))
    assert read_version(only) == PDF  # not taken for a stray
    assert read(upload.store, upload.key) == PDF2  # the interrupted write: a whole file, never half of one
    upload = upload_replace(upload=KbUpload.objects.get(pk=upload.pk), user=member, file=a_file(PDF3))
    assert [read_version(v) for v in upload_versions(upload)] == [PDF3, PDF]


def test_replace_queues_processing_of_the_new_version(team, member, settings, django_capture_on_commit_callbacks):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member)
    with mock.patch("knowledge_base.services.versions.queue_upload_processing") as queue:
        replaced = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    queue.assert_called_once()
    assert queue.call_args.args[0].version == 2
    assert replaced.processing_status == KbUpload.Processing.PENDING


# --- Restore ----------------------------------------------------------------------------------
def test_restore_makes_an_old_version_current_as_a_new_one(mode, team, member, admin_user):
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2, "second.pdf"))
    restored = upload_version_restore(upload=upload, number=1, user=admin_user)

    assert restored.version == 3
    assert restored.sha256 == hashlib.sha256(PDF).hexdigest()
    assert restored.original_name == "report.pdf"
    assert read(restored.store, restored.key) == PDF
    v3, v2, v1 = upload_versions(restored)
    assert v3.created_by == admin_user
    assert v3.sha256 == v1.sha256
    assert [read_version(v) for v in (v3, v2, v1)] == [PDF, PDF2, PDF]
    event = ActivityEvent.objects.get(event_type="kb.upload.version_restored")
    assert event.event_data["restored_from"] == 1
    assert event.event_data["version"] == 3


def test_restore_of_a_missing_or_current_version_is_refused(team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    with pytest.raises(NotFound):
        upload_version_restore(upload=upload, number=7, user=member)
    with pytest.raises(Conflict) as caught:
        upload_version_restore(upload=upload, number=2, user=member)
    assert caught.value.code == "version_is_current"


# --- Compression ------------------------------------------------------------------------------
@pytest.mark.parametrize("store_context", ["user-upload", "kb-article"])
def test_text_is_stored_gzip_encoded_on_s3_and_reads_back_identical(s3_storages, team, member, store_context):
    upload = make_upload(team, member, data=CSV, name="customers.csv", context=store_context)
    storage = get_storage(upload.store)
    head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=upload.key)
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentType"] == "text/csv"
    assert upload.size == len(CSV)
    assert upload.stored_size == head["ContentLength"] < len(CSV)
    assert upload.versions.get().stored_size == upload.stored_size
    raw = storage.connection.meta.client.get_object(Bucket=storage.bucket_name, Key=upload.key)["Body"].read()
    assert gzip.decompress(raw) == CSV
    assert read(upload.store, upload.key) == CSV


def test_a_compressed_version_copy_stays_compressed(s3_storages, team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member, data=CSV, name="customers.csv")
    upload = upload_replace(upload=upload, user=member, file=a_file(CSV2, "customers.csv"))
    v2, v1 = upload_versions(upload)
    storage = get_storage(upload.store)
    head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=v1.key)
    assert head["ContentEncoding"] == "gzip"
    assert v1.stored_size == head["ContentLength"]
    assert read_version(v1) == CSV
    assert read_version(v2) == CSV2
    assert v2.stored_size < v2.size


@pytest.mark.parametrize(("data", "name"), [(PDF, "report.pdf")])
def test_already_compressed_types_are_not_gzipped(s3_storages, team, member, data, name, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member, data=data, name=name)
    storage = get_storage(upload.store)
    head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=upload.key)
    assert "ContentEncoding" not in head
    assert upload.stored_size == upload.size == len(data)


def test_disk_stores_keep_text_as_it_is(team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member, data=CSV, name="customers.csv")
    with get_storage(upload.store).open(upload.key, "rb") as handle:
        assert handle.read() == CSV
    assert upload.stored_size == len(CSV)


# --- Delete, purge, clean-up ---------------------------------------------------------------------
def _with_thumbnail(upload: KbUpload) -> KbUpload:
    """What part A's processing leaves: a thumbnail in the upload's thumbnails/ directory."""
    directory = upload.key.rsplit("/", 1)[0]
    key = get_storage(upload.store).save(f"{directory}/thumbnails/v{upload.version}.webp", ContentFile(b"RIFF....WEBP"))
    KbUpload.objects.filter(pk=upload.pk).update(thumbnail_key=key)
    upload.thumbnail_key = key
    return upload


def _all_object_versions(store: str) -> list:
    storage = get_storage(store)
    if not is_s3(storage):
        return sorted(stored_keys(store))
    listed = storage.connection.meta.client.list_object_versions(Bucket=storage.bucket_name)
    return [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]


def test_deleting_an_upload_deletes_every_version_and_the_thumbnails(
    mode, team, member, django_capture_on_commit_callbacks
):
    keep = make_upload(team, member, name="other.pdf")
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF3))
    _with_thumbnail(upload)
    with django_capture_on_commit_callbacks(execute=True):
        upload_delete(upload=upload, user=member)
    assert KbUploadVersion.objects.filter(upload_id=upload.pk).count() == 0
    assert stored_keys(upload.store) == {keep.key}
    remaining = _all_object_versions(upload.store)
    if is_s3(get_storage(upload.store)):
        assert [item["Key"] for item in remaining] == [keep.key]  # no version, no delete marker left
    else:
        storage = get_storage(upload.store)
        import os

        assert not os.path.exists(storage.path(upload.key.rsplit("/", 1)[0]))  # the directory is gone too


def test_cleanup_keeps_version_and_thumbnail_objects_and_collects_unreferenced_ones(mode, team, member, settings):
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    upload = _with_thumbnail(upload)
    KbUpload.objects.filter(pk=upload.pk).update(article=KbArticleFactory(team=team))  # not an orphan upload
    directory = upload.key.rsplit("/", 1)[0]
    storage = get_storage(upload.store)
    stray_version = storage.save(f"{directory}/versions/9/report.pdf", ContentFile(PDF3))
    stray_thumbnail = storage.save(f"{directory}/thumbnails/v9.webp", ContentFile(b"RIFF....WEBP"))
    summary = orphans_cleanup(now=timezone.now() + timedelta(days=settings.KB_ORPHAN_GRACE_DAYS + 1))
    keys = stored_keys(upload.store)
    assert stray_version not in keys
    assert stray_thumbnail not in keys
    assert summary["stray_objects_deleted"] == 2
    assert upload.thumbnail_key in keys
    assert upload.key in keys
    assert all(read_version(v) for v in upload_versions(upload))


def test_orphan_cleanup_deletes_an_orphans_versions_too(
    mode, team, member, settings, django_capture_on_commit_callbacks
):
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    _with_thumbnail(upload)
    with django_capture_on_commit_callbacks(execute=True):
        orphans_cleanup(now=timezone.now() + timedelta(days=settings.KB_ORPHAN_GRACE_DAYS + 1))
    assert not KbUpload.objects.exists()
    assert not KbUploadVersion.objects.exists()
    assert stored_keys(upload.store) == set()


# --- Pruning ----------------------------------------------------------------------------------
def _age(upload: KbUpload, days: int) -> None:
    KbUploadVersion.objects.filter(upload=upload).update(created_at=timezone.now() - timedelta(days=days))


def test_pruning_keeps_the_newest_ten_and_recent_ones(mode, team, member, settings, django_capture_on_commit_callbacks):
    settings.UPLOAD_VERSION_RETENTION_DAYS = 90
    old = make_upload(team, member)
    contents = [PDF.replace(b"1 0 obj", b"%d 0 obj" % n) for n in range(1, 14)]
    for data in contents[1:]:
        old = upload_replace(upload=old, user=member, file=a_file(data))
    _age(old, 100)
    recent = make_upload(team, member, name="recent.pdf")
    for data in contents[1:12]:
        recent = upload_replace(upload=recent, user=member, file=a_file(data))
    assert recent.version == 12  # young: all kept

    assert upload_versions_count_expired() == 3  # old's versions 1-3 (13 versions, 10 kept)
    before = stored_keys(old.store)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert upload_versions_delete_expired(batch_size=2) == 3
    assert len(callbacks) == 2  # two batches, each with its objects deleted after its commit
    assert [v.number for v in upload_versions(old)] == list(range(13, 3, -1))
    assert recent.versions.count() == 12
    assert [read_version(v) for v in upload_versions(old)] == contents[3:][::-1]
    if mode != "s3-versioned":
        assert before - stored_keys(old.store) == {version_copy_key(old.key, n) for n in (1, 2, 3)}
    else:
        storage = get_storage(old.store)
        listed = storage.connection.meta.client.list_object_versions(Bucket=storage.bucket_name, Prefix=old.key)
        assert len(listed["Versions"]) == 10
    assert upload_versions_count_expired() == 0
    assert upload_versions_delete_expired() == 0  # idempotent


def test_pruned_version_cannot_be_restored(team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member)
    for n in range(2, 13):
        upload = upload_replace(upload=upload, user=member, file=a_file(PDF.replace(b"1 0 obj", b"%d 0 obj" % n)))
    _age(upload, 365)
    upload_versions_delete_expired()
    with pytest.raises(NotFound):
        upload_version_restore(upload=upload, number=1, user=member)


def test_retention_job_reports_and_prunes_versions(team, member, settings):
    from admin_ops.services.retention import retention_enforce

    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member)
    for n in range(2, 13):
        upload = upload_replace(upload=upload, user=member, file=a_file(PDF.replace(b"1 0 obj", b"%d 0 obj" % n)))
    _age(upload, 365)
    assert retention_enforce(dry_run=True)["upload_versions"] == 2
    assert upload.versions.count() == 12
    assert retention_enforce()["upload_versions"] == 2
    assert upload.versions.count() == 10


def test_a_purge_deletes_every_version_and_the_thumbnails(mode, team, owner, member):
    from admin_ops.services import purge as purge_service
    from admin_ops.tests.factories import OLD, scope_2024, set_created_at

    keep = make_upload(team, member, name="kept.pdf")
    upload = make_upload(team, member)
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    _with_thumbnail(upload)
    set_created_at(upload, OLD)
    purge = purge_service.purge_request(team=team, user=owner, scope=scope_2024("kb_uploads"))
    purge_service.purge_schedule(purge=purge)
    purge = purge_service.purge_export_build(purge=purge)
    purge_service.purge_acknowledge(purge=purge, user=owner)
    purge = purge_service.purge_execute(purge=purge)

    assert purge.records_affected == {"kb_uploads": 1}
    assert not KbUploadVersion.objects.filter(upload_id=upload.pk).exists()
    kb_prefix = f"{upload.store}/kb/"
    assert {key for key in stored_keys(upload.store) if key.startswith(kb_prefix)} == {keep.key}
    if is_s3(get_storage(upload.store)):
        left = [item["Key"] for item in _all_object_versions(upload.store) if item["Key"].startswith(kb_prefix)]
        assert left == [keep.key]


def test_an_older_version_of_a_public_file_is_kept_privately(mode, team, member, django_capture_on_commit_callbacks):
    upload = make_upload(team, member, context="kb-article")
    assert upload.store == "public"
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    v2, v1 = upload_versions(upload)
    assert v2.key == upload.key
    if mode == "s3-versioned":
        assert v1.key == upload.key  # an object version: the bucket policy grants GetObject only
        assert v1.storage_version_id
    else:
        assert v1.key.startswith("private/")  # off the public URL space
        assert v1.key.split("/", 1)[1] == upload.key.split("/", 1)[1].rsplit("/", 1)[0] + "/versions/1/report.pdf"
        assert stored_keys("public") == {upload.key}
    assert read_version(v1) == PDF
    restored = upload_version_restore(upload=upload, number=1, user=member)
    assert read(restored.store, restored.key) == PDF
    with django_capture_on_commit_callbacks(execute=True):
        upload_delete(upload=restored, user=member)
    assert stored_keys("public") == set()
    assert stored_keys("private") == set()


def test_an_upload_without_a_version_row_gets_one_when_replaced(team, member, settings):
    """Written outside upload_create (a script, a fixture): its content becomes version 1."""
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = make_upload(team, member)
    KbUploadVersion.objects.all().delete()
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    assert [v.number for v in upload_versions(upload)] == [2, 1]
    assert [read_version(v) for v in upload_versions(upload)] == [PDF2, PDF]
