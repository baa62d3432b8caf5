"""The two stores on the file system and on a real S3 endpoint (moto's server
on loopback, through boto3 and django-storages)."""

import gzip
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from django.core.files.base import ContentFile

from deelrx import storage
from deelrx.storage import (
    build_key,
    determine_store_type,
    get_storage,
    is_s3,
    move_file,
    private_storage,
    public_storage,
    rekey_for_store,
    store_of_key,
)


@pytest.mark.parametrize(
    ("content_type", "context", "expected"),
    [
        ("application/pdf", "invoice", "private"),
        ("application/pdf", "receipt", "private"),
        ("application/pdf", "legal-doc", "private"),
        ("image/png", "public-asset", "public"),
        ("image/png", "kb-article", "public"),
        ("image/png", "user-upload", "private"),
        ("text/plain", "something-else", "private"),
        ("image/png", None, "private"),
        (None, None, "private"),
        ("image/png", "", "private"),
        # a content type never makes a file public, nor a public context private
        ("text/html", "invoice", "private"),
        ("application/pdf", "kb-article", "public"),
        ("image/png", "KB-ARTICLE", "private"),
    ],
)
def test_determine_store_type_table(content_type, context, expected):
    assert determine_store_type(content_type, context) == expected


def test_keys_start_with_their_store():
    assert build_key("private", "kb", 7, "/abc/", "file.pdf") == "private/kb/7/abc/file.pdf"
    assert store_of_key("public/kb/1/x.png") == "public"
    assert rekey_for_store("private/kb/1/x.png", "public") == "public/kb/1/x.png"
    with pytest.raises(ValueError):
        store_of_key("elsewhere/x")
    with pytest.raises(ValueError):
        get_storage("shared")


# --- File system --------------------------------------------------------------------
def test_file_system_stores_are_separate_and_private_has_no_url(tmp_path):
    key = private_storage().save("private/docs/a.txt", ContentFile(b"secret"))
    assert private_storage().open(key).read() == b"secret"
    assert not public_storage().exists(key)
    with pytest.raises(NotImplementedError):
        private_storage().url(key)
    public_key = public_storage().save("public/assets/logo.txt", ContentFile(b"hello"))
    assert public_storage().url(public_key) == "/media/public/assets/logo.txt"
    assert not is_s3(private_storage())


@pytest.mark.django_db
def test_public_files_on_disk_are_served_safely(client):
    public_storage().save("public/assets/readme.txt", ContentFile(b"plain text"))
    public_storage().save("public/assets/pic.svg", ContentFile(b"<svg onload='alert(1)'></svg>"))
    text = client.get("/media/public/assets/readme.txt")
    assert text.status_code == 200
    assert b"".join(text.streaming_content) == b"plain text"
    assert text["X-Content-Type-Options"] == "nosniff"
    svg = client.get("/media/public/assets/pic.svg")
    assert svg["Content-Disposition"].startswith("attachment")
    assert client.get("/media/public/../private/x").status_code == 404
    assert client.get("/media/public/assets/missing.txt").status_code == 404
    assert client.get("/media/public/assets/").status_code == 404
    assert client.get("/media/public/assets").status_code == 404


@pytest.fixture
def reference_registry(monkeypatch):
    """Register Customer.notes as a (key) reference so moves can be observed on real rows."""
    monkeypatch.setattr(storage, "_BLOB_REFERENCES", [("tenancy.Customer", "notes", None)])


@pytest.mark.django_db
def test_move_file_on_file_system_updates_references(reference_registry, customer):
    key = private_storage().save("private/kb/1/file.txt", ContentFile(b"payload"))
    customer.notes = key
    customer.save()
    new_key = move_file(key=key, to_store="public")
    assert new_key == "public/kb/1/file.txt"
    assert public_storage().open(new_key).read() == b"payload"
    assert not private_storage().exists(key)
    customer.refresh_from_db()
    assert customer.notes == new_key
    assert move_file(key=new_key, to_store="public") == new_key
    with pytest.raises(FileNotFoundError):
        move_file(key="private/none/such.txt", to_store="public")


# --- S3 (moto server on loopback) ---------------------------------------------------
def test_s3_private_store_signs_short_lived_urls(s3_storages):
    store = private_storage()
    assert is_s3(store)
    key = store.save("private/invoices/inv-1.pdf", ContentFile(b"%PDF-1.4 invoice"))
    client, bucket = s3_storages["client"], s3_storages["buckets"]["private"]
    head = client.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(b"%PDF-1.4 invoice")
    grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI", "").endswith("AllUsers")]

    url = store.url(key)
    query = parse_qs(urlparse(url).query)
    assert "X-Amz-Signature" in query or "Signature" in query
    assert httpx.get(url).content == b"%PDF-1.4 invoice"


