"""Bulk benchmark data, generated in SQL on PostgreSQL: teams, users (with
memberships), customers, credit accounts and ledger rows, each with one
`INSERT … SELECT generate_series(…)`, so 100,000 accounts and 1,000,000
ledger rows take seconds, not the minutes of ORM inserts.

The data is consistent, as if every row had gone through the services:
- each account's `balance_cents` is the sum of its completed rows (one
  set-based UPDATE after the rows), `balance_after_cents` is the running sum,
  `last_payment_at` the last completed payment;
- the maintained figures (`credit.figures`: pending debits, unpaid parts,
  oldest unpaid due date) are rebuilt by `figures_recompute` when the project
  has it;
- it is realistic: charges (and a few fees and adjustments) with due dates 30
  days after their creation, so spread over the last months and the next
  weeks; customers pay the debits since their previous payment every fifth
  row; about one account in six has stopped paying (failed card payments)
  some days to months ago, so it has overdue debits and, past the grace
  period, is suspended or defaulted; some orders are cancelled, one account
  in five has a pending last row; a few accounts are closed (fully paid);
  four currencies.

`credit_team(...)` makes one team with all of that, `drop_team(...)` removes
it again with a few set-based DELETEs. Column lists come from the models, so
a column added to a model (with a default) needs no change here; a new
column without one is reported by name.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

ROLES = ("owner", "admin", "member", "viewer")
NORMAL_HISTORY_DAYS = (20, 200)  # each normal account's rows span between these many days
HEAVY_HISTORY_DAYS = 730  # the heavy account: two years of history, however many rows
# Its last rows are the same whatever its size (so two teams that differ only in its
# history length are alike today): HEAVY_TAIL_ROWS rows over the last HEAVY_TAIL_DAYS,
# the card payments of the last HEAVY_LATE_DAYS failed (some debits a little overdue).
HEAVY_TAIL_ROWS = 30
HEAVY_TAIL_DAYS = 60
HEAVY_LATE_DAYS = 45
DUE_DAYS = 30  # debits are due this many days after they are posted
CURRENCIES = ("usd", "usd", "usd", "usd", "usd", "usd", "usd", "eur", "gbp", "cad")
FIRST_NAMES = [
    "Ada",
    "Grace",
    "Alan",
    "Katherine",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "John",
    "Hedy",
    "Tim",
    "Shafi",
    "Niklaus",
    "Lynn",
    "Guido",
    "Sophie",
]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Johnson",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Hamilton",
    "Ritchie",
    "Perlman",
    "Backus",
    "Lamarr",
    "Berners-Lee",
    "Goldwasser",
    "Wirth",
    "Conway",
    "Rossum",
    "Wilson",
]


class DataError(RuntimeError):
    pass


def require_postgresql() -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        raise DataError("bench.data generates its rows with PostgreSQL's generate_series: set DATABASE_URL")


# --- Column lists from the models ------------------------------------------------------


def columns(model, values: dict[str, str]) -> tuple[list[str], list[str], dict]:
    """The columns of `model` to insert, their SQL expressions and the parameters
    they need. `values` maps column names to SQL expressions; any other column
    gets its database default, NULL, now() (auto_now fields) or the model
    field's default (as a parameter `%(default_<column>)s`)."""
    from django.db import connection
    from django.db.models import NOT_PROVIDED, AutoField, BigAutoField, DateTimeField, SmallAutoField

    names, exprs, params = [], [], {}
    known = set()
    for f in model._meta.concrete_fields:
        column = f.column
        known.add(column)
        if column in values:
            names.append(column)
            exprs.append(values[column])
            continue
        if isinstance(f, AutoField | BigAutoField | SmallAutoField) or getattr(f, "db_default", NOT_PROVIDED) is not (
            NOT_PROVIDED
        ):
            continue  # the database fills it in
        if isinstance(f, DateTimeField) and (f.auto_now or f.auto_now_add):
            names.append(column)
            exprs.append("now()")
            continue
        if f.null:
            continue
        if f.primary_key or f.unique or not (f.has_default() or f.empty_strings_allowed):
            raise DataError(f"bench.data: no value for the new column {model._meta.db_table}.{column}; add one")
        names.append(column)
        exprs.append(f"%(default_{column})s")
        params[f"default_{column}"] = f.get_db_prep_save(f.get_default(), connection)
    unknown = set(values) - known
    if unknown:
        raise DataError(f"bench.data: {model._meta.db_table} has no column(s) {sorted(unknown)}")
    return names, exprs, params


def insert_select_sql(model, values: dict[str, str], source: str, *, prefix: str = "", suffix: str = "") -> tuple:
    """`[prefix] INSERT INTO <table> (...) SELECT ... FROM <source> [suffix]` and its default parameters."""
    names, exprs, params = columns(model, values)
    sql = (
        f"{prefix} INSERT INTO {model._meta.db_table} ({', '.join(names)}) "
        f"SELECT {', '.join(exprs)} FROM {source} {suffix}"
    )
    return sql, params


