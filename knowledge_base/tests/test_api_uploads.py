"""/api/help/uploads/: create (multipart), list, detail, download, delete — on both store backends."""

import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deelrx.storage import get_storage, is_s3
from knowledge_base.models import KbUpload
from knowledge_base.services.uploads import upload_create
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.storage_helpers import PDF, PE, SVG, a_file, backend_fixture, stored_keys  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/help/uploads/"
FIELDS = {
    "id",
    "team_id",
    "article_id",
    "store",
    "key",
    "original_name",
    "content_type",
    "size",
    "sha256",
    "url",
    "version",
    "processing_status",
    "processing_error",
    "thumbnail_url",
    "created_at",
}


def post_file(client, team, *, data=PDF, name="report.pdf", content_type="application/pdf", **fields):
    body = {"file": SimpleUploadedFile(name, data, content_type=content_type), "team_id": team.pk, **fields}
    return client.post(URL, body, format="multipart")


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


# --- Create --------------------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_member_uploads_a_private_file(api_as, team, member):
    response = post_file(api_as(member), team, name="photo.png", content_type="image/png")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == FIELDS
    upload = KbUpload.objects.get()
    assert body["id"] == str(upload.pk)
    assert body["team_id"] == team.pk
    assert body["article_id"] is None
    assert body["store"] == "private"
    assert body["key"].startswith(f"private/kb/{team.pk}/")
    assert body["original_name"] == "photo.pdf"
    assert body["content_type"] == "application/pdf"
    assert body["size"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["url"] == f"http://testserver/api/help/uploads/{upload.pk}/download/"


@pytest.mark.usefixtures("backend")
def test_article_asset_is_public_with_a_public_url(api_as, team, member, api_client):
    article = KbArticleFactory(team=team)
    response = post_file(api_as(member), team, context="kb-article", article_id=str(article.pk))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["store"] == "public"
    assert body["article_id"] == str(article.pk)
    assert body["key"].startswith("public/kb/")
    if is_s3(get_storage("public")):
        fetched = httpx.get(body["url"])
        assert fetched.status_code == 200
        assert fetched.content == PDF
    else:
        assert body["url"] == f"http://testserver/media/{body['key']}"
        served = api_client.get(f"/media/{body['key']}")
        assert served.status_code == 200
        assert b"".join(served.streaming_content) == PDF
        assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("context", "store"),
    [
        ("kb-article", "public"),
        ("public-asset", "public"),
        ("user-upload", "private"),
        ("invoice", "private"),
        ("receipt", "private"),
        ("legal-doc", "private"),
    ],
)
def test_context_decides_the_store(api_as, team, member, context, store):
    response = post_file(api_as(member), team, context=context)
    assert response.status_code == 201
    assert response.json()["store"] == store
    assert response.json()["key"].startswith(f"{store}/")


def test_default_context_is_user_upload(api_as, team, member):
    post_file(api_as(member), team)
    assert KbUpload.objects.get().context == "user-upload"


def test_too_large_is_413(api_as, team, member, settings):
    settings.UPLOAD_MAX_BYTES = 10
    assert_error(post_file(api_as(member), team), 413, "file_too_large")
    assert not KbUpload.objects.exists()


def test_body_far_over_the_limit_is_refused_before_parsing(api_as, team, member, settings):
    settings.UPLOAD_MAX_BYTES = 10
    response = post_file(api_as(member), team, data=b"x" * 200_000, name="big.txt", content_type="text/plain")
    assert_error(response, 413, "file_too_large")


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(("name", "content_type"), [("a.pdf", "application/pdf"), ("a.png", "image/png")])
def test_disguised_executable_is_415(api_as, team, member, name, content_type):
    response = post_file(api_as(member), team, data=PE, name=name, content_type=content_type)
    assert_error(response, 415, "unsupported_file_type")
    assert stored_keys("private") == set()


def test_viewer_gets_403(api_as, team, viewer):
    assert_error(post_file(api_as(viewer), team), 403, "permission_denied")


def test_other_team_is_404(api_as, team, outsider):
    assert_error(post_file(api_as(outsider), team), 404, "not_found")


