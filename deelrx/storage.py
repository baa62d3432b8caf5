"""The two file stores.

- private: invoices, receipts, legal documents, user uploads, purge exports.
  Never public: S3 objects get no ACL and are reached through short-lived
  signed URLs (no custom domain, which would drop the signature); files on
  disk are streamed by an authenticated view.
- public: knowledge-base article assets, public assets. Plain URLs (through
  `AWS_S3_CUSTOM_DOMAIN_PUBLIC`, a CDN, when set).

Compression (DESIGN §15): on S3 both stores keep text-like types (text/*, CSV,
JSON, XML, SVG, Markdown, CSS, JavaScript) gzip-encoded with
`Content-Encoding: gzip` and their real Content-Type, so S3 (and a signed
private URL) serves them transparently; already compressed formats (images,
PDF, ZIP documents, audio, video) are stored as they are. The disk stores keep
every file as it is. Whatever reads stored bytes in the app goes through
`open_stored`, which gives back the original bytes either way.

Both are STORAGES aliases ("private", "public"), backed by the file system by
default and by S3 (django-storages) when a bucket is configured. Keys always
start with the store's name ("private/…", "public/…"), so one bucket can
hold both with public access granted by a bucket policy on "public/*".
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import mimetypes
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Literal

from django.core.files.base import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from storages.backends.s3 import S3Storage

logger = logging.getLogger(__name__)

StoreType = Literal["private", "public"]
STORE_TYPES: tuple[StoreType, ...] = ("private", "public")

PRIVATE_CONTEXTS = frozenset({"invoice", "receipt", "legal-doc"})
PUBLIC_CONTEXTS = frozenset({"public-asset", "kb-article"})
UPLOAD_CONTEXTS = ("kb-article", "user-upload", "invoice", "receipt", "legal-doc", "public-asset")


def determine_store_type(content_type: str | None, context: str | None) -> StoreType:
    """Which store a file goes to, as the system this replaces decided it:
    invoice, receipt, legal-doc → private; public-asset, kb-article → public;
    anything else (user-upload, unknown, none) → private. The content type is
    accepted for callers' convenience but never makes a file public."""
    if context in PUBLIC_CONTEXTS:
        return "public"
    return "private"


class PrivateFileSystemStorage(FileSystemStorage):
    """Private files on disk: no URL; served by an authenticated view."""

    store_type: StoreType = "private"

    def url(self, name):
        raise NotImplementedError("Private files have no public URL; use the download endpoint.")


class PublicFileSystemStorage(FileSystemStorage):
    store_type: StoreType = "public"


class _TextLikeTypes:
    """The content types stored gzip-encoded on S3: every text/* type plus the
    structured-text application types. Everything else (images, PDF, ZIP-based
    documents, audio, video) is already compressed and stored as it is."""

    OTHERS = frozenset(
        {
            "application/json",
            "application/xml",
            "application/javascript",
            "application/x-javascript",
            "application/xhtml+xml",
            "image/svg+xml",
        }
    )

    def __contains__(self, content_type: object) -> bool:
        if not isinstance(content_type, str):
            return False
        base = content_type.split(";", 1)[0].strip().lower()
        return base.startswith("text/") or base in self.OTHERS


GZIP_CONTENT_TYPES = _TextLikeTypes()


def is_compressible(content_type: str | None) -> bool:
    return content_type in GZIP_CONTENT_TYPES


class PrivateS3Storage(S3Storage):
    store_type: StoreType = "private"
    default_acl = None  # buckets with "bucket owner enforced" refuse ACLs
    querystring_auth = True
    custom_domain = None  # a custom domain would strip the signature
    file_overwrite = False
    gzip = True  # text-like types only (GZIP_CONTENT_TYPES); S3 serves them with Content-Encoding: gzip
    gzip_content_types = GZIP_CONTENT_TYPES


class PublicS3Storage(S3Storage):
    store_type: StoreType = "public"
    default_acl = None  # public read comes from the bucket policy
    querystring_auth = False
    file_overwrite = False
    gzip = True
    gzip_content_types = GZIP_CONTENT_TYPES

    def get_object_parameters(self, name):
        params = super().get_object_parameters(name)
        # Browsers must never render user-supplied markup from the public store.
        content_type = mimetypes.guess_type(name)[0] or ""
        if content_type in INLINE_UNSAFE_TYPES:
            params.setdefault("ContentDisposition", "attachment")
        return params


INLINE_UNSAFE_TYPES = frozenset(
    {"image/svg+xml", "text/html", "application/xhtml+xml", "text/xml", "application/xml", "text/javascript"}
)


def get_storage(store: StoreType) -> Storage:
    if store not in STORE_TYPES:
        raise ValueError(f"Unknown store {store!r}")
    return storages[store]


def private_storage() -> Storage:
    return storages["private"]


def public_storage() -> Storage:
    return storages["public"]