def insert_values_sql(model, values: dict[str, str]) -> tuple[str, dict]:
    """`INSERT INTO <table> (...) VALUES (...)` for one row: `values` maps columns to
    placeholders such as `%(amount)s`; the defaults of the other columns are in the
    returned parameters (merge your own into them). Used by the raw baselines."""
    names, exprs, params = columns(model, values)
    return f"INSERT INTO {model._meta.db_table} ({', '.join(names)}) VALUES ({', '.join(exprs)})", params


# --- Teams and users -----------------------------------------------------------------------


def create_teams(count: int, *, label: str) -> list[int]:
    """`count` teams named after `label` (slugs `<label>-<n>`); their ids."""
    from django.db import connection

    from deelrx.tenancy.models import Team

    sql, params = insert_select_sql(
        Team,
        {"name": "%(label)s || ' ' || g.i", "slug": "%(label)s || '-' || g.i"},
        "generate_series(1, %(count)s) AS g(i)",
        suffix="RETURNING id",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "label": label, "count": count})
        return sorted(row[0] for row in cursor.fetchall())


def create_members(team_id: int, *, label: str, roles=ROLES) -> dict[str, int]:
    """One user per role, member of the team: {role: user id}. Unusable passwords."""
    from django.db import connection

    from deelrx.tenancy.models import Membership, User

    users_sql, users_params = insert_select_sql(
        User,
        {
            "password": "'!' || md5(random()::text)",
            "username": "%(label)s || '-' || r.role",
            "email": "%(label)s || '-' || r.role || '@bench.example'",
            "first_name": "initcap(r.role)",
            "last_name": "'Bench'",
            "is_active": "true",
            "is_staff": "false",
            "is_superuser": "false",
            "date_joined": "now()",
        },
        "unnest(%(roles)s::text[]) WITH ORDINALITY AS r(role, i) ORDER BY r.i",
        suffix="RETURNING id, username",
    )
    members_sql, members_params = insert_select_sql(
        Membership,
        {"user_id": "u.id", "team_id": "%(team_id)s", "role": "split_part(u.username, '-', -1)"},
        f"{User._meta.db_table} u WHERE u.id = ANY(%(user_ids)s)",
    )
    with connection.cursor() as cursor:
        cursor.execute(users_sql, {**users_params, "label": label, "roles": list(roles)})
        users = {username.rsplit("-", 1)[1]: pk for pk, username in cursor.fetchall()}
        cursor.execute(members_sql, {**members_params, "team_id": team_id, "user_ids": list(users.values())})
    return users


def api_token(user_id: int) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user_id=user_id)[0].key


# --- Credit ------------------------------------------------------------------------------


@dataclass
class BenchTeam:
    team_id: int
    label: str
    users: dict[str, int]
    accounts: int
    ledger_rows: int
    heavy_account_id: uuid.UUID | None = None
    heavy_customer_id: uuid.UUID | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def team(self):
        from deelrx.tenancy.models import Team

        return Team.objects.get(pk=self.team_id)

    def user(self, role: str):
        from deelrx.tenancy.models import User

        return User.objects.get(pk=self.users[role])


# Per account (temporary table, one row per account; k = 0 is the heavy account):
# how many rows, over how long (the last `tail_rows` of them over the last
# `tail_span`), ending when, when its payments started failing, where its
# payment cycle starts, its status and settings.
_ACCOUNT_PLAN = """
CREATE TEMPORARY TABLE bench_plan ON COMMIT DROP AS
WITH base AS (
    SELECT g.k::bigint AS k,
           0.2 + 1.6 * ((g.k * 0.6180339887498949) - floor(g.k * 0.6180339887498949)) AS weight
    FROM generate_series(1, %(accounts)s) AS g(k)
), normal AS (
    SELECT k,
           (floor(%(rows)s * SUM(weight) OVER (ORDER BY k) / SUM(weight) OVER ())
            - floor(%(rows)s * (SUM(weight) OVER (ORDER BY k) - weight) / SUM(weight) OVER ()))::int AS n_rows,
           make_interval(days => (%(min_days)s + (k * 53) %% (%(max_days)s - %(min_days)s))::int) AS span,
           make_interval(mins => ((k * 7919) %% 4320)::int) AS ended_ago,
           (CASE WHEN k %% 6 = 1 THEN 10 + (k * 37) %% 160 ELSE 0 END)::int AS late_days,
           (k %% 5)::int AS shift,
           k %% 33 = 0 AS closed,
           k %% 5 = 0 AS pending_tail,
           0 AS tail_rows,
           interval '0' AS tail_span
    FROM base
), plan AS (
    SELECT k, n_rows, span, ended_ago, late_days, shift, closed, pending_tail, tail_rows, tail_span FROM normal
    UNION ALL
    -- its last row is a (pending) charge right after a payment
    SELECT 0, %(heavy_rows)s, make_interval(days => %(heavy_days)s - %(heavy_tail_days)s), interval '1 hour',
           %(heavy_late)s, (5 - (%(heavy_rows)s - 1) %% 5) %% 5, false, true,
           LEAST(%(heavy_tail)s, %(heavy_rows)s), make_interval(days => %(heavy_tail_days)s)
    WHERE %(heavy_rows)s > 0
)
SELECT k,
       gen_random_uuid() AS customer_id,
       gen_random_uuid() AS account_id,
       -- a closed account has paid everything: its history ends on a payment
       CASE WHEN closed THEN n_rows - n_rows %% 5 ELSE n_rows END AS n_rows,
       CASE WHEN closed THEN 0 ELSE shift END AS shift,
       span, now() - ended_ago AS ended_at, late_days, closed, pending_tail AND NOT closed AS pending_tail,
       tail_rows, tail_span,
       CASE WHEN closed THEN 'closed'
            WHEN late_days - %(due_days)s > 90 THEN 'defaulted'
            WHEN late_days - %(due_days)s > 30 THEN 'suspended'
            ELSE 'active' END AS status,
       (%(currencies)s::text[])[1 + k %% %(n_currencies)s] AS currency,
       (5 + (k * 13) %% 96) * 10000 AS base_limit_cents
FROM plan
"""