def test_non_integer_team_is_404(api_as, member):
    body = {"file": a_file(), "team_id": "abc"}
    assert_error(api_as(member).post(URL, body, format="multipart"), 404, "not_found")


def test_missing_team_and_file_are_validation_errors(api_as, team, member):
    assert_error(api_as(member).post(URL, {"file": a_file()}, format="multipart"), 400, "validation_error")
    response = api_as(member).post(URL, {"team_id": team.pk}, format="multipart")
    assert_error(response, 400, "validation_error")
    assert "file" in response.json()["error"]["details"]


def test_article_of_another_team_is_404(api_as, team, other_team, member):
    article = KbArticleFactory(team=other_team)
    assert_error(post_file(api_as(member), team, article_id=str(article.pk)), 404, "not_found")


def test_json_body_is_refused(api_as, team, member):
    response = api_as(member).post(URL, {"team_id": team.pk}, format="json")
    assert_error(response, 415, "unsupported_media_type")


def test_anonymous_is_401(api_client, team):
    assert_error(post_file(api_client, team), 401, "not_authenticated")


# --- List and detail ------------------------------------------------------------------------
def make_uploads(team, user, count, **kwargs):
    return [upload_create(team=team, user=user, file=a_file(), **kwargs) for _ in range(count)]


def test_list_shows_only_the_callers_teams(api_as, team, other_team, member, outsider):
    mine = make_uploads(team, member, 2)
    make_uploads(other_team, outsider, 1)
    body = api_as(member).get(URL).json()
    assert {row["id"] for row in body["results"]} == {str(u.pk) for u in mine}
    assert body["next"] is None


def test_list_filters(api_as, team, member):
    article = KbArticleFactory(team=team)
    attached = make_uploads(team, member, 1, article=article, context="kb-article")[0]
    private = make_uploads(team, member, 1)[0]
    client = api_as(member)
    by_article = client.get(URL, {"article_id": str(article.pk)}).json()["results"]
    assert [row["id"] for row in by_article] == [str(attached.pk)]
    by_store = client.get(URL, {"store": "private"}).json()["results"]
    assert [row["id"] for row in by_store] == [str(private.pk)]
    by_team = client.get(URL, {"team_id": team.pk}).json()["results"]
    assert len(by_team) == 2


def test_list_of_another_team_is_404(api_as, team, other_team, member):
    assert_error(api_as(member).get(URL, {"team_id": other_team.pk}), 404, "not_found")


def test_list_bad_filter_is_400(api_as, member):
    assert_error(api_as(member).get(URL, {"store": "elsewhere"}), 400, "validation_error")


