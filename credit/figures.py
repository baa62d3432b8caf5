"""The ledger's derived figures — defined here and nowhere else.

Definitions
- A **debit** raises the balance: a charge, a fee or a positive adjustment.
  A **credit** lowers it: a payment or a negative adjustment.
- **Pending debits** (`CreditAccount.pending_debits_cents`) hold credit:
  available = limit - balance - pending debits.
- **Settlement (FIFO by due date).** Credits settle the earliest-due debits
  first; debits without a due date come last, then by creation, then id. So
  what an account still owes is made of its *newest* debits in that order,
  together covering the balance. Each completed debit carries its unpaid part
  in `CreditTransaction.outstanding_cents` (0 once settled; the oldest unpaid
  debit may be partly paid); their sum is always max(balance, 0).
- **Oldest unpaid due date** (`CreditAccount.oldest_unpaid_due_date`): the
  earliest due date among the debits with an unpaid part (undated debits are
  never due). Null means nothing can be overdue.
- **Overdue** on a day: the unpaid parts of debits due before that day.
  **Aging** buckets the unpaid parts by days past due (current, 1-30, 31-60,
  61-90, over 90).

These figures are maintained by `credit.services.ledger` in the same
database transaction as the posting, under the account's row lock, by the
functions of the "maintenance" section below; every reader (API summary,
account pages, aging table, dashboard, jobs) reads them through the
"reading" section, touching only unpaid rows (partial indexes on
`outstanding_cents > 0`), never the whole history. `figures_recompute`
rebuilds them set-based from the ledger (migrations, bulk loads) and
`ledger_check` reports any drift (`manage.py verify_ledger`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import BigIntegerField, F, Min, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from credit.models import CreditAccount, CreditLimitChange, CreditTransaction
from deelrx.lookups import EqualsAny

Type = CreditTransaction.Type
Status = CreditTransaction.Status

DEBIT = Q(type__in=[Type.CHARGE, Type.FEE]) | Q(type=Type.ADJUSTMENT, amount_cents__gt=0)
PENDING_DEBIT = DEBIT & Q(status=Status.PENDING)
COMPLETED_DEBIT = DEBIT & Q(status=Status.COMPLETED)
UNPAID = Q(outstanding_cents__gt=0)
# Settlement order of debits (credits settle the first ones first) and its reverse.
SETTLEMENT_ORDER = (F("due_date").asc(nulls_last=True), F("created_at").asc(), F("id").asc())
NEWEST_FIRST = (F("due_date").desc(nulls_first=True), F("created_at").desc(), F("id").desc())
# The same two conditions in SQL, for the set-based statements below.
DEBIT_SQL = "({t}.type IN ('charge', 'fee') OR ({t}.type = 'adjustment' AND {t}.amount_cents > 0))"
NEWEST_FIRST_SQL = "{t}.due_date DESC NULLS FIRST, {t}.created_at DESC, {t}.id DESC"

WALK_CHUNK = 500


def is_debit(type_: str, amount_cents: int) -> bool:
    return type_ in (Type.CHARGE, Type.FEE) or (type_ == Type.ADJUSTMENT and amount_cents > 0)


def available_cents(account: CreditAccount) -> int:
    return account.credit_limit_cents - account.balance_cents - account.pending_debits_cents


# --- Maintenance (the ledger calls these under the account's row lock) ----------------


def pending_changed(account: CreditAccount, tx: CreditTransaction, *, added: bool) -> None:
    """A pending row was posted (`added`) or left pending: move the held credit."""
    if is_debit(tx.type, tx.amount_cents):
        account.pending_debits_cents += tx.amount_cents if added else -tx.amount_cents


@dataclass
class Completion:
    """A completed row's effect on the figures, started before the row is saved
    (`completion_start`) and finished after (`completion_finish`)."""

    account: CreditAccount
    tx: CreditTransaction
    balance_before: int
    needs_walk: bool = False


def completion_start(account: CreditAccount, tx: CreditTransaction, *, new_row: bool) -> Completion:
    """Move the balance by a row that is becoming completed, and settle it in
    memory where the common case allows: a new debit that is newer than every
    unpaid one is simply unpaid in full (or up to the balance, after a credit
    balance). Anything else is settled by `completion_finish` with a bounded walk."""
    before = account.balance_cents
    account.balance_cents += tx.signed_amount_cents
    done = Completion(account=account, tx=tx, balance_before=before)
    tx.outstanding_cents = 0
    if not is_debit(tx.type, tx.amount_cents):
        done.needs_walk = before > 0  # a credit settles the oldest unpaid debits
        return done
    oldest = account.oldest_unpaid_due_date
    # A new undated row is the newest debit of all (latest creation); a dated one is
    # newer than every unpaid debit when it is due no earlier than the oldest of them.
    # A pending row completing now keeps its creation time, so it needs a strict date.
    if tx.due_date is None:
        newest = new_row or (before > 0 and oldest is not None)
    else:
        newest = before > 0 and oldest is not None and (tx.due_date > oldest or (new_row and tx.due_date == oldest))
    if newest:
        tx.outstanding_cents = min(tx.amount_cents, max(account.balance_cents, 0))
        if before <= 0 and tx.outstanding_cents and tx.due_date is not None:
            account.oldest_unpaid_due_date = tx.due_date
    else:
        done.needs_walk = True
    return done


def completion_finish(done: Completion) -> None:
    """After the row is saved: settle what `completion_start` could not."""
    if not done.needs_walk:
        return
    if is_debit(done.tx.type, done.tx.amount_cents):
        _resettle(done.account, old_unpaid_total=max(done.balance_before, 0))
    else:
        _settle_credit(done.account, credit_cents=-done.tx.signed_amount_cents)


def _debits_of(account: CreditAccount) -> QuerySet:
    return CreditTransaction.objects.filter(COMPLETED_DEBIT, account_id=account.pk)


def _settle_credit(account: CreditAccount, *, credit_cents: int) -> None:
    """A credit settles the oldest unpaid debits: walk them oldest first and
    stop as soon as the credit is used up (touches only the rows it settles)."""
    unpaid = CreditTransaction.objects.filter(UNPAID, account_id=account.pk)
    if account.balance_cents <= 0:
        unpaid.update(outstanding_cents=0)
        account.oldest_unpaid_due_date = None
        return
    left = credit_cents
    settled: list[uuid.UUID] = []
    oldest = None
    rows = unpaid.order_by(*SETTLEMENT_ORDER).values_list("pk", "outstanding_cents", "due_date")
    for pk, outstanding, due_date in rows.iterator(chunk_size=WALK_CHUNK):
        if left >= outstanding:
            settled.append(pk)
            left -= outstanding
            continue
        if left:
            CreditTransaction.objects.filter(pk=pk).update(outstanding_cents=outstanding - left)
        oldest = due_date  # the first row still unpaid; undated rows come last (then nothing is due)
        break
    if settled:
        CreditTransaction.objects.filter(pk__in=settled).update(outstanding_cents=0)
    account.oldest_unpaid_due_date = oldest


def _resettle(account: CreditAccount, *, old_unpaid_total: int) -> None:
    """Settle the account's debits again from the newest backwards: each takes
    what the balance leaves after the newer ones. Stops once the balance is
    covered and every formerly unpaid amount has been seen, so it reads the
    unpaid rows (and the few it newly covers), not the history."""
    target = max(account.balance_cents, 0)
    covered = seen = 0
    full: list[uuid.UUID] = []
    none: list[uuid.UUID] = []
    partial: tuple[uuid.UUID, int] | None = None
    oldest = None
    if target or old_unpaid_total:
        rows = _debits_of(account).order_by(*NEWEST_FIRST)
        rows = rows.values_list("pk", "amount_cents", "outstanding_cents", "due_date")
        for pk, amount, outstanding, due_date in rows.iterator(chunk_size=WALK_CHUNK):
            if covered >= target and seen >= old_unpaid_total:
                break
            want = min(amount, max(target - covered, 0))
            covered += amount
            seen += outstanding
            if want != outstanding:
                if want == amount:
                    full.append(pk)
                elif want == 0:
                    none.append(pk)
                else:
                    partial = (pk, want)
            if want and due_date is not None:
                oldest = due_date  # newest first: the last dated unpaid row is the oldest
    if full:
        CreditTransaction.objects.filter(pk__in=full).update(outstanding_cents=F("amount_cents"))
    if none:
        CreditTransaction.objects.filter(pk__in=none).update(outstanding_cents=0)
    if partial:
        CreditTransaction.objects.filter(pk=partial[0]).update(outstanding_cents=partial[1])
    account.oldest_unpaid_due_date = oldest


# --- Reading ---------------------------------------------------------------------------

BUCKETS: tuple[tuple[str, str], ...] = (
    ("current", "Current"),
    ("1_30", "1-30 days"),
    ("31_60", "31-60 days"),
    ("61_90", "61-90 days"),
    ("90_plus", "Over 90 days"),
)


@dataclass(frozen=True)
class AgingBucket:
    key: str
    label: str
    cents: int
    percent: int  # share of the total outstanding, for the bar width


@dataclass(frozen=True)
class Aging:
    buckets: list[AgingBucket] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(b.cents for b in self.buckets)

    @property
    def overdue_cents(self) -> int:
        return sum(b.cents for b in self.buckets if b.key != "current")

    def as_dict(self) -> dict[str, int]:
        return {b.key: b.cents for b in self.buckets}


def _aging(amounts: Iterable[int]) -> Aging:
    amounts = [int(a or 0) for a in amounts]
    total = sum(amounts)
    return Aging(
        buckets=[
            AgingBucket(key=key, label=label, cents=cents, percent=round(cents * 100 / total) if total else 0)
            for (key, label), cents in zip(BUCKETS, amounts, strict=True)
        ]
    )


EMPTY_AGING = _aging([0] * len(BUCKETS))


def _today(today: dt.date | None) -> dt.date:
    return today or timezone.localdate()


def _bucket_sums(today: dt.date) -> dict:
    def total(condition: Q) -> Coalesce:
        return Coalesce(Sum("outstanding_cents", filter=condition), Value(0), output_field=BigIntegerField())

    edges = [today - dt.timedelta(days=days) for days in (0, 30, 60, 90)]
    return {
        "current": total(Q(due_date__isnull=True) | Q(due_date__gte=edges[0])),
        "1_30": total(Q(due_date__lt=edges[0], due_date__gte=edges[1])),
        "31_60": total(Q(due_date__lt=edges[1], due_date__gte=edges[2])),
        "61_90": total(Q(due_date__lt=edges[2], due_date__gte=edges[3])),
        "90_plus": total(Q(due_date__lt=edges[3])),
    }


def unpaid_debits(*, team=None, account_ids=None) -> QuerySet[CreditTransaction]:
    """Completed debits with an unpaid part (`outstanding_cents`), any order."""
    queryset = CreditTransaction.objects.filter(UNPAID)
    if team is not None:
        queryset = queryset.filter(team=team)
    if account_ids is not None:
        # Through the accounts (deelrx.lookups.EqualsAny): with the ids as constants, an account
        # holding most of the ledger makes the planner expect thousands of unpaid rows and scan
        # every team's (credit_tx_unpaid_team) instead of the account's few (credit_tx_unpaid_account).
        accounts = CreditAccount.objects.filter(EqualsAny(F("pk"), list(account_ids))).values("pk")
        queryset = queryset.filter(account_id__in=accounts)
    return queryset


def aging_for(*, team=None, account_ids=None, today: dt.date | None = None) -> Aging:
    row = unpaid_debits(team=team, account_ids=account_ids).aggregate(**_bucket_sums(_today(today)))
    return _aging(row[key] for key, _ in BUCKETS)


def aging_by_currency(*, team, today: dt.date | None = None) -> dict[str, Aging]:
    """{currency: Aging} of a team's accounts, in one query: amounts in different
    currencies are never added together."""
    rows = unpaid_debits(team=team).values("account__currency").order_by().annotate(**_bucket_sums(_today(today)))
    return {row["account__currency"]: _aging(row[key] for key, _ in BUCKETS) for row in rows}


def aging_by_account(*, account_ids: Iterable, today: dt.date | None = None) -> dict:
    """{account_id: Aging} for a page of accounts, in one query."""
    account_ids = list(account_ids)
    if not account_ids:
        return {}
    rows = (
        unpaid_debits(account_ids=account_ids).values("account_id").order_by().annotate(**_bucket_sums(_today(today)))
    )
    found = {row["account_id"]: _aging(row[key] for key, _ in BUCKETS) for row in rows}
    return {account_id: found.get(account_id, EMPTY_AGING) for account_id in account_ids}


def overdue_cents(*, team=None, account_ids=None, today: dt.date | None = None) -> int:
    """The unpaid parts due before `today` (one aggregate over unpaid rows)."""
    return (
        unpaid_debits(team=team, account_ids=account_ids)
        .filter(due_date__lt=_today(today))
        .aggregate(total=Coalesce(Sum("outstanding_cents"), Value(0), output_field=BigIntegerField()))["total"]
    )


def account_overdue_cents(account: CreditAccount, *, today: dt.date | None = None) -> int:
    """Overdue of one account; no query at all when nothing of it can be due."""
    oldest = account.oldest_unpaid_due_date
    if oldest is None or oldest >= _today(today):
        return 0
    return overdue_cents(account_ids=[account.pk], today=today)


def overdue_by_account(*, today: dt.date) -> QuerySet:
    """Per account with something past due: `overdue_cents` and `oldest_due_date`
    (one GROUP BY over the unpaid rows due before `today`)."""
    return (
        unpaid_debits()
        .filter(due_date__lt=today)
        .values("account_id")
        .order_by()
        .annotate(overdue_cents=Sum("outstanding_cents"), oldest_due_date=Min("due_date"))
    )


# --- Set-based rebuild and checks ---------------------------------------------------------


def _scope_sql(*, team=None, account_ids=None) -> tuple[str, list]:
    """`IN (…)` over the chosen accounts, as SQL text and parameters (ids adapted by the ORM)."""
    accounts = CreditAccount.objects.all()
    if team is not None:
        accounts = accounts.filter(team=team)
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    sql, params = accounts.order_by().values("pk").query.sql_with_params()
    return f"IN ({sql})", list(params)


def _settled_rows_sql(scope: str) -> str:
    """Each completed debit with the unpaid part it should have: what the account's
    ledger balance leaves after the newer debits, capped at its amount."""
    debit = DEBIT_SQL.format(t="t")
    # no user input in the SQL text: the scope's values are parameters
    return f"""
        ledger AS (
            SELECT t.account_id,
                   SUM(CASE WHEN t.status = 'completed' AND t.type = 'payment' THEN -t.amount_cents
                            WHEN t.status = 'completed' THEN t.amount_cents ELSE 0 END) AS ledger_cents,
                   SUM(CASE WHEN t.status = 'pending' AND {debit} THEN t.amount_cents ELSE 0 END) AS pending_cents
            FROM credit_credittransaction t WHERE t.account_id {scope} GROUP BY t.account_id
        ),
        debits AS (
            SELECT t.id, t.account_id, t.due_date, t.amount_cents, t.outstanding_cents,
                   SUM(t.amount_cents) OVER (PARTITION BY t.account_id ORDER BY {NEWEST_FIRST_SQL.format(t="t")})
                     - t.amount_cents AS newer_cents
            FROM credit_credittransaction t
            WHERE t.account_id {scope} AND t.status = 'completed' AND {debit}
        ),
        settled AS (
            SELECT d.id, d.account_id, d.due_date, d.outstanding_cents,
                   CASE WHEN l.ledger_cents - d.newer_cents >= d.amount_cents THEN d.amount_cents
                        WHEN l.ledger_cents - d.newer_cents > 0 THEN l.ledger_cents - d.newer_cents
                        ELSE 0 END AS want_cents
            FROM debits d JOIN ledger l ON l.account_id = d.account_id
        )"""  # noqa: S608


def figures_recompute(*, team=None, account_ids=None) -> None:
    """Rebuild the maintained figures of the chosen accounts (all by default)
    from their ledger, set-based: three statements whatever their number.
    Balances are not touched (`verify_ledger` reports those)."""
    scope, params = _scope_sql(team=team, account_ids=account_ids)
    debit = DEBIT_SQL.format(t="t")
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {_settled_rows_sql(scope)} "  # noqa: S608 (no user input in the SQL text)
            "UPDATE credit_credittransaction SET outstanding_cents = settled.want_cents FROM settled "
            "WHERE credit_credittransaction.id = settled.id "
            "AND credit_credittransaction.outstanding_cents <> settled.want_cents",
            params * 2,
        )
        # Rows that are no longer completed debits hold nothing.
        cursor.execute(
            "UPDATE credit_credittransaction SET outstanding_cents = 0 "  # noqa: S608
            f"WHERE account_id {scope} AND outstanding_cents <> 0 "
            f"AND NOT (status = 'completed' AND {DEBIT_SQL.format(t='credit_credittransaction')})",
            params,
        )
        # One GROUP BY over the scope's rows, joined back (not a subquery per account, which
        # a planner with stale statistics after a bulk load runs as a scan per account).
        cursor.execute(
            "WITH figures AS ("  # noqa: S608
            "  SELECT t.account_id,"
            f"   SUM(CASE WHEN t.status = 'pending' AND {debit} THEN t.amount_cents ELSE 0 END) AS pending_cents,"
            "    MIN(CASE WHEN t.outstanding_cents > 0 THEN t.due_date END) AS oldest"
            f"  FROM credit_credittransaction t WHERE t.account_id {scope} GROUP BY t.account_id) "
            "UPDATE credit_creditaccount SET pending_debits_cents = COALESCE(figures.pending_cents, 0), "
            "oldest_unpaid_due_date = figures.oldest "
            "FROM credit_creditaccount a LEFT JOIN figures ON figures.account_id = a.id "
            f"WHERE credit_creditaccount.id = a.id AND a.id {scope}",
            params * 2,
        )


@dataclass(frozen=True)
class AccountCheck:
    """One account's stored figures against its ledger."""

    account_id: uuid.UUID
    team_id: int
    customer_id: uuid.UUID
    balance_cents: int
    ledger_cents: int
    pending_debits_cents: int
    ledger_pending_cents: int
    oldest_unpaid_due_date: dt.date | None
    ledger_oldest_due_date: dt.date | None
    unsettled_rows: int  # debits whose stored unpaid part differs from the settlement

    @property
    def problems(self) -> list[str]:
        found = []
        if self.balance_cents != self.ledger_cents:
            found.append(f"balance {self.balance_cents} != ledger {self.ledger_cents}")
        if self.pending_debits_cents != self.ledger_pending_cents:
            found.append(f"pending {self.pending_debits_cents} != ledger {self.ledger_pending_cents}")
        if self.oldest_unpaid_due_date != self.ledger_oldest_due_date:
            found.append(f"oldest unpaid due date {self.oldest_unpaid_due_date} != {self.ledger_oldest_due_date}")
        if self.unsettled_rows:
            found.append(f"{self.unsettled_rows} debit(s) with a wrong unpaid part")
        return found


