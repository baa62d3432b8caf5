"""The credit ledger: posting transactions and moving their status.

Rules (docs/credit.md has the reasoning):
- `amount_cents` > 0; adjustments are signed and non-zero (+ debit, - credit).
- Signed effect on the balance: charge/fee +amount, payment -amount,
  adjustment its own sign. `balance_cents` is the sum over *completed*
  transactions only, updated in the same database transaction as the row,
  under a row lock on the account (`select_for_update`), so concurrent
  writers serialise per account.
- A debit (charge, fee, positive adjustment) on an account that is not
  active is 422 `account_not_active`. Nothing at all is posted to a closed
  account.
- Only charges are held to the limit: balance + pending debits + the charge
  must stay within `credit_limit_cents` (422 `credit_limit_exceeded`). So a
  pending charge reserves its amount; completing it re-checks the completed
  balance against the (possibly lowered) limit.
- Status moves only pending → completed | failed | cancelled (409
  `invalid_transition`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models import BigIntegerField, Case, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from admin_ops.services import record_event
from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction, signed_amount
from deelrx.errors import BusinessRuleViolation, Conflict, InvalidTransition, NotFound, ValidationFailed

logger = logging.getLogger(__name__)

Type = CreditTransaction.Type
Status = CreditTransaction.Status

POSTABLE_STATUSES = (Status.PENDING, Status.COMPLETED)
NEXT_STATUSES = {Status.PENDING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED}}

# How long a card charge attempt may still be running at Stripe (see payments.saved_card_charge).
ATTEMPT_COOLDOWN = dt.timedelta(minutes=2)

# Pending rows that count against the available credit.
PENDING_DEBITS = Q(status=Status.PENDING) & (
    Q(type__in=[Type.CHARGE, Type.FEE]) | Q(type=Type.ADJUSTMENT, amount_cents__gt=0)
)


def _validate(*, type: str, amount_cents: object, status: str) -> None:
    errors: dict[str, list[str]] = {}
    if type not in Type.values:
        errors["type"] = [f"'{type}' is not a valid type."]
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        errors["amount_cents"] = ["An integer is required."]
    elif abs(amount_cents) > MAX_AMOUNT_CENTS:
        # also keeps the 64-bit columns and sums from overflowing (a 500)
        errors["amount_cents"] = [f"Ensure this value is at most {MAX_AMOUNT_CENTS} in absolute value."]
    elif type == Type.ADJUSTMENT and amount_cents == 0:
        errors["amount_cents"] = ["An adjustment cannot be zero."]
    elif type != Type.ADJUSTMENT and amount_cents <= 0:
        errors["amount_cents"] = ["Must be greater than zero."]
    if status not in POSTABLE_STATUSES:
        errors["status"] = ["A new transaction is 'pending' or 'completed'."]
    if errors:
        raise ValidationFailed(details=errors)


def _lock_account(*, team, customer) -> CreditAccount:
    account = (
        CreditAccount.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(team=team, customer=customer)
        .first()
    )
    if account is None:
        raise NotFound("This customer has no credit account.")
    return account


def _check_can_debit(account: CreditAccount, effect: int) -> None:
    if account.status == CreditAccount.Status.CLOSED or (effect > 0 and account.status != CreditAccount.Status.ACTIVE):
        raise BusinessRuleViolation(
            # say what is still possible, so staff know a payment can still be recorded
            f"The credit account is {account.status}: nothing can be posted to it."
            if account.status == CreditAccount.Status.CLOSED
            else f"The credit account is {account.status}: only payments and credits can be recorded.",
            code="account_not_active",
            details={"status": account.status},
        )


def _pending_debits_cents(account: CreditAccount, *, exclude_pk=None) -> int:
    queryset = CreditTransaction.objects.filter(PENDING_DEBITS, account=account)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return queryset.aggregate(total=Coalesce(Sum("amount_cents"), 0))["total"]


def _check_limit(account: CreditAccount, *, amount_cents: int, reserved_cents: int) -> None:
    exposure = account.balance_cents + reserved_cents + amount_cents
    if exposure > account.credit_limit_cents:
        available = account.credit_limit_cents - account.balance_cents - reserved_cents
        # the amount still available, in words staff read on the form and API clients can show as is
        left = f"{max(available, 0) / 100:,.2f} {account.currency.upper()}"
        pending = " after pending charges" if reserved_cents else ""
        raise BusinessRuleViolation(
            f"This charge would exceed the credit limit ({left} available{pending}).",
            code="credit_limit_exceeded",
            details={
                "credit_limit_cents": account.credit_limit_cents,
                "balance_cents": account.balance_cents,
                "pending_debits_cents": reserved_cents,
                "available_cents": available,
                "amount_cents": amount_cents,
            },
        )


def _apply_completed(account: CreditAccount, tx: CreditTransaction, now: dt.datetime) -> None:
    """Move the balance by a row that has just become completed (caller holds the lock)."""
    account.balance_cents += tx.signed_amount_cents
    fields = ["balance_cents", "updated_at"]
    if tx.type == Type.PAYMENT:
        account.last_payment_at = now
        fields.append("last_payment_at")
    account.save(update_fields=fields)
    tx.balance_after_cents = account.balance_cents
    tx.completed_at = now


def _existing_for_key(*, team, idempotency_key: str, account, type, amount_cents) -> CreditTransaction | None:
    existing = CreditTransaction.objects.filter(team=team, idempotency_key=idempotency_key).first()
    if existing is None:
        return None
    if (existing.account_id, existing.type, existing.amount_cents) != (account.pk, type, amount_cents):
        raise Conflict(
            "This idempotency key was already used for a different transaction.",
            code="idempotency_key_reused",
        )
    return existing


@transaction.atomic
def transaction_post(
    *,
    team,
    customer,
    type: str,
    amount_cents: int,
    user,
    description: str = "",
    due_date: dt.date | None = None,
    status: str = "completed",
    idempotency_key: str = "",
    stripe_payment_intent_id: str = "",
) -> CreditTransaction:
    """Post one ledger row for the customer's account (see the module rules).

    With an `idempotency_key` that the team already used for the same account,
    type and amount, the existing row is returned and nothing is posted; for a
    different transaction it is 409 `idempotency_key_reused`.
    """
    _validate(type=type, amount_cents=amount_cents, status=status)
    if customer.team_id != team.pk:
        raise NotFound("Customer not found.")
    idempotency_key = (idempotency_key or "").strip()
    account = _lock_account(team=team, customer=customer)
    if idempotency_key:
        # Under the account lock a same-key retry for this account sees the first row.
        existing = _existing_for_key(
            team=team, idempotency_key=idempotency_key, account=account, type=type, amount_cents=amount_cents
        )
        if existing is not None:
            return existing
    effect = signed_amount(type, amount_cents)
    _check_can_debit(account, effect)
    if type == Type.CHARGE:
        _check_limit(account, amount_cents=amount_cents, reserved_cents=_pending_debits_cents(account))

    now = timezone.now()
    tx = CreditTransaction(
        team=team,
        account=account,
        type=type,
        amount_cents=amount_cents,
        status=status,
        description=description or "",
        due_date=due_date,
        idempotency_key=idempotency_key,
        stripe_payment_intent_id=stripe_payment_intent_id or "",
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    if status == Status.COMPLETED:
        _apply_completed(account, tx, now)
    try:
        with transaction.atomic():
            tx.save()
    except IntegrityError:
        # Same key raced in through another account of the team: the unique
        # (team, idempotency_key) constraint kept one row; report it.
        if not idempotency_key:
            raise
        raise Conflict(
            "This idempotency key was already used for a different transaction.",
            code="idempotency_key_reused",
        ) from None
    record_event(
        event_type="credit.transaction.created",
        team=team,
        user=user,
        data={
            "transaction_id": tx.pk,
            "account_id": account.pk,
            "customer_id": customer.pk,
            "type": type,
            "amount_cents": amount_cents,
            "status": status,
            "balance_after_cents": tx.balance_after_cents,
        },
    )
    return tx


@transaction.atomic
def transaction_set_status(
    *, transaction: CreditTransaction, status: str, user, by_provider: bool = False
) -> CreditTransaction:
    """pending → completed | failed | cancelled; anything else is 409
    `invalid_transition`. Completing applies the row to the balance with the
    same rules as posting it completed (active account for debits, limit for
    charges against the completed balance).

    A payment whose card charge is in flight (a PaymentIntent is attached, or
    an attempt started less than `ATTEMPT_COOLDOWN` ago) is settled by Stripe
    only (`by_provider=True`: the charge result and the webhook); a manual move
    is 409 `payment_in_progress`, because cancelling it would lose money Stripe
    still collects, and completing it would record money Stripe may decline."""
    tx = transaction
    if status not in Status.values:
        raise ValidationFailed(details={"status": [f"'{status}' is not a valid status."]})
    # Lock order account → transaction, the same as transaction_post, so the two cannot deadlock.
    account = CreditAccount.objects.select_for_update(of=("self",)).select_related("team").get(pk=tx.account_id)
    tx = CreditTransaction.objects.select_for_update().get(pk=tx.pk)
    allowed = NEXT_STATUSES.get(tx.status, set())
    if status not in allowed:
        raise InvalidTransition(current=tx.status, target=status, allowed=list(allowed))
    now = timezone.now()
    if not by_provider and tx.type == Type.PAYMENT and _card_charge_in_flight(tx, now):
        raise Conflict(
            "A card payment for this transaction is in progress; Stripe will report how it ends.",
            code="payment_in_progress",
            details={"stripe_payment_intent_id": tx.stripe_payment_intent_id},
        )
    old = tx.status
    if status == Status.COMPLETED:
        _check_can_debit(account, tx.signed_amount_cents)
        if tx.type == Type.CHARGE:
            # The row's own reservation becomes balance; other pending rows do
            # not block it (they are re-checked when they complete).
            _check_limit(account, amount_cents=tx.amount_cents, reserved_cents=0)
        _apply_completed(account, tx, now)
    tx.status = status
    tx.save(update_fields=["status", "balance_after_cents", "completed_at", "updated_at"])
    record_event(
        event_type="credit.transaction.status_changed",
        team=account.team,
        user=user,
        data={
            "transaction_id": tx.pk,
            "account_id": account.pk,
            "old": old,
            "new": status,
            "balance_after_cents": tx.balance_after_cents,
        },
    )
    return tx


def _card_charge_in_flight(tx: CreditTransaction, now: dt.datetime) -> bool:
    return bool(tx.stripe_payment_intent_id) or (
        tx.last_attempt_at is not None and now - tx.last_attempt_at < ATTEMPT_COOLDOWN
    )


def ledger_balances(*, team=None):
    """Every account with its stored balance and the sum of its completed
    ledger rows, in ONE aggregate query (streamed)."""
    queryset = CreditAccount.objects.all()
    if team is not None:
        queryset = queryset.filter(team=team)
    return (
        queryset.annotate(
            ledger_cents=Coalesce(
                Sum(
                    Case(
                        When(transactions__type=Type.PAYMENT, then=-F("transactions__amount_cents")),
                        default=F("transactions__amount_cents"),
                        output_field=BigIntegerField(),
                    ),
                    filter=Q(transactions__status=Status.COMPLETED),
                ),
                Value(0),
                output_field=BigIntegerField(),
            )
        )
        .order_by("pk")
        .values_list("pk", "team_id", "customer_id", "balance_cents", "ledger_cents")
    )


def verify_ledger(*, team=None, progress: Callable[[int], None] | None = None, every: int = 10_000) -> list[dict]:
    """The accounts whose stored balance differs from their ledger. `progress`
    is called with the number of accounts checked every `every` accounts."""
    mismatches = []
    rows = ledger_balances(team=team).iterator(chunk_size=2000)
    for checked, (pk, team_id, customer_id, balance, ledger) in enumerate(rows, start=1):
        if balance != ledger:
            mismatches.append(
                {
                    "account_id": pk,
                    "team_id": team_id,
                    "customer_id": customer_id,
                    "balance_cents": balance,
                    "ledger_cents": ledger,
                    "difference_cents": balance - ledger,
                }
            )
        if progress is not None and checked % every == 0:
            progress(checked)
    if mismatches:
        logger.warning("verify_ledger found %d mismatching account(s)", len(mismatches))
    return mismatches
