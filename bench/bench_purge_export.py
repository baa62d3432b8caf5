"""The ZIP a purge writes before deleting anything (admin_ops.services.export.
build_export: per entity `<entity>.json` + `<entity>.csv`, manifest, saved to
the private store) over 20,000 customers and 20,000 activity events, against
the leanest raw equivalent in the same run: a server-side cursor read in
chunks of 2,000 rows, JSON written straight into the ZIP member, CSV through
a temporary file on disk, the ZIP itself on disk.

What is checked:
- time: at most 4x the raw streaming export (about 1x on a quiet machine);
- memory: the export streams. Its peak traced memory stays below 35% of
  what merely holding every exported row costs (measured in the same run).
  Against the raw baseline it is allowed up to 6x: the service keeps the CSV
  member and the ZIP in memory up to SPOOL_MAX_BYTES (8 MiB) each before
  spilling to disk, a bounded constant, not rows x size. With those spools
  capped at 256 KiB its peak must be within 2x of the baseline: then nothing
  else can be holding rows.

The service runs outside a transaction, as purge_export_build calls it; the
baseline runs in one, so that its server-side cursor is a plain one (Django
declares WITH HOLD cursors under autocommit)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import sys
import tempfile
import tracemalloc
import uuid
import zipfile
from unittest import mock

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ROWS = 20_000
CHUNK = 2000
TIME_TARGET = 4.0
MEMORY_TARGET = 6.0  # peak vs the raw streaming baseline (bounded by the two 8 MiB spools)
HELD_FRACTION = 0.35  # peak vs holding every row
SMALL_SPOOL = 256 * 1024
CAPPED_MEMORY_TARGET = 2.0
ENTITIES = ["customers", "credit_accounts", "credit_transactions", "activity_events"]


def main() -> bool:
    from django.db import connection, transaction
    from django.test import override_settings
    from django.utils import timezone

    from admin_ops import purge_registry
    from admin_ops.models import ActivityEvent, PurgeOperation
    from admin_ops.services import export
    from admin_ops.services.export import build_export
    from bench.harness import measure, report
    from deelrx.tenancy.models import Customer, Team, User

    suffix = uuid.uuid4().hex[:8]
    workdir = tempfile.mkdtemp(prefix="bench-purge-export-")
    storages = {
        "default": {"BACKEND": "deelrx.storage.PrivateFileSystemStorage", "OPTIONS": {"location": f"{workdir}/p"}},
        "private": {"BACKEND": "deelrx.storage.PrivateFileSystemStorage", "OPTIONS": {"location": f"{workdir}/p"}},
        "public": {"BACKEND": "deelrx.storage.PublicFileSystemStorage", "OPTIONS": {"location": f"{workdir}/q"}},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with transaction.atomic():
        team = Team.objects.create(name="Bench purge export team", slug=f"bench-purge-export-{suffix}")
        user = User.objects.create(username=f"bench-purge-export-{suffix}")
        Customer.objects.bulk_create(
            (
                Customer(
                    team=team,
                    first_name=f"First{i}",
                    last_name=f"Last{i:05d}",
                    email=f"customer{i}@example.com",
                    phone=f"+1 555 {i:07d}",
                    notes=f"Prefers delivery before noon; account opened at branch {i % 40}.",
                )
                for i in range(ROWS)
            ),
            batch_size=5000,
        )
        ActivityEvent.objects.bulk_create(
            (
                ActivityEvent(
                    team=team,
                    user=user,
                    event_type="tenancy.customer.updated",
                    event_data={"customer_id": str(uuid.UUID(int=i)), "changed": ["email", "phone"], "n": i},
                    ip_address=f"10.0.{i % 256}.{i % 199}",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Bench/1.0",
                )
                for i in range(ROWS)
            ),
            batch_size=5000,
        )
    cutoff = timezone.now()
    scope = purge_registry.validate_scope({"entities": ENTITIES})
    purge = PurgeOperation(team=team, requested_by=user, scope=scope, scheduled_for=cutoff)  # never saved
    exported = purge_registry.ordered(scope["entities"])

    def querysets():
        for name in exported:
            fields = purge_registry.export_fields(name)
            queryset = purge_registry.selection(name, team_id=team.pk, scope=scope, cutoff=cutoff).order_by("pk")
            yield name, fields, queryset

    def through_service():
        return build_export(purge=purge, cutoff=cutoff, now=timezone.now())

    def raw_streaming():
        with tempfile.TemporaryFile(dir=workdir) as target:
            with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, fields, queryset in querysets():
                    sql, params = queryset.values_list(*fields).query.sql_with_params()
                    with tempfile.TemporaryFile(mode="w+", dir=workdir, newline="") as csv_file:
                        writer = csv.writer(csv_file)
                        writer.writerow(fields)
                        with archive.open(f"{name}.json", "w", force_zip64=True) as raw:
                            json_out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                            json_out.write("[")
                            with connection.chunked_cursor() as cursor:
                                cursor.execute(sql, params)
                                while rows := cursor.fetchmany(CHUNK):
                                    for row in rows:
                                        json_out.write(
                                            "\n" + json.dumps(dict(zip(fields, row, strict=True)), default=str) + ","
                                        )
                                        writer.writerow(row)
                            json_out.write("\n]\n")
                            json_out.flush()
                            json_out.detach()
                        csv_file.seek(0)
                        with archive.open(f"{name}.csv", "w", force_zip64=True) as raw:
                            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
                            shutil.copyfileobj(csv_file, out)
                            out.flush()
                            out.detach()
            return target.tell()

    def hold_every_row():
        return [list(queryset.values(*fields)) for _name, fields, queryset in querysets()]

    try:
        with override_settings(STORAGES=storages):
            key, counts = through_service()
            assert counts["customers"] == ROWS, counts
            assert counts["activity_events"] == ROWS, counts
            export_bytes = os.path.getsize(os.path.join(workdir, "p", key))
            with transaction.atomic():  # a plain server-side cursor (see the docstring)
                baseline = measure("raw server-side cursor -> zip on disk", raw_streaming, repeat=5)
            candidate = measure("build_export (file system store)", through_service, repeat=5)
            with mock.patch.object(export, "SPOOL_MAX_BYTES", SMALL_SPOOL):
                capped = measure(f"build_export, spools capped at {SMALL_SPOOL // 1024} KiB", through_service, repeat=1)
        tracemalloc.start()
        held = hold_every_row()
        _, held_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        del held
        ok = report(
            f"Purge export of {ROWS:,} customers + {ROWS:,} events", candidate, baseline, target_ratio=TIME_TARGET
        )
        mem_ratio = candidate.peak_bytes / baseline.peak_bytes
        held_ratio = candidate.peak_bytes / held_peak
        print(f"  export ZIP {export_bytes / 2**20:.1f} MiB; holding every row peaks at {held_peak / 2**20:.1f} MiB")
        print(
            f"  memory ratio {mem_ratio:.2f} (target <= {MEMORY_TARGET}); peak is {held_ratio:.1%} of holding"
            f" every row (target < {HELD_FRACTION:.0%}) {'OK' if held_ratio < HELD_FRACTION else 'OVER TARGET'}"
        )
        capped_ratio = capped.peak_bytes / baseline.peak_bytes
        capped_ok = capped_ratio <= CAPPED_MEMORY_TARGET
        print(
            f"  with spools capped at {SMALL_SPOOL // 1024} KiB: peak {capped.peak_bytes / 1024:.1f} KiB, memory ratio"
            f" {capped_ratio:.2f} (target <= {CAPPED_MEMORY_TARGET}) {'OK' if capped_ok else 'OVER TARGET'}"
        )
        return ok and mem_ratio <= MEMORY_TARGET and held_ratio < HELD_FRACTION and capped_ok
    finally:
        ActivityEvent.objects.filter(team=team).purge_delete()
        Customer.objects.filter(team=team).delete()
        team.delete()
        user.delete()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
