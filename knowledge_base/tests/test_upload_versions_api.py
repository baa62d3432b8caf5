"""PUT /api/help/uploads/<id>/ and /versions/ (list, restore, download): roles,
isolation, bad input, query counts — on both store backends."""

from __future__ import annotations

import gzip
import hashlib

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deelrx.storage import get_storage, is_s3
from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.services.uploads import upload_create
from knowledge_base.services.versions import upload_replace
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.storage_helpers import PDF, a_file, backend_fixture  # noqa: F401

pytestmark = pytest.mark.django_db

PDF2 = PDF.replace(b"1 0 obj", b"2 0 obj")
CSV = b"name,amount\n" + b"".join(b"customer %d,%d\n" % (i, i * 7) for i in range(300))
VERSION_FIELDS = {
    "version",
    "original_name",
    "size",
    "stored_size",
    "sha256",
    "content_type",
    "created_at",
    "created_by",
    "created_by_username",
}


@pytest.fixture(autouse=True)
def _no_processing(settings):
    settings.UPLOAD_PROCESSING_ENABLED = False


@pytest.fixture
def upload(team, member):
    return upload_create(team=team, user=member, file=a_file(PDF, "report.pdf"))


def url(upload, suffix=""):
    return f"/api/help/uploads/{upload.pk}/{suffix}"


def put_file(client, upload, data=PDF2, name="report.pdf"):
    return client.put(url(upload), {"file": SimpleUploadedFile(name, data)}, format="multipart")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


# --- PUT (replace) ----------------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_member_replaces_the_content_and_the_url_stays(api_as, upload, member):
    before = api_as(member).get(url(upload)).json()
    response = put_file(api_as(member), upload)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(upload.pk)
    assert body["version"] == 2
    assert body["key"] == before["key"]
    assert body["url"] == before["url"]
    assert body["sha256"] == hashlib.sha256(PDF2).hexdigest()
    download = api_as(member).get(url(upload, "download/"))
    content = httpx.get(download["Location"]).content if download.status_code == 302 else download.getvalue()
    assert content == PDF2


def test_viewer_cannot_replace_nor_restore(api_as, upload, viewer):
    assert_error(put_file(api_as(viewer), upload), 403, "permission_denied")
    assert_error(api_as(viewer).post(url(upload, "versions/1/restore/")), 403, "permission_denied")
    assert KbUpload.objects.get().version == 1


def test_another_team_gets_404_everywhere(api_as, upload, outsider):
    client = api_as(outsider)
    assert_error(put_file(client, upload), 404, "not_found")
    assert_error(client.get(url(upload, "versions/")), 404, "not_found")
    assert_error(client.post(url(upload, "versions/1/restore/")), 404, "not_found")
    assert_error(client.get(url(upload, "versions/1/download/")), 404, "not_found")


def test_anonymous_is_401(api_client, upload):
    assert_error(api_client.get(url(upload, "versions/")), 401, "not_authenticated")
    assert_error(put_file(api_client, upload), 401, "not_authenticated")


def test_member_cannot_replace_an_attachment_of_a_published_article(api_as, team, member, admin_user):
    article = KbArticleFactory(team=team)
    upload = upload_create(team=team, user=member, file=a_file(), article=article)
    KbArticle.objects.filter(pk=article.pk).update(status="published")
    assert_error(put_file(api_as(member), upload), 403, "permission_denied")
    assert put_file(api_as(admin_user), upload).status_code == 200


def test_replace_bad_input(api_as, upload, member, settings):
    client = api_as(member)
    assert_error(client.put(url(upload), {}, format="multipart"), 400, "validation_error")
    assert_error(client.put(url(upload), {"file": "text"}, format="multipart"), 400, "validation_error")
    assert_error(put_file(client, upload, data=b"plain text\n", name="a.txt"), 415, "unsupported_file_type")
    assert_error(
        put_file(client, upload, data=b"MZ\x90\x00" + b"\x00" * 64, name="a.exe"), 415, "unsupported_file_type"
    )
    settings.UPLOAD_MAX_BYTES = 10
    assert_error(put_file(client, upload), 413, "file_too_large")
    assert_error(client.put(url(upload) + "x", {}, format="multipart"), 404, "not_found")
    assert KbUpload.objects.get().version == 1


