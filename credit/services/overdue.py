"""The daily credit-overdue-check job, and what the credit jobs share: the
batches they walk, the late-payment history, the admins to tell.

"Past due" is `credit.figures`' rule (payments settle the earliest-due debits
first): an account's `oldest_unpaid_due_date` before today. Statuses: an
account whose oldest unpaid debit is more than `grace_period_days` past its
due date is suspended; 90 days or more past due (and past the grace period)
it is defaulted. Only moves forward (active → suspended → defaulted):
reinstating an account is a staff decision. Team admins and owners get one
email per team and batch listing the accounts that changed; accounts already
suspended/defaulted are not reported again.

Set-based and streaming: per team, accounts are taken in batches by id
(`account_batches`), each batch locked, decided and updated with a handful of
statements in its own transaction, its audit events inserted together, and
its notice sent after the commit. Only the columns a decision or the notice
needs are read, as tuples (`batch_ids` passes a batch's ids to each statement).
Progress is logged every batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from credit import figures
from credit.models import CreditAccount, CreditTransaction
from credit.services.accounts import StatusMove, accounts_move_status, batch_ids
from deelrx.audit.services import record_events
from deelrx.email import EmailSender
from deelrx.formats import format_money
from deelrx.tenancy.models import Team
from deelrx.tenancy.selectors import team_admin_emails

logger = logging.getLogger(__name__)

DEFAULT_AFTER_DAYS = 90
DEBIT_TYPES = (CreditTransaction.Type.CHARGE, CreditTransaction.Type.FEE)
BATCH_SIZE = 1000
OVERDUE_STATUSES = (CreditAccount.Status.ACTIVE, CreditAccount.Status.SUSPENDED)


def account_batches(accounts: QuerySet, *, size: int | None = None) -> Iterator[tuple[int, list]]:
    """(team id, account ids) per team and batch of `accounts` (`BATCH_SIZE`), by id:
    only one batch of ids is ever in memory, and rows a batch changes do not shift the next."""
    size = size or BATCH_SIZE
    team_ids = accounts.order_by("team_id").values_list("team_id", flat=True).distinct()
    for team_id in list(team_ids):
        last = None
        while True:
            page = accounts.filter(team_id=team_id)
            if last is not None:
                page = page.filter(pk__gt=last)
            ids = list(page.order_by("pk").values_list("pk", flat=True)[:size])
            if not ids:
                break
            yield team_id, ids
            last = ids[-1]


def past_due(*, today: date, statuses=OVERDUE_STATUSES) -> QuerySet[CreditAccount]:
    """Accounts with a debit unpaid past its due date (an index range, no ledger scan)."""
    return CreditAccount.objects.filter(status__in=list(statuses), oldest_unpaid_due_date__lt=today)


@dataclass(frozen=True)
class UnpaidDebit:
    transaction: CreditTransaction
    unpaid_cents: int

    @property
    def account(self) -> CreditAccount:
        return self.transaction.account


def unpaid_debits(*, account_statuses: list[str], account_ids=None) -> list[UnpaidDebit]:
    """Completed, still unpaid charges and fees of accounts in these statuses (one query)."""
    rows = (
        figures.unpaid_debits(account_ids=account_ids)
        .filter(type__in=DEBIT_TYPES, account__status__in=account_statuses)
        .select_related("account__customer", "account__team")
        .order_by("account_id", *figures.SETTLEMENT_ORDER)
    )
    return [UnpaidDebit(transaction=tx, unpaid_cents=tx.outstanding_cents) for tx in rows]


def late_history_record(*, team_id: int, account_ids: list, today: date) -> int:
    """Remember that these accounts had a debit past due on `today`
    (`last_overdue_on`): the late-payment history the limit-adjustment job
    reads, so that a charge paid late still counts as late after it is paid.
    One UPDATE and one audit event for the batch. Returns how many changed."""
    if connection.vendor == "postgresql":
        # one statement: the UPDATE says which rows it changed
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {CreditAccount._meta.db_table} SET last_overdue_on = %s"  # noqa: S608 (the model's table)
                " WHERE id IN (SELECT unnest(string_to_array(%s, ',')::uuid[]))"
                " AND (last_overdue_on IS NULL OR last_overdue_on < %s) RETURNING id",
                [today, ",".join(str(pk) for pk in account_ids), today],
            )
            changed = [row[0] for row in cursor.fetchall()]
    else:
        changed = list(
            CreditAccount.objects.filter(pk__in=account_ids)
            .filter(Q(last_overdue_on__isnull=True) | Q(last_overdue_on__lt=today))
            .values_list("pk", flat=True)
        )
        CreditAccount.objects.filter(pk__in=changed).update(last_overdue_on=today)
    if changed:
        record_events(
            [
                {
                    "event_type": "credit.account.late_recorded",
                    "team_id": team_id,
                    "data": {"account_ids": sorted(str(pk) for pk in changed), "date": today.isoformat()},
                }
            ]
        )
    return len(changed)


def target_status(*, status: str, days_overdue: int, grace_period_days: int) -> str | None:
    """Where the overdue check moves an account, or None (only forward)."""
    if days_overdue <= grace_period_days:
        return None
    target = CreditAccount.Status.DEFAULTED if days_overdue >= DEFAULT_AFTER_DAYS else CreditAccount.Status.SUSPENDED
    return target if target in _FORWARD.get(status, set()) else None


_FORWARD = {
    CreditAccount.Status.ACTIVE: {CreditAccount.Status.SUSPENDED, CreditAccount.Status.DEFAULTED},
    CreditAccount.Status.SUSPENDED: {CreditAccount.Status.DEFAULTED},
}


NOTICE_FIELDS = (
    "pk",
    "status",
    "grace_period_days",
    "oldest_unpaid_due_date",
    "currency",
    "balance_cents",
    "customer__first_name",
    "customer__last_name",
)


def _overdue_batch(*, team_id: int, ids: list, today: date, dry_run: bool, summary: dict) -> list[dict]:
    """Decide and apply one batch (the caller's transaction); returns the notice rows."""
    accounts = past_due(today=today).filter(pk__in=batch_ids(ids))
    if not dry_run:
        accounts = accounts.select_for_update(of=("self",))
    accounts = list(accounts.order_by("pk").values_list(*NOTICE_FIELDS, named=True))
    summary["overdue_accounts"] += len(accounts)
    if not dry_run:
        late_history_record(team_id=team_id, account_ids=[a.pk for a in accounts], today=today)
    moves = []
    for account in accounts:
        days = (today - account.oldest_unpaid_due_date).days
        target = target_status(status=account.status, days_overdue=days, grace_period_days=account.grace_period_days)
        if target:
            summary[target] += 1
            moves.append((account, days, target))
    if dry_run or not moves:
        return []
    overdue = dict(
        figures.overdue_by_account(today=today)
        .filter(account_id__in=batch_ids([a.pk for a, _, _ in moves]))
        .values_list("account_id", "overdue_cents")
    )
    notice = []
    status_moves = []
    for account, days, target in moves:
        overdue_text = money_text(overdue.get(account.pk, 0), account.currency)
        reason = (
            f"Overdue check: {days} days past due (grace {account.grace_period_days} days), {overdue_text} overdue."
        )
        status_moves.append(
            StatusMove(account_id=account.pk, team_id=team_id, old=account.status, new=target, reason=reason)
        )
        notice.append(
            {
                "account_id": account.pk,
                "customer": {"first_name": account.customer__first_name, "last_name": account.customer__last_name},
                "old_status": account.status,
                "new_status": target,
                "days_overdue": days,
                "overdue": overdue_text,
                "balance": money_text(account.balance_cents, account.currency),
                "oldest_due_date": account.oldest_unpaid_due_date,
            }
        )
    accounts_move_status(status_moves)
    return notice


def overdue_check(*, today: date | None = None, dry_run: bool = False) -> dict:
    """The credit-overdue-check job: suspend, then default, late accounts."""
    today = today or timezone.localdate()
    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "overdue_accounts": 0,
        "suspended": 0,
        "defaulted": 0,
        "emails_sent": 0,
        "emails_failed": 0,
    }
    sender = EmailSender()
    teams: dict[int, Team] = {}
    found: dict[int, dict] = {}  # per team: what this run moved (a team's batches follow each other)
    for number, (team_id, ids) in enumerate(account_batches(past_due(today=today)), start=1):
        for done in [t for t in found if t != team_id]:
            _record_overdue_found(done, found.pop(done))
        with transaction.atomic():
            notice = _overdue_batch(team_id=team_id, ids=ids, today=today, dry_run=dry_run, summary=summary)
        if notice:
            moved = found.setdefault(team_id, {"count": 0, "suspended": 0, "defaulted": 0})
            moved["count"] += len(notice)
            for row in notice:
                moved[row["new_status"]] += 1
            moved["account_id"] = str(notice[0]["account_id"])  # kept when it is the only one
            team = teams.get(team_id) or teams.setdefault(team_id, Team.objects.get(pk=team_id))
            sent = _notify_team_admins(sender, team=team, accounts=notice)
            if sent is not None:
                summary["emails_sent" if sent else "emails_failed"] += 1
        logger.info("overdue check batch", extra={"batch": number, "team_id": team_id, "summary": dict(summary)})
    for team_id, moved in found.items():
        _record_overdue_found(team_id, moved)
    logger.info("overdue check finished", extra={"summary": summary})
    return summary


