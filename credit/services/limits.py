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
- Every limit change goes through `credit_limit_change(source="automatic")`,
  so it is in the limit history and the audit log.
- Idempotent: an account with an automatic limit change made for a day less
  than 7 days before `today` (`CreditLimitChange.effective_on`, or a later
  day) is not raised again, so a second run in the same week changes nothing.
- "As of" `today`: every window (the 6-day cooldown, the 183-day late-payment
  lookback over `last_overdue_on` and overdue reminders) is measured from the
  `today` argument, never from the clock, so a run for another day behaves as
  it would have on that day.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from admin_ops.services import record_event
from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditLimitChange, CreditTeamPolicy, PaymentReminder
from credit.services.accounts import credit_limit_change
from credit.services.overdue import late_history_record, money_text, overdue_accounts

logger = logging.getLogger(__name__)

UTILISATION_THRESHOLD = (4, 5)  # 80%, as a fraction of integers
LATE_LOOKBACK_DAYS = 183
RAISE_COOLDOWN_DAYS = 6
DEFAULT_CAP_CENTS = CreditTeamPolicy._meta.get_field("auto_limit_cap_cents").default
DEFAULT_RAISE_BPS = CreditTeamPolicy._meta.get_field("auto_raise_bps").default


def _set_frozen(*, account: CreditAccount, frozen: bool, reason: str) -> bool:
    with transaction.atomic():
        locked = CreditAccount.objects.select_for_update(of=("self",)).select_related("team").get(pk=account.pk)
        if locked.limit_frozen == frozen:
            return False
        locked.limit_frozen = frozen
        locked.save(update_fields=["limit_frozen", "updated_at"])
        record_event(
            event_type="credit.limit.frozen" if frozen else "credit.limit.unfrozen",
            team=locked.team,
            user=None,
            data={"account_id": locked.pk, "reason": reason},
        )
    return True


def raise_candidates(*, today: date, exclude_ids) -> list[CreditAccount]:
    """Active, unfrozen accounts above 80% use, without late history or a recent automatic change.

    Windows are counted in days back from `today` (lower bounds only: history
    recorded for a later day, e.g. by a run for a later date, also counts).
    """
    numerator, denominator = UTILISATION_THRESHOLD
    late_since = today - timedelta(days=LATE_LOOKBACK_DAYS)
    late_reminder = PaymentReminder.objects.filter(
        transaction__account_id=OuterRef("pk"),
        stage__startswith="overdue",
        # sent_at is a real timestamp: from the start of the first day of the window, local time.
        sent_at__gte=timezone.make_aware(datetime.combine(late_since, time.min)),
    )
    # A change made for day D blocks raises until D + 7 (D + 6 still inside the cooldown).
    # Rows written without `effective_on` (before the field existed) fall back to their local creation date.
    recent_change = CreditLimitChange.objects.alias(for_day=Coalesce("effective_on", TruncDate("created_at"))).filter(
        account_id=OuterRef("pk"),
        source=CreditLimitChange.Source.AUTOMATIC,
        for_day__gte=today - timedelta(days=RAISE_COOLDOWN_DAYS),
    )
    return list(
        CreditAccount.objects.filter(status=CreditAccount.Status.ACTIVE, limit_frozen=False, credit_limit_cents__gt=0)
        .exclude(last_overdue_on__gte=late_since)
        .alias(scaled_balance=F("balance_cents") * denominator, scaled_limit=F("credit_limit_cents") * numerator)
        .filter(scaled_balance__gt=F("scaled_limit"))
        .exclude(pk__in=list(exclude_ids))
        .exclude(Exists(late_reminder))
        .exclude(Exists(recent_change))
        .select_related("team__credit_policy")
        .order_by("pk")
    )


def raised_limit(account: CreditAccount) -> int:
    policy = getattr(account.team, "credit_policy", None)
    cap = policy.auto_limit_cap_cents if policy else DEFAULT_CAP_CENTS
    bps = policy.auto_raise_bps if policy else DEFAULT_RAISE_BPS
    raised = account.credit_limit_cents + account.credit_limit_cents * bps // 10_000
    return max(account.credit_limit_cents, min(raised, cap, MAX_AMOUNT_CENTS))


def limit_adjustment_run(*, today: date | None = None, dry_run: bool = False) -> dict:
    today = today or timezone.localdate()
    late = overdue_accounts(
        today=today,
        account_statuses=[
            CreditAccount.Status.ACTIVE,
            CreditAccount.Status.SUSPENDED,
            CreditAccount.Status.DEFAULTED,
        ],
    )
    summary = {
        "today": today.isoformat(),
        "dry_run": dry_run,
        "raised": 0,
        "lowered": 0,
        "frozen": 0,
        "unfrozen": 0,
        "at_cap": 0,
    }

    if not dry_run:
        late_history_record(account_ids=late, today=today)

    # Late payers: lower to the balance and freeze.
    for entry in late.values():
        account = entry.account
        if account.limit_frozen:
            continue
        reason = (
            f"Automatic: {money_text(entry.overdue_cents, account.currency)} past due for {entry.days_overdue} days."
        )
        new_limit = max(account.balance_cents, 0)
        if new_limit < account.credit_limit_cents:
            summary["lowered"] += 1
            if not dry_run:
                credit_limit_change(
                    account=account,
                    new_limit_cents=new_limit,
                    user=None,
                    reason=reason,
                    source="automatic",
                    effective_on=today,
                )
        summary["frozen"] += 1
        if not dry_run:
            _set_frozen(account=account, frozen=True, reason=reason)

    # Frozen accounts with nothing past due any more: lift the freeze.
    thawed = list(CreditAccount.objects.filter(limit_frozen=True).exclude(pk__in=list(late)).order_by("pk"))
    for account in thawed:
        summary["unfrozen"] += 1
        if not dry_run:
            _set_frozen(account=account, frozen=False, reason="Automatic: nothing is past due any more.")

    # Good payers: raise.
    # Accounts thawed just now wait for next week's run.
    for account in raise_candidates(today=today, exclude_ids=[*late, *(a.pk for a in thawed)]):
        new_limit = raised_limit(account)
        if new_limit <= account.credit_limit_cents:
            summary["at_cap"] += 1
            continue
        summary["raised"] += 1
        if not dry_run:
            credit_limit_change(
                account=account,
                new_limit_cents=new_limit,
                user=None,
                reason=f"Automatic: {account.utilisation:.0%} of the limit in use, paid on time for 6 months.",
                source="automatic",
                effective_on=today,
            )
    logger.info("limit adjustment finished", extra={"summary": summary})
    return summary
