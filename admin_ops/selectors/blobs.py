"""Reads of the blob manager: what is in a store, and which rows point at it.

Listing is forward-only and ordered by key, the way S3 lists: a page ends with
a key, and the next page starts after it (`StartAfter` on S3, the same rule
over a sorted walk on the file system). No store is ever listed in full on S3.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps

from deelrx.errors import ValidationFailed
from deelrx.storage import STORE_TYPES, blob_owners, blob_references, get_storage, is_s3

MAX_PAGE_SIZE = 1000  # list_objects_v2 returns at most 1000 keys per call


@dataclass
class BlobEntry:
    key: str
    size: int
    last_modified: dt.datetime | None
    referenced_by: list[dict] = field(default_factory=list)
    # what the owning app knows of it (an upload's sizes, versions, thumbnail…); None: nothing
    details: dict | None = None


def clean_store(value) -> str:
    if value not in STORE_TYPES:
        raise ValidationFailed(details={"storeType": [f"Must be one of: {', '.join(STORE_TYPES)}."]})
    return value


def clean_key(key, *, store: str | None = None, field_name: str = "key") -> str:
    """A key names a file inside one store: `<store>/…`, no '..' and no leading '/'."""
    if not isinstance(key, str) or not key.strip():
        raise ValidationFailed(details={field_name: ["This field is required."]})
    key = key.strip()
    parts = key.split("/")
    if key.startswith("/") or ".." in parts or "" in parts[:-1] or "\\" in key:
        raise ValidationFailed(details={field_name: ["Not a valid storage key."]})
    if parts[0] not in STORE_TYPES:
        raise ValidationFailed(details={field_name: ["Keys start with private/ or public/."]})
    if store is not None and parts[0] != store:
        raise ValidationFailed(details={field_name: [f"This key is not in the {store} store."]})
    return key


def normalise_prefix(store: str, prefix: str | None) -> str:
    """Listing never leaves the store: a prefix not starting with `<store>/` is taken as relative to it."""
    prefix = (prefix or "").lstrip("/")
    if ".." in prefix.split("/") or "\\" in prefix:
        raise ValidationFailed(details={"prefix": ["Not a valid prefix."]})
    if prefix == store:
        prefix = ""
    return prefix if prefix.startswith(f"{store}/") else f"{store}/{prefix}"


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str:
    if not cursor:
        return ""
    try:
        return base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationFailed(details={"cursor": ["Invalid cursor."]}) from None


def _s3_page(storage, *, prefix: str, after: str, limit: int) -> tuple[list[BlobEntry], str | None]:
    client = storage.connection.meta.client
    location = (storage.location or "").strip("/")
    root = f"{location}/" if location else ""
    params = {"Bucket": storage.bucket_name, "Prefix": root + prefix, "MaxKeys": limit}
    if after:
        params["StartAfter"] = root + after
    response = client.list_objects_v2(**params)
    entries = [
        BlobEntry(key=obj["Key"][len(root) :], size=obj["Size"], last_modified=obj.get("LastModified"))
        for obj in response.get("Contents", [])
    ]
    has_more = bool(response.get("IsTruncated")) and bool(entries)
    return entries, entries[-1].key if has_more else None


def _walk_keys(base: str, start_dir: str) -> Iterator[str]:
    """Every file under `start_dir`, as '/'-joined keys relative to `base`."""
    for directory, dirnames, filenames in os.walk(start_dir):
        dirnames.sort()
        relative = os.path.relpath(directory, base).replace(os.sep, "/")
        for name in filenames:
            yield f"{relative}/{name}" if relative != "." else name


def _fs_page(storage, *, prefix: str, after: str, limit: int) -> tuple[list[BlobEntry], str | None]:
    base = storage.location
    directory = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
    start_dir = os.path.join(base, *directory.split("/")) if directory else base
    if not os.path.isdir(start_dir):
        return [], None
    keys = sorted(k for k in _walk_keys(base, start_dir) if k.startswith(prefix) and k > after)
    page, has_more = keys[:limit], len(keys) > limit
    entries = []
    for key in page:
        stat = os.stat(os.path.join(base, *key.split("/")))
        entries.append(
            BlobEntry(key=key, size=stat.st_size, last_modified=dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC))
        )
    return entries, page[-1] if has_more else None


def references_for(keys: list[str]) -> dict[str, list[dict]]:
    """Rows pointing at each key: one query per registered reference, whatever the number of keys."""
    found: dict[str, list[dict]] = {key: [] for key in keys}
    if not keys:
        return found
    for model_label, key_field, _store_field in blob_references():
        try:
            model = apps.get_model(model_label)
        except LookupError:  # an app not installed here
            continue
        rows = model._default_manager.filter(**{f"{key_field}__in": keys}).values_list(key_field, "pk")
        for key, pk in rows:
            found[key].append({"model": model_label, "id": str(pk)})
    return found


def blob_list(
    *, store: str, prefix: str | None = None, cursor: str | None = None, limit: int = 50
) -> tuple[list[BlobEntry], str | None]:
    """One page of the store's files under `prefix`, by key; returns (entries, next cursor)."""
    store = clean_store(store)
    prefix = normalise_prefix(store, prefix)
    after = decode_cursor(cursor)
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    storage = get_storage(store)
    page = _s3_page if is_s3(storage) else _fs_page
    entries, last = page(storage, prefix=prefix, after=after, limit=limit)
    keys = [e.key for e in entries]
    references = references_for(keys)
    details = details_for(keys)
    for entry in entries:
        entry.referenced_by = references[entry.key]
        entry.details = details.get(entry.key)
    return entries, encode_cursor(last) if last else None


def details_for(keys: list[str]) -> dict[str, dict]:
    """What the apps owning these files know of them (`deelrx.storage.register_blob_owner`):
    e.g. an upload's versions, thumbnail and the bytes compression saves. A few queries per page."""
    found: dict[str, dict] = {}
    if keys:
        for owner in blob_owners():
            found.update(owner.describe(keys))
    return found


def file_exists(storage, key: str) -> bool:
    """A file, not a directory: on the file system `exists()` is true for a directory
    too (deleting or copying one then fails); S3 has objects only."""
    if is_s3(storage):
        return storage.exists(key)
    return os.path.isfile(storage.path(key))


def blob_get(*, store: str, key: str) -> BlobEntry | None:
    """The one file at `key`, or None."""
    storage = get_storage(clean_store(store))
    key = clean_key(key, store=store)
    if not file_exists(storage, key):
        return None
    return BlobEntry(
        key=key,
        size=storage.size(key),
        last_modified=None,
        referenced_by=references_for([key])[key],
        details=details_for([key]).get(key),
    )
