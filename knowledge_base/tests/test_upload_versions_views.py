"""The editor's attachment versions (HTML): upload a new version, see the
versions, restore one after a confirmation; roles and isolation."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.services.articles import article_create
from knowledge_base.services.uploads import upload_create
from knowledge_base.services.versions import upload_replace
from knowledge_base.tests.storage_helpers import PDF, a_file

pytestmark = pytest.mark.django_db

PDF2 = PDF.replace(b"1 0 obj", b"2 0 obj")


@pytest.fixture(autouse=True)
def _no_processing(settings):
    settings.UPLOAD_PROCESSING_ENABLED = False


@pytest.fixture
def article(team, member):
    return article_create(team=team, user=member, title="Stock", content="x")


@pytest.fixture
def upload(team, member, article):
    return upload_create(team=team, user=member, file=a_file(PDF, "report.pdf"), article=article)


def edit_url(article):
    return reverse("knowledge_base:article-edit", args=[article.pk])


def replace_url(article, upload):
    return reverse("knowledge_base:attachment-replace", args=[article.pk, upload.pk])


def restore_url(article, upload, number):
    return reverse("knowledge_base:attachment-version-restore", args=[article.pk, upload.pk, number])


def test_editor_lists_versions_with_download_and_restore(client, member, article, upload):
    upload_replace(upload=upload, user=member, file=a_file(PDF2))
    client.force_login(member)
    html = client.get(edit_url(article)).content.decode()
    assert "Upload new version" in html
    assert "2 versions" in html
    assert f"/api/help/uploads/{upload.pk}/versions/1/download/" in html
    assert restore_url(article, upload, 1) in html
    assert restore_url(article, upload, 2) not in html  # the current one is not restorable


def test_editor_query_count_does_not_grow_with_attachments_or_versions(client, team, member, article, upload):
    client.force_login(member)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(edit_url(article)).status_code == 200
        return len(queries)

    baseline = count()
    other = upload_create(team=team, user=member, file=a_file(PDF, "other.pdf"), article=article)
    for item in (upload, other):
        upload_replace(upload=item, user=member, file=a_file(PDF2))
    assert count() == baseline


def test_member_uploads_a_new_version_through_the_form(client, member, article, upload):
    client.force_login(member)
    response = client.post(replace_url(article, upload), {"file": SimpleUploadedFile("report.pdf", PDF2)})
    assert response.status_code == 302
    assert response["Location"].endswith(f"#attachment-{upload.pk}")
    assert KbUpload.objects.get().version == 2


def test_a_new_version_of_another_type_is_refused_with_a_message(client, member, article, upload):
    client.force_login(member)
    response = client.post(replace_url(article, upload), {"file": SimpleUploadedFile("n.txt", b"text\n")}, follow=True)
    assert "must be of the current file&#x27;s type" in response.content.decode()
    assert KbUpload.objects.get().version == 1


def test_restore_asks_first_then_restores(client, member, article, upload):
    upload_replace(upload=upload, user=member, file=a_file(PDF2))
    client.force_login(member)
    page = client.get(restore_url(article, upload, 1))
    assert page.status_code == 200
    assert "becomes the current file as a new version 3" in page.content.decode()
    assert KbUpload.objects.get().version == 2  # nothing happens on GET
    response = client.post(restore_url(article, upload, 1))
    assert response.status_code == 302
    assert KbUpload.objects.get().version == 3


def test_viewer_cannot_replace_or_restore(client, viewer, member, article, upload):
    upload_replace(upload=upload, user=member, file=a_file(PDF2))
    client.force_login(viewer)
    assert client.post(replace_url(article, upload), {"file": SimpleUploadedFile("r.pdf", PDF2)}).status_code == 403
    assert client.post(restore_url(article, upload, 1)).status_code == 403
    assert KbUpload.objects.get().version == 2


def test_member_cannot_change_attachments_of_a_published_article(client, member, article, upload):
    KbArticle.objects.filter(pk=article.pk).update(status="published")
    client.force_login(member)
    assert client.post(replace_url(article, upload), {"file": SimpleUploadedFile("r.pdf", PDF2)}).status_code == 403


def test_other_teams_and_other_articles_are_404(client, team, member, outsider, article, upload):
    other_article = article_create(team=team, user=member, title="Other", content="y")
    client.force_login(member)
    assert client.post(restore_url(other_article, upload, 1)).status_code == 404  # not this article's file
    assert client.get(restore_url(article, upload, 9)).status_code == 404
    client.force_login(outsider)
    assert client.post(replace_url(article, upload), {"file": SimpleUploadedFile("r.pdf", PDF2)}).status_code == 404
    assert client.get(restore_url(article, upload, 1)).status_code == 404


def test_admin_shows_the_versions_read_only(client, superuser, member, upload):
    upload_replace(upload=upload, user=member, file=a_file(PDF2, "second.pdf"))
    client.force_login(superuser)
    html = client.get(reverse("admin:knowledge_base_kbupload_change", args=[upload.pk])).content.decode()
    assert "second.pdf" in html
    assert "report.pdf" in html
    assert 'name="versions-0-number"' not in html  # read-only: no inputs
