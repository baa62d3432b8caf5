"""What a purge may delete, and how a purge's scope selects rows (DESIGN §8).

The purgeable entities are declared by the apps that own them, each in its own
`purgeable.py` (`deelrx.purgeable`: credit's accounts and transactions, the knowledge
base's articles and uploads, tenancy's customers; admin operations' own activity
events here in `admin_ops/purgeable.py`), so this module imports none of them. An
entity names its model, the date field the scope's `date_range` applies to, the
criteria it understands, the parent whose selection pulls its rows in, what must be
purged with it, and a rule on the rows about to go (e.g. only closed credit
accounts). `deletion_order()` deletes children before parents so that PROTECT
foreign keys never fire.

Safety rules (validated when a purge is requested and re-checked before it
executes):
- an entity's `requires` (and the entities `required_by` it) are in the scope;
- the entities' own rules hold for the rows in scope (`check`, e.g. 422
  `account_not_closed`);
- activity events of purges themselves (`admin_ops.purge.*`) are never purged: the audit
  trail of a deletion must survive it;
- a purge deletes only the rows its export recorded (`PurgeExportedRow`), less
  mutable rows changed after the export was built (`progress.cutoff`);
- criteria are conjunctive: an entity that cannot apply one of the given
  criteria is selected only through its parent (or not at all).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from deelrx.errors import ValidationFailed
from deelrx.inputs import parse_id
from deelrx.purgeable import ENTITIES, PurgeableEntity, deletion_order

__all__ = ["ENTITIES", "PurgeableEntity", "deletion_order"]

BATCH_SIZE = 500  # rows per batch where the ORM's collector deletes them (it loads rows to cascade)
# rows per batch of an entity deleted by one DELETE statement (nothing depends on it): activity
# events are append-only, so holding their row locks a little longer blocks nobody. Besides its
# DELETE a batch costs five round trips and a commit (lock, planner settings, next keys, progress):
# on a busy machine a 100,000-event purge took 2.2 s in batches of 25,000 and 1.1 s in one (one
# DELETE of the same rows 0.46 s; medians of five, bench_purge_execute's data)
SET_BATCH_SIZE = 100_000
PURGE_EVENT_PREFIX = "admin_ops.purge."
CRITERIA = ("customer_id", "user_id", "status")


def available_entities() -> list[PurgeableEntity]:
    """The registered entities, in deletion order."""
    return [ENTITIES[name] for name in deletion_order()]


def needed_with(name: str) -> list[str]:
    """The entities a purge of `name` must also include: its own `requires` and those
    declaring themselves `required_by` it (registered ones only)."""
    spec = ENTITIES[name]
    needed = [r for r in spec.requires if r in ENTITIES]
    needed += [other.name for other in ENTITIES.values() if name in other.required_by and other.name not in needed]
    return needed


def scope_help() -> str:
    """What each entity's purge means and what it needs, in the registry's words (the
    request form's help text): one rule, whatever the apps register."""
    lines = []
    for spec in available_entities():
        parts = [spec.help] if spec.help else []
        needed = needed_with(spec.name)
        if needed:
            parts.append("needs " + " and ".join(ENTITIES[n].verbose.lower() for n in needed) + " in the same purge")
        if parts:
            lines.append(f"{spec.verbose}: {'; '.join(parts)}.")
    return " ".join(lines)


def ordered(entities) -> list[str]:
    return [name for name in deletion_order() if name in set(entities)]


# --- Validation ------------------------------------------------------------------------
def _parse_bound(value, *, end: bool) -> dt.datetime | None:
    """ISO date or datetime. A bare date as `to` means the end of that day."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError
    parsed = parse_datetime(value)
    if parsed is not None:
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, dt.UTC)
    day = parse_date(value)
    if day is None:
        raise ValueError
    if end:
        day = day + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def validate_scope(scope) -> dict:
    """Check a scope's shape and the dependency rules; return it normalised.

    Raises ValidationFailed with details keyed by field path
    ("scope.entities", "scope.date_range.from", "scope.criteria.user_id", …).
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(scope, dict):
        raise ValidationFailed(details={"scope": ["Must be an object with entities, date_range and criteria."]})
    unknown_keys = sorted(set(scope) - {"entities", "date_range", "criteria"})
    if unknown_keys:
        errors["scope"] = [f"Unknown keys: {', '.join(unknown_keys)}."]

    entities = scope.get("entities")
    names: list[str] = []
    if not isinstance(entities, list) or not entities or not all(isinstance(e, str) for e in entities):
        errors["scope.entities"] = ["Choose at least one entity."]
    else:
        unknown = sorted({e for e in entities if e not in ENTITIES})
        if unknown:
            errors["scope.entities"] = [
                f"Unknown entities: {', '.join(unknown)}. Choose from: {', '.join(deletion_order())}."
            ]
        else:
            names = ordered(entities)
            for name in names:
                for message in _missing_requirements(name, names):
                    errors.setdefault("scope.entities", []).append(message)

    date_range = scope.get("date_range") or {}
    bounds: dict[str, dt.datetime | None] = {"from": None, "to": None}
    if not isinstance(date_range, dict):
        errors["scope.date_range"] = ["Must be an object with optional 'from' and 'to'."]
    else:
        for key in sorted(set(date_range) - {"from", "to"}):
            errors.setdefault("scope.date_range", []).append(f"Unknown key '{key}'.")
        for key in ("from", "to"):
            try:
                bounds[key] = _parse_bound(date_range.get(key), end=key == "to")
            except ValueError:
                errors[f"scope.date_range.{key}"] = ["Enter an ISO 8601 date or date-time."]
        if bounds["from"] and bounds["to"] and bounds["from"] >= bounds["to"]:
            errors["scope.date_range.to"] = ["Must be after 'from'."]

    criteria = scope.get("criteria") or {}
    clean_criteria: dict = {}
    if not isinstance(criteria, dict):
        errors["scope.criteria"] = ["Must be an object."]
    else:
        for key, value in criteria.items():
            path = f"scope.criteria.{key}"
            if key not in CRITERIA:
                errors[path] = [f"Unknown criterion. Use one of: {', '.join(CRITERIA)}."]
                continue
            if names and not any(key in ENTITIES[n].criteria for n in names):
                errors[path] = ["Does not apply to any selected entity."]
                continue
            if key == "customer_id":
                try:
                    clean_criteria[key] = str(uuid.UUID(str(value)))
                except ValueError:
                    errors[path] = ["Must be a customer uuid."]
            elif key == "user_id":
                user_id = parse_id(value)
                if user_id is None:
                    errors[path] = ["Must be an integer user id."]
                else:
                    clean_criteria[key] = user_id
            elif key == "status":
                allowed = sorted({s for n in names for s in ENTITIES[n].statuses})
                if not isinstance(value, str) or (allowed and value not in allowed):
                    errors[path] = [f"Must be one of: {', '.join(allowed)}."]
                else:
                    clean_criteria[key] = value
    if errors:
        raise ValidationFailed("The purge scope is invalid.", details=errors)
    return {
        "entities": names,
        "date_range": {k: v for k, v in (date_range or {}).items() if v not in (None, "")},
        "criteria": clean_criteria,
    }


def _missing_requirements(name: str, names: list[str]) -> list[str]:
    """Why `name` cannot be purged without more entities: its own `requires`, and the
    entities that declare themselves `required_by` it (a required entity that is not
    registered — its app is not installed — cannot hold rows). One message per reason."""
    spec = ENTITIES[name]
    reasons: dict[str, list[str]] = {}  # message template → the missing entities it names
    own = [r for r in spec.requires if r not in names and r in ENTITIES]
    if own:
        reasons.setdefault(spec.requires_message or f"{name} requires {{missing}}.", []).extend(own)
    for other in ENTITIES.values():
        if name in other.required_by and other.name not in names:
            reasons.setdefault(other.required_by_message or f"{name} requires {{missing}}.", []).append(other.name)
    return [message.format(missing=", ".join(missing)) for message, missing in reasons.items()]


# --- Selection -------------------------------------------------------------------------
def _bounds(scope: dict) -> tuple[dt.datetime | None, dt.datetime | None]:
    date_range = scope.get("date_range") or {}
    return _parse_bound(date_range.get("from"), end=False), _parse_bound(date_range.get("to"), end=True)


def selection(name: str, *, team_id: int, scope: dict, cutoff: dt.datetime | None = None) -> QuerySet:
    """The rows of `name` that the scope selects in the team, as a queryset.

    Own selection (date range on `date_field` + criteria) OR a selected parent;
    always restricted to the team and to rows created (and, if mutable, last
    changed) up to `cutoff`.
    """
    spec = ENTITIES[name]
    model = spec.model
    names = scope.get("entities") or []
    base = model._default_manager.filter(**{f"{spec.team_lookup}_id": team_id})
    if cutoff is not None and spec.date_field:
        base = base.filter(**{f"{spec.date_field}__lte": cutoff})
    if cutoff is not None and spec.updated_field:
        # changed since the export: it may match now without having been exported, so
        # it is not deleted (the safe side: a purge deletes only what it exported)
        base = base.filter(**{f"{spec.updated_field}__lte": cutoff})
    if spec.exclude is not None:
        base = base.exclude(spec.exclude)

    criteria = scope.get("criteria") or {}
    # Criteria narrow the purge. An entity that cannot apply one of them (uploads have
    # no status) is selected only through its parent, never by date alone: "archived
    # articles and their uploads" must not take every upload of the period with it.
    own_selection = spec.own_selection and all(key in spec.criteria for key in criteria)
    condition = Q(pk__in=[]) if not own_selection else Q()
    if own_selection:
        start, end = _bounds(scope)
        if spec.date_field and start:
            condition &= Q(**{f"{spec.date_field}__gte": start})
        if spec.date_field and end:
            condition &= Q(**{f"{spec.date_field}__lt": end})
        for key, value in criteria.items():
            condition &= Q(**{spec.criteria[key]: value})
    if spec.parent and spec.parent[0] in names:
        parent_name, lookup = spec.parent
        parent_ids = selection(parent_name, team_id=team_id, scope=scope, cutoff=cutoff).values("pk")
        condition |= Q(**{f"{lookup}__in": parent_ids})
    return base.filter(condition)


def check_business_rules(
    *,
    team_id: int,
    scope: dict,
    cutoff: dt.datetime | None = None,
    rows_of: Callable[[str], QuerySet] | None = None,
) -> None:
    """Rules that depend on the data, declared by the entities (`check`, e.g. only
    closed credit accounts are purged): each raises BusinessRuleViolation to refuse.
    `rows_of(name)`: the rows to check instead of the scope's selection (at
    execution: those the export recorded)."""
    for name in ordered(scope.get("entities") or []):
        spec = ENTITIES[name]
        if spec.check is None:
            continue
        rows = rows_of(name) if rows_of is not None else selection(name, team_id=team_id, scope=scope, cutoff=cutoff)
        spec.check(rows)


def export_fields(name: str) -> list[str]:
    spec = ENTITIES[name]
    return [f.attname for f in spec.model._meta.concrete_fields if f.name not in spec.export_exclude]