# --- Versions list ----------------------------------------------------------------------------
def test_versions_list_newest_first_for_any_member(api_as, upload, member, second_member, viewer):
    upload_replace(upload=upload, user=second_member, file=a_file(PDF2))
    response = api_as(viewer).get(url(upload, "versions/"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert [set(row) for row in body["results"]] == [VERSION_FIELDS, VERSION_FIELDS]
    newest, oldest = body["results"]
    assert (newest["version"], newest["created_by"], newest["created_by_username"]) == (
        2,
        second_member.pk,
        "mona",
    )
    assert (oldest["version"], oldest["sha256"], oldest["size"]) == (1, hashlib.sha256(PDF).hexdigest(), len(PDF))
    assert oldest["content_type"] == "application/pdf"


def test_versions_list_paginates_with_a_constant_query_count(api_as, upload, member):
    client = api_as(member)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url(upload, "versions/")).status_code == 200
        return len(queries)

    baseline = count()
    for n in range(2, 7):
        upload = upload_replace(upload=upload, user=member, file=a_file(PDF.replace(b"1 0 obj", b"%d 0 obj" % n)))
    assert count() == baseline
    page = client.get(url(upload, "versions/"), {"page_size": 2}).json()
    assert [row["version"] for row in page["results"]] == [6, 5]
    assert page["next"]
    second = client.get(page["next"]).json()
    assert [row["version"] for row in second["results"]] == [4, 3]


# --- Restore ----------------------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_member_restores_an_old_version(api_as, upload, member):
    client = api_as(member)
    put_file(client, upload)
    response = client.post(url(upload, "versions/1/restore/"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["version"] == 3
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert [row["version"] for row in client.get(url(upload, "versions/")).json()["results"]] == [3, 2, 1]


@pytest.mark.parametrize("number", ["0", "9", "abc", "-1", "1.5", "99999999999999999999", "٣", "+1", " 1"])
def test_restore_or_download_of_a_bad_version_number_is_404(api_as, upload, member, number):
    client = api_as(member)
    assert_error(client.post(url(upload, f"versions/{number}/restore/")), 404, "not_found")
    assert_error(client.get(url(upload, f"versions/{number}/download/")), 404, "not_found")


@pytest.mark.parametrize("number", ["%00", "1%00"])
def test_a_nul_in_the_version_number_is_400(api_as, upload, member, number):
    client = api_as(member)
    assert_error(client.post(url(upload, f"versions/{number}/restore/")), 400, "validation_error")
    assert_error(client.get(url(upload, f"versions/{number}/download/")), 400, "validation_error")


def test_restoring_the_current_version_is_409(api_as, upload, member):
    assert_error(api_as(member).post(url(upload, "versions/1/restore/")), 409, "version_is_current")


# --- Download of an old version -----------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_viewer_downloads_an_old_version(api_as, upload, member, viewer):
    upload_replace(upload=upload, user=member, file=a_file(PDF2))
    response = api_as(viewer).get(url(upload, "versions/1/download/"))
    if is_s3(get_storage(upload.store)):
        assert response.status_code == 302
        assert response["Cache-Control"] == "private, no-store"
        fetched = httpx.get(response["Location"])
        assert fetched.status_code == 200
        assert fetched.content == PDF
    else:
        assert response.status_code == 200
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Type"] == "application/pdf"
        assert response.getvalue() == PDF
    current = api_as(viewer).get(url(upload, "versions/2/download/"))
    content = httpx.get(current["Location"]).content if current.status_code == 302 else current.getvalue()
    assert content == PDF2


@pytest.mark.parametrize("versioned", [False, True])
def test_an_old_version_of_a_public_file_is_signed_on_s3(s3_storages, api_as, team, member, versioned):
    if versioned:  # the old content is an object version of the public key, reached by its VersionId
        bucket = s3_storages["buckets"]["public"]
        s3_storages["client"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload = upload_create(team=team, user=member, file=a_file(), context="kb-article")
    upload_replace(upload=upload, user=member, file=a_file(PDF2))
    response = api_as(member).get(url(upload, "versions/1/download/"))
    assert response.status_code == 302
    assert "Signature" in response["Location"] or "X-Amz-Signature" in response["Location"]
    assert ("versionId=" in response["Location"]) is versioned
    assert httpx.get(response["Location"]).content == PDF


@pytest.mark.parametrize("versioned", [False, True])
def test_compressed_text_round_trips_through_the_download_path(s3_storages, api_as, team, member, versioned):
    client_s3 = s3_storages["client"]
    if versioned:
        bucket = s3_storages["buckets"]["private"]
        client_s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    upload = upload_create(team=team, user=member, file=a_file(CSV, "customers.csv"))
    upload_replace(upload=upload, user=member, file=a_file(CSV.replace(b"customer", b"client"), "customers.csv"))
    storage = get_storage(upload.store)
    head = client_s3.head_object(Bucket=storage.bucket_name, Key=upload.key)
    assert head["ContentEncoding"] == "gzip"
    for path, expected in (("download/", CSV.replace(b"customer", b"client")), ("versions/1/download/", CSV)):
        response = api_as(member).get(url(upload, path))
        assert response.status_code == 302
        fetched = httpx.get(response["Location"])  # the signed URL still works on a gzip-encoded object
        assert fetched.status_code == 200
        assert fetched.headers["content-encoding"] == "gzip"
        assert fetched.headers["content-type"] == "text/csv"
        assert fetched.content == expected  # httpx decodes Content-Encoding like a browser
        with httpx.stream("GET", response["Location"]) as raw:
            assert gzip.decompress(b"".join(raw.iter_raw())) == expected  # what travels is gzip


# --- Public URLs through the CDN domain ---------------------------------------------------------
def test_public_urls_use_the_cdn_domain_and_private_ones_never_do(monkeypatch):
    from deelrx import settings as project_settings

    monkeypatch.setattr(project_settings, "AWS_S3_CUSTOM_DOMAIN_PUBLIC", "cdn.example.com")
    stores = project_settings.build_storages(private_bucket="p", public_bucket="q")
    assert stores["public"]["OPTIONS"]["custom_domain"] == "cdn.example.com"
    assert "custom_domain" not in stores["private"]["OPTIONS"]


def test_a_public_upload_url_is_on_the_cdn_and_stays_across_versions(s3_storages, settings, team, member):
    from django.core.files.storage import storages

    from knowledge_base.services.uploads import upload_public_url

    settings.STORAGES["public"]["OPTIONS"]["custom_domain"] = "cdn.example.com"
    storages._storages.pop("public", None)  # rebuilt with the CDN domain
    upload = upload_create(team=team, user=member, file=a_file(PDF, "logo.pdf"), context="kb-article")
    url = upload_public_url(upload)
    assert url.startswith("https://cdn.example.com/public/kb/")
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2, "logo.pdf"))
    assert upload_public_url(upload) == url
