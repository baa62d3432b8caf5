"""deelrx.purgeable: each app declares what a purge may delete of its data;
admin operations reads the registry and imports none of them."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
from django.core.exceptions import ImproperlyConfigured

from admin_ops import purge_registry
from deelrx import purgeable
from deelrx.errors import ValidationFailed
from deelrx.purgeable import PurgeableEntity, register_purgeable_entity


@pytest.fixture
def registry():
    """The registry, put back as the apps registered it after the test."""
    saved = dict(purgeable.ENTITIES)
    yield purgeable.ENTITIES
    purgeable.ENTITIES.clear()
    purgeable.ENTITIES.update(saved)


def test_each_app_registers_its_own_entities():
    declared_in = {
        "customers": "deelrx.tenancy.purgeable",
        "credit_accounts": "credit.purgeable",
        "credit_transactions": "credit.purgeable",
        "kb_articles": "knowledge_base.purgeable",
        "kb_uploads": "knowledge_base.purgeable",
        "activity_events": "admin_ops.purgeable",
    }
    assert set(purgeable.ENTITIES) == set(declared_in)
    for name, module in declared_in.items():
        assert purgeable.ENTITIES[name] in _declared(importlib.import_module(module)), name


def _declared(module) -> list[PurgeableEntity]:
    return [v for value in vars(module).values() for v in (value if isinstance(value, list) else [value])]


def test_admin_ops_reads_the_same_registry():
    assert purge_registry.ENTITIES is purgeable.ENTITIES


def test_children_are_deleted_before_their_parents():
    assert purge_registry.deletion_order() == (
        "credit_transactions",
        "credit_accounts",
        "customers",
        "kb_uploads",
        "kb_articles",
        "activity_events",
    )
    order = purge_registry.deletion_order()
    for entity in purgeable.ENTITIES.values():
        if entity.parent:
            assert order.index(entity.name) < order.index(entity.parent[0])


def test_a_child_ordered_after_its_parent_is_refused(registry):
    with pytest.raises(ImproperlyConfigured, match="before its parent 'customers'"):
        register_purgeable_entity(
            PurgeableEntity("notes", "tenancy.Customer", "Notes", order=95, parent=("customers", "id"))
        )
    # whichever registers first
    orphans = PurgeableEntity("orphans", "tenancy.Customer", "Orphans", order=99, parent=("pets", "id"))
    register_purgeable_entity(orphans)
    with pytest.raises(ImproperlyConfigured, match="'orphans' must be deleted before its parent 'pets'"):
        register_purgeable_entity(PurgeableEntity("pets", "tenancy.Customer", "Pets", order=5))


def test_registering_again_is_a_no_op_and_a_different_declaration_is_refused(registry):
    customers = registry["customers"]
    register_purgeable_entity(customers)
    assert registry["customers"] is customers
    with pytest.raises(ImproperlyConfigured, match="twice"):
        register_purgeable_entity(PurgeableEntity("customers", "tenancy.Customer", "Clients", order=30))


def test_requirements_come_from_the_entities_that_declare_them():
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope({"entities": ["customers"]})
    assert exc.value.details["scope.entities"] == [
        "Purging customers also deletes their credit records (a customer with a credit account cannot be deleted "
        "on its own): add credit_accounts, credit_transactions."
    ]
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope({"entities": ["customers", "credit_accounts"]})
    assert exc.value.details["scope.entities"] == [
        "credit_accounts requires credit_transactions.",
        "Purging customers also deletes their credit records (a customer with a credit account cannot be deleted "
        "on its own): add credit_transactions.",
    ]


def test_a_requirement_whose_app_is_not_installed_is_not_asked_for(registry):
    for name in ("credit_accounts", "credit_transactions"):
        del registry[name]
    assert purge_registry.validate_scope({"entities": ["customers"]})["entities"] == ["customers"]
    with pytest.raises(ValidationFailed) as exc:
        purge_registry.validate_scope({"entities": ["credit_accounts"]})
    assert exc.value.details["scope.entities"][0].startswith("Unknown entities: credit_accounts.")


def test_an_entitys_rule_judges_the_rows_in_scope(registry):
    seen = []
    registry["kb_articles"] = dataclasses.replace(registry["kb_articles"], check=seen.append)
    purge_registry.check_business_rules(team_id=1, scope={"entities": ["kb_articles"]}, rows_of=lambda name: name)
    assert seen == ["kb_articles"]
