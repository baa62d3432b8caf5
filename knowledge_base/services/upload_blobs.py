"""What the blob manager (admin_ops, DESIGN §8) learns and does about uploads,
through `deelrx.storage.register_blob_owner` (registered in the app's ready):

- describe: for listed keys that are an upload's current file, a copy of an
  older version, or a thumbnail — the upload's sizes (original vs in the store:
  the bytes compression saves), its versions and its thumbnail.
- move: an upload moves between stores with its every version and its
  thumbnail. Order: copy everything to the other store (older versions become
  copies there: S3 object versions are not carried over, a different bucket
  keeps its own history) → repoint the rows in one transaction, under the
  upload's row lock, refusing (409) if a new version arrived meanwhile → delete
  the old objects (every S3 object version too). A crash leaves at most copies
  no row points at, for kb-cleanup-orphaned.
- delete: a forced delete of an upload's file deletes its versions and
  thumbnails too (the rows stay and show as broken, as for any forced delete).
"""

from __future__ import annotations

import logging
import posixpath
from typing import Any

from django.db import transaction
from django.db.models import Prefetch

from deelrx.errors import Conflict
from deelrx.storage import (
    StoreType,
    copy_object,
    rekey_for_store,
    repoint_references,
    store_of_key,
)
from knowledge_base.models import KbUpload, KbUploadVersion
from knowledge_base.services.uploads import delete_upload_files, upload_directory, upload_thumbnail_url
from knowledge_base.services.versions import version_copy_key, version_location

logger = logging.getLogger(__name__)


def _version_row(version: KbUploadVersion) -> dict[str, Any]:
    return {
        "version": version.number,
        "key": version.key,
        "storage_version_id": version.storage_version_id,
        "size": version.size,
        "stored_size": version.stored_size,
        "created_at": version.created_at,
    }


def _saved(size: int, stored_size: int | None) -> int | None:
    return None if stored_size is None else size - stored_size


def upload_blobs_describe(keys: list[str]) -> dict[str, dict[str, Any]]:
    """Three queries (and one prefetch) for a whole page of keys."""
    found: dict[str, dict[str, Any]] = {}
    if not keys:
        return found
    versions = KbUploadVersion.objects.order_by("-number")
    for upload in KbUpload.objects.filter(key__in=keys).prefetch_related(Prefetch("versions", queryset=versions)):
        rows = [_version_row(v) for v in upload.versions.all()]
        found[upload.key] = {
            "kind": "upload",
            "upload_id": str(upload.pk),
            "original_name": upload.original_name,
            "content_type": upload.content_type,
            "version": upload.version,
            "size": upload.size,
            "stored_size": upload.stored_size,
            "saved_bytes": _saved(upload.size, upload.stored_size),
            "versions": rows,
            "versions_size": sum(row["size"] for row in rows),
            "versions_stored_size": sum(row["stored_size"] or 0 for row in rows),
            "thumbnail_key": upload.thumbnail_key or None,
            "thumbnail_url": upload_thumbnail_url(upload),
        }
    older = KbUploadVersion.objects.filter(key__in=keys).exclude(key__in=list(found)).select_related("upload")
    for version in older.only("key", "number", "size", "stored_size", "upload__id", "upload__key"):
        found[version.key] = {
            "kind": "version",
            "upload_id": str(version.upload.pk),
            "upload_key": version.upload.key,
            "version": version.number,
            "size": version.size,
            "stored_size": version.stored_size,
            "saved_bytes": _saved(version.size, version.stored_size),
        }
    for thumbnail_key, upload_id, upload_key in KbUpload.objects.filter(thumbnail_key__in=keys).values_list(
        "thumbnail_key", "pk", "key"
    ):
        found[thumbnail_key] = {"kind": "thumbnail", "upload_id": str(upload_id), "upload_key": upload_key}
    return found


