"""The three credit jobs at scale (issue "Credit at scale"): `payment_reminders_send`,
`overdue_check` and `limit_adjustment_run` over N accounts with one open debit
each (N = 100,000 at BENCH_SCALE=1, in 4 teams; `bench.data.credit_jobs_teams`:
due in 0-7 days, 7-120 days past due, good payers above 80% use, frozen
accounts with nothing past due, quiet ones), each against a set-based SQL
baseline making the same state changes on the same data in the same run.

- Baseline: plain SQL through Django's cursor, one transaction per job: the
  late marks (one UPDATE … RETURNING and one INSERT … SELECT of the
  `credit.account.late_recorded` events, grouped like the job's batches), the
  status moves (`UPDATE … SET status = CASE …` with the reasons and events, and one
  `credit.account.overdue_found` summary per team),
  the reminder rows (`INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`, stage
  computed in SQL), the lowering/freezing/raising/thawing UPDATEs with
  `INSERT … SELECT` into the limit history and the audit log.
- Emails are rendered in both (decision: the fairest choice; the job cannot
  skip them in production, and the baseline renders the same three templates
  per email with `render_to_string` and hands the same messages to the same
  backend). Neither paces (`EMAILS_PER_SECOND=0`); the backend only counts the
  messages and sums a digest of each (the locmem backend would keep 50,000
  messages and grow with N). The rendering time of each side is printed, and
  the ratio without it, for context.
- Both sides run in their own child process (`python -m bench.bench_credit_jobs
  --child …`) with `DEBUG=False` (no query log) and the credit loggers at WARNING;
  the child reports its time and its peak RSS (`ru_maxrss`). The baseline runs
  first; the project is stopped at 6x the baseline's time (at least 60 s; a miss
  either way, and the module's runtime stays bounded; `BENCH_JOBS_CAP=0` lets it
  finish, `BENCH_JOBS_CAP=F` stops it at F times).
- Checked after every run: the project run and the baseline leave the same
  state (digests of the changed accounts, of the new audit events, limit
  changes and reminder rows, and of the emails). The project's second run
  (same day) changes nothing and sends nothing: checked on the N/10 data set
  (the same batches, teams and cases; at N it only repeated minutes of reads).
  The data is reset between runs: the changed account columns restored from a
  snapshot with one UPDATE, the new rows deleted, VACUUM ANALYZE.
- Memory: the project's peak RSS over its first run at N (the timed run) and
  at N/10 (a separate data set, separate child processes): at most 250 MB, and
  N at most 1.3x N/10.
- Data: `INSERT … SELECT generate_series` (`bench.data.credit_jobs_teams`), the
  maintained figures rebuilt by `figures_recompute`, `verify_ledger` of one team
  (a quarter of the accounts) must be clean.

Targets: time <= 3x the baseline; peak RSS <= 250 MB; 10x the data <= 1.3x the memory.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.core.mail.backends.base import BaseEmailBackend

ACCOUNTS = 100_000  # the timed runs (times BENCH_SCALE)
MEMORY_BASE_ACCOUNTS = 10_000  # the flatness check compares ACCOUNTS with this (times BENCH_SCALE)
TEAMS = 4
TARGET = 3.0
RSS_LIMIT_MB = 250
FLAT_TARGET = 1.3
LABEL = "bench-credit-jobs"
SNAPSHOT = "bench_credit_jobs_snapshot"
MARKS = "bench_credit_jobs_marks"
CHILD_TIMEOUT = 900
# The project's child is stopped at this many times the baseline's time (at least CAP_MIN_SECONDS):
# a miss either way, and the module's runtime stays bounded. BENCH_JOBS_CAP=0: never stopped.
CAP_VARIABLE = "BENCH_JOBS_CAP"
DEFAULT_CAP_FACTOR = 6.0
CAP_MIN_SECONDS = 60.0
JOBS = {
    "payment_reminders_send": "credit.services.reminders",
    "overdue_check": "credit.services.overdue",
    "limit_adjustment_run": "credit.services.limits",
}


class CountingEmailBackend(BaseEmailBackend):
    """Counts the messages and sums a digest of each (to, subject, body, HTML):
    memory stays flat whatever the number, and two runs can be compared."""

    count = 0
    digest = 0

    @classmethod
    def reset(cls) -> None:
        cls.count = 0
        cls.digest = 0

    def send_messages(self, email_messages) -> int:
        cls = type(self)
        for message in email_messages:
            content = [message.from_email, list(message.to), message.subject, message.body]
            content += [body for body, _ in getattr(message, "alternatives", [])]
            digest = hashlib.md5(json.dumps(content).encode(), usedforsecurity=False).hexdigest()
            cls.digest = (cls.digest + int(digest, 16)) % 2**128
            cls.count += 1
        return len(email_messages)


def _tables() -> dict[str, str]:
    from credit.models import CreditAccount, CreditLimitChange, CreditTeamPolicy, CreditTransaction, PaymentReminder
    from deelrx.audit.models import ActivityEvent
    from deelrx.tenancy.models import Customer, Membership, Team, User

    models = {
        "account": CreditAccount,
        "tx": CreditTransaction,
        "change": CreditLimitChange,
        "policy": CreditTeamPolicy,
        "reminder": PaymentReminder,
        "event": ActivityEvent,
        "customer": Customer,
        "membership": Membership,
        "team": Team,
        "user": User,
    }
    return {name: model._meta.db_table for name, model in models.items()}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --- Snapshot, reset and the state digest ------------------------------------------------------

ACCOUNT_COLUMNS = ("status", "status_changed_at", "updated_at", "last_overdue_on", "credit_limit_cents", "limit_frozen")
NEW_ROWS = ("event", "change", "reminder")


def snapshot_take() -> None:
    """The columns the jobs change, of every account, and the last id of the tables they append to."""
    from django.db import connection

    t = _tables()
    columns = ", ".join(ACCOUNT_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}, {MARKS}")
        cursor.execute(f"CREATE UNLOGGED TABLE {SNAPSHOT} AS SELECT id, {columns} FROM {t['account']}")
        cursor.execute(f"ALTER TABLE {SNAPSHOT} ADD PRIMARY KEY (id)")
        cursor.execute(
            f"CREATE UNLOGGED TABLE {MARKS} AS SELECT "
            + ", ".join(f"(SELECT COALESCE(MAX(id), 0) FROM {t[name]}) AS {name}" for name in NEW_ROWS)
        )


def snapshot_drop() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {SNAPSHOT}, {MARKS}")


def snapshot_restore() -> None:
    """Back to the snapshot: one UPDATE of the changed accounts, the new rows
    deleted (raw SQL: the audit log is append-only for the ORM), VACUUM ANALYZE
    so that every run starts from the same tables."""
    from django.db import connection, transaction

    t = _tables()
    changed = " OR ".join(f"a.{c} IS DISTINCT FROM s.{c}" for c in ACCOUNT_COLUMNS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {t['account']} a SET {', '.join(f'{c} = s.{c}' for c in ACCOUNT_COLUMNS)}"
            f" FROM {SNAPSHOT} s WHERE a.id = s.id AND ({changed})"
        )
        for name in NEW_ROWS:
            cursor.execute(f"DELETE FROM {t[name]} WHERE id > (SELECT {name} FROM {MARKS})")
    with connection.cursor() as cursor:
        for name in ("account", "event", "change", "reminder"):
            cursor.execute(f"VACUUM (ANALYZE) {t[name]}")


def state_digest() -> dict:
    """What changed since the snapshot, as counts and md5 digests (ids and
    timestamps left out, so that two runs can be compared)."""
    from django.db import connection

    t = _tables()
    changed = " OR ".join(f"a.{c} IS DISTINCT FROM s.{c}" for c in ACCOUNT_COLUMNS)
    row = (
        "concat_ws('|', a.id, s.status, a.status, s.credit_limit_cents, a.credit_limit_cents, s.limit_frozen,"
        " a.limit_frozen, s.last_overdue_on, a.last_overdue_on, a.updated_at IS DISTINCT FROM s.updated_at,"
        " a.status_changed_at IS DISTINCT FROM s.status_changed_at)"
    )
    result: dict = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*), md5(COALESCE(string_agg({row}, ',' ORDER BY a.id), '')),"
            " COUNT(*) FILTER (WHERE a.status <> s.status),"
            " COUNT(*) FILTER (WHERE a.last_overdue_on IS DISTINCT FROM s.last_overdue_on),"
            " COUNT(*) FILTER (WHERE a.credit_limit_cents < s.credit_limit_cents),"
            " COUNT(*) FILTER (WHERE a.credit_limit_cents > s.credit_limit_cents),"
            " COUNT(*) FILTER (WHERE a.limit_frozen AND NOT s.limit_frozen),"
            " COUNT(*) FILTER (WHERE s.limit_frozen AND NOT a.limit_frozen)"
            f" FROM {t['account']} a JOIN {SNAPSHOT} s ON s.id = a.id WHERE {changed}"
        )
        keys = ("accounts_changed", "accounts_digest", "status_moves", "late_marks", "lowered", "raised")
        result.update(zip((*keys, "frozen", "unfrozen"), cursor.fetchone(), strict=True))
        event = "concat_ws('|', e.team_id, e.user_id, e.event_type, e.event_data::text, e.ip_address, e.user_agent)"
        cursor.execute(
            f"SELECT e.event_type, COUNT(*), md5(string_agg({event}, ',' ORDER BY {event}))"
            f" FROM {t['event']} e WHERE e.id > (SELECT event FROM {MARKS}) GROUP BY e.event_type ORDER BY 1"
        )
        result["events"] = {kind: [count, digest] for kind, count, digest in cursor.fetchall()}
        change = (
            "concat_ws('|', c.account_id, c.team_id, c.old_limit_cents, c.new_limit_cents, c.reason, c.source,"
            " c.changed_by_id, c.effective_on)"
        )
        cursor.execute(
            f"SELECT COUNT(*), md5(COALESCE(string_agg({change}, ',' ORDER BY {change}), ''))"
            f" FROM {t['change']} c WHERE c.id > (SELECT change FROM {MARKS})"
        )
        result["limit_changes"], result["limit_changes_digest"] = cursor.fetchone()
        reminder = "concat_ws('|', r.transaction_id, r.stage)"
        cursor.execute(
            f"SELECT COUNT(*), md5(COALESCE(string_agg({reminder}, ',' ORDER BY {reminder}), ''))"
            f" FROM {t['reminder']} r WHERE r.id > (SELECT reminder FROM {MARKS})"
        )
        result["reminders"], result["reminders_digest"] = cursor.fetchone()
    return result


# --- The baseline: set-based SQL ----------------------------------------------------------------


def _money_sql_template() -> str:
    """deelrx.formats.format_money in SQL: "-$1,234.56", "1,234.56 CHF" for codes without a symbol."""
    from deelrx.formats import CURRENCY_SYMBOLS

    symbols = " ".join(f"WHEN '{code}' THEN '{symbol}'" for code, symbol in CURRENCY_SYMBOLS.items())
    amount = "to_char(abs({cents}) / 100.0, 'FM999,999,999,999,990.00')"
    sign = "CASE WHEN ({cents}) < 0 THEN '-' ELSE '' END"
    symbol = f"(CASE lower({{currency}}) {symbols} END)"
    return f"({sign} || COALESCE({symbol} || {amount}, {amount} || ' ' || upper({{currency}})))"


MONEY_SQL = _money_sql_template()


def _money(cents: int, currency: str) -> str:
    from deelrx.formats import format_money

    return format_money(cents, currency)


def _event_insert(*, prefix: str, source: str, event_type: str, data: str, team_id: str = "team_id") -> tuple:
    from bench.data import insert_select_sql
    from deelrx.audit.models import ActivityEvent

    values = {"team_id": team_id, "event_type": f"'{event_type}'", "event_data": data, "created_at": "now()"}
    return insert_select_sql(ActivityEvent, values, source, prefix=prefix)


def _late_marks_sql(statuses_param: str) -> tuple[str, dict]:
    """The late-payment history of the accounts past due, with one
    `credit.account.late_recorded` event per team and batch of the job."""
    t = _tables()
    prefix = f"""
        WITH candidates AS (
            SELECT id, team_id, (row_number() OVER (PARTITION BY team_id ORDER BY id) - 1) / %(batch)s AS batch
            FROM {t["account"]} WHERE status = ANY(%({statuses_param})s) AND oldest_unpaid_due_date < %(today)s
        ), marked AS (
            UPDATE {t["account"]} a SET last_overdue_on = %(today)s FROM candidates c
            WHERE a.id = c.id AND (a.last_overdue_on IS NULL OR a.last_overdue_on < %(today)s)
            RETURNING c.id, c.team_id, c.batch
        )"""
    return _event_insert(
        prefix=prefix,
        source="marked GROUP BY team_id, batch",
        event_type="credit.account.late_recorded",
        data="jsonb_build_object('account_ids', jsonb_agg(id::text ORDER BY id), 'date', %(today_iso)s::text)",
    )


def _params(today: date) -> dict:
    from django.utils import timezone

    from credit.models import MAX_AMOUNT_CENTS, CreditTeamPolicy
    from credit.services import limits, overdue

    late_since = today - timedelta(days=limits.LATE_LOOKBACK_DAYS)
    return {
        "today": today,
        "today_iso": today.isoformat(),
        "batch": overdue.BATCH_SIZE,
        "default_after": overdue.DEFAULT_AFTER_DAYS,
        "overdue_statuses": ["active", "suspended"],
        "late_statuses": ["active", "suspended", "defaulted"],
        "late_since": late_since,
        "late_since_at": timezone.make_aware(datetime.combine(late_since, datetime.min.time())),
        "cooldown_since": today - timedelta(days=limits.RAISE_COOLDOWN_DAYS),
        "cap": CreditTeamPolicy._meta.get_field("auto_limit_cap_cents").default,
        "bps": CreditTeamPolicy._meta.get_field("auto_raise_bps").default,
        "max": MAX_AMOUNT_CENTS,
    }


@dataclass
class BaselineRun:
    sql_seconds: float = 0.0
    render_seconds: float = 0.0
    emails: int = 0


def _send_rendered(run: BaselineRun, template: str, contexts, *, chunk: int = 500) -> None:
    """Render the three templates per email (as the project does) and hand the
    messages to the backend, `chunk` at a time."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives, get_connection
    from django.template.loader import render_to_string

    started = time.perf_counter()
    connection = get_connection()
    messages = []
    for context, to in contexts:
        message = EmailMultiAlternatives(
            subject=" ".join(render_to_string(f"{template}_subject.txt", context).split()),
            body=render_to_string(f"{template}.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=to,
        )
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
        messages.append(message)
        if len(messages) >= chunk:
            run.emails += connection.send_messages(messages)
            messages = []
    if messages:
        run.emails += connection.send_messages(messages)
    run.render_seconds += time.perf_counter() - started


def _team_names_and_admins() -> tuple[dict, dict]:
    from django.db import connection

    t = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, name FROM {t['team']}")
        names = dict(cursor.fetchall())
        cursor.execute(
            f"SELECT DISTINCT m.team_id, u.email FROM {t['membership']} m JOIN {t['user']} u ON u.id = m.user_id"
            " WHERE m.role IN ('owner', 'admin') AND NOT m.is_suspended AND u.is_active AND u.email <> ''"
            " ORDER BY m.team_id, u.email"
        )
        admins: dict[int, list[str]] = {}
        for team_id, email in cursor.fetchall():
            admins.setdefault(team_id, []).append(email)
    return names, admins


def baseline_reminders(today: date) -> BaselineRun:
    from django.db import connection, transaction

    t = _tables()
    run = BaselineRun()
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT tx.id, tx.due_date - %(today)s::date AS days
                FROM {t["tx"]} tx JOIN {t["account"]} a ON a.id = tx.account_id
                JOIN {t["customer"]} c ON c.id = a.customer_id
                WHERE tx.outstanding_cents > 0 AND tx.type IN ('charge', 'fee')
                  AND a.status IN ('active', 'suspended') AND c.email <> ''
                  AND (tx.due_date BETWEEN %(today)s AND %(today)s::date + 7 OR tx.due_date <= %(today)s::date - 7)
            ), claimed AS (
                INSERT INTO {t["reminder"]} (transaction_id, stage, sent_at)
                SELECT id, CASE WHEN days BETWEEN 2 AND 7 THEN 'due_in_7' WHEN days = 1 THEN 'due_in_1'
                                WHEN days = 0 THEN 'due_today' ELSE 'overdue_w' || (-days / 7) END, now()
                FROM due
                ON CONFLICT (transaction_id, stage) DO NOTHING
                RETURNING transaction_id, stage
            )
            SELECT a.id, a.team_id, c.first_name, c.email, a.currency, a.balance_cents,
                   COALESCE(NULLIF(tx.description, ''), initcap(tx.type)), tx.outstanding_cents, tx.due_date,
                   cl.stage,
                   CASE cl.stage WHEN 'due_in_7' THEN 'due soon' WHEN 'due_in_1' THEN 'due tomorrow'
                        WHEN 'due_today' THEN 'due today'
                        ELSE 'overdue ' || substr(cl.stage, 10)
                             || CASE WHEN substr(cl.stage, 10)::int > 1 THEN ' weeks' ELSE ' week' END END
            FROM claimed cl JOIN {t["tx"]} tx ON tx.id = cl.transaction_id
            JOIN {t["account"]} a ON a.id = tx.account_id JOIN {t["customer"]} c ON c.id = a.customer_id
            ORDER BY a.team_id, a.id, tx.due_date, tx.id
            """,
            _params(today),
        )
        rows = cursor.fetchall()
    run.sql_seconds = time.perf_counter() - started
    names, _ = _team_names_and_admins()

    def contexts():
        for _, grouped in itertools.groupby(rows, key=lambda row: row[0]):
            account_rows = list(grouped)
            first = account_rows[0]
            stages = [r[9] for r in account_rows]
            context = {
                "customer": {"first_name": first[2]},
                "team": {"name": names[first[1]]},
                "items": [
                    {
                        "description": r[6],
                        "unpaid": _money(r[7], r[4]),
                        "due_date": r[8],
                        "stage": r[9],
                        "stage_label": r[10],
                    }
                    for r in account_rows
                ],
                "balance": _money(first[5], first[4]),
                "any_overdue": any(s.startswith("overdue") for s in stages),
                "any_due_today": "due_today" in stages,
            }
            yield context, [first[3]]

    _send_rendered(run, "credit/email/payment_reminder", contexts())
    return run


def baseline_overdue(today: date) -> BaselineRun:
    from django.db import connection, transaction

    t = _tables()
    run = BaselineRun()
    params = _params(today)
    started = time.perf_counter()
    moves_prefix = f"""
        WITH candidates AS (
            SELECT a.id, a.team_id, a.customer_id, a.status AS old, a.grace_period_days AS grace, a.currency,
                   a.balance_cents, a.oldest_unpaid_due_date AS oldest,
                   %(today)s::date - a.oldest_unpaid_due_date AS days,
                   (row_number() OVER (PARTITION BY a.team_id ORDER BY a.id) - 1) / %(batch)s AS batch
            FROM {t["account"]} a
            WHERE a.status = ANY(%(overdue_statuses)s) AND a.oldest_unpaid_due_date < %(today)s
        ), targets AS (
            SELECT c.*, CASE WHEN c.days >= %(default_after)s THEN 'defaulted' ELSE 'suspended' END AS new
            FROM candidates c WHERE c.days > c.grace
        ), moving AS (
            SELECT m.*, COALESCE(o.cents, 0) AS overdue_cents
            FROM targets m LEFT JOIN LATERAL (
                SELECT SUM(tx.outstanding_cents) AS cents FROM {t["tx"]} tx
                WHERE tx.account_id = m.id AND tx.outstanding_cents > 0 AND tx.due_date < %(today)s
            ) o ON true
            WHERE m.new <> m.old
        ), moved AS (
            UPDATE {t["account"]} a SET status = m.new, status_changed_at = now(), updated_at = now()
            FROM moving m WHERE a.id = m.id
            RETURNING m.*, 'Overdue check: ' || m.days || ' days past due (grace ' || m.grace || ' days), '
                || {MONEY_SQL.format(cents="m.overdue_cents", currency="m.currency")} || ' overdue.' AS reason
        ), events AS ("""
    events_sql, events_params = _event_insert(
        prefix=moves_prefix,
        source="moved",
        event_type="credit.account.status_changed",
        data="jsonb_build_object('account_id', id::text, 'old', old, 'new', new, 'reason', reason)",
    )
    # One `credit.account.overdue_found` per team of the run (its managers' one notification).
    found_sql, found_params = _event_insert(
        prefix="",
        source="moved GROUP BY team_id",
        event_type="credit.account.overdue_found",
        data="""jsonb_build_object('count', COUNT(*), 'suspended', COUNT(*) FILTER (WHERE new = 'suspended'),
                'defaulted', COUNT(*) FILTER (WHERE new = 'defaulted'))
            || CASE WHEN COUNT(*) = 1 THEN jsonb_build_object('account_id', MIN(id::text)) ELSE '{}'::jsonb END""",
    )
    with transaction.atomic(), connection.cursor() as cursor:
        sql, marks_params = _late_marks_sql("overdue_statuses")
        cursor.execute(sql, {**marks_params, **params})
        cursor.execute(
            f"""{events_sql} RETURNING 1), found AS ({found_sql} RETURNING 1)
            SELECT m.team_id, m.batch, m.id, c.first_name, c.last_name, m.old, m.new, m.days, m.overdue_cents,
                   m.balance_cents, m.currency, m.oldest
            FROM moved m JOIN {t["customer"]} c ON c.id = m.customer_id ORDER BY m.team_id, m.batch, m.id""",
            {**events_params, **found_params, **params},
        )
        rows = cursor.fetchall()
    run.sql_seconds = time.perf_counter() - started
    names, admins = _team_names_and_admins()

    def contexts():
        batches: dict[tuple, list] = {}
        for row in rows:
            batches.setdefault((row[0], row[1]), []).append(row)
        for (team_id, _), batch in batches.items():
            if not admins.get(team_id):
                continue
            accounts = [
                {
                    "customer": {"first_name": r[3], "last_name": r[4]},
                    "old_status": r[5],
                    "new_status": r[6],
                    "days_overdue": r[7],
                    "overdue": _money(r[8], r[10]),
                    "balance": _money(r[9], r[10]),
                    "oldest_due_date": r[11],
                }
                for r in batch
            ]
            yield {"team": {"name": names[team_id]}, "accounts": accounts}, admins[team_id]

    _send_rendered(run, "credit/email/overdue_accounts", contexts())
    return run


def baseline_limits(today: date) -> BaselineRun:
    from django.conf import settings
    from django.db import connection, transaction

    from bench.data import insert_select_sql
    from credit.models import CreditLimitChange

    t = _tables()
    run = BaselineRun()
    params = _params(today)

    def history(source: str) -> tuple[str, dict]:
        return insert_select_sql(
            CreditLimitChange,
            {
                "account_id": "id",
                "team_id": "team_id",
                "old_limit_cents": "old",
                "new_limit_cents": "new",
                "reason": "reason",
                "source": "'automatic'",
                "effective_on": "%(today)s",
                "created_at": "now()",
            },
            source,
        )

    changed_data = (
        "jsonb_build_object('account_id', id::text, 'old', old, 'new', new, 'reason', reason, 'source', 'automatic',"
        " 'currency', currency)"
    )
    late_prefix = f"""
        WITH candidates AS (
            SELECT a.id, a.team_id, a.credit_limit_cents AS old, GREATEST(a.balance_cents, 0) AS new,
                   %(today)s::date - a.oldest_unpaid_due_date AS days, a.currency,
                   COALESCE((SELECT SUM(tx.outstanding_cents) FROM {t["tx"]} tx WHERE tx.account_id = a.id
                             AND tx.outstanding_cents > 0 AND tx.due_date < %(today)s), 0) AS overdue_cents
            FROM {t["account"]} a
            WHERE a.status = ANY(%(late_statuses)s) AND a.oldest_unpaid_due_date < %(today)s AND NOT a.limit_frozen
        ), updated AS (
            UPDATE {t["account"]} a SET credit_limit_cents = LEAST(c.new, c.old), limit_frozen = true,
                updated_at = now()
            FROM candidates c WHERE a.id = c.id
            RETURNING c.*, 'Automatic: ' || {MONEY_SQL.format(cents="c.overdue_cents", currency="c.currency")}
                || ' past due for ' || c.days || ' days.' AS reason
        )"""
    raise_prefix = f"""
        WITH candidates AS (
            SELECT a.id, a.team_id, a.credit_limit_cents AS old, a.balance_cents, a.currency,
                   GREATEST(a.credit_limit_cents, LEAST(
                       a.credit_limit_cents + a.credit_limit_cents * COALESCE(p.auto_raise_bps, %(bps)s) / 10000,
                       COALESCE(p.auto_limit_cap_cents, %(cap)s), %(max)s)) AS new
            FROM {t["account"]} a LEFT JOIN {t["policy"]} p ON p.team_id = a.team_id
            WHERE a.status = 'active' AND NOT a.limit_frozen AND a.credit_limit_cents > 0
              AND NOT (a.oldest_unpaid_due_date IS NOT NULL AND a.oldest_unpaid_due_date < %(today)s)
              AND NOT (a.last_overdue_on IS NOT NULL AND a.last_overdue_on >= %(late_since)s)
              AND a.balance_cents * 5 > a.credit_limit_cents * 4
              AND NOT EXISTS (SELECT 1 FROM {t["reminder"]} r JOIN {t["tx"]} tx ON tx.id = r.transaction_id
                              WHERE tx.account_id = a.id AND r.stage LIKE 'overdue%%'
                                AND r.sent_at >= %(late_since_at)s)
              AND NOT EXISTS (SELECT 1 FROM {t["change"]} ch WHERE ch.account_id = a.id AND ch.source = 'automatic'
                              AND COALESCE(ch.effective_on, (ch.created_at AT TIME ZONE %(tz)s)::date)
                                  >= %(cooldown_since)s)
        ), updated AS (
            UPDATE {t["account"]} a SET credit_limit_cents = c.new, updated_at = now()
            FROM candidates c WHERE a.id = c.id AND c.new > c.old
            RETURNING c.*, 'Automatic: ' || round(c.balance_cents * 100.0 / c.old)
                || '%% of the limit in use, paid on time for 6 months.' AS reason
        )"""
    thaw_prefix = f"""
        WITH updated AS (
            UPDATE {t["account"]} a SET limit_frozen = false, updated_at = now()
            WHERE a.limit_frozen AND NOT (a.status = ANY(%(late_statuses)s)
                  AND a.oldest_unpaid_due_date IS NOT NULL AND a.oldest_unpaid_due_date < %(today)s)
            RETURNING a.id, a.team_id
        )"""
    late_history, late_history_params = history("updated WHERE new < old")
    late_changed, late_changed_params = _event_insert(
        prefix="", source="updated WHERE new < old", event_type="credit.limit.changed", data=changed_data
    )
    late = _event_insert(
        prefix=f"{late_prefix}, history AS ({late_history} RETURNING 1), changed AS ({late_changed} RETURNING 1)",
        source="updated",
        event_type="credit.limit.frozen",
        data="jsonb_build_object('account_id', id::text, 'reason', reason)",
    )
    raise_history, raise_history_params = history("updated")
    raised = _event_insert(
        prefix=f"{raise_prefix}, history AS ({raise_history} RETURNING 1)",
        source="updated",
        event_type="credit.limit.changed",
        data=changed_data,
    )
    thaw = _event_insert(
        prefix=thaw_prefix,
        source="updated",
        event_type="credit.limit.unfrozen",
        data="jsonb_build_object('account_id', id::text, 'reason', 'Automatic: nothing is past due any more.')",
    )
    statements = [
        _late_marks_sql("late_statuses"),
        (late[0], {**late_history_params, **late_changed_params, **late[1]}),
        (raised[0], {**raise_history_params, **raised[1]}),
        thaw,
    ]
    params["tz"] = settings.TIME_ZONE
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for sql, statement_params in statements:
            cursor.execute(sql, {**statement_params, **params})
    run.sql_seconds = time.perf_counter() - started
    return run


BASELINES = {
    "payment_reminders_send": baseline_reminders,
    "overdue_check": baseline_overdue,
    "limit_adjustment_run": baseline_limits,
}


# --- Child processes ----------------------------------------------------------------------------


def _quiet_settings() -> None:
    """Production-like and unpaced: no query log, no pacing, the counting backend, quiet logs,
    and the in-process channel layer: like the mail server, the socket transport is not what is
    measured (the overdue check's status moves notify the team's admins: the rows are written,
    their pushes go to groups nobody listens to instead of one Redis round trip each)."""
    from django.conf import settings

    settings.DEBUG = False
    settings.EMAILS_PER_SECOND = 0
    settings.CREDIT_EMAILS_PER_SECOND = 0
    settings.EMAIL_BACKEND = f"{__name__}.CountingEmailBackend"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    for name in ("credit", "deelrx"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _time_rendering() -> list[float]:
    """Add up the time the project spends in `render_to_string` (wrapping it where it is imported)."""
    import importlib

    spent = [0.0]
    for module_name in ("deelrx.email", *JOBS.values()):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        real = getattr(module, "render_to_string", None)
        if real is None:
            continue

        def timed(*args, _real=real, **kwargs):
            started = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - started

        module.render_to_string = timed
    return spent


def child_project(job: str, today: date, *, second_run: bool = True) -> dict:
    import importlib

    func = getattr(importlib.import_module(JOBS[job]), job)
    rendering = _time_rendering()
    rss_before = _rss_mb()
    CountingEmailBackend.reset()
    started = time.perf_counter()
    summary = func(today=today)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "render_seconds": rendering[0],
        "summary": summary,
        "emails": [CountingEmailBackend.count, str(CountingEmailBackend.digest)],
        "rss_before_mb": rss_before,
        "rss_mb": _rss_mb(),
    }
    result["state"] = state_digest()
    if not second_run:
        return result
    CountingEmailBackend.reset()
    started = time.perf_counter()
    result["second_summary"] = func(today=today)
    result["second_seconds"] = time.perf_counter() - started
    result["second_emails"] = CountingEmailBackend.count
    result["second_state"] = state_digest()
    return result


def child_baseline(job: str, today: date) -> dict:
    rss_before = _rss_mb()
    CountingEmailBackend.reset()
    started = time.perf_counter()
    run = BASELINES[job](today)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "sql_seconds": run.sql_seconds,
        "render_seconds": run.render_seconds,
        "emails": [CountingEmailBackend.count, str(CountingEmailBackend.digest)],
        "rss_before_mb": rss_before,
        "rss_mb": _rss_mb(),
        "state": state_digest(),
    }


_running_app: str | None = None  # the database application name of the child running now


def _child_sessions_end() -> None:
    """End the database session of a child that was stopped: a statement still
    running there would keep its locks (and its work) after the process is gone."""
    global _running_app
    from django.db import connection

    if _running_app:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                [_running_app],
            )
        _running_app = None


def run_child(
    side: str, job: str, today: date, *, timeout: float = CHILD_TIMEOUT, second_run: bool = False
) -> dict | None:
    """Run one side of one job in a fresh process; its result (the last output
    line), or None when it did not finish within `timeout` seconds (then the
    process is killed and its database session ended, found by its own
    application name: the runner's, when it set one, so that the runner finds
    it too)."""
    global _running_app
    prefix = os.environ.get("PGAPPNAME") or LABEL
    app_name = _running_app = f"{prefix}-{side}-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "bench.bench_credit_jobs", "--child", side, "--job", job]
    if second_run:
        command.append("--second-run")
    try:
        process = subprocess.run(
            [*command, "--today", today.isoformat()],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PGAPPNAME": app_name, "DJANGO_DEBUG": os.environ.get("DJANGO_DEBUG", "true")},
        )
    except subprocess.TimeoutExpired:
        _child_sessions_end()
        return None
    _running_app = None
    lines = [line for line in process.stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        sys.stderr.write(process.stderr[-4000:])
        raise RuntimeError(f"{side} child for {job} failed (exit {process.returncode})")
    return json.loads(lines[-1].removeprefix("RESULT "))


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_credit_jobs")
    parser.add_argument("--child", choices=("project", "baseline"))
    parser.add_argument("--job", choices=sorted(JOBS))
    parser.add_argument("--today")
    parser.add_argument("--second-run", action="store_true", help="the project runs the job again (same day)")
    args = parser.parse_args(argv)
    if not args.child:
        from bench.harness import setup_django

        setup_django()
        return 0 if main() else 1
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deelrx.settings")
    os.environ.setdefault("DJANGO_DEBUG", "true")
    import django

    django.setup()
    _quiet_settings()
    today = date.fromisoformat(args.today)
    if args.child == "project":
        result = child_project(args.job, today, second_run=args.second_run)
    else:
        result = child_baseline(args.job, today)
    print("RESULT " + json.dumps(result, default=str), flush=True)
    return 0


# --- The benchmark ------------------------------------------------------------------------------


@dataclass
class JobResult:
    job: str
    accounts: int
    project: dict | None = None  # None: stopped at `cap_seconds`
    baseline: dict | None = None
    cap_seconds: float = CHILD_TIMEOUT
    problems: list[str] = field(default_factory=list)


def _cap_factor() -> float:
    """How many times the baseline's time the project may take before it is stopped (0 = never)."""
    return float(os.environ.get(CAP_VARIABLE, "").strip() or DEFAULT_CAP_FACTOR)


