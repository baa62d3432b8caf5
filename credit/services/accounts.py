"""Credit accounts: creation, settings, status and limit changes.

Rules:
- one account per (team, customer); the customer must belong to the team;
- `closed` is final; closing needs a zero balance and no pending transactions;
- every limit change is kept in `CreditLimitChange` with who, why and whether
  it was manual or automatic (the limit-adjustment job);
- the currency can only change while the account has no transactions;
- opening an account and changing its settings, limit or status need the
  `admin` role in the team (403); `user=None` is the system (the jobs).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from credit.models import (
    MAX_AMOUNT_CENTS,
    MAX_GRACE_PERIOD_DAYS,
    MAX_INTEREST_RATE_BPS,
    CreditAccount,
    CreditLimitChange,
    CreditTransaction,
)
from deelrx.audit.services import record_event, record_events
from deelrx.errors import BusinessRuleViolation, InvalidTransition, NotFound, ValidationFailed
from deelrx.tenancy.access import require_role_or_system
from deelrx.tenancy.models import Role

CURRENCY_RE = re.compile(r"^[a-z]{3}$")
SETTINGS_FIELDS = ("grace_period_days", "interest_rate_bps", "currency")


MAX_VALUES = {
    "credit_limit_cents": MAX_AMOUNT_CENTS,
    "grace_period_days": MAX_GRACE_PERIOD_DAYS,
    "interest_rate_bps": MAX_INTEREST_RATE_BPS,
}


def _check_non_negative_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValidationFailed(details={name: ["A non-negative integer is required."]})
    if value > MAX_VALUES[name]:
        raise ValidationFailed(details={name: [f"Ensure this value is less than or equal to {MAX_VALUES[name]}."]})


def _lock(account: CreditAccount) -> CreditAccount:
    # `of=("self",)`: lock the account row only, not the joined team.
    return CreditAccount.objects.select_for_update(of=("self",)).select_related("team").get(pk=account.pk)


def _validate_settings(
    *,
    credit_limit_cents: int | None,
    status: str | None,
    grace_period_days: int | None,
    interest_rate_bps: int | None,
    currency: str | None,
) -> str | None:
    """Check the given settings (None = not given); returns the normalised currency."""
    if credit_limit_cents is not None:
        _check_non_negative_int("credit_limit_cents", credit_limit_cents)
    for name, value in (("grace_period_days", grace_period_days), ("interest_rate_bps", interest_rate_bps)):
        if value is not None:
            _check_non_negative_int(name, value)
    if currency is not None:
        currency = currency.strip().lower()
        if not CURRENCY_RE.match(currency):
            raise ValidationFailed(details={"currency": ["Use a 3-letter ISO 4217 code, e.g. 'usd'."]})
    if status is not None and status not in CreditAccount.Status.values:
        raise ValidationFailed(details={"status": [f"'{status}' is not a valid status."]})
    return currency


@transaction.atomic
def account_upsert(
    *,
    team,
    customer,
    user,
    credit_limit_cents: int | None = None,
    status: str | None = None,
    grace_period_days: int | None = None,
    interest_rate_bps: int | None = None,
    currency: str | None = None,
    reason: str = "",
) -> tuple[CreditAccount, bool]:
    """Create the customer's account, or update the given settings of the
    existing one. Limit and status changes go through `credit_limit_change`
    and `account_set_status` so that their rules and history apply."""
    if customer.team_id != team.pk:
        raise NotFound("Customer not found.")
    require_role_or_system(user, team, Role.ADMIN)
    currency = _validate_settings(
        credit_limit_cents=credit_limit_cents,
        status=status,
        grace_period_days=grace_period_days,
        interest_rate_bps=interest_rate_bps,
        currency=currency,
    )
    account = CreditAccount.objects.select_for_update().filter(team=team, customer=customer).first()
    if account is None:
        account = _account_create(
            team=team,
            customer=customer,
            user=user,
            status=status,
            grace_period_days=grace_period_days,
            interest_rate_bps=interest_rate_bps,
            currency=currency,
        )
        if account is not None:
            if credit_limit_cents:
                account = credit_limit_change(
                    account=account, new_limit_cents=credit_limit_cents, user=user, reason=reason or "Initial limit"
                )
            return account, True
        # a concurrent creator won the unique (team, customer) pair: update theirs
        account = CreditAccount.objects.select_for_update().get(team=team, customer=customer)
    _settings_update(
        account,
        user=user,
        reason=reason,
        values={"grace_period_days": grace_period_days, "interest_rate_bps": interest_rate_bps, "currency": currency},
    )
    if credit_limit_cents is not None:
        account = credit_limit_change(account=account, new_limit_cents=credit_limit_cents, user=user, reason=reason)
    if status is not None:
        account = account_set_status(account=account, status=status, user=user, reason=reason)
    return account, False


def _account_create(
    *, team, customer, user, status, grace_period_days, interest_rate_bps, currency
) -> CreditAccount | None:
    """The new account (limit 0), audited; None when a concurrent request created it first."""
    if status == CreditAccount.Status.CLOSED:
        raise ValidationFailed(details={"status": ["A new account cannot be closed."]})
    try:
        # A savepoint: a concurrent creator wins the unique (team, customer) pair.
        with transaction.atomic():
            account = CreditAccount.objects.create(
                team=team,
                customer=customer,
                credit_limit_cents=0,
                status=status or CreditAccount.Status.ACTIVE,
                grace_period_days=30 if grace_period_days is None else grace_period_days,
                interest_rate_bps=interest_rate_bps or 0,
                currency=currency or "usd",
                status_changed_at=timezone.now(),
            )
    except IntegrityError:
        return None
    record_event(
        event_type="credit.account.created",
        team=team,
        user=user,
        data={
            "account_id": account.pk,
            "customer_id": customer.pk,
            "status": account.status,
            "currency": account.currency,
        },
    )
    return account


def _settings_update(account: CreditAccount, *, user, reason: str, values: dict) -> None:
    """Grace period, interest and currency (the latter only before any transaction), audited."""
    changed = {}
    for field in SETTINGS_FIELDS:
        value = values[field]
        if value is not None and getattr(account, field) != value:
            changed[field] = {"old": getattr(account, field), "new": value}
            setattr(account, field, value)
    if not changed:
        return
    if "currency" in changed and CreditTransaction.objects.filter(account=account).exists():
        raise BusinessRuleViolation(
            "The currency cannot change once the account has transactions.",
            code="currency_change_not_allowed",
            details={"currency": account.currency},
        )
    if account.status == CreditAccount.Status.CLOSED:
        raise BusinessRuleViolation("The account is closed.", code="account_not_active")
    account.save(update_fields=[*changed, "updated_at"])
    record_event(
        event_type="credit.account.updated",
        team=account.team,
        user=user,
        data={"account_id": account.pk, "changed": changed, "reason": reason},
    )


@transaction.atomic
def account_set_status(*, account: CreditAccount, status: str, user, reason: str = "") -> CreditAccount:
    """Any move between active, suspended and defaulted; `closed` is final and
    needs a zero balance and no pending transactions. Same status: no change."""
    if status not in CreditAccount.Status.values:
        raise ValidationFailed(details={"status": [f"'{status}' is not a valid status."]})
    require_role_or_system(user, account.team_id, Role.ADMIN)
    account = _lock(account)
    if account.status == status:
        return account
    if account.status == CreditAccount.Status.CLOSED:
        raise InvalidTransition(current=account.status, target=status, allowed=[], message="A closed account is final.")
    if status == CreditAccount.Status.CLOSED:
        if account.balance_cents != 0:
            raise BusinessRuleViolation(
                "Only an account with a zero balance can be closed.",
                code="balance_not_zero",
                details={"balance_cents": account.balance_cents},
            )
        if account.transactions.filter(status=CreditTransaction.Status.PENDING).exists():
            raise BusinessRuleViolation(
                "Complete or cancel the pending transactions before closing the account.",
                code="pending_transactions",
            )
    old = account.status
    account.status = status
    account.status_changed_at = timezone.now()
    account.save(update_fields=["status", "status_changed_at", "updated_at"])
    record_event(**_status_event(account.pk, team_id=account.team_id, old=old, new=status, reason=reason, user=user))
    return account


def _status_event(account_id, *, team_id: int, old: str, new: str, reason: str, user=None) -> dict:
    return {
        "event_type": "credit.account.status_changed",
        "team_id": team_id,
        "user": user,
        "data": {"account_id": account_id, "old": old, "new": new, "reason": reason},
    }


def batch_ids(ids: list):
    """A job's batch of ids (accounts, transactions: UUIDs) as the right-hand side of `pk__in=` / `account_id__in=`.
    On PostgreSQL one text parameter that the server splits (`IN (SELECT
    unnest(…))`, planned as 1,000 primary-key probes): a list of 1,000 UUIDs costs
    the ORM and the driver some 40 ms to adapt, in every statement of every batch.
    Elsewhere the list itself."""
    if connection.vendor != "postgresql" or not ids:
        return list(ids)
    return RawSQL("SELECT unnest(string_to_array(%s, ',')::uuid[])", [",".join(str(pk) for pk in ids)])


@dataclass(frozen=True)
class StatusMove:
    account_id: uuid.UUID
    team_id: int
    old: str
    new: str
    reason: str


def accounts_move_status(moves: list[StatusMove]) -> None:
    """A job's batch of status moves between active, suspended and defaulted, on
    accounts the caller has locked: one UPDATE per target status and one INSERT
    of their audit events (the same events as `account_set_status`)."""
    now = timezone.now()
    targets: dict[str, list] = {}
    for move in moves:
        if CreditAccount.Status.CLOSED in (move.old, move.new):
            raise ValueError("Closing or reopening is account_set_status' decision.")
        targets.setdefault(move.new, []).append(move.account_id)
    for status, ids in targets.items():
        CreditAccount.objects.filter(pk__in=batch_ids(ids)).update(status=status, status_changed_at=now, updated_at=now)
    record_events(
        [_status_event(m.account_id, team_id=m.team_id, old=m.old, new=m.new, reason=m.reason) for m in moves]
    )


@transaction.atomic
def credit_limit_change(
    *,
    account: CreditAccount,
    new_limit_cents: int,
    user,
    reason: str,
    source: str = "manual",
    effective_on: date | None = None,
) -> CreditAccount:
    """Set the limit and keep the change in the history. Lowering it below the
    balance is allowed: it only stops new charges. `effective_on` is the day the
    change is for (a job's `today`); default the local date."""
    _check_non_negative_int("credit_limit_cents", new_limit_cents)
    if source not in CreditLimitChange.Source.values:
        raise ValidationFailed(details={"source": [f"'{source}' is not a valid source."]})
    require_role_or_system(user, account.team_id, Role.ADMIN)
    account = _lock(account)
    if account.credit_limit_cents == new_limit_cents:
        return account
    if account.status == CreditAccount.Status.CLOSED:
        raise BusinessRuleViolation("The account is closed.", code="account_not_active")
    change = LimitChange.of(account, new=new_limit_cents, reason=reason or "")
    account.credit_limit_cents = new_limit_cents
    account.save(update_fields=["credit_limit_cents", "updated_at"])
    _limit_history([change], user=user, source=source, effective_on=effective_on)
    return account


@dataclass(frozen=True)
class LimitChange:
    account_id: uuid.UUID
    team_id: int
    old: int
    new: int
    reason: str
    currency: str = ""  # said with the amounts in the activity log

    @classmethod
    def of(cls, account: CreditAccount, *, new: int, reason: str) -> LimitChange:
        return cls(
            account_id=account.pk,
            team_id=account.team_id,
            old=account.credit_limit_cents,
            new=new,
            reason=reason,
            currency=account.currency,
        )


def _limit_history(changes: list[LimitChange], *, user, source: str, effective_on: date | None) -> None:
    """The history rows and audit events of limit changes (one INSERT each)."""
    changed_by = user if getattr(user, "is_authenticated", False) else None
    effective_on = effective_on or timezone.localdate()
    CreditLimitChange.objects.bulk_create(
        [
            CreditLimitChange(
                account_id=c.account_id,
                team_id=c.team_id,
                old_limit_cents=c.old,
                new_limit_cents=c.new,
                reason=c.reason,
                source=source,
                changed_by=changed_by,
                effective_on=effective_on,
            )
            for c in changes
        ]
    )
    _limit_events(changes, user=user, source=source)


def _limit_events(changes: list[LimitChange], *, user, source: str) -> None:
    record_events(
        [
            {
                "event_type": "credit.limit.changed",
                "team_id": c.team_id,
                "user": user,
                # a string already: what the audit log stores, without a JSON round trip per id
                "data": {
                    "account_id": str(c.account_id),
                    "old": c.old,
                    "new": c.new,
                    "reason": c.reason,
                    "source": source,
                    **({"currency": c.currency} if c.currency else {}),
                },
            }
            for c in changes
        ]
    )


def credit_limits_change_automatically(changes: list[LimitChange], *, effective_on: date) -> None:
    """The limit-adjustment job's batch, on accounts it has locked: the same rows
    as `credit_limit_change(source="automatic")` — on PostgreSQL every new limit
    and its history row in one statement, the audit events in one INSERT."""
    for change in changes:
        _check_non_negative_int("credit_limit_cents", change.new)
    if not changes:
        return
    source = CreditLimitChange.Source.AUTOMATIC
    if connection.vendor != "postgresql":
        now = timezone.now()
        CreditAccount.objects.bulk_update(
            [CreditAccount(pk=c.account_id, credit_limit_cents=c.new, updated_at=now) for c in changes],
            ["credit_limit_cents", "updated_at"],
        )
        _limit_history(changes, user=None, source=source, effective_on=effective_on)
        return
    _limits_and_history_write(changes, source=source, effective_on=effective_on)
    _limit_events(changes, user=None, source=source)


def _limits_and_history_write(changes: list[LimitChange], *, source: str, effective_on: date) -> None:
    """The new limits (an UPDATE joined to the batch) and their history rows
    (an INSERT … SELECT from it) in one statement. The batch travels as one JSON
    document: one parameter to quote, where arrays or model objects cost Python
    time per row."""
    now = timezone.now()
    batch = json.dumps(
        [
            {"account_id": str(c.account_id), "team_id": c.team_id, "old": c.old, "new": c.new, "reason": c.reason}
            for c in changes
        ]
    )
    accounts, history = CreditAccount._meta.db_table, CreditLimitChange._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH batch AS (
                SELECT * FROM jsonb_to_recordset(%s::jsonb)
                    AS b(account_id uuid, team_id bigint, old bigint, new bigint, reason text)
            ), limits AS (
                UPDATE {accounts} AS a SET credit_limit_cents = batch.new, updated_at = %s
                FROM batch WHERE a.id = batch.account_id
            )
            INSERT INTO {history}
                (account_id, team_id, old_limit_cents, new_limit_cents, reason, source, changed_by_id,
                 effective_on, created_at)
            SELECT account_id, team_id, old, new, reason, %s, NULL, %s, %s FROM batch
            """,  # noqa: S608 (table names from the models, values as parameters)
            [batch, now, source, effective_on, now],
        )
