from rest_framework import serializers

from credit.api.serializers import CreditTransactionOutputSerializer


class SetupIntentInputSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()


class SetupIntentOutputSerializer(serializers.Serializer):
    client_secret = serializers.CharField()
    setup_intent_id = serializers.CharField()
    publishable_key = serializers.CharField()


class WebhookOutputSerializer(serializers.Serializer):
    received = serializers.BooleanField()
    outcome = serializers.ChoiceField(choices=["processed", "duplicate", "ignored"])


class CollectedTransactionSerializer(CreditTransactionOutputSerializer):
    """The payment transaction after the charge: the API's transaction fields plus the attempt counters."""

    class Meta(CreditTransactionOutputSerializer.Meta):
        fields = [*CreditTransactionOutputSerializer.Meta.fields, "attempt_count", "last_attempt_at"]
