"""Extended statistics on the recorded ids of purge exports (PostgreSQL only).

A purge's batches select its recorded ids by (purge, export build, entity).
The three are perfectly correlated (an export build belongs to one purge), but
the planner multiplies their selectivities as if they were independent: with
30 purges' ids in the table it expected 3,400 of a purge's 100,000 ids and
planned the DELETE as one primary-key probe per id. Functional-dependency
statistics let ANALYZE tell it otherwise."""

from django.db import migrations

STATISTICS = "admin_ops_purge_exported_deps"
TABLE = "admin_ops_purgeexportedrow"


def create_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (dependencies) ON purge_id, export_id, entity FROM {TABLE}"
        )
        schema_editor.execute(f"ANALYZE {TABLE}")


def drop_statistics(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")


class Migration(migrations.Migration):
    dependencies = [
        ("admin_ops", "0007_platform_owns_audit_and_jobs"),
    ]

    operations = [migrations.RunPython(create_statistics, drop_statistics)]
