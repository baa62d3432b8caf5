"""Uploads: sniffed, sized, stored under an unguessable key, recorded in one
transaction, and served only to the team (private) or through the public store.

The order of a write is: checks that need no bytes (role, context, article,
declared size) → sniffing and hashing → store the object → create the row.
The row never points at a missing object: if the row cannot be written the
object is deleted again, and deleting an upload removes the object only
after the row's deletion has committed (a failure there leaves a stray object
that kb-cleanup-orphaned collects, never a row without its file).
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import shutil
import uuid
from typing import IO, Any

from django.conf import settings
from django.core.files.base import File
from django.db import transaction
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import content_disposition_header

from deelrx.audit.services import record_event
from deelrx.errors import FileTooLarge, NotFound, PermissionDenied, ValidationFailed
from deelrx.storage import (
    INLINE_UNSAFE_TYPES,
    STORE_TYPES,
    UPLOAD_CONTEXTS,
    bucket_versioning_enabled,
    build_key,
    delete_every_version,
    determine_store_type,
    get_storage,
    is_s3,
    rekey_for_store,
    store_of_key,
    stored_object_info,
)
from deelrx.tenancy.access import TeamAccess, require_role
from deelrx.tenancy.models import Role, Team, User
from knowledge_base.models import KbArticle, KbUpload, KbUploadVersion
from knowledge_base.services.articles import ADMIN_EDIT_STATUSES
from knowledge_base.services.processing import queue_upload_processing
from knowledge_base.sniffing import sanitize_filename, sniff_file, storage_filename

logger = logging.getLogger(__name__)

KEY_PREFIX = "kb"  # keys are <store>/kb/<team id>/<random hex>/<name>
_UPLOAD_DIRECTORY = re.compile(r"[0-9a-f]{32}")


def _too_large(size: int) -> FileTooLarge:
    limit = settings.UPLOAD_MAX_BYTES
    return FileTooLarge(
        f"The file is larger than the limit of {limit} bytes.",
        details={"max_bytes": limit, "size": size},
    )


def _hash_and_measure(file: IO[bytes] | File) -> tuple[str, int]:
    """sha256 and byte count, read in chunks (never the whole file in memory);
    stops as soon as the limit is passed, whatever size the client declared."""
    digest = hashlib.sha256()
    size = 0
    limit = settings.UPLOAD_MAX_BYTES
    chunks = file.chunks() if hasattr(file, "chunks") else iter(lambda: file.read(64 * 1024), b"")
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise _too_large(size)
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest(), size


def _event_data(upload: KbUpload) -> dict[str, Any]:
    return {
        "upload_id": str(upload.pk),
        "article_id": str(upload.article_id) if upload.article_id else None,
        "store": upload.store,
        "key": upload.key,
        "original_name": upload.original_name,
        "content_type": upload.content_type,
        "size": upload.size,
    }


def _require_article_edit(access: TeamAccess, article: KbArticle | None, action: str) -> None:
    """Attachments are part of the article: on a published (or archived)
    article they are live in the help center at once, so changing them needs
    the role that editing that article needs (admin/owner), not just member."""
    if article is not None and article.status in ADMIN_EDIT_STATUSES and not access.has_role(Role.ADMIN):
        raise PermissionDenied(
            f"{action} attachments of a {article.get_status_display().lower()} article needs the 'admin' role."
        )


def _store_file(file, *, team: Team, store: str, display_name: str, sniffed) -> str:
    """Write the bytes under a new unguessable key of the store; returns the key."""
    key = build_key(
        store,
        KEY_PREFIX,
        str(team.pk),
        uuid.uuid4().hex,  # 128 random bits: keys (and public URLs) cannot be guessed
        storage_filename(display_name, extension=sniffed.extension),
    )
    content = File(file, name=key)
    # S3 stores this as the object's Content-Type; the client's claim is never used.
    content.content_type = sniffed.content_type
    return get_storage(store).save(key, content)


def _check_new_upload(*, team: Team, user: User, file, context: str, article: KbArticle | None) -> str:
    """The checks that need no bytes: role, context, article, declared size. Returns the context."""
    access = require_role(user, team, Role.MEMBER)
    context = context or "user-upload"
    if context not in UPLOAD_CONTEXTS:
        raise ValidationFailed(details={"context": [f"Must be one of: {', '.join(UPLOAD_CONTEXTS)}."]})
    if article is not None and article.team_id != team.pk:
        raise NotFound("Article not found.")
    _require_article_edit(access, article, "Adding")
    declared = getattr(file, "size", None)
    if declared is not None and declared > settings.UPLOAD_MAX_BYTES:
        raise _too_large(declared)  # refused before a single byte is read
    return context


def _first_version(upload: KbUpload, *, storage_version_id: str) -> KbUploadVersion:
    """Version 1: the content the upload was created with, at its key."""
    return KbUploadVersion.objects.create(
        upload=upload,
        number=1,
        key=upload.key,
        original_name=upload.original_name,
        content_type=upload.content_type,
        size=upload.size,
        stored_size=upload.stored_size,
        storage_version_id=storage_version_id,
        sha256=upload.sha256,
        created_by=upload.uploaded_by,
        created_at=upload.created_at,
    )


def upload_create(
    *,
    team: Team,
    user: User,
    file: IO[bytes] | File,
    context: str = "user-upload",
    article: KbArticle | None = None,
) -> KbUpload:
    """Store one file for the team (members and up).

    Over UPLOAD_MAX_BYTES → 413; a type the sniffer refuses → 415; the store
    follows the context (never the content type); an article must be the
    team's (else 404); attaching to a published or archived article needs
    admin/owner, like editing it (403)."""
    context = _check_new_upload(team=team, user=user, file=file, context=context, article=article)
    client_name = getattr(file, "name", "") or ""
    sniffed = sniff_file(file, filename=client_name)
    sha256, size = _hash_and_measure(file)

    store = determine_store_type(sniffed.content_type, context)
    display_name = sanitize_filename(client_name, extension=sniffed.extension)
    key = _store_file(file, team=team, store=store, display_name=display_name, sniffed=sniffed)
    try:
        # Bytes in the store (smaller when S3 keeps it gzip-encoded) and, on a versioned bucket, its VersionId.
        stored_size, storage_version_id = stored_object_info(store, key)
        with transaction.atomic():
            upload = KbUpload.objects.create(
                team=team,
                article=article,
                store=store,
                context=context,
                key=key,
                original_name=display_name,
                content_type=sniffed.content_type,
                size=size,
                stored_size=stored_size,
                sha256=sha256,
                uploaded_by=user,
            )
            _first_version(upload, storage_version_id=storage_version_id)
            record_event(event_type="kb.upload.created", team=team, user=user, data=_event_data(upload))
            queue_upload_processing(upload)  # thumbnail and text, after the commit
    except BaseException:
        # No row, so no file either: remove what was just written.
        _delete_object(store, key)
        raise
    logger.info("kb upload stored", extra={"upload_id": str(upload.pk), "store": store, "size": size})
    return upload


def delete_stored_object(store: str, key: str) -> None:
    """Delete one object (on a versioned S3 bucket every version of it: a plain
    delete would only hide it behind a delete marker). On disk, also remove the
    directories it leaves empty up to the upload's own
    (`<store>/kb/<team>/<random hex>/`, with its `versions/<n>/` and
    `thumbnails/`): nothing else is ever written there, so leaving them would
    only pile up empty directories."""
    storage = get_storage(store)
    if bucket_versioning_enabled(storage):
        delete_every_version(store, key, exact=True)
        return
    storage.delete(key)
    if is_s3(storage):
        return
    directory = os.path.dirname(storage.path(key))
    for _level in range(3):  # versions/<n>/ → versions/ → the upload's directory
        name = os.path.basename(directory)
        parent = os.path.basename(os.path.dirname(directory))
        inside_upload = (name.isdigit() and parent == "versions") or name in ("versions", "thumbnails")
        if not (inside_upload or _UPLOAD_DIRECTORY.fullmatch(name)):
            return
        try:
            os.rmdir(directory)
        except OSError:  # not empty (or already gone): leave it and what holds it
            return
        if _UPLOAD_DIRECTORY.fullmatch(name):
            return
        directory = os.path.dirname(directory)


def upload_directory(key: str) -> str | None:
    """`<store>/kb/<team>/<random hex>` when the key lives in an upload's own
    directory (every upload's does), else None."""
    directory = posixpath.dirname(key)
    return directory if _UPLOAD_DIRECTORY.fullmatch(posixpath.basename(directory)) else None


def delete_upload_files(store: str, key: str, *, other_keys: tuple[str, ...] = ()) -> None:
    """Every object of one upload, given its key: the current content, the
    copies of older versions (`versions/`), the thumbnails (`thumbnails/`) —
    the whole upload directory, which nothing else shares, in both stores (a
    public file's older versions are copied to the private one) — and on a
    versioned S3 bucket every object version and delete marker in it.
    `other_keys`: any of its objects outside that directory. Errors are logged,
    never raised (a leftover is kb-cleanup-orphaned's)."""
    directory = upload_directory(key)
    if directory is None:
        _delete_object(store, key)
    else:
        # Its directory in both stores: copies of a public file's older versions are private.
        for each_store in STORE_TYPES:
            _delete_directory(each_store, rekey_for_store(directory, each_store))
    inside = f"{directory.split('/', 1)[1]}/" if directory else None  # the directory without its store
    for other in other_keys:
        if other and (inside is None or not other.split("/", 1)[-1].startswith(inside)):
            _delete_object(store_of_key(other), other)


def _delete_directory(store: str, directory: str) -> None:
    storage = get_storage(store)
    try:
        if bucket_versioning_enabled(storage):
            delete_every_version(store, f"{directory}/")
        elif is_s3(storage):
            storage.bucket.objects.filter(Prefix=storage._normalize_name(f"{directory}/")).delete()
        else:
            shutil.rmtree(storage.path(directory), ignore_errors=True)
    except Exception:
        logger.exception("could not delete an upload's files", extra={"store": store, "directory": directory})


def _delete_object(store: str, key: str) -> None:
    try:
        delete_stored_object(store, key)
    except Exception:
        # Left for kb-cleanup-orphaned; never hide the original error behind this one.
        logger.exception("could not delete stored object", extra={"store": store, "key": key})


def _lock_for_change(upload: KbUpload, access: TeamAccess, action: str) -> KbUpload:
    """The upload's row, locked (404 once gone), after the article's edit rule for `action`."""
    locked = KbUpload.objects.select_for_update().select_related("team").filter(pk=upload.pk).first()
    if locked is None:
        raise NotFound("Upload not found.")
    article = KbArticle.objects.filter(pk=locked.article_id).only("pk", "status").first() if locked.article_id else None
    _require_article_edit(access, article, action)
    return locked


def upload_delete(*, upload: KbUpload, user: User) -> None:
    """Members and up delete their team's uploads (admins/owners those of a
    published or archived article). Its objects (every version, the
    thumbnails) go once the row's deletion has committed."""
    access = require_role(user, upload.team_id, Role.MEMBER)
    with transaction.atomic():
        locked = _lock_for_change(upload, access, "Deleting")
        data = _event_data(locked)
        store, key = locked.store, locked.key
        # Its versions and thumbnail go with it (the version rows by cascade).
        others = (*locked.versions.values_list("key", flat=True), locked.thumbnail_key)
        locked.delete()
        record_event(event_type="kb.upload.deleted", team=locked.team, user=user, data=data)
        transaction.on_commit(lambda: delete_upload_files(store, key, other_keys=others))


def upload_reprocess(*, upload: KbUpload, user: User) -> KbUpload:
    """Process the upload again (members and up; admins/owners for an
    attachment of a published or archived article, as for editing it): back to
    `pending`, queued after the commit (`services/processing.py`), recorded."""
    access = require_role(user, upload.team_id, Role.MEMBER)
    with transaction.atomic():
        locked = _lock_for_change(upload, access, "Processing")
        locked.processing_status = KbUpload.Processing.PENDING
        locked.processing_error = ""
        locked.save(update_fields=["processing_status", "processing_error"])
        record_event(
            event_type="kb.upload.reprocessed",
            team=locked.team,
            user=user,
            data={**_event_data(locked), "version": locked.version},
        )
        queue_upload_processing(locked)
    return locked


# --- Reading ------------------------------------------------------------------------------
def upload_public_url(upload: KbUpload) -> str | None:
    """The plain URL of a public-store file (None for private files)."""
    if upload.store != KbUpload.Store.PUBLIC:
        return None
    return get_storage("public").url(upload.key)


def upload_thumbnail_url(upload: KbUpload, request: HttpRequest | None = None) -> str | None:
    """Where a client fetches the upload's thumbnail (None until one is made):
    the public store's URL for a public upload, else the authenticated
    thumbnail endpoint (same rules as the download). The thumbnail key holds
    the version, so the URL changes when the content does."""
    if not upload.thumbnail_key:
        return None
    if upload.store == KbUpload.Store.PUBLIC:
        url = get_storage("public").url(upload.thumbnail_key)
    else:
        url = f"{reverse('api-kb-upload-thumbnail', kwargs={'upload_id': upload.pk})}?v={upload.version}"
    if request is not None and url.startswith("/"):
        return request.build_absolute_uri(url)
    return url


def upload_url(upload: KbUpload, *, request: HttpRequest | None = None) -> str:
    """Where a client fetches the file: the public URL, or the authenticated
    download endpoint for private files. Absolute when a request is given."""
    url = upload_public_url(upload) or reverse("api-kb-upload-download", kwargs={"upload_id": upload.pk})
    if request is not None and url.startswith("/"):
        return request.build_absolute_uri(url)
    return url


def _content_disposition_type(upload: KbUpload | KbUploadVersion) -> str:
    # Markup (SVG, HTML, XML) is never rendered in our origin, even privately.
    return "attachment" if upload.content_type in INLINE_UNSAFE_TYPES else "inline"


def upload_download_response(*, upload: KbUpload, user: User, version: KbUploadVersion | None = None) -> HttpResponse:
    """Any member of the upload's team (viewers too) may fetch it, or one of
    its versions; others get 404.

    S3: a redirect to a short-lived signed URL (the bytes never pass through
    the app; an older version's URL names its VersionId when it has one; a
    gzip-encoded object is served with `Content-Encoding: gzip`). File system:
    the file streamed with nosniff and a sandboxing CSP."""
    require_role(user, upload.team_id, Role.VIEWER)
    described = version or upload
    key = version.key if version is not None else upload.key
    store = store_of_key(key)  # an older version's copy is in the private store, whatever the upload's
    storage = get_storage(store)
    disposition = _content_disposition_type(described)
    if is_s3(storage):
        if store == KbUpload.Store.PUBLIC and version is None:
            return HttpResponseRedirect(storage.url(upload.key))
        parameters = {
            "ResponseContentType": described.content_type,
            "ResponseContentDisposition": _disposition_header(disposition, described.original_name),
        }
        if version is not None and version.storage_version_id:
            parameters["VersionId"] = version.storage_version_id
        if store == KbUpload.Store.PUBLIC:
            # The public store signs nothing; an older version is still only for the team.
            url = storage.connection.meta.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": storage.bucket_name, "Key": storage._normalize_name(key), **parameters},
                ExpiresIn=settings.PRIVATE_URL_EXPIRY_SECONDS,
            )
        else:
            url = storage.url(key, parameters=parameters, expire=settings.PRIVATE_URL_EXPIRY_SECONDS)
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        handle = storage.open(key, "rb")
    except (FileNotFoundError, OSError):
        raise NotFound("The file is missing from the store.") from None
    response = FileResponse(
        handle,
        content_type=described.content_type,
        as_attachment=disposition == "attachment",
        filename=described.original_name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


THUMBNAIL_CONTENT_TYPES = {"webp": "image/webp", "png": "image/png", "jpg": "image/jpeg"}


def upload_thumbnail_response(*, upload: KbUpload, user: User) -> HttpResponse:
    """The thumbnail, to the same people as the file (any member of the team;
    others 404): on S3 a redirect to a short-lived signed URL, on disk streamed."""
    require_role(user, upload.team_id, Role.VIEWER)
    if not upload.thumbnail_key:
        raise NotFound("This upload has no thumbnail.")
    storage = get_storage(upload.store)
    content_type = THUMBNAIL_CONTENT_TYPES.get(upload.thumbnail_key.rsplit(".", 1)[-1], "application/octet-stream")
    if is_s3(storage):
        if upload.store == KbUpload.Store.PUBLIC:
            return HttpResponseRedirect(storage.url(upload.thumbnail_key))
        parameters = {"ResponseContentType": content_type}
        url = storage.url(upload.thumbnail_key, parameters=parameters, expire=settings.PRIVATE_URL_EXPIRY_SECONDS)
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    try:
        handle = storage.open(upload.thumbnail_key, "rb")
    except (FileNotFoundError, OSError):
        raise NotFound("The thumbnail is missing from the store.") from None
    response = FileResponse(handle, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # The URL carries the version (?v=), so the browser may keep it a while.
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _disposition_header(disposition: str, filename: str) -> str:
    """RFC 6266 header with an ASCII fallback and the UTF-8 name."""
    return content_disposition_header(disposition == "attachment", filename) or disposition
