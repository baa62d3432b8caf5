"""Upload versions (DESIGN §15): replacing an upload's content keeps the old one.

Rules:
- `upload.key` always holds the CURRENT content, so a public URL never changes
  across versions; each content the upload has had is a `KbUploadVersion`
  (1, 2, 3…; the highest is current, at `upload.key`).
- Where an older content lives: on an S3 bucket with versioning enabled, at the
  upload's key under its S3 VersionId (`storage_version_id`; a public bucket's
  policy grants s3:GetObject, never s3:GetObjectVersion, so it is not public);
  everywhere else (S3 without versioning, the disk stores) in a copy at
  `private/<the upload's directory>/versions/<n>/<name>` (the version row's
  `key`): always in the private store, so replacing a public file really takes
  the old content off the public URL space (its copy's URL would be guessable).
- Replacing needs what uploading needs (member, admin/owner for an attachment
  of a published or archived article, size 413, sniffing 415), and the new
  content must be of the current type (415 otherwise): the key's extension and
  the public URL stay, and a `.png` URL must keep serving a PNG.
- Restoring version n copies n's content into a NEW version (n+1…): history is
  never rewritten. Restoring the current version is 409 `version_is_current`.
- Versions are numbered under a row lock on the upload (`select_for_update`):
  concurrent replaces get consecutive numbers, never a gap or a duplicate.
- Crash-safe order, each step under the row lock: (copy mode) copy the current
  content to its version key and point its row there, commit → write the new
  content at the upload's key → create the new version's row, update the
  upload, commit. A failure in the second step puts the old content back at the
  key (from its copy; versioned S3: by deleting the new object version); a
  crash leaves at most an object no row references (kb-cleanup-orphaned
  collects it), never a row pointing at a missing object, and never an older
  content without its row. Between the steps the current version's row names
  its copy, which holds the same bytes as the key.
- Pruning (`admin-retention-enforce`): versions other than the current one that
  are older than UPLOAD_VERSION_RETENTION_DAYS and not among an upload's newest
  UPLOAD_VERSIONS_KEPT (10) are deleted, rows first (set-based, in batches),
  their objects once the rows' deletion committed.
"""

from __future__ import annotations

import functools
import logging
import posixpath
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from deelrx.audit.services import record_event
from deelrx.errors import Conflict, NotFound, UnsupportedFileType
from deelrx.storage import (
    bucket_versioning_enabled,
    copy_object,
    delete_object_version,
    get_storage,
    overwrite_object,
    rekey_for_store,
    store_of_key,
    stored_object_info,
)
from deelrx.tenancy.access import TeamAccess, require_role
from deelrx.tenancy.models import Role, User
from knowledge_base.models import KbUpload, KbUploadVersion
from knowledge_base.services.processing import queue_upload_processing
from knowledge_base.services.uploads import (
    _hash_and_measure,
    _lock_for_change,
    _too_large,
    delete_stored_object,
)
from knowledge_base.sniffing import sanitize_filename, sniff_file

logger = logging.getLogger(__name__)

UPLOAD_VERSIONS_KEPT = 10  # the newest versions of an upload that pruning always keeps
PRUNE_BATCH_SIZE = 500

# What writes the new content at the upload's key, under the lock: given the locked upload.
Writer = Callable[[KbUpload], None]


def version_copy_key(upload_key: str, number: int) -> str:
    """`private/<the upload's directory>/versions/<n>/<the key's file name>`: always
    in the PRIVATE store, so that an older version of a public file is no longer
    public (its URL would otherwise be guessable from the current one's)."""
    directory, name = posixpath.split(upload_key)
    return rekey_for_store(f"{directory}/versions/{number}/{name}", "private")


def version_location(version: KbUploadVersion) -> tuple[str, str, str | None]:
    """(store, key, S3 VersionId or None) where a version's bytes are: the key names its store."""
    return store_of_key(version.key), version.key, version.storage_version_id or None


