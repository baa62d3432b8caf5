"""Overdue balances: which charges are still unpaid, and the daily
credit-overdue-check job that suspends, then defaults, late accounts.

Which debits are unpaid (used by reminders and limit adjustment too): an
account's payments and credits settle its earliest-due debits first (the rule
of `credit.selectors.accounts.overdue_balances`; debits without a due date
last, then by creation). So, walking the completed debits (charges, fees,
positive adjustments) in the reverse order, the ones that make up the current
balance are the unpaid ones; the last of them may be partly paid. One query
with a window function, for every account at once.

Statuses: an account whose oldest unpaid charge is more than
`grace_period_days` past its due date is suspended; 90 days or more past due
(and past the grace period) it is defaulted. Only moves forward (active →
suspended → defaulted): reinstating an account is a staff decision. Team
admins and owners get one email per team per run listing the accounts that
changed; accounts already suspended/defaulted are not reported again.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import F, Q, Sum, Window
from django.template.loader import render_to_string
from django.utils import timezone

from admin_ops.services import record_event
from credit.models import CreditAccount, CreditTransaction
from credit.services.accounts import account_set_status
from deelrx.tenancy.models import Membership, Role, Team

logger = logging.getLogger(__name__)

DEFAULT_AFTER_DAYS = 90
DEBIT_TYPES = (CreditTransaction.Type.CHARGE, CreditTransaction.Type.FEE)


@dataclass(frozen=True)
class UnpaidDebit:
    transaction: CreditTransaction
    unpaid_cents: int

    @property
    def account(self) -> CreditAccount:
        return self.transaction.account


def unpaid_debits(*, account_statuses: list[str], account_ids=None) -> list[UnpaidDebit]:
    """Completed charges and fees (with or without a due date) still unpaid.

    Positive adjustments count as debits when settling, but are not returned.
    """
    debits = CreditTransaction.objects.filter(
        Q(type__in=DEBIT_TYPES) | Q(type=CreditTransaction.Type.ADJUSTMENT, amount_cents__gt=0),
        status=CreditTransaction.Status.COMPLETED,
        account__status__in=account_statuses,
        account__balance_cents__gt=0,
    )
    if account_ids is not None:
        debits = debits.filter(account_id__in=account_ids)
    # Sum of this debit and every one settled after it (reverse settling order).
    debits = debits.annotate(
        own_and_later_cents=Window(
            Sum("amount_cents"),
            partition_by=[F("account_id")],
            order_by=[F("due_date").desc(nulls_first=True), F("created_at").desc(), F("id").desc()],
        )
    )
    # The debit is (partly) unpaid when the newer ones do not cover the balance.
    rows = (
        debits.filter(own_and_later_cents__lt=F("account__balance_cents") + F("amount_cents"))
        .select_related("account__customer", "account__team")
        .order_by("account_id", "due_date", "created_at", "id")
    )
    result = []
    for txn in rows:
        if txn.type not in DEBIT_TYPES:
            continue
        later_cents = txn.own_and_later_cents - txn.amount_cents
        unpaid = min(txn.amount_cents, txn.account.balance_cents - later_cents)
        result.append(UnpaidDebit(transaction=txn, unpaid_cents=unpaid))
    return result


@dataclass
class OverdueAccount:
    account: CreditAccount
    oldest_due_date: date
    overdue_cents: int
    days_overdue: int


def overdue_accounts(*, today: date, account_statuses: list[str]) -> dict:
    """Accounts with unpaid charges past their due date, keyed by account id."""
    result: dict = {}
    for item in unpaid_debits(account_statuses=account_statuses):
        due = item.transaction.due_date
        if due is None or due >= today:
            continue
        entry = result.get(item.account.pk)
        if entry is None:
            entry = result[item.account.pk] = OverdueAccount(
                account=item.account, oldest_due_date=due, overdue_cents=0, days_overdue=0
            )
        entry.oldest_due_date = min(entry.oldest_due_date, due)
        entry.overdue_cents += item.unpaid_cents
        entry.days_overdue = (today - entry.oldest_due_date).days
    return result


@transaction.atomic
def late_history_record(*, account_ids, today: date, batch_size: int = 1000) -> int:
    """Remember that these accounts had a charge past due on `today`
    (`last_overdue_on`): the late-payment history the limit-adjustment job
    reads, so that a charge paid late still counts as late after it is paid.
    Set-based (a select and an update per batch of ids) and audited with one
    event per team. Returns how many accounts changed."""
    ids = list(account_ids)
    changed: dict[int, list] = defaultdict(list)
    for start in range(0, len(ids), batch_size):
        batch = CreditAccount.objects.filter(pk__in=ids[start : start + batch_size]).filter(
            Q(last_overdue_on__isnull=True) | Q(last_overdue_on__lt=today)
        )
        rows = list(batch.select_for_update().values_list("pk", "team_id"))
        CreditAccount.objects.filter(pk__in=[pk for pk, _ in rows]).update(last_overdue_on=today)
        for pk, team_id in rows:
            changed[team_id].append(pk)
    teams = Team.objects.in_bulk(list(changed))
    for team_id, pks in changed.items():
        record_event(
            event_type="credit.account.late_recorded",
            team=teams[team_id],
            user=None,
            data={"account_ids": sorted(str(pk) for pk in pks), "date": today.isoformat()},
        )
    return sum(len(pks) for pks in changed.values())


def _target_status(entry: OverdueAccount) -> str | None:
    if entry.days_overdue <= entry.account.grace_period_days:
        return None
    if entry.days_overdue >= DEFAULT_AFTER_DAYS:
        return CreditAccount.Status.DEFAULTED
    return CreditAccount.Status.SUSPENDED


_FORWARD = {
    CreditAccount.Status.ACTIVE: {CreditAccount.Status.SUSPENDED, CreditAccount.Status.DEFAULTED},
    CreditAccount.Status.SUSPENDED: {CreditAccount.Status.DEFAULTED},
}


def overdue_check(*, today: date | None = None, dry_run: bool = False) -> dict:
    """The credit-overdue-check job: suspend, then default, late accounts."""
    today = today or timezone.localdate()
    entries = overdue_accounts(
        today=today, account_statuses=[CreditAccount.Status.ACTIVE, CreditAccount.Status.SUSPENDED]
    )
    logger.info("overdue check", extra={"today": today.isoformat(), "overdue_accounts": len(entries)})
    if not dry_run:
        late_history_record(account_ids=entries, today=today)
    changes: list[tuple[OverdueAccount, str, str]] = []
    for entry in entries.values():
        target = _target_status(entry)
        if target and target in _FORWARD.get(entry.account.status, set()):
            changes.append((entry, entry.account.status, target))

    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "overdue_accounts": len(entries),
        "suspended": sum(1 for _, _, t in changes if t == CreditAccount.Status.SUSPENDED),
        "defaulted": sum(1 for _, _, t in changes if t == CreditAccount.Status.DEFAULTED),
        "emails_sent": 0,
        "emails_failed": 0,
    }
    if dry_run or not changes:
        return summary

    changed_by_team: dict[int, list[dict]] = defaultdict(list)
    for entry, old, target in changes:
        reason = (
            f"Overdue check: {entry.days_overdue} days past due "
            f"(grace {entry.account.grace_period_days} days), "
            f"{money_text(entry.overdue_cents, entry.account.currency)} overdue."
        )
        account = account_set_status(account=entry.account, status=target, user=None, reason=reason)
        if account.status != target:  # changed by someone else meanwhile
            continue
        changed_by_team[account.team_id].append(
            {
                "account": entry.account,
                "customer": entry.account.customer,
                "old_status": old,
                "new_status": target,
                "days_overdue": entry.days_overdue,
                "overdue": money_text(entry.overdue_cents, entry.account.currency),
                "balance": money_text(entry.account.balance_cents, entry.account.currency),
                "oldest_due_date": entry.oldest_due_date,
            }
        )
    sent, failed = _notify_team_admins(changed_by_team)
    summary.update(emails_sent=sent, emails_failed=failed)
    logger.info("overdue check finished", extra={"summary": summary})
    return summary


class MailSender:
    """Sends the jobs' emails: paced to `CREDIT_EMAILS_PER_SECOND` (default 2, the
    rate many email APIs allow; 0 = no pacing) and retried with back-off on a
    failure, over one connection. `send` returns False when every try failed."""

    def __init__(self, *, retries: int = 2):
        self.connection = get_connection()
        rate = settings.CREDIT_EMAILS_PER_SECOND
        self.interval = 1 / rate if rate else 0.0
        self.retry_delay = settings.CREDIT_EMAIL_RETRY_DELAY_SECONDS
        self.retries = retries
        self._last = 0.0

    def _pace(self) -> None:
        wait = self._last + self.interval - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last = time.monotonic()

    def send(self, message: EmailMultiAlternatives, *, log_extra: dict) -> bool:
        message.connection = self.connection
        for attempt in range(self.retries + 1):
            self._pace()
            try:
                message.send()
                return True
            except Exception:
                if attempt == self.retries:
                    logger.exception("email not sent", extra=log_extra)
                    return False
                logger.warning("email failed, retrying", extra={**log_extra, "attempt": attempt + 1})
                time.sleep(self.retry_delay * 2**attempt)
        return False


def money_text(cents: int, currency: str) -> str:
    """12345, 'usd' → '123.45 USD' (emails and automatic reasons)."""
    return f"{cents / 100:,.2f} {currency.upper()}"


def team_admin_emails(team_ids) -> dict[int, list[str]]:
    """Email addresses of each team's active owners and admins (one query)."""
    rows = (
        Membership.objects.filter(
            team_id__in=list(team_ids),
            role__in=[Role.OWNER, Role.ADMIN],
            is_suspended=False,
            user__is_active=True,
        )
        .exclude(user__email="")
        .values_list("team_id", "user__email")
        .order_by("team_id", "user__email")
    )
    result: dict[int, list[str]] = defaultdict(list)
    for team_id, email in rows:
        result[team_id].append(email)
    return result


def _notify_team_admins(changed_by_team: dict[int, list[dict]]) -> tuple[int, int]:
    recipients = team_admin_emails(changed_by_team)
    sent = failed = 0
    sender = MailSender()
    for team_id, accounts in changed_by_team.items():
        to = recipients.get(team_id)
        if not to:
            logger.warning("no admin to notify of overdue accounts", extra={"team_id": team_id})
            continue
        team = accounts[0]["account"].team
        context = {"team": team, "accounts": accounts}
        message = EmailMultiAlternatives(
            subject=render_to_string("credit/email/overdue_accounts_subject.txt", context).strip(),
            body=render_to_string("credit/email/overdue_accounts.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=to,
        )
        message.attach_alternative(render_to_string("credit/email/overdue_accounts.html", context), "text/html")
        # The status change is done; a lost notice must not undo it or stop the run.
        if sender.send(message, log_extra={"team_id": team_id, "notice": "overdue_accounts"}):
            sent += 1
        else:
            failed += 1
    return sent, failed
