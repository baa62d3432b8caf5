"""kb-cleanup-orphaned: remove uploads nobody uses and objects nobody knows.

1. Orphaned uploads: KbUpload rows without an article (never attached, or
   their article was deleted — the FK is SET_NULL), older than the grace
   period (KB_ORPHAN_GRACE_DAYS, default 7), whose key, random segment or id
   appears in no article's content (an article can embed a file by URL
   without attaching it). Rows are deleted first, objects after the commit:
   a crash in between leaves a stray object for the next run, never a row
   without its file.
2. Stray objects: anything under private/kb/ and public/kb/ in either store
   that no registered blob reference (KbUpload.key and any other model that
   registered one) points at, older than the grace period. The grace period
   also covers an upload in flight, whose object is written just before its row.

Reads are set-based: one streamed pass over article contents, candidates and
stored objects in batches with one existence query per batch. With dry_run
nothing is deleted and the summary says what would be. Running it twice
deletes nothing the second time.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from deelrx.audit.services import record_event
from deelrx.storage import STORE_TYPES, blob_references, get_storage, is_s3
from deelrx.tenancy.models import Team
from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.services.uploads import KEY_PREFIX, delete_stored_object, delete_upload_files

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
_HEX_TOKEN = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def grace_period() -> timedelta:
    return timedelta(days=settings.KB_ORPHAN_GRACE_DAYS)


def _referenced_tokens() -> set[str]:
    """Every 32-hex token and uuid in any article's content, as plain hex.

    Upload keys carry a random 32-hex segment and the download URL carries
    the upload id, so this finds embeds by key, by public URL and by
    download URL in one pass over the articles."""
    tokens: set[str] = set()
    for content, content_html in KbArticle.objects.values_list("content", "content_html").iterator(chunk_size=500):
        for match in _HEX_TOKEN.finditer(f"{content}\n{content_html}"):
            tokens.add(match.group(0).replace("-", "").lower())
    return tokens


def _key_token(key: str) -> str:
    parts = key.split("/")
    # <store>/kb/<team>/<random hex>/<name>
    return parts[3].lower() if len(parts) >= 5 else ""


def _delete_objects(objects: list[tuple[str, str]]) -> int:
    deleted = 0
    for store, key in objects:
        try:
            delete_stored_object(store, key)
            deleted += 1
        except Exception:
            logger.exception("could not delete object", extra={"store": store, "key": key})
    return deleted


def _delete_upload_files(objects: list[tuple[str, str]]) -> None:
    for store, key in objects:
        delete_upload_files(store, key)


def _cleanup_orphan_uploads(*, cutoff: datetime, dry_run: bool, deleted_keys: set[str]) -> dict[str, Any]:
    candidates = list(
        KbUpload.objects.filter(article__isnull=True, created_at__lt=cutoff)
        .order_by("created_at", "id")
        .values_list("pk", "key", "team_id", "size")
    )
    if not candidates:
        return {"orphan_uploads": 0, "orphan_uploads_referenced": 0, "orphan_uploads_deleted": 0, "orphan_bytes": 0}
    tokens = _referenced_tokens()
    orphans = [c for c in candidates if c[0].hex not in tokens and _key_token(c[1]) not in tokens]
    summary = {
        "orphan_uploads": len(orphans),
        "orphan_uploads_referenced": len(candidates) - len(orphans),
        "orphan_uploads_deleted": 0,
        "orphan_bytes": sum(c[3] for c in orphans),
    }
    if dry_run:
        summary["orphan_upload_keys"] = [c[1] for c in orphans[:100]]
        return summary
    for start in range(0, len(orphans), BATCH_SIZE):
        batch = [c[0] for c in orphans[start : start + BATCH_SIZE]]
        with transaction.atomic():
            # Re-checked under the lock: one may have been attached meanwhile.
            locked = list(
                KbUpload.objects.select_for_update()
                .filter(pk__in=batch, article__isnull=True)
                .order_by("pk")
                .values_list("pk", "store", "key", "team_id")
            )
            KbUpload.objects.filter(pk__in=[row[0] for row in locked]).delete()
            by_team: dict[int, list[str]] = {}
            for _pk, _store, key, team_id in locked:
                by_team.setdefault(team_id, []).append(key)
            teams = Team.objects.in_bulk(list(by_team))
            for team_id, keys in by_team.items():
                record_event(
                    event_type="kb.upload.orphan_deleted",
                    team=teams.get(team_id),
                    data={"count": len(keys), "keys": keys[:50]},
                )
            objects = [(store, key) for _pk, store, key, _team in locked]
            deleted_keys.update(key for _store, key in objects)
            # Each upload's whole directory: its versions and thumbnails go with it.
            transaction.on_commit(lambda objects=objects: _delete_upload_files(objects))
        summary["orphan_uploads_deleted"] += len(locked)
        logger.info("kb orphan uploads deleted", extra={"batch": len(locked), "done": start + len(batch)})
    return summary


def _iter_objects(store: str, prefix: str) -> Iterator[tuple[str, datetime]]:
    """(key, last modified) of every object under prefix in one store."""
    storage = get_storage(store)
    if is_s3(storage):
        for obj in storage.bucket.objects.filter(Prefix=prefix):
            yield obj.key, obj.last_modified
        return
    root = storage.path(prefix)
    for directory, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(directory, name)
            key = os.path.relpath(path, storage.location).replace(os.sep, "/")
            yield key, datetime.fromtimestamp(os.path.getmtime(path), tz=UTC)


def _known_keys(keys: list[str]) -> set[str]:
    """Which keys some registered row points at (one query per registered field)."""
    known: set[str] = set()
    for model_label, key_field, _store_field in blob_references():
        model = apps.get_model(model_label)
        known.update(model.objects.filter(**{f"{key_field}__in": keys}).values_list(key_field, flat=True))
    return known


def _remove_empty_directories(store: str, prefix: str, *, cutoff: datetime) -> None:
    """On disk, deleting files leaves their per-upload directories behind."""
    storage = get_storage(store)
    if is_s3(storage):
        return
    root = storage.path(prefix)
    for directory, _dirs, files in os.walk(root, topdown=False):
        if directory == root or files:
            continue
        try:
            # A fresh directory may be about to receive an upload's file.
            if datetime.fromtimestamp(os.path.getmtime(directory), tz=UTC) < cutoff:
                os.rmdir(directory)
        except OSError:
            pass  # not empty any more, or gone: fine either way


def _cleanup_stray_objects(*, cutoff: datetime, dry_run: bool, skip_keys: set[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {"objects_scanned": 0, "stray_objects": 0, "stray_objects_deleted": 0, "stray_recent": 0}
    stray_keys: list[str] = []
    for store in STORE_TYPES:
        prefix = f"{store}/{KEY_PREFIX}/"
        batch: list[tuple[str, datetime]] = []

        def flush(batch: list[tuple[str, datetime]], store: str = store) -> None:
            known = _known_keys([key for key, _ in batch])
            # skip_keys: objects of the orphans just deleted, already on their way out.
            unknown = [(key, modified) for key, modified in batch if key not in known and key not in skip_keys]
            old = [key for key, modified in unknown if modified < cutoff]
            summary["stray_recent"] += len(unknown) - len(old)
            summary["stray_objects"] += len(old)
            stray_keys.extend(old[: max(0, 100 - len(stray_keys))])
            if old and not dry_run:
                summary["stray_objects_deleted"] += _delete_objects([(store, key) for key in old])
            logger.info("kb stray objects scanned", extra={"store": store, "batch": len(batch), "stray": len(old)})

        for item in _iter_objects(store, prefix):
            summary["objects_scanned"] += 1
            batch.append(item)
            if len(batch) >= BATCH_SIZE:
                flush(batch)
                batch = []
        if batch:
            flush(batch)
        if not dry_run:
            _remove_empty_directories(store, prefix, cutoff=cutoff)
    if dry_run:
        summary["stray_object_keys"] = stray_keys
    return summary


def orphans_cleanup(*, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Delete orphaned uploads and stray objects older than the grace period."""
    now = now or timezone.now()
    cutoff = now - grace_period()
    logger.info("kb orphan clean-up started", extra={"cutoff": cutoff.isoformat(), "dry_run": dry_run})
    summary: dict[str, Any] = {"dry_run": dry_run, "grace_days": grace_period().days}
    deleted_keys: set[str] = set()
    summary.update(_cleanup_orphan_uploads(cutoff=cutoff, dry_run=dry_run, deleted_keys=deleted_keys))
    summary.update(_cleanup_stray_objects(cutoff=cutoff, dry_run=dry_run, skip_keys=deleted_keys))
    logger.info("kb orphan clean-up finished", extra=summary)
    return summary