@transaction.atomic
def _record_overdue_found(team_id: int, moved: dict) -> None:
    """One `credit.account.overdue_found` per team and run: its admins and owners get one
    notification counting the accounts moved ("12 credit accounts became overdue"), linking to
    the filtered list, instead of one per account (each move has its own status event)."""
    data = {key: moved[key] for key in ("count", "suspended", "defaulted")}
    if moved["count"] == 1:
        data["account_id"] = moved["account_id"]
    record_events([{"event_type": "credit.account.overdue_found", "team_id": team_id, "data": data}])


def money_text(cents: int, currency: str) -> str:
    """12345, 'usd' → '$123.45' (emails and automatic reasons): the pages' format."""
    return format_money(cents, currency)


def _notify_team_admins(sender: EmailSender, *, team: Team, accounts: list[dict]) -> bool | None:
    """One email to the team's admins listing a batch's changed accounts: True if
    sent, False if every try failed, None when nobody can be told."""
    to = team_admin_emails([team.pk]).get(team.pk)
    if not to:
        logger.warning("no admin to notify of overdue accounts", extra={"team_id": team.pk})
        return None
    # The status change is committed; a lost notice must not undo it or stop the run.
    return sender.send_template(
        "credit/email/overdue_accounts",
        {"team": team, "accounts": accounts},
        to=to,
        log_extra={"team_id": team.pk, "notice": "overdue_accounts"},
    )
