"""audit 0002: stored events take the registry's names, and back again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext

BEFORE = ("audit", "0001_initial")
AFTER = ("audit", "0002_event_types_one_scheme")

OLD_TO_NEW = {
    "team.created": "tenancy.team.created",
    "membership.added": "tenancy.membership.added",
    "membership.suspended": "tenancy.membership.suspended",
    "customer.created": "tenancy.customer.created",
    "customer.deleted": "tenancy.customer.deleted",
    "purge.operation.requested": "admin_ops.purge.requested",
    "purge.operation.export_ready": "admin_ops.purge.export_ready",
    "admin_ops.job.run_requested": "job.run.requested",
    # already in the scheme: untouched
    "credit.transaction.created": "credit.transaction.created",
    "kb.article.published": "kb.article.published",
    "admin_ops.blob.deleted": "admin_ops.blob.deleted",
    "admin.team.changed": "admin.team.changed",
    # looks alike, is not one of the renamed: untouched
    "customers.imported": "customers.imported",
    "admin_ops.job.other": "admin_ops.job.other",
}


def _migrate(target) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor


def _types(executor, state) -> dict[int, str]:
    model = executor.loader.project_state(state).apps.get_model("audit", "ActivityEvent")
    return dict(model.objects.values_list("pk", "event_type"))


@pytest.mark.django_db(transaction=True)
def test_forwards_renames_old_names_and_backwards_restores_them():
    executor = _migrate(BEFORE)
    try:
        model = executor.loader.project_state(BEFORE).apps.get_model("audit", "ActivityEvent")
        rows = {model.objects.create(event_type=old, event_data={"n": i}).pk: old for i, old in enumerate(OLD_TO_NEW)}

        with CaptureQueriesContext(connection) as forwards:
            executor = _migrate(AFTER)
        after = _types(executor, AFTER)
        assert after == {pk: OLD_TO_NEW[old] for pk, old in rows.items()}
        # one set-based statement, no row read into Python
        updates = [q["sql"] for q in forwards.captured_queries if q["sql"].startswith("UPDATE")]
        assert len(updates) == 1
        assert not [q for q in forwards.captured_queries if 'FROM "admin_ops_activityevent"' in q["sql"]]

        executor = _migrate(BEFORE)
        assert _types(executor, BEFORE) == rows
    finally:
        _migrate(AFTER)
