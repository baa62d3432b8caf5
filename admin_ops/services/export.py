"""The export a purge writes before anything is deleted: one ZIP in the
private store with, per entity, `<entity>.json` and `<entity>.csv` holding
every row in scope, `<entity>.<app.Model>.json/.csv` with the rows deleting
them cascades to (an article's revisions, …), plus `manifest.json` (scope,
cutoff, row counts).

The export is also the purge's exact boundary: in the same snapshot as the
rows it writes, it records their ids (`PurgeExportedRow`, one INSERT … SELECT
per entity), and execution deletes those ids and no others.

Rows are streamed from the database with a server-side cursor
(`.iterator(chunk_size=…)`) straight into the ZIP members. On PostgreSQL the
database renders each row's JSON object and CSV cells (C code, not a Python
loop over field values); elsewhere Python does. The ZIP is spooled to a
temporary file that spills to disk, so a large export never sits in memory."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import secrets
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Iterator

from django.core.files.base import File
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import CASCADE, F, Func, Model, QuerySet, TextField, Value
from django.db.models.functions import Cast

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
# json_build_object takes at most 100 arguments (50 fields); wider models take the Python path
_PG_MAX_FIELDS = 50


def _csv_value(value: object) -> str:
    """A CSV cell: the field's JSON value as text (strings as they are), as
    PostgreSQL's `to_json(x) #>> '{}'` writes it on the other path."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return _ROW_ENCODER.encode(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


# PostgreSQL types whose `::text` is already the cell (the JSON value's text); any
# other non-text type goes through to_json, which formats dates like the JSON member
_CAST_TO_TEXT = {"integer", "bigint", "smallint", "boolean", "uuid", "jsonb", "double precision", "real"}


def _pg_cell(model: type[Model], attname: str) -> Func | F:
    field = next(f for f in model._meta.concrete_fields if f.attname == attname)
    db_type = (field.db_type(connection) or "").split("(")[0]
    if db_type in ("varchar", "text"):
        return F(attname)
    if db_type in _CAST_TO_TEXT or db_type == "numeric":
        return Cast(F(attname), TextField())
    return Func(F(attname), template="(to_json(%(expressions)s) #>> '{}')", output_field=TextField())


def _rows_as_text(queryset: QuerySet, fields: list[str]) -> Iterator[tuple[str, Iterable[str | None]]]:
    """(JSON object, CSV cells) of each row in pk order, read through a
    server-side cursor in chunks of CHUNK_SIZE."""
    queryset = queryset.order_by("pk")
    if connection.vendor == "postgresql" and len(fields) <= _PG_MAX_FIELDS:
        keys = sorted(fields)  # the key order of the Python path (sort_keys)
        pairs = [e for f in keys for e in (Value(f), F(f))]
        as_json = Cast(Func(*pairs, function="json_build_object"), TextField())
        cells = [_pg_cell(queryset.model, f) for f in fields]
        for row in queryset.values_list(as_json, *cells).iterator(chunk_size=CHUNK_SIZE):
            yield row[0], row[1:]
        return
    for row in queryset.values(*fields).iterator(chunk_size=CHUNK_SIZE):
        yield _ROW_ENCODER.encode(row), [_csv_value(row[f]) for f in fields]


def _write_entity(archive: zipfile.ZipFile, name: str, rows: Iterable[tuple[str, Iterable]], fields: list[str]) -> int:
    """Write `<name>.json` and `<name>.csv` in one pass over the rows (one
    read for both). A ZIP takes one member at a time, so the CSV is spooled
    aside (to disk past SPOOL_MAX_BYTES) and copied in after the JSON."""
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES, mode="w+b") as csv_spool:
        csv_out = io.TextIOWrapper(csv_spool, encoding="utf-8", newline="")
        writer = csv.writer(csv_out)
        writer.writerow(fields)
        with archive.open(f"{name}.json", "w", force_zip64=True) as json_raw:
            json_out = io.TextIOWrapper(json_raw, encoding="utf-8", newline="")
            json_out.write("[")
            separator = "\n"
            for as_json, cells in rows:
                json_out.write(separator)
                json_out.write(as_json)
                writer.writerow(cells)
                separator = ",\n"
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


# --- The exact boundary: the ids of the exported rows ------------------------------------
_INTEGER_KEYS = {"AutoField", "BigAutoField", "SmallAutoField", "IntegerField", "BigIntegerField"}


