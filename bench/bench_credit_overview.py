"""The credit reads must not grow with a ledger's history: the team credit
overview API (`GET /api/teams/<id>/credit/?page_size=200`: summary with
totals, accounts per status and the overdue part of every balance, plus a page
of accounts), one account's detail (`?customer_id=…`: the account and its
recent transactions) and the team dashboard page (`/`, with the credit
section: exposure, overdue, aging) are measured for two teams that are alike
— 5,000 accounts with about 50,000 ledger rows at BENCH_SCALE=1 (bench/data.py:
due dates over the last months and the next weeks, payments, late payers,
pending rows, four currencies) — except for one long-standing account: it has
1,000,000 ledger rows (times BENCH_SCALE) in the first team and 1,000 in the
second, over the same two years, a little overdue in both. Target: each read
of the first team costs at most 1.5x the same read of the second.

Also, as before, the overview API against the raw SQL doing the same work
(totals aggregate, the overdue total, the page joined to customers,
json.dumps) for the second team: at most 6x. The raw overdue total is the
sum of the unpaid parts of debits due before today when the project maintains
them (`outstanding_cents`), else a per-account GROUP BY of the ledger; and the
overdue total the API serves must equal the one computed from the whole
ledger, for both teams.

Requests go through Django's test client in-process (token-less
force_authenticate for the API, force_login for the page): fine for a ratio."""

from __future__ import annotations

import json
import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ACCOUNTS = 5_000
LEDGER_ROWS = 50_000
HEAVY_ROWS = 1_000_000
LIGHT_ROWS = 1_000
PAGE_SIZE = 200
TARGET_HEAVY = 1.5
TARGET_RAW = 6.0
REPEAT = 15  # cheap calls: a median over more runs steadies the ratio on a busy machine
HEAVY_REPEAT = 9  # reads that may aggregate a million rows (the code before the maintained figures)


def _raw_overview(team_id: int, today, *, from_ledger: bool):
    """The raw SQL of the overview (see the module doc), as one callable. The
    overdue total comes from the whole ledger (`from_ledger`) or, the cheapest
    way when the project maintains them, from the unpaid parts of the debits."""
    from django.db import connection

    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer

    accounts_table = CreditAccount._meta.db_table
    tx_table = CreditTransaction._meta.db_table
    customers_table = Customer._meta.db_table
    status_counts = ", ".join(f"COUNT(*) FILTER (WHERE status = '{s}')" for s in CreditAccount.Status.values)
    totals_sql = (
        f"SELECT COALESCE(SUM(credit_limit_cents), 0), COALESCE(SUM(balance_cents), 0), {status_counts}"
        f" FROM {accounts_table} WHERE team_id = %s"
    )
    owed = "past_due - paid + credited"
    ledger_overdue_sql = (
        f"SELECT COALESCE(SUM(CASE WHEN {owed} > 0 THEN {owed} ELSE 0 END), 0)"
        " FROM (SELECT a.id,"
        " SUM(CASE WHEN t.status = 'completed' AND (t.type IN ('charge', 'fee') OR (t.type = 'adjustment'"
        " AND t.amount_cents > 0)) AND t.due_date < %s THEN t.amount_cents ELSE 0 END) AS past_due,"
        " SUM(CASE WHEN t.status = 'completed' AND t.type = 'payment' THEN t.amount_cents ELSE 0 END) AS paid,"
        " SUM(CASE WHEN t.status = 'completed' AND t.type = 'adjustment' AND t.amount_cents < 0"
        " THEN t.amount_cents ELSE 0 END) AS credited"
        f" FROM {accounts_table} a LEFT JOIN {tx_table} t ON t.account_id = a.id"
        " WHERE a.team_id = %s GROUP BY a.id) per_account"
    )
    figures_overdue_sql = (
        f"SELECT COALESCE(SUM(outstanding_cents), 0) FROM {tx_table}"
        " WHERE outstanding_cents > 0 AND due_date < %s AND team_id = %s"
    )
    overdue_sql = ledger_overdue_sql if from_ledger else figures_overdue_sql
    page_sql = (
        "SELECT a.id, a.team_id, a.customer_id, c.first_name, c.last_name, a.credit_limit_cents,"
        " a.balance_cents, a.currency, a.status, a.grace_period_days, a.interest_rate_bps, a.limit_frozen,"
        " a.stripe_payment_method_id, a.last_payment_at, a.status_changed_at, a.created_at, a.updated_at"
        f" FROM {accounts_table} a JOIN {customers_table} c ON c.id = a.customer_id"
        " WHERE a.team_id = %s ORDER BY a.created_at DESC, a.id DESC LIMIT %s"
    )

    def raw_sql():
        with connection.cursor() as cursor:
            cursor.execute(totals_sql, [team_id])
            totals = [int(v) for v in cursor.fetchone()]  # SUM(bigint) is numeric on PostgreSQL
            cursor.execute(overdue_sql, [today, team_id])
            overdue = int(cursor.fetchone()[0])
            cursor.execute(page_sql, [team_id, PAGE_SIZE + 1])
            page = cursor.fetchall()
        return json.dumps(
            {"summary": [*totals, overdue], "results": [[str(v) for v in row] for row in page]}, default=str
        )

    return raw_sql


