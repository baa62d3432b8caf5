"""The upload endpoints' own request parsing (issue 10 leftovers): multipart field names and
values go through the guarded parser (NUL, unpaired surrogates and bidi overrides refused with
400 in the error shape, naming the field); control and bidi characters in a file name are
removed from the stored name (Django's multipart parser, then `sanitize_filename`), so an
override cannot disguise an extension; a Content-Length that is not a whole number of bytes is
a 400 before any view reads it (`deelrx.input_guard`). Never a 500."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from knowledge_base.models import KbUpload

pytestmark = pytest.mark.django_db

UPLOADS = "/api/help/uploads/"
TEXT = b"Plain notes for the team.\n"


@pytest.fixture
def api(owner_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {owner_token}")
    return client


def upload(api, team, *, name="notes.txt", content=TEXT, **fields):
    data = {"team_id": team.pk, "context": "user-upload", **fields}
    data["file"] = SimpleUploadedFile(name, content, content_type="text/plain")
    return api.post(UPLOADS, data, format="multipart")


def assert_error_shape(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_a_bidi_override_cannot_hide_an_executables_extension(api, team):
    """Django's multipart parser drops the override from the name: what is judged (and refused)
    is the real extension, never the one the override displays."""
    for name in ("invoice\u202egpj.exe", "invoice\u202dtxt.exe"):
        error = assert_error_shape(upload(api, team, name=name), 415)
        assert error["code"] == "unsupported_file_type"
        assert ".exe" in error["message"]
    assert not KbUpload.objects.filter(team=team).exists()


@pytest.mark.parametrize(
    ("name", "stored"),
    [
        ("notes\x00.txt", "notes.txt"),
        ("no\x01tes\x1f.txt", "notes.txt"),
        ("re\u2067port\u2069.txt", "report.txt"),  # bidi isolates: removed, not refused
        ("a\u200fb\u200e.txt", "ab.txt"),
        ("tab\tbed\x7f.txt", "tabbed.txt"),
    ],
    ids=["nul", "c0-controls", "isolates", "marks", "tab-del"],
)
def test_other_control_characters_are_removed_from_the_stored_name(api, team, name, stored):
    response = upload(api, team, name=name)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["original_name"] == stored
    assert KbUpload.objects.get(pk=response.json()["id"]).original_name == stored


@pytest.mark.parametrize(
    "fields",
    [
        {"context": "user-\x00upload"},
        {"context": "user\u202eupload"},
        {"extra\x00name": "x"},
        {"note": "a\x00b"},
    ],
    ids=["nul-value", "rlo-value", "nul-field-name", "nul-extra-value"],
)
def test_hostile_multipart_fields_are_a_400(api, team, fields):
    error = assert_error_shape(upload(api, team, **fields))
    assert error["code"] == "validation_error"
    assert not KbUpload.objects.filter(team=team).exists()


@pytest.mark.parametrize("declared", ["abc", "-1", "12a", "\u0661\u0662", " 12", "1e3", "0x10"])
@pytest.mark.parametrize("method", ["post", "put"])
def test_a_content_length_that_is_not_a_number_of_bytes_is_a_400(api, team, real_ids, declared, method):
    path = UPLOADS if method == "post" else f"{UPLOADS}{real_ids['upload_id']}/"
    data = {"team_id": team.pk, "file": SimpleUploadedFile("notes.txt", TEXT, content_type="text/plain")}
    response = getattr(api, method)(path, data, format="multipart", CONTENT_LENGTH=declared)
    error = assert_error_shape(response)
    assert "Content-Length" in error["details"]


def test_a_huge_declared_length_is_413_not_500(api, team):
    data = {"team_id": team.pk, "file": SimpleUploadedFile("notes.txt", TEXT, content_type="text/plain")}
    response = api.post(UPLOADS, data, format="multipart", CONTENT_LENGTH="9" * 40)
    assert_error_shape(response, 413)


def test_a_plain_upload_still_works(api, team):
    response = upload(api, team)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["original_name"] == "notes.txt"


def test_a_bad_content_length_on_an_html_page_is_a_400_page(client):
    response = client.post("/login/", {"username": "a", "password": "b"}, CONTENT_LENGTH="-5")
    assert response.status_code == 400
    assert b"Content-Length" in response.content
