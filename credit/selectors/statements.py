"""Monthly statements (DESIGN §14) and the ledger as CSV.

A statement of month M: the opening balance (the balance at the end of the month before),
the month's *completed* rows in the order they took effect (`completed_at`; pending,
failed and cancelled rows never move a balance and are left out), and the closing
balance, so that opening + movements = closing. Read through the completed-rows index by
account and completion time: the closing balance is the stored balance less what was
completed since, so a long history costs nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db.models import BigIntegerField, Case, F, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from credit.figures import day_bounds, is_debit
from credit.models import CreditAccount, CreditTransaction
from credit.selectors.transactions import transaction_list
from deelrx.csv_export import ROWS_PER_CHUNK
from deelrx.errors import ValidationFailed

Status = CreditTransaction.Status
SIGNED = Case(
    When(type=CreditTransaction.Type.PAYMENT, then=-F("amount_cents")),
    default=F("amount_cents"),
    output_field=BigIntegerField(),
)


def parse_month(value: str | None, *, today: dt.date | None = None) -> dt.date:
    """`YYYY-MM` → its first day; empty → the current month; a future month is 400."""
    today = today or timezone.localdate()
    if not value:
        return today.replace(day=1)
    try:
        month = dt.date.fromisoformat(f"{value.strip()}-01")
    except ValueError:
        raise ValidationFailed(details={"month": ["Enter a month as YYYY-MM."]}) from None
    if month > today.replace(day=1) or month.year < 2000:
        raise ValidationFailed(details={"month": ["Choose a month from 2000 up to the current one."]})
    return month


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass
class StatementLine:
    transaction: CreditTransaction
    signed_cents: int
    balance_cents: int


@dataclass
class Statement:
    account: CreditAccount
    month: dt.date
    opening_cents: int
    closing_cents: int
    lines: list[StatementLine] = field(default_factory=list)

    @property
    def last_day(self) -> dt.date:
        return _next_month(self.month) - dt.timedelta(days=1)

    @property
    def debits_cents(self) -> int:
        return sum(line.signed_cents for line in self.lines if line.signed_cents > 0)

    @property
    def credits_cents(self) -> int:
        return -sum(line.signed_cents for line in self.lines if line.signed_cents < 0)

    @property
    def amount_due_cents(self) -> int:
        return max(self.closing_cents, 0)

    @property
    def due_dates(self) -> list[tuple[dt.date, int]]:
        """The month's debits by due date: (date, amount), earliest first."""
        found: dict[dt.date, int] = {}
        for line in self.lines:
            tx = line.transaction
            if tx.due_date and is_debit(tx.type, tx.amount_cents):
                found[tx.due_date] = found.get(tx.due_date, 0) + tx.amount_cents
        return sorted(found.items())


def statement_for(*, account: CreditAccount, month: dt.date) -> Statement:
    """Three queries: the month's completed rows, and what was completed after it."""
    start, _ = day_bounds(month)
    end, _ = day_bounds(_next_month(month))
    completed = CreditTransaction.objects.filter(account=account, status=Status.COMPLETED)
    rows = list(completed.filter(completed_at__gte=start, completed_at__lt=end).order_by("completed_at", "id"))
    later = completed.filter(completed_at__gte=end).aggregate(
        total=Coalesce(Sum(SIGNED), Value(0), output_field=BigIntegerField())
    )["total"]
    closing = account.balance_cents - later
    opening = closing - sum(tx.signed_amount_cents for tx in rows)
    lines, balance = [], opening
    for tx in rows:
        tx.account = account
        balance += tx.signed_amount_cents
        lines.append(StatementLine(transaction=tx, signed_cents=tx.signed_amount_cents, balance_cents=balance))
    return Statement(account=account, month=month, opening_cents=opening, closing_cents=closing, lines=lines)


STATEMENT_CSV_HEADER = ["date", "type", "description", "due_date", "amount_cents", "balance_cents", "currency", "id"]


def statement_csv_rows(statement: Statement) -> Iterator[list]:
    currency = statement.account.currency
    yield [
        statement.month.isoformat(),
        "opening_balance",
        "Opening balance",
        "",
        "",
        statement.opening_cents,
        currency,
        "",
    ]
    for line in statement.lines:
        tx = line.transaction
        yield [
            timezone.localtime(tx.completed_at).date().isoformat(),
            tx.type,
            tx.description,
            tx.due_date.isoformat() if tx.due_date else "",
            line.signed_cents,
            line.balance_cents,
            currency,
            tx.pk,
        ]
    yield [
        statement.last_day.isoformat(),
        "closing_balance",
        "Closing balance",
        "",
        "",
        statement.closing_cents,
        currency,
        "",
    ]


LEDGER_CSV_HEADER = [
    "id",
    "created_at",
    "customer_id",
    "credit_id",
    "type",
    "status",
    "amount_cents",
    "currency",
    "description",
    "due_date",
    "balance_after_cents",
    "completed_at",
    "idempotency_key",
    "created_by",
]


def transaction_csv_rows(*, team, filters=None) -> Iterator[tuple]:
    """Every ledger row the filters select (judged now, before anything streams), newest
    first, read as tuples in chunks through one cursor: flat memory whatever the count."""
    queryset = transaction_list(team=team, filters=filters).values_list(
        "id",
        "created_at",
        "account__customer_id",
        "account_id",
        "type",
        "status",
        "amount_cents",
        "account__currency",
        "description",
        "due_date",
        "balance_after_cents",
        "completed_at",
        "idempotency_key",
        "created_by_id",
    )
    return _ledger_rows(queryset)


def _ledger_rows(queryset) -> Iterator[tuple]:
    for row in queryset.iterator(chunk_size=ROWS_PER_CHUNK):
        yield (
            row[0],
            row[1].isoformat(),
            *row[2:9],
            row[9].isoformat() if row[9] else "",
            "" if row[10] is None else row[10],
            row[11].isoformat() if row[11] else "",
            row[12],
            row[13] or "",
        )
