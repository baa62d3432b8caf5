"""The export a purge writes before deleting anything (admin_ops.services.
export.build_export: the ids recorded for execution, per entity `<entity>.json`
+ `<entity>.csv` streamed through a server-side cursor into a ZIP, manifest,
saved to the private store) over N activity events, against PostgreSQL's
fastest way out in the same run: `COPY (SELECT …) TO STDOUT` (psycopg's
`cursor.copy`) once as CSV and once as one JSON object a row, each written
straight into a ZIP member on disk.

N is 100,000 events at BENCH_SCALE=1 (the variable multiplies it); the data
is generated with INSERT … SELECT generate_series.

What is checked:
- time: at most 3x the COPY baseline (the ZIP's deflate is the same work on
  both sides; the service also records the exported ids and stores the file);
- memory stays flat: with the CSV/ZIP spools capped at 256 KiB (they hold up
  to 8 MiB each before spilling to disk), the peak traced memory of an export
  of N rows is at most 1.5x that of N/5 rows — it does not grow with the rows
  (judged when N/5 is at least 8,000 rows: smaller exports have not filled the
  cursor's fetches and buffers yet).

PostgreSQL only (COPY)."""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import uuid
import zipfile
from unittest import mock

from bench.bench_purge_execute import QuietLogs, insert_events, measure_alternately
from bench.harness import bench_scale, scale

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

BASE_ROWS = 100_000
TIME_TARGET = 3.0
SMALL_SPOOL = 256 * 1024
FLAT_MEMORY_TARGET = 1.5  # peak at N vs N/5, spools capped
# below this the smaller export has not filled the cursor's 2,000-row fetches and buffers yet
FLAT_MEMORY_MIN_ROWS = 8_000
REPEAT = 3
SCOPE = {"entities": ["activity_events"], "date_range": {"from": "2024-01-01", "to": "2024-12-31"}}