def _quietly(step: Callable[[], None], what: str, **extra: Any) -> None:
    try:
        step()
    except Exception:
        # Left for kb-cleanup-orphaned; never hide the original error behind this one.
        logger.exception("upload version: could not undo a step", extra={"step": what, **extra})


def _current_version(locked: KbUpload) -> KbUploadVersion:
    """The current version's row, locked. Every upload has one (migration 0006,
    upload_create); one written some other way (a fixture, a script) gets it
    here, from the upload's own fields."""
    current = KbUploadVersion.objects.select_for_update().filter(upload=locked, number=locked.version).first()
    if current is None:
        current = KbUploadVersion.objects.create(
            upload=locked,
            number=locked.version,
            key=locked.key,
            original_name=locked.original_name,
            content_type=locked.content_type,
            size=locked.size,
            stored_size=locked.stored_size,
            sha256=locked.sha256,
            created_by_id=locked.uploaded_by_id,
            created_at=locked.created_at,
        )
    return current


def _copy_current(store: str, key: str, current: KbUploadVersion) -> str:
    copy = version_copy_key(key, current.number)
    copy_object(store, key, copy, target_store="private", content_type=current.content_type)
    return copy


def _preserve_current(
    *,
    upload: KbUpload,
    access: TeamAccess,
    action: str,
    prepare: Callable[[KbUpload], tuple[dict[str, Any], Writer, dict[str, Any]]],
) -> None:
    """Step 1 where older content is copied (not on a versioned bucket): copy the
    current content to its version key and point its row there, committed before
    the key is overwritten. A process killed during the overwrite then leaves the
    old content with a row naming it (never a copy that kb-cleanup-orphaned would
    take for a stray), and the upload's key still serves a whole file. The
    request's checks run first (`prepare`), so a refused one copies nothing."""
    copy = ""
    try:
        with transaction.atomic():
            locked = _lock_for_change(upload, access, action)
            prepare(locked)
            if bucket_versioning_enabled(get_storage(locked.store)):
                return
            current = _current_version(locked)
            if current.key != locked.key:
                return  # already preserved (an earlier attempt that failed after this step)
            copy = _copy_current(locked.store, locked.key, current)
            current.key = copy
            current.save(update_fields=["key"])
    except BaseException:
        if copy:
            _quietly(lambda: delete_stored_object("private", copy), "delete the copy", upload_id=str(upload.pk))
        raise


Undo = list[tuple[str, Callable[[], None]]]


def _store_new_version(
    *,
    upload: KbUpload,
    user: User,
    access: TeamAccess,
    action: str,
    prepare: Callable[[KbUpload], tuple[dict[str, Any], Writer, dict[str, Any]]],
    event_type: str,
) -> KbUpload:
    """The one write path of replace and restore. `prepare(locked)` checks the
    locked upload and returns the new version's fields (original_name,
    content_type, size, sha256), the writer of its bytes and extra event data."""
    _preserve_current(upload=upload, access=access, action=action, prepare=prepare)
    undo: Undo = []
    try:
        with transaction.atomic():
            locked = _lock_for_change(upload, access, action)
            fields, write, event_extra = prepare(locked)
            current = _current_version(locked)
            _write_keeping_current(locked, current, write, undo)
            _record_new_version(locked, current, user=user, fields=fields)
            record_event(
                event_type=event_type,
                team=locked.team,
                user=user,
                data={
                    "upload_id": str(locked.pk),
                    "article_id": str(locked.article_id) if locked.article_id else None,
                    "original_name": locked.original_name,
                    "version": locked.version,
                    "previous_version": current.number,
                    **event_extra,
                    "size": locked.size,
                    "sha256": locked.sha256,
                },
            )
            queue_upload_processing(locked)  # the new version's thumbnail and text, after the commit
    except BaseException:
        for what, step in reversed(undo):
            _quietly(step, what, upload_id=str(upload.pk))
        raise
    logger.info(
        "kb upload version stored",
        extra={"upload_id": str(locked.pk), "version": locked.version, "size": locked.size, "store": locked.store},
    )
    return locked


