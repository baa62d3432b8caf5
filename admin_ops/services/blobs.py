"""The blob manager's writes (superusers only): move a file between the stores,
delete a file.

- Migrating copies the file to the other store under the same path
  (`private/x` → `public/x`), repoints every registered reference
  (`deelrx.storage.blob_references()`, e.g. KbUpload.key/store) and deletes the
  original — `deelrx.storage.move_file` does it in that crash-safe order. A
  file an app owns with more objects (an upload's older versions and its
  thumbnail, `deelrx.storage.register_blob_owner`) is moved by that app, all
  of it, in the same order; deleting it deletes those objects too.
- Purge exports (`private/purges/…`) never move to the public store (409
  `blob_must_stay_private`): they are the personal data a purge deletes.
- Deleting a file that rows still point at is refused with 409 `blob_in_use`
  (details list the rows) unless `force` is set: a forced delete removes the
  object only; the rows keep their key and show as broken, which is what the
  operator asked for (e.g. a file that must disappear now, rows fixed later).
  Except the export of a purge in progress (409 `blob_is_active_purge_export`,
  force or not): it is the only copy of the rows about to be deleted.
"""

from __future__ import annotations

import logging

from admin_ops.models import PurgeOperation
from admin_ops.selectors.blobs import clean_key, clean_store, file_exists, references_for
from admin_ops.services.export import EXPORTS_PREFIX
from deelrx.audit.services import record_event
from deelrx.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from deelrx.storage import blob_owners, get_storage, move_file, store_of_key
from deelrx.tenancy.models import User

logger = logging.getLogger(__name__)

_S = PurgeOperation.Status
# the states in which the export documents a deletion to come (or under way)
ACTIVE_PURGE_STATUSES = (_S.EXPORT_READY, _S.ACKNOWLEDGED, _S.EXECUTING)


def _require_superuser(actor: User) -> None:
    if not getattr(actor, "is_superuser", False):
        raise PermissionDenied("Only superusers may manage the file stores.")


def _move_with_owner(key: str, to_store: str) -> str | None:
    """An app's file of several objects (an upload with its versions and thumbnail)
    moves as a whole, by the app; None when no app owns the key."""
    for owner in blob_owners():
        new_key = owner.move(key, to_store)
        if new_key is not None:
            return new_key
    return None


def _delete_with_owner(store: str, key: str) -> bool:
    return any(owner.delete(store, key) for owner in blob_owners())


def blob_migrate(*, actor: User, key: str, to_store: str) -> dict:
    """Move `key` to `to_store` and repoint the rows that reference it."""
    _require_superuser(actor)
    key = clean_key(key)
    if to_store not in ("private", "public"):
        raise ValidationFailed(details={"to_store": ["Must be one of: private, public."]})
    from_store = store_of_key(key)
    if from_store == to_store:
        raise ValidationFailed(details={"to_store": [f"The file is already in the {to_store} store."]})
    if to_store == "public" and key.startswith(EXPORTS_PREFIX):
        # Purge exports are the personal data about to be deleted: never public.
        raise Conflict("Purge exports hold personal data and stay in the private store.", code="blob_must_stay_private")
    if not file_exists(get_storage(from_store), key):
        raise NotFound("No file with this key in the store.")
    references = references_for([key])[key]
    try:
        new_key = _move_with_owner(key, to_store) or move_file(key=key, to_store=to_store)
    except FileNotFoundError:
        raise NotFound("No file with this key in the store.") from None
    record_event(
        event_type="admin_ops.blob.migrated",
        user=actor,
        data={"key": key, "new_key": new_key, "from_store": from_store, "to_store": to_store, "references": references},
    )
    logger.info("blob migrated", extra={"key": key, "new_key": new_key, "references": len(references)})
    return {"key": new_key, "previous_key": key, "store": to_store, "referenced_by": references}


def blob_delete(*, actor: User, store: str, key: str, force: bool = False) -> dict:
    """Delete one file; refused while rows reference it, unless forced."""
    _require_superuser(actor)
    store = clean_store(store)
    key = clean_key(key, store=store)
    storage = get_storage(store)
    if not file_exists(storage, key):
        raise NotFound("No file with this key in the store.")
    references = references_for([key])[key]
    active = PurgeOperation.objects.filter(export_key=key, status__in=ACTIVE_PURGE_STATUSES)
    if active.exists():
        # The export is the only copy of rows a purge is about to delete (or is deleting);
        # force does not override this: cancel the purge first (which removes the file).
        raise Conflict(
            "This is the export of a purge in progress; cancel the purge to remove it.",
            code="blob_is_active_purge_export",
            details={"purge_ids": [str(pk) for pk in active.values_list("pk", flat=True)]},
        )
    if references and not force:
        raise Conflict(
            "Rows still point at this file; delete them first, or repeat with force=true.",
            code="blob_in_use",
            details={"referenced_by": references},
        )
    if not _delete_with_owner(store, key):
        storage.delete(key)
    record_event(
        event_type="admin_ops.blob.deleted",
        user=actor,
        data={"store": store, "key": key, "forced": bool(references), "references": references},
    )
    logger.info("blob deleted", extra={"key": key, "forced": bool(references)})
    return {"key": key, "store": store, "referenced_by": references}
