"""The weekly credit-limit-adjustment job.

- Good payers get more room: an active, unfrozen account using more than 80%
  of its limit, with nothing past due now and no late payment in the last 6
  months (`last_overdue_on`, set by this job and the daily overdue check
  whenever a charge is past its due date; an overdue reminder counts too), gets its limit
  raised by the team's `CreditTeamPolicy.auto_raise_bps` (default 10%), capped
  at `auto_limit_cap_cents` (default $10,000). Never lowers, never passes the cap.
- Late payers lose room: an account with a balance past its due date gets its
  limit lowered to the current balance (no new charges) and `limit_frozen`
  set, which stops automatic raises. When nothing is past due any more the
  freeze is lifted (the limit is not raised back; good behaviour earns raises).
- Every limit change is written like `credit_limit_change(source="automatic")`
  (`credit_limits_change_automatically`), so it is in the limit history and
  the audit log.
- Idempotent: an account with an automatic limit change made for a day less
  than 7 days before `today` (`CreditLimitChange.effective_on`, or a later
  day) is not raised again, so a second run in the same week changes nothing.
- Set-based and streaming: each step walks its accounts per team in batches
  (`account_batches`), each batch locked and changed with a handful of
  statements in its own transaction (the new limits and their history rows in
  one statement, the audit events in one INSERT). Only the columns a decision
  needs are read, as tuples, never model objects. Progress is logged every batch.
- "As of" `today`: every window (the 6-day cooldown, the 183-day late-payment
  lookback over `last_overdue_on` and overdue reminders) is measured from the
  `today` argument, never from the clock, so a run for another day behaves as
  it would have on that day.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from credit import figures
from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditLimitChange, CreditTeamPolicy, PaymentReminder
from credit.services.accounts import LimitChange, batch_ids, credit_limits_change_automatically
from credit.services.overdue import account_batches, late_history_record, money_text, past_due
from deelrx.audit.services import record_events

logger = logging.getLogger(__name__)

UTILISATION_THRESHOLD = (4, 5)  # 80%, as a fraction of integers
LATE_LOOKBACK_DAYS = 183
RAISE_COOLDOWN_DAYS = 6
DEFAULT_CAP_CENTS = CreditTeamPolicy._meta.get_field("auto_limit_cap_cents").default
DEFAULT_RAISE_BPS = CreditTeamPolicy._meta.get_field("auto_raise_bps").default
LATE_STATUSES = (CreditAccount.Status.ACTIVE, CreditAccount.Status.SUSPENDED, CreditAccount.Status.DEFAULTED)


def _set_frozen(*, team_id: int, reasons: dict, frozen: bool) -> None:
    """Freeze (or thaw) a batch of locked accounts: one UPDATE, one INSERT of events."""
    if not reasons:
        return
    CreditAccount.objects.filter(pk__in=batch_ids(list(reasons))).update(limit_frozen=frozen, updated_at=timezone.now())
    record_events(
        [
            {
                "event_type": "credit.limit.frozen" if frozen else "credit.limit.unfrozen",
                "team_id": team_id,
                # a string already: what the audit log stores, without a JSON round trip per id
                "data": {"account_id": str(pk), "reason": reason},
            }
            for pk, reason in reasons.items()
        ]
    )


def raise_candidates(*, today: date):
    """Active, unfrozen accounts above 80% use, with nothing past due and no
    late payment recorded on the account (`last_overdue_on`) in the lookback.

    The conditions on the account row only: a batch of them is then checked
    against the history in other tables (`_raise_blocked`), once locked.
    Windows are counted in days back from `today` (lower bounds only: history
    recorded for a later day, e.g. by a run for a later date, also counts).
    """
    numerator, denominator = UTILISATION_THRESHOLD
    late_since = today - timedelta(days=LATE_LOOKBACK_DAYS)
    return (
        CreditAccount.objects.filter(status=CreditAccount.Status.ACTIVE, limit_frozen=False, credit_limit_cents__gt=0)
        .exclude(oldest_unpaid_due_date__lt=today)
        .exclude(last_overdue_on__gte=late_since)
        .alias(scaled_balance=F("balance_cents") * denominator, scaled_limit=F("credit_limit_cents") * numerator)
        .filter(scaled_balance__gt=F("scaled_limit"))
    )


def _raise_blocked(account_ids: list, *, today: date) -> set:
    """Of these accounts, those a raise must wait for: an overdue reminder in the
    late-payment lookback, or an automatic limit change made for a day in the
    cooldown. Two lookups by the batch's ids (a fixed cost per batch, whatever
    the statistics of those tables say; as one anti-join per candidate page, a
    change table grown by this very run and not analysed yet was scanned once
    per account)."""
    late_since = today - timedelta(days=LATE_LOOKBACK_DAYS)
    reminded = PaymentReminder.objects.filter(
        transaction__account_id__in=batch_ids(account_ids),
        stage__startswith="overdue",
        # sent_at is a real timestamp: from the start of the first day of the window, local time.
        sent_at__gte=timezone.make_aware(datetime.combine(late_since, time.min)),
    ).values_list("transaction__account_id", flat=True)
    # A change made for day D blocks raises until D + 7 (D + 6 still inside the cooldown).
    # Rows written without `effective_on` (before the field existed) fall back to their local
    # creation date: created on or after the local midnight starting that day. Two plain
    # conditions rather than one computed date, so that an index answers each.
    cooldown_from = today - timedelta(days=RAISE_COOLDOWN_DAYS)
    changed = CreditLimitChange.objects.filter(
        Q(effective_on__gte=cooldown_from)
        | Q(effective_on__isnull=True, created_at__gte=timezone.make_aware(datetime.combine(cooldown_from, time.min))),
        account_id__in=batch_ids(account_ids),
        source=CreditLimitChange.Source.AUTOMATIC,
    ).values_list("account_id", flat=True)
    return {*reminded, *changed}


def raised_limit(limit_cents: int, policy: CreditTeamPolicy | None) -> int:
    cap = policy.auto_limit_cap_cents if policy else DEFAULT_CAP_CENTS
    bps = policy.auto_raise_bps if policy else DEFAULT_RAISE_BPS
    raised = limit_cents + limit_cents * bps // 10_000
    return max(limit_cents, min(raised, cap, MAX_AMOUNT_CENTS))


def _locked(accounts, *, ids: list, dry_run: bool, fields: tuple[str, ...]) -> list:
    """The batch's accounts still matching `accounts`, locked, as named tuples of `fields`."""
    accounts = accounts.filter(pk__in=batch_ids(ids))
    if not dry_run:
        accounts = accounts.select_for_update(of=("self",))
    return list(accounts.order_by("pk").values_list(*fields, named=True))


