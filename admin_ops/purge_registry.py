"""What a purge may delete, and how a purge's scope selects rows (DESIGN §8).

Each purgeable entity names its model (resolved lazily: the credit and KB
models live in other apps), the date field the scope's `date_range` applies
to, the criteria it understands and, for child rows, the parent entity whose
selection pulls them in. `DELETION_ORDER` deletes children before parents so
that PROTECT foreign keys never fire: credit transactions before credit
accounts before customers, uploads before articles.

Safety rules (validated when a purge is requested and re-checked before it
executes):
- credit_transactions and credit_accounts go together. Deleting transactions
  alone would break the ledger invariant (balance = sum of transactions), so
  transactions are never selected by their own date: a purge deletes the whole
  ledger of every account it deletes.
- customers require credit_accounts + credit_transactions in the scope
  (CreditAccount.customer is PROTECT); the accounts of selected customers are
  selected with them.
- only `closed` credit accounts may be purged (closing needs a zero balance),
  so a purge never destroys money owed: otherwise 422 `account_not_closed`.
- kb_uploads of selected kb_articles are selected with them; their files are
  deleted from their store after the rows are gone.
- activity events of purges themselves (`admin_ops.purge.*`) are never purged: the audit
  trail of a deletion must survive it.
- a purge deletes only the rows its export recorded (`PurgeExportedRow`), less
  mutable rows changed after the export was built (`progress.cutoff`).
- criteria are conjunctive: an entity that cannot apply one of the given
  criteria is selected only through its parent (or not at all).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from django.apps import apps
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from deelrx.errors import BusinessRuleViolation, ValidationFailed
from deelrx.inputs import parse_id

BATCH_SIZE = 500  # rows per batch where the ORM's collector deletes them (it loads rows to cascade)
# rows per batch of an entity deleted by one DELETE statement (nothing depends on it): activity
# events are append-only, so holding their row locks a little longer blocks nobody
SET_BATCH_SIZE = 25_000
PURGE_EVENT_PREFIX = "admin_ops.purge."


@dataclass(frozen=True)
class PurgeableEntity:
    name: str
    label: str  # "app_label.ModelName"
    verbose: str
    team_lookup: str = "team"
    date_field: str | None = "created_at"
    # criteria name → ORM lookup on this model
    criteria: dict[str, str] = field(default_factory=dict)
    # (parent entity, lookup from this model to the parent's pk): rows whose
    # parent is selected are selected too
    parent: tuple[str, str] | None = None
    # False: selected only through the parent (never by their own date/criteria)
    own_selection: bool = True
    file_fields: tuple[str, str] | None = None  # (store field, key field)
    requires: tuple[str, ...] = ()
    export_exclude: tuple[str, ...] = ("search_vector",)
    statuses: tuple[str, ...] = ()
    # auto_now field of mutable rows: one changed after the export may now match the
    # scope (an article archived since) without being in the export
    updated_field: str | None = None

    @property
    def available(self) -> bool:
        try:
            apps.get_model(self.label)
        except LookupError:
            return False
        return True

    @property
    def model(self) -> type[Model]:
        return apps.get_model(self.label)


ENTITIES: dict[str, PurgeableEntity] = {
    e.name: e
    for e in [
        PurgeableEntity(
            "customers",
            "tenancy.Customer",
            "Customers",
            criteria={"customer_id": "pk"},
            requires=("credit_accounts", "credit_transactions"),
            updated_field="updated_at",
        ),
        PurgeableEntity(
            "credit_accounts",
            "credit.CreditAccount",
            "Credit accounts",
            criteria={"customer_id": "customer_id", "status": "status"},
            parent=("customers", "customer_id"),
            requires=("credit_transactions",),
            statuses=("active", "suspended", "defaulted", "closed"),
            updated_field="updated_at",
        ),
        PurgeableEntity(
            "credit_transactions",
            "credit.CreditTransaction",
            "Credit transactions",
            parent=("credit_accounts", "account_id"),
            own_selection=False,
            requires=("credit_accounts",),
            updated_field="updated_at",
        ),
        PurgeableEntity(
            "kb_articles",
            "knowledge_base.KbArticle",
            "Knowledge-base articles",
            criteria={"user_id": "author_id", "status": "status"},
            statuses=("draft", "review", "published", "archived"),
            updated_field="updated_at",
        ),
        PurgeableEntity(
            "kb_uploads",
            "knowledge_base.KbUpload",
            "Knowledge-base uploads (and their files)",
            criteria={"user_id": "uploaded_by_id"},
            parent=("kb_articles", "article_id"),
            file_fields=("store", "key"),
        ),
        PurgeableEntity(
            "activity_events",
            "audit.ActivityEvent",
            "Activity log events",
            criteria={"user_id": "user_id"},
        ),
    ]
}

# Children first: PROTECT foreign keys (transaction → account → customer) never fire.
DELETION_ORDER: tuple[str, ...] = (
    "credit_transactions",
    "credit_accounts",
    "customers",
    "kb_uploads",
    "kb_articles",
    "activity_events",
)
CRITERIA = ("customer_id", "user_id", "status")


def available_entities() -> list[PurgeableEntity]:
    return [ENTITIES[name] for name in DELETION_ORDER if ENTITIES[name].available]


def ordered(entities) -> list[str]:
    return [name for name in DELETION_ORDER if name in set(entities)]


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
        unavailable = sorted({e for e in entities if e in ENTITIES and not ENTITIES[e].available})
        if unknown:
            errors["scope.entities"] = [
                f"Unknown entities: {', '.join(unknown)}. Choose from: {', '.join(DELETION_ORDER)}."
            ]
        elif unavailable:
            errors["scope.entities"] = [f"Not available in this installation: {', '.join(unavailable)}."]
        else:
            names = ordered(entities)
            for name in names:
                # a required entity whose app is not installed cannot hold rows
                missing = [r for r in ENTITIES[name].requires if r not in names and ENTITIES[r].available]
                if missing:
                    errors.setdefault("scope.entities", []).append(_requires_message(name, missing))

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


def _requires_message(name: str, missing: list[str]) -> str:
    if name == "customers":
        return (
            "Purging customers also deletes their credit records (a customer with a credit account cannot be "
            f"deleted on its own): add {', '.join(missing)}."
        )
    if name == "credit_transactions":
        return (
            "Credit transactions are purged only with their accounts (a partial ledger is invalid): "
            "add credit_accounts."
        )
    return f"{name} requires {', '.join(missing)}."


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
    if name == "activity_events":
        base = base.exclude(event_type__startswith=PURGE_EVENT_PREFIX)

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
    *, team_id: int, scope: dict, cutoff: dt.datetime | None = None, accounts: QuerySet | None = None
) -> None:
    """Rules that depend on the data: only closed credit accounts are purged.
    `accounts`: the accounts to check instead of the scope's selection (at
    execution: those the export recorded)."""
    if "credit_accounts" not in (scope.get("entities") or []) or not ENTITIES["credit_accounts"].available:
        return
    if accounts is None:
        accounts = selection("credit_accounts", team_id=team_id, scope=scope, cutoff=cutoff)
    open_accounts = accounts.exclude(status="closed")
    sample = [str(pk) for pk in open_accounts.values_list("pk", flat=True)[:20]]
    if sample:
        raise BusinessRuleViolation(
            "Only closed credit accounts can be purged; close these accounts (zero balance) first.",
            code="account_not_closed",
            details={"scope.entities": [f"Credit accounts in scope that are not closed: {', '.join(sample)}."]},
        )


def export_fields(name: str) -> list[str]:
    spec = ENTITIES[name]
    return [f.attname for f in spec.model._meta.concrete_fields if f.name not in spec.export_exclude]
