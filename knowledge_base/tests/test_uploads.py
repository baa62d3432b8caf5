"""upload_create / upload_delete on both store backends."""

import hashlib
import io
import re

import pytest
from django.core.files.uploadedfile import InMemoryUploadedFile

from deelrx.audit.models import ActivityEvent
from deelrx.errors import FileTooLarge, NotFound, PermissionDenied, UnsupportedFileType, ValidationFailed
from deelrx.storage import UPLOAD_CONTEXTS, get_storage, is_s3
from knowledge_base.models import KbUpload
from knowledge_base.services import uploads as upload_services
from knowledge_base.services.uploads import upload_create, upload_delete
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.storage_helpers import PDF, PE, SVG, a_file, backend_fixture, read_object, stored_keys  # noqa: F401

pytestmark = pytest.mark.django_db

EXPECTED_STORE = {
    "kb-article": "public",
    "public-asset": "public",
    "user-upload": "private",
    "invoice": "private",
    "receipt": "private",
    "legal-doc": "private",
}


@pytest.mark.usefixtures("backend")
def test_upload_is_stored_under_an_unguessable_key_and_recorded(team, member):
    upload = upload_create(team=team, user=member, file=a_file())
    assert re.fullmatch(rf"private/kb/{team.pk}/[0-9a-f]{{32}}/report\.pdf", upload.key)
    assert upload.store == "private"
    assert upload.context == "user-upload"
    assert upload.content_type == "application/pdf"
    assert upload.size == len(PDF)
    assert upload.sha256 == hashlib.sha256(PDF).hexdigest()
    assert upload.original_name == "report.pdf"
    assert upload.uploaded_by == member
    assert stored_keys("private") == {upload.key}
    assert read_object("private", upload.key) == PDF
    event = ActivityEvent.objects.get(event_type="kb.upload.created")
    assert event.team == team
    assert event.event_data["upload_id"] == str(upload.pk)


def test_two_uploads_with_one_name_get_different_keys(team, member):
    first = upload_create(team=team, user=member, file=a_file())
    second = upload_create(team=team, user=member, file=a_file())
    assert first.key != second.key


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("context", UPLOAD_CONTEXTS)
def test_store_follows_the_context(team, member, context):
    assert set(UPLOAD_CONTEXTS) == set(EXPECTED_STORE)
    upload = upload_create(team=team, user=member, file=a_file(), context=context)
    store = EXPECTED_STORE[context]
    assert upload.store == store
    assert upload.key.startswith(f"{store}/kb/{team.pk}/")
    assert stored_keys(store) == {upload.key}
    assert stored_keys("public" if store == "private" else "private") == set()


def test_unknown_context_is_a_validation_error(team, member):
    with pytest.raises(ValidationFailed) as error:
        upload_create(team=team, user=member, file=a_file(), context="anything")
    assert "context" in error.value.details


@pytest.mark.usefixtures("backend")
def test_lying_client_content_type_and_extension_are_ignored(team, member):
    upload = upload_create(team=team, user=member, file=a_file(PDF, name="photo.png", content_type="image/png"))
    assert upload.content_type == "application/pdf"
    assert upload.original_name == "photo.pdf"
    assert upload.key.endswith("/photo.pdf")
    storage = get_storage("private")
    if is_s3(storage):
        head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=upload.key)
        assert head["ContentType"] == "application/pdf"


@pytest.mark.usefixtures("backend")
def test_svg_is_stored_as_svg_whatever_it_is_called(team, member):
    upload = upload_create(
        team=team, user=member, file=a_file(SVG, name="logo.png", content_type="image/png"), context="kb-article"
    )
    assert upload.content_type == "image/svg+xml"
    assert upload.key.endswith("/logo.svg")  # so the public store serves it as a download
    storage = get_storage("public")
    if is_s3(storage):
        head = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=upload.key)
        assert head["ContentDisposition"] == "attachment"


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("name", "content_type"),
    [("invoice.pdf", "application/pdf"), ("photo.png", "image/png"), ("notes.txt", "text/plain")],
)
def test_executables_disguised_are_refused_and_nothing_is_stored(team, member, name, content_type):
    with pytest.raises(UnsupportedFileType):
        upload_create(team=team, user=member, file=a_file(PE, name=name, content_type=content_type))
    assert not KbUpload.objects.exists()
    assert stored_keys("private") == set()


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("../../etc/passwd", b"root:x:0:0\n", "passwd.txt"),
        ("C:\\x\\evil.pdf", PDF, "evil.pdf"),
        ("..\\..\\boot.ini", b"[boot loader]\n", "boot.txt"),
    ],
)
def test_path_traversal_names_are_reduced_to_a_basename(team, member, name, data, expected):
    upload = upload_create(team=team, user=member, file=a_file(data, name=name, content_type="text/plain"))
    assert upload.original_name == expected
    assert upload.key.startswith(f"private/kb/{team.pk}/")
    assert upload.key.endswith("/" + expected)
    assert ".." not in upload.key
    assert "\\" not in upload.key
    assert stored_keys("private") == {upload.key}


