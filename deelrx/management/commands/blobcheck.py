from django.core.management.base import BaseCommand, CommandError

from deelrx.health import check_store
from deelrx.storage import STORE_TYPES


class Command(BaseCommand):
    help = "Write, read back and delete a probe object in both stores (exit 1 if one fails)."

    def handle(self, *args, **options):
        failures = []
        for store in STORE_TYPES:
            try:
                backend = check_store(store)
            except Exception as exc:
                failures.append(store)
                self.stderr.write(self.style.ERROR(f"{store}: FAILED {exc.__class__.__name__}: {exc}"))
            else:
                self.stdout.write(self.style.SUCCESS(f"{store}: ok ({backend})"))
        if failures:
            raise CommandError(f"Store check failed: {', '.join(failures)}")