def is_s3(storage: Storage) -> bool:
    return isinstance(storage, S3Storage)


def build_key(store: StoreType, *parts: str) -> str:
    """`private/kb/<team>/<random>/<name>` style keys; parts are joined with '/'."""
    cleaned = [str(p).strip("/") for p in parts if str(p).strip("/")]
    return "/".join([store, *cleaned])


def store_of_key(key: str) -> StoreType:
    prefix = key.split("/", 1)[0]
    if prefix not in STORE_TYPES:
        raise ValueError(f"Key {key!r} does not start with private/ or public/")
    return prefix  # type: ignore[return-value]


def rekey_for_store(key: str, to_store: StoreType) -> str:
    return build_key(to_store, key.split("/", 1)[1] if "/" in key else key)


# --- Moving files between stores ---------------------------------------------------
# Apps register the model fields that hold (store, key) pairs, so that moving a
# file updates every row that points at it.
_BLOB_REFERENCES: list[tuple[str, str, str | None]] = []


def register_blob_reference(model_label: str, key_field: str, store_field: str | None = None) -> None:
    entry = (model_label, key_field, store_field)
    if entry not in _BLOB_REFERENCES:
        _BLOB_REFERENCES.append(entry)


def blob_references() -> list[tuple[str, str, str | None]]:
    return list(_BLOB_REFERENCES)


@dataclass(frozen=True)
class BlobOwner:
    """An app whose files are more than one object (an upload's older versions and
    thumbnails): the blob manager asks it, through this registry, to describe,
    move and delete a file together with everything that belongs to it."""

    name: str
    # key → what the app knows of it (sizes, versions, thumbnail…), for the keys it owns
    describe: Callable[[list[str]], dict[str, dict[str, Any]]]
    # moves the file with all its objects and repoints its rows; None: not one of its files
    move: Callable[[str, StoreType], str | None]
    # deletes the file with all its objects (rows untouched); False: not one of its files
    delete: Callable[[str, str], bool]


_BLOB_OWNERS: dict[str, BlobOwner] = {}


def register_blob_owner(owner: BlobOwner) -> None:
    _BLOB_OWNERS[owner.name] = owner


def blob_owners() -> list[BlobOwner]:
    return [_BLOB_OWNERS[name] for name in sorted(_BLOB_OWNERS)]


def repoint_references(*, key: str, new_key: str, to_store: StoreType) -> None:
    """Point every registered reference to `key` at `new_key` (in the caller's transaction)."""
    from django.apps import apps

    for model_label, key_field, store_field in blob_references():
        model = apps.get_model(model_label)
        updates = {key_field: new_key}
        if store_field:
            updates[store_field] = to_store
        model.objects.filter(**{key_field: key}).update(**updates)


def copy_between_stores(*, key: str, from_store: StoreType, to_store: StoreType, new_key: str) -> str:
    target = get_storage(to_store)
    with open_stored(from_store, key) as handle:  # the original bytes; the target compresses again
        saved = target.save(new_key, File(handle, name=new_key))
    return saved


def move_file(*, key: str, to_store: StoreType) -> str:
    """Move one file to the other store and repoint every registered reference.

    The copy comes first, then the rows are updated in one transaction, then
    the old object is deleted: a crash at any point leaves a readable file
    that the rows point at (at worst a stray copy for kb-cleanup-orphaned).
    """
    from django.db import transaction

    from_store = store_of_key(key)
    if from_store == to_store:
        return key
    source = get_storage(from_store)
    if not source.exists(key):
        raise FileNotFoundError(key)
    new_key = copy_between_stores(
        key=key, from_store=from_store, to_store=to_store, new_key=rekey_for_store(key, to_store)
    )
    with transaction.atomic():
        repoint_references(key=key, new_key=new_key, to_store=to_store)
    source.delete(key)
    logger.info("moved file between stores", extra={"from_key": key, "to_key": new_key})
    return new_key


# --- Reading and rewriting stored objects (versions, compression) --------------------------
_VERSIONING: dict[tuple[str | None, str], bool] = {}


def bucket_versioning_enabled(storage: Storage) -> bool:
    """Whether the store is an S3 bucket that keeps object versions (asked once
    per bucket and process: `get_bucket_versioning`). "Suspended" counts as no:
    an overwrite then replaces the null version, so older content must be copied."""
    if not is_s3(storage):
        return False
    cache_key = (storage.endpoint_url, storage.bucket_name)
    if cache_key not in _VERSIONING:
        response = storage.connection.meta.client.get_bucket_versioning(Bucket=storage.bucket_name)
        _VERSIONING[cache_key] = response.get("Status") == "Enabled"
    return _VERSIONING[cache_key]


def _s3_key(storage: S3Storage, key: str) -> str:
    return storage._normalize_name(key)