# The ledger rows of every planned account, in steps: what each row is, how
# much (every fifth row a payment pays the completed rows since the previous
# one; a first row in a payment's place is a charge, paid with the next), the running
# balance after it, and the unpaid part of each completed debit (what the
# final balance leaves after the newer debits: settled first in, first out by
# due date, as `credit.figures` defines it; every debit here has a due date).
_LEDGER_ROWS = """
WITH slots AS (
    SELECT p.k, p.account_id, p.late_days, g.j::bigint AS j,
           CASE WHEN g.j >= p.n_rows - p.tail_rows
                THEN p.ended_at - p.tail_span * ((p.n_rows - 1 - g.j)::float8 / p.tail_rows)
                ELSE p.ended_at - p.tail_span - p.span * ((p.n_rows - p.tail_rows - 1 - g.j)::float8
                                                          / GREATEST(p.n_rows - p.tail_rows - 1, 1))
                END AS created_at,
           (g.j + p.shift) %% 5 AS slot,
           p.pending_tail AND g.j = p.n_rows - 1 AS last_pending
    FROM bench_plan p CROSS JOIN LATERAL generate_series(0, p.n_rows - 1) AS g(j)
), typed AS (
    SELECT s.*,
           CASE WHEN slot = 4 AND j > 0 THEN 'payment'
                WHEN slot = 2 AND (j * 13 + k) %% 19 = 0 THEN 'adjustment'
                WHEN slot = 1 AND (j * 17 + k) %% 101 = 0 THEN 'adjustment'
                WHEN (j * 31 + k) %% 23 = 0 THEN 'fee'
                ELSE 'charge' END AS type,
           CASE WHEN slot = 4 AND j > 0 THEN 0
                WHEN slot = 2 AND (j * 13 + k) %% 19 = 0 THEN -(100 + (j * 7 + k) %% 900)
                WHEN slot = 1 AND (j * 17 + k) %% 101 = 0 THEN 100 + (j * 11 + k) %% 900
                WHEN (j * 31 + k) %% 23 = 0 THEN 500 + ((j + k) %% 5) * 500
                ELSE 500 + (j * 7919 + k * 104729) %% 20000 END AS base_cents
    FROM slots s
), statused AS (
    SELECT t.*,
           CASE WHEN last_pending THEN 'pending'
                WHEN type = 'payment' AND created_at > now() - make_interval(days => late_days) THEN 'failed'
                WHEN type = 'charge' AND (j * 7 + k) %% 41 = 0 THEN 'cancelled'
                ELSE 'completed' END AS status,
           type <> 'payment' AND base_cents > 0 AS debit
    FROM typed t
), amounts AS (
    SELECT st.*,
           CASE WHEN type = 'payment' THEN GREATEST(0,
                    SUM(CASE WHEN type <> 'payment' AND status = 'completed' THEN base_cents ELSE 0 END)
                        OVER (PARTITION BY k ORDER BY j ROWS BETWEEN 5 PRECEDING AND 1 PRECEDING))
                ELSE base_cents END AS amount_cents,
           CASE WHEN debit THEN (created_at + make_interval(days => %(due_days)s))::date END AS due_date
    FROM statused st
), effects AS (
    SELECT a.*,
           CASE WHEN status <> 'completed' THEN 0 WHEN type = 'payment' THEN -amount_cents
                ELSE amount_cents END AS effect,
           CASE WHEN debit AND status = 'completed' THEN amount_cents ELSE 0 END AS completed_debit
    FROM amounts a
    WHERE amount_cents <> 0
), rows AS (
    SELECT e.*,
           CASE WHEN status = 'completed' THEN SUM(effect) OVER (PARTITION BY k ORDER BY j) END AS balance_after,
           CASE WHEN completed_debit > 0 THEN LEAST(amount_cents, GREATEST(0,
                    SUM(effect) OVER (PARTITION BY k)
                    - COALESCE(SUM(completed_debit) OVER (PARTITION BY k ORDER BY due_date DESC NULLS FIRST,
                          created_at DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)))
                ELSE 0 END AS outstanding
    FROM effects e
)
"""


