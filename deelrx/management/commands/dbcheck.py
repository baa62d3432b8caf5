from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor


class Command(BaseCommand):
    help = "Check database connectivity and report unapplied migrations (exit 1 on either problem)."

    def handle(self, *args, **options):
        connection = connections[DEFAULT_DB_ALIAS]
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except Exception as exc:
            raise CommandError(f"Database unreachable ({connection.vendor}): {exc}") from exc
        self.stdout.write(f"Database reachable: {connection.vendor} {connection.settings_dict.get('NAME')}")
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            for migration, _backwards in plan:
                self.stdout.write(f"  unapplied: {migration.app_label}.{migration.name}")
            raise CommandError(f"{len(plan)} unapplied migration(s); run manage.py migrate.")
        self.stdout.write(self.style.SUCCESS("All migrations applied."))