def _write_keeping_current(locked: KbUpload, current: KbUploadVersion, write: Writer, undo: Undo) -> None:
    """Write the new bytes at the upload's key, the current content kept (its S3
    object version recorded, or its copy made if step 1 could not), and say in
    `undo` how to put things back should the transaction fail."""
    store, key = locked.store, locked.key
    storage = get_storage(store)
    if bucket_versioning_enabled(storage):
        old_version_id = current.storage_version_id or stored_object_info(storage, key)[1]
        current.storage_version_id = old_version_id

        def drop_new_object_version() -> None:
            newest = stored_object_info(store, key)[1]
            if newest and newest != old_version_id:
                delete_object_version(store, key, newest)

        undo.append(("drop the new object version", drop_new_object_version))
    else:
        if current.key == key:  # not preserved yet: a concurrent replace made this one current meanwhile
            copy = _copy_current(store, key, current)
            undo.append(("delete the copy", functools.partial(delete_stored_object, "private", copy)))
            current.key = copy
        put_back = functools.partial(
            copy_object, "private", current.key, key, target_store=store, content_type=current.content_type
        )
        undo.append(("put the old content back", put_back))
    write(locked)


def _record_new_version(locked: KbUpload, current: KbUploadVersion, *, user: User, fields: dict[str, Any]) -> None:
    """The rows: the old version where its bytes now are, the new one at the key, the upload."""
    stored_size, version_id = stored_object_info(locked.store, locked.key)
    current.save(update_fields=["key", "storage_version_id"])
    number = locked.version + 1
    KbUploadVersion.objects.create(
        upload=locked,
        number=number,
        key=locked.key,
        storage_version_id=version_id,
        stored_size=stored_size,
        created_by=user,
        created_at=timezone.now(),
        **fields,
    )
    for name, value in fields.items():
        setattr(locked, name, value)
    locked.stored_size = stored_size
    locked.version = number
    locked.processing_status = KbUpload.Processing.PENDING
    locked.processing_error = ""
    locked.save(update_fields=[*fields, "stored_size", "version", "processing_status", "processing_error"])


def upload_replace(*, upload: KbUpload, user: User, file: IO[bytes] | File) -> KbUpload:
    """Replace the upload's content with `file` as its next version, keeping the
    old one (members and up; admin/owner for an attachment of a published or
    archived article). Over UPLOAD_MAX_BYTES → 413; a refused type, or one other
    than the current content's → 415."""
    access = require_role(user, upload.team_id, Role.MEMBER)
    declared = getattr(file, "size", None)
    if declared is not None and declared > settings.UPLOAD_MAX_BYTES:
        raise _too_large(declared)  # refused before a single byte is read
    client_name = getattr(file, "name", "") or ""
    sniffed = sniff_file(file, filename=client_name)
    sha256, size = _hash_and_measure(file)
    display_name = sanitize_filename(client_name, extension=sniffed.extension)

    def prepare(locked: KbUpload) -> tuple[dict[str, Any], Writer, dict[str, Any]]:
        if sniffed.content_type != locked.content_type:
            raise UnsupportedFileType(
                f"A new version must be of the current file's type ({locked.content_type}); "
                f"this file is {sniffed.content_type}. Upload it as a new file instead.",
                details={"expected": locked.content_type, "received": sniffed.content_type},
            )

        def write(locked: KbUpload) -> None:
            content = File(file, name=locked.key)
            # S3 stores this as the object's Content-Type; the client's claim is never used.
            content.content_type = sniffed.content_type
            overwrite_object(locked.store, locked.key, content)

        fields = {"original_name": display_name, "content_type": sniffed.content_type, "size": size, "sha256": sha256}
        return fields, write, {}

    return _store_new_version(
        upload=upload, user=user, access=access, action="Replacing", prepare=prepare, event_type="kb.upload.replaced"
    )


