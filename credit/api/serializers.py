"""Credit API input and output shapes (DESIGN §6). Serializers only shape
data; every rule lives in credit.services."""

from __future__ import annotations

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from credit import figures
from credit.models import (
    MAX_AMOUNT_CENTS,
    MAX_GRACE_PERIOD_DAYS,
    MAX_INTEREST_RATE_BPS,
    CreditAccount,
    CreditTransaction,
)
from deelrx.api import FieldsBuiltOnce


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON number without a fraction: "100", 100.0
    and true are refused rather than coerced (a money amount sent as a string
    or float is a client bug worth surfacing). Form-encoded bodies only have
    strings, so digit strings stay accepted there."""

    def to_internal_value(self, data):
        if isinstance(data, bool | float) or (
            isinstance(data, str) and not isinstance(getattr(self.root, "initial_data", None), QueryDict)
        ):
            self.fail("invalid")
        return super().to_internal_value(data)


def _enum_field_class(component_name: str, choices) -> type[serializers.ChoiceField]:
    """A ChoiceField documented as its own named enum component. drf-spectacular
    would otherwise name it from the field ("StatusEnum"), which collides with
    the other apps' status fields and makes it warn (and `check --deploy` fail)."""
    values = [value for value, _label in choices]
    return extend_schema_field({"type": "string", "enum": values}, component_name=component_name)(
        type(f"{component_name}Field", (serializers.ChoiceField,), {})
    )


AccountStatusField = _enum_field_class("CreditAccountStatusEnum", CreditAccount.Status.choices)
TransactionStatusField = _enum_field_class("CreditTransactionStatusEnum", CreditTransaction.Status.choices)
TransactionTypeField = _enum_field_class("CreditTransactionTypeEnum", CreditTransaction.Type.choices)
NewTransactionStatusField = _enum_field_class(
    "CreditTransactionNewStatusEnum",
    [(CreditTransaction.Status.PENDING, "Pending"), (CreditTransaction.Status.COMPLETED, "Completed")],
)


class CreditAccountOutputSerializer(serializers.ModelSerializer):
    credit_id = serializers.UUIDField(source="id", read_only=True)
    team_id = serializers.IntegerField(read_only=True)
    customer_id = serializers.UUIDField(read_only=True)
    customer_name = serializers.CharField(source="customer.full_name", read_only=True)
    available_cents = serializers.IntegerField(read_only=True)
    has_payment_method = serializers.SerializerMethodField()
    status = AccountStatusField(choices=CreditAccount.Status.choices, read_only=True)

    class Meta:
        model = CreditAccount
        fields = [
            "id",
            "credit_id",
            "team_id",
            "customer_id",
            "customer_name",
            "credit_limit_cents",
            "balance_cents",
            "pending_debits_cents",
            "available_cents",
            "oldest_unpaid_due_date",
            "currency",
            "status",
            "grace_period_days",
            "interest_rate_bps",
            "limit_frozen",
            "has_payment_method",
            "last_payment_at",
            "status_changed_at",
            "created_at",
            "updated_at",
        ]

    def get_has_payment_method(self, account: CreditAccount) -> bool:
        return bool(account.stripe_payment_method_id)


