"""The blob manager and upload versions (DESIGN §8, §15): the listing shows an
upload's versions, sizes (and what compression saves) and thumbnail; moving an
upload moves every version and the thumbnail; deleting it deletes them."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from deelrx.storage import get_storage, open_stored, store_of_key
from knowledge_base.models import KbUpload
from knowledge_base.services.uploads import upload_create
from knowledge_base.services.versions import upload_replace
from knowledge_base.tests.storage_helpers import PDF, a_file, allow_public_read, stored_keys

pytestmark = pytest.mark.django_db

URL = "/api/admin/blob-management/"
PDF2 = PDF.replace(b"1 0 obj", b"2 0 obj")
CSV = b"name,amount\n" + b"".join(b"customer %d,%d\n" % (i, i * 7) for i in range(300))


@pytest.fixture(name="mode", params=["filesystem", "s3", "s3-versioned"])
def mode_fixture(request, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    if request.param != "filesystem":
        s3 = request.getfixturevalue("s3_storages")
        allow_public_read(s3["client"], s3["buckets"]["public"])
        if request.param == "s3-versioned":
            for bucket in s3["buckets"].values():
                s3["client"].put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return request.param


def with_thumbnail(upload: KbUpload) -> KbUpload:
    directory = upload.key.rsplit("/", 1)[0]
    key = get_storage(upload.store).save(f"{directory}/thumbnails/v{upload.version}.webp", ContentFile(b"RIFFWEBP"))
    KbUpload.objects.filter(pk=upload.pk).update(thumbnail_key=key)
    upload.thumbnail_key = key
    return upload


def read(key: str, version_id: str = "") -> bytes:
    with open_stored(store_of_key(key), key, version_id=version_id or None) as handle:
        return handle.read()


@pytest.fixture
def versioned_upload(mode, team, member):
    upload = upload_create(team=team, user=member, file=a_file(PDF, "report.pdf"))
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2, "report.pdf"))
    return with_thumbnail(upload)


def test_listing_shows_an_uploads_versions_and_thumbnail(api_as, superuser, versioned_upload):
    upload = versioned_upload
    response = api_as(superuser).get(URL, {"storeType": "private", "prefix": upload.key})
    (row,) = [r for r in response.json()["results"] if r["key"] == upload.key]
    details = row["details"]
    assert details["kind"] == "upload"
    assert details["upload_id"] == str(upload.pk)
    assert details["version"] == 2
    assert [v["version"] for v in details["versions"]] == [2, 1]
    assert details["thumbnail_key"] == upload.thumbnail_key
    assert details["thumbnail_url"].endswith(f"/api/help/uploads/{upload.pk}/thumbnail/?v=2")
    assert details["size"] == len(PDF2)
    assert details["saved_bytes"] == 0  # a PDF is stored as it is
    listed = {r["key"]: r["details"] for r in api_as(superuser).get(URL, {"storeType": "private"}).json()["results"]}
    assert listed[upload.thumbnail_key]["kind"] == "thumbnail"
    old = upload.versions.get(number=1)
    if old.key != upload.key:  # a copy (not an S3 object version)
        assert listed[old.key] == {**listed[old.key], "kind": "version", "version": 1, "upload_key": upload.key}


def test_listing_reports_what_compression_saves(s3_storages, api_as, client, superuser, team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = upload_create(team=team, user=member, file=a_file(CSV, "customers.csv"))
    response = api_as(superuser).get(URL, {"storeType": "private"})
    (row,) = response.json()["results"]
    assert row["size"] == upload.stored_size < len(CSV)  # bytes in the store
    assert row["details"]["size"] == len(CSV)
    assert row["details"]["saved_bytes"] == len(CSV) - upload.stored_size > 0
    client.force_login(superuser)
    page = client.get(reverse("admin_ops:blob-list"), {"store": "private"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Compression saves" in html
    assert "Upload “customers.csv”" in html


def test_listing_query_count_does_not_grow_with_versions(api_as, superuser, team, member, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.UPLOAD_PROCESSING_ENABLED = False
    client = api_as(superuser)
    upload = upload_create(team=team, user=member, file=a_file(PDF, "a.pdf"))

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, {"storeType": "private"}).status_code == 200
        return len(queries)

    baseline = count()
    upload = upload_replace(upload=upload, user=member, file=a_file(PDF2))
    upload_create(team=team, user=member, file=a_file(PDF, "b.pdf"))
    assert count() == baseline


def test_moving_an_upload_moves_every_version_and_the_thumbnail(mode, api_as, superuser, versioned_upload):
    upload = versioned_upload
    response = api_as(superuser).post(
        URL, {"action": "migrate", "key": upload.key, "to_store": "public"}, format="json"
    )
    assert response.status_code == 200, response.content
    moved = KbUpload.objects.get(pk=upload.pk)
    assert moved.store == "public"
    assert moved.key == "public/" + upload.key.split("/", 1)[1]
    assert moved.thumbnail_key == "public/" + upload.thumbnail_key.split("/", 1)[1]
    v2, v1 = moved.versions.order_by("-number")
    assert v2.key == moved.key
    assert v1.key.startswith("private/")  # older versions stay private
    assert not v1.storage_version_id  # a copy now: object versions do not cross buckets
    assert read(moved.key) == PDF2
    assert read(v1.key) == PDF
    assert read(moved.thumbnail_key) == b"RIFFWEBP"
    assert stored_keys("public") == {moved.key, moved.thumbnail_key}
    assert stored_keys("private") == {v1.key}  # the old file and thumbnail are gone
    # and back again
    back = api_as(superuser).post(URL, {"action": "migrate", "key": moved.key, "to_store": "private"}, format="json")
    assert back.status_code == 200, back.content
    again = KbUpload.objects.get(pk=upload.pk)
    assert again.store == "private"
    assert read(again.key) == PDF2
    assert read(again.versions.get(number=1).key) == PDF
    assert stored_keys("public") == set()


def test_an_older_version_or_thumbnail_never_moves_alone(api_as, superuser, team, member, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = upload_create(team=team, user=member, file=a_file(PDF, "report.pdf"))
    upload = with_thumbnail(upload_replace(upload=upload, user=member, file=a_file(PDF2)))
    for key in (upload.versions.get(number=1).key, upload.thumbnail_key):
        response = api_as(superuser).post(URL, {"action": "migrate", "key": key, "to_store": "public"}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "blob_moves_with_its_upload"


def test_force_deleting_an_uploads_file_deletes_its_versions(mode, api_as, superuser, versioned_upload):
    upload = versioned_upload
    refused = api_as(superuser).delete(f"{URL}?storeType=private&key={upload.key}")
    assert refused.status_code == 409
    response = api_as(superuser).delete(f"{URL}?storeType=private&key={upload.key}&force=true")
    assert response.status_code in (200, 204), response.content
    assert stored_keys("private") == set()
    assert KbUpload.objects.filter(pk=upload.pk).exists()  # a forced delete leaves the rows (broken)