def _ledger_values(team_id_param: str) -> dict[str, str]:
    values = {
        "id": "gen_random_uuid()",
        "team_id": team_id_param,
        "account_id": "r.account_id",
        "type": "r.type",
        "amount_cents": "r.amount_cents",
        "status": "r.status",
        "description": (
            "CASE r.type WHEN 'charge' THEN 'Order ' || (100000 + r.k * 1000 + r.j %% 1000)"
            " WHEN 'fee' THEN 'Late fee' WHEN 'payment' THEN 'Card payment'"
            " WHEN 'adjustment' THEN 'Correction' END"
        ),
        "due_date": "r.due_date",
        # integrations send an Idempotency-Key with some of their postings
        "idempotency_key": "CASE WHEN r.j %% 4 = 0 THEN 'bench-' || r.k || '-' || r.j ELSE '' END",
        "balance_after_cents": "r.balance_after",
        "stripe_payment_intent_id": (
            "CASE WHEN r.type = 'payment' AND r.j %% 3 = 0 THEN 'pi_bench_' || r.k || '_' || r.j ELSE '' END"
        ),
        "attempt_count": "CASE WHEN r.type = 'payment' THEN 1 ELSE 0 END",
        "last_attempt_at": "CASE WHEN r.type = 'payment' THEN r.created_at END",
        "created_by_id": "CASE WHEN r.j %% 3 = 0 THEN %(user_id)s::bigint END",
        "completed_at": "CASE WHEN r.status = 'completed' THEN r.created_at END",
        "created_at": "r.created_at",
        "updated_at": "r.created_at",
    }
    if _has_column(_model("credit", "CreditTransaction"), "outstanding_cents"):
        # the maintained figure, when the project has it (figures_recompute then confirms it)
        values["outstanding_cents"] = "r.outstanding"
    return values


def _model(app: str, name: str):
    from django.apps import apps

    return apps.get_model(app, name)


def _has_column(model, column: str) -> bool:
    return any(f.column == column for f in model._meta.concrete_fields)