def _as_uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))  # SQLite returns dates of raw SQL as text


def ledger_check(*, team=None, chunk_size: int = 2000) -> Iterator[AccountCheck]:
    """Every account of the scope with its stored figures and the ones its ledger
    gives, in ONE query streamed in chunks (a server-side cursor on PostgreSQL)."""
    scope, params = _scope_sql(team=team)
    sql = (
        f"WITH {_settled_rows_sql(scope)}, "  # noqa: S608 (no user input in the SQL text)
        "per_account AS ("
        "  SELECT account_id, SUM(CASE WHEN want_cents <> outstanding_cents THEN 1 ELSE 0 END) AS unsettled_rows,"
        "         MIN(CASE WHEN want_cents > 0 THEN due_date END) AS oldest_due_date"
        "  FROM settled GROUP BY account_id) "
        "SELECT a.id, a.team_id, a.customer_id, a.balance_cents, COALESCE(l.ledger_cents, 0), "
        "       a.pending_debits_cents, COALESCE(l.pending_cents, 0), a.oldest_unpaid_due_date, "
        "       p.oldest_due_date, COALESCE(p.unsettled_rows, 0) "
        "FROM credit_creditaccount a "
        "LEFT JOIN ledger l ON l.account_id = a.id LEFT JOIN per_account p ON p.account_id = a.id "
        f"WHERE a.id {scope} ORDER BY a.id"
    )
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params * 3)
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                yield AccountCheck(
                    account_id=_as_uuid(row[0]),
                    team_id=row[1],
                    customer_id=_as_uuid(row[2]),
                    balance_cents=int(row[3]),
                    ledger_cents=int(row[4]),
                    pending_debits_cents=int(row[5]),
                    ledger_pending_cents=int(row[6]),
                    oldest_unpaid_due_date=_as_date(row[7]),
                    ledger_oldest_due_date=_as_date(row[8]),
                    unsettled_rows=int(row[9]),
                )