class ExplodingFile(io.BytesIO):
    """A file that must not be read: the size check comes first."""

    name = "big.pdf"
    size = 11

    def read(self, *args):
        raise AssertionError("the file was read")


def test_declared_size_over_the_limit_is_refused_before_reading(settings, team, member):
    settings.UPLOAD_MAX_BYTES = 10
    with pytest.raises(FileTooLarge) as error:
        upload_create(team=team, user=member, file=ExplodingFile())
    assert error.value.status_code == 413
    assert error.value.details == {"max_bytes": 10, "size": 11}
    assert stored_keys("private") == set()


def test_file_larger_than_its_declared_size_is_refused(settings, team, member):
    settings.UPLOAD_MAX_BYTES = 100
    data = b"x" * 200
    lying = InMemoryUploadedFile(io.BytesIO(data), "file", "notes.txt", "text/plain", size=10, charset=None)
    with pytest.raises(FileTooLarge):
        upload_create(team=team, user=member, file=lying)
    assert stored_keys("private") == set()


def test_file_of_exactly_the_limit_is_accepted(settings, team, member):
    settings.UPLOAD_MAX_BYTES = len(PDF)
    assert upload_create(team=team, user=member, file=a_file()).size == len(PDF)


def test_article_of_another_team_is_not_found(team, other_team, member):
    article = KbArticleFactory(team=other_team)
    with pytest.raises(NotFound):
        upload_create(team=team, user=member, file=a_file(), article=article)


def test_upload_can_be_attached_to_an_article_of_the_team(team, member):
    article = KbArticleFactory(team=team)
    assert upload_create(team=team, user=member, file=a_file(), article=article).article == article


def test_viewer_may_not_upload(team, viewer):
    with pytest.raises(PermissionDenied):
        upload_create(team=team, user=viewer, file=a_file())


def test_outsider_may_not_upload_to_the_team(team, outsider):
    with pytest.raises(NotFound):
        upload_create(team=team, user=outsider, file=a_file())


@pytest.mark.usefixtures("backend")
def test_failed_row_write_removes_the_stored_object(team, member, monkeypatch):
    def broken_event(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(upload_services, "record_event", broken_event)
    with pytest.raises(RuntimeError):
        upload_create(team=team, user=member, file=a_file())
    assert not KbUpload.objects.exists()
    assert stored_keys("private") == set()


@pytest.mark.usefixtures("backend")
def test_delete_removes_row_then_object_and_is_audited(team, member, django_capture_on_commit_callbacks):
    upload = upload_create(team=team, user=member, file=a_file(), context="kb-article")
    with django_capture_on_commit_callbacks(execute=True):
        upload_delete(upload=upload, user=member)
    assert not KbUpload.objects.exists()
    assert stored_keys("public") == set()
    assert ActivityEvent.objects.filter(event_type="kb.upload.deleted", team=team).exists()


def test_delete_on_disk_removes_the_upload_directory_too(team, member, django_capture_on_commit_callbacks):
    import os

    upload = upload_create(team=team, user=member, file=a_file())
    directory = os.path.dirname(get_storage("private").path(upload.key))
    with django_capture_on_commit_callbacks(execute=True):
        upload_delete(upload=upload, user=member)
    assert not os.path.exists(directory)
    assert os.path.isdir(os.path.dirname(directory))  # the team's directory stays


def test_object_stays_when_the_delete_is_rolled_back(team, member, django_capture_on_commit_callbacks):
    upload = upload_create(team=team, user=member, file=a_file())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload_delete(upload=upload, user=member)
    assert len(callbacks) == 1  # deletion of the object waits for the commit
    assert stored_keys("private") == {upload.key}


def test_viewer_may_not_delete(team, member, viewer):
    upload = upload_create(team=team, user=member, file=a_file())
    with pytest.raises(PermissionDenied):
        upload_delete(upload=upload, user=viewer)
