"""The hostile upload corpus (hostile_uploads.py) against the sniffer, and through
POST /api/help/uploads/ into both stores on both backends: every file is refused
with a 4xx in the error shape (415 but for the empty file's 400) and leaves nothing behind, or is stored as its real,
safe type and served as an attachment where it is markup."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deelrx.errors import UnsupportedFileType
from deelrx.storage import INLINE_UNSAFE_TYPES, get_storage, is_s3
from knowledge_base.models import KbUpload
from knowledge_base.sniffing import ACCEPTED_TYPES, sniff_bytes
from knowledge_base.tests.hostile_uploads import CORPUS, Hostile
from knowledge_base.tests.storage_helpers import backend_fixture, stored_keys  # noqa: F401

ENTRIES = [pytest.param(entry, id=entry.id) for entry in CORPUS]


def test_the_corpus_has_at_least_thirty_hostile_files():
    assert len({entry.id for entry in CORPUS}) == len(CORPUS)
    assert sum(entry.expected is None for entry in CORPUS) >= 30


@pytest.mark.parametrize("entry", ENTRIES)
def test_sniffer_refuses_or_stores_safely(entry: Hostile):
    if entry.expected is None:
        with pytest.raises(UnsupportedFileType):
            sniff_bytes(entry.data, filename=entry.name)
    else:
        assert sniff_bytes(entry.data, filename=entry.name).content_type == entry.expected


@pytest.mark.django_db
@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("context", ["kb-article", "user-upload"], ids=["public", "private"])
@pytest.mark.parametrize("entry", ENTRIES)
def test_upload_api_refuses_or_stores_safely(api_as, api_client, team, member, entry: Hostile, context):
    body = {
        "file": SimpleUploadedFile(entry.name, entry.data, content_type="image/png"),  # the client's claim lies
        "team_id": team.pk,
        "context": context,
    }
    response = api_as(member).post("/api/help/uploads/", body, format="multipart")
    store = "public" if context == "kb-article" else "private"
    if entry.expected is None:
        assert response.status_code == entry.api_status, response.content
        error = response.json()["error"]
        assert error["code"] == entry.api_code
        assert error["message"]
        assert not KbUpload.objects.exists()
        assert stored_keys(store) == set()
        return
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["store"] == store
    assert created["content_type"] == entry.expected
    extension = ACCEPTED_TYPES[entry.expected][0]
    assert created["original_name"].endswith(f".{extension}")
    assert created["key"].endswith(f".{extension}")
    _assert_served_safely(api_as(member), api_client, created)


def _assert_served_safely(member_client, anonymous, created):
    storage = get_storage(created["store"])
    markup = created["content_type"] in INLINE_UNSAFE_TYPES
    if is_s3(storage):
        head = storage.bucket.Object(created["key"]).get()
        assert head["ContentType"] == created["content_type"]
        if created["store"] == "public" and markup:
            assert head.get("ContentDisposition") == "attachment"
    elif created["store"] == "public":
        served = anonymous.get(f"/media/{created['key']}")
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Type"].startswith(created["content_type"])
        assert served["Content-Disposition"].startswith("attachment") == markup
    download = member_client.get(f"/api/help/uploads/{created['id']}/download/")
    if download.status_code == 302:
        if created["store"] == "private":
            query = parse_qs(urlsplit(download["Location"]).query)
            assert query["response-content-type"] == [created["content_type"]]
            assert query["response-content-disposition"][0].startswith("attachment") == markup
    else:
        assert download.status_code == 200
        assert download["X-Content-Type-Options"] == "nosniff"
        assert download["Content-Disposition"].startswith("attachment") == markup