# --- Figures on a past day (reports) -------------------------------------------------------
#
# The settlement rule above gives, for any set of debits "due before x" (a prefix of the
# settlement order), an unpaid part of max(0, balance - the debits due on or after x or
# undated): the newer debits are covered first. So the aging of any day can be rebuilt from
# the ledger alone, one GROUP BY per account, without walking rows: a row counts when it was
# completed before the end of that day (`completed_at`; completed is final).

DAY_FIGURES = (
    "limit_cents",
    "balance_cents",
    "pending_cents",
    "overdue_cents",
    *(f"aging_{key}_cents" for key, _ in BUCKETS),
    "charges_cents",
    "debits_cents",
    "payments_cents",
    "credits_cents",
    *(f"accounts_{status}" for status in CreditAccount.Status.values),
)


@dataclass
class DayFigures:
    """A team's credit figures in one currency at the end of one day (`figures_on_day`)
    or now (`figures_now`); amounts in cents, keys of DAY_FIGURES."""

    team_id: int
    currency: str
    values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DAY_FIGURES, 0))


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Start and end (exclusive) of a local day, as aware datetimes."""
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min).replace(tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min).replace(tzinfo=zone)
    return start, end


def _day_sql(team_filter: str) -> str:
    debit = DEBIT_SQL.format(t="t")
    done = "t.status = 'completed' AND t.completed_at < %(end)s"
    today_done = "t.status = 'completed' AND t.completed_at >= %(start)s AND t.completed_at < %(end)s"
    signed = "CASE WHEN t.type = 'payment' THEN -t.amount_cents ELSE t.amount_cents END"
    # unpaid of the debits due before an edge: max(0, balance - debits due on/after it or undated)
    edges = {"e0": "d0", "e30": "d30", "e60": "d60", "e90": "d90"}
    sums = ",\n".join(
        f"SUM(CASE WHEN {done} AND {debit} AND (t.due_date IS NULL OR t.due_date >= %({edge})s) "
        f"THEN t.amount_cents ELSE 0 END) AS {alias}"
        for edge, alias in edges.items()
    )
    unpaid = {
        alias: f"(CASE WHEN p.balance > p.{alias} THEN p.balance - p.{alias} ELSE 0 END)" for alias in edges.values()
    }
    # no user input in the SQL text: every value is a parameter
    return f"""
        WITH per_account AS (
            SELECT t.account_id,
                   SUM(CASE WHEN {done} THEN {signed} ELSE 0 END) AS balance,
                   {sums},
                   SUM(CASE WHEN {debit} AND (t.status = 'pending'
                            OR (t.status = 'completed' AND t.completed_at >= %(end)s)
                            OR (t.status IN ('failed', 'cancelled') AND t.updated_at >= %(end)s))
                       THEN t.amount_cents ELSE 0 END) AS pending,
                   SUM(CASE WHEN {today_done} AND t.type = 'charge' THEN t.amount_cents ELSE 0 END) AS charges,
                   SUM(CASE WHEN {today_done} AND {debit} THEN t.amount_cents ELSE 0 END) AS debits,
                   SUM(CASE WHEN {today_done} AND t.type = 'payment' THEN t.amount_cents ELSE 0 END) AS payments,
                   SUM(CASE WHEN {today_done} AND NOT {debit} THEN
                       (CASE WHEN t.amount_cents < 0 THEN -t.amount_cents ELSE t.amount_cents END) ELSE 0 END)
                       AS credits
            FROM credit_credittransaction t
            WHERE t.created_at < %(end)s {team_filter.format(t="t")}
            GROUP BY t.account_id
        ), limit_later AS (
            SELECT c.account_id, c.old_limit_cents,
                   ROW_NUMBER() OVER (PARTITION BY c.account_id ORDER BY c.created_at, c.id) AS n
            FROM credit_creditlimitchange c
            WHERE c.created_at >= %(end)s {team_filter.format(t="c")}
        )
        SELECT a.team_id, a.currency, a.status,
               COUNT(*),
               SUM(CASE WHEN a.status = 'closed' THEN 0 ELSE COALESCE(l.old_limit_cents, a.credit_limit_cents) END),
               COALESCE(SUM(p.balance), 0),
               COALESCE(SUM(p.pending), 0),
               COALESCE(SUM({unpaid["d0"]}), 0),
               COALESCE(SUM(CASE WHEN p.balance > 0 THEN p.balance ELSE 0 END), 0),
               COALESCE(SUM({unpaid["d30"]}), 0),
               COALESCE(SUM({unpaid["d60"]}), 0),
               COALESCE(SUM({unpaid["d90"]}), 0),
               COALESCE(SUM(p.charges), 0), COALESCE(SUM(p.debits), 0),
               COALESCE(SUM(p.payments), 0), COALESCE(SUM(p.credits), 0)
        FROM credit_creditaccount a
        LEFT JOIN per_account p ON p.account_id = a.id
        LEFT JOIN limit_later l ON l.account_id = a.id AND l.n = 1
        WHERE a.created_at < %(end)s {team_filter.format(t="a")}
        GROUP BY a.team_id, a.currency, a.status
    """  # noqa: S608


def figures_on_day(day: dt.date, *, team_ids: Iterable[int] | None = None) -> dict[tuple[int, str], DayFigures]:
    """Every team's credit figures per currency at the end of `day`, rebuilt from the
    ledger, the limit history and the status events — one statement over the ledger
    (set-based; no loop over accounts), plus the few accounts whose status changed
    since. The same numbers the maintained figures gave at the end of that day."""
    start, end = day_bounds(day)
    ops = connection.ops
    params: dict[str, object] = {
        "start": ops.adapt_datetimefield_value(start),
        "end": ops.adapt_datetimefield_value(end),
        **{f"e{days}": ops.adapt_datefield_value(day - dt.timedelta(days=days)) for days in (0, 30, 60, 90)},
    }
    team_filter = ""
    if team_ids is not None:
        team_ids = [int(pk) for pk in team_ids]
        if not team_ids:
            return {}
        team_filter = "AND {t}.team_id IN (" + ", ".join(str(pk) for pk in team_ids) + ")"  # integers only
    found: dict[tuple[int, str], DayFigures] = {}
    with connection.cursor() as cursor:
        cursor.execute(_day_sql(team_filter), params)
        for row in cursor.fetchall():
            (team_id, currency, status, count, limit, balance, pending, u0, unpaid, u30, u60, u90, *flows) = row
            figures = found.setdefault((team_id, currency), DayFigures(team_id=team_id, currency=currency))
            add = _adder(figures)
            add(f"accounts_{status}", count)
            add("limit_cents", limit)
            add("balance_cents", balance)
            add("pending_cents", pending)
            add("overdue_cents", u0)
            add("aging_current_cents", int(unpaid) - int(u0))
            add("aging_1_30_cents", int(u0) - int(u30))
            add("aging_31_60_cents", int(u30) - int(u60))
            add("aging_61_90_cents", int(u60) - int(u90))
            add("aging_90_plus_cents", u90)
            for name, value in zip(
                ("charges_cents", "debits_cents", "payments_cents", "credits_cents"), flows, strict=True
            ):
                add(name, value)
    _status_then(found, end=end, team_ids=team_ids)
    return found


def _adder(figures: DayFigures):
    def add(name: str, value) -> None:
        figures.values[name] += int(value or 0)

    return add


def _status_then(found: dict, *, end: dt.datetime, team_ids) -> None:
    """Accounts whose status changed after `end` count under the status they had then:
    the `old` of their first `credit.account.status_changed` event since (closed accounts'
    limits are not counted, so the limit moves with them). Few rows: only recent changes."""
    from deelrx.audit.models import ActivityEvent

    changed = CreditAccount.objects.filter(created_at__lt=end, status_changed_at__gte=end)
    if team_ids is not None:
        changed = changed.filter(team_id__in=team_ids)
    changed = {str(a.pk): a for a in changed.only("pk", "team_id", "currency", "status", "credit_limit_cents")}
    if not changed:
        return
    events = ActivityEvent.objects.filter(
        event_type="credit.account.status_changed",
        created_at__gte=end,
        team_id__in={a.team_id for a in changed.values()},
    ).order_by("created_at", "pk")
    then: dict[str, str] = {}
    for data in events.values_list("event_data", flat=True).iterator(chunk_size=WALK_CHUNK):
        key = str((data or {}).get("account_id"))
        if key in changed and key not in then and data.get("old"):
            then[key] = data["old"]
    limits_then = dict(_limits_before_changes(account_ids=[a.pk for key, a in changed.items() if key in then], end=end))
    for key, old in then.items():
        account = changed[key]
        figures = found.get((account.team_id, account.currency))
        if figures is None or old == account.status:
            continue
        figures.values[f"accounts_{account.status}"] -= 1
        figures.values[f"accounts_{old}"] += 1
        limit = limits_then.get(account.pk, account.credit_limit_cents)
        if account.status == CreditAccount.Status.CLOSED:
            figures.values["limit_cents"] += limit
        elif old == CreditAccount.Status.CLOSED:
            figures.values["limit_cents"] -= limit


def _limits_before_changes(*, account_ids: list, end: dt.datetime) -> Iterator[tuple]:
    """(account id, limit at `end`) for accounts whose limit changed after `end`."""
    seen = set()
    rows = CreditLimitChange.objects.filter(account_id__in=account_ids, created_at__gte=end).order_by(
        "created_at", "pk"
    )
    for account_id, old in rows.values_list("account_id", "old_limit_cents"):
        if account_id not in seen:
            seen.add(account_id)
            yield account_id, old


def figures_now(*, team, today: dt.date | None = None) -> dict[str, DayFigures]:
    """The team's credit figures per currency now, from the maintained figures (the
    accounts' stored balance, pending debits and limit; aging over the unpaid rows) and
    today's completed rows: what the snapshot of today will say at the day's end if
    nothing else happens. Three small queries whatever the ledger's length."""
    from django.db.models import Count

    today = _today(today)
    found: dict[str, DayFigures] = {}

    def figures(currency: str) -> DayFigures:
        return found.setdefault(currency, DayFigures(team_id=team.pk, currency=currency))

    accounts = (
        CreditAccount.objects.filter(team=team)
        .values("currency", "status")
        .order_by()
        .annotate(
            n=Count("pk"),
            limit=Sum("credit_limit_cents"),
            balance=Sum("balance_cents"),
            pending=Sum("pending_debits_cents"),
        )
    )
    for row in accounts:
        values = figures(row["currency"]).values
        values[f"accounts_{row['status']}"] += row["n"]
        if row["status"] != CreditAccount.Status.CLOSED:
            values["limit_cents"] += int(row["limit"] or 0)
        values["balance_cents"] += int(row["balance"] or 0)
        values["pending_cents"] += int(row["pending"] or 0)
    for currency, aging in aging_by_currency(team=team, today=today).items():
        values = figures(currency).values
        for bucket in aging.buckets:
            values[f"aging_{bucket.key}_cents"] = bucket.cents
        values["overdue_cents"] = aging.overdue_cents
    start, end = day_bounds(today)
    debit = DEBIT
    flows = (
        CreditTransaction.objects.filter(
            team=team, status=Status.COMPLETED, completed_at__gte=start, completed_at__lt=end
        )
        .values("account__currency")
        .order_by()
        .annotate(
            charges=Sum("amount_cents", filter=Q(type=Type.CHARGE)),
            debits=Sum("amount_cents", filter=debit),
            payments=Sum("amount_cents", filter=Q(type=Type.PAYMENT)),
            payments_all=Sum("amount_cents", filter=~debit & Q(type=Type.PAYMENT)),
            adjust_credits=Sum("amount_cents", filter=Q(type=Type.ADJUSTMENT, amount_cents__lt=0)),
        )
    )
    for row in flows:
        values = figures(row["account__currency"]).values
        values["charges_cents"] += int(row["charges"] or 0)
        values["debits_cents"] += int(row["debits"] or 0)
        values["payments_cents"] += int(row["payments"] or 0)
        values["credits_cents"] += int(row["payments_all"] or 0) - int(row["adjust_credits"] or 0)
    return found
