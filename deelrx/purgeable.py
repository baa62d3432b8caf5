"""Purgeable entities (DESIGN §8, §12): each app declares what a purge may
delete of its data, from its own `purgeable.py` registered in its
AppConfig.ready, and admin operations validates, exports and deletes them
(`admin_ops.purge_registry`) without importing the apps, as retention hooks do.

An entity names its model ("app_label.Model", resolved lazily), the date field
a scope's `date_range` applies to, the criteria it understands and, for child
rows, the parent entity whose selection pulls them in. `order` places it in
the deletion order: children before parents (lower first), so that PROTECT
foreign keys never fire.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, Q, QuerySet


@dataclass(frozen=True)
class PurgeableEntity:
    name: str
    label: str  # "app_label.ModelName"
    verbose: str
    order: int  # deletion order: lower first; a child's is lower than its parent's
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
    # deletes everything stored for one row, given its (store, key) — e.g. an upload's older
    # versions and thumbnails too; None: the one object at the key
    delete_files: Callable[[str, str], None] | None = None
    # entities that must be in the same purge, and why ("{missing}": the absent ones)
    requires: tuple[str, ...] = ()
    requires_message: str = ""
    # entities that cannot be purged without this one (its rows PROTECT theirs), and why
    required_by: tuple[str, ...] = ()
    required_by_message: str = ""
    export_exclude: tuple[str, ...] = ("search_vector",)
    statuses: tuple[str, ...] = ()
    # auto_now field of mutable rows: one changed after the export may now match the
    # scope (an article archived since) without being in the export
    updated_field: str | None = None
    # what a purge of it means, in a sentence for the request form ("only closed accounts")
    help: str = ""
    # rows never purged (e.g. the purges' own audit events)
    exclude: Q | None = None
    # a rule on the rows a purge is about to delete: raises BusinessRuleViolation to refuse
    check: Callable[[QuerySet], None] | None = None

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


# name → entity, in registration order; admin_ops reads it as `purge_registry.ENTITIES`
ENTITIES: dict[str, PurgeableEntity] = {}


def register_purgeable_entity(entity: PurgeableEntity) -> None:
    """Declare an entity (again: a no-op). A child must come before its parent in
    the deletion order, whichever registers first."""
    known = ENTITIES.get(entity.name)
    if known is not None and known != entity:
        raise ImproperlyConfigured(f"Purgeable entity {entity.name!r} is registered twice.")
    pairs = [(entity, ENTITIES[entity.parent[0]])] if entity.parent and entity.parent[0] in ENTITIES else []
    pairs += [(child, entity) for child in ENTITIES.values() if child.parent and child.parent[0] == entity.name]
    for child, parent in pairs:
        if child.order >= parent.order:
            raise ImproperlyConfigured(
                f"Purgeable entity {child.name!r} must be deleted before its parent {parent.name!r}: "
                f"give it a lower order than {parent.order}."
            )
    ENTITIES[entity.name] = entity


def deletion_order() -> tuple[str, ...]:
    """Every registered entity, children before parents."""
    return tuple(sorted(ENTITIES, key=lambda name: (ENTITIES[name].order, name)))
