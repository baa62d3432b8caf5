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
- Posting and moving a status need the `member` role in the team (403);
  `user=None` is the system (Stripe's answers).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from functools import cache

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from credit import figures
from credit.models import MAX_AMOUNT_CENTS, CreditAccount, CreditTransaction, signed_amount
from deelrx import db
from deelrx.audit.services import record_event
from deelrx.errors import BusinessRuleViolation, Conflict, InvalidTransition, NotFound, ValidationFailed
from deelrx.formats import format_money
from deelrx.tenancy.access import require_role_or_system
from deelrx.tenancy.models import Customer, Role

logger = logging.getLogger(__name__)

Type = CreditTransaction.Type
Status = CreditTransaction.Status

POSTABLE_STATUSES = (Status.PENDING, Status.COMPLETED)
NEXT_STATUSES = {Status.PENDING: {Status.COMPLETED, Status.FAILED, Status.CANCELLED}}

# How long a card charge attempt may still be running at Stripe (see payments.saved_card_charge).
ATTEMPT_COOLDOWN = dt.timedelta(minutes=2)


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


_CUSTOMER_ID = Customer._meta.pk


@cache
def _lock_sql(*, keyed: bool, for_update: bool) -> str:
    """One statement, written once: the account's row, locked, and with a key the
    team's ledger row that already holds it (the ORM spent more time building
    this query than the database spent running it)."""
    quote = connection.ops.quote_name
    accounts, transactions = quote(CreditAccount._meta.db_table), quote(CreditTransaction._meta.db_table)
    columns = ", ".join(f"a.{quote(f.column)}" for f in CreditAccount._meta.concrete_fields)
    keyed_tx = (
        f"(SELECT t.id FROM {transactions} t WHERE t.team_id = %(team_id)s AND t.idempotency_key = %(key)s LIMIT 1)"  # noqa: S608 (identifiers only)
        if keyed
        else "NULL"
    )
    lock = " FOR UPDATE" if for_update else ""
    return (
        f"SELECT {columns}, {keyed_tx} AS keyed_tx_id FROM {accounts} a"  # noqa: S608 (identifiers only)
        f" WHERE a.team_id = %(team_id)s AND a.customer_id = %(customer_id)s{lock}"
    )


def _lock_account(*, team, customer_id, idempotency_key: str) -> CreditAccount:
    """The customer's account, locked; `keyed_tx_id` says whether the team already
    has a ledger row for the idempotency key. (team, customer) is unique."""
    try:
        customer_value = _CUSTOMER_ID.get_db_prep_value(customer_id, connection)
    except DjangoValidationError:
        raise NotFound("Customer not found.") from None
    sql = _lock_sql(keyed=bool(idempotency_key), for_update=connection.features.has_select_for_update)
    params = {"team_id": team.pk, "customer_id": customer_value, "key": idempotency_key}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        if not Customer.objects.filter(team=team, pk=customer_id).exists():
            raise NotFound("Customer not found.")
        raise NotFound("This customer has no credit account.")
    account = db.instance_from_row(CreditAccount, row[:-1], alias="a")
    account.keyed_tx_id = row[-1]
    account.team = team
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


def _check_limit(account: CreditAccount, *, amount_cents: int, reserved_cents: int) -> None:
    exposure = account.balance_cents + reserved_cents + amount_cents
    if exposure > account.credit_limit_cents:
        available = account.credit_limit_cents - account.balance_cents - reserved_cents
        # the amount still available, in words staff read on the form and API clients can show as is
        left = format_money(max(available, 0), account.currency)
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


class IdempotencyKeyReused(Conflict):
    """The team's ledger already has a row with this key: 409 `idempotency_key_reused`,
    unless the API's idempotency record of that first request says to replay it."""

    def __init__(self):
        super().__init__(
            "This idempotency key was already used for a different transaction.", code="idempotency_key_reused"
        )


def _existing_for_key(account: CreditAccount, *, type, amount_cents) -> CreditTransaction | None:
    """The ledger row that already holds the request's idempotency key, if any."""
    if account.keyed_tx_id is None:
        return None
    existing = CreditTransaction.objects.select_related("account").get(pk=account.keyed_tx_id)
    if (existing.account_id, existing.type, existing.amount_cents) != (account.pk, type, amount_cents):
        raise IdempotencyKeyReused()
    return existing


@transaction.atomic
def transaction_post(
    *,
    team,
    customer=None,
    customer_id=None,
    type: str,
    amount_cents: int,
    user,
    description: str = "",
    due_date: dt.date | None = None,
    status: str = "completed",
    idempotency_key: str = "",
    stripe_payment_intent_id: str = "",
    on_posted: Callable[[CreditTransaction], None] | None = None,
) -> CreditTransaction:
    """Post one ledger row for the customer's account (see the module rules);
    the customer by object or id. Statements: the account lock, the row, the
    account's figures and the audit event — nothing is read back.

    With an `idempotency_key` that the team already used for the same account,
    type and amount, the existing row is returned and nothing is posted; for a
    different transaction it is 409 `idempotency_key_reused`.

    `on_posted(tx)` runs inside the posting's transaction once the row is
    written (or found by its key): the API keeps its idempotent response
    there, so that the row and the response commit together, in one commit.
    """
    _validate(type=type, amount_cents=amount_cents, status=status)
    require_role_or_system(user, team, Role.MEMBER)
    if customer is not None:
        if customer.team_id != team.pk:
            raise NotFound("Customer not found.")
        customer_id = customer.pk
    idempotency_key = (idempotency_key or "").strip()
    account = _lock_account(team=team, customer_id=customer_id, idempotency_key=idempotency_key)
    tx = _existing_for_key(account, type=type, amount_cents=amount_cents)
    if tx is None:
        _check_can_debit(account, signed_amount(type, amount_cents))
        if type == Type.CHARGE:
            _check_limit(account, amount_cents=amount_cents, reserved_cents=account.pending_debits_cents)
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
        _write_new_row(account, tx, customer_id=customer_id, user=user)
    if on_posted is not None:
        on_posted(tx)
    return tx


def _write_new_row(account: CreditAccount, tx: CreditTransaction, *, customer_id, user) -> None:
    """Insert the row, move the account's figures with it and record the event
    (the caller holds the account's lock). The writes reach the server in one
    round trip, unless settling must walk the ledger (a cursor, which a pipeline
    cannot hold)."""
    fields = ["balance_cents", "updated_at"]
    completion = None
    if tx.status == Status.COMPLETED:
        completion = _start_completion(account, tx, timezone.now(), new_row=True, fields=fields)
    else:
        figures.pending_changed(account, tx, added=True)
        fields.append("pending_debits_cents")
    try:
        with db.pipelined(enabled=completion is None or not completion.needs_walk):
            db.insert(tx)
            if completion is not None:
                figures.completion_finish(completion)
            db.update(account, fields)
            _record_posted(tx, customer_id=customer_id, user=user, currency=account.currency)
    except IntegrityError:
        # Same key committed meanwhile (the unique (team, idempotency_key) index
        # waited for it): nothing of this call is kept.
        if not tx.idempotency_key:
            raise
        raise IdempotencyKeyReused() from None


def _record_posted(tx: CreditTransaction, *, customer_id, user, currency: str) -> None:
    record_event(
        event_type="credit.transaction.created",
        team=tx.team,
        user=user,
        data={
            "transaction_id": tx.pk,
            "account_id": tx.account_id,
            "customer_id": customer_id,
            "type": tx.type,
            "amount_cents": tx.amount_cents,
            "currency": currency,
            "status": tx.status,
            "balance_after_cents": tx.balance_after_cents,
        },
    )


def _start_completion(account: CreditAccount, tx: CreditTransaction, now, *, new_row: bool, fields: list):
    """Apply a row that becomes completed to the account (caller holds the lock)."""
    completion = figures.completion_start(account, tx, new_row=new_row)
    fields.extend(["oldest_unpaid_due_date"])
    if tx.type == Type.PAYMENT:
        account.last_payment_at = now
        fields.append("last_payment_at")
    tx.balance_after_cents = account.balance_cents
    tx.completed_at = now
    return completion


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
    require_role_or_system(user, tx.team_id, Role.MEMBER)
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
    fields = ["pending_debits_cents", "updated_at"]
    figures.pending_changed(account, tx, added=False)
    completion = None
    if status == Status.COMPLETED:
        _check_can_debit(account, tx.signed_amount_cents)
        if tx.type == Type.CHARGE:
            # The row's own reservation becomes balance; other pending rows do
            # not block it (they are re-checked when they complete).
            _check_limit(account, amount_cents=tx.amount_cents, reserved_cents=0)
        fields.append("balance_cents")
        completion = _start_completion(account, tx, now, new_row=False, fields=fields)
    tx.status = status
    tx.save(update_fields=["status", "balance_after_cents", "completed_at", "outstanding_cents", "updated_at"])
    if completion is not None:
        figures.completion_finish(completion)
    account.save(update_fields=fields)
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


def verify_ledger(*, team=None, progress: Callable[[int], None] | None = None, every: int = 10_000) -> list[dict]:
    """The accounts whose stored figures (balance, pending debits, unpaid parts,
    oldest unpaid due date) differ from what their ledger gives, in one
    streamed query (`credit.figures.ledger_check`). `progress` is called with
    the number of accounts checked every `every` accounts."""
    mismatches = []
    for checked, check in enumerate(figures.ledger_check(team=team), start=1):
        if check.problems:
            mismatches.append(
                {
                    "account_id": check.account_id,
                    "team_id": check.team_id,
                    "customer_id": check.customer_id,
                    "balance_cents": check.balance_cents,
                    "ledger_cents": check.ledger_cents,
                    "difference_cents": check.balance_cents - check.ledger_cents,
                    "problems": check.problems,
                }
            )
        if progress is not None and checked % every == 0:
            progress(checked)
    if mismatches:
        logger.warning("verify_ledger found %d mismatching account(s)", len(mismatches))
    return mismatches