def _leftovers_drop() -> None:
    from bench.data import drop_team
    from deelrx.tenancy.models import Team

    for team_id in Team.objects.filter(slug__startswith=f"{LABEL}-").values_list("pk", flat=True):
        drop_team(team_id)


def _work_text(state: dict) -> str:
    events = ", ".join(f"{kind} {count:,}" for kind, (count, _) in state["events"].items()) or "none"
    return (
        f"{state['status_moves']:,} status moves, {state['late_marks']:,} late marks, "
        f"{state['reminders']:,} reminder rows, {state['limit_changes']:,} limit changes "
        f"({state['lowered']:,} lowered, {state['raised']:,} raised), {state['frozen']:,} frozen, "
        f"{state['unfrozen']:,} thawed; events: {events}"
    )


def _check_second_run(result: JobResult) -> None:
    p = result.project
    if p and "second_state" in p and (p["second_state"] != p["state"] or p["second_emails"]):
        result.problems.append(f"the second run changed something: {p['second_summary']}")


def _check_same_state(result: JobResult) -> None:
    p, b = result.project, result.baseline
    if not (p and b):
        return
    differ = [key for key in p["state"] if p["state"][key] != b["state"].get(key)]
    if "events" in differ:  # name the event types that differ
        kinds = sorted(set(p["state"]["events"]) | set(b["state"].get("events", {})))
        unequal = [k for k in kinds if p["state"]["events"].get(k) != b["state"].get("events", {}).get(k)]
        differ[differ.index("events")] = f"events ({', '.join(unequal)})"
    if p["emails"] != b["emails"]:
        differ.append(f"emails (project {p['emails'][0]:,}, baseline {b['emails'][0]:,})")
    if differ:
        result.problems.append("project and baseline states differ: " + ", ".join(map(str, differ)))