def open_stored(store: StoreType | Storage, key: str, *, version_id: str | None = None) -> IO[bytes]:
    """A binary file of the ORIGINAL bytes of a stored object (gunzipped when the
    store keeps it gzip-encoded); `version_id` reads one S3 object version.
    Raises FileNotFoundError when there is no such object. The caller closes it."""
    storage = get_storage(store) if isinstance(store, str) else store
    if not is_s3(storage):
        return storage.open(key, "rb")
    client = storage.connection.meta.client
    params = {"Bucket": storage.bucket_name, "Key": _s3_key(storage, key)}
    if version_id:
        params["VersionId"] = version_id
    try:
        response = client.get_object(**params)
    except client.exceptions.NoSuchKey:
        raise FileNotFoundError(key) from None
    except Exception as error:
        status = getattr(error, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in (400, 404):  # a missing key, or a version id the bucket does not know
            raise FileNotFoundError(key) from None
        raise
    spooled = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned to the caller
    body = response["Body"]
    if response.get("ContentEncoding") == "gzip":
        with gzip.GzipFile(fileobj=body, mode="rb") as unzipped:
            shutil.copyfileobj(unzipped, spooled, 64 * 1024)
    else:
        for chunk in body.iter_chunks(64 * 1024):
            spooled.write(chunk)
    body.close()
    spooled.seek(0)
    return spooled


def stored_object_info(store: StoreType | Storage, key: str) -> tuple[int, str]:
    """(bytes in the store, S3 VersionId or "") of the object's current version."""
    storage = get_storage(store) if isinstance(store, str) else store
    if not is_s3(storage):
        return storage.size(key), ""
    response = storage.connection.meta.client.head_object(Bucket=storage.bucket_name, Key=_s3_key(storage, key))
    # "null" names an object written before versioning was enabled: still a valid VersionId there.
    version_id = (response.get("VersionId") or "") if bucket_versioning_enabled(storage) else ""
    return response["ContentLength"], version_id


def overwrite_object(store: StoreType, key: str, content: File) -> None:
    """Write `content` at exactly `key`, replacing what is there (the stores
    otherwise pick a free name). On disk the new file is written next to the old
    one and renamed over it, so a reader sees the old or the new file, never half
    of one. On S3 the object is replaced (compressed like any save); a bucket with
    versioning keeps the previous content as an older object version."""
    storage = get_storage(store)
    if is_s3(storage):
        storage._save(key, content)
        return
    path = storage.path(key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".upload-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            if hasattr(content, "seek"):
                content.seek(0)
            for chunk in content.chunks() if hasattr(content, "chunks") else iter(lambda: content.read(65536), b""):
                handle.write(chunk)
        if storage.file_permissions_mode is not None:
            os.chmod(temporary, storage.file_permissions_mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def copy_object(
    store: StoreType,
    source_key: str,
    target_key: str,
    *,
    version_id: str | None = None,
    target_store: StoreType | None = None,
    content_type: str | None = None,
) -> None:
    """Copy one object to exactly `target_key` (replacing one there), in the same
    store or into `target_store`. Within one S3 store the server copies it,
    keeping Content-Type and Content-Encoding (a gzip-encoded object stays so,
    its bytes never pass through the app); otherwise the original bytes are read
    (`open_stored`) and written like any save (`content_type`: the object's type,
    which S3 needs to compress it again)."""
    target_store = target_store or store
    storage = get_storage(store)
    if target_store == store and is_s3(storage):
        source = {"Bucket": storage.bucket_name, "Key": _s3_key(storage, source_key)}
        if version_id:
            source["VersionId"] = version_id
        storage.connection.meta.client.copy_object(
            Bucket=storage.bucket_name, Key=_s3_key(storage, target_key), CopySource=source, MetadataDirective="COPY"
        )
        return
    with open_stored(storage, source_key, version_id=version_id) as handle:
        content = File(handle, name=target_key)
        content.content_type = content_type or mimetypes.guess_type(target_key)[0]
        overwrite_object(target_store, target_key, content)


def delete_object_version(store: StoreType, key: str, version_id: str) -> None:
    """Delete one S3 object version (the object's previous version becomes current)."""
    storage = get_storage(store)
    storage.connection.meta.client.delete_object(
        Bucket=storage.bucket_name, Key=_s3_key(storage, key), VersionId=version_id
    )


def delete_every_version(store: StoreType, prefix: str, *, exact: bool = False) -> int:
    """On S3, delete every object version and delete marker under `prefix` (or of
    the key `prefix` when `exact`): on a versioned bucket a plain delete only adds
    a delete marker and keeps the bytes. Returns how many were deleted."""
    storage = get_storage(store)
    client = storage.connection.meta.client
    full = _s3_key(storage, prefix)
    deleted = 0
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=storage.bucket_name, Prefix=full):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            if not exact or item["Key"] == full
        ]
        for start in range(0, len(doomed), 1000):
            client.delete_objects(Bucket=storage.bucket_name, Delete={"Objects": doomed[start : start + 1000]})
        deleted += len(doomed)
    return deleted