def key_column(model: type[Model]) -> str:
    """The PurgeExportedRow column that holds `model`'s primary keys."""
    kind = model._meta.pk.get_internal_type()
    if kind in _INTEGER_KEYS:
        return "object_int"
    if kind == "UUIDField":
        return "object_uuid"
    raise TypeError(f"{model._meta.label}: purges record integer or uuid primary keys, not {kind}")


def _db_value(model: type[Model], field: str, value: object) -> object:
    return model._meta.get_field(field).get_db_prep_value(value, connection)


def record_exported_ids(*, purge, export_id: uuid.UUID, name: str, rows: QuerySet) -> int:
    """Record the ids of `rows` as exported by this build, in one INSERT …
    SELECT; return how many."""
    from admin_ops.models import PurgeExportedRow

    sql, params = rows.order_by().values_list("pk").query.sql_with_params()
    table = connection.ops.quote_name(PurgeExportedRow._meta.db_table)
    column = connection.ops.quote_name(key_column(rows.model))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (purge_id, export_id, entity, {column}) SELECT %s, %s, %s, x.* FROM ({sql}) x",  # noqa: S608 (compiled ORM SQL, identifiers quoted)
            [
                _db_value(PurgeExportedRow, "purge", purge.pk),
                _db_value(PurgeExportedRow, "export_id", export_id),
                name,
                *params,
            ],
        )
        return cursor.rowcount


def exported_ids(*, purge_id, export_id, name: str) -> QuerySet:
    """The recorded rows of one entity of one build (`PurgeExportedRow`s)."""
    from admin_ops.models import PurgeExportedRow

    return PurgeExportedRow.objects.filter(purge_id=purge_id, export_id=export_id, entity=name)


def forget_exported_ids(*, purge_id, export_id: uuid.UUID | None = None) -> int:
    """Drop the recorded ids of a purge (of one build only, with `export_id`)."""
    from admin_ops.models import PurgeExportedRow

    rows = PurgeExportedRow.objects.filter(purge_id=purge_id)
    if export_id is not None:
        rows = rows.filter(export_id=export_id)
    deleted, _ = rows.delete()
    return deleted


@contextlib.contextmanager
def _one_snapshot():
    """One transaction and, on PostgreSQL, one snapshot (REPEATABLE READ) for
    recording the ids and reading every row: a row committed meanwhile is in
    neither. Only when this opens the transaction: an isolation level can only
    be set before its first query (inside a caller's transaction — the tests —
    that transaction's own level holds)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def build_export(*, purge, cutoff: dt.datetime, now: dt.datetime, export_id: uuid.UUID) -> tuple[str, dict[str, int]]:
    """Write the export ZIP of `purge`'s scope (rows created up to `cutoff`) to
    the private store and record the ids of its rows under `export_id`; return
    (key, row counts per entity). The ids are committed before the file is
    stored; a caller whose build is not kept calls `forget_exported_ids`."""
    counts: dict[str, int] = {}
    cascaded: dict[str, int] = {}
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_BYTES) as spool:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive, _one_snapshot():
            for name in purge_registry.ordered(purge.scope.get("entities") or []):
                fields = purge_registry.export_fields(name)
                rows = purge_registry.selection(name, team_id=purge.team_id, scope=purge.scope, cutoff=cutoff)
                recorded = record_exported_ids(purge=purge, export_id=export_id, name=name, rows=rows)
                # the same query in the same snapshot: the rows written are the ids recorded
                counts[name] = _write_entity(archive, name, _rows_as_text(rows, fields), fields)
                if counts[name] != recorded:
                    raise RuntimeError(f"{name}: {counts[name]} rows exported but {recorded} recorded")
                for child, fk in cascaded_children(name):
                    # rows the database deletes with these (CASCADE): exported too, so the
                    # export holds everything the purge removes
                    member = f"{name}.{child._meta.label}"
                    child_fields = [f.attname for f in child._meta.concrete_fields if f.name != "search_vector"]
                    child_rows = child._default_manager.filter(**{f"{fk}__in": rows.values("pk")})
                    cascaded[member] = _write_entity(
                        archive, member, _rows_as_text(child_rows, child_fields), child_fields
                    )
            manifest = {
                "purge_id": str(purge.pk),
                "export_id": str(export_id),
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
