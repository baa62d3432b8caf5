"""Lean single-row writes and reads for the hottest paths (docs/decisions.md, 27).

`Model.save()` compiles its INSERT or UPDATE on every call and sends the
model signals; on the charge path that was about a third of a request's
CPU. `insert` and `update` write the same columns with the same field
conversions (`pre_save` for `auto_now`/`auto_now_add`, `get_db_prep_save`)
through one SQL string built once per model and database alias. They send
no signals, so use them only for models that have no receivers (ledger rows,
accounts, audit events, idempotency records) and only where a profile shows
the ORM's cost; everywhere else `save()` is the rule.

`select_one` is the read of the same kind: the row every API request looks up
(its token with the user, the caller's membership with the team), with the
joined rows, by equality on a few columns, through SQL built once. It returns
model instances exactly as the ORM would (`Model.from_db`, the fields' own
converters, the related instance cached on the foreign key).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.db import connections
from django.db.models import ForeignKey, Model


@cache
def _insert_plan(model: type[Model], using: str, returning: bool) -> tuple[str, tuple]:
    quote = connections[using].ops.quote_name
    fields = tuple(f for f in model._meta.concrete_fields if not f.db_returning)
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (quoted identifiers and placeholders only)
        quote(model._meta.db_table),
        ", ".join(quote(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    if returning:
        sql += f" RETURNING {quote(model._meta.pk.column)}"
    return sql, fields


@cache
def _update_sql(model: type[Model], using: str, columns: tuple[str, ...]) -> str:
    quote = connections[using].ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s"  # noqa: S608 (quoted identifiers and placeholders only)


def insert(instance: Model, *, using: str = "default") -> Model:
    """INSERT the new instance as `instance.save(force_insert=True)` would."""
    connection = connections[using]
    model = type(instance)
    db_generated_pk = model._meta.pk.db_returning
    returning = db_generated_pk and connection.features.can_return_columns_from_insert
    sql, fields = _insert_plan(model, using, returning)
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection=connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if returning:
            instance.pk = cursor.fetchone()[0]
        elif db_generated_pk:
            instance.pk = connection.ops.last_insert_id(cursor, model._meta.db_table, model._meta.pk.column)
    instance._state.adding = False
    instance._state.db = using
    return instance


def update(instance: Model, fields: list[str] | tuple[str, ...], *, using: str = "default") -> None:
    """UPDATE the named fields of the instance, as `save(update_fields=...)` would
    (`auto_now` fields among them get the current time)."""
    connection = connections[using]
    model_fields = [instance._meta.get_field(name) for name in fields]
    sql = _update_sql(type(instance), using, tuple(f.column for f in model_fields))
    values = [f.get_db_prep_save(f.pre_save(instance, False), connection=connection) for f in model_fields]
    values.append(instance._meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


@contextmanager
def pipelined(*, enabled: bool = True, using: str = "default") -> Iterator[None]:
    """Send the statements inside without waiting for each answer (PostgreSQL's
    pipeline mode): they reach the server together, at the first read of a
    result or at the end of the block. The server still runs them in order and
    stops at the first error, which is raised there as Django's exception. Meant
    for the few writes made while a row lock is held: each round trip saved is
    time the lock is not held. Not for server-side cursors (`iterator()`), which
    pipeline mode refuses: pass `enabled=False` when the block may need one.
    Elsewhere (SQLite) the block runs as it is."""
    connection = connections[using]
    if not enabled or connection.vendor != "postgresql" or not _pipeline_supported():
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


@cache
def _pipeline_supported() -> bool:
    import psycopg

    return psycopg.Pipeline.is_supported()


@cache
def _row_layout(model: type[Model], using: str, alias: str) -> tuple[list[str], list[tuple]]:
    """The concrete fields' attnames and, per field, its column and database converters."""
    connection = connections[using]
    attnames, converters = [], []
    for f in model._meta.concrete_fields:
        col = f.get_col(alias)
        attnames.append(f.attname)
        converters.append((col, connection.ops.get_db_converters(col) + f.get_db_converters(connection)))
    return attnames, converters


def instance_from_row(model: type[Model], values, *, using: str = "default", alias: str = "t0") -> Model:
    """A model instance from the values of its concrete columns, in field order, as a
    queryset would build it (converters applied, `Model.from_db`)."""
    connection = connections[using]
    attnames, converters = _row_layout(model, using, alias)
    values = list(values)
    for index, (col, field_converters) in enumerate(converters):
        for converter in field_converters:
            values[index] = converter(values[index], col, connection)
    return model.from_db(using, attnames, values)


@cache
def _select_plan(model: type[Model], using: str, related: tuple[str, ...], where: tuple[str, ...]) -> tuple:
    connection = connections[using]
    quote = connection.ops.quote_name
    parts = [(model, "t0", None)]
    joins = []
    for name in related:
        field = model._meta.get_field(name)
        if not isinstance(field, ForeignKey) or field.null:
            raise ValueError(f"{model.__name__}.{name} is not a required foreign key: it cannot be joined")
        target = field.related_model
        alias = f"t{len(parts)}"
        joins.append(
            f" JOIN {quote(target._meta.db_table)} {alias}"
            f" ON {alias}.{quote(field.target_field.column)} = t0.{quote(field.column)}"
        )
        parts.append((target, alias, field))
    columns, layouts = [], []
    for part_model, alias, join_field in parts:
        fields = part_model._meta.concrete_fields
        columns += [f"{alias}.{quote(f.column)}" for f in fields]
        layouts.append((part_model, alias, join_field, len(fields)))
    where_fields = [model._meta.pk if name == "pk" else model._meta.get_field(name) for name in where]
    conditions = " AND ".join(f"t0.{quote(f.column)} = %s" for f in where_fields)
    sql = f"SELECT {', '.join(columns)} FROM {quote(model._meta.db_table)} t0{''.join(joins)} WHERE {conditions}"  # noqa: S608 (quoted identifiers and placeholders only)
    return sql + " LIMIT 1", where_fields, layouts


def select_one(model: type[Model], *, related: tuple[str, ...] = (), using: str = "default", **where) -> Model | None:
    """The first row with these field values (`select_one(Membership, related=("team",), user=1, team=2)`),
    as `Model.objects.select_related(*related).filter(**where).first()` without an order, or None."""
    connection = connections[using]
    sql, where_fields, layouts = _select_plan(model, using, related, tuple(where))
    params = [f.get_db_prep_value(value, connection) for f, value in zip(where_fields, where.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    instances, start = [], 0
    for part_model, alias, join_field, width in layouts:
        instance = instance_from_row(part_model, row[start : start + width], using=using, alias=alias)
        start += width
        if join_field is not None:
            join_field.set_cached_value(instances[0], instance)
        instances.append(instance)
    return instances[0]
