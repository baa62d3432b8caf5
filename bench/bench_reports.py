"""Reports must not grow with a team's history (issue 13, DESIGN §14).

1. Every report (`GET /api/teams/<id>/reports/credit|knowledge-base|activity/?range=30d`) of a
   team with two years of daily snapshots, two years of searches and a 1,000,000-row ledger
   (one long-standing account, times BENCH_SCALE) against the same report of a team with one
   month of snapshots and 1,000 ledger rows: at most 1.5x.
2. The snapshot of one day (`reports.services.snapshots.snapshot_day`: credit per currency
   from the ledger, KB, activity, rows replaced) for 100,000 accounts (times BENCH_SCALE, four
   teams, bench/data.py's job teams) against the raw set-based SQL of its core (per-account
   balance and overdue from the ledger, summed per team and currency): at most 3x.
3. Streaming the 1M-row ledger as CSV (`?format=csv`) in a fresh process (a worker): its peak
   resident memory (VmHWM) stays under 150 MB.

PostgreSQL only. Requests go through Django's test client in-process: fine for a ratio."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

if __name__ == "__main__" and "--stream" not in sys.argv:
    from bench.harness import setup_django

    setup_django()

ACCOUNTS = 50
HEAVY_ROWS = 1_000_000
LIGHT_ROWS = 1_000
JOB_ACCOUNTS = 100_000
TARGET_REPORT = 1.5
TARGET_JOB = 3.0
TARGET_STREAM_MB = 150
REPEAT = 11


def _snapshots(team_id: int, days: int, searches_per_day: int) -> None:
    """`days` days of credit (4 currencies), activity (8 types x 4 users) and KB rows, and
    searches, ending yesterday: INSERT … SELECT generate_series."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_creditdaily (team_id, day, currency, limit_cents, balance_cents, pending_cents,"
            " overdue_cents, aging_current_cents, aging_1_30_cents, aging_31_60_cents, aging_61_90_cents,"
            " aging_90_plus_cents, charges_cents, debits_cents, payments_cents, credits_cents, accounts_active,"
            " accounts_suspended, accounts_defaulted, accounts_closed, created_at)"
            " SELECT %s, current_date - g.d, c.cur, 1000000, 500000 + g.d, 1000, 20000, 480000, 10000, 5000,"
            " 3000, 2000, 7000, 7500, 6000, 6100, 40, 5, 3, 2, now()"
            " FROM generate_series(1, %s) g(d) CROSS JOIN unnest(ARRAY['usd','eur','gbp','cad']) c(cur)",
            [team_id, days],
        )
        cursor.execute(
            "INSERT INTO reports_activitydaily (team_id, day, event_type, user_id, count)"
            " SELECT %s, current_date - g.d, 'credit.transaction.created', NULL, 1 + g.d %% 7"
            " FROM generate_series(1, %s) g(d) CROSS JOIN generate_series(1, 32) k",
            [team_id, days],
        )
        cursor.execute(
            "INSERT INTO reports_knowledgebasedaily (team_id, day, views, helpful, not_helpful, searches,"
            " zero_result_searches, created_at) SELECT %s, current_date - g.d, 100, 3, 1, 50, 5, now()"
            " FROM generate_series(1, %s) g(d)",
            [team_id, days],
        )
        cursor.execute(
            "INSERT INTO reports_searchrecord (team_id, user_id, source, query, normalized, result_count, created_at)"
            " SELECT %s, NULL, 'staff', 'query ' || (g.n %% 500), 'query ' || (g.n %% 500), g.n %% 3,"
            " now() - make_interval(secs => g.n * 86400.0 / %s)"
            " FROM generate_series(1, %s) g(n)",
            [team_id, searches_per_day, days * searches_per_day],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reports_creditdaily; ANALYZE reports_activitydaily; ANALYZE reports_searchrecord")


def _report_reads(team) -> dict:
    from rest_framework.test import APIClient

    api = APIClient(HTTP_HOST="localhost")
    api.force_authenticate(team.user("viewer"))
    reads = {}
    for name in ("credit", "knowledge-base", "activity"):
        url = f"/api/teams/{team.team_id}/reports/{name}/?range=30d"

        def read(url=url):
            response = api.get(url)
            assert response.status_code == 200, response.content[:300]
            return json.loads(response.content)

        reads[name] = read
    return reads


def _raw_day(team_ids: list[int], day):
    from django.db import connection

    from credit.figures import day_bounds

    _, end = day_bounds(day)
    teams = ", ".join(str(int(t)) for t in team_ids)
    sql = (
        "SELECT a.team_id, a.currency, COUNT(*), SUM(a.credit_limit_cents), COALESCE(SUM(p.balance), 0),"
        " COALESCE(SUM(CASE WHEN p.balance > p.ge0 THEN p.balance - p.ge0 ELSE 0 END), 0)"
        " FROM credit_creditaccount a LEFT JOIN ("
        "  SELECT t.account_id,"
        "   SUM(CASE WHEN t.status = 'completed' AND t.completed_at < %(end)s THEN"
        "       (CASE WHEN t.type = 'payment' THEN -t.amount_cents ELSE t.amount_cents END) ELSE 0 END) AS balance,"
        "   SUM(CASE WHEN t.status = 'completed' AND t.completed_at < %(end)s AND t.type <> 'payment'"
        "       AND t.amount_cents > 0 AND (t.due_date IS NULL OR t.due_date >= %(day)s)"
        "       THEN t.amount_cents ELSE 0 END) AS ge0"
        f"  FROM credit_credittransaction t WHERE t.created_at < %(end)s AND t.team_id IN ({teams})"
        "  GROUP BY t.account_id) p ON p.account_id = a.id"
        f" WHERE a.team_id IN ({teams}) GROUP BY a.team_id, a.currency"
    )

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(sql, {"end": end, "day": day})
            return cursor.fetchall()

    return raw


def _stream_in_fresh_process(team_id: int, user_id: int) -> tuple[int, float]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "deelrx.settings"}
    out = (
        subprocess.run(
            [sys.executable, "-m", "bench.bench_reports", "--stream", str(team_id), str(user_id)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    rows, peak_mb = out.split()
    return int(rows), float(peak_mb)


def _stream(team_id: int, user_id: int) -> None:
    """In a fresh process: stream the team's ledger CSV, print the rows and the peak RSS (MB)."""
    import django

    os.environ.setdefault("DJANGO_DEBUG", "true")
    django.setup()
    from rest_framework.test import APIClient

    from deelrx.tenancy.models import User

    api = APIClient(HTTP_HOST="localhost")
    api.force_authenticate(User.objects.get(pk=user_id))
    response = api.get(f"/api/teams/{team_id}/credit/transactions/?format=csv")
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
    with open("/proc/self/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(lines - 1, round(peak_kb / 1024, 1))


def main() -> bool:
    from bench import data
    from bench.harness import measure_pair, report, scale
    from reports.services.snapshots import snapshot_day

    data.require_postgresql()
    label = uuid.uuid4().hex[:6]
    ok = True
    teams = []
    try:
        heavy = data.credit_team(
            label=f"rep-heavy-{label}", accounts=ACCOUNTS, ledger_rows=LIGHT_ROWS, heavy_account_rows=scale(HEAVY_ROWS)
        )
        teams.append(heavy)
        light = data.credit_team(label=f"rep-light-{label}", accounts=ACCOUNTS, ledger_rows=LIGHT_ROWS)
        teams.append(light)
        _snapshots(heavy.team_id, 730, 300)
        _snapshots(light.team_id, 30, 30)
        heavy_reads, light_reads = _report_reads(heavy), _report_reads(light)
        for name in heavy_reads:
            small, big = measure_pair(
                (f"{name} (1 month, {light.ledger_rows:,} rows)", light_reads[name]),
                (f"{name} (2 years, {heavy.ledger_rows:,} rows)", heavy_reads[name]),
                repeat=REPEAT,
            )
            ok &= report(f"Report {name}: long history vs short", big, small, target_ratio=TARGET_REPORT, n=REPEAT)
        rows, peak = _stream_in_fresh_process(heavy.team_id, heavy.users["viewer"])
        stream_ok = peak < TARGET_STREAM_MB and rows == heavy.ledger_rows
        print(
            f"## Ledger CSV of {rows:,} rows streamed in a fresh process: peak RSS {peak:.1f} MB"
            f" (target < {TARGET_STREAM_MB} MB) {'OK' if stream_ok else 'OVER TARGET'}"
        )
        ok &= stream_ok
        for team in teams:
            data.drop_team(team)
        teams = []
        job_teams = data.credit_jobs_teams(label=f"rep-jobs-{label}", accounts=scale(JOB_ACCOUNTS))
        teams.extend(job_teams)
        team_ids = [t.team_id for t in job_teams]
        day = data.today()
        raw, job = measure_pair(
            ("raw balance + overdue per team and currency", _raw_day(team_ids, day)),
            ("snapshot_day (credit, KB, activity, replace)", lambda: snapshot_day(day=day, team_ids=team_ids)),
            repeat=3,
        )
        accounts = sum(t.accounts for t in job_teams)
        ok &= report(f"Snapshot of one day, {accounts:,} accounts", job, raw, target_ratio=TARGET_JOB, n=3)
        return ok
    finally:
        for team in teams:
            data.drop_team(team)


if __name__ == "__main__":
    if "--stream" in sys.argv:
        _, _, team_arg, user_arg = sys.argv
        _stream(int(team_arg), int(user_arg))
        sys.exit(0)
    sys.exit(0 if main() else 1)