def _measure_job(job: str, accounts: int, today: date, *, with_baseline: bool) -> JobResult:
    """The baseline (optional) then the project, each from the snapshot state.
    Without a baseline (the memory base), the project runs twice (the second
    run must change nothing)."""
    result = JobResult(job=job, accounts=accounts)
    if with_baseline:
        result.baseline = run_child("baseline", job, today)
        snapshot_restore()
        factor = _cap_factor()
        if factor:
            result.cap_seconds = min(CHILD_TIMEOUT, max(CAP_MIN_SECONDS, factor * result.baseline["seconds"]))
    result.project = run_child("project", job, today, timeout=result.cap_seconds, second_run=not with_baseline)
    snapshot_restore()
    _check_second_run(result)
    _check_same_state(result)
    return result


def _dataset(accounts: int, today: date):
    from bench.data import credit_jobs_teams

    teams = credit_jobs_teams(label=f"{LABEL}-{uuid.uuid4().hex[:8]}", accounts=accounts, teams=TEAMS, as_of=today)
    snapshot_take()
    return teams


def _ledger_sample_check(teams) -> list:
    """verify_ledger on the smallest team (a quarter of the data: one query)."""
    from credit.services.ledger import verify_ledger

    return verify_ledger(team=teams[-1].team)


def _report_time(result: JobResult) -> bool:
    from bench.harness import Measurement, report

    p, b = result.project, result.baseline
    mib = 1024 * 1024
    title = (
        f"{result.job}: N = {result.accounts:,} accounts / {result.accounts:,} open debits, {TEAMS} teams"
        " (one run each; peak = RSS of the child process)"
    )
    baseline = Measurement("set-based SQL + same emails", b["seconds"], int(b["rss_mb"] * mib))
    if p is None:
        print(f"## {title}")
        print(f"  baseline  {baseline.name:<40} {baseline.seconds * 1000:9.2f} ms")
        print(
            f"  candidate project {result.job}: stopped after {result.cap_seconds:.0f} s"
            f" ({_cap_factor():g}x the baseline, {CAP_VARIABLE}=0 lets it finish)"
        )
        print(f"  time ratio > {result.cap_seconds / b['seconds']:.2f} (target <= {TARGET}) OVER TARGET")
        return False
    ok = report(
        title,
        Measurement(f"project {result.job}", p["seconds"], int(p["rss_mb"] * mib)),
        baseline,
        target_ratio=TARGET,
    )
    rest_p = p["seconds"] - p["render_seconds"]
    rest_b = b["seconds"] - b["render_seconds"]
    print(
        f"  rendering: project {p['render_seconds']:.1f} s, baseline {b['render_seconds']:.1f} s"
        f" ({p['emails'][0]:,} emails each); without it {rest_p:.1f} s vs {rest_b:.1f} s"
        f" = {rest_p / rest_b if rest_b else float('inf'):.2f}x (context, not the target)"
    )
    print(f"  same state in both: {_work_text(p['state'])}")
    for problem in result.problems:
        print(f"  PROBLEM: {problem}")
    return ok and not result.problems


