"""kb-cleanup-orphaned on both store backends."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from deelrx.audit.models import ActivityEvent
from deelrx.storage import blob_references, get_storage
from knowledge_base.models import KbUpload
from knowledge_base.services.cleanup import orphans_cleanup
from knowledge_base.services.uploads import upload_create
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.storage_helpers import a_file, backend_fixture, stored_keys  # noqa: F401

pytestmark = pytest.mark.django_db

LATER = timedelta(days=8)  # past the 7-day grace period


def later():
    return timezone.now() + LATER


def make_upload(team, user, **kwargs):
    return upload_create(team=team, user=user, file=a_file(), **kwargs)


def stray(store: str, key: str) -> str:
    return get_storage(store).save(key, ContentFile(b"left behind"))


@pytest.mark.usefixtures("backend")
def test_unattached_unreferenced_upload_is_deleted_after_the_grace_period(
    team, member, django_capture_on_commit_callbacks
):
    orphan = make_upload(team, member)
    with django_capture_on_commit_callbacks(execute=True):
        summary = orphans_cleanup(now=later())
    assert summary["orphan_uploads_deleted"] == 1
    assert not KbUpload.objects.filter(pk=orphan.pk).exists()
    assert stored_keys("private") == set()
    assert ActivityEvent.objects.filter(event_type="kb.upload.orphan_deleted", team=team).exists()


@pytest.mark.usefixtures("backend")
def test_recent_orphans_are_kept(team, member):
    orphan = make_upload(team, member)
    summary = orphans_cleanup()
    assert summary["orphan_uploads"] == 0
    assert KbUpload.objects.filter(pk=orphan.pk).exists()
    assert stored_keys("private") == {orphan.key}


def test_grace_period_boundary(team, member, settings):
    settings.KB_ORPHAN_GRACE_DAYS = 7
    orphan = make_upload(team, member)
    assert orphans_cleanup(now=orphan.created_at + timedelta(days=7), dry_run=True)["orphan_uploads"] == 0
    assert orphans_cleanup(now=orphan.created_at + timedelta(days=7, seconds=1), dry_run=True)["orphan_uploads"] == 1


@pytest.mark.usefixtures("backend")
def test_attached_uploads_are_kept(team, member):
    article = KbArticleFactory(team=team)
    attached = make_upload(team, member, article=article, context="kb-article")
    orphans_cleanup(now=later())
    assert KbUpload.objects.filter(pk=attached.pk).exists()
    assert stored_keys("public") == {attached.key}


def test_upload_of_a_deleted_article_becomes_an_orphan(team, member, django_capture_on_commit_callbacks):
    article = KbArticleFactory(team=team)
    upload = make_upload(team, member, article=article)
    article.delete()
    with django_capture_on_commit_callbacks(execute=True):
        orphans_cleanup(now=later())
    assert not KbUpload.objects.filter(pk=upload.pk).exists()


@pytest.mark.parametrize(
    "reference",
    [
        lambda upload: f"![logo](/media/{upload.key})",
        lambda upload: f"[file](https://cdn.example.com/{upload.key})",
        lambda upload: f"[file](/api/help/uploads/{upload.pk}/download/)",
    ],
    ids=["public-url", "key", "download-url"],
)
def test_uploads_referenced_in_article_content_are_kept(team, other_team, member, reference):
    upload = make_upload(team, member, context="public-asset")
    KbArticleFactory(team=team, content=f"See {reference(upload)} here.")
    summary = orphans_cleanup(now=later())
    assert summary["orphan_uploads_referenced"] == 1
    assert KbUpload.objects.filter(pk=upload.pk).exists()


@pytest.mark.usefixtures("backend")
def test_stray_objects_without_rows_are_deleted_in_both_stores(team, member):
    kept = make_upload(team, member, article=KbArticleFactory(team=team))
    private_stray = stray("private", f"private/kb/{team.pk}/{'a' * 32}/lost.pdf")
    public_stray = stray("public", f"public/kb/{team.pk}/{'b' * 32}/lost.png")
    elsewhere = stray("private", "private/exports/keep-me.zip")  # not under the KB prefix
    summary = orphans_cleanup(now=later())
    assert summary["stray_objects"] == 2
    assert summary["stray_objects_deleted"] == 2
    assert stored_keys("private") == {kept.key, elsewhere}
    assert stored_keys("public") == set()
    assert private_stray not in stored_keys("private")
    assert public_stray not in stored_keys("public")


@pytest.mark.usefixtures("backend")
def test_recent_stray_objects_are_kept(team):
    key = stray("private", f"private/kb/{team.pk}/{'c' * 32}/in-flight.pdf")
    summary = orphans_cleanup()
    assert summary["stray_recent"] == 1
    assert summary["stray_objects"] == 0
    assert stored_keys("private") == {key}


@pytest.mark.usefixtures("backend")
def test_dry_run_reports_and_deletes_nothing(team, member):
    orphan = make_upload(team, member)
    key = stray("public", f"public/kb/{team.pk}/{'d' * 32}/lost.png")
    summary = orphans_cleanup(now=later(), dry_run=True)
    assert summary["dry_run"] is True
    assert summary["orphan_uploads"] == 1
    assert summary["orphan_upload_keys"] == [orphan.key]
    assert summary["stray_objects"] == 1
    assert summary["stray_object_keys"] == [key]
    assert summary["orphan_uploads_deleted"] == summary["stray_objects_deleted"] == 0
    assert KbUpload.objects.filter(pk=orphan.pk).exists()
    assert stored_keys("private") == {orphan.key}
    assert stored_keys("public") == {key}


@pytest.mark.usefixtures("backend")
def test_second_run_deletes_nothing(team, member, django_capture_on_commit_callbacks):
    make_upload(team, member)
    stray("private", f"private/kb/{team.pk}/{'e' * 32}/lost.pdf")
    with django_capture_on_commit_callbacks(execute=True):
        first = orphans_cleanup(now=later())
    with django_capture_on_commit_callbacks(execute=True):
        second = orphans_cleanup(now=later())
    assert first["orphan_uploads_deleted"] == 1
    assert first["stray_objects_deleted"] == 1
    assert second["orphan_uploads_deleted"] == 0
    assert second["stray_objects_deleted"] == 0
    assert stored_keys("private") == set()


def test_empty_upload_directories_are_removed_on_disk(team, member, django_capture_on_commit_callbacks):
    import os

    upload = make_upload(team, member)
    storage = get_storage("private")
    directory = os.path.dirname(storage.path(upload.key))
    with django_capture_on_commit_callbacks(execute=True):
        orphans_cleanup(now=later())  # the object goes when the row's deletion commits
    # Regression: deleting the file touched its directory, so the directory used to
    # survive until a run a grace period later; it now goes with its file.
    assert not os.path.exists(directory)
    assert os.path.isdir(storage.path("private/kb"))


def test_batches_run_a_constant_number_of_queries(team, member, django_assert_max_num_queries, monkeypatch):
    from knowledge_base.services import cleanup

    monkeypatch.setattr(cleanup, "BATCH_SIZE", 5)
    for _ in range(4):
        make_upload(team, member, article=KbArticleFactory(team=team))
    for n in range(12):
        stray("private", f"private/kb/{team.pk}/{n:032x}/lost.pdf")
    # candidates, then per batch of objects (16 objects → 4 batches) one existence
    # query per registered blob reference — never one per object.
    with django_assert_max_num_queries(1 + 4 * len(blob_references())):
        summary = orphans_cleanup(now=later(), dry_run=True)
    assert summary["stray_objects"] == 12
