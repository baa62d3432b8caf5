"""The two file stores.

- private: invoices, receipts, legal documents, user uploads, purge exports.
  Never public: S3 objects get no ACL and are reached through short-lived
  signed URLs (no custom domain, which would drop the signature); files on
  disk are streamed by an authenticated view.
- public: knowledge-base article assets, public assets. Plain URLs; on S3
  compressible types are stored gzipped.

Both are STORAGES aliases ("private", "public"), backed by the file system by
default and by S3 (django-storages) when a bucket is configured. Keys always
start with the store's name ("private/…", "public/…"), so one bucket can
hold both with public access granted by a bucket policy on "public/*".
"""

from __future__ import annotations

import logging
import mimetypes
from typing import Literal

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


class PrivateS3Storage(S3Storage):
    store_type: StoreType = "private"
    default_acl = None  # buckets with "bucket owner enforced" refuse ACLs
    querystring_auth = True
    custom_domain = None  # a custom domain would strip the signature
    file_overwrite = False


class PublicS3Storage(S3Storage):
    store_type: StoreType = "public"
    default_acl = None  # public read comes from the bucket policy
    querystring_auth = False
    file_overwrite = False
    gzip = True

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


def copy_between_stores(*, key: str, from_store: StoreType, to_store: StoreType, new_key: str) -> str:
    source = get_storage(from_store)
    target = get_storage(to_store)
    with source.open(key, "rb") as handle:
        saved = target.save(new_key, File(handle, name=new_key))
    return saved


def move_file(*, key: str, to_store: StoreType) -> str:
    """Move one file to the other store and repoint every registered reference.

    The copy comes first, then the rows are updated in one transaction, then
    the old object is deleted: a crash at any point leaves a readable file
    that the rows point at (at worst a stray copy for kb-cleanup-orphaned).
    """
    from django.apps import apps
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
        for model_label, key_field, store_field in blob_references():
            model = apps.get_model(model_label)
            updates = {key_field: new_key}
            if store_field:
                updates[store_field] = to_store
            model.objects.filter(**{key_field: key}).update(**updates)
    source.delete(key)
    logger.info("moved file between stores", extra={"from_key": key, "to_key": new_key})
    return new_key
