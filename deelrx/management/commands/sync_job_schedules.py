from django.core.management.base import BaseCommand

from deelrx.jobs import sync_job_schedules


class Command(BaseCommand):
    help = "Create the beat schedule rows of every job (existing rows are kept unless --reset)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reset", action="store_true", help="Overwrite operators' edits with the defaults from code."
        )

    def handle(self, *args, reset=False, **options):
        changed = sync_job_schedules(reset=reset)
        self.stdout.write(
            self.style.SUCCESS(f"Schedules {'reset' if reset else 'created'}: {', '.join(changed) or 'none'}")
        )