def upload_blob_move(key: str, to_store: StoreType) -> str | None:
    """Move the upload whose current file is `key`, with its versions and thumbnail."""
    upload = KbUpload.objects.filter(key=key).first()
    if upload is None:
        if KbUploadVersion.objects.filter(key=key).exists() or KbUpload.objects.filter(thumbnail_key=key).exists():
            # A part of an upload never moves alone (an older version must stay private).
            raise Conflict(
                "This is an older version or a thumbnail of an upload: move the upload's file, they move with it.",
                code="blob_moves_with_its_upload",
            )
        return None
    from_store = store_of_key(key)
    new_key = rekey_for_store(key, to_store)
    versions = list(upload.versions.order_by("number"))
    copies: list[tuple[str, str]] = []  # (store, key) written so far: removed again on failure
    try:
        moved_versions, new_thumbnail = _copy_upload(upload, versions, new_key, to_store, copies)
        with transaction.atomic():
            locked = KbUpload.objects.select_for_update().filter(pk=upload.pk).first()
            if locked is None or locked.version != upload.version or locked.key != key:
                raise Conflict("The file changed while it was being moved; try again.", code="blob_changed")
            repoint_references(key=key, new_key=new_key, to_store=to_store)
            if upload.thumbnail_key:
                repoint_references(key=upload.thumbnail_key, new_key=new_thumbnail, to_store=to_store)
            for version in versions:
                # An older one where its bytes are now; the current one: the moved file.
                moved_to = moved_versions.get(version.number, new_key)
                KbUploadVersion.objects.filter(pk=version.pk).update(key=moved_to, storage_version_id="")
    except BaseException:
        from knowledge_base.services.uploads import _delete_object

        for store, copied in copies:
            _delete_object(store, copied)
        raise
    # The old directory (every object version in it); the private copies of older versions
    # keep their directory, now the upload's in the private store whatever store it is in.
    keep = {moved for moved in moved_versions.values() if moved.startswith("private/")}
    _delete_old_objects(from_store, key, upload_directory(key), keep=keep, thumbnail=upload.thumbnail_key)
    logger.info("upload moved between stores", extra={"upload_id": str(upload.pk), "to_store": to_store})
    return new_key


def _copy_upload(
    upload: KbUpload, versions: list[KbUploadVersion], new_key: str, to_store: StoreType, copies: list
) -> tuple[dict[int, str], str]:
    """Copy the current file and the thumbnail to `to_store`, and each older S3
    object version to a private copy (object versions do not cross buckets); an
    older version already in a private copy stays where it is. Returns where
    each older version is now and the new thumbnail key; `copies` lists what
    was written."""
    from_store = upload.store
    copy_object(from_store, upload.key, new_key, target_store=to_store, content_type=upload.content_type)
    copies.append((to_store, new_key))
    moved_versions: dict[int, str] = {}
    for version in versions:
        if version.number == upload.version:
            continue
        source_store, source_key, version_id = version_location(version)
        if not version_id:
            moved_versions[version.number] = source_key
            continue
        target = version_copy_key(new_key, version.number)
        copy_object(
            source_store,
            source_key,
            target,
            version_id=version_id,
            target_store="private",
            content_type=version.content_type,
        )
        copies.append(("private", target))
        moved_versions[version.number] = target
    new_thumbnail = ""
    if upload.thumbnail_key:
        new_thumbnail = rekey_for_store(upload.thumbnail_key, to_store)
        copy_object(from_store, upload.thumbnail_key, new_thumbnail, target_store=to_store)
        copies.append((to_store, new_thumbnail))
    return moved_versions, new_thumbnail


def _delete_old_objects(store: str, key: str, directory: str | None, *, keep: set[str], thumbnail: str) -> None:
    from knowledge_base.services.uploads import _delete_directory, _delete_object

    if directory is None:
        _delete_object(store, key)
        if thumbnail:
            _delete_object(store, thumbnail)
        return
    if store == "public" or not keep:
        _delete_directory(store, directory)  # the private copies live in the other store's directory
        return
    # Moving out of the private store: its directory also holds the version copies, which stay.
    _delete_object(store, key)
    if thumbnail:
        _delete_directory(store, posixpath.dirname(thumbnail))


def upload_blob_delete(store: str, key: str) -> bool:
    """A forced delete of an upload's current file takes its versions and thumbnails too."""
    if not KbUpload.objects.filter(key=key).exists():
        return False
    delete_upload_files(store, key)
    return True
