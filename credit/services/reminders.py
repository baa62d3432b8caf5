"""The daily credit-payment-reminder job: email customers about charges coming
due and overdue, once per stage.

Stages of a completed, still unpaid charge or fee with a due date (its unpaid
part is `outstanding_cents`, see `credit.figures`: payments settle the
earliest-due debits first):
`due_in_7` (2-7 days before), `due_in_1`, `due_today`, then one a week once
overdue: `overdue_w1` (7-13 days past due), `overdue_w2`, … Bands rather than
exact days, so a run missed on one day is caught up on the next.

Never twice: a `PaymentReminder(transaction, stage)` row (unique) is inserted
before the email is sent, and only the rows this run inserted are mailed. If
sending fails, the rows are deleted again so the next run retries. A customer
gets one email per run listing all their items. Active and suspended accounts
are reminded; defaulted accounts are with collections and get no reminders.

Set-based and streaming: per team, the accounts that can have something to
remind (oldest unpaid due date at most 7 days ahead: an index range) are
taken in batches (`account_batches`); a batch costs a fixed number of
statements (its unpaid rows in the stage windows with the columns the email
needs, as tuples; the stages already sent; the claim, which returns what it
inserted) plus its emails. Progress is logged every batch.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import date, timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from credit import figures
from credit.models import CreditAccount, CreditTransaction, PaymentReminder
from credit.services.accounts import batch_ids
from credit.services.overdue import DEBIT_TYPES, account_batches, money_text
from deelrx.email import EmailSender
from deelrx.tenancy.models import Team

logger = logging.getLogger(__name__)

STAGE_LABELS = {"due_in_7": "due soon", "due_in_1": "due tomorrow", "due_today": "due today"}
REMINDED_STATUSES = (CreditAccount.Status.ACTIVE, CreditAccount.Status.SUSPENDED)


def reminder_stage(*, due_date: date, today: date) -> str | None:
    days = (due_date - today).days
    if 2 <= days <= 7:
        return "due_in_7"
    if days == 1:
        return "due_in_1"
    if days == 0:
        return "due_today"
    if days <= -7:
        return f"overdue_w{-days // 7}"
    return None


def stage_label(stage: str) -> str:
    if stage.startswith("overdue_w"):
        weeks = int(stage.removeprefix("overdue_w"))
        return f"overdue {weeks} week{'s' if weeks > 1 else ''}"
    return STAGE_LABELS.get(stage, stage)


def _in_stage_window(today: date) -> Q:
    """Due dates that have a stage (`reminder_stage` is not None)."""
    return Q(due_date__gte=today, due_date__lte=today + timedelta(days=7)) | Q(due_date__lte=today - timedelta(days=7))


def _remindable(today: date):
    return figures.unpaid_debits().filter(_in_stage_window(today), type__in=DEBIT_TYPES)


# what a reminder needs of an unpaid debit, its account and its customer (read as tuples)
ITEM_FIELDS = (
    "pk",
    "account_id",
    "type",
    "description",
    "outstanding_cents",
    "due_date",
    "account__balance_cents",
    "account__currency",
    "account__customer__first_name",
    "account__customer__email",
)


def _context(team: Team, items: list[tuple]) -> dict:
    """The email's context from a customer's (item, stage) pairs (items: ITEM_FIELDS tuples)."""
    first = items[0][0]
    rows = [
        {
            "description": item.description or CreditTransaction.Type(item.type).label,
            "unpaid": money_text(item.outstanding_cents, item.account__currency),
            "due_date": item.due_date,
            "stage": stage,
            "stage_label": stage_label(stage),
        }
        for item, stage in sorted(items, key=lambda pair: pair[0].due_date)
    ]
    return {
        "customer": {"first_name": first.account__customer__first_name},
        "team": team,
        "items": rows,
        "balance": money_text(first.account__balance_cents, first.account__currency),
        "any_overdue": any(stage.startswith("overdue") for _, stage in items),
        "any_due_today": any(stage == "due_today" for _, stage in items),
    }


def _due_items(ids: list, today: date) -> dict:
    """{account id: [(item, stage)]} of a batch, minus the stages already sent (two queries)."""
    rows = list(
        _remindable(today).filter(account_id__in=batch_ids(ids)).order_by("pk").values_list(*ITEM_FIELDS, named=True)
    )
    sent = set(
        PaymentReminder.objects.filter(transaction_id__in=batch_ids([row.pk for row in rows])).values_list(
            "transaction_id", "stage"
        )
    )
    by_account: dict = defaultdict(list)
    for row in rows:
        stage = reminder_stage(due_date=row.due_date, today=today)
        if stage and (row.pk, stage) not in sent:
            by_account[row.account_id].append((row, stage))
    return by_account


def _claim(by_account: dict, now) -> set[tuple]:
    """Insert the reminder rows; returns the (transaction, stage) pairs this run inserted."""
    pairs = [(item.pk, stage) for items in by_account.values() for item, stage in items]
    if connection.vendor == "postgresql":
        # one statement: ON CONFLICT skips what a concurrent run took, RETURNING says what is ours
        batch = json.dumps([{"transaction_id": str(pk), "stage": stage} for pk, stage in pairs])
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PaymentReminder._meta.db_table} (transaction_id, stage, sent_at)"  # noqa: S608 (the model's table)
                " SELECT transaction_id, stage, %s"
                " FROM jsonb_to_recordset(%s::jsonb) AS p(transaction_id uuid, stage text)"
                " ON CONFLICT (transaction_id, stage) DO NOTHING RETURNING transaction_id, stage",
                [now, batch],
            )
            return set(cursor.fetchall())
    PaymentReminder.objects.bulk_create(
        [PaymentReminder(transaction_id=pk, stage=stage, sent_at=now) for pk, stage in pairs], ignore_conflicts=True
    )
    return set(
        PaymentReminder.objects.filter(transaction_id__in=[pk for pk, _ in pairs], sent_at=now).values_list(
            "transaction_id", "stage"
        )
    )


def payment_reminders_send(*, today: date | None = None, dry_run: bool = False) -> dict:
    today = today or timezone.localdate()
    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "reminders": 0,
        "customers": 0,
        "by_stage": {},
        "emails_sent": 0,
        "emails_failed": 0,
    }
    # Every account with a debit to remind has its oldest unpaid due date at most 7 days
    # ahead: an index range per team, where "has a remindable debit" was a semi-join
    # reading the unpaid rows from the start for every page. `_due_items` decides.
    accounts = CreditAccount.objects.filter(
        status__in=REMINDED_STATUSES, oldest_unpaid_due_date__lte=today + timedelta(days=7)
    ).exclude(customer__email="")
    stages: dict[str, int] = defaultdict(int)
    sender = EmailSender()
    teams: dict[int, Team] = {}
    for number, (team_id, ids) in enumerate(account_batches(accounts), start=1):
        by_account = _due_items(ids, today)
        for items in by_account.values():
            for _, stage in items:
                stages[stage] += 1
        summary["reminders"] += sum(len(items) for items in by_account.values())
        summary["customers"] += len(by_account)
        if not dry_run and by_account:
            team = teams.get(team_id) or teams.setdefault(team_id, Team.objects.get(pk=team_id))
            _send_batch(sender, team=team, by_account=by_account, summary=summary)
        logger.info("payment reminders batch", extra={"batch": number, "team_id": team_id, "summary": summary})
    summary["by_stage"] = dict(sorted(stages.items()))
    logger.info("payment reminders finished", extra={"summary": summary})
    return summary


def _send_batch(sender: EmailSender, *, team: Team, by_account: dict, summary: dict) -> None:
    now = timezone.now()
    claimed = _claim(by_account, now)
    failed = []
    for account_id, items in by_account.items():
        mine = [(item, stage) for item, stage in items if (item.pk, stage) in claimed]
        if not mine:
            continue  # a concurrent run took them
        if sender.send_template(
            "credit/email/payment_reminder",
            _context(team, mine),
            to=[mine[0][0].account__customer__email],
            log_extra={"account_id": str(account_id), "notice": "reminder"},
        ):
            summary["emails_sent"] += 1
        else:
            summary["emails_failed"] += 1
            failed.extend(item.pk for item, _ in mine)
    if failed:
        # Give them back so that the next run tries again.
        PaymentReminder.objects.filter(transaction_id__in=failed, sent_at=now).delete()