def _reads(team) -> dict:
    """The three reads of one generated team, each a callable checking its answer."""
    from django.test import Client
    from rest_framework.test import APIClient

    viewer = team.user("viewer")
    api = APIClient(HTTP_HOST="localhost")
    api.force_authenticate(viewer)
    browser = Client(HTTP_HOST="localhost")
    browser.force_login(viewer)
    overview_url = f"/api/teams/{team.team_id}/credit/?page_size={PAGE_SIZE}"
    detail_url = f"/api/teams/{team.team_id}/credit/?customer_id={team.heavy_customer_id}"

    def overview():
        response = api.get(overview_url)
        assert response.status_code == 200, response.content[:300]
        body = json.loads(response.content)
        assert len(body["results"]) == min(PAGE_SIZE, team.accounts), len(body["results"])
        return body

    def detail():
        response = api.get(detail_url)
        assert response.status_code == 200, response.content[:300]
        body = json.loads(response.content)
        assert body["recent_transactions"], body
        return body

    def dashboard():
        response = browser.get("/")
        assert response.status_code == 200, response.status_code
        assert b"Credit" in response.content
        return response.content

    return {
        "GET /api/teams/<id>/credit/ (summary + page)": overview,
        "GET /api/teams/<id>/credit/?customer_id= (account)": detail,
        "GET / (dashboard page)": dashboard,
    }


def main() -> bool:
    from django.db import connection
    from django.utils import timezone

    from bench import data
    from bench.harness import measure_pair, report, scale
    from credit.models import CreditTransaction

    if connection.vendor != "postgresql":
        print("## Credit overview: skipped (PostgreSQL only: bench.data generates with generate_series)")
        return True
    accounts, rows = scale(ACCOUNTS), scale(LEDGER_ROWS)
    heavy_rows = max(scale(HEAVY_ROWS), LIGHT_ROWS)
    suffix = uuid.uuid4().hex[:8]
    teams = []
    try:
        heavy = data.credit_team(
            label=f"bench-overview-heavy-{suffix}",
            accounts=accounts,
            ledger_rows=rows,
            heavy_account_rows=heavy_rows,
            analyze=False,
        )
        teams.append(heavy)
        light = data.credit_team(
            label=f"bench-overview-light-{suffix}",
            accounts=accounts,
            ledger_rows=rows,
            heavy_account_rows=LIGHT_ROWS,
            analyze=False,
        )
        teams.append(light)
        data.vacuum_analyze()

        today = timezone.localdate()
        ok = True
        heavy_reads, light_reads = _reads(heavy), _reads(light)
        for team, reads in ((heavy, heavy_reads), (light, light_reads)):
            served = next(iter(reads.values()))()["summary"]["overdue_balance_cents"]
            expected = json.loads(_raw_overview(team.team_id, today, from_ledger=True)())["summary"][-1]
            if served != expected:
                print(f"  PROBLEM: team {team.label}: the API serves overdue {served}, the raw SQL says {expected}")
                ok = False

        for name, light_read in light_reads.items():
            baseline, candidate = measure_pair(
                (f"{LIGHT_ROWS:,} rows on the long account", light_read),
                (f"{heavy_rows:,} rows on the long account", heavy_reads[name]),
                repeat=HEAVY_REPEAT,
            )
            ok &= report(
                f"Credit reads, long history: {name}; {accounts:,} other accounts",
                candidate,
                baseline,
                target_ratio=TARGET_HEAVY,
                n=HEAVY_REPEAT,
            )

        maintained = any(f.column == "outstanding_cents" for f in CreditTransaction._meta.concrete_fields)
        raw_name = "raw totals + overdue + page SQL + json.dumps"
        raw_name += " (overdue from unpaid parts)" if maintained else " (overdue from the ledger)"
        raw, api = measure_pair(
            (raw_name, _raw_overview(light.team_id, today, from_ledger=not maintained)),
            ("GET /api/teams/<id>/credit/", next(iter(light_reads.values()))),
            repeat=REPEAT,
        )
        ok &= report(
            f"Credit overview vs raw SQL: summary of {light.accounts:,} accounts"
            f" ({light.ledger_rows:,} ledger rows) + page of {PAGE_SIZE}",
            api,
            raw,
            target_ratio=TARGET_RAW,
            n=REPEAT,
        )
        return ok
    finally:
        for team in teams:
            data.drop_team(team)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
