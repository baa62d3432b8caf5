from django.core.management.base import BaseCommand, CommandError

from deelrx.jobs import JOB_SPECS, JobNotImplemented, execute_job, job_status_rows, load_jobs


class Command(BaseCommand):
    help = "List the background jobs with their last and next run, or run one now: run_job NAME [--dry-run]."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="Job name; omit to list the jobs.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would change, change nothing (jobs that support it)."
        )
        parser.add_argument("--since", help="YYYY-MM-DD: (re)compute every day from this one (jobs that support it).")
        parser.add_argument("--today", help="YYYY-MM-DD: run as of this day (jobs that support it).")

    def handle(self, *args, name=None, dry_run=False, **options):
        if not name:
            return self.list_jobs()
        registry = load_jobs()
        if name not in JOB_SPECS:
            raise CommandError(f"Unknown job {name!r}. Known jobs: {', '.join(JOB_SPECS)}")
        kwargs = {}
        if dry_run:
            if "dry_run" not in registry[name].options:
                raise CommandError(f"{name} does not support --dry-run.")
            kwargs["dry_run"] = True
        for option in ("since", "today"):
            if options.get(option):
                if option not in registry[name].options:
                    raise CommandError(f"{name} does not support --{option}.")
                kwargs[option] = options[option]
        self.stdout.write(f"Running {name}{' (dry run)' if dry_run else ''}…")
        try:
            summary = execute_job(name, trigger="manual", **kwargs)
        except JobNotImplemented as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:
            raise CommandError(f"{name} failed: {exc.__class__.__name__}: {exc}") from exc
        self.stdout.write(self.style.SUCCESS(f"{name} finished: {summary}"))

    def list_jobs(self):
        rows = job_status_rows()
        self.stdout.write(f"{'JOB':<26} {'SCHEDULE (cron)':<18} {'LAST RUN':<32} NEXT RUN")
        for row in rows:
            last = row["last_run"]
            dry = " (dry run)" if last and last.dry_run else ""
            last_text = f"{last.started_at:%Y-%m-%d %H:%M} {last.status}{dry}" if last else "never"
            self.stdout.write(
                f"{row['name']:<26} {row['schedule']:<18} {last_text:<32} {row['next_run']:%Y-%m-%d %H:%M} UTC"
                + ("" if row["enabled"] else " (disabled)")
            )
