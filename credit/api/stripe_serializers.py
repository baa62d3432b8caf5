from rest_framework import serializers

from credit.models import CreditTransaction


class SetupIntentInputSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()


class SetupIntentOutputSerializer(serializers.Serializer):
    client_secret = serializers.CharField()
    setup_intent_id = serializers.CharField()
    publishable_key = serializers.CharField()


class WebhookOutputSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["processed", "duplicate", "ignored"])


class CollectedTransactionSerializer(serializers.ModelSerializer):
    """The payment transaction after the charge (DESIGN transaction fields plus the attempt counters)."""

    team_id = serializers.IntegerField(read_only=True)
    credit_id = serializers.UUIDField(source="account_id", read_only=True)
    customer_id = serializers.UUIDField(source="account.customer_id", read_only=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)

    class Meta:
        model = CreditTransaction
        fields = [
            "id",
            "team_id",
            "credit_id",
            "customer_id",
            "type",
            "amount_cents",
            "status",
            "description",
            "due_date",
            "idempotency_key",
            "balance_after_cents",
            "stripe_payment_intent_id",
            "attempt_count",
            "last_attempt_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