def _late_batch(*, team_id: int, ids: list, today: date, dry_run: bool, summary: dict) -> None:
    """Late payers: lower the limit to the balance and freeze it."""
    fields = ("pk", "credit_limit_cents", "balance_cents", "limit_frozen", "oldest_unpaid_due_date", "currency")
    accounts = _locked(past_due(today=today, statuses=LATE_STATUSES), ids=ids, dry_run=dry_run, fields=fields)
    if not dry_run:
        late_history_record(team_id=team_id, account_ids=[a.pk for a in accounts], today=today)
    accounts = [a for a in accounts if not a.limit_frozen]
    overdue = dict(
        figures.overdue_by_account(today=today)
        .filter(account_id__in=batch_ids([a.pk for a in accounts]))
        .values_list("account_id", "overdue_cents")
    )
    changes, freeze = [], {}
    for account in accounts:
        days = (today - account.oldest_unpaid_due_date).days
        reason = f"Automatic: {money_text(overdue.get(account.pk, 0), account.currency)} past due for {days} days."
        new_limit = max(account.balance_cents, 0)
        if new_limit < account.credit_limit_cents:
            changes.append(
                LimitChange(
                    account_id=account.pk,
                    team_id=team_id,
                    old=account.credit_limit_cents,
                    new=new_limit,
                    reason=reason,
                    currency=account.currency,
                )
            )
        freeze[account.pk] = reason
    summary["lowered"] += len(changes)
    summary["frozen"] += len(freeze)
    if not dry_run:
        credit_limits_change_automatically(changes, effective_on=today)
        _set_frozen(team_id=team_id, reasons=freeze, frozen=True)


def _raise_batch(*, team_id: int, ids: list, today: date, dry_run: bool, summary: dict) -> None:
    """Good payers: raise by the team's policy, up to its cap."""
    fields = ("pk", "credit_limit_cents", "balance_cents", "currency")
    accounts = _locked(raise_candidates(today=today), ids=ids, dry_run=dry_run, fields=fields)
    # checked once the batch is locked: a concurrent run's raise has committed by then
    blocked = _raise_blocked([a.pk for a in accounts], today=today)
    policy = CreditTeamPolicy.objects.filter(team_id=team_id).first()
    changes = []
    for account in accounts:
        if account.pk in blocked:
            continue
        new_limit = raised_limit(account.credit_limit_cents, policy)
        if new_limit <= account.credit_limit_cents:
            summary["at_cap"] += 1
            continue
        # CreditAccount.utilisation: balance and limit are both positive here
        utilisation = account.balance_cents / account.credit_limit_cents
        reason = f"Automatic: {utilisation:.0%} of the limit in use, paid on time for 6 months."
        changes.append(
            LimitChange(
                account_id=account.pk,
                team_id=team_id,
                old=account.credit_limit_cents,
                new=new_limit,
                reason=reason,
                currency=account.currency,
            )
        )
    summary["raised"] += len(changes)
    if not dry_run:
        credit_limits_change_automatically(changes, effective_on=today)


def _thaw_batch(*, team_id: int, ids: list, today: date, dry_run: bool, summary: dict) -> None:
    """Frozen accounts with nothing past due any more: lift the freeze."""
    accounts = _locked(_thaw_candidates(today), ids=ids, dry_run=dry_run, fields=("pk",))
    summary["unfrozen"] += len(accounts)
    if not dry_run:
        reasons = {a.pk: "Automatic: nothing is past due any more." for a in accounts}
        _set_frozen(team_id=team_id, reasons=reasons, frozen=False)


def _thaw_candidates(today: date):
    return CreditAccount.objects.filter(limit_frozen=True).exclude(
        status__in=LATE_STATUSES, oldest_unpaid_due_date__lt=today
    )


def limit_adjustment_run(*, today: date | None = None, dry_run: bool = False) -> dict:
    today = today or timezone.localdate()
    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "raised": 0,
        "lowered": 0,
        "frozen": 0,
        "unfrozen": 0,
        "at_cap": 0,
    }
    # Raises come before thawing: an account thawed now waits for next week's run.
    steps = (
        ("late", past_due(today=today, statuses=LATE_STATUSES), _late_batch),
        ("raise", raise_candidates(today=today), _raise_batch),
        ("thaw", _thaw_candidates(today), _thaw_batch),
    )
    for step, accounts, apply_batch in steps:
        for number, (team_id, ids) in enumerate(account_batches(accounts), start=1):
            with transaction.atomic():
                apply_batch(team_id=team_id, ids=ids, today=today, dry_run=dry_run, summary=summary)
            logger.info(
                "limit adjustment batch", extra={"step": step, "batch": number, "team_id": team_id, "summary": summary}
            )
    logger.info("limit adjustment finished", extra={"summary": summary})
    return summary