def main() -> bool:
    from django.db import connection
    from django.test import override_settings
    from django.utils import timezone

    from admin_ops import purge_registry
    from admin_ops.models import PurgeExportedRow, PurgeOperation
    from admin_ops.services import export
    from bench.harness import report
    from deelrx.tenancy.models import Team, User

    ActivityEvent = purge_registry.ENTITIES["activity_events"].model  # the purged model, wherever it lives

    if connection.vendor != "postgresql":
        print("## Purge export: skipped (the baseline is PostgreSQL's COPY; DATABASE_URL is SQLite)")
        return True

    rows = max(5, scale(BASE_ROWS))
    suffix = uuid.uuid4().hex[:8]
    workdir = tempfile.mkdtemp(prefix="bench-purge-export-")
    storages = {
        "default": {"BACKEND": "deelrx.storage.PrivateFileSystemStorage", "OPTIONS": {"location": f"{workdir}/p"}},
        "private": {"BACKEND": "deelrx.storage.PrivateFileSystemStorage", "OPTIONS": {"location": f"{workdir}/p"}},
        "public": {"BACKEND": "deelrx.storage.PublicFileSystemStorage", "OPTIONS": {"location": f"{workdir}/q"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    team = Team.objects.create(name="Bench purge export team", slug=f"bench-purge-export-{suffix}")
    small_team = Team.objects.create(name="Bench purge export small team", slug=f"bench-purge-export-s-{suffix}")
    user = User.objects.create(username=f"bench-purge-export-{suffix}")
    insert_events(team_id=team.pk, user_id=user.pk, rows=rows, year=2024)
    insert_events(team_id=team.pk, user_id=user.pk, rows=max(1, rows // 100), year=2025)  # out of range
    insert_events(team_id=small_team.pk, user_id=user.pk, rows=rows // 5, year=2024)
    scope = purge_registry.validate_scope(SCOPE)
    # never saved: build_export needs only its team, scope and id
    purge = PurgeOperation(team=team, requested_by=user, scope=scope, scheduled_for=timezone.now())
    small_purge = PurgeOperation(team=small_team, requested_by=user, scope=scope, scheduled_for=timezone.now())
    cutoff = timezone.now()
    fields = purge_registry.export_fields("activity_events")

    def through_service(target=purge):
        return export.build_export(purge=target, cutoff=cutoff, now=timezone.now(), export_id=uuid.uuid4())

    def copy_baseline(_state: object = None) -> int:
        queryset = purge_registry.selection("activity_events", team_id=team.pk, scope=scope, cutoff=cutoff)
        select = connection.ops.compose_sql(*queryset.order_by("pk").values_list(*fields).query.sql_with_params())
        as_json = (
            f"SELECT CASE WHEN row_number() OVER () = 1 THEN '' ELSE ',' END || row_to_json(r)::text FROM ({select}) r"
        )
        as_csv = f"COPY ({select}) TO STDOUT WITH (FORMAT csv, HEADER)"
        # csv with quote and delimiter characters JSON never holds raw: each row verbatim
        as_json = f"COPY ({as_json}) TO STDOUT WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
        with (
            tempfile.TemporaryFile(dir=workdir) as target,
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive,
            connection.cursor() as cursor,
        ):
            copy_out = cursor.cursor.copy
            with archive.open("activity_events.csv", "w", force_zip64=True) as member, copy_out(as_csv) as copy:
                for block in copy:
                    member.write(block)
            with archive.open("activity_events.json", "w", force_zip64=True) as member, copy_out(as_json) as copy:
                member.write(b"[\n")
                for block in copy:
                    member.write(block)
                member.write(b"]\n")
            archive.writestr("manifest.json", "{}")
            return target.tell()

    def exported_rows(key: str) -> int:
        with export.private_storage().open(key, "rb") as handle, zipfile.ZipFile(io.BytesIO(handle.read())) as zipped:
            return sum(1 for _ in zipped.open("activity_events.csv")) - 1

    quiet = QuietLogs()
    try:
        with override_settings(STORAGES=storages):
            key, counts = through_service()
            assert counts == {"activity_events": rows}, counts
            assert exported_rows(key) == rows
            measured = measure_alternately(
                {
                    "COPY -> CSV + JSON -> zip on disk": (lambda: None, copy_baseline),
                    "build_export (file system store)": (lambda: None, lambda _: through_service()),
                },
                repeat=REPEAT,
            )
            with mock.patch.object(export, "SPOOL_MAX_BYTES", SMALL_SPOOL):
                capped = measure_alternately(
                    {
                        "large": (lambda: None, lambda _: through_service()),
                        "small": (lambda: None, lambda _: through_service(small_purge)),
                    },
                    repeat=1,
                )
        ok = report(
            f"Purge export: {rows:,} activity events (N={rows}, BENCH_SCALE={bench_scale()})",
            measured["build_export (file system store)"],
            measured["COPY -> CSV + JSON -> zip on disk"],
            target_ratio=TIME_TARGET,
        )
        flat = capped["large"].peak_bytes / capped["small"].peak_bytes
        judged = rows // 5 >= FLAT_MEMORY_MIN_ROWS
        flat_ok = flat <= FLAT_MEMORY_TARGET or not judged
        verdict = ("OK" if flat_ok else "OVER TARGET") if judged else f"not judged below {FLAT_MEMORY_MIN_ROWS:,} rows"
        print(
            f"  memory, spools capped at {SMALL_SPOOL // 1024} KiB: {rows:,} rows peak"
            f" {capped['large'].peak_bytes / 1024:.1f} KiB, {rows // 5:,} rows peak"
            f" {capped['small'].peak_bytes / 1024:.1f} KiB, ratio {flat:.2f} (target <= {FLAT_MEMORY_TARGET})"
            f" {verdict}"
        )
        return ok and flat_ok
    finally:
        quiet.restore()
        with connection.cursor() as cursor:
            table = ActivityEvent._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE team_id IN (%s, %s)", [team.pk, small_team.pk])
        PurgeExportedRow.objects.filter(purge_id__in=[purge.pk, small_purge.pk]).delete()
        team.delete()
        small_team.delete()
        user.delete()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