def credit_team(
    *,
    label: str,
    accounts: int,
    ledger_rows: int,
    heavy_account_rows: int = 0,
    roles=ROLES,
    analyze: bool = True,
    verbose: bool = True,
) -> BenchTeam:
    """A team with one user per role, `accounts` customers with a credit account
    each and about `ledger_rows` ledger rows over them; with `heavy_account_rows`
    one more account (the team's oldest) that has that many rows on its own.
    PostgreSQL only. Remove it with `drop_team`."""
    from django.db import connection, transaction

    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer

    require_postgresql()
    timings: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = now - started
        started = now

    with transaction.atomic():
        (team_id,) = create_teams(1, label=label)
        users = create_members(team_id, label=label, roles=roles)
        lap("team and users")
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            _skip_foreign_key_checks(cursor)
            cursor.execute(
                _ACCOUNT_PLAN,
                {
                    "accounts": accounts,
                    "rows": ledger_rows,
                    "min_days": NORMAL_HISTORY_DAYS[0],
                    "max_days": NORMAL_HISTORY_DAYS[1],
                    "heavy_rows": heavy_account_rows,
                    "heavy_days": HEAVY_HISTORY_DAYS,
                    "heavy_late": HEAVY_LATE_DAYS,
                    "heavy_tail": HEAVY_TAIL_ROWS,
                    "heavy_tail_days": HEAVY_TAIL_DAYS,
                    "due_days": DUE_DAYS,
                    "currencies": list(CURRENCIES),
                    "n_currencies": len(CURRENCIES),
                },
            )
            cursor.execute("ANALYZE bench_plan")
            sql, params = insert_select_sql(
                Customer,
                {
                    "id": "p.customer_id",
                    "team_id": "%(team_id)s",
                    "first_name": f"(%(first)s::text[])[1 + p.k %% {len(FIRST_NAMES)}]",
                    "last_name": f"(%(last)s::text[])[1 + (p.k / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}]",
                    "email": "'customer' || p.k || '@' || %(label)s || '.example'",
                    "phone": "'+1 555 ' || lpad((p.k %% 10000)::text, 4, '0')",
                    "is_active": "NOT p.closed",
                    "created_at": "p.ended_at - p.span - interval '1 day'",
                    "updated_at": "p.ended_at - p.span - interval '1 day'",
                },
                "bench_plan p ORDER BY p.k",
            )
            with _IndexesDeferred(cursor, Customer, rows=accounts):
                cursor.execute(
                    sql, {**params, "team_id": team_id, "first": FIRST_NAMES, "last": LAST_NAMES, "label": label}
                )
            sql, params = insert_select_sql(
                CreditAccount,
                {
                    "id": "p.account_id",
                    "team_id": "%(team_id)s",
                    "customer_id": "p.customer_id",
                    "credit_limit_cents": "p.base_limit_cents",
                    "currency": "p.currency",
                    "status": "p.status",
                    "grace_period_days": "30",
                    "interest_rate_bps": "CASE WHEN p.k %% 4 = 0 THEN 1500 ELSE 0 END",
                    "limit_frozen": "p.late_days > %(due_days)s",
                    "last_overdue_on": "CASE WHEN p.late_days > %(due_days)s THEN current_date - 1 END",
                    "status_changed_at": "CASE WHEN p.status <> 'active' THEN now() - interval '1 day' END",
                    "created_at": "p.ended_at - p.span - interval '1 day'",
                    "updated_at": "now()",
                },
                "bench_plan p ORDER BY p.k",
            )
            # The accounts' indexes are built once at the end, after the balance and
            # figures updates (which rewrite every account row) rather than kept up to date.
            with _IndexesDeferred(cursor, CreditAccount, rows=accounts):
                cursor.execute(sql, {**params, "team_id": team_id, "due_days": DUE_DAYS})
                lap("customers and accounts")
                # in primary-key order: the one index kept during the insert is appended to, not torn up
                sql, params = insert_select_sql(
                    CreditTransaction,
                    _ledger_values("%(team_id)s"),
                    "rows r",
                    prefix=_LEDGER_ROWS,
                    suffix="ORDER BY 1",
                )
                with _IndexesDeferred(cursor, CreditTransaction, rows=ledger_rows + heavy_account_rows) as deferred:
                    cursor.execute(
                        sql, {**params, "team_id": team_id, "user_id": users.get("member"), "due_days": DUE_DAYS}
                    )
                    inserted = cursor.rowcount
                    lap("ledger rows")
                if deferred.dropped:
                    lap("ledger indexes")
                # statistics that know the new rows, or the planner takes the tables for empty
                for model in (CreditTransaction, CreditAccount, Customer):
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
                lap("analyze")
                account_balances_update(team_id)
                lap("balances")
                heavy = None
                if heavy_account_rows:
                    cursor.execute(
                        f"SELECT a.id, a.customer_id FROM {CreditAccount._meta.db_table} a"
                        " JOIN bench_plan p ON p.account_id = a.id WHERE p.k = 0"
                    )
                    heavy = cursor.fetchone()
                if figures_rebuild(team_id):
                    lap("figures")
            lap("account indexes")
    if analyze:
        vacuum_analyze()
        lap("vacuum analyze")
    result = BenchTeam(
        team_id=team_id,
        label=label,
        users=users,
        accounts=accounts + (1 if heavy_account_rows else 0),
        ledger_rows=inserted,
        heavy_account_id=heavy[0] if heavy else None,
        heavy_customer_id=heavy[1] if heavy else None,
        timings=timings,
    )
    if verbose:
        steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in timings.items())
        print(f"  data: team {label}: {result.accounts:,} accounts, {inserted:,} ledger rows ({steps})")
    return result