def _report_memory(small: JobResult, large: JobResult) -> bool:
    title = f"## {large.job} memory (project, peak RSS of its process over the job's first run)"
    if not (small.project and large.project):
        print(f"{title}: no measurement at N = {large.accounts:,} (stopped) OVER TARGET")
        return False
    ratio = large.project["rss_mb"] / small.project["rss_mb"]
    peak = max(small.project["rss_mb"], large.project["rss_mb"])
    ok = ratio <= FLAT_TARGET and peak <= RSS_LIMIT_MB
    growth = [r.project["rss_mb"] - r.project["rss_before_mb"] for r in (small, large)]
    print(
        f"{title}: {small.project['rss_mb']:.0f} MB at N = {small.accounts:,},"
        f" {large.project['rss_mb']:.0f} MB at N = {large.accounts:,}: {ratio:.2f}x"
        f" (target <= {FLAT_TARGET}x and <= {RSS_LIMIT_MB} MB) {'OK' if ok else 'OVER TARGET'}"
    )
    print(f"  growth over the process before the job (Django loaded): {growth[0]:.0f} MB and {growth[1]:.0f} MB")
    return ok


def main() -> bool:
    from django.db import connection
    from django.utils import timezone

    from bench.harness import scale

    if connection.vendor != "postgresql":
        print("## Credit jobs: skipped (the data generation needs PostgreSQL; DATABASE_URL is SQLite)")
        return True
    today = timezone.localdate()
    large_n, small_n = scale(ACCOUNTS), scale(MEMORY_BASE_ACCOUNTS)
    _leftovers_drop()
    ok = True
    small: dict[str, JobResult] = {}
    try:
        print(f"# memory base: N = {small_n:,} accounts", flush=True)
        _dataset(small_n, today)
        for job in JOBS:
            small[job] = _measure_job(job, small_n, today, with_baseline=False)
            p = small[job].project
            print(
                f"  {job} at N = {small_n:,}: {p['seconds']:.1f} s, peak RSS {p['rss_mb']:.0f} MB;"
                f" second run (same day) {p['second_seconds']:.1f} s, {p['second_emails']} emails,"
                f" {p['second_summary']}",
                flush=True,
            )
            for problem in small[job].problems:
                print(f"  PROBLEM: {problem}")
                ok = False
        _leftovers_drop()
        print(f"# timed runs: N = {large_n:,} accounts", flush=True)
        teams = _dataset(large_n, today)
        problems = _ledger_sample_check(teams)
        if problems:
            print(f"  PROBLEM: verify_ledger reports {len(problems)} account(s): {problems[:3]}")
            ok = False
        for job in JOBS:
            result = _measure_job(job, large_n, today, with_baseline=True)
            ok = _report_time(result) and ok
            ok = _report_memory(small[job], result) and ok
            sys.stdout.flush()
    finally:
        _child_sessions_end()
        _leftovers_drop()
        snapshot_drop()
    return ok


if __name__ == "__main__":
    sys.exit(cli())