def test_s3_public_store_plain_urls_gzip_and_no_inline_markup(s3_storages):
    store = public_storage()
    css = b"body { color: red; }\n" * 50
    key = store.save("public/assets/site.css", ContentFile(css))
    url = store.url(key)
    assert "Signature" not in url
    client, bucket = s3_storages["client"], s3_storages["buckets"]["public"]
    stored = client.get_object(Bucket=bucket, Key=key)
    assert stored["ContentEncoding"] == "gzip"
    assert gzip.decompress(stored["Body"].read()) == css

    svg_key = store.save("public/assets/icon.svg", ContentFile(b"<svg></svg>"))
    assert client.head_object(Bucket=bucket, Key=svg_key)["ContentDisposition"] == "attachment"


@pytest.mark.django_db
def test_s3_move_file_between_buckets_updates_references(s3_storages, reference_registry, customer):
    key = private_storage().save("private/kb/9/guide.txt", ContentFile(b"guide"))
    customer.notes = key
    customer.save()
    new_key = move_file(key=key, to_store="public")
    client, buckets = s3_storages["client"], s3_storages["buckets"]
    moved = client.get_object(Bucket=buckets["public"], Key=new_key)
    # Text is stored gzip-encoded in both S3 stores (DESIGN §15), before and after the move.
    assert moved["ContentEncoding"] == "gzip"
    assert gzip.decompress(moved["Body"].read()) == b"guide"
    assert "Contents" not in client.list_objects_v2(Bucket=buckets["private"], Prefix="private/kb/9/")
    customer.refresh_from_db()
    assert customer.notes == new_key


@pytest.mark.django_db
def test_blobcheck_on_both_backends(s3_storages):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("blobcheck", stdout=out)
    assert "private" in out.getvalue()
    assert "public" in out.getvalue()


# --- Compression and the helpers of upload versions (DESIGN §15) ---------------------------------
@pytest.mark.parametrize("store", ["private", "public"])
def test_s3_stores_gzip_text_only_and_open_stored_gives_the_original_bytes(s3_storages, store):
    from deelrx.storage import open_stored, stored_object_info

    client, bucket = s3_storages["client"], s3_storages["buckets"][store]
    text = b"id,name\n" + b"1,quokka\n" * 500
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
    text_key = get_storage(store).save(f"{store}/t/data.csv", ContentFile(text))
    png_key = get_storage(store).save(f"{store}/t/logo.png", ContentFile(png))
    head = client.head_object(Bucket=bucket, Key=text_key)
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentType"] == "text/csv"
    assert "ContentEncoding" not in client.head_object(Bucket=bucket, Key=png_key)
    with open_stored(store, text_key) as handle:
        assert handle.read() == text
    with open_stored(store, png_key) as handle:
        assert handle.read() == png
    assert stored_object_info(store, text_key)[0] == head["ContentLength"] < len(text)
    with pytest.raises(FileNotFoundError):
        open_stored(store, f"{store}/t/missing.csv")


def test_open_stored_on_disk_and_gzip_types(tmp_path):
    from deelrx.storage import is_compressible, open_stored

    key = private_storage().save("private/t/a.txt", ContentFile(b"plain"))
    with open_stored("private", key) as handle:
        assert handle.read() == b"plain"  # the disk stores never compress
    assert all(is_compressible(t) for t in ("text/plain", "text/csv", "text/markdown", "application/json"))
    assert all(is_compressible(t) for t in ("image/svg+xml", "application/xml", "text/csv; charset=utf-8"))
    assert not any(is_compressible(t) for t in ("image/png", "application/pdf", "application/zip", None))


def test_bucket_versioning_is_asked_once_per_bucket(s3_storages):
    from unittest import mock

    from deelrx.storage import bucket_versioning_enabled

    storage = get_storage("private")
    client = storage.connection.meta.client
    with mock.patch.object(client, "get_bucket_versioning", wraps=client.get_bucket_versioning) as asked:
        assert bucket_versioning_enabled(storage) is False
        assert bucket_versioning_enabled(storage) is False
    assert asked.call_count == 1
    assert bucket_versioning_enabled(get_storage("public")) is False
