"""The daily credit-payment-reminder job: email customers about charges coming
due and overdue, once per stage.

Stages of a completed, still unpaid charge or fee with a due date (see
`overdue.unpaid_debits` for "unpaid": payments settle the oldest debits first):
`due_in_7` (2-7 days before), `due_in_1`, `due_today`, then one a week once
overdue: `overdue_w1` (7-13 days past due), `overdue_w2`, … Bands rather than
exact days, so a run missed on one day is caught up on the next.

Never twice: a `PaymentReminder(transaction, stage)` row (unique) is inserted
before the email is sent, and only the rows this run inserted are mailed. If
sending fails, the rows are deleted again so the next run retries. A customer
gets one email per run listing all their items. Active and suspended accounts
are reminded; defaulted accounts are with collections and get no reminders.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from credit.models import CreditAccount, PaymentReminder
from credit.services.overdue import MailSender, UnpaidDebit, money_text, unpaid_debits

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
STAGE_LABELS = {"due_in_7": "due soon", "due_in_1": "due tomorrow", "due_today": "due today"}


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


def _already_sent(candidates: list[tuple[UnpaidDebit, str]]) -> set[tuple]:
    sent: set[tuple] = set()
    for start in range(0, len(candidates), BATCH_SIZE):
        batch = candidates[start : start + BATCH_SIZE]
        condition = Q()
        for item, stage in batch:
            condition |= Q(transaction_id=item.transaction.pk, stage=stage)
        sent.update(PaymentReminder.objects.filter(condition).values_list("transaction_id", "stage"))
    return sent


def _claim(candidates: list[tuple[UnpaidDebit, str]], now) -> set[tuple]:
    """Insert the reminder rows; returns the (transaction, stage) pairs this run inserted."""
    PaymentReminder.objects.bulk_create(
        [PaymentReminder(transaction_id=item.transaction.pk, stage=stage, sent_at=now) for item, stage in candidates],
        ignore_conflicts=True,
        batch_size=BATCH_SIZE,
    )
    claimed: set[tuple] = set()
    ids = [item.transaction.pk for item, _ in candidates]
    for start in range(0, len(ids), BATCH_SIZE):
        claimed.update(
            PaymentReminder.objects.filter(transaction_id__in=ids[start : start + BATCH_SIZE], sent_at=now).values_list(
                "transaction_id", "stage"
            )
        )
    return claimed


def _message(account: CreditAccount, items: list[tuple[UnpaidDebit, str]]) -> EmailMultiAlternatives:
    rows = [
        {
            "description": item.transaction.description or item.transaction.get_type_display(),
            "unpaid": money_text(item.unpaid_cents, account.currency),
            "due_date": item.transaction.due_date,
            "stage": stage,
            "stage_label": stage_label(stage),
        }
        for item, stage in sorted(items, key=lambda pair: pair[0].transaction.due_date)
    ]
    context = {
        "customer": account.customer,
        "team": account.team,
        "items": rows,
        "balance": money_text(account.balance_cents, account.currency),
        "any_overdue": any(stage.startswith("overdue") for _, stage in items),
        "any_due_today": any(stage == "due_today" for _, stage in items),
    }
    message = EmailMultiAlternatives(
        subject=render_to_string("credit/email/payment_reminder_subject.txt", context).strip(),
        body=render_to_string("credit/email/payment_reminder.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[account.customer.email],
    )
    message.attach_alternative(render_to_string("credit/email/payment_reminder.html", context), "text/html")
    return message


def payment_reminders_send(*, today: date | None = None, dry_run: bool = False) -> dict:
    today = today or timezone.localdate()
    candidates: list[tuple[UnpaidDebit, str]] = []
    for item in unpaid_debits(account_statuses=[CreditAccount.Status.ACTIVE, CreditAccount.Status.SUSPENDED]):
        due = item.transaction.due_date
        if due is None or not item.account.customer.email:
            continue
        stage = reminder_stage(due_date=due, today=today)
        if stage:
            candidates.append((item, stage))
    sent_before = _already_sent(candidates)
    candidates = [(item, stage) for item, stage in candidates if (item.transaction.pk, stage) not in sent_before]
    by_account: dict = defaultdict(list)
    for item, stage in candidates:
        by_account[item.account.pk].append((item, stage))
    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "reminders": len(candidates),
        "customers": len(by_account),
        "by_stage": dict(sorted(_count_stages(candidates).items())),
        "emails_sent": 0,
        "emails_failed": 0,
    }
    logger.info("payment reminders due", extra={"summary": summary})
    if dry_run or not candidates:
        return summary

    now = timezone.now()
    claimed = _claim(candidates, now)
    sender = MailSender()
    for items in by_account.values():
        mine = [(item, stage) for item, stage in items if (item.transaction.pk, stage) in claimed]
        if not mine:
            continue  # a concurrent run took them
        account = mine[0][0].account
        if sender.send(_message(account, mine), log_extra={"account_id": str(account.pk), "notice": "reminder"}):
            summary["emails_sent"] += 1
        else:
            summary["emails_failed"] += 1
            # Give them back so that the next run tries again.
            condition = Q()
            for item, stage in mine:
                condition |= Q(transaction_id=item.transaction.pk, stage=stage, sent_at=now)
            PaymentReminder.objects.filter(condition).delete()
    logger.info("payment reminders finished", extra={"summary": summary})
    return summary


def _count_stages(candidates) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for _, stage in candidates:
        counts[stage] += 1
    return counts
