"""The export a purge writes before anything is deleted: one ZIP in the
private store with, per entity, `<entity>.json` and `<entity>.csv` holding
every row in scope, `<entity>.<app.Model>.json/.csv` with the rows deleting
them cascades to (an article's revisions, …), plus `manifest.json` (scope,
cutoff, row counts).

Rows are streamed from the database with `.iterator(chunk_size=…)` straight
into the ZIP members, and the ZIP is spooled to a temporary file that spills
to disk, so a large export never sits in memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import secrets
import shutil
import tempfile
import zipfile

from django.core.files.base import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import CASCADE, Model

from admin_ops import purge_registry
from deelrx.storage import build_key, private_storage

logger = logging.getLogger(__name__)

CHUNK_SIZE = 2000
SPOOL_MAX_BYTES = 8 * 1024 * 1024


EXPORTS_PREFIX = "private/purges/"


def export_key_for(*, team_id: int, purge_id, at: dt.datetime) -> str:
    # A random part: two workers exporting the same purge in the same second must not
    # write one object (the store's exists-then-save is no lock), or the loser, removing
    # "its" file, would delete the winner's export.
    name = f"export-{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(6)}.zip"
    return build_key("private", "purges", str(team_id), str(purge_id), name)


# One encoder for every row: json.dumps(cls=...) would build a new one per call.
_ROW_ENCODER = DjangoJSONEncoder(sort_keys=True)


def _csv_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return _ROW_ENCODER.encode(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _write_entity(archive: zipfile.ZipFile, name: str, rows, fields: list[str]) -> int:
    """Write `<name>.json` and `<name>.csv` in one pass over the rows (one
    snapshot for both). A ZIP takes one member at a time, so the CSV is
    spooled aside (to disk when large) and copied in after the JSON."""
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES, mode="w+b") as csv_spool:
        csv_out = io.TextIOWrapper(csv_spool, encoding="utf-8", newline="")
        writer = csv.writer(csv_out)
        writer.writerow(fields)
        with archive.open(f"{name}.json", "w", force_zip64=True) as json_raw:
            json_out = io.TextIOWrapper(json_raw, encoding="utf-8", newline="")
            json_out.write("[")
            for row in rows:
                json_out.write(("," if count else "") + "\n" + _ROW_ENCODER.encode(row))
                writer.writerow([_csv_value(row[f]) for f in fields])
                count += 1
            json_out.write("\n]\n")
            json_out.flush()
            json_out.detach()
        csv_out.flush()
        csv_out.detach()
        csv_spool.seek(0)
        with archive.open(f"{name}.csv", "w", force_zip64=True) as csv_raw:
            shutil.copyfileobj(csv_spool, csv_raw)
    return count


def cascaded_children(name: str) -> list[tuple[type[Model], str]]:
    """(model, foreign key attname) of the rows deleting `name`'s rows cascades to
    (e.g. an article's revisions, feedback and link checks), other than purgeable
    entities, which are exported in their own right."""
    entity_labels = {e.label for e in purge_registry.available_entities()}
    return [
        (rel.related_model, rel.field.attname)
        for rel in purge_registry.ENTITIES[name].model._meta.related_objects
        if rel.on_delete is CASCADE and not rel.many_to_many and rel.related_model._meta.label not in entity_labels
    ]


def build_export(*, purge, cutoff: dt.datetime, now: dt.datetime) -> tuple[str, dict[str, int]]:
    """Write the export ZIP of `purge`'s scope (rows created up to `cutoff`) to
    the private store; return (key, row counts per entity)."""
    counts: dict[str, int] = {}
    cascaded: dict[str, int] = {}
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name in purge_registry.ordered(purge.scope.get("entities") or []):
                fields = purge_registry.export_fields(name)
                rows = (
                    purge_registry.selection(name, team_id=purge.team_id, scope=purge.scope, cutoff=cutoff)
                    .order_by("pk")
                    .values(*fields)
                    .iterator(chunk_size=CHUNK_SIZE)
                )
                counts[name] = _write_entity(archive, name, rows, fields)
                for child, fk in cascaded_children(name):
                    # rows the database deletes with these (CASCADE): exported too, so the
                    # export holds everything the purge removes
                    member = f"{name}.{child._meta.label}"
                    parents = purge_registry.selection(name, team_id=purge.team_id, scope=purge.scope, cutoff=cutoff)
                    child_fields = [f.attname for f in child._meta.concrete_fields if f.name != "search_vector"]
                    child_rows = (
                        child._default_manager.filter(**{f"{fk}__in": parents.values("pk")})
                        .order_by("pk")
                        .values(*child_fields)
                        .iterator(chunk_size=CHUNK_SIZE)
                    )
                    cascaded[member] = _write_entity(archive, member, child_rows, child_fields)
            manifest = {
                "purge_id": str(purge.pk),
                "team_id": purge.team_id,
                "scope": purge.scope,
                "cutoff": cutoff,
                "generated_at": now,
                "counts": counts,
                "cascaded": cascaded,
                "files": {name: [f"{name}.json", f"{name}.csv"] for name in [*counts, *cascaded]},
            }
            archive.writestr("manifest.json", json.dumps(manifest, cls=DjangoJSONEncoder, indent=2, sort_keys=True))
        spool.seek(0)
        key = export_key_for(team_id=purge.team_id, purge_id=purge.pk, at=now)
        saved = private_storage().save(key, File(spool, name=key))
    logger.info("purge export written", extra={"purge_id": str(purge.pk), "key": saved, "counts": counts})
    return saved, counts


def delete_export(key: str) -> bool:
    if not key:
        return False
    storage = private_storage()
    try:
        if storage.exists(key):
            storage.delete(key)
            return True
    except Exception:  # a store outage must not block cancelling; retention retries later
        logger.warning("could not delete purge export", extra={"key": key}, exc_info=True)
    return False