def test_list_runs_constant_queries_and_paginates(api_as, team, member):
    article = KbArticleFactory(team=team)
    make_uploads(team, member, 6, article=article, context="kb-article")
    make_uploads(team, member, 6)
    client = api_as(member)
    counts = []
    for page_size in (2, 10):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(URL, {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        assert response.json()["next"]
        counts.append(len(queries))
    assert counts[0] == counts[1]
    last = client.get(URL, {"page_size": 10, "page": 2}).json()
    assert len(last["results"]) == 2
    assert last["next"] is None
    assert last["previous"]


def test_detail(api_as, team, member, outsider):
    upload = make_uploads(team, member, 1)[0]
    response = api_as(member).get(f"{URL}{upload.pk}/")
    assert response.status_code == 200
    assert set(response.json()) == FIELDS | {"extracted_text"}
    assert_error(api_as(outsider).get(f"{URL}{upload.pk}/"), 404, "not_found")
    assert_error(api_as(member).get(f"{URL}not-a-uuid/"), 404, "not_found")


# --- Delete ---------------------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_member_deletes(api_as, team, member, django_capture_on_commit_callbacks):
    upload = make_uploads(team, member, 1)[0]
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(member).delete(f"{URL}{upload.pk}/")
    assert response.status_code == 204
    assert not KbUpload.objects.exists()
    assert stored_keys("private") == set()


def test_viewer_may_not_delete_and_outsider_sees_nothing(api_as, team, member, viewer, outsider):
    upload = make_uploads(team, member, 1)[0]
    assert_error(api_as(viewer).delete(f"{URL}{upload.pk}/"), 403, "permission_denied")
    assert_error(api_as(outsider).delete(f"{URL}{upload.pk}/"), 404, "not_found")
    assert KbUpload.objects.exists()


# --- Download -------------------------------------------------------------------------------
def download(client, upload):
    return client.get(f"{URL}{upload.pk}/download/")


@pytest.mark.usefixtures("backend")
def test_private_download_authorisation(api_as, api_client, team, member, outsider):
    upload = make_uploads(team, member, 1)[0]
    assert_error(download(api_client, upload), 401, "not_authenticated")
    assert_error(download(api_as(outsider), upload), 404, "not_found")
    assert download(api_as(member), upload).status_code in (200, 302)


@pytest.mark.usefixtures("backend")
def test_viewer_may_download(api_as, team, member, viewer):
    upload = make_uploads(team, member, 1)[0]
    assert download(api_as(viewer), upload).status_code in (200, 302)


def test_file_system_download_is_streamed_with_nosniff(api_as, team, member):
    upload = make_uploads(team, member, 1)[0]
    response = download(api_as(member), upload)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("inline")
    assert "report.pdf" in response["Content-Disposition"]


def test_file_system_download_of_markup_is_an_attachment(api_as, team, member):
    upload = upload_create(team=team, user=member, file=a_file(SVG, name="logo.svg", content_type="image/svg+xml"))
    response = download(api_as(member), upload)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_s3_download_redirects_to_a_signed_url_that_works(s3_storages, api_as, team, member, settings):
    upload = upload_create(team=team, user=member, file=a_file(SVG, name="logo.svg", content_type="image/svg+xml"))
    response = download(api_as(member), upload)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(s3_storages["endpoint"])
    assert "Signature" in location or "X-Amz-Signature" in location
    expires = int(parse_qs(urlsplit(location).query)["Expires"][0])
    assert 0 < expires - time.time() <= settings.PRIVATE_URL_EXPIRY_SECONDS + 5  # short-lived
    fetched = httpx.get(location)
    assert fetched.status_code == 200
    assert fetched.content == SVG
    assert fetched.headers["content-disposition"].startswith("attachment")
    # The private bucket itself is closed: the same URL without the signature is refused.
    assert httpx.get(location.split("?", 1)[0]).status_code == 403


def test_missing_object_is_404(api_as, team, member):
    upload = make_uploads(team, member, 1)[0]
    get_storage("private").delete(upload.key)
    assert_error(download(api_as(member), upload), 404, "not_found")


@pytest.mark.usefixtures("backend")
def test_file_spooled_to_disk_by_django_is_stored_whole(api_as, team, member, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # force a TemporaryUploadedFile
    data = b"sku,name,qty\n" + b"".join(f"{n},item {n},{n % 7}\n".encode() for n in range(20_000))
    response = post_file(api_as(member), team, data=data, name="stock.csv", content_type="application/octet-stream")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["content_type"] == "text/csv"
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    with get_storage("private").open(body["key"], "rb") as handle:
        assert handle.read() == data


def test_openapi_documents_the_multipart_upload(api_as, member):
    schema = api_as(member).get("/api/schema/", {"format": "json"}).json()
    uploads = schema["paths"]["/api/help/uploads/"]
    body = uploads["post"]["requestBody"]["content"]
    assert set(body) == {"multipart/form-data"}
    assert set(uploads["post"]["responses"]) >= {"201", "400", "401", "403", "404", "413", "415"}
    assert {p["name"] for p in uploads["get"]["parameters"]} >= {"team_id", "article_id", "store", "page", "page_size"}
    assert "/api/help/uploads/{upload_id}/download/" in schema["paths"]


def test_empty_optional_fields_from_an_html_form_mean_defaults(api_as, team, member):
    response = post_file(api_as(member), team, article_id="", context="")
    assert response.status_code == 201, response.content
    assert response.json()["article_id"] is None
    assert KbUpload.objects.get().context == "user-upload"


def test_malformed_article_id_and_context_are_validation_errors(api_as, team, member):
    response = post_file(api_as(member), team, article_id="nope", context="elsewhere")
    assert_error(response, 400, "validation_error")
    assert set(response.json()["error"]["details"]) == {"article_id", "context"}