def upload_version_restore(*, upload: KbUpload, number: int, user: User) -> KbUpload:
    """Make version `number` current again as a NEW version (its content
    copied; on S3 the copy is made by the server and keeps the encoding). A
    version that does not exist (or was pruned) is 404; the current one 409."""
    access = require_role(user, upload.team_id, Role.MEMBER)

    def prepare(locked: KbUpload) -> tuple[dict[str, Any], Writer, dict[str, Any]]:
        source = KbUploadVersion.objects.filter(upload=locked, number=number).first()
        if source is None:
            raise NotFound("Version not found.")
        if source.number == locked.version:
            raise Conflict("This version is already the current one.", code="version_is_current")
        # Where the source is before this write moves the current content (never the source's).
        source_store, source_key, source_version_id = version_location(source)
        content_type = source.content_type

        def write(locked: KbUpload) -> None:
            copy_object(
                source_store,
                source_key,
                locked.key,
                version_id=source_version_id,
                target_store=locked.store,
                content_type=content_type,
            )

        fields = {
            "original_name": source.original_name,
            "content_type": source.content_type,
            "size": source.size,
            "sha256": source.sha256,
        }
        return fields, write, {"restored_from": source.number}

    return _store_new_version(
        upload=upload,
        user=user,
        access=access,
        action="Restoring versions of",
        prepare=prepare,
        event_type="kb.upload.version_restored",
    )


# --- Pruning (admin-retention-enforce) ------------------------------------------------------
def _prunable(now: datetime) -> Any:
    """Versions past retention: not current, older than UPLOAD_VERSION_RETENTION_DAYS,
    and not among their upload's newest UPLOAD_VERSIONS_KEPT numbers. One query:
    the upload's N-th highest number comes from a correlated subquery on the
    (upload, number) unique index."""
    cutoff = now - timedelta(days=settings.UPLOAD_VERSION_RETENTION_DAYS)
    kept_from = (
        KbUploadVersion.objects.filter(upload_id=OuterRef("upload_id"))
        .order_by("-number")
        .values("number")[UPLOAD_VERSIONS_KEPT - 1 : UPLOAD_VERSIONS_KEPT]
    )
    return (
        KbUploadVersion.objects.filter(created_at__lt=cutoff)
        .exclude(number=F("upload__version"))
        .alias(kept_from=Subquery(kept_from))
        .filter(Q(kept_from__isnull=False) & Q(number__lt=F("kept_from")))
    )


def upload_versions_count_expired(*, now: datetime | None = None) -> int:
    return _prunable(now or timezone.now()).count()


def upload_versions_delete_expired(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> int:
    """Delete expired versions in batches of `batch_size`: per batch one locked
    read of (id, key, VersionId, store, upload key) and one DELETE; the objects
    go once that batch's transaction committed."""
    now = now or timezone.now()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(_prunable(now).order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            rows = list(
                KbUploadVersion.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__in=ids)
                .exclude(number=F("upload__version"))  # a restore may have made one current meanwhile
                .values_list("pk", "key", "storage_version_id", "upload__key")
            )
            KbUploadVersion.objects.filter(pk__in=[row[0] for row in rows]).delete()
            objects = [
                (store_of_key(key), key, version_id)
                for _pk, key, version_id, upload_key in rows
                if version_id or key != upload_key  # never the current content at the upload's key
            ]
            transaction.on_commit(lambda objects=objects: _delete_version_objects(objects))
        deleted += len(rows)
        logger.info("upload versions pruned", extra={"batch": len(rows), "total": deleted})
        if len(ids) < batch_size or not rows:
            return deleted


def _delete_version_objects(objects: list[tuple[str, str, str]]) -> None:
    for store, key, version_id in objects:
        if version_id:
            step = functools.partial(delete_object_version, store, key, version_id)
        else:
            step = functools.partial(delete_stored_object, store, key)
        _quietly(step, "prune a version", key=key)