def account_balances_update(team_id: int) -> None:
    """One set-based UPDATE: every account's balance from the sum of its completed
    rows, its last payment, and a limit that fits what it owes (late payers get
    their limit frozen at the balance, as the limit job does); the maintained
    pending debits and oldest unpaid due date too, when the project has them."""
    from django.db import connection

    from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction

    accounts, ledger = CreditAccount._meta.db_table, CreditTransaction._meta.db_table
    figures = ""
    if _has_column(CreditAccount, "pending_debits_cents"):
        figures += ", pending_debits_cents = COALESCE(s.pending, 0)"
    if _has_column(CreditAccount, "oldest_unpaid_due_date") and _has_column(CreditTransaction, "outstanding_cents"):
        figures += ", oldest_unpaid_due_date = s.oldest_unpaid"
    unpaid = (
        "MIN(due_date) FILTER (WHERE outstanding_cents > 0)"
        if _has_column(CreditTransaction, "outstanding_cents")
        else "NULL::date"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {accounts} a SET
                balance_cents = COALESCE(s.balance, 0),
                last_payment_at = s.last_payment,
                credit_limit_cents = CASE
                    WHEN a.status = 'closed' THEN a.credit_limit_cents
                    WHEN a.limit_frozen THEN GREATEST(COALESCE(s.balance, 0), 0)
                    ELSE LEAST(%(max)s, GREATEST(a.credit_limit_cents,
                        CEIL((COALESCE(s.balance, 0) + COALESCE(s.pending, 0)) * 1.25 / 10000.0)::bigint * 10000))
                    END
                {figures}
            FROM (
                SELECT account_id,
                       SUM(CASE WHEN type = 'payment' THEN -amount_cents ELSE amount_cents END)
                           FILTER (WHERE status = 'completed') AS balance,
                       SUM(amount_cents) FILTER (WHERE status = 'pending' AND amount_cents > 0
                           AND type <> 'payment') AS pending,
                       MAX(completed_at) FILTER (WHERE status = 'completed' AND type = 'payment') AS last_payment,
                       {unpaid} AS oldest_unpaid
                FROM {ledger} WHERE team_id = %(team_id)s GROUP BY account_id
            ) s
            WHERE a.id = s.account_id AND a.team_id = %(team_id)s
            """,
            {"team_id": team_id, "max": MAX_AMOUNT_CENTS},
        )


class _IndexesDeferred:
    """Inside a transaction: drop the secondary indexes of `model`'s table (not
    the primary key or constraint indexes) and create them again on exit, so
    that a bulk insert writes the heap only and each index is built once by a
    sort, instead of a million random index insertions. Only worth it (and
    only done) for an insert of at least `min_rows` rows that is at least a
    quarter of the table. DDL is transactional: if anything fails, the
    rollback brings the indexes back untouched."""

    def __init__(self, cursor, model, *, rows: int, min_rows: int = 50_000):
        self.cursor, self.table, self.rows, self.min_rows = cursor, model._meta.db_table, rows, min_rows
        self.dropped: list[tuple[str, str]] = []

    def __enter__(self):
        self.cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [self.table])
        existing = max(self.cursor.fetchone()[0], 0)
        if self.rows < self.min_rows or self.rows * 4 < existing:
            return self
        self.cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisprimary"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [self.table],
        )
        self.dropped = self.cursor.fetchall()
        for name, _ in self.dropped:
            self.cursor.execute(f"DROP INDEX {name}")
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self.dropped:
            # Django's foreign keys are deferred: their pending checks must run before an index is built
            self.cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            self.cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for _, definition in self.dropped:
                self.cursor.execute(definition)
            self.cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        return False


def _skip_foreign_key_checks(cursor) -> bool:
    """The rows are generated consistent with their foreign keys by construction:
    skip the per-row checks (millions of lookups) for this transaction, as
    pg_restore --disable-triggers does. Needs a superuser (the local and CI
    setups); without one the checks simply run."""
    try:
        with transaction_savepoint():
            cursor.execute("SET LOCAL session_replication_role = replica")
        return True
    except Exception:  # not permitted: keep the checks
        return False


def transaction_savepoint():
    from django.db import transaction

    return transaction.atomic()


def figures_rebuild(team_id: int, *, account_ids=None) -> bool:
    """Rebuild the maintained figures of the team (or of some of its accounts)
    with `credit.figures.figures_recompute` when the project has it (False
    when it does not)."""
    try:
        from credit.figures import figures_recompute
    except ImportError:
        return False
    from deelrx.tenancy.models import Team

    figures_recompute(team=Team.objects.get(pk=team_id), account_ids=account_ids)
    return True


def vacuum_analyze() -> None:
    """What autovacuum would have done by the time anyone reads the rows:
    visibility map (index-only scans) and planner statistics."""
    from django.db import connection

    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer

    with connection.cursor() as cursor:
        for model in (CreditTransaction, CreditAccount, Customer):
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")


def drop_team(team: BenchTeam | int) -> None:
    """Delete a generated team and everything in it: set-based DELETEs of the big
    tables (the team's audit log rows too, as a purge would), then the ORM for
    the team itself and its users. The per-row foreign-key checks of those
    DELETEs are skipped (as for the inserts) when every table that references
    the deleted tables is among them, so nothing can be left dangling."""
    from django.db import connection, transaction

    from credit.models import CreditAccount, CreditLimitChange, CreditTransaction, IdempotencyRecord, PaymentReminder
    from deelrx.audit.models import ActivityEvent
    from deelrx.tenancy.models import Customer, Membership, Team, User

    team_id = team.team_id if isinstance(team, BenchTeam) else team
    by_team = (ActivityEvent, CreditTransaction, CreditLimitChange, IdempotencyRecord, CreditAccount, Customer)
    tables = [PaymentReminder._meta.db_table] + [model._meta.db_table for model in by_team]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = ANY(%s::regclass[])",
            [tables],
        )
        if {row[0] for row in cursor.fetchall()} <= set(tables):
            _skip_foreign_key_checks(cursor)
        cursor.execute(f"SELECT user_id FROM {Membership._meta.db_table} WHERE team_id = %s", [team_id])
        user_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"DELETE FROM {PaymentReminder._meta.db_table} WHERE transaction_id IN"
            f" (SELECT id FROM {CreditTransaction._meta.db_table} WHERE team_id = %s)",
            [team_id],
        )
        for model in by_team:
            cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE team_id = %s", [team_id])
        cursor.execute("SET LOCAL session_replication_role = DEFAULT")
        Team.objects.filter(pk=team_id).delete()
        # only the users that belong to no other team
        User.objects.filter(pk__in=user_ids, memberships__isnull=True).delete()


def today() -> dt.date:
    from django.utils import timezone

    return timezone.localdate()


# --- Credit jobs: one open debit per account ----------------------------------------------
#
# `credit_jobs_teams` (used by bench_credit_jobs) makes teams whose accounts each owe
# exactly one completed, unpaid debit, with due dates chosen so that the three credit
# jobs all have work. Per account k, `k % 20` picks its kind (shares of the accounts):
#   0-3   due in 0-7 days, 50% used                       reminders (due_in_7/1/today)
#   4-6   7-30 days past due, limit 2x the balance         reminders, late mark, lower + freeze
#   7-8   31-89 days past due, active                      reminders, suspended, lower + freeze
#   9     90-120 days past due, active                     reminders, defaulted, lower + freeze
#   10    60-120 days past due, already suspended          reminders, defaulted from 90, lower + freeze
#   11    100-120 days past due, defaulted, frozen         late mark only (no reminders)
#   12-15 due in 10-29 days, 81-99% used (15: late 100 days ago)  raises (some capped, some at cap)
#   16-17 due in 10-29 days, frozen                         thaw
#   18-19 due in 10-29 days, 30% used                       nothing
# Every 7th account has a 45-day grace period, every 97th customer no email address.

_JOBS_PLAN = """
CREATE TEMPORARY TABLE bench_jobs_plan ON COMMIT DROP AS
WITH base AS (
    SELECT g.k::bigint AS k, g.k %% 20 AS kind, (g.k / 20) AS step,
           (1000 + (g.k * 7919) %% 200000)::bigint AS owed
    FROM generate_series(1, %(accounts)s) AS g(k)
), planned AS (
    SELECT k, kind,
           CASE WHEN kind <= 3 THEN step %% 8
                WHEN kind <= 6 THEN -(7 + step %% 24)
                WHEN kind <= 8 THEN -(31 + step %% 59)
                WHEN kind = 9 THEN -(90 + step %% 31)
                WHEN kind = 10 THEN -(60 + step %% 61)
                WHEN kind = 11 THEN -(100 + step %% 21)
                ELSE 10 + step %% 20 END AS due_in,
           CASE WHEN kind BETWEEN 12 AND 15 THEN (10 + (k * 13) %% 1200) * 1000 ELSE owed END AS base_cents,
           CASE kind WHEN 10 THEN 'suspended' WHEN 11 THEN 'defaulted' ELSE 'active' END AS status,
           kind IN (11, 16, 17) AS frozen
    FROM base
)
SELECT k, kind, due_in, status, frozen,
       gen_random_uuid() AS customer_id,
       gen_random_uuid() AS account_id,
       -- good payers: the limit is base_cents and they owe 81 to 99 percent of it
       CASE WHEN kind BETWEEN 12 AND 15 THEN base_cents / 100 * (81 + k %% 19) ELSE base_cents END AS owed_cents,
       CASE WHEN kind BETWEEN 12 AND 15 THEN base_cents
            WHEN kind = 11 THEN base_cents
            WHEN kind BETWEEN 18 AND 19 THEN base_cents * 10 / 3
            ELSE base_cents * 2 END AS limit_cents,
       CASE WHEN k %% 7 = 0 THEN 45 ELSE 30 END AS grace_days,
       CASE WHEN k %% 53 = 7 THEN 'fee' ELSE 'charge' END AS type,
       CASE WHEN kind = 11 THEN 1 WHEN kind = 15 THEN 100 END AS late_days_ago,
       (%(currencies)s::text[])[1 + k %% %(n_currencies)s] AS currency,
       k %% %(teams)s AS team_index
FROM planned
"""


def _jobs_plan(cursor, *, accounts: int, teams: int) -> None:
    """The temporary plan table: one row per account (see the kinds above)."""
    cursor.execute(
        _JOBS_PLAN,
        {"accounts": accounts, "teams": teams, "currencies": list(CURRENCIES), "n_currencies": len(CURRENCIES)},
    )
    cursor.execute("ANALYZE bench_jobs_plan")


def _jobs_customers(cursor, *, team_ids: list[int], label: str) -> None:
    from deelrx.tenancy.models import Customer

    sql, params = insert_select_sql(
        Customer,
        {
            "id": "p.customer_id",
            "team_id": "(%(team_ids)s::bigint[])[1 + p.team_index]",
            "first_name": f"(%(first)s::text[])[1 + p.k %% {len(FIRST_NAMES)}]",
            "last_name": f"(%(last)s::text[])[1 + (p.k / {len(FIRST_NAMES)}) %% {len(LAST_NAMES)}]",
            "email": "CASE WHEN p.k %% 97 = 0 THEN '' ELSE 'customer' || p.k || '@' || %(label)s || '.example' END",
            "is_active": "true",
        },
        "bench_jobs_plan p ORDER BY p.k",
    )
    cursor.execute(sql, {**params, "team_ids": team_ids, "first": FIRST_NAMES, "last": LAST_NAMES, "label": label})


def _jobs_accounts(cursor, *, team_ids: list[int], today: dt.date) -> None:
    from credit.models import CreditAccount

    sql, params = insert_select_sql(
        CreditAccount,
        {
            "id": "p.account_id",
            "team_id": "(%(team_ids)s::bigint[])[1 + p.team_index]",
            "customer_id": "p.customer_id",
            "credit_limit_cents": "p.limit_cents",
            "balance_cents": "p.owed_cents",
            "currency": "p.currency",
            "status": "p.status",
            "grace_period_days": "p.grace_days",
            "limit_frozen": "p.frozen",
            "last_overdue_on": "%(today)s::date - p.late_days_ago",
            "oldest_unpaid_due_date": "%(today)s::date + p.due_in",
            "status_changed_at": "CASE WHEN p.status <> 'active' THEN now() - interval '20 days' END",
            "created_at": "now() - interval '400 days'",
        },
        "bench_jobs_plan p ORDER BY p.k",
    )
    cursor.execute(sql, {**params, "team_ids": team_ids, "today": today})


def _jobs_debits(cursor, *, team_ids: list[int], today: dt.date) -> int:
    """The one completed debit of every account, due `due_in` days from `today`."""
    from credit.models import CreditTransaction

    created = "(%(today)s::date + p.due_in - 30)::timestamptz + interval '10 hours'"
    sql, params = insert_select_sql(
        CreditTransaction,
        {
            "id": "gen_random_uuid()",
            "team_id": "(%(team_ids)s::bigint[])[1 + p.team_index]",
            "account_id": "p.account_id",
            "type": "p.type",
            "amount_cents": "p.owed_cents",
            "status": "'completed'",
            "description": "CASE p.type WHEN 'fee' THEN 'Late fee' ELSE 'Order ' || (100000 + p.k) END",
            "due_date": "%(today)s::date + p.due_in",
            "balance_after_cents": "p.owed_cents",
            "outstanding_cents": "p.owed_cents",
            "completed_at": created,
            "created_at": created,
            "updated_at": created,
        },
        "bench_jobs_plan p ORDER BY p.k",
    )
    cursor.execute(sql, {**params, "team_ids": team_ids, "today": today})
    return cursor.rowcount


def _jobs_analyze() -> None:
    """Planner statistics of the tables just filled (ANALYZE only: the VACUUM comes after the rebuild)."""
    from django.db import connection

    from credit.models import CreditAccount, CreditTransaction
    from deelrx.tenancy.models import Customer

    with connection.cursor() as cursor:
        for model in (CreditTransaction, CreditAccount, Customer):
            cursor.execute(f"ANALYZE {model._meta.db_table}")


def _jobs_policy(team_ids: list[int]) -> None:
    """The second team has its own raise policy (5% up to $20,000); the others the defaults."""
    from credit.models import CreditTeamPolicy

    if len(team_ids) > 1:
        CreditTeamPolicy.objects.create(team_id=team_ids[1], auto_limit_cap_cents=2_000_000, auto_raise_bps=500)


def credit_jobs_teams(
    *, label: str, accounts: int, teams: int = 4, as_of: dt.date | None = None, verbose: bool = True
) -> list[BenchTeam]:
    """`teams` teams (one user per role each, so owners and admins with email
    addresses) sharing `accounts` credit accounts round-robin, each account
    owing one completed debit due relative to `as_of` (default today; see the
    kinds above); the second team with its own `CreditTeamPolicy`. The rows
    (figures included) are committed and analyzed, then the maintained figures
    rebuilt with `figures_recompute` (no figure changes unless this generator
    and the ledger rules disagree), then VACUUM ANALYZE. PostgreSQL only.
    Remove each team with `drop_team`."""
    from django.db import connection, transaction
    from django.db.models import Count

    from credit.models import CreditAccount

    require_postgresql()
    as_of = as_of or today()
    started = time.perf_counter()
    with transaction.atomic():
        team_ids = create_teams(teams, label=label)
        users = {team_id: create_members(team_id, label=f"{label}-t{n}") for n, team_id in enumerate(team_ids)}
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL work_mem = '256MB'")
            _skip_foreign_key_checks(cursor)
            _jobs_plan(cursor, accounts=accounts, teams=teams)
            _jobs_customers(cursor, team_ids=team_ids, label=label)
            _jobs_accounts(cursor, team_ids=team_ids, today=as_of)
            rows = _jobs_debits(cursor, team_ids=team_ids, today=as_of)
        _jobs_policy(team_ids)
    # The figures are written right away (one debit, unpaid in full) and analyzed before the
    # rebuild: with statistics saying that no debit is unpaid, its per-account subqueries
    # would scan the whole unpaid index once per account.
    _jobs_analyze()
    for team_id in team_ids:
        figures_rebuild(team_id)
    vacuum_analyze()
    counts = CreditAccount.objects.filter(team_id__in=team_ids).values("team_id").order_by()
    counts = dict(counts.annotate(n=Count("pk")).values_list("team_id", "n"))
    result = [
        BenchTeam(
            team_id=team_id,
            label=f"{label}-t{n}",
            users=users[team_id],
            accounts=counts.get(team_id, 0),
            ledger_rows=counts.get(team_id, 0),
        )
        for n, team_id in enumerate(team_ids)
    ]
    if verbose:
        print(
            f"  data: {teams} teams {label}: {accounts:,} accounts, {rows:,} open debits"
            f" ({time.perf_counter() - started:.1f} s)"
        )
    return result
