"""Credit: one account per (team, customer), an append-only ledger of
transactions, the history of limit changes, idempotency records for the API,
processed Stripe events and sent payment reminders.

The account's `balance_cents` is a cache of the ledger: the sum of the signed
amounts of its *completed* transactions. It and the other maintained figures
(`pending_debits_cents`, `oldest_unpaid_due_date`, each debit's
`outstanding_cents`; defined in `credit.figures`) are only changed by
`credit.services.ledger`, in the same database transaction as the ledger row,
and `manage.py verify_ledger` proves them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q

# Upper bounds of the numbers staff and clients may enter (API, forms, services
# and database constraints agree). $10 billion per amount or limit leaves the
# 64-bit balance sums far from overflowing; days and basis points get sane caps.
MAX_AMOUNT_CENTS = 1_000_000_000_000
MAX_GRACE_PERIOD_DAYS = 3650
MAX_INTEREST_RATE_BPS = 100_000


class CreditAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        DEFAULTED = "defaulted", "Defaulted"
        CLOSED = "closed", "Closed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="credit_accounts")
    customer = models.ForeignKey("tenancy.Customer", on_delete=models.PROTECT, related_name="credit_accounts")
    credit_limit_cents = models.BigIntegerField(default=0)
    balance_cents = models.BigIntegerField(default=0, help_text="Sum of completed transactions (ledger cache).")
    pending_debits_cents = models.BigIntegerField(
        default=0, help_text="Pending charges, fees and positive adjustments: they hold credit (ledger cache)."
    )
    oldest_unpaid_due_date = models.DateField(
        null=True, blank=True, help_text="Earliest due date of a debit not yet settled (ledger cache)."
    )
    currency = models.CharField(max_length=3, default="usd")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    grace_period_days = models.PositiveIntegerField(default=30)
    interest_rate_bps = models.PositiveIntegerField(default=0, help_text="Annual interest in basis points.")
    limit_frozen = models.BooleanField(
        default=False, help_text="Set by the limit-adjustment job for late payers: no automatic raises."
    )
    stripe_customer_id = models.CharField(max_length=255, blank=True)
    stripe_setup_intent_id = models.CharField(max_length=255, blank=True)
    stripe_payment_method_id = models.CharField(max_length=255, blank=True)
    last_payment_at = models.DateTimeField(null=True, blank=True)
    last_overdue_on = models.DateField(
        null=True,
        blank=True,
        help_text="Last day the overdue jobs found a charge past its due date (late-payment history).",
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "customer"], name="credit_account_unique_team_customer"),
            models.CheckConstraint(condition=Q(credit_limit_cents__gte=0), name="credit_account_limit_gte_0"),
            models.CheckConstraint(
                condition=Q(credit_limit_cents__lte=MAX_AMOUNT_CENTS), name="credit_account_limit_lte_max"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "defaulted", "closed"]),
                name="credit_account_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "status"]),
            models.Index(fields=["team", "created_at"]),
            models.Index(fields=["stripe_customer_id"]),
            # the setup_intent.succeeded webhook finds the account by it
            models.Index(fields=["stripe_setup_intent_id"]),
            # the overdue jobs pick the accounts with something past due, per team
            models.Index(
                fields=["team", "oldest_unpaid_due_date"],
                condition=Q(oldest_unpaid_due_date__isnull=False),
                name="credit_account_unpaid_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Credit account {self.pk} ({self.status})"

    @property
    def available_cents(self) -> int:
        """What can still be charged: the limit less the balance and the pending debits."""
        return self.credit_limit_cents - self.balance_cents - self.pending_debits_cents

    @property
    def utilisation(self) -> float:
        """Share of the limit in use: 0 when nothing is owed, above 1 when over the limit."""
        if self.balance_cents <= 0:
            return 0.0
        if self.credit_limit_cents == 0:
            return 1.0
        return self.balance_cents / self.credit_limit_cents

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class CreditTransaction(models.Model):
    class Type(models.TextChoices):
        CHARGE = "charge", "Charge"
        PAYMENT = "payment", "Payment"
        FEE = "fee", "Fee"
        ADJUSTMENT = "adjustment", "Adjustment"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="credit_transactions")
    account = models.ForeignKey(CreditAccount, on_delete=models.PROTECT, related_name="transactions")
    type = models.CharField(max_length=12, choices=Type.choices)
    amount_cents = models.BigIntegerField(help_text="Positive; adjustments are signed (+ debit, - credit).")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.COMPLETED)
    description = models.CharField(max_length=500, blank=True)
    due_date = models.DateField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    balance_after_cents = models.BigIntegerField(null=True, blank=True)
    outstanding_cents = models.BigIntegerField(
        default=0, help_text="Unpaid part of a completed debit, settled first in, first out (ledger cache)."
    )
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    attempt_count = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_transactions",
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(type="adjustment") & ~Q(amount_cents=0)) | (~Q(type="adjustment") & Q(amount_cents__gt=0)),
                name="credit_transaction_amount_valid",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gte=-MAX_AMOUNT_CENTS, amount_cents__lte=MAX_AMOUNT_CENTS),
                name="credit_transaction_amount_lte_max",
            ),
            models.CheckConstraint(
                condition=Q(type__in=["charge", "payment", "fee", "adjustment"]),
                name="credit_transaction_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "completed", "failed", "cancelled"]),
                name="credit_transaction_status_valid",
            ),
            models.UniqueConstraint(
                fields=["team", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="credit_transaction_unique_team_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["team", "created_at"]),
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["team", "type"]),
            models.Index(fields=["team", "status"]),
            models.Index(fields=["team", "due_date"]),
            models.Index(fields=["team", "amount_cents"]),
            # Settling walks an account's completed debits newest first (and the
            # reverse, oldest first); only debits are in the index (credit.figures.COMPLETED_DEBIT,
            # spelled out here because a migration needs the literal condition).
            models.Index(
                F("account"),
                F("due_date").desc(),  # PostgreSQL puts nulls first in DESC, as settling wants
                F("created_at").desc(),
                F("id").desc(),
                condition=Q(status="completed")
                & (Q(type__in=["charge", "fee"]) | Q(type="adjustment", amount_cents__gt=0)),
                name="credit_tx_debit_settlement",
            ),
            # Unpaid debits only: aging, overdue, reminders read these and nothing older.
            models.Index(
                fields=["account", "due_date"], condition=Q(outstanding_cents__gt=0), name="credit_tx_unpaid_account"
            ),
            models.Index(
                fields=["team", "due_date"], condition=Q(outstanding_cents__gt=0), name="credit_tx_unpaid_team"
            ),
            # Completed rows by completion time: today's flows (reports) and a month's statement.
            models.Index(
                fields=["team", "completed_at"], condition=Q(status="completed"), name="credit_tx_completed_team"
            ),
            models.Index(
                fields=["account", "completed_at"], condition=Q(status="completed"), name="credit_tx_completed_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.amount_cents} ({self.status})"

    @property
    def signed_amount_cents(self) -> int:
        """Effect on the balance: charges/fees add, payments subtract, adjustments carry their sign."""
        return signed_amount(self.type, self.amount_cents)

    @property
    def is_debit(self) -> bool:
        return self.signed_amount_cents > 0


def signed_amount(type_: str, amount_cents: int) -> int:
    if type_ == CreditTransaction.Type.PAYMENT:
        return -amount_cents
    return amount_cents


class CreditLimitChange(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual", "Manual"
        AUTOMATIC = "automatic", "Automatic"

    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="limit_changes")
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="credit_limit_changes")
    old_limit_cents = models.BigIntegerField()
    new_limit_cents = models.BigIntegerField()
    reason = models.CharField(max_length=500, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="credit_limit_changes",
    )
    # The business day the change was made for: a job run "as of" another day
    # (`today=`) measures its cooldown against this, not the wall-clock `created_at`.
    effective_on = models.DateField(
        null=True, blank=True, help_text="Day the change applies to (the job's `today`; else the local date)."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            models.Index(fields=["team", "created_at"]),
            # the limit job's cooldown: "an automatic change for this account since day D?"
            models.Index(fields=["account", "source", "effective_on"]),
        ]

    def __str__(self) -> str:
        return f"Limit {self.old_limit_cents} → {self.new_limit_cents} ({self.source})"


class CreditTeamPolicy(models.Model):
    team = models.OneToOneField("tenancy.Team", on_delete=models.CASCADE, related_name="credit_policy")
    auto_limit_cap_cents = models.BigIntegerField(
        default=1_000_000, help_text="The limit-adjustment job never raises a limit above this."
    )
    auto_raise_bps = models.PositiveIntegerField(default=1000, help_text="Raise per run for good payers (bps).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "credit team policies"
        constraints = [
            models.CheckConstraint(condition=Q(auto_limit_cap_cents__gte=0), name="credit_policy_cap_gte_0"),
        ]

    def __str__(self) -> str:
        return f"Credit policy of team {self.team_id}"


class IdempotencyRecord(models.Model):
    """The first response to an `Idempotency-Key`, replayed to later requests
    with the same key and body. `response_status` is null while the first
    request is still running."""

    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="sha256 of method, path and canonical body.")
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "key"], name="idempotency_record_unique_team_key"),
        ]

    def __str__(self) -> str:
        return f"Idempotency key {self.key} (team {self.team_id})"


class StripeEvent(models.Model):
    """A processed Stripe webhook event: a replay of the same id changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class PaymentReminder(models.Model):
    """One reminder stage sent for one transaction (unique: each stage once)."""

    transaction = models.ForeignKey(CreditTransaction, on_delete=models.CASCADE, related_name="reminders")
    stage = models.CharField(max_length=20)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "stage"], name="payment_reminder_unique_stage"),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.stage} for {self.transaction_id}"