class CreditTransactionOutputSerializer(FieldsBuiltOnce, serializers.ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    credit_id = serializers.UUIDField(source="account_id", read_only=True)
    customer_id = serializers.UUIDField(source="account.customer_id", read_only=True)
    currency = serializers.CharField(source="account.currency", read_only=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    type = TransactionTypeField(choices=CreditTransaction.Type.choices, read_only=True)
    status = TransactionStatusField(choices=CreditTransaction.Status.choices, read_only=True)

    class Meta:
        model = CreditTransaction
        fields = [
            "id",
            "team_id",
            "credit_id",
            "customer_id",
            "type",
            "amount_cents",
            "currency",
            "status",
            "description",
            "due_date",
            "idempotency_key",
            "balance_after_cents",
            "stripe_payment_intent_id",
            "created_by",
            "created_at",
            "updated_at",
        ]


class CreditAccountDetailSerializer(CreditAccountOutputSerializer):
    overdue_cents = serializers.SerializerMethodField()
    recent_transactions = serializers.SerializerMethodField()

    class Meta(CreditAccountOutputSerializer.Meta):
        fields = [*CreditAccountOutputSerializer.Meta.fields, "overdue_cents", "recent_transactions"]

    def get_overdue_cents(self, account: CreditAccount) -> int:
        """Unpaid parts of debits due before today (`credit.figures`)."""
        return figures.account_overdue_cents(account)

    @extend_schema_field(CreditTransactionOutputSerializer(many=True))
    def get_recent_transactions(self, account: CreditAccount) -> list[dict]:
        rows = self.context["recent_transactions"]
        return CreditTransactionOutputSerializer(rows, many=True).data


class CurrencyTotalsSerializer(serializers.Serializer):
    currency = serializers.CharField()
    account_count = serializers.IntegerField()
    total_limit_cents = serializers.IntegerField(help_text="Limits of the accounts that are not closed.")
    total_balance_cents = serializers.IntegerField()
    total_pending_cents = serializers.IntegerField()
    available_cents = serializers.IntegerField(help_text="Limits - balances - pending debits of the open accounts.")
    exposure_percent = serializers.IntegerField()
    overdue_balance_cents = serializers.IntegerField()


class CreditSummarySerializer(serializers.Serializer):
    total_limit_cents = serializers.IntegerField(help_text="Limits of the accounts that are not closed.")
    total_balance_cents = serializers.IntegerField()
    total_pending_cents = serializers.IntegerField()
    overdue_balance_cents = serializers.IntegerField()
    accounts_by_status = serializers.DictField(child=serializers.IntegerField())
    totals_by_currency = CurrencyTotalsSerializer(
        many=True, help_text="The same figures per currency: amounts in different currencies are not added."
    )


class CreditOverviewSerializer(serializers.Serializer):
    """Schema only: GET /credit/ without customer_id."""

    summary = CreditSummarySerializer()
    results = CreditAccountOutputSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class CreditAccountInputSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    credit_limit_cents = StrictIntegerField(min_value=0, max_value=MAX_AMOUNT_CENTS, required=False)
    status = AccountStatusField(choices=CreditAccount.Status.choices, required=False)
    grace_period_days = StrictIntegerField(min_value=0, max_value=MAX_GRACE_PERIOD_DAYS, required=False)
    interest_rate_bps = StrictIntegerField(min_value=0, max_value=MAX_INTEREST_RATE_BPS, required=False)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CreditTransactionInputSerializer(FieldsBuiltOnce, serializers.Serializer):
    customer_id = serializers.UUIDField()
    type = TransactionTypeField(choices=CreditTransaction.Type.choices)
    amount_cents = StrictIntegerField(min_value=-MAX_AMOUNT_CENTS, max_value=MAX_AMOUNT_CENTS)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    status = NewTransactionStatusField(
        choices=[CreditTransaction.Status.PENDING, CreditTransaction.Status.COMPLETED],
        required=False,
        default=CreditTransaction.Status.COMPLETED,
    )
    idempotency_key = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        amount = attrs["amount_cents"]
        if attrs["type"] == CreditTransaction.Type.ADJUSTMENT:
            if amount == 0:
                raise serializers.ValidationError({"amount_cents": ["An adjustment cannot be zero."]})
        elif amount <= 0:
            raise serializers.ValidationError({"amount_cents": ["Must be greater than zero."]})
        return attrs


class CreditTransactionStatusInputSerializer(serializers.Serializer):
    # Every status is accepted here so that a wrong move is 409 invalid_transition, not 400.
    status = TransactionStatusField(choices=CreditTransaction.Status.choices)


class CreditStatementLineSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="transaction.pk")
    completed_at = serializers.DateTimeField(source="transaction.completed_at")
    type = serializers.CharField(source="transaction.type")
    description = serializers.CharField(source="transaction.description")
    due_date = serializers.DateField(source="transaction.due_date", allow_null=True)
    amount_cents = serializers.IntegerField(source="signed_cents", help_text="Signed: + raises the balance.")
    balance_cents = serializers.IntegerField(help_text="The balance after this row.")


class CreditStatementSerializer(serializers.Serializer):
    credit_id = serializers.UUIDField(source="account.pk")
    customer_id = serializers.UUIDField(source="account.customer_id")
    currency = serializers.CharField(source="account.currency")
    month = serializers.DateField(format="%Y-%m")
    opening_balance_cents = serializers.IntegerField(source="opening_cents")
    debits_cents = serializers.IntegerField()
    credits_cents = serializers.IntegerField()
    closing_balance_cents = serializers.IntegerField(source="closing_cents")
    amount_due_cents = serializers.IntegerField()
    due_dates = serializers.SerializerMethodField()
    transactions = CreditStatementLineSerializer(source="lines", many=True)

    def get_due_dates(self, statement) -> list[dict]:
        return [{"due_date": day, "amount_cents": cents} for day, cents in statement.due_dates]
